"""One live frame through the engine: segment, composite, measure. Qt-free; the UI's inference
worker calls it from its thread, the command line and the tests call it directly."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from humanmatting_gui.compositing import Background, Compositor
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
from humanmatting_gui.sources import Frame

LIVE_SETTINGS = SegmenterSettings(smoothing=0.5)


@dataclass(frozen=True)
class LiveRequest:
    """What the window asks of the worker, handed over whole: model, mask settings, background."""

    model: str = "rgb"
    settings: SegmenterSettings = field(default=LIVE_SETTINGS)
    background: Background = field(default_factory=Background)


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


class LiveProcessor:
    """Keeps a Segmenter per model and a Compositor per background across frames.

    ``process`` raises ModelFileError or InputError when the request's model or background
    cannot be loaded; the previous ones stay usable.
    """

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self._segmenters: dict[str, Segmenter] = {}
        self._compositor: Compositor | None = None
        self._previous_alpha = None
        self._board = None

    def _segmenter(self, request: LiveRequest) -> Segmenter:
        segmenter = self._segmenters.get(request.model)
        if segmenter is None:
            segmenter = Segmenter(request.model, request.settings, self.threads)
            self._segmenters[request.model] = segmenter
        elif segmenter.settings != request.settings:
            segmenter.configure(request.settings)
        return segmenter

    def _compositor_for(self, background: Background) -> Compositor:
        if self._compositor is None or self._compositor.background != background:
            compositor = Compositor(background)
            if self._compositor is not None:
                self._compositor.close()
            self._compositor = compositor
        return self._compositor

    def reset(self) -> None:
        """A new stream: forget temporal history."""
        for segmenter in self._segmenters.values():
            segmenter.reset()
        self._previous_alpha = None

    def close(self) -> None:
        if self._compositor is not None:
            self._compositor.close()
            self._compositor = None

    def process(self, frame: Frame, request: LiveRequest) -> LiveResult:
        segmenter = self._segmenter(request)
        compositor = self._compositor_for(request.background)
        start = time.perf_counter()
        alpha = segmenter.segment(frame.image)
        inference_ms = (time.perf_counter() - start) * 1000
        output = compositor.composite(frame.image, alpha)
        display = output
        if output.ndim == 3 and output.shape[2] == 4:
            h, w = output.shape[:2]
            if self._board is None or self._board.shape[:2] != (h, w):
                self._board = checkerboard(h, w)
            display = cv2.blendLinear(np.ascontiguousarray(output[:, :, :3]), self._board,
                                      alpha, 1.0 - alpha)
        if frame.truth is not None:
            iou, kind = mask_iou(alpha, frame.truth), "truth"
        else:
            previous = self._previous_alpha
            same = previous is not None and previous.shape == alpha.shape
            iou, kind = (mask_iou(alpha, previous) if same else 1.0), "stability"
        self._previous_alpha = alpha
        return LiveResult(frame.index, frame.captured, display, output, alpha, iou, kind, inference_ms)
