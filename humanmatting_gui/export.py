"""Video in, masked video out: decoding, the model, compositing and encoding, each in its own
thread, joined by small bounded queues (PyAV and LiteRT release the GIL, so the three overlap
on the cores instead of adding up), frames and audio kept in file order.

The output is written to a temporary name beside the target and renamed only when the
whole video is done; a failure or a cancel leaves nothing behind.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace

import av

from humanmatting_gui.compositing import Background, alpha_to_uint8
from humanmatting_gui.errors import HumanMattingError, InputError, OutputError
from humanmatting_gui.stream import Stream, StreamRequest
from humanmatting_gui.video_io import FORMATS, AtomicOutput, VideoReader, VideoWriter, check_encoder

QUEUE_FRAMES = 4  # frames between two stages: enough to smooth out their jitter


class Cancelled(HumanMattingError):
    """The export was cancelled; nothing was written."""


@dataclass(frozen=True)
class ExportRequest:
    """One export. ``format``: a key of video_io.FORMATS. ``stream``: model, mask settings
    and background; the alpha formats replace the background by transparency, and
    ``matte`` writes the alpha itself."""

    source: str
    output: str
    format: str = "mp4"
    overwrite: bool = False
    stream: StreamRequest = field(default_factory=StreamRequest)

    def stream_request(self) -> StreamRequest:
        fmt = FORMATS[self.format]
        if self.format == "matte":
            return replace(self.stream, background=None)
        return replace(self.stream, background=Background("transparent")) if fmt.alpha else self.stream


@dataclass(frozen=True)
class ExportResult:
    path: str
    frames: int
    seconds: float
    notes: tuple[str, ...] = ()  # what a user should know of the result (a changed size)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def export_video(request: ExportRequest, progress=None, cancelled=None) -> ExportResult:
    """Run one export. ``progress(done, total)`` is called after each frame (total may be 0
    when unknown); ``cancelled()`` returning True stops it and raises Cancelled.

    Raises InputError (not a video, no frames, a file that ends before the frames it
    announces), OutputError (existing output without overwrite, unwritable folder or full
    disk, unknown or unsupported format), ModelFileError. On any of them, and on an
    interrupt, nothing is left behind.
    """
    fmt = FORMATS.get(request.format)
    if fmt is None:
        raise OutputError(f"unknown format {request.format!r}: choose from {', '.join(FORMATS)}")
    check_encoder(fmt)
    try:
        return _export(request, fmt, progress, cancelled)
    except (av.FFmpegError, OSError) as exc:  # the encoder or the disk failed while writing
        reason = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(f"cannot write {request.output}: {reason}") from None


class _Pipe:
    """A bounded queue between two threads that ends with the producer's end or its error,
    and lets go of both sides once ``stop`` is set."""

    _END, _FAILED = object(), object()

    def __init__(self, stop: threading.Event):
        self.queue: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.stop = stop

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def feed(self, items) -> None:
        """Put every item of ``items`` (run in the producing thread), then the end; an error
        raised by ``items`` is passed on to the consumer."""
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put((self._END, None))
        except BaseException as exc:  # noqa: BLE001 - the thread's boundary: the consumer raises it
            self._put((self._FAILED, exc))

    def __iter__(self):
        while not self.stop.is_set():
            try:
                kind, item = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind is self._END:
                return
            if kind is self._FAILED:
                raise item
            yield kind, item


def _even(image, fmt):
    """4:2:0 formats need even sides: drop a last odd row/column."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2] if fmt.pix_fmt.endswith("420p") else image


def _each_video(items, work):
    """A stage: ``work`` on each video frame's item; audio packets pass through."""
    for kind, item in items:
        yield kind, (work(item) if kind == "video" else item)


def _export(request, fmt, progress, cancelled) -> ExportResult:
    target = AtomicOutput(request.output, request.overwrite, folder=fmt.extension == "")
    # a bad model or background fails here, first. The model leaves a core to the other
    # stages: on 2 cores the export runs ~8% faster with one model thread than with two
    stream = Stream(request.stream_request(), threads=max(1, (os.cpu_count() or 2) - 1))
    start = time.perf_counter()
    done, shape_in, shape_out = 0, None, None
    stop = threading.Event()
    decoded, segmented, processed = _Pipe(stop), _Pipe(stop), _Pipe(stop)
    with stream, VideoReader(request.source) as reader, target:
        def segment(image):  # the model's stage
            frame = _even(image, fmt)
            return frame, stream.segment(frame), image.shape[:2]

        def composite(item):  # each frame as it is written: the composite, or the matte
            frame, alpha, shape = item
            out = stream.composite(frame, alpha)
            return (alpha_to_uint8(alpha) if out is None else out), shape

        stages = {"decode": (decoded, reader.demux()),
                  "segment": (segmented, _each_video(decoded, segment)),
                  "composite": (processed, _each_video(segmented, composite))}
        threads = [threading.Thread(target=pipe.feed, args=(items,), daemon=True, name=f"export-{name}")
                   for name, (pipe, items) in stages.items()]
        writer = None
        pending_audio = []
        try:
            for thread in threads:
                thread.start()
            for kind, item in processed:
                if cancelled is not None and cancelled():
                    raise Cancelled("export cancelled")
                if kind == "audio":
                    pending_audio.append(item) if writer is None else writer.write_audio(item)
                    continue
                image, shape_in = item
                if writer is None:
                    shape_out = image.shape[:2]
                    writer = VideoWriter(target.temp, fmt, shape_out[1], shape_out[0],
                                         reader.info.fps, reader.audio)
                    for packet in pending_audio:
                        writer.write_audio(packet)
                writer.write(image)
                done += 1
                if progress is not None:
                    progress(done, reader.info.frames)
        finally:
            stop.set()
            for thread in threads:
                if thread.is_alive():
                    thread.join()
            if writer is not None:
                writer.close()
        if done == 0:
            raise InputError(f"no video frames could be decoded from {request.source}")
        stated = reader.info.frames
        if stated and done < stated - 1:  # containers may miscount by one, never by half
            raise InputError(f"{request.source} ends after {done} of its {stated} frames "
                             "(a truncated or damaged file): nothing was written")
        target.commit()
    notes = ()
    if shape_out != shape_in:
        notes = (f"{request.format} needs even sides: {shape_in[1]}x{shape_in[0]} was "
                 f"written as {shape_out[1]}x{shape_out[0]} (png-sequence and "
                 "mov-prores4444 keep every pixel)",)
    return ExportResult(request.output, done, time.perf_counter() - start, notes)
