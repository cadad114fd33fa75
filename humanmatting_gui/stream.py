"""One stream of frames through the engine: segment, then composite. Every sink runs its
frames through it: the live window's worker, the export, the virtual camera command and
``mask --video``; none has a loop of its own over the model and the compositor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from humanmatting_gui.compositing import Background, Compositor, alpha_to_uint8
from humanmatting_gui.look import Look
from humanmatting_gui.main_person import MainPerson
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings

#: the one default for streams: temporal smoothing on (off for unrelated images)
STREAM_SETTINGS = SegmenterSettings(smoothing=0.5)


@dataclass(frozen=True)
class StreamRequest:
    """What a stream does, handed over whole. ``model``: ``rgb``, ``gray``, a model path or
    a backend object. ``background``: what goes behind the person; None gives the 8-bit
    matte instead of a composite. ``look``: just me, light wrap, harmony, clean edges."""

    model: object = "rgb"
    settings: SegmenterSettings = field(default=STREAM_SETTINGS)
    background: Background | None = field(default_factory=Background)
    look: Look = field(default_factory=Look)


@dataclass(frozen=True)
class Processed:
    """One frame through the stream: the frame (BGR or grey uint8), its person alpha (float32
    (H, W) in [0, 1]) and what a sink writes: the composite (BGR, or BGRA when transparent),
    or without a background the 8-bit matte."""

    frame: np.ndarray
    alpha: np.ndarray
    output: np.ndarray


class Stream:
    """Keeps a Segmenter per model and the Compositor of the current background across
    frames. Not thread-safe, with one exception: ``segment`` and ``composite`` touch separate
    state, so a pipeline may run each in a thread of its own (each in frame order)."""

    def __init__(self, request: StreamRequest | None = StreamRequest(), threads: int | None = None):
        self.threads = threads
        self._segmenters: dict[object, Segmenter] = {}
        self._compositor: Compositor | None = None
        self._main_person = MainPerson()
        self.request = None  # until configured: a stream made without one loads nothing yet
        if request is not None:
            self.configure(request)

    def configure(self, request: StreamRequest) -> None:
        """Use ``request`` from the next frame on. Raises ModelFileError or InputError when
        its model or background cannot be loaded; the stream then keeps the previous ones."""
        segmenter = self._segmenters.get(request.model) or Segmenter(request.model, request.settings,
                                                                     self.threads)
        segmenter.configure(request.settings)
        old = compositor = self._compositor
        if old is None or old.background != request.background:
            compositor = None if request.background is None else Compositor(request.background)
        streaming = request.settings.smoothing > 0  # frames of one clip, not unrelated images
        if compositor is not None:
            compositor.look, compositor.stream = request.look, streaming
        self._main_person.stream = streaming
        self._segmenters[request.model] = segmenter
        if old is not None and compositor is not old:
            old.close()
        self._compositor, self.request = compositor, request

    def warm_up(self) -> None:
        """Run the model once at each size its file fixes, before the first frame."""
        for segmenter in self._segmenters.values():
            getattr(segmenter.backend, "warm_up", lambda: None)()

    def reset(self) -> None:
        """A new source: forget the temporal history."""
        for segmenter in self._segmenters.values():
            segmenter.reset()
        self._main_person.reset()
        if self._compositor is not None:
            self._compositor.reset()

    def process(self, frame: np.ndarray) -> Processed:
        alpha = self.segment(frame)
        return Processed(frame, alpha, self.composite(frame, alpha))

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """The first half of ``process``: the person alpha (in stream order: it smooths and,
        with just me, follows the main person)."""
        alpha = self._segmenters[self.request.model].segment(frame)
        return self._main_person(alpha) if self.request.look.just_me else alpha

    def composite(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The second half of ``process`` (its ``output``), which a pipeline may run in
        another thread."""
        if self._compositor is None:
            return alpha_to_uint8(alpha)
        return self._compositor.composite(frame, alpha)

    def close(self) -> None:
        if self._compositor is not None:
            self._compositor.close()
            self._compositor = None

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run(frames: Iterable[np.ndarray], request: StreamRequest = StreamRequest(),
        threads: int | None = None) -> Iterator[Processed]:
    """Each frame of ``frames``, in order, through one Stream (closed at the end)."""
    with Stream(request, threads) as stream:
        for frame in frames:
            yield stream.process(frame)
