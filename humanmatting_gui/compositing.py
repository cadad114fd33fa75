"""Person over a background: blur, colour, image, video or transparent.

Frames are BGR uint8 (H, W, 3), alpha float32 (H, W) in [0, 1]. The result is BGR uint8,
or BGRA uint8 for the transparent background.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import cv2
import numpy as np

from humanmatting_gui.errors import InputError
from humanmatting_gui.look import Harmonizer, Look, estimate_foreground, light_wrap

KINDS = ("blur", "color", "image", "video", "transparent")
DEFAULT_BLUR = 15


@dataclass(frozen=True)
class Background:
    """What goes behind the person. Build one with ``parse_background``."""

    kind: str = "blur"
    strength: int = DEFAULT_BLUR
    color: tuple[int, int, int] = (0, 177, 64)  # BGR: a chroma-key green
    path: str = ""

    def spec(self) -> str:
        if self.kind == "blur":
            return f"blur:{self.strength}"
        if self.kind == "color":
            b, g, r = self.color
            return f"color:#{r:02x}{g:02x}{b:02x}"
        return f"{self.kind}:{self.path}" if self.path else self.kind


def parse_background(spec: str) -> Background:
    """Parse ``blur[:STRENGTH]``, ``color:#RRGGBB``, ``image:PATH``, ``video:PATH``, ``transparent``."""
    kind, _, value = spec.partition(":")
    kind = {"colour": "color"}.get(kind.lower(), kind.lower())
    if kind == "blur":
        if value and not value.isdigit():
            raise InputError(f"blur strength must be a whole number 1-100, got {value!r}")
        strength = int(value) if value else DEFAULT_BLUR
        if not 1 <= strength <= 100:
            raise InputError(f"blur strength must be 1-100, got {strength}")
        return Background("blur", strength=strength)
    if kind == "color":
        if not re.fullmatch(r"#?[0-9a-fA-F]{6}", value):
            raise InputError(f"colour must be #RRGGBB, got {value!r}")
        value = value.lstrip("#")
        r, g, b = (int(value[k:k + 2], 16) for k in (0, 2, 4))
        return Background("color", color=(b, g, r))
    if kind in ("image", "video"):
        if not value:
            raise InputError(f"{kind} background needs a path: {kind}:PATH")
        if not os.path.isfile(value):
            raise InputError(f"background {kind} not found: {value}")
        return Background(kind, path=value)
    if kind == "transparent" and not value:
        return Background("transparent")
    raise InputError(f"unknown background {spec!r}: use blur[:N], color:#RRGGBB, image:PATH, "
                     "video:PATH or transparent")


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha in [0, 1] as uint8 0..255, rounded (masks, mattes, the alpha channel)."""
    return cv2.convertScaleAbs(alpha, alpha=255.0)


def blend(front: np.ndarray, back: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``front`` over ``back`` (uint8 images of one shape) by ``alpha`` (H, W): float in [0, 1]
    or uint8 0..255. In 8-bit steps, as every output is (within 1 of the exact blend; exact
    where alpha is 0 or 1): ~1.8x faster than cv2.blendLinear's float weights."""
    weight = alpha if alpha.dtype == np.uint8 else alpha_to_uint8(alpha)
    if front.ndim == 3:
        weight = cv2.merge([weight] * front.shape[2])
    return cv2.add(cv2.multiply(front, weight, scale=1 / 255),
                   cv2.multiply(back, cv2.bitwise_not(weight), scale=1 / 255))


def flatten(bgra: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """A BGRA composite (the transparent background's) over a flat BGR ``colour``."""
    back = np.full((*bgra.shape[:2], 3), colour, np.uint8)
    return blend(np.ascontiguousarray(bgra[:, :, :3]), back, np.ascontiguousarray(bgra[:, :, 3]))


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to cover (width, height) keeping its aspect ratio, centre-cropped."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (sw, sh), interpolation=interp)
    top, left = (sh - height) // 2, (sw - width) // 2
    return resized[top:top + height, left:left + width]


def blurred_background(frame: np.ndarray, alpha: np.ndarray, strength: int) -> np.ndarray:
    """The frame's own background, blurred without the person bleeding into it: a normalised
    blur of the background-weighted frame, computed at quarter size (two Gaussian pyramid
    steps down: same look, ~16x cheaper than at full size)."""
    h, w = frame.shape[:2]
    pixels, weight = frame, alpha
    for _ in range(2):
        pixels, weight = cv2.pyrDown(pixels), cv2.pyrDown(weight)
    sigma = strength * max(h, w) / 640 / 4
    weight = cv2.merge([cv2.subtract(1.001, weight)] * 3)  # same shapes: no slow broadcasting
    weighted = cv2.GaussianBlur(pixels.astype(np.float32) * weight, (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    return cv2.resize(cv2.convertScaleAbs(weighted / norm), (w, h), interpolation=cv2.INTER_LINEAR)


class Compositor:
    """Composites frames over one Background, with a Look (light wrap, colour harmony, clean
    edges). Image and video files are opened here, so a bad background fails at construction
    with InputError, before any frame is processed. ``stream``: frames follow one another
    (harmony is smoothed over time); False for unrelated images."""

    def __init__(self, background: Background | str = Background(), look: Look = Look(),
                 stream: bool = True):
        self.background = parse_background(background) if isinstance(background, str) else background
        self.look = look
        self._harmonizer = Harmonizer()
        self.stream = stream
        self._image = None
        self._video = None
        self._cache = {}
        if self.background.kind == "image":
            self._image = cv2.imread(self.background.path, cv2.IMREAD_COLOR)
            if self._image is None:
                raise InputError(f"cannot read background image: {self.background.path}")
        elif self.background.kind == "video":
            from humanmatting_gui.video_io import LoopingVideo

            self._video = LoopingVideo(self.background.path)

    @property
    def transparent(self) -> bool:
        return self.background.kind == "transparent"

    def reset(self) -> None:
        """A new stream: forget the smoothed colour statistics."""
        self._harmonizer.reset()

    def close(self) -> None:
        if self._video is not None:
            self._video.close()

    def backdrop(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The BGR background for this frame (for a video background: its next frame)."""
        h, w = frame.shape[:2]
        kind = self.background.kind
        if kind == "blur":
            return blurred_background(frame, alpha, self.background.strength)
        if kind == "video":
            return cover(self._video.next_frame(), w, h)
        key = (kind, w, h)
        if key not in self._cache:
            if kind == "image":
                self._cache = {key: cover(self._image, w, h)}
            else:
                self._cache = {key: np.full((h, w, 3), self.background.color, np.uint8)}
        return self._cache[key]

    def composite(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """BGR uint8 (H, W, 3) person over the background, or BGRA (H, W, 4) when transparent."""
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if alpha.shape != frame.shape[:2]:
            raise InputError(f"alpha {alpha.shape} does not match frame {frame.shape[:2]}")
        alpha = alpha.astype(np.float32, copy=False)
        look = self.look
        person = estimate_foreground(frame, alpha) if look.clean_edges else frame
        if self.transparent:
            return np.dstack([person, alpha_to_uint8(alpha)])
        back = self.backdrop(frame, alpha)
        person = self._harmonizer(person, back, alpha, look.harmonize, self.stream)
        person = light_wrap(person, back, alpha, look.light_wrap)
        return blend(person, back, alpha)
