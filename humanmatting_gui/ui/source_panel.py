"""Source controls: camera list, Open video..., Open images..., loop."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGroupBox, QHBoxLayout,
                               QPushButton, QVBoxLayout)

VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv *.gif);;All files (*)"


def list_cameras() -> list[tuple[str, str]]:
    """(label, source spec) of the cameras: named by Qt Multimedia where it loads, else the
    first two OpenCV indices (opening each to check would take seconds)."""
    try:
        from PySide6.QtMultimedia import QMediaDevices

        devices = QMediaDevices.videoInputs()
        return [(d.description(), str(k)) for k, d in enumerate(devices)] or [("Camera 0", "0")]
    except ImportError:  # Qt Multimedia needs system audio libraries that may be missing
        return [("Camera 0", "0"), ("Camera 1", "1")]


class SourcePanel(QGroupBox):
    """Emits ``source_chosen(spec)``: a camera index, a video path or an image folder."""

    source_chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Source", parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.cameras = QComboBox()
        for label, spec in list_cameras():
            self.cameras.addItem(label, spec)
        self.start_camera = QPushButton("Start")
        self.start_camera.setToolTip("Start the selected camera")
        self.start_camera.clicked.connect(self._start_camera)
        row.addWidget(self.cameras, 1)
        row.addWidget(self.start_camera)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.open_video = QPushButton("Open video…")
        self.open_video.clicked.connect(self.choose_video)
        self.open_images = QPushButton("Open images…")
        self.open_images.clicked.connect(self.choose_images)
        row.addWidget(self.open_video)
        row.addWidget(self.open_images)
        layout.addLayout(row)
        self.loop = QCheckBox("Loop videos and image folders")
        self.loop.setChecked(True)
        layout.addWidget(self.loop)

    def _start_camera(self) -> None:
        self.source_chosen.emit(self.cameras.currentData())

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if path:
            self.source_chosen.emit(path)

    def choose_images(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.source_chosen.emit(path)
