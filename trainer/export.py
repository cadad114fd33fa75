"""Turn a training checkpoint into the deploy model files: folded ``.keras`` and ``.tflite``.

    python -m trainer.export runs/rgb/best.keras models/likeunet-rgb [--int8 DATA...]
        [--average-with OTHER.keras --share S]

The ``.tflite`` file carries a fixed-size graph for each common working shape
(``segmenter.common_shapes``) beside the open-sided one. ``--int8`` quantises it to int8
weights and activations, calibrated on training photos of those folders (never the
validation split); compare it with the float file with ``python -m trainer.evaluate``.
``--average-with`` exports the weights ``(1 - S) x checkpoint + S x OTHER`` of two models of
one architecture, one fine-tuned from the other: a model between the two (weight-space
ensembling, "WiSE-FT", Wortsman et al. CVPR 2022), which tends to keep most of what the
fine-tuning gained on its new data and most of what it lost on the old.
"""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

from humanmatting_gui import model as likeunet
from humanmatting_gui.compositing import cover
from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.segmenter import common_shapes
from trainer import data

CALIBRATION_PHOTOS = 100


def calibration_samples(folders: list[str], channels: int, shapes, photos: int = CALIBRATION_PHOTOS):
    """Float32 model inputs for int8 calibration: ``photos`` training photos spread over
    ``folders``, each cropped to cover every shape in ``shapes`` (RGB or grey 0..255)."""
    pairs = [pair for folder in folders for pair in data.split(data.find_pairs(folder))[0]]
    if not pairs:
        raise ValueError(f"no training photos found in {', '.join(folders)} for calibration")
    for pair in pairs[:: max(1, len(pairs) // photos)][:photos]:
        image = cv2.imread(pair.image, cv2.IMREAD_COLOR)
        if image is None:
            continue
        code = cv2.COLOR_BGR2GRAY if channels == 1 else cv2.COLOR_BGR2RGB
        for h, w in shapes:
            pixels = cv2.cvtColor(cover(image, w, h), code).astype(np.float32)
            yield pixels.reshape(h, w, channels)


def average(first, second, share: float):
    """A copy of ``first`` with every weight (batch-norm statistics too) at
    ``(1 - share) x first + share x second``; both of one architecture and form."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the share of the second model must lie in [0, 1], got {share}")
    if (likeunet.config_of(first), likeunet.is_deploy(first)) != (likeunet.config_of(second),
                                                                  likeunet.is_deploy(second)):
        raise ValueError("only models of one architecture and form can be averaged")
    out = likeunet.build_likeunet(likeunet.config_of(first), likeunet.is_deploy(first), first.name)
    others = {w.path: w for w in second.weights}
    for target, a in zip(out.weights, first.weights):
        b = others[a.path]
        target.assign((1.0 - share) * np.asarray(a) + share * np.asarray(b))
    return out


def export(checkpoint, stem: str, calibration_folders=None) -> tuple[str, str]:
    """Fold a LikeUnet (a model or a ``.keras`` path) and write ``stem.keras`` + ``stem.tflite``
    (int8 when ``calibration_folders`` are given)."""
    net = likeunet.load_keras(checkpoint) if isinstance(checkpoint, str) else checkpoint
    deploy = likeunet.fold(net) if not likeunet.is_deploy(net) else net
    shapes = common_shapes()
    calibration = None
    if calibration_folders:
        calibration = list(calibration_samples(calibration_folders, deploy.input_shape[-1], shapes))
    paths = (f"{stem}.keras", f"{stem}.tflite")
    if not (isinstance(checkpoint, str) and os.path.abspath(checkpoint) == os.path.abspath(paths[0])):
        likeunet.save_keras(deploy, paths[0])
    likeunet.export_tflite(deploy, paths[1], shapes, calibration)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a LikeUnet .keras file (training or deploy form)")
    parser.add_argument("stem", help="output path without extension")
    parser.add_argument("--int8", nargs="+", metavar="DATA",
                        help="quantise to int8, calibrated on the training photos of these folders")
    parser.add_argument("--average-with", metavar="KERAS",
                        help="export the weighted average of the checkpoint and this model")
    parser.add_argument("--share", type=float, default=0.5,
                        help="the share of --average-with in the average (default 0.5)")
    args = parser.parse_args(argv)
    try:
        checkpoint = args.checkpoint
        if args.average_with:
            checkpoint = average(likeunet.load_keras(checkpoint), likeunet.load_keras(args.average_with),
                                 args.share)
        for path in export(checkpoint, args.stem, args.int8):
            print(path)
    except (HumanMattingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
