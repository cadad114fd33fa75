"""Background controls: blur (strength), colour, image, video, transparent."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QColorDialog, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QLabel, QPushButton, QSlider)

from humanmatting_gui.compositing import Background
from humanmatting_gui.paths import backgrounds_dir, default_background_image
from humanmatting_gui.ui.source_panel import VIDEO_FILTER

KIND_LABELS = {"blur": "Blur", "color": "Colour", "image": "Image", "video": "Video",
               "transparent": "Transparent"}
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"


class BackgroundPanel(QGroupBox):
    """Emits ``background_changed(Background)`` whenever the choice changes."""

    background_changed = Signal(object)

    def __init__(self, parent=None):
        super().__init__("Background", parent)
        self._background = Background()
        self._paths = {"image": default_background_image(), "video": ""}
        form = QFormLayout(self)
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind)
        self.kind.activated.connect(self._kind_chosen)
        form.addRow("Type", self.kind)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(1, 60)
        self.strength.setValue(self._background.strength)
        self.strength.valueChanged.connect(lambda v: self._emit(kind="blur", strength=v))
        form.addRow("Blur", self.strength)
        self.colour = QPushButton("Pick colour…")
        self.colour.clicked.connect(self.choose_colour)
        form.addRow("Colour", self.colour)
        self.file = QPushButton("Choose file…")
        self.file.clicked.connect(lambda: self.choose_file(self.kind.currentData()))
        self.file_label = QLabel("")
        self.file_label.setWordWrap(True)
        form.addRow("File", self.file)
        form.addRow("", self.file_label)
        self._sync()

    @property
    def background(self) -> Background:
        return self._background

    def set_background(self, background: Background) -> None:
        """Show ``background`` without emitting (e.g. after the worker rejected a change)."""
        self._background = background
        if background.kind in self._paths and background.path:
            self._paths[background.kind] = background.path
        self._sync()

    def _sync(self) -> None:
        b = self._background
        self.kind.setCurrentIndex(list(KIND_LABELS).index(b.kind))
        self.strength.blockSignals(True)
        self.strength.setValue(b.strength)
        self.strength.blockSignals(False)
        self.strength.setEnabled(b.kind == "blur")
        self.colour.setEnabled(b.kind == "color")
        self.colour.setStyleSheet("background-color: rgb(%d, %d, %d)" % b.color[::-1])
        self.file.setEnabled(b.kind in ("image", "video"))
        self.file_label.setText(b.path if b.kind in ("image", "video") else "")

    def _emit(self, **changes) -> None:
        values = {"kind": self._background.kind, "strength": self._background.strength,
                  "color": self._background.color, "path": ""}
        values.update(changes)
        if values["kind"] in ("image", "video"):
            values["path"] = changes.get("path") or self._paths[values["kind"]]
        self.set_background(Background(**values))
        self.background_changed.emit(self._background)

    def _kind_chosen(self, index: int) -> None:
        kind = self.kind.itemData(index)
        if kind in ("image", "video") and not self._paths[kind]:
            if not self.choose_file(kind):
                self._sync()
            return
        self._emit(kind=kind)

    def choose_colour(self) -> None:
        b, g, r = self._background.color
        colour = QColorDialog.getColor(QColor(r, g, b), self, "Background colour")
        if colour.isValid():
            self._emit(kind="color", color=(colour.blue(), colour.green(), colour.red()))

    def choose_file(self, kind: str) -> bool:
        title, filters = (("Background image", IMAGE_FILTER) if kind == "image"
                          else ("Background video", VIDEO_FILTER))
        start = str(backgrounds_dir()) if kind == "image" and backgrounds_dir().is_dir() else ""
        path, _ = QFileDialog.getOpenFileName(self, title, start, filters)
        if path:
            self._paths[kind] = path
            self._emit(kind=kind, path=path)
        return bool(path)

    def cycle(self) -> None:
        """The next background type (keyboard shortcut B); types without a file are skipped."""
        kinds = [k for k in KIND_LABELS if k not in self._paths or self._paths[k]]
        self._emit(kind=kinds[(kinds.index(self._background.kind) + 1) % len(kinds)]
                   if self._background.kind in kinds else kinds[0])
