"""A dropped image, cut out: shown over the current background, saved as PNG with alpha or composited."""

from __future__ import annotations

import os

import cv2
import numpy as np
import threading
from dataclasses import dataclass, replace

from PySide6.QtCore import QThread, Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QLabel, QPushButton, QVBoxLayout

from humanmatting_gui.compositing import Background, Compositor
from humanmatting_gui.sources import read_image
from humanmatting_gui.stream import Stream, StreamRequest
from humanmatting_gui.ui.video_view import VideoView


@dataclass(frozen=True)
class Cutout:
    path: str
    image: np.ndarray
    alpha: np.ndarray
    rgba: np.ndarray
    composited: np.ndarray


def make_cutout(path: str, request: StreamRequest) -> Cutout:
    """Read, segment once at full resolution (an image, not a stream: no smoothing), and
    composite over the request's background and transparent, both with clean edge colours
    (no Qt: runs off the GUI thread)."""
    image = read_image(path)
    look = replace(request.look, clean_edges=True)
    single = replace(request, settings=request.settings.with_(smoothing=0.0), look=look)
    with Stream(single) as stream:
        alpha = stream.segment(image)
        composited = stream.composite(image, alpha)
    rgba = Compositor(Background("transparent"), look, stream=False).composite(image, alpha)
    return Cutout(path, image, alpha, rgba, composited)


class CutoutThread(QThread):
    """Makes one cut-out; ``done(Cutout)`` or ``errored(message)``, then ``finished``."""

    done = Signal(object)
    errored = Signal(str)

    def __init__(self, path: str, request: StreamRequest, parent=None):
        super().__init__(parent)
        self.args = (path, request)
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            made = make_cutout(*self.args)
        except Exception as exc:  # noqa: BLE001 - the thread's boundary; HumanMattingError mostly
            self.errored.emit(str(exc))
            return
        if not self.cancelled.is_set():
            self.done.emit(made)


class CutoutDialog(QDialog):
    """Shows a Cutout over the current background; saves it. Freed when closed."""

    def __init__(self, made: Cutout, parent=None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        path, image = made.path, made.image
        self.setWindowTitle(f"Cut-out: {os.path.basename(path)}")
        self.resize(900, 700)
        self.path = path
        self.alpha, self.rgba, self.composited = made.alpha, made.rgba, made.composited
        layout = QVBoxLayout(self)
        self.view = VideoView()
        self.view.setMinimumSize(480, 360)
        self.view.show_frame(self.composited)
        layout.addWidget(self.view, 1)
        self.status = QLabel(f"{image.shape[1]}x{image.shape[0]}, person covers "
                             f"{100 * float(np.mean(self.alpha > 0.5)):.0f}% of the picture")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_png = QPushButton("Save as PNG (alpha)…")
        self.save_composited = QPushButton("Save composited…")
        buttons.addButton(self.save_png, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.save_composited, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        self.save_png.clicked.connect(lambda: self._ask_and_save(self.rgba, "-cutout.png"))
        self.save_composited.clicked.connect(lambda: self._ask_and_save(self.composited, "-composited.png"))
        layout.addWidget(buttons)

    def save(self, image: np.ndarray, target: str) -> bool:
        """Write ``image`` to ``target`` via a temporary name; report the outcome in the dialog."""
        tmp = f"{target}.part.png"
        ok = cv2.imwrite(tmp, image)
        if ok:
            os.replace(tmp, target)
            self.status.setText(f"Saved {target}")
        else:
            self.status.setText(f"Could not write {target}")
        return ok

    def _ask_and_save(self, image: np.ndarray, suffix: str) -> None:
        stem = os.path.splitext(self.path)[0]
        target, _ = QFileDialog.getSaveFileName(self, "Save", stem + suffix, "PNG images (*.png)")
        if target:
            self.save(image, target if target.lower().endswith(".png") else target + ".png")
