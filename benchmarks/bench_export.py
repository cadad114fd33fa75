"""Export throughput beside the engine's own speed, in one run.

    python benchmarks/bench_export.py [--model rgb] [--format mp4] [--background blur] [--rounds 3] [--loops 4] [--flip]

For each clip in ../shared/data/clips (skipped when absent) and a generated 1280x720 clip:
the engine's fps on the clip's frames, decoded beforehand (segment + composite, one stream,
nothing else running), the export's fps (`humanmatting export`: decoding, the engine and
encoding in their threads) and their ratio; each timed ``--rounds`` times in turn, medians
(this machine's speed drifts by more than the effects measured). ``--profile`` also times
each stage of the export on its own (decode, segment, composite, encode), the sum they would
cost one after another.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from humanmatting_gui.compositing import parse_background  # noqa: E402
from humanmatting_gui.export import ExportRequest, export_video  # noqa: E402
from humanmatting_gui.stream import STREAM_SETTINGS, Stream, StreamRequest  # noqa: E402
from humanmatting_gui.video_io import FORMATS, VideoReader, VideoWriter  # noqa: E402

CLIPS = os.path.join(ROOT, "..", "shared", "data", "clips")


def generated_720p(folder: str) -> str:
    from conftest import write_clip

    return str(write_clip(os.path.join(folder, "generated-1280x720.mp4"), frames=72, size=(1280, 720), fps=24))


def looped(clip: str, loops: int, folder: str) -> str:
    """The clip's frames ``loops`` times over, as one H.264 file (no audio): a longer video,
    so that the export's start-up and the encoder's final flush weigh as little as in real use."""
    with VideoReader(clip) as reader:
        info, frames = reader.info, list(reader.frames())
    path = os.path.join(folder, f"{os.path.splitext(os.path.basename(clip))[0]}-x{loops}.mp4")
    writer = VideoWriter(path, FORMATS["mp4"], info.width, info.height, info.fps)
    try:
        for _ in range(loops):
            for frame in frames:
                writer.write(frame)
    finally:
        writer.close()
    return path


def engine_fps(frames, request: StreamRequest) -> float:
    with Stream(request) as stream:
        stream.process(frames[0])  # warm-up: interpreters allocate on the first frame
        stream.reset()
        start = time.perf_counter()
        for frame in frames:
            stream.process(frame)
        return len(frames) / (time.perf_counter() - start)


def profile(clip: str, frames, request: StreamRequest, fmt_name: str, folder: str) -> str:
    """Median ms per frame of each stage alone."""
    start = time.perf_counter()
    with VideoReader(clip) as reader:
        decoded = list(reader.frames())
        fps = reader.info.fps
    decode = (time.perf_counter() - start) / len(decoded) * 1000
    segment, composite, outputs = [], [], []
    with Stream(request) as stream:
        segmenter, compositor = stream._segmenters[request.model], stream._compositor
        for frame in frames:
            t0 = time.perf_counter()
            alpha = segmenter.segment(frame)
            t1 = time.perf_counter()
            outputs.append(compositor.composite(frame, alpha))
            segment.append(t1 - t0)
            composite.append(time.perf_counter() - t1)
    fmt = FORMATS[fmt_name]
    h, w = outputs[0].shape[:2]
    writer = VideoWriter(os.path.join(folder, "profile" + fmt.extension), fmt, w - w % 2, h - h % 2, fps)
    start = time.perf_counter()
    try:
        for image in outputs:
            writer.write(image[: h - h % 2, : w - w % 2])
    finally:
        writer.close()
    encode = (time.perf_counter() - start) / len(outputs) * 1000
    stages = {"decode": decode, "segment": np.median(segment) * 1000,
              "composite": np.median(composite) * 1000, "encode": encode}
    return "  ".join(f"{k} {v:5.1f}" for k, v in stages.items()) + f"  sum {sum(stages.values()):5.1f} ms"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="rgb")
    p.add_argument("--format", default="mp4")
    p.add_argument("--background", default="blur")
    p.add_argument("--profile", action="store_true", help="also time each stage alone")
    p.add_argument("--rounds", type=int, default=3,
                   help="engine and export timed this many times in turn; medians (default 3)")
    p.add_argument("--loops", type=int, default=1,
                   help="export each clip repeated this many times over (a longer video)")
    p.add_argument("--flip", action="store_true",
                   help="the mirrored second pass, as `humanmatting export` runs by default")
    args = p.parse_args(argv)
    request = StreamRequest(args.model, STREAM_SETTINGS.with_(flip=args.flip),
                            background=parse_background(args.background))
    with tempfile.TemporaryDirectory() as tmp:
        clips = sorted(os.path.join(CLIPS, c) for c in os.listdir(CLIPS)
                       if c.endswith(".mp4")) if os.path.isdir(CLIPS) else []
        clips.append(generated_720p(tmp))
        if args.loops > 1:
            clips = [looped(clip, args.loops, tmp) for clip in clips]
        print(f"model {args.model}, background {args.background}, format {args.format}"
              f"{', flip' if args.flip else ''}")
        print(f"{'clip':<28} {'size':>9} {'frames':>6} {'engine fps':>10} {'export fps':>10} "
              f"{'ratio':>6} {'x real time':>11}")
        ratios: dict[str, list[float]] = {}
        for clip in clips:
            with VideoReader(clip) as reader:
                info = reader.info
                frames = list(reader.frames())
            out = os.path.join(tmp, "out" + FORMATS[args.format].extension)
            engines, exports = [], []
            for _ in range(args.rounds):  # taken in turn, so that both see the same machine
                engines.append(engine_fps(frames, request))
                result = export_video(ExportRequest(clip, out, args.format, True, request))
                exports.append(result.fps)
            engine, export = float(np.median(engines)), float(np.median(exports))
            ratios.setdefault(f"{info.width}x{info.height}", []).append(export / engine)
            print(f"{os.path.basename(clip):<28} {info.width:>4}x{info.height:<4} {result.frames:>6} "
                  f"{engine:>10.1f} {export:>10.1f} {export / engine:>6.2f} "
                  f"{export / float(info.fps):>11.2f}")
            if args.profile:
                print("    stages alone, per frame:", profile(clip, frames, request, args.format, tmp))
        for size, values in ratios.items():
            print(f"median export / engine ratio at {size}: {np.median(values):.2f} ({len(values)} clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
