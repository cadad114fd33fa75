"""How the person sits in the new scene: light wrap, colour harmony, clean edge colours.

Frames and backgrounds are BGR uint8 (H, W, 3), alpha float32 (H, W) in [0, 1]. Each effect
at strength 0 (or off) returns its input unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from humanmatting_gui.resize import shrink

HARMONY_SHIFT = 40.0  # at most this many levels of mean shift a channel, at strength 1
HARMONY_GAIN = (0.75, 1.33)  # and its contrast scaled no further than this


@dataclass(frozen=True)
class Look:
    """``just_me``: keep only the main person (main_person.MainPerson). ``light_wrap``,
    ``harmonize``: strengths 0-1. ``clean_edges``: estimate the person's own colour at
    soft edges (hair), so that the old background's colour does not show on the new one."""

    just_me: bool = False
    light_wrap: float = 0.0
    harmonize: float = 0.0
    clean_edges: bool = False

    def __post_init__(self):
        for name in ("light_wrap", "harmonize"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.replace('_', ' ')} strength must lie in [0, 1], got {getattr(self, name)}")


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(image, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _fusion_pass(image, a, fg, bg, radius):
    """One blur-fusion step at one size (same-shape float32 arrays, 3 channels)."""
    wa = _box(a, radius)
    blurred_f = _box(fg * a, radius) / (wa + 1e-5)
    blurred_b = _box(bg * (1 - a), radius) / (1 - wa + 1e-5)
    return blurred_f, blurred_b


def _upsampled_crop(small: np.ndarray, shape, box) -> np.ndarray:
    """``small`` (a smooth field) scaled up to ``shape`` (h, w), only within ``box`` (top,
    bottom, left, right): the small pixels around the box, resized on their own."""
    h, w = shape
    top, bottom, left, right = box
    fy, fx = small.shape[0] / h, small.shape[1] / w
    y0, y1 = int(top * fy), min(small.shape[0], int(np.ceil(bottom * fy)) + 1)
    x0, x1 = int(left * fx), min(small.shape[1], int(np.ceil(right * fx)) + 1)
    span_y = (round(y0 / fy), h if y1 == small.shape[0] else round(y1 / fy))
    span_x = (round(x0 / fx), w if x1 == small.shape[1] else round(x1 / fx))
    up = cv2.resize(small[y0:y1, x0:x1], (span_x[1] - span_x[0], span_y[1] - span_y[0]),
                    interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(up[top - span_y[0]:bottom - span_y[0], left - span_x[0]:right - span_x[0]])


def estimate_foreground(frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The person's colour F where alpha is soft, so that I = alpha F + (1 - alpha) B: blur
    fusion (Forte & Pitie, "Approximate Fast Foreground Colour Estimation", ICIP 2021): a
    wide pass (kernel 90 px at 640) and a narrow one (6 px), box filters only. The blurred
    foreground and background each pass makes are smooth, so the wide pass runs at 160 px on
    the long side and the narrow one at 320; only the last step,
    F = F' + alpha (I - alpha F' - (1 - alpha) B'), runs at full size, and only within the
    box around the soft pixels (elsewhere alpha is 0 or 1 and F is the frame). Returns BGR
    uint8."""
    h, w = alpha.shape
    soft = (alpha > 0.004) & (alpha < 0.996)
    rows, cols = np.flatnonzero(soft.any(axis=1)), np.flatnonzero(soft.any(axis=0))
    if rows.size == 0:
        return frame
    sizes = []
    for long_side in (320, 160):  # each from the one before: one shrink of the full frame
        scale = max(1, round(max(h, w) / long_side))
        sizes.append((max(1, w // scale), max(1, h // scale)))
    frames, alphas = [shrink(frame, sizes[0])], [shrink(alpha, sizes[0])]
    frames.append(shrink(frames[0], sizes[1]))
    alphas.append(shrink(alphas[0], sizes[1]))
    fg = bg = None
    for k, kernel in ((1, 90), (0, 6)):  # the wide pass at 160, then the narrow one at 320
        size = sizes[k]
        image = frames[k].astype(np.float32) * (1 / 255)
        a = cv2.merge([alphas[k]] * 3)  # same shapes: broadcasting over 3 channels is ~10x slower
        if fg is None:
            fg = bg = image
        else:
            fg = cv2.resize(fg, size, interpolation=cv2.INTER_LINEAR)
            bg = cv2.resize(bg, size, interpolation=cv2.INTER_LINEAR)
        radius = max(1, round(kernel / 2 * max(size) / 640))
        blurred_f, blurred_b = _fusion_pass(image, a, fg, bg, radius)
        fg = np.clip(blurred_f + a * (image - a * blurred_f - (1 - a) * blurred_b), 0, 1)
        bg = blurred_b
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    blurred_f = _upsampled_crop(blurred_f, (h, w), (top, bottom, left, right))
    blurred_b = _upsampled_crop(blurred_b, (h, w), (top, bottom, left, right))
    a = cv2.merge([alpha[top:bottom, left:right]] * 3)
    image = frame[top:bottom, left:right].astype(np.float32)
    image *= 1 / 255
    # F' + a (I - B' - a (F' - B')), in place
    image -= blurred_b
    blurred_b -= blurred_f
    blurred_b *= a  # now -a (F' - B')
    image += blurred_b
    image *= a
    image += blurred_f
    out = frame.copy()
    out[top:bottom, left:right] = cv2.convertScaleAbs(image, alpha=255.0)
    return out


def light_wrap(person: np.ndarray, back: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """The person (BGR uint8) with the new background's light blended into its edge: within
    about 1.5% of the frame size inside the outline, a blur of the background (the light that
    would bleed round the person) replaces a share up to ``strength`` of the person's colour.
    The interior, far from any background, is unchanged. Computed at quarter size."""
    if strength <= 0:
        return person
    h, w = alpha.shape
    quarter, inside = back, alpha
    for _ in range(2):  # two Gaussian pyramid steps: half the cost of an area resize
        quarter, inside = cv2.pyrDown(quarter), cv2.pyrDown(inside)
    small = (inside.shape[1], inside.shape[0])
    radius = max(1, round(max(small) * 0.015 * 4))
    outside = 1.0 - inside
    near = _box(outside, radius)
    light = _box(quarter.astype(np.float32) * cv2.merge([outside] * 3), radius)
    light = light / cv2.merge([near + 1e-5] * 3)
    # how much background lies within reach, on the person only: 0 in the interior
    weight = np.clip(near * 2.0, 0, 1) * inside * strength
    rows, cols = np.flatnonzero((weight > 1e-3).any(axis=1)), np.flatnonzero((weight > 1e-3).any(axis=0))
    if rows.size == 0:
        return person
    # full size only around the edge band
    fy, fx = h / small[1], w / small[0]
    box = (max(0, int(rows[0] * fy) - 4), min(h, int(np.ceil((rows[-1] + 1) * fy)) + 4),
           max(0, int(cols[0] * fx) - 4), min(w, int(np.ceil((cols[-1] + 1) * fx)) + 4))
    weight = _upsampled_crop(weight, (h, w), box)
    light = _upsampled_crop(cv2.convertScaleAbs(light), (h, w), box)
    top, bottom, left, right = box
    out = person.copy()
    out[top:bottom, left:right] = cv2.blendLinear(light, np.ascontiguousarray(person[top:bottom, left:right]),
                                                  weight, cv2.subtract(1.0, weight))
    return out


class Harmonizer:
    """Moves the person's colour statistics toward the new background's: per BGR channel,
    the person's mean shifted toward the background's mean by ``strength`` (at most
    HARMONY_SHIFT levels) and its spread scaled toward the background's (within
    HARMONY_GAIN), applied as one affine map per channel (a low-frequency change: edges and
    detail stay).
    In a stream the statistics are smoothed over about ten frames, so it never flickers."""

    def __init__(self, smoothing: float = 0.9):
        self.smoothing = smoothing
        self._stats = None

    def reset(self) -> None:
        self._stats = None

    @staticmethod
    def statistics(person: np.ndarray, back: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """(4, 3): person mean, person std, background mean, background std per channel."""
        step = max(1, alpha.shape[1] // 80)  # statistics of every step-th pixel: ~80 x 60
        p = person[::step, ::step].reshape(-1, 3).astype(np.float32)
        b = back[::step, ::step].reshape(-1, 3).astype(np.float32)
        wgt = alpha[::step, ::step].reshape(-1, 1)
        total = float(wgt.sum())
        if total < 1.0:  # nobody in the frame
            mean_p, std_p = b.mean(0), b.std(0)
        else:
            mean_p = (p * wgt).sum(0) / total
            std_p = np.sqrt(((p - mean_p) ** 2 * wgt).sum(0) / total)
        return np.stack([mean_p, std_p, b.mean(0), b.std(0)])

    def __call__(self, person: np.ndarray, back: np.ndarray, alpha: np.ndarray, strength: float,
                 stream: bool = True) -> np.ndarray:
        if strength <= 0:
            return person
        stats = self.statistics(person, back, alpha)
        if stream and self._stats is not None:
            stats = self.smoothing * self._stats + (1 - self.smoothing) * stats
        self._stats = stats if stream else None
        mean_p, std_p, mean_b, std_b = stats
        shift = np.clip(mean_b - mean_p, -HARMONY_SHIFT, HARMONY_SHIFT) * strength
        gain = 1 + (np.clip(std_b / np.maximum(std_p, 1.0), *HARMONY_GAIN) - 1) * strength
        # out = gain (x - mean) + mean + shift per channel, rounded and saturated by OpenCV
        matrix = np.zeros((3, 4), np.float32)
        matrix[range(3), range(3)] = gain
        matrix[:, 3] = mean_p * (1 - gain) + shift
        return cv2.transform(person, matrix)
