"""Video metrics of models beside the MediaPipe reference, in one run: per clip person IoU,
dtSSD (flicker) and frame-to-frame stability.

    python -m trainer.evaluate_video --model models/likeunet-rgb.tflite [--model ...] \
        [--reference ../shared/reference/selfie_segmentation.tflite] [--teacher-python PYTHON] \
        [--smoothing 0.5] [--zoom] [--flip] [--clips ../shared/data/clips] [--sequences ../shared/data/video-masks]

Clips: ``CLIPS/NAME.mp4`` with ``CLIPS/masks/NAME/NNNNN.png`` (mask k for frame k); sequences:
folders of ``images/`` + ``masks/`` frames in order, mask value 128 ignored (video-masks).
Each model runs through the engine's Segmenter as a stream (fresh per clip; ``--smoothing``
as the app's streams use it, default 0 = each frame alone), MediaPipe selfie on the whole
frame (with ``--smoothing`` also through the same smoothing, the row ``+smoothing``), and the
pose teacher (MediaPipe pose, in its own environment) where that exists.

- person IoU: per frame (both cut at 0.5, ignored pixels out), averaged over the clip; a frame
  where both are empty counts 1.
- dtSSD (RobustVideoMatting's flicker metric): per pair of consecutive frames, the RMS over
  pixels of (change of predicted alpha) - (change of true alpha), x100, averaged; lower is
  steadier. Pixels ignored in either frame are left out.
- stability: the app's own read-out, IoU of each mask with the previous one.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys

import cv2
import numpy as np

from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.live import mask_iou
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings, smoother
from humanmatting_gui.video_io import VideoReader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
TEACHER_PYTHON = os.path.join(ROOT, ".venv-teacher", "bin", "python")
IGNORE_VALUE = 128  # video-masks: the boundary band of unknown pixels


def person_iou(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> float:
    """IoU of person pixels, both cut at 0.5, over ``valid`` pixels; 1.0 for two empty masks."""
    p, t = pred > 0.5, truth > 0.5
    if valid is not None:
        p, t = p & valid, t & valid
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else np.count_nonzero(p & t) / union


def dtssd(pred: np.ndarray, previous_pred: np.ndarray, truth: np.ndarray,
          previous_truth: np.ndarray, valid: np.ndarray | None = None) -> float:
    """x100 RMS of (pred - previous pred) - (truth - previous truth), alphas in [0, 1]."""
    d = (pred.astype(np.float32) - previous_pred) - (truth.astype(np.float32) - previous_truth)
    d = d[valid] if valid is not None else d
    return 100.0 * float(np.sqrt(np.mean(d * d))) if d.size else 0.0


def score_stream(model, frames, truths) -> dict:
    """{'iou', 'dtssd', 'stability', 'frames'} of ``model`` (``.segment(frame)``) over a stream
    of BGR frames and their truths (float32 alpha, NaN where ignored)."""
    ious, flicker, steady = [], [], []
    prev_pred = prev_truth = prev_valid = None
    for frame, truth in zip(frames, truths):
        pred = model.segment(frame)
        valid = ~np.isnan(truth)
        truth = np.nan_to_num(truth)
        ious.append(person_iou(pred, truth, valid))
        if prev_pred is not None:
            flicker.append(dtssd(pred, prev_pred, truth, prev_truth, valid & prev_valid))
            steady.append(mask_iou(pred, prev_pred, step=1))
        prev_pred, prev_truth, prev_valid = pred, truth, valid
    return {"iou": float(np.mean(ious)), "dtssd": float(np.mean(flicker)) if flicker else 0.0,
            "stability": float(np.mean(steady)) if steady else 1.0, "frames": len(ious)}


class Smoothed:
    """A reference model's masks through the engine's temporal smoothing (``--smoothing``),
    so that its flicker is compared with ours at the same settings."""

    def __init__(self, model, settings: SegmenterSettings):
        self.model = model
        self.smoother = smoother(settings)

    def segment(self, frame: np.ndarray) -> np.ndarray:
        return self.smoother(self.model.segment(frame), frame)


class PoseTeacher:
    """The MediaPipe pose teacher of the training labels, run in its own environment
    (``trainer.teacher_serve`` under ``python``) and asked frame by frame through a pipe; one
    process per stream, as pose tracks the person from frame to frame."""

    def __init__(self, python: str = TEACHER_PYTHON, args=("-m", "trainer.teacher_serve")):
        from trainer.teacher_serve import HEADER

        self._header = HEADER
        self._process = subprocess.Popen([python, *args], cwd=ROOT, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)

    def segment(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB)
        try:
            self._process.stdin.write(self._header.pack(h, w) + rgb.tobytes())
            self._process.stdin.flush()
            answer = self._process.stdout.read(h * w * 4)
        except BrokenPipeError:
            answer = b""
        if len(answer) != h * w * 4:
            raise HumanMattingError(f"the pose teacher stopped (exit status {self._process.poll()})")
        return np.frombuffer(answer, np.float32).reshape(h, w)

    def close(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            try:
                pipe.close()  # its end of input: the server stops
            except BrokenPipeError:  # it had stopped already
                pass
        self._process.wait()


def read_truth(path: str, ignore: int | None) -> np.ndarray:
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise HumanMattingError(f"cannot read mask {path}")
    truth = mask.astype(np.float32) / 255.0
    if ignore is not None:
        truth[mask == ignore] = np.nan
    return truth


def clip_streams(clips_dir: str):
    """(name, frames, truths) for each clip with a masks folder: frames as far as masks go."""
    for video in sorted(glob.glob(os.path.join(clips_dir, "*.mp4"))):
        name = os.path.splitext(os.path.basename(video))[0]
        masks = sorted(glob.glob(os.path.join(clips_dir, "masks", name, "*.png")))
        if not masks:
            continue

        def frames(video=video, count=len(masks)):
            with VideoReader(video) as reader:
                for k, frame in enumerate(reader.frames()):
                    if k >= count:
                        return
                    yield frame
        yield name, frames, lambda masks=masks: (read_truth(m, None) for m in masks)


def sequence_streams(root: str):
    """(name, frames, truths) for each ``images/`` + ``masks/`` sequence folder under ``root``."""
    for folder in sorted(glob.glob(os.path.join(root, "*", "images"))):
        base = os.path.dirname(folder)
        stems = sorted(os.path.splitext(n)[0] for n in os.listdir(folder))
        stems = [s for s in stems if os.path.isfile(os.path.join(base, "masks", s + ".png"))]
        if not stems:
            continue
        images = [next(iter(glob.glob(os.path.join(folder, s + ".*")))) for s in stems]

        def frames(images=images):
            for path in images:
                frame = cv2.imread(path, cv2.IMREAD_COLOR)
                if frame is None:
                    raise HumanMattingError(f"cannot read frame {path}")
                yield frame
        yield os.path.basename(base), frames, lambda base=base, stems=stems: (
            read_truth(os.path.join(base, "masks", s + ".png"), IGNORE_VALUE) for s in stems)


def evaluate(makers: dict, streams: list) -> dict:
    """{model: {stream: scores}}; ``makers`` make a fresh model per stream (closed after it,
    where it has ``close``)."""
    results = {}
    for name, make in makers.items():
        for stream, frames, truths in streams:
            model = make()
            try:
                results.setdefault(name, {})[stream] = score_stream(model, frames(), truths())
            finally:
                getattr(model, "close", lambda: None)()
    return results


def report(results: dict) -> str:
    lines = [f"{'model':<32} {'clip':<22} {'frames':>6} {'IoU':>7} {'dtSSD':>7} {'stable':>7}"]
    for name, per_stream in results.items():
        for stream, s in per_stream.items():
            lines.append(f"{name:<32} {stream:<22} {s['frames']:>6} {s['iou']:>7.4f} "
                         f"{s['dtssd']:>7.2f} {s['stability']:>7.4f}")
        scores = list(per_stream.values())
        lines.append(f"{name:<32} {'mean':<22} {sum(s['frames'] for s in scores):>6} "
                     f"{np.mean([s['iou'] for s in scores]):>7.4f} "
                     f"{np.mean([s['dtssd'] for s in scores]):>7.2f} "
                     f"{np.mean([s['stability'] for s in scores]):>7.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.evaluate_video",
                                description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", default=[], help="model file or rgb/gray (repeatable)")
    p.add_argument("--reference", default=os.path.join(SHARED, "reference", "selfie_segmentation.tflite"))
    p.add_argument("--clips", default=os.path.join(SHARED, "data", "clips"))
    p.add_argument("--sequences", default=os.path.join(SHARED, "data", "video-masks"))
    p.add_argument("--smoothing", type=float, default=0.0, help="the engine's temporal smoothing")
    p.add_argument("--motion", action="store_true",
                   help="with --smoothing: motion-aware fusion (optical flow) instead of plain")
    p.add_argument("--teacher-python", default=TEACHER_PYTHON, metavar="PYTHON",
                   help="the teacher environment's python (`make teacher-labels` builds it): the "
                        "pose teacher is scored too where it exists; '' leaves it out")
    p.add_argument("--zoom", action="store_true",
                   help="each model also with the zoomed second pass on small people (rows +zoom)")
    p.add_argument("--flip", action="store_true",
                   help="each model and MediaPipe also with test-time flip (rows +flip)")
    args = p.parse_args(argv)
    try:
        settings = SegmenterSettings(smoothing=args.smoothing, motion=args.motion)
        makers = {}
        for m in args.model or ["rgb"]:
            makers[m] = lambda m=m: Segmenter(m, settings)
            if args.zoom:
                makers[f"{m} +zoom"] = lambda m=m: Segmenter(m, settings.with_(zoom=True))
            if args.flip:
                makers[f"{m} +flip"] = lambda m=m: Segmenter(m, settings.with_(flip=True))
        if args.reference and os.path.isfile(args.reference):
            from trainer.evaluate import Flipped, MediaPipeModel
            makers["mediapipe-selfie"] = lambda: MediaPipeModel(args.reference)
            if args.flip:
                makers["mediapipe-selfie +flip"] = lambda: Flipped(MediaPipeModel(args.reference))
            if args.smoothing:
                makers["mediapipe-selfie +smoothing"] = lambda: Smoothed(
                    MediaPipeModel(args.reference), settings)
        if args.teacher_python and os.path.isfile(args.teacher_python):
            makers["mediapipe-pose (teacher)"] = lambda: PoseTeacher(args.teacher_python)
        streams = [*clip_streams(args.clips), *sequence_streams(args.sequences)]
        if not streams:
            raise HumanMattingError(f"no labelled clips in {args.clips} or {args.sequences}")
        print(report(evaluate(makers, streams)))
    except (HumanMattingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
