"""The pose teacher served to the project's own environment through a pipe, so that
``trainer.evaluate_video`` can score it in the same run as the other models.

    .venv-teacher/bin/python -m trainer.teacher_serve     # started by evaluate_video

Runs in ``.venv-teacher`` (MediaPipe cannot share TensorFlow's environment). On stdin, each
request is a header of two little-endian uint32, height and width, then that many RGB uint8
pixels, frames of one stream in order (pose runs in video mode: it tracks the person from
frame to frame); it answers on stdout with the person mask as float32 (height x width, 0
where pose finds nobody). It ends at the end of its input.
"""

from __future__ import annotations

import os
import struct
import sys

import numpy as np

HEADER = struct.Struct("<II")


def _read(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def serve(teacher, stdin, stdout) -> int:
    """Answer requests until the input ends; ``teacher``: a callable RGB frame -> mask (or
    None: nobody). Returns the number of frames answered."""
    answered = 0
    while (header := _read(stdin, HEADER.size)) is not None:
        height, width = HEADER.unpack(header)
        pixels = _read(stdin, height * width * 3)
        if pixels is None:
            break
        mask = teacher(np.frombuffer(pixels, np.uint8).reshape(height, width, 3))
        if mask is None:
            mask = np.zeros((height, width), np.float32)
        if mask.shape != (height, width):
            raise ValueError(f"the teacher answered {mask.shape} for a {height}x{width} frame")
        stdout.write(np.ascontiguousarray(mask, np.float32).tobytes())
        stdout.flush()
        answered += 1
    return answered


def main() -> int:
    from trainer.teacher_labels import Teachers  # MediaPipe: only in .venv-teacher

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what MediaPipe's native code prints goes to stderr, not into the answers
    teachers = Teachers()
    try:
        serve(lambda rgb: teachers(rgb)[0], sys.stdin.buffer, answers)
    finally:
        teachers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
