"""Turn a training checkpoint into the deploy model files: folded ``.keras`` and ``.tflite``.

    python -m trainer.export runs/rgb/best.keras models/likeunet-rgb
"""

from __future__ import annotations

import argparse
import sys

from humanmatting_gui import model as likeunet
from humanmatting_gui.errors import HumanMattingError


def export(checkpoint, stem: str) -> tuple[str, str]:
    """Fold a LikeUnet (a model or a ``.keras`` path) and write ``stem.keras`` + ``stem.tflite``."""
    net = likeunet.load_keras(checkpoint) if isinstance(checkpoint, str) else checkpoint
    deploy = likeunet.fold(net) if not likeunet.is_deploy(net) else net
    paths = (f"{stem}.keras", f"{stem}.tflite")
    likeunet.save_keras(deploy, paths[0])
    likeunet.export_tflite(deploy, paths[1])
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a LikeUnet .keras file (training or deploy form)")
    parser.add_argument("stem", help="output path without extension")
    args = parser.parse_args(argv)
    try:
        for path in export(args.checkpoint, args.stem):
            print(path)
    except HumanMattingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
