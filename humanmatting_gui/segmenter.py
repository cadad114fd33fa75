"""Frame in, soft person alpha out: letterbox to the model's working size, run, post-process."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from humanmatting_gui import postprocess
from humanmatting_gui.backends import load_backend
from humanmatting_gui.errors import InputError
from humanmatting_gui.resize import shrink


@dataclass(frozen=True)
class SegmenterSettings:
    """How a Segmenter works. ``size``: the model sees at most ``size`` x ``size`` pixels
    (multiple of 32), the frame's aspect kept: the cost of one square ``size`` input at most.
    ``smoothing``: temporal smoothing strength for streams (0 = off, for unrelated images).
    ``motion``: with smoothing, follow motion (``postprocess.FlowFusion``: the previous mask
    warped by optical flow) instead of plain exponential smoothing.
    ``refine``: guided-filter edges against the full-resolution frame.
    ``zoom``: where the people found take a small part of the frame, a second pass of the
    model on a window around them (``zoom_window``), its mask used there.
    ``flip``: the model also sees the frame mirrored left to right and the two alphas are
    averaged (test-time flip: steadier masks, at twice the model's cost)."""

    size: int = 256
    threshold: float = 0.5
    softness: float = 1.0
    smoothing: float = 0.0
    refine: bool = True
    motion: bool = False
    zoom: bool = False
    flip: bool = False

    def __post_init__(self):
        if self.size % 32 or self.size < 64:
            raise ValueError(f"working size must be a multiple of 32, at least 64; got {self.size}")
        if not 0.0 <= self.threshold <= 1.0 or not 0.0 <= self.softness <= 1.0:
            raise ValueError("threshold and softness must lie in [0, 1]")

    def with_(self, **changes) -> "SegmenterSettings":
        return replace(self, **changes)


@functools.lru_cache(maxsize=64)  # called per frame, with a stream's one frame size
def working_shape(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """(scaled h, scaled w, padded h, padded w): the frame scaled, aspect kept, as large as
    fits a model input of at most ``size`` x ``size`` pixels whose sides are multiples of 32
    (640x480 -> 288x216 in 288x224; 1280x720 -> 320x180 in 320x192; a square -> 256x256)."""
    scale = 0.0
    for ph in range(32, size * size // 32 + 1, 32):
        pw = size * size // ph // 32 * 32
        scale = max(scale, min(ph / height, pw / width))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    return h, w, math.ceil(h / 32) * 32, math.ceil(w / 32) * 32


# frame sizes people film at (4:3, 16:9, square, 3:2, their portraits): model files carry a
# fixed-size graph for the working shape of each at the default size (model.export_tflite)
COMMON_FRAMES = ((640, 480), (1280, 720), (512, 512), (720, 480), (480, 640), (720, 1280), (480, 720))


def common_shapes(size: int = SegmenterSettings.size) -> list[tuple[int, int]]:
    """The padded (H, W) model inputs of COMMON_FRAMES at ``size``, each once."""
    return sorted({working_shape(h, w, size)[2:] for w, h in COMMON_FRAMES})


class Segmenter:
    """Person alpha for frames of any size, grey or colour, from one model.

    ``model``: ``rgb``, ``gray``, a model path, or a backend object with ``channels`` and
    ``predict``. Not thread-safe: give each thread (stream) its own Segmenter.
    """

    def __init__(self, model="rgb", settings: SegmenterSettings = SegmenterSettings(), threads=None):
        self.backend = load_backend(model, threads) if isinstance(model, str) else model
        self.settings = settings
        self._smoother = smoother(settings)
        self._window = None  # streams: the zoom window of the last frame

    @property
    def channels(self) -> int:
        return self.backend.channels

    def configure(self, settings: SegmenterSettings) -> None:
        if (settings.smoothing, settings.motion) != (self.settings.smoothing, self.settings.motion):
            self._smoother = smoother(settings)
        self.settings = settings

    def reset(self) -> None:
        """Forget the stream's history (call when the source changes)."""
        self._smoother.reset()
        self._window = None

    def model_input(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """(float32 pixels (H', W', C) letterboxed for the model, the valid (h, w) inside)."""
        return self._letterbox(_as_frame(frame))

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        height, width = frame.shape[:2]
        h, w, ph, pw = working_shape(height, width, self.settings.size)
        return self._pad(self._small(frame, h, w), ph, pw), (h, w)

    def _small(self, frame: np.ndarray, h: int, w: int) -> np.ndarray:
        """``frame`` shrunk to (h, w) in the model's colour order (RGB or grey), uint8."""
        small = shrink(frame, (w, h))
        if self.channels == 1:
            return small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(small, cv2.COLOR_GRAY2RGB if small.ndim == 2 else cv2.COLOR_BGR2RGB)

    def _pad(self, small: np.ndarray, ph: int, pw: int) -> np.ndarray:
        """``small`` letterboxed into (ph, pw), float32 (ph, pw, C)."""
        h, w = small.shape[:2]
        # replicate the border rather than pad with black: no false edge for the model to see
        small = cv2.copyMakeBorder(small, 0, ph - h, 0, pw - w, cv2.BORDER_REPLICATE)
        return small.astype(np.float32).reshape(ph, pw, self.channels)

    def _alpha(self, frame: np.ndarray) -> np.ndarray:
        """The model's alpha (h, w) at working size; with ``flip`` the mean of the frame's and
        its mirror image's (mirrored back), each letterboxed the same way. The frame is
        shrunk once; the mirror image is the shrunk image's."""
        height, width = frame.shape[:2]
        h, w, ph, pw = working_shape(height, width, self.settings.size)
        small = self._small(frame, h, w)
        alpha = self.backend.predict(self._pad(small, ph, pw))[:h, :w]
        if self.settings.flip:
            mirrored = self.backend.predict(self._pad(cv2.flip(small, 1), ph, pw))[:h, :w]
            alpha = 0.5 * (alpha + cv2.flip(np.ascontiguousarray(mirrored), 1))
        return alpha

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """Person alpha, float32 (H, W) in [0, 1], for a BGR or grey uint8 frame (H, W[, C])."""
        frame = _as_frame(frame)  # validated once, not per pass
        alpha = self._alpha(frame)
        s = self.settings
        if s.zoom:
            alpha = self._zoomed(frame, alpha)
        # one grey conversion a frame, for both the smoother's scene-cut test and the guide
        grey = postprocess.grey(frame) if s.smoothing or s.refine else None
        if s.smoothing:
            alpha = self._smoother(alpha, grey)
        height, width = frame.shape[:2]
        if s.refine:
            alpha = postprocess.guided_filter(alpha, grey, radius=max(4, max(height, width) // 80))
        else:
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        return postprocess.threshold_softness(alpha, s.threshold, s.softness).astype(np.float32, copy=False)

    def _zoomed(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """``alpha`` (the model's, at working size) with a second pass on ``zoom_window``'s
        window pasted in, feathered where the window does not reach the frame's edge."""
        window = zoom_window(alpha)
        if self.settings.smoothing:  # a stream: the window follows, and once open holds longer
            if window is None and self._window is not None:
                window = zoom_window(alpha, ZOOM_HOLD)
            window = self._window = _follow(self._window, window)
        if window is None:
            return alpha
        height, width = frame.shape[:2]
        h, w = alpha.shape
        top, left, size = window  # shares of the frame: the window has the frame's aspect
        y0, x0 = round(top * height), round(left * width)
        crop = frame[y0:y0 + max(1, round(size * height)), x0:x0 + max(1, round(size * width))]
        zoomed = self._alpha(crop)
        ly0, lx0 = round(top * h), round(left * w)
        lh, lw = min(h - ly0, max(1, round(size * h))), min(w - lx0, max(1, round(size * w)))
        zoomed = cv2.resize(zoomed, (lw, lh), interpolation=cv2.INTER_AREA)
        weight = _feather(lh, lw, (ly0 > 0, lx0 > 0, ly0 + lh < h, lx0 + lw < w))
        out = alpha.copy()
        region = out[ly0:ly0 + lh, lx0:lx0 + lw]
        region += weight * (zoomed - region)
        return out


ZOOM_MARGIN = 0.3  # around the people's box, a share of its size on each side
ZOOM_LARGEST = 0.7  # the zoomed pass only where its window is at most this share of the frame's side
ZOOM_HOLD = 0.85  # in a stream, a window once open stays open up to this share
ZOOM_FEATHER = 0.15  # the paste's soft border, a share of the window's side
ZOOM_FOLLOW = 0.5  # in a stream, how far the window moves toward the new frame's each frame


def _follow(previous, current):
    """The stream's window: the new one, moved only part of the way from the last one."""
    if previous is None or current is None:
        return current
    top, left, side = (p + ZOOM_FOLLOW * (c - p) for p, c in zip(previous, current))
    return top, left, side


def zoom_window(alpha: np.ndarray, largest: float = ZOOM_LARGEST) -> tuple[float, float, float] | None:
    """(top, left, side) as shares of the frame's height, width, side: a window of the frame's
    aspect around the largest person region (alpha > 0.5) with ZOOM_MARGIN, inside the frame;
    None when nobody is found or the window would be larger than ``largest`` of the frame."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((alpha > 0.5).astype(np.uint8), connectivity=8)
    if count < 2 or stats[1:, cv2.CC_STAT_AREA].max() < 4:
        return None
    x, y, box_w, box_h = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])), :4]
    h, w = alpha.shape
    side = max(box_h / h, box_w / w) * (1 + 2 * ZOOM_MARGIN)
    if side > largest:
        return None
    centre_y, centre_x = (y + box_h / 2) / h, (x + box_w / 2) / w
    top = min(max(0.0, centre_y - side / 2), 1.0 - side)
    left = min(max(0.0, centre_x - side / 2), 1.0 - side)
    return top, left, side


def _feather(h: int, w: int, soft: tuple[bool, bool, bool, bool]) -> np.ndarray:
    """A (h, w) weight: 1 inside, ramping to 0 over ZOOM_FEATHER of the side towards each edge
    that ``soft`` (top, left, bottom, right) marks (those inside the frame)."""
    def ramp(n, low, high):
        r = np.ones(n, np.float32)
        k = max(1, round(ZOOM_FEATHER * n))
        edge = (np.arange(k, dtype=np.float32) + 0.5) / k
        if low:
            r[:k] = np.minimum(r[:k], edge)
        if high:
            r[n - k:] = np.minimum(r[n - k:], edge[::-1])
        return r
    return np.outer(ramp(h, soft[0], soft[2]), ramp(w, soft[1], soft[3]))


def smoother(settings: SegmenterSettings) -> postprocess.TemporalSmoother:
    """The temporal smoother ``settings`` ask for (plain, or motion-aware fusion)."""
    kind = postprocess.FlowFusion if settings.motion else postprocess.TemporalSmoother
    return kind(settings.smoothing)


def _as_frame(frame: np.ndarray) -> np.ndarray:
    """Validate a frame: uint8, (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise InputError("a frame must be a uint8 numpy array")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3) or min(frame.shape[:2]) < 1:
        raise InputError(f"unsupported frame shape {frame.shape}")
    return frame
