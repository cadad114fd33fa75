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

from humanmatting_gui.compositing import parse_background
from humanmatting_gui.errors import InputError, OutputError
from humanmatting_gui.look import Look
from humanmatting_gui.progress import Progress
from humanmatting_gui.segmenter import SegmenterSettings
from humanmatting_gui.sources import list_images, read_image
from humanmatting_gui.stream import STREAM_SETTINGS, Stream, StreamRequest
from humanmatting_gui.video_io import AtomicOutput


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
            found = [(path, os.path.relpath(path, item)) for path in list_images(item)]
        elif os.path.isfile(item):
            found = [(item, os.path.basename(item))]
        else:
            raise InputError(f"input not found: {item}")
        jobs += [Job(path, os.path.join(outdir, os.path.splitext(name)[0] + ".png"), os.path.dirname(path))
                 for path, name in found]
    return jobs


def _write_png(path: str, image: np.ndarray) -> None:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with AtomicOutput(path, overwrite=True) as out:  # a folder of that name stays
            if not cv2.imwrite(out.temp, image):
                raise OutputError(f"cannot write {path}")
            out.commit()
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def run(command: str, inputs: list[str], output: str, model="rgb", background: str | None = None,
        video: bool = False, look: Look = Look(clean_edges=True), flip: bool = True) -> int:
    """``cutout`` (the person as RGBA PNG, or over ``background``) or ``mask`` (8-bit masks)
    of every image under ``inputs`` into the folder ``output``. ``video``: each folder's
    images, in name order, are frames of one clip (temporal smoothing, reset per folder).
    ``look``: just me for masks too; the rest for cut-outs. ``flip``: the mirrored second
    model pass (``SegmenterSettings.flip``).
    Returns the exit status: 1 when some files failed (each reported), else 0."""
    jobs = plan(inputs, output)
    if not jobs:
        raise InputError("no images found in the inputs")
    behind = None if command == "mask" else parse_background(background or "transparent")
    settings = STREAM_SETTINGS if video else SegmenterSettings()
    request = StreamRequest(model, settings.with_(flip=flip), behind, look)
    bar = Progress(len(jobs)) if len(jobs) > 1 else None
    failed, clip = 0, None
    with Stream(request) as stream:
        for k, job in enumerate(jobs, start=1):
            if job.clip != clip:
                stream.reset()  # a new folder is a new clip: no smoothing across it
                clip = job.clip
            try:
                _write_png(job.output, stream.process(read_image(job.image)).output)
            except (InputError, OutputError) as exc:
                failed += 1
                sys.stderr.write(f"\rhumanmatting: {exc}: skipped\n")
            if bar is not None:
                bar.update(k, os.path.basename(job.image))
    if bar is not None:
        bar.finish()
    if failed:
        print(f"humanmatting: {failed} of {len(jobs)} files failed", file=sys.stderr)
    return 1 if failed else 0
