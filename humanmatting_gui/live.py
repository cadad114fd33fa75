"""One live frame through the engine's stream, and what the window shows of it: the display
image and the IoU read-out. Qt-free; the UI's inference worker calls it from its thread."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from humanmatting_gui.compositing import flatten
from humanmatting_gui.sources import Frame
from humanmatting_gui.stream import Stream, StreamRequest


@dataclass(frozen=True)
class LiveResult:
    """A processed frame. ``display``: BGR uint8 to show (transparent output drawn over a
    checkerboard); ``output``: the composite itself (BGRA when transparent). ``iou`` is
    against the ground truth when ``iou_kind == "truth"``, else frame-to-frame stability."""

    index: int
    captured: float
    display: np.ndarray
    output: np.ndarray
    alpha: np.ndarray
    iou: float
    iou_kind: str
    inference_ms: float


def mask_iou(a: np.ndarray, b: np.ndarray, step: int = 4) -> float:
    """IoU of two alpha masks cut at 0.5, on every ``step``-th pixel (cheap, and as exact as
    a read-out needs). Two empty masks agree perfectly."""
    a, b = a[::step, ::step] > 0.5, b[::step, ::step] > 0.5
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    ys, xs = np.indices((height, width))
    light = ((ys // cell + xs // cell) % 2).astype(bool)
    board = np.full((height, width, 3), 153, np.uint8)
    board[light] = 102
    return board


class LiveProcessor(Stream):
    """The window's Stream, plus what it shows of each frame: the display image and the IoU
    read-out. ``show`` raises ModelFileError or InputError when the request's model or
    background cannot be loaded; the previous ones stay usable."""

    def __init__(self, request: StreamRequest | None = None, threads: int | None = None):
        self._previous_alpha = self._board = None
        super().__init__(request, threads)

    def reset(self) -> None:
        super().reset()
        self._previous_alpha = None

    def show(self, frame: Frame, request: StreamRequest) -> LiveResult:
        if request != self.request:
            self.configure(request)
        processed = self.process(frame.image)
        alpha, output = processed.alpha, processed.composite
        display = output
        if output.ndim == 3 and output.shape[2] == 4:
            h, w = output.shape[:2]
            if self._board is None or self._board.shape[:2] != (h, w):
                self._board = checkerboard(h, w)
            display = flatten(output, self._board)
        if frame.truth is not None:
            iou, kind = mask_iou(alpha, frame.truth), "truth"
        else:
            previous = self._previous_alpha
            same = previous is not None and previous.shape == alpha.shape
            iou, kind = (mask_iou(alpha, previous) if same else 1.0), "stability"
        self._previous_alpha = alpha
        return LiveResult(frame.index, frame.captured, display, output, alpha, iou, kind,
                          processed.segment_ms)
