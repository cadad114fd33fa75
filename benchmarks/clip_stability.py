"""Mask stability on real clips: the mean IoU of each frame's mask with the previous one.

    python benchmarks/clip_stability.py [MODEL ...] [--reference PATH] [--clips DIR]

Runs each model through the engine at its default settings (temporal smoothing off) over the
clips of ../shared/data/clips and prints, per clip, the mean and the lowest frame-to-frame IoU
of the masks cut at 0.5. A person who moves changes the mask too, so this is a comparison
between models on the same clips (MediaPipe beside ours), not an accuracy figure.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from humanmatting_gui.live import mask_iou  # noqa: E402
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings  # noqa: E402
from humanmatting_gui.video_io import VideoReader  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")


def stability(segmenter, clip: str) -> tuple[float, float]:
    """The app's own frame-to-frame read-out (`live.mask_iou`), on every pixel."""
    previous, ious = None, []
    with VideoReader(clip) as reader:
        for frame in reader.frames():
            alpha = segmenter.segment(frame)
            if previous is not None:
                ious.append(mask_iou(alpha, previous, step=1))
            previous = alpha
    return float(np.mean(ious)), float(np.min(ious))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", default=["rgb"], help="model files or rgb/gray")
    p.add_argument("--reference", default=os.path.join(SHARED, "reference", "selfie_segmentation.tflite"))
    p.add_argument("--clips", default=os.path.join(SHARED, "data", "clips"))
    args = p.parse_args()
    clips = sorted(glob.glob(os.path.join(args.clips, "*.mp4")))
    if not clips:
        print(f"error: no .mp4 clips in {args.clips}", file=sys.stderr)
        return 1
    makers = {m: (lambda m=m: Segmenter(m, SegmenterSettings())) for m in args.models}
    if os.path.isfile(args.reference):
        from trainer.evaluate import MediaPipeModel
        makers["mediapipe"] = lambda: MediaPipeModel(args.reference)
    print("model / clip: mean frame-to-frame IoU (lowest)")
    for name, make in makers.items():
        cells = []
        for clip in clips:
            mean, low = stability(make(), clip)  # a fresh segmenter per clip
            cells.append(f"{os.path.basename(clip)[:-4]} {mean:.3f} ({low:.2f})")
        print(f"{name}: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
