"""Frame sources behind one interface: a camera, a video file, or a folder of images.

A source's ``read()`` returns the next Frame, or None when a finite source has ended; it
raises SourceError when the device or file fails. ``close()`` releases it. No Qt here: the
UI wraps a source in a capture thread.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from humanmatting_gui.errors import InputError, SourceError
from humanmatting_gui.video_io import VideoReader

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif")


@dataclass(frozen=True)
class Frame:
    """One captured frame. ``truth``: the ground-truth mask (float32 HxW 0..1) when known."""

    image: np.ndarray
    index: int
    captured: float = field(default_factory=time.perf_counter)
    truth: np.ndarray | None = None


class CameraSource:
    """A webcam through OpenCV. Raises SourceError when it cannot be opened or stops."""

    def __init__(self, index: int = 0, width: int = 640, height: int = 480):
        self.name = f"camera {index}"
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"no camera at index {index}, or it is busy in another program")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.realtime = False  # the device paces itself
        self._index = 0

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.name} stopped delivering frames (unplugged?)")
        self._index += 1
        return Frame(image, self._index)

    def close(self) -> None:
        self._cap.release()


class VideoSource:
    """A video file, read at its native rate when ``realtime`` (the live view) or as fast as
    asked otherwise; starts over at the end when ``loop``."""

    def __init__(self, path: str, loop: bool = True, realtime: bool = True):
        try:
            self._reader = VideoReader(path)
        except InputError as exc:
            raise SourceError(str(exc)) from exc
        self.name = os.path.basename(path)
        self.path, self.loop, self.realtime = path, loop, realtime
        self.fps = float(self._reader.info.fps)
        self._frames = self._reader.frames()
        self._index = 0

    def read(self) -> Frame | None:
        try:
            image = next(self._frames, None)
            if image is None and self.loop and self._index > 0:
                self._reader.close()
                self._reader = VideoReader(self.path)
                self._frames = self._reader.frames()
                image = next(self._frames, None)
        except InputError as exc:
            raise SourceError(str(exc)) from exc
        if image is None:
            if self._index == 0:
                raise SourceError(f"{self.name} has no frames that can be decoded")
            return None
        self._index += 1
        return Frame(image, self._index)

    def close(self) -> None:
        self._reader.close()


def read_image(path: str) -> np.ndarray:
    """A BGR uint8 image from ``path``. Raises InputError naming the file when it cannot be
    read, is not an image, or is cut short (a JPEG without its end marker, a PNG without its
    IEND chunk: half-downloaded files, which the decoders would fill with grey)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data[:2] == b"\xff\xd8" and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        raise InputError(f"{path} is cut short (a truncated JPEG)")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-64:]:
        raise InputError(f"{path} is cut short (a truncated PNG)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise InputError(f"cannot read image {path}")
    return image


def list_images(folder: str) -> list[str]:
    """Image files under ``folder`` (recursively), sorted by path."""
    found = []
    for root, _dirs, files in os.walk(folder):
        found += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


class ImageFolderSource:
    """Images of a folder in name order as frames. A folder with ``images/`` and ``masks/``
    (same stems, masks 255 = person) also yields the ground truth, for measuring IoU."""

    def __init__(self, folder: str, loop: bool = True, fps: float = 10.0):
        images_dir = os.path.join(folder, "images")
        self.has_truth = os.path.isdir(images_dir) and os.path.isdir(os.path.join(folder, "masks"))
        self._masks = os.path.join(folder, "masks") if self.has_truth else None
        self._paths = list_images(images_dir if self.has_truth else folder)
        if not self._paths:
            raise SourceError(f"no images in {folder}")
        self.name = os.path.basename(os.path.normpath(folder))
        self.loop, self.fps, self.realtime = loop, fps, True
        self._index = 0

    def read(self) -> Frame | None:
        for _skip in range(len(self._paths)):
            if self._index >= len(self._paths) and not self.loop:
                return None
            path = self._paths[self._index % len(self._paths)]
            self._index += 1
            try:
                image = read_image(path)
            except InputError:
                continue  # an unreadable image is skipped; a folder of only those fails below
            return Frame(image, self._index, truth=self._truth(path, image.shape[:2]))
        raise SourceError(f"none of the images in {self.name} can be read")

    def _truth(self, path: str, shape) -> np.ndarray | None:
        if self._masks is None:
            return None
        stem = os.path.splitext(os.path.basename(path))[0]
        mask = cv2.imread(os.path.join(self._masks, stem + ".png"), cv2.IMREAD_GRAYSCALE)
        if mask is None or mask.shape != shape:
            return None
        return mask.astype(np.float32) / 255

    def close(self) -> None:
        pass


def open_source(spec: str, loop: bool = True, realtime: bool = True):
    """A source for ``spec``: a camera index (``0``), a video file or an image folder."""
    if spec.isdigit():
        return CameraSource(int(spec))
    if os.path.isdir(spec):
        return ImageFolderSource(spec, loop=loop)
    if not os.path.exists(spec):
        raise SourceError(f"source not found: {spec}")
    return VideoSource(spec, loop=loop, realtime=realtime)
