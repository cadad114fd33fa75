"""One live frame through the engine's stream, and the window's read-out of it: the IoU
against the ground truth or the previous frame. Qt-free; the UI's inference worker calls it
from its thread."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from humanmatting_gui.sources import Frame
from humanmatting_gui.stream import Stream, StreamRequest


@dataclass(frozen=True)
class LiveResult:
    """A processed frame. ``output``: the composite (BGRA when transparent: the view draws it
    over a checkerboard). ``iou`` is against the ground truth when ``iou_kind == "truth"``,
    else frame-to-frame stability. ``index``, ``captured``: the source's frame number and when
    it was read."""

    index: int
    captured: float
    output: np.ndarray
    alpha: np.ndarray
    iou: float
    iou_kind: str


def mask_iou(a: np.ndarray, b: np.ndarray, step: int = 4) -> float:
    """IoU of two alpha masks cut at 0.5, on every ``step``-th pixel (cheap, and as exact as
    a read-out needs). Two empty masks agree perfectly."""
    a, b = a[::step, ::step] > 0.5, b[::step, ::step] > 0.5
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


class LiveProcessor(Stream):
    """The window's Stream, plus the IoU read-out. ``show`` raises ModelFileError or
    InputError when the request's model or background cannot be loaded; the previous ones
    stay usable."""

    def __init__(self, request: StreamRequest | None = None, threads: int | None = None):
        self._previous_alpha = None
        super().__init__(request, threads)

    def reset(self) -> None:
        super().reset()
        self._previous_alpha = None

    def show(self, frame: Frame, request: StreamRequest) -> LiveResult:
        if request != self.request:
            self.configure(request)
        processed = self.process(frame.image)
        alpha, previous = processed.alpha, self._previous_alpha
        if frame.truth is not None:
            iou, kind = mask_iou(alpha, frame.truth), "truth"
        else:
            same = previous is not None and previous.shape == alpha.shape
            iou, kind = (mask_iou(alpha, previous) if same else 1.0), "stability"
        self._previous_alpha = alpha
        return LiveResult(frame.index, frame.captured, processed.output, alpha, iou, kind)
