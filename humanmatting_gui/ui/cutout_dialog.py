"""A dropped image, cut out: shown over the current background, saved as PNG with alpha or composited."""

from __future__ import annotations

import os

import cv2
import numpy as np
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QLabel, QPushButton, QVBoxLayout

from humanmatting_gui.batch import cutout
from humanmatting_gui.compositing import Background, Compositor
from humanmatting_gui.live import checkerboard
from humanmatting_gui.segmenter import Segmenter
from humanmatting_gui.ui.video_view import VideoView


class CutoutDialog(QDialog):
    """Segments ``image`` (BGR) once, at full resolution, with the current model and settings."""

    def __init__(self, path: str, image: np.ndarray, segmenter: Segmenter, background: Background,
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Cut-out: {os.path.basename(path)}")
        self.resize(900, 700)
        self.path = path
        self.alpha = segmenter.segment(image)
        self.rgba = cutout(image, self.alpha, None)
        compositor = Compositor(background)
        try:
            self.composited = compositor.composite(image, self.alpha)
        finally:
            compositor.close()
        shown = self.composited
        if shown.shape[2] == 4:
            board = checkerboard(*image.shape[:2])
            shown = cv2.blendLinear(image, board, self.alpha, 1.0 - self.alpha)
        layout = QVBoxLayout(self)
        self.view = VideoView()
        self.view.setMinimumSize(480, 360)
        self.view.show_frame(shown)
        layout.addWidget(self.view, 1)
        self.status = QLabel(f"{image.shape[1]}x{image.shape[0]}, person covers "
                             f"{100 * float(np.mean(self.alpha > 0.5)):.0f}% of the picture")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_png = QPushButton("Save as PNG (alpha)…")
        self.save_composited = QPushButton("Save composited…")
        buttons.addButton(self.save_png, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.save_composited, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
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
