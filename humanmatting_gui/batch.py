"""Many images to cut-outs or masks: the ``cutout`` and ``mask`` commands.

Inputs are files or folders (searched recursively); each result goes to
OUTDIR/<path relative to its input folder, with .png>. Before anything is written the plan is
checked: no result may replace an input, and no two inputs may give one output name (either
is one error line, nothing done). A file that cannot be read or written is reported and
skipped; the run then ends with status 1.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import cv2
import numpy as np

from humanmatting_gui.compositing import Compositor
from humanmatting_gui.errors import InputError, OutputError
from humanmatting_gui.progress import Progress
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
from humanmatting_gui.sources import list_images, read_image

VIDEO_SETTINGS = SegmenterSettings(smoothing=0.5)


@dataclass(frozen=True)
class Job:
    image: str
    output: str
    clip: str  # the folder whose images form one clip (for --video)


def plan(inputs: list[str], outdir: str) -> list[Job]:
    """Jobs for every image under ``inputs``. Raises InputError for a missing input, and
    OutputError when ``outdir`` is a file, a result would replace an input, or two inputs
    would give the same output."""
    existing = os.path.abspath(outdir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputError(f"the output {outdir} is a file, not a folder" if existing ==
                          os.path.abspath(outdir) else f"the output {outdir} lies under a file, {existing}")
    jobs = _jobs(inputs, outdir)
    sources = {os.path.realpath(job.image): job.image for job in jobs}
    taken: dict[str, str] = {}
    for job in jobs:
        out = os.path.realpath(job.output)
        if out in sources:
            raise OutputError(f"the result for {job.image} would replace {sources[out]}: "
                              "choose another output folder")
        if out in taken and taken[out] != job.image:
            raise OutputError(f"{taken[out]} and {job.image} would both be written to "
                              f"{job.output}: give them different names or folders")
        taken[out] = job.image
    return jobs


def _jobs(inputs: list[str], outdir: str) -> list[Job]:
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
    tmp = f"{path}.part.png"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if not cv2.imwrite(tmp, image):
            raise OutputError(f"cannot write {path}")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
            try:
                image = read_image(job.image)
                alpha = segmenter.segment(image)
                result = (alpha * 255 + 0.5).astype(np.uint8) if command == "mask" else \
                    cutout(image, alpha, compositor)
                _write_png(job.output, result)
            except (InputError, OutputError) as exc:
                failed += 1
                sys.stderr.write(f"\rhumanmatting: {exc}: skipped\n")
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
