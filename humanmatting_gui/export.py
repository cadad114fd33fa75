"""Video in, masked video out: the model and compositing each run on a thread of their own
while this one decodes and encodes, a few frames in flight (PyAV and LiteRT release the GIL,
so the stages overlap on the cores instead of adding up), frames kept in order, audio beside them.

The output is written to a temporary name beside the target and renamed only when the
whole video is done; a failure or a cancel leaves nothing behind.
"""

from __future__ import annotations

import collections
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import av

from humanmatting_gui.compositing import Background
from humanmatting_gui.errors import HumanMattingError, InputError, OutputError
from humanmatting_gui.stream import Stream, StreamRequest
from humanmatting_gui.video_io import FORMATS, AtomicOutput, VideoReader, VideoWriter, check_encoder

IN_FLIGHT = 8  # frames decoded and not yet written: enough to smooth out the stages' jitter


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


def _even(image, fmt):
    """4:2:0 formats need even sides: drop a last odd row/column."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2] if fmt.pix_fmt.endswith("420p") else image


def _export(request, fmt, progress, cancelled) -> ExportResult:
    target = AtomicOutput(request.output, request.overwrite, folder=fmt.extension == "")
    behind = None if request.format == "matte" else \
        Background("transparent") if fmt.alpha else request.stream.background
    # a bad model or background fails here, first. The model leaves a core to the other
    # stages: on 2 cores the export runs ~8% faster with one model thread than with two
    stream = Stream(replace(request.stream, background=behind),
                    threads=max(1, (os.cpu_count() or 2) - 1))
    start = time.perf_counter()
    done, shape_in, shape_out, writer, early_audio = 0, None, None, None, []
    in_flight = collections.deque()  # each frame's future: its composite, or its matte

    def composite(frame, segmented):
        return stream.composite(frame, segmented.result())

    def write_oldest():
        nonlocal done
        if cancelled is not None and cancelled():
            raise Cancelled("export cancelled")
        writer.write(in_flight.popleft().result())
        done += 1
        if progress is not None:
            progress(done, reader.info.frames)

    with stream, VideoReader(request.source) as reader, target:
        # the model and the compositor each on a thread of their own; decoding and encoding here
        model = ThreadPoolExecutor(1, "export-segment")
        painter = ThreadPoolExecutor(1, "export-composite")
        try:
            for kind, item in reader.demux():
                if kind == "audio":  # the muxer interleaves it with the frames still in flight
                    early_audio.append(item) if writer is None else writer.write_audio(item)
                    continue
                frame = _even(item, fmt)
                if writer is None:
                    shape_in, shape_out = item.shape[:2], frame.shape[:2]
                    writer = VideoWriter(target.temp, fmt, shape_out[1], shape_out[0],
                                         reader.info.fps, reader.audio)
                    for packet in early_audio:
                        writer.write_audio(packet)
                in_flight.append(painter.submit(composite, frame, model.submit(stream.segment, frame)))
                if len(in_flight) > IN_FLIGHT:
                    write_oldest()
            while in_flight:
                write_oldest()
        finally:
            for pool in (model, painter):
                pool.shutdown(cancel_futures=True)
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
