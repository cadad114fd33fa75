"""Engine speed: raw model latency, Segmenter and segment+composite per frame, beside MediaPipe.

    python benchmarks/bench_engine.py [--model models/likeunet-rgb] [--threads 2] [--runs 100]
        [--compare OTHER.tflite ...]

Prints medians in milliseconds. The MediaPipe selfie-segmentation reference
(../shared/reference/selfie_segmentation.tflite) runs in the same process when present.
Raw model latencies are taken interleaved (each model once per round), so that a noisy
machine slows all of them alike and their ratios hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from humanmatting_gui.backends import TFLiteBackend  # noqa: E402
from humanmatting_gui.paths import models_dir  # noqa: E402
from humanmatting_gui.compositing import Compositor  # noqa: E402
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings  # noqa: E402
from trainer.evaluate import MediaPipeModel  # noqa: E402

REFERENCE = os.path.join(ROOT, "..", "shared", "reference", "selfie_segmentation.tflite")
SIZES = ((640, 480), (1280, 720))


def median_ms(function, runs: int, warmup: int = 10) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def interleaved_ms(functions: dict, runs: int, warmup: int = 10) -> dict:
    """Median ms of each function, timed one after another in every round."""
    for function in functions.values():
        for _ in range(warmup):
            function()
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t) * 1000) for name, t in times.items()}


def frame(width: int, height: int) -> np.ndarray:
    """A frame with a person-like blob, so that compositing has edges to work on."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    import cv2

    cv2.ellipse(image, (width // 2, height // 2), (width // 6, height // 3), 0, 0, 360, (180, 150, 130), -1)
    return image


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(models_dir() / "likeunet-rgb"), help="path without extension")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--compare", nargs="*", default=[], metavar="TFLITE",
                   help="other model files to time beside it (e.g. a float and an int8 export)")
    args = p.parse_args(argv)
    tflite, keras_file = args.model + ".tflite", args.model + ".keras"
    have_reference = os.path.isfile(REFERENCE)
    print(f"model {tflite}, {args.threads} threads, median of {args.runs} runs")

    mp = MediaPipeModel(REFERENCE, args.threads) if have_reference else None
    files = {"likeunet .tflite": tflite, **{os.path.relpath(f): f for f in args.compare}}
    backends = {name: TFLiteBackend(path, args.threads) for name, path in files.items()}
    for h, w in ((256, 256), (224, 288)):
        print(f"\nraw model latency at {w}x{h} (ms; MediaPipe at its fixed 256x256)")
        rng = np.random.default_rng(1)
        functions = {}
        for name, backend in backends.items():
            pixels = rng.uniform(0, 255, (h, w, backend.channels)).astype(np.float32)
            functions[name] = lambda b=backend, x=pixels: b.predict(x)
        if mp is not None:
            index = mp._interp.get_input_details()[0]["index"]
            x = rng.uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
            functions["mediapipe selfie .tflite"] = lambda: (mp._interp.set_tensor(index, x), mp._interp.invoke())
        medians = interleaved_ms(functions, args.runs)
        ref = medians.get("mediapipe selfie .tflite")
        for name, ms in medians.items():
            fixed = "" if name.startswith("mediapipe") else \
                ("  fixed-size graph" if (h, w) in backends[name].fixed_sizes else "  open-sided graph")
            ratio = f"   / mediapipe = {ms / ref:.2f}" if ref and not name.startswith("mediapipe") else ""
            print(f"  {name:36s} {ms:7.2f}{ratio}{fixed}")
    if os.path.isfile(keras_file):
        from humanmatting_gui.backends import KerasBackend

        keras_backend = KerasBackend(keras_file)
        pixels = np.random.default_rng(1).uniform(0, 255, (256, 256, keras_backend.channels)).astype(np.float32)
        print(f"  likeunet .keras at 256x256  {median_ms(lambda: keras_backend.predict(pixels), max(10, args.runs // 5)):7.2f}")

    print("\nper frame (ms): segment = model + resize + smoothing + edge refinement; +composite = blur background")
    segmenter = Segmenter(tflite, SegmenterSettings(smoothing=0.5), args.threads)
    compositor = Compositor("blur:15")
    for width, height in SIZES:
        image = frame(width, height)
        seg = median_ms(lambda: segmenter.segment(image), args.runs)
        both = median_ms(lambda: compositor.composite(image, segmenter.segment(image)), args.runs)
        line = f"  {width}x{height}  likeunet   segment {seg:6.2f}   segment+composite {both:6.2f}  ({1000 / both:5.0f} fps)"
        print(line)
        if have_reference:
            mseg = median_ms(lambda: mp.segment(image), args.runs)
            mboth = median_ms(lambda: compositor.composite(image, mp.segment(image)), args.runs)
            print(f"  {width}x{height}  mediapipe  segment {mseg:6.2f}   segment+composite {mboth:6.2f}  ({1000 / mboth:5.0f} fps)")
    image, where = frame(640, 480), "a synthetic frame"
    clip = os.path.join(ROOT, "..", "shared", "data", "clips", "kite-walk.mp4")
    if os.path.isfile(clip):  # a person the model finds: the effects work on a real outline
        import cv2

        from humanmatting_gui.video_io import VideoReader

        with VideoReader(clip) as reader:
            real = next(iter(reader.frames()))
        h, w = real.shape[:2]
        image, where = cv2.resize(real[:, (w - h * 4 // 3) // 2:][:, :h * 4 // 3], (640, 480)), "kite-walk"
    flipped = Segmenter(tflite, SegmenterSettings(smoothing=0.5, flip=True), args.threads)
    medians = interleaved_ms({"plain": lambda: segmenter.segment(image),
                              "flip": lambda: flipped.segment(image)}, args.runs)
    print(f"\nflip at 640x480 ({where}; segment, ms): plain {medians['plain']:.2f}, with flip "
          f"{medians['flip']:.2f} (+{medians['flip'] - medians['plain']:.2f})")
    small = os.path.join(ROOT, "..", "shared", "data", "video-masks", "sbi-hallandmonitor", "images", "00240.jpg")
    if os.path.isfile(small):  # people small in the frame: where the zoomed second pass runs
        import cv2

        people = cv2.resize(cv2.imread(small), (640, 480))
        zoomed = Segmenter(tflite, SegmenterSettings(smoothing=0.5, zoom=True), args.threads)
        medians = interleaved_ms({"plain": lambda: segmenter.segment(people),
                                  "zoom": lambda: zoomed.segment(people)}, args.runs)
        print(f"\nzoom at 640x480 (sbi-hallandmonitor, small people; segment, ms): plain "
              f"{medians['plain']:.2f}, with zoom {medians['zoom']:.2f} (+{medians['zoom'] - medians['plain']:.2f}"
              f"{'' if zoomed._window else ', no window opened'})")
    print(f"\nlook effects at 640x480 ({where}), cost per frame over the plain blur composite "
          "(ms, interleaved medians)")
    alpha = segmenter.segment(image)
    from humanmatting_gui.look import Look
    from humanmatting_gui.main_person import MainPerson

    looks = {"plain": Look(), "light wrap 0.5": Look(light_wrap=0.5), "harmonize 0.5": Look(harmonize=0.5),
             "clean edges": Look(clean_edges=True)}
    composers = {name: Compositor("blur:15", look) for name, look in looks.items()}
    two = alpha.copy()
    two[:, :100] = np.maximum(two[:, :100], 0.9)  # a second region, so that just me has work
    person = MainPerson()
    functions = {name: (lambda c=c: c.composite(image, alpha)) for name, c in composers.items()}
    functions["just me"] = lambda: person(two)
    medians = interleaved_ms(functions, args.runs)
    print(f"  plain composite             {medians['plain']:7.2f}")
    for name, ms in medians.items():
        if name != "plain":
            extra = ms if name == "just me" else ms - medians["plain"]
            print(f"  {name:27s} +{extra:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
