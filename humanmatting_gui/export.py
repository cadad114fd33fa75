"""Video in, masked video out: source -> segmenter (temporal smoothing on) -> compositor -> writer.

The output is written to a temporary name beside the target and renamed only when the
whole video is done; a failure or a cancel leaves nothing behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import av
import numpy as np

from humanmatting_gui.compositing import Compositor
from humanmatting_gui.errors import HumanMattingError, InputError, OutputError
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
from humanmatting_gui.video_io import FORMATS, AtomicOutput, VideoReader, VideoWriter, check_encoder

STREAM_SETTINGS = SegmenterSettings(smoothing=0.5)


class Cancelled(HumanMattingError):
    """The export was cancelled; nothing was written."""


@dataclass(frozen=True)
class ExportRequest:
    """One export. ``format``: a key of video_io.FORMATS. ``background`` is ignored by the
    alpha formats (they carry the person with transparency) and by ``matte``."""

    source: str
    output: str
    background: str = "blur"
    model: str = "rgb"
    format: str = "mp4"
    overwrite: bool = False
    settings: SegmenterSettings = field(default=STREAM_SETTINGS)


@dataclass(frozen=True)
class ExportResult:
    path: str
    frames: int
    seconds: float
    notes: tuple[str, ...] = ()  # what a user should know of the result (a changed size)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _even(image: np.ndarray, fmt) -> np.ndarray:
    """4:2:0 formats need even sides: drop a last odd row/column."""
    if fmt.pix_fmt.endswith("420p"):
        h, w = image.shape[:2]
        return image[: h - h % 2, : w - w % 2]
    return image


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


def _export(request, fmt, progress, cancelled) -> ExportResult:
    target = AtomicOutput(request.output, request.overwrite, folder=fmt.extension == "")
    segmenter = Segmenter(request.model, request.settings)
    compositor = Compositor("transparent" if fmt.alpha else request.background)
    start = time.perf_counter()
    done = 0
    with VideoReader(request.source) as reader, target:
        writer = None
        pending_audio = []
        try:
            for kind, item in reader.demux():
                if cancelled is not None and cancelled():
                    raise Cancelled("export cancelled")
                if kind == "audio":
                    pending_audio.append(item) if writer is None else writer.write_audio(item)
                    continue
                frame, shape_in = _even(item, fmt), item.shape
                alpha = segmenter.segment(frame)
                if writer is None:
                    writer = VideoWriter(target.temp, fmt, frame.shape[1], frame.shape[0],
                                         reader.info.fps, reader.audio)
                    for packet in pending_audio:
                        writer.write_audio(packet)
                if request.format == "matte":
                    writer.write((alpha * 255 + 0.5).astype(np.uint8))
                else:
                    writer.write(compositor.composite(frame, alpha))
                done += 1
                if progress is not None:
                    progress(done, reader.info.frames)
        finally:
            compositor.close()
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
    if frame.shape != shape_in:
        notes = (f"{request.format} needs even sides: {shape_in[1]}x{shape_in[0]} was "
                 f"written as {frame.shape[1]}x{frame.shape[0]} (png-sequence and "
                 "mov-prores4444 keep every pixel)",)
    return ExportResult(request.output, done, time.perf_counter() - start, notes)
