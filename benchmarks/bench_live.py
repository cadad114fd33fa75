"""Live window speed: the real window, headless, on clips at 640x480 and at the clip's own size.

    python benchmarks/bench_live.py [--frames 300]

Runs `humanmatting gui --source CLIP --frames N` in a fresh process for each case and prints
its JSON figures: median FPS shown, median capture-to-display latency, longest GUI stall.
"paced" reads the video at its native rate (what a user sees); "max" reads it as fast as it
decodes, so FPS is the pipeline's capacity. The 640x480 clip is made from a shared clip at
30 fps (a webcam's size and rate).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from humanmatting_gui.video_io import FORMATS, VideoReader, VideoWriter  # noqa: E402

CLIP = os.path.join(ROOT, "..", "shared", "data", "clips", "kite-walk.mp4")


def webcam_sized(source: str, target: str, loops: int = 4) -> str:
    """The clip cropped to 4:3, scaled to 640x480, at 30 fps, repeated ``loops`` times."""
    from fractions import Fraction

    with VideoReader(source) as reader:
        frames = list(reader.frames())
    writer = VideoWriter(target, FORMATS["mp4"], 640, 480, Fraction(30))
    try:
        for _ in range(loops):
            for image in frames:
                h, w = image.shape[:2]
                crop = image[:, (w - h * 4 // 3) // 2:][:, : h * 4 // 3]
                writer.write(cv2.resize(crop, (640, 480), interpolation=cv2.INTER_AREA))
    finally:
        writer.close()
    return target


def run(source: str, frames: int, paced: bool, model: str, shot: str | None) -> dict:
    command = [sys.executable, "-m", "humanmatting_gui.cli", "gui", "--source", source,
               "--frames", str(frames), "--model", model]
    if shot:
        command += ["--screenshot", shot]
    if not paced:
        command += ["--max-rate"]
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--model", default="rgb")
    p.add_argument("--screenshot", help="save the window of the clip-size paced run here")
    args = p.parse_args(argv)
    if not os.path.isfile(CLIP):
        print("skipped: ../shared/data/clips is not present")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        small = webcam_sized(CLIP, os.path.join(tmp, "webcam-640x480.mp4"))
        for label, source in (("640x480 30 fps", small), ("854x480 24 fps (clip)", CLIP)):
            for paced in (True, False):
                shot = args.screenshot if (source == CLIP and paced) else None
                figures = run(source, args.frames, paced, args.model, shot)
                print(f"{label:<22} {'paced' if paced else 'max':<6} {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
