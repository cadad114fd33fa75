"""How two teachers' soft person masks become one training label (numpy and OpenCV only: it
runs in the teacher environment, where TensorFlow is absent, and in the tests).

The teachers: MediaPipe pose (BlazePose GHUM segmentation), strong on whole bodies in any
pose, follows one person; MediaPipe selfie segmentation, strong on heads, hair and several
people, weak on limbs and easily fooled by poles and paintings.

The rule, per frame (``combine``):
1. label = max(pose, selfie where selfie > 0.5): the pose model's body, with the selfie
   model's confident hair, hands and held edges added (measured to help: 0.50 -> 0.57
   full-body IoU with this alone).
2. A region the selfie model calls person (> 0.5) that does not touch the pose model's person
   (> 0.5, dilated by ``TOUCH``) is ignored: another person the pose model does not follow,
   or a pole or painting the selfie model takes for one. Neither teacher can be trusted there.
3. No pose found: if the selfie model sees nobody either (nowhere above ``NOBODY``), the
   frame is an empty negative; otherwise the whole frame is ignored (``combine`` returns
   None: the frame is not written). Small and crowded people are where the pose model finds
   nothing, and the selfie model alone misses them: its "background" there would teach the
   student to miss them too.
4. Only the posed person's surroundings count: pixels beyond their box grown by ``AROUND``
   of its longer side each way are ignored. Both teachers miss people there (the crowd of a
   street, a child beside the one followed, a batter behind), and their "background" taught
   the student to drop every person but one: on photos of several people (looked at in
   2026-12, the worst photos of a model trained so) whole bystanders went missing. Near the
   person the pose model's background is trusted: the poles, props and ground beside a body
   in motion are the negatives these frames are for.
5. Where the selfie model is unsure next to the person, the soft label stands: soft targets
   are what the loss expects at edges.

Labels are stored as 8-bit masks with ``IGNORE_VALUE`` (128) meaning "count nowhere", as in
``../shared/data/video-masks``; a soft value that would round to 128 is stored as 127.
"""

from __future__ import annotations

import cv2
import numpy as np

IGNORE_VALUE = 128
PERSON = 0.5
NOBODY = 0.05
TOUCH = 0.02  # of the frame's diagonal: how near a selfie region must come to the pose person
AROUND = 0.25  # of the person's box's longer side: how far around it the labels count


def combine(pose: np.ndarray | None, selfie: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(label float32 HxW in [0, 1], ignore bool HxW) from the pose model's soft mask (None
    when it found no pose) and the selfie model's, both float32 HxW in [0, 1]; None where
    the frame cannot be labelled (no pose, but the selfie model sees someone)."""
    selfie = np.clip(selfie.astype(np.float32), 0.0, 1.0)
    if pose is None:
        if selfie.max() >= NOBODY:
            return None
        return np.zeros_like(selfie), np.zeros(selfie.shape, bool)
    pose = np.clip(pose.astype(np.float32), 0.0, 1.0)
    if pose.shape != selfie.shape:
        raise ValueError(f"pose mask {pose.shape} and selfie mask {selfie.shape} differ in size")
    confident = selfie > PERSON
    label = np.maximum(pose, np.where(confident, selfie, 0.0)).astype(np.float32)
    body = (pose > PERSON).astype(np.uint8)
    reach = max(1, round(TOUCH * float(np.hypot(*pose.shape))))
    near = cv2.dilate(body, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)) > 0
    _count, regions = cv2.connectedComponents(confident.astype(np.uint8), connectivity=8)
    touching = np.unique(regions[near & confident])
    apart = confident & ~np.isin(regions, touching)
    return label, apart | ~_surroundings(label > PERSON)


def _surroundings(person: np.ndarray) -> np.ndarray:
    """Bool HxW: the box of ``person`` grown by ``AROUND`` of its longer side each way
    (nothing where there is no person)."""
    around = np.zeros(person.shape, bool)
    ys, xs = np.nonzero(person)
    if ys.size:
        grow = round(AROUND * max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))
        around[max(0, ys.min() - grow):ys.max() + grow + 1, max(0, xs.min() - grow):xs.max() + grow + 1] = True
    return around


def encode(label: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """uint8 HxW: 0..255 for the soft label, ``IGNORE_VALUE`` where ignored."""
    out = np.round(np.clip(label, 0.0, 1.0) * 255.0).astype(np.uint8)
    out[out == IGNORE_VALUE] = IGNORE_VALUE - 1
    out[ignore] = IGNORE_VALUE
    return out
