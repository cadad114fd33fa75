"""Just me: keep only the main person of a stream's masks, and keep following them.

The main person is the connected region (alpha > 0.5, found at low resolution) that is
largest and most central: score = area x (1 - distance of its centre from the frame's centre,
as a share of the half-diagonal). Once chosen, a region is followed from frame to frame by
its overlap with the previous choice; another region takes over only when its score beats
the followed one's by SWITCH_MARGIN for SWITCH_FRAMES frames in a row (hysteresis: a
passer-by who comes closer for a moment does not take the frame). Everything else fades out.
"""

from __future__ import annotations

import cv2
import numpy as np

from humanmatting_gui.resize import shrink

WORK_WIDTH = 160  # regions are found on a mask this wide: ~0.2 ms
SWITCH_MARGIN = 1.5
SWITCH_FRAMES = 8


class MainPerson:
    """Call with each alpha of a stream (float32 (H, W) in [0, 1]); returns it with every
    region but the main person's faded to 0. ``stream=False`` for unrelated images."""

    def __init__(self, stream: bool = True):
        self.stream = stream
        self._kept = None  # the followed region at work size (bool), or None
        self._challenger = 0

    def reset(self) -> None:
        self._kept, self._challenger = None, 0

    def __call__(self, alpha: np.ndarray) -> np.ndarray:
        h, w = alpha.shape
        size = (WORK_WIDTH, max(1, round(WORK_WIDTH * h / w))) if w > WORK_WIDTH else (w, h)
        small = shrink(alpha, size) if size != (w, h) else alpha
        count, labels, stats, centres = cv2.connectedComponentsWithStats((small > 0.5).astype(np.uint8), connectivity=8)
        if count <= 2:  # nobody, or one region: nothing to fade
            self._kept = labels == 1 if count == 2 and self.stream else None
            self._challenger = 0
            return alpha
        sh, sw = small.shape
        distance = np.hypot(centres[1:, 0] - sw / 2, centres[1:, 1] - sh / 2) / np.hypot(sw / 2, sh / 2)
        scores = stats[1:, cv2.CC_STAT_AREA] * np.clip(1.0 - distance, 0.05, 1.0)
        best = int(np.argmax(scores)) + 1
        chosen = best
        if self.stream and self._kept is not None:
            overlap = np.bincount(labels[self._kept], minlength=count)[1:]
            if overlap.max() > 0:
                followed = int(np.argmax(overlap)) + 1
                if followed != best and scores[best - 1] > SWITCH_MARGIN * scores[followed - 1]:
                    self._challenger += 1
                else:
                    self._challenger = 0
                chosen = best if self._challenger >= SWITCH_FRAMES else followed
                if chosen == best:
                    self._challenger = 0
        region = labels == chosen
        self._kept = region if self.stream else None
        keep = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
        keep = cv2.GaussianBlur(keep, (0, 0), 1.0)
        if keep.shape != alpha.shape:
            keep = cv2.resize(keep, (w, h), interpolation=cv2.INTER_LINEAR)
        return alpha * keep
