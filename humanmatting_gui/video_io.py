"""Video files through PyAV (FFmpeg): reading frames and audio, writing with audio, atomically.

Frames are BGR uint8 (H, W, 3), or BGRA (H, W, 4) for formats with alpha, turned upright
when the file carries a rotation, so what is processed is what a player shows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np

from humanmatting_gui.errors import InputError, OutputError


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int  # as the container states it; 0 when unknown
    has_audio: bool


def _upright(frame: av.VideoFrame, fmt: str) -> np.ndarray:
    image = frame.to_ndarray(format=fmt)
    turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class VideoReader:
    """Reads one video file: ``info``, ``frames()`` (BGR) or ``demux()`` (frames and audio packets).

    Raises InputError when the file cannot be opened or holds no video stream.
    """

    def __init__(self, path: str):
        if not os.path.isfile(path):
            raise InputError(f"video not found: {path}")
        try:
            self.container = av.open(path)
        except av.FFmpegError as exc:
            raise InputError(f"not a video file FFmpeg can read: {path}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"no video stream in {path}")
        self.path = path
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        rate = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        # the stored size: a rotated file's frames come out with width and height swapped
        width, height = self.video.codec_context.width, self.video.codec_context.height
        self.info = VideoInfo(width, height, Fraction(rate), int(self.video.frames or 0),
                              self.audio is not None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.container.close()

    def demux(self):
        """Yield ``("video", bgr_frame)`` and ``("audio", packet)`` in file order."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        try:
            for packet in self.container.demux(*streams):
                if packet.stream.type == "video":
                    for frame in packet.decode():
                        yield "video", _upright(frame, "bgr24")
                elif packet.dts is not None:
                    yield "audio", packet
        except av.FFmpegError as exc:
            raise InputError(f"cannot decode {self.path}: {exc}") from exc

    def frames(self):
        """Yield the BGR frames."""
        for kind, item in self.demux():
            if kind == "video":
                yield item


class LoopingVideo:
    """Frames of a video file, one per call, starting over at the end (a video background)."""

    def __init__(self, path: str):
        self.path = path
        self._reader = VideoReader(path)
        self._frames = self._reader.frames()
        self._last = None
        self.next_frame()

    def next_frame(self) -> np.ndarray:
        for _attempt in range(2):
            try:
                self._last = next(self._frames)
                return self._last
            except StopIteration:
                self._reader.close()
                self._reader = VideoReader(self.path)
                self._frames = self._reader.frames()
        if self._last is None:
            raise InputError(f"video has no frames: {self.path}")
        return self._last

    def close(self) -> None:
        self._reader.close()


@dataclass(frozen=True)
class OutputFormat:
    name: str
    extension: str  # "" for a folder of images
    container: str
    codec: str
    pix_fmt: str
    alpha: bool
    audio_codecs: tuple[str, ...]  # codecs the container takes as they are; first = re-encode
    options: tuple[tuple[str, str], ...] = ()


# H.264 for mp4: x264's ultrafast with CABAC, deblocking and 3 B-frames put back: 44% fewer
# instructions a frame than superfast (callgrind, 854x480) at the same size, -0.26 dB PSNR on
# camera frames, -10% size over a blurred background; the encoder is the export's second cost
X264_FAST = (("preset", "ultrafast"), ("x264-params", "cabac=1:deblock=1:bframes=3"), ("crf", "20"))

FORMATS = {
    "mp4": OutputFormat("mp4", ".mp4", "mp4", "libx264", "yuv420p", False, ("aac", "mp3"), X264_FAST),
    "mov-prores4444": OutputFormat("mov-prores4444", ".mov", "mov", "prores_ks", "yuva444p10le", True,
                                   ("aac", "pcm_s16le"), (("profile", "4"),)),
    "webm-alpha": OutputFormat("webm-alpha", ".webm", "webm", "libvpx-vp9", "yuva420p", True,
                               ("libopus", "opus", "vorbis"),
                               (("deadline", "realtime"), ("cpu-used", "8"), ("crf", "32"), ("b", "0"))),
    "png-sequence": OutputFormat("png-sequence", "", "ipod", "png", "rgba", True, ("aac",)),
    "matte": OutputFormat("matte", ".mp4", "mp4", "libx264", "yuv420p", False, ("aac", "mp3"),
                          (("preset", "veryfast"), ("crf", "18"))),
}


def check_encoder(fmt: OutputFormat) -> None:
    """Raise OutputError if this FFmpeg build cannot encode ``fmt``."""
    try:
        av.codec.Codec(fmt.codec, "w")
    except (av.FFmpegError, ValueError) as exc:
        raise OutputError(f"this build cannot encode {fmt.name} (no {fmt.codec} encoder)") from exc


class VideoWriter:
    """Writes frames (and the source's audio) to ``path`` in ``fmt``; call ``close()`` always."""

    def __init__(self, path: str, fmt: OutputFormat, width: int, height: int, fps: Fraction,
                 audio_source=None):
        check_encoder(fmt)
        self.fmt, self.path = fmt, path
        self._index = 0
        self._audio_in = audio_source
        self._audio_out = None
        self._resampler = None
        if fmt.extension == "":
            os.makedirs(path, exist_ok=True)
            self.container = (av.open(os.path.join(path, "audio.m4a"), "w", format=fmt.container)
                              if audio_source else None)
            if self.container is not None:
                self._add_audio(audio_source)
            return
        self.container = av.open(path, "w", format=fmt.container)
        self.stream = self.container.add_stream(fmt.codec, rate=fps)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = fmt.pix_fmt
        options = dict(fmt.options)
        if fmt.codec == "libx264":  # its frame threads cost CPU the other stages need (-12% at 2 cores)
            options["threads"] = str(max(1, (os.cpu_count() or 2) // 2))
        self.stream.options = options
        if audio_source is not None:
            self._add_audio(audio_source)

    def _add_audio(self, source) -> None:
        if source.codec_context.name in self.fmt.audio_codecs:
            self._audio_out = self.container.add_stream_from_template(source)
        else:
            codec = self.fmt.audio_codecs[0]
            # Opus only takes 48 kHz (of the usual rates); AAC keeps the source's rate
            rate = 48000 if codec == "libopus" else (source.codec_context.sample_rate or 48000)
            self._audio_out = self.container.add_stream(codec, rate=rate)
            self._audio_out.layout = "stereo"
            enc = self._audio_out.codec_context
            self._resampler = av.AudioResampler(format=enc.format.name, layout="stereo",
                                                rate=enc.sample_rate)

    def write(self, image: np.ndarray) -> None:
        """One frame: BGR (H, W, 3), BGRA (H, W, 4) or grey (H, W) uint8."""
        self._index += 1
        if self.fmt.extension == "":
            cv2.imwrite(os.path.join(self.path, f"frame_{self._index:06d}.png"), image)
            return
        if image.ndim == 3 and image.shape[2] == 3 and self.fmt.pix_fmt == "yuv420p":
            # OpenCV's BT.601 conversion (the same as swscale's default) at a fifth of its cost
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        else:
            source = {2: "gray", 3: "bgr24", 4: "bgra"}[image.ndim if image.ndim == 2 else image.shape[2]]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=source)
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def write_audio(self, packet: av.Packet) -> None:
        if self._audio_out is None:
            return
        if self._resampler is None:
            packet.stream = self._audio_out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                for out in self._audio_out.encode(resampled):
                    self.container.mux(out)

    def close(self) -> None:
        if self.container is None:
            return
        try:
            if self.fmt.extension != "":
                for packet in self.stream.encode():
                    self.container.mux(packet)
            if self._resampler is not None:
                for packet in self._audio_out.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()
            self.container = None


SEQUENCE_FILES = ("frame_", "audio.m4a")  # what a png-sequence export writes in its folder


class AtomicOutput:
    """A temporary path beside ``final``, made on entering a ``with`` block, that becomes
    ``final`` only on ``commit()``; ``discard()`` (or leaving the block by an exception)
    removes it. Creating one checks the target (and that its folder is writable) only.

    ``folder=True``: the output is a folder (a png sequence). Nothing a user has is replaced
    but with ``overwrite``, and then only a file by a file, or a folder that holds nothing but
    an earlier sequence by a folder: never a folder by a file, nor other files. The temporary
    name is unique, so a leftover from a killed run never blocks the next one."""

    def __init__(self, final: str, overwrite: bool = False, folder: bool = False):
        parent = os.path.dirname(os.path.abspath(final))
        if os.path.exists(final):
            if not overwrite:
                raise OutputError(f"{final} exists: pass --overwrite to replace it")
            _check_replaceable(final, folder)
        if not os.path.isdir(parent):
            raise OutputError(f"output folder does not exist: {parent}")
        self.final, self.folder, self.parent = final, folder, parent
        self.temp = None
        self._make_temp()  # really try: permissions, read-only mounts, odd file systems
        self.discard()

    def _make_temp(self) -> None:
        stem, ext = os.path.splitext(os.path.basename(self.final))
        try:
            if self.folder:
                self.temp = tempfile.mkdtemp(prefix=f".{stem}.", suffix=".part", dir=self.parent)
            else:
                handle, self.temp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".part{ext}",
                                                     dir=self.parent)
                os.close(handle)
        except OSError as exc:
            raise OutputError(f"output folder is not writable: {self.parent}") from exc

    def commit(self) -> None:
        if self.folder and os.path.isdir(self.final):
            _check_replaceable(self.final, True)  # again: it may have changed meanwhile
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.final)}.", suffix=".old",
                                   dir=os.path.dirname(os.path.abspath(self.final)))
            os.replace(self.final, os.path.join(old, "previous"))
            os.replace(self.temp, self.final)
            shutil.rmtree(old)
            return
        os.replace(self.temp, self.final)

    def discard(self) -> None:
        if self.temp is None:
            return
        if os.path.isdir(self.temp):
            shutil.rmtree(self.temp)
        elif os.path.exists(self.temp):
            os.remove(self.temp)
        self.temp = None

    def __enter__(self):
        """The temporary file (or folder) exists from here on, until commit or discard."""
        self._make_temp()
        return self

    def __exit__(self, exc_type, *rest):
        if exc_type is not None:
            self.discard()


def _check_replaceable(final: str, folder: bool) -> None:
    if os.path.isdir(final) != folder:
        kind = "a folder" if os.path.isdir(final) else "a file"
        raise OutputError(f"{final} is {kind}, which is not replaced: choose another name")
    if folder:
        others = [n for n in os.listdir(final) if not n.startswith(SEQUENCE_FILES)
                  or os.path.isdir(os.path.join(final, n))]
        if others:
            raise OutputError(f"{final} holds files that are not an earlier export "
                              f"({others[0]}...): it is not replaced; choose another name")
