"""Training data: find image/mask pairs, load them, split them, and feed augmented batches.

Two layouts are read, several folders at once:
- ``images/`` + ``masks/`` (same stem, mask a 1-channel PNG, 255 = person), as in
  ``../shared/data/portraits/*``;
- the AISegment layout the seed was trained on: ``clip_img/**/clip_*/NAME.jpg`` with the
  RGBA matte ``matting/**/matting_*/NAME.png`` (alpha = person).

A folder (or one above it, up to the data folder given) may hold ``labels.json`` with
``{"ignore": VALUE}``: in its masks that value means "unknown, count nowhere" (teacher labels,
``trainer/teacher_labels.py``, and the ignore band of ``../shared/data/video-masks``, which
``--ignore FOLDER=128`` names since that folder cannot hold the file).

Validation split (fixed, deterministic): within each data folder, pairs sorted by path,
every 10th pair starting with the first (index % 10 == 0) is validation, never trained on.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VALIDATION_EVERY = 10
MAX_SIDE = 400  # pairs are kept in memory at most this large: enough for 256-320 px crops


@dataclass(frozen=True)
class Pair:
    image: str
    mask: str
    folder: str
    ignore: int | None = None  # the mask value that means "unknown" (labels.json)


def ignore_value(folder: str) -> int | None:
    """The ignore value ``folder/labels.json`` gives, or None without the file."""
    path = os.path.join(folder, "labels.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            value = json.load(f).get("ignore")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"unreadable {path}: {exc}") from exc
    if value is not None and (not isinstance(value, int) or not 0 <= value <= 255):
        raise ValueError(f"{path}: 'ignore' must be a mask value 0..255, got {value!r}")
    return value


@dataclass
class LoadedSet:
    """Decoded pairs (RGB uint8 images, uint8 masks 0..255) and what failed to load."""

    images: list = field(default_factory=list)
    masks: list = field(default_factory=list)
    folders: list = field(default_factory=list)
    failed: int = 0


def find_pairs(folder: str, ignore: int | None = None) -> list[Pair]:
    """All image/mask pairs under ``folder`` in either layout, sorted by image path. Their
    ignore value: the nearest ``labels.json`` at or above the pair (up to ``folder``), else
    ``ignore``."""
    if not os.path.isdir(folder):
        raise ValueError(f"data folder not found: {folder}")
    pairs = []
    ignores = {}
    for root, _dirs, files in os.walk(folder):
        parent = os.path.dirname(root)
        ignores[root] = ignore_value(root)
        if ignores[root] is None:
            ignores[root] = ignores.get(parent, ignore) if root != folder else ignore
        parts = root.split(os.sep)
        for name in files:
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            stem = os.path.splitext(name)[0]
            if parts[-1] == "images":
                mask = os.path.join(os.path.dirname(root), "masks", stem + ".png")
            elif "clip_img" in parts:
                mask_root = os.sep.join("matting" if p == "clip_img" else
                                        p.replace("clip_", "matting_", 1) for p in parts)
                mask = os.path.join(mask_root, stem + ".png")
            else:
                continue
            if os.path.isfile(mask):
                pairs.append(Pair(os.path.join(root, name), mask, folder, ignores[root]))
            else:
                log.warning("no mask for %s (expected %s): skipped", name, mask)
    return sorted(pairs, key=lambda p: p.image)


def split(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(train, validation): every VALIDATION_EVERY-th pair of each folder is validation."""
    train, val = [], []
    index: dict[str, int] = {}
    for pair in pairs:
        k = index.get(pair.folder, 0)
        (val if k % VALIDATION_EVERY == 0 else train).append(pair)
        index[pair.folder] = k + 1
    return train, val


def leave_out(pairs: list[Pair], list_name: str) -> tuple[list[Pair], int]:
    """(``pairs`` without those whose image stem is listed, one per line, in the file
    ``list_name`` of their data folder; how many were left out). Folders without the file
    keep all their pairs. For training pairs only: the validation split never changes."""
    listed: dict[str, set] = {}
    for folder in {p.folder for p in pairs}:
        path = os.path.join(folder, list_name)
        if os.path.isfile(path):
            with open(path) as f:
                listed[folder] = {line.strip() for line in f if line.strip()}
    kept = [p for p in pairs
            if os.path.splitext(os.path.basename(p.image))[0] not in listed.get(p.folder, ())]
    return kept, len(pairs) - len(kept)


def load_pair(pair: Pair, max_side: int = MAX_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 HxWx3, mask uint8 HxW). With an ignore value the mask is HxWx2: the label
    (0 where unknown) and its validity (255 counted, 0 unknown). Raises ValueError if either
    file is unusable."""
    image = cv2.imread(pair.image, cv2.IMREAD_COLOR)
    mask = cv2.imread(pair.mask, cv2.IMREAD_UNCHANGED)
    if image is None or mask is None:
        raise ValueError(f"cannot decode {pair.image if image is None else pair.mask}")
    if mask.ndim == 3:
        mask = mask[:, :, 3] if mask.shape[2] == 4 else mask[:, :, 0]
    if mask.dtype != np.uint8:
        mask = (mask.astype(np.float32) * (255.0 / np.iinfo(mask.dtype).max)).astype(np.uint8)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask size {mask.shape} differs from image {image.shape[:2]}: {pair.mask}")
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST if pair.ignore is not None
                          else cv2.INTER_AREA)
    if pair.ignore is not None:
        unknown = mask == pair.ignore
        mask = np.stack([np.where(unknown, 0, mask), np.where(unknown, 0, 255)], axis=2).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mask


def load_pairs(pairs: list[Pair], max_side: int = MAX_SIDE) -> LoadedSet:
    """Decode every pair; a pair that fails is logged as a warning, counted and skipped."""
    loaded = LoadedSet()
    for pair in pairs:
        try:
            image, mask = load_pair(pair, max_side)
        except (ValueError, cv2.error) as exc:
            log.warning("skipping pair: %s", exc)
            loaded.failed += 1
            continue
        loaded.images.append(image)
        loaded.masks.append(mask)
        loaded.folders.append(pair.folder)
    return loaded


def repeat(loaded: LoadedSet, times: dict[str, int]) -> LoadedSet:
    """``loaded`` with the pairs of each folder in ``times`` listed that many times (the same
    arrays, not copies): sampled that much more often. For training pairs only."""
    out = LoadedSet(failed=loaded.failed)
    for image, mask, folder in zip(loaded.images, loaded.masks, loaded.folders):
        for _ in range(times.get(os.path.normpath(folder), 1)):
            out.images.append(image)
            out.masks.append(mask)
            out.folders.append(folder)
    return out


def load_backgrounds(folders: list[str], max_side: int = MAX_SIDE) -> list[np.ndarray]:
    """RGB uint8 background images from folders (searched recursively); unreadable ones skipped."""
    backgrounds = []
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                if not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                image = cv2.imread(os.path.join(root, name), cv2.IMREAD_COLOR)
                if image is None:
                    log.warning("skipping unreadable background %s", name)
                    continue
                scale = min(1.0, max_side / max(image.shape[:2]))
                if scale < 1:
                    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                backgrounds.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return backgrounds
