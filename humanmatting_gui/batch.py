"""Many images to cut-outs or masks: the ``cutout`` and ``mask`` commands.

Inputs are files or folders (searched recursively); each result goes to
OUTDIR/<path relative to its input folder, with .png>. A file that cannot be read or
written is reported and skipped; the run then ends with status 1.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import cv2
import numpy as np

from humanmatting_gui.compositing import Compositor
from humanmatting_gui.errors import InputError
from humanmatting_gui.progress import Progress
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
from humanmatting_gui.sources import list_images

VIDEO_SETTINGS = SegmenterSettings(smoothing=0.5)


@dataclass(frozen=True)
class Job:
    image: str
    output: str
    clip: str  # the folder whose images form one clip (for --video)


def plan(inputs: list[str], outdir: str) -> list[Job]:
    """Jobs for every image under ``inputs``. Raises InputError for a missing input."""
    jobs = []
    for item in inputs:
        if os.path.isdir(item):
            for path in list_images(item):
                rel = os.path.splitext(os.path.relpath(path, item))[0] + ".png"
                jobs.append(Job(path, os.path.join(outdir, rel), os.path.dirname(path)))
        elif os.path.isfile(item):
            name = os.path.splitext(os.path.basename(item))[0] + ".png"
            jobs.append(Job(item, os.path.join(outdir, name), os.path.dirname(item)))
        else:
            raise InputError(f"input not found: {item}")
    return jobs


def cutout(image: np.ndarray, alpha: np.ndarray, compositor: Compositor | None) -> np.ndarray:
    """The person as BGRA (no compositor) or composited over the compositor's background."""
    if compositor is None:
        return np.dstack([image, (alpha * 255 + 0.5).astype(np.uint8)])
    return compositor.composite(image, alpha)


def _write_png(path: str, image: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.part.png"
    if not cv2.imwrite(tmp, image):
        raise InputError(f"cannot write {path}")
    os.replace(tmp, path)


def run(command: str, args) -> int:
    jobs = plan(args.inputs, args.output)
    if not jobs:
        raise InputError("no images found in the inputs")
    video = command == "mask" and args.video
    segmenter = Segmenter(args.model, VIDEO_SETTINGS if video else SegmenterSettings())
    background = getattr(args, "background", None)
    compositor = Compositor(background) if background else None
    bar = Progress(len(jobs)) if len(jobs) > 1 else None
    failed, clip = 0, None
    try:
        for k, job in enumerate(jobs, start=1):
            if job.clip != clip:
                segmenter.reset()  # a new folder is a new clip: no smoothing across it
                clip = job.clip
            image = cv2.imread(job.image, cv2.IMREAD_COLOR)
            try:
                if image is None:
                    raise InputError(f"cannot read image {job.image}: skipped")
                alpha = segmenter.segment(image)
                result = (alpha * 255 + 0.5).astype(np.uint8) if command == "mask" else \
                    cutout(image, alpha, compositor)
                _write_png(job.output, result)
            except InputError as exc:
                failed += 1
                sys.stderr.write(f"\rhumanmatting: {exc}\n")
            if bar is not None:
                bar.update(k, os.path.basename(job.image))
    finally:
        if compositor is not None:
            compositor.close()
    if bar is not None:
        bar.finish()
    if failed:
        print(f"humanmatting: {failed} of {len(jobs)} files failed", file=sys.stderr)
    return 1 if failed else 0
