"""Person IoU and mIoU of a model on image/mask folders, beside the MediaPipe reference.

    python -m trainer.evaluate DATA... --model models/likeunet-rgb.tflite \
        [--reference ../shared/reference/selfie_segmentation.tflite] [--split val|train|all] [--flip]

Each image goes through the engine's Segmenter at its default settings (the full image, mask
back at the image's size), so the figures are what the app and command line deliver. Person
IoU is computed per image (both masks cut at 0.5) and averaged; mIoU averages, per image, the
person and background IoU (the seed's 2-class mIoU). ``--split val`` (default) uses the
trainer's fixed validation split.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

import cv2
import numpy as np

from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
from trainer import data


def iou_pair(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(person IoU, background IoU) of two masks in [0, 1], each cut at 0.5. An empty union
    counts as a perfect 1.0."""
    p, t = pred > 0.5, truth > 0.5
    def iou(a, b):
        union = np.logical_or(a, b).sum()
        return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
    return iou(p, t), iou(~p, ~t)


@dataclass
class Scores:
    person: list = field(default_factory=list)
    background: list = field(default_factory=list)

    def add(self, pred, truth):
        person, background = iou_pair(pred, truth)
        self.person.append(person)
        self.background.append(background)

    @property
    def iou(self) -> float:
        return float(np.mean(self.person)) if self.person else float("nan")

    @property
    def miou(self) -> float:
        return float(np.mean([(p + b) / 2 for p, b in zip(self.person, self.background)])) \
            if self.person else float("nan")


class Flipped:
    """A reference model with test-time flip, as ``SegmenterSettings.flip`` gives ours: the
    mean of its masks of the image and of its mirror image (mirrored back)."""

    def __init__(self, model):
        self.model = model

    def segment(self, image: np.ndarray) -> np.ndarray:
        mirrored = self.model.segment(np.ascontiguousarray(image[:, ::-1]))
        return 0.5 * (self.model.segment(image) + mirrored[:, ::-1])


class MediaPipeModel:
    """The MediaPipe selfie segmentation .tflite as a mask function: the whole image resized
    to the model's fixed input, RGB in [0, 1], the probability resized back."""

    def __init__(self, path: str, threads: int | None = None):
        from humanmatting_gui.backends import TFLiteBackend

        self._backend = TFLiteBackend(path, threads)
        self._interp = self._backend._open()
        self._interp.allocate_tensors()
        self.size = tuple(int(d) for d in self._interp.get_input_details()[0]["shape"][1:3])

    def segment(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        rgb = cv2.cvtColor(cv2.resize(frame, self.size[::-1], interpolation=cv2.INTER_AREA),
                           cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        self._interp.set_tensor(self._interp.get_input_details()[0]["index"], rgb[None])
        self._interp.invoke()
        out = self._interp.get_tensor(self._interp.get_output_details()[0]["index"])[0, :, :, 0]
        return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


def select(pairs, split: str):
    train, val = data.split(pairs)
    return {"val": val, "train": train, "all": pairs}[split]


def evaluate(models: dict, folders: list[str], split: str = "val", limit: int | None = None):
    """{model name: {folder name or 'overall': Scores}} for segmenters ``models``."""
    results = {name: {"overall": Scores()} for name in models}
    for folder in folders:
        pairs = select(data.find_pairs(folder), split)[:limit]
        key = os.path.basename(os.path.normpath(folder))
        for name in models:
            results[name][key] = Scores()
        for pair in pairs:
            image = cv2.imread(pair.image, cv2.IMREAD_COLOR)
            truth = cv2.imread(pair.mask, cv2.IMREAD_UNCHANGED)
            if image is None or truth is None:
                print(f"warning: skipping unreadable pair {pair.image}", file=sys.stderr)
                continue
            if truth.ndim == 3:
                truth = truth[:, :, 3] if truth.shape[2] == 4 else truth[:, :, 0]
            truth = truth.astype(np.float32) / 255
            for name, model in models.items():
                pred = model.segment(image)
                results[name][key].add(pred, truth)
                results[name]["overall"].add(pred, truth)
    return results


def report(results) -> str:
    lines = [f"{'model':<28} {'folder':<24} {'images':>6} {'IoU':>7} {'mIoU':>7}"]
    for name, per_folder in results.items():
        for folder, scores in sorted(per_folder.items(), key=lambda kv: kv[0] == "overall"):
            lines.append(f"{name:<28} {folder:<24} {len(scores.person):>6} "
                         f"{scores.iou:>7.4f} {scores.miou:>7.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("data", nargs="+", help="folders of image/mask pairs")
    p.add_argument("--model", action="append", required=True, help="model file (repeatable)")
    p.add_argument("--reference", help="MediaPipe selfie segmentation .tflite to compare with")
    p.add_argument("--split", choices=("val", "train", "all"), default="val")
    p.add_argument("--limit", type=int, help="at most this many pairs per folder")
    p.add_argument("--no-refine", action="store_true", help="evaluate without edge refinement")
    p.add_argument("--flip", action="store_true",
                   help="each model and the reference also with test-time flip (rows +flip)")
    args = p.parse_args(argv)
    try:
        settings = SegmenterSettings(refine=not args.no_refine)
        names = [os.path.basename(m) for m in args.model]
        # two files of the same name (a new model beside the shipped one) keep their paths
        names = [n if names.count(n) == 1 else m for n, m in zip(names, args.model)]
        models = {}
        for n, m in zip(names, args.model):
            models[n] = Segmenter(m, settings)
            if args.flip:
                models[f"{n} +flip"] = Segmenter(m, settings.with_(flip=True))
        if args.reference:
            reference = f"reference:{os.path.basename(args.reference)}"
            models[reference] = MediaPipeModel(args.reference)
            if args.flip:
                models[f"{reference} +flip"] = Flipped(models[reference])
        for folder in args.data:
            if not os.path.isdir(folder):
                raise HumanMattingError(f"data folder not found: {folder}")
        print(report(evaluate(models, args.data, args.split, args.limit)))
    except HumanMattingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
