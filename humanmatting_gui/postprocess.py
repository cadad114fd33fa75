"""Mask post-processing: temporal smoothing, edge refinement (guided filter), threshold/softness.

All functions take and return float32 alpha (H, W) in [0, 1]; frames are BGR uint8.
"""

from __future__ import annotations

import cv2
import numpy as np

from humanmatting_gui.resize import shrink

SCENE_CUT = 0.15  # mean absolute change of a 64x36 grey thumbnail (0..1) that means a new shot


class TemporalSmoother:
    """Exponential smoothing of one stream's masks, reset when the scene cuts.

    ``strength`` in [0, 1): 0 passes masks through, 0.9 averages over about ten frames.
    Where the new mask differs strongly from the running one (a person moving), the new
    value is taken faster, so that smoothing removes flicker without leaving a ghost trail.
    """

    def __init__(self, strength: float = 0.5):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength = strength
        self._alpha = None
        self._thumb = None

    def reset(self) -> None:
        self._alpha = self._thumb = None

    def _scene_cut(self, grey: np.ndarray) -> bool:
        """Whether ``grey`` (the new frame, any size) starts a new shot; remembers it."""
        thumb = shrink(grey, (64, 36)).astype(np.float32) / 255
        cut = self._thumb is None or float(np.mean(np.abs(thumb - self._thumb))) > SCENE_CUT
        self._thumb = thumb
        return cut

    def __call__(self, alpha: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """The smoothed alpha; ``frame``: BGR or grey (grey saves a conversion)."""
        if self.strength == 0:
            return alpha
        cut = self._scene_cut(grey(frame))
        if cut or self._alpha is None or self._alpha.shape != alpha.shape:
            self._alpha = alpha.astype(np.float32, copy=True)
            return self._alpha
        keep = self.strength * (1.0 - np.abs(alpha - self._alpha))
        self._alpha = alpha + keep * (self._alpha - alpha)
        return self._alpha


class FlowFusion(TemporalSmoother):
    """Motion-aware temporal fusion: the previous fused alpha is warped to the new frame by
    dense optical flow (OpenCV DIS, ultrafast, at half the alpha's resolution, about 0.3-1 ms
    for a 288x216 working size), then blended in where it agrees with the new alpha:
    ``keep = strength * (1 - |new - warped|)``. A moving person's edges are followed instead
    of dragged behind (plain smoothing's trail), so that flicker can be damped harder. Reset
    at scene cuts, as TemporalSmoother."""

    def __init__(self, strength: float = 0.5):
        super().__init__(strength)
        self._grey_small = None
        self._grid = None
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def reset(self) -> None:
        super().reset()
        self._grey_small = None

    def __call__(self, alpha: np.ndarray, frame: np.ndarray) -> np.ndarray:
        h, w = alpha.shape
        small = (max(8, w // 2), max(8, h // 2))
        thumb = shrink(grey(frame), small)
        previous, self._grey_small = self._grey_small, thumb
        cut = self._scene_cut(thumb)
        if cut or self.strength == 0 or self._alpha is None or self._alpha.shape != alpha.shape \
                or previous is None or previous.shape != thumb.shape:
            self._alpha = alpha.astype(np.float32, copy=True)
            return self._alpha
        # where each new pixel was in the previous frame (flow from new to previous)
        flow = self._flow.calc(thumb, previous, None)
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        flow *= (w / small[0], h / small[1])
        if self._grid is None or self._grid[0].shape != (h, w):  # a stream keeps one size
            self._grid = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        xs, ys = self._grid
        warped = cv2.remap(self._alpha, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        keep = self.strength * (1.0 - np.abs(alpha - warped))
        self._alpha = alpha + keep * (warped - alpha)
        return self._alpha


def grey(frame: np.ndarray) -> np.ndarray:
    """The grey image of a BGR frame (a grey frame as it is)."""
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def guided_filter(alpha: np.ndarray, frame: np.ndarray, radius: int = 8, eps: float = 1e-3,
                  scale: int | None = None) -> np.ndarray:
    """Edge-aware refinement of ``alpha`` (any size) against ``frame``: the fast guided filter
    (He & Sun 2015) with a grey guide. Its coefficients are computed at 1/``scale`` of the
    frame (by default at most half, about 320 pixels on the long side) and applied at full size."""
    h, w = frame.shape[:2]
    scale = scale or max(2, round(max(h, w) / 320))
    guide = grey(frame)
    small = (max(1, w // scale), max(1, h // scale))
    g = shrink(guide, small).astype(np.float32) / 255
    p = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA if alpha.shape[1] > small[0]
                   else cv2.INTER_LINEAR)
    box = (2 * max(1, radius // scale) + 1,) * 2

    def mean(x):
        return cv2.boxFilter(x, -1, box)

    mean_g, mean_p = mean(g), mean(p)
    var_g = mean(g * g) - mean_g * mean_g
    cov = mean(g * p) - mean_g * mean_p
    a = cov / (var_g + eps)
    b = mean_p - a * mean_g
    # full size with OpenCV, in place: numpy temporaries of a 720p frame cost ~8x more here
    out = cv2.multiply(cv2.resize(mean(a), (w, h), interpolation=cv2.INTER_LINEAR), guide,
                       scale=1.0 / 255, dtype=cv2.CV_32F)
    cv2.add(out, cv2.resize(mean(b), (w, h), interpolation=cv2.INTER_LINEAR), dst=out)
    return np.clip(out, 0.0, 1.0, out=out)


def threshold_softness(alpha: np.ndarray, threshold: float = 0.5, softness: float = 1.0) -> np.ndarray:
    """A ramp of width ``softness`` centred on ``threshold``: softness 1 at 0.5 changes
    nothing, softness 0 gives a hard 0/1 cut."""
    if softness >= 1.0 and threshold == 0.5:
        return alpha
    if softness <= 0.0:
        return (alpha > threshold).astype(np.float32)
    return np.clip((alpha - (threshold - softness / 2)) / softness, 0.0, 1.0)
