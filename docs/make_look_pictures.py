"""The README's before/after pictures of the Look effects, from frames of the shared clips.

    python docs/make_look_pictures.py [--out docs/look.png]

Each row is one frame through the engine (the shipped RGB model, as `humanmatting cutout
--background ...` does it), without and with an effect: just me (hockey: the people far
behind the player), light wrap + harmony (kite-walk, over a background of our own), clean
edge colours (a zoom on the hair in stroller over a flat blue).
"""

from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from humanmatting_gui.compositing import parse_background  # noqa: E402
from humanmatting_gui.look import Look  # noqa: E402
from humanmatting_gui.segmenter import SegmenterSettings  # noqa: E402
from humanmatting_gui.stream import Stream, StreamRequest  # noqa: E402
from humanmatting_gui.video_io import VideoReader  # noqa: E402

CLIPS = os.path.join(ROOT, "..", "shared", "data", "clips")
EVENING = os.path.join(ROOT, "resources", "backgrounds", "evening-lights.jpg")


def clip_frame(name: str, index: int = 30) -> np.ndarray:
    with VideoReader(os.path.join(CLIPS, f"{name}.mp4")) as reader:
        for k, frame in enumerate(reader.frames()):
            if k == index:
                return frame
    raise ValueError(f"{name} has fewer than {index + 1} frames")


def composite(frame, background: str, look: Look) -> np.ndarray:
    request = StreamRequest("rgb", SegmenterSettings(), parse_background(background), look)
    with Stream(request) as stream:
        return stream.process(frame).output


def label(image: np.ndarray, text: str) -> np.ndarray:
    image = image.copy()
    cv2.rectangle(image, (0, 0), (image.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(image, text, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def row(frame, background, before: Look, after: Look, names, crop=None, width=480):
    pair = []
    for look, name in zip((before, after), names):
        out = composite(frame, background, look)
        if crop is not None:
            x, y, w, h = crop
            out = cv2.resize(out[y:y + h, x:x + w], (width, round(width * h / w)), interpolation=cv2.INTER_CUBIC)
        else:
            out = cv2.resize(out, (width, round(width * out.shape[0] / out.shape[1])), interpolation=cv2.INTER_AREA)
        pair.append(label(out, name))
    return np.hstack(pair)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "look.png"))
    args = p.parse_args(argv)
    if not os.path.isdir(CLIPS):
        print("skipped: ../shared/data/clips is not present")
        return 0
    grey = "color:#707070"
    rows = [
        row(clip_frame("hockey"), grey, Look(), Look(just_me=True), ("plain", "just me")),
        row(clip_frame("kite-walk"), f"image:{EVENING}", Look(), Look(light_wrap=0.6, harmonize=0.6),
            ("plain", "light wrap 0.6 + harmonize 0.6")),
        row(clip_frame("swing"), "color:#3050c0", Look(), Look(clean_edges=True),
            ("hair, raw colours (zoom)", "hair, clean edge colours (zoom)"), crop=(480, 40, 120, 90)),
    ]
    width = max(r.shape[1] for r in rows)
    picture = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows])
    cv2.imwrite(args.out, picture)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
