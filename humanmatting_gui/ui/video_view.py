"""The live view: the newest composited frame, scaled to fit with its aspect ratio kept."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


def to_qimage(image: np.ndarray) -> QImage:
    """A QImage over a BGR, BGRA or grey uint8 array, without copying (keep the array alive)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if image.ndim == 2:
        return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_Grayscale8)
    if image.shape[2] == 4:
        return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_ARGB32)
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888)


def checker_brush(cell: int = 16) -> QBrush:
    """The grey checkerboard drawn behind transparent pixels."""
    tile = QImage(2 * cell, 2 * cell, QImage.Format.Format_RGB32)
    tile.fill(QColor(153, 153, 153))
    painter = QPainter(tile)
    for x, y in ((cell, 0), (0, cell)):
        painter.fillRect(x, y, cell, cell, QColor(102, 102, 102))
    painter.end()
    return QBrush(tile)


class VideoView(QWidget):
    """Paints the last frame given to ``show_frame`` (a transparent one over a checkerboard);
    ``mirrored`` flips it like a mirror.
    ``painted(time)`` fires when a frame has been drawn (``time.perf_counter()``): what the
    user sees, for the latency and fps read-outs."""

    painted = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.mirrored = False
        self._array = None
        self._image = None
        self._checker = checker_brush()
        self.placeholder = "Choose a camera, a video or a folder of images"

    def show_frame(self, image: np.ndarray) -> None:
        self._array = np.ascontiguousarray(image)
        self._image = to_qimage(self._array)
        self.update()

    def clear(self, message: str | None = None) -> None:
        self._array = self._image = None
        if message:
            self.placeholder = message
        self.update()

    def target_rect(self) -> QRect:
        """Where the frame is drawn: as large as fits, centred, aspect kept."""
        if self._image is None:
            return QRect()
        scaled = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x, y = (self.width() - scaled.width()) // 2, (self.height() - scaled.height()) // 2
        return QRect(x, y, scaled.width(), scaled.height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        if self._image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        rect = self.target_rect()
        if self._image.hasAlphaChannel():
            painter.setBrushOrigin(rect.topLeft())
            painter.fillRect(rect, self._checker)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self.mirrored:
            painter.translate(rect.x() + rect.width(), rect.y())
            painter.scale(-1, 1)
            painter.drawImage(QRect(0, 0, rect.width(), rect.height()), self._image)
        else:
            painter.drawImage(rect, self._image)
        painter.end()
        self.painted.emit(time.perf_counter())
