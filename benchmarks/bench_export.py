"""Export throughput: frames per second of `humanmatting export` on real and generated clips.

    python benchmarks/bench_export.py [--model rgb] [--format mp4]

Uses the clips in ../shared/data/clips (skipped when absent) and a generated 1280x720 clip.
Real time for a clip is its own frame rate; the target is 2x real time at 854x480, 24 fps.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from humanmatting_gui.export import ExportRequest, export_video  # noqa: E402
from humanmatting_gui.video_io import VideoReader  # noqa: E402

CLIPS = os.path.join(ROOT, "..", "shared", "data", "clips")


def generated_720p(folder: str) -> str:
    from conftest import write_clip

    return str(write_clip(os.path.join(folder, "generated-1280x720.mp4"), frames=72, size=(1280, 720), fps=24))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="rgb")
    p.add_argument("--format", default="mp4")
    p.add_argument("--background", default="blur")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clips = sorted(os.path.join(CLIPS, c) for c in os.listdir(CLIPS)) if os.path.isdir(CLIPS) else []
        clips.append(generated_720p(tmp))
        print(f"{'clip':<28} {'size':>9} {'frames':>6} {'fps':>6} {'x real time':>11}")
        for clip in clips:
            with VideoReader(clip) as reader:
                info = reader.info
            out = os.path.join(tmp, "out" + (".mp4" if args.format in ("mp4", "matte") else ".out"))
            result = export_video(ExportRequest(clip, out, args.background, args.model, args.format,
                                                overwrite=True))
            print(f"{os.path.basename(clip):<28} {info.width:>4}x{info.height:<4} {result.frames:>6} "
                  f"{result.fps:>6.1f} {result.fps / float(info.fps):>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
