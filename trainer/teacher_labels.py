"""Label video frames with two MediaPipe teachers, for training on people in motion.

    make teacher-labels            # builds .venv-teacher, labels ../shared/data/videos
    .venv-teacher/bin/python -m trainer.teacher_labels VIDEO_OR_DIR ... --out cache/teacher-labels

Runs in its own environment (``.venv-teacher``: mediapipe 0.10.21 needs numpy<2 and
protobuf<5, which TensorFlow's cannot share). For every ``--every``-th frame of each clip it
writes ``OUT/<clip>/images/NNNNN.jpg`` and ``OUT/<clip>/masks/NNNNN.png`` (the layout the
trainer reads) and, once, ``OUT/labels.json``, which tells the trainer the ignore value.
Pose runs in video mode (it tracks the person from frame to frame), so every frame is fed to
it even when only some are written. The rule that combines pose and selfie:
``trainer/teacher_rule.py``. A clip that cannot be read is reported and skipped; the run
ends non-zero if any was. Files are written to a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys

import cv2
import numpy as np

from trainer.teacher_rule import IGNORE_VALUE, combine, encode

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm")


class Teachers:
    """MediaPipe pose (video mode) and selfie segmentation on RGB frames."""

    def __init__(self):
        import mediapipe as mp  # only in .venv-teacher

        self._pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                            enable_segmentation=True, smooth_segmentation=True)
        self._selfie = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        pose = self._pose.process(rgb)
        selfie = self._selfie.process(rgb).segmentation_mask
        found = pose.pose_landmarks is not None and pose.segmentation_mask is not None
        return (pose.segmentation_mask if found else None), selfie

    def close(self):
        self._pose.close()
        self._selfie.close()


def clips(inputs: list[str]) -> list[str]:
    found = []
    for path in inputs:
        if os.path.isdir(path):
            found += sorted(os.path.join(path, n) for n in os.listdir(path)
                            if n.lower().endswith(VIDEO_EXTENSIONS))
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"no such video or folder: {path}")
    return found


def _write(path: str, image: np.ndarray, params=()) -> None:
    part = path + ".part" + os.path.splitext(path)[1]
    if not cv2.imwrite(part, image, list(params)):
        raise OSError(f"cannot write {path}")
    os.replace(part, path)


def label_clip(clip: str, out: str, every: int, most: int) -> dict:
    """Label one clip into ``out/<clip name>`` (built beside it and swapped in whole, so an
    interrupted run leaves the last complete labels): every ``every``-th frame, fewer where
    the clip is long, at most about ``most``; returns counts of what was written."""
    name = os.path.splitext(os.path.basename(clip))[0]
    folder = os.path.join(out, name)
    part = folder + ".part"
    shutil.rmtree(part, ignore_errors=True)
    os.makedirs(os.path.join(part, "images"))
    os.makedirs(os.path.join(part, "masks"))
    capture = cv2.VideoCapture(clip)
    if not capture.isOpened():
        shutil.rmtree(part)
        raise OSError(f"cannot open video {clip}")
    every = max(every, math.ceil(capture.get(cv2.CAP_PROP_FRAME_COUNT) / most))
    teachers = Teachers()
    counts = {"frames": 0, "written": 0, "no_pose": 0, "skipped": 0, "ignored_share": 0.0}
    try:
        k = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            pose, selfie = teachers(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            labelled = combine(pose, selfie) if k % every == 0 else None
            counts["no_pose"] += k % every == 0 and pose is None
            counts["skipped"] += k % every == 0 and labelled is None
            if labelled is not None:
                label, ignore = labelled
                stem = f"{k:05d}"
                _write(os.path.join(part, "images", stem + ".jpg"), frame,
                       (cv2.IMWRITE_JPEG_QUALITY, 92))
                _write(os.path.join(part, "masks", stem + ".png"), encode(label, ignore))
                counts["written"] += 1
                counts["ignored_share"] += float(ignore.mean())
            k += 1
        counts["frames"] = k
    finally:
        teachers.close()
        capture.release()
    if not counts["frames"]:
        shutil.rmtree(part)
        raise OSError(f"no frame could be decoded from {clip}")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(part, folder)
    counts["ignored_share"] /= max(1, counts["written"])
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.teacher_labels",
                                description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="+", help="video files or folders of them")
    p.add_argument("--out", required=True, help="label cache (images/ + masks/ per clip)")
    p.add_argument("--every", type=int, default=3, help="write every N-th frame (default 3)")
    p.add_argument("--max-per-clip", type=int, default=150,
                   help="a longer clip is sampled more sparsely, so that no clip dominates")
    args = p.parse_args(argv)
    if args.every < 1 or args.max_per_clip < 1:
        p.error("--every and --max-per-clip must be at least 1")
    try:
        videos = clips(args.inputs)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "labels.json.part"), "w") as f:
        json.dump({"ignore": IGNORE_VALUE, "teachers": "mediapipe 0.10.21 pose (complexity 1, "
                   "video mode) + selfie segmentation (general)", "rule": "trainer/teacher_rule.py",
                   "every": args.every, "max_per_clip": args.max_per_clip}, f, indent=1)
    os.replace(os.path.join(args.out, "labels.json.part"), os.path.join(args.out, "labels.json"))
    failed = 0
    for clip in videos:
        try:
            c = label_clip(clip, args.out, args.every, args.max_per_clip)
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{os.path.basename(clip)}: {c['written']} of {c['frames']} frames, "
              f"no pose in {c['no_pose']} ({c['skipped']} of them not written: someone unposed), "
              f"{100 * c['ignored_share']:.1f}% ignored", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
