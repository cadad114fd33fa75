"""A virtual camera sink through pyvirtualcam, so that video-call programs see the composite."""

from __future__ import annotations

import itertools
import platform
import sys
import time

import numpy as np

from humanmatting_gui.compositing import flatten, parse_background
from humanmatting_gui.errors import OutputError

GREEN = (0, 177, 64)


def setup_help() -> str:
    """How to get a virtual camera device on this system."""
    system = platform.system()
    if system == "Linux":
        return ("install v4l2loopback and load it: sudo apt install v4l2loopback-dkms && "
                "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=humanmatting")
    return "install OBS Studio and start its virtual camera once, so that the device exists"


class VirtualCamera:
    """Sends BGR (or BGRA) uint8 frames to a virtual camera, opened at the first frame's size
    (and reopened if the size changes). ``backend``: as in pyvirtualcam.Camera."""

    def __init__(self, fps: float = 30.0, backend: str | None = None):
        self.fps, self.backend = fps, backend
        self._camera = None
        self.name = ""

    def _open(self, width: int, height: int) -> None:
        import pyvirtualcam

        self.close()
        try:
            self._camera = pyvirtualcam.Camera(width, height, self.fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                               backend=self.backend)
        except (RuntimeError, ValueError, OSError, KeyError) as exc:
            raise OutputError(f"no virtual camera device ({str(exc).splitlines()[0]}); "
                              f"to set one up, {setup_help()}") from exc
        self.name = self._camera.device

    def send(self, frame: np.ndarray) -> None:
        """One frame; transparent (BGRA) frames go out over chroma-key green."""
        if frame.ndim == 3 and frame.shape[2] == 4:
            frame = flatten(frame, GREEN)
        h, w = frame.shape[:2]
        if self._camera is None or (self._camera.width, self._camera.height) != (w, h):
            self._open(w, h)
        try:
            self._camera.send(np.ascontiguousarray(frame))
        except (RuntimeError, ValueError, OSError) as exc:  # a v4l2loopback write that failed
            self.close()
            raise OutputError(f"the virtual camera {self.name} stopped: {exc}") from exc

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


def _paced(source):
    """The source's images; a real-time one at its own rate."""
    while True:
        start = time.perf_counter()
        frame = source.read()
        if frame is None:
            return
        yield frame.image
        if source.realtime:
            time.sleep(max(0.0, 1.0 / source.fps - (time.perf_counter() - start)))


def run_cli(source_spec: str, background: str, model: str, frames: int | None,
            backend: str | None = None, look=None, flip: bool = False) -> int:
    """The ``virtualcam`` command: the source's frames through the engine's stream to a
    virtual camera (``flip``: the mirrored second pass, off live for speed)."""
    from humanmatting_gui.look import Look
    from humanmatting_gui.sources import open_source
    from humanmatting_gui.stream import STREAM_SETTINGS, StreamRequest, run

    request = StreamRequest(model, STREAM_SETTINGS.with_(flip=flip),
                            background=parse_background(background), look=look or Look())
    source = open_source(source_spec)
    camera = VirtualCamera(getattr(source, "fps", 30.0) or 30.0, backend=backend)
    sent = 0
    try:
        for processed in run(itertools.islice(_paced(source), frames), request):
            camera.send(processed.output)
            sent += 1
            if sent == 1:
                print(f"sending to virtual camera {camera.name} (Ctrl+C to stop)", file=sys.stderr)
    finally:
        camera.close()
        source.close()
    print(f"sent {sent} frames", file=sys.stderr)
    return 0
