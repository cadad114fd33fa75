"""Where the project's data files live: shipped models and our own default backgrounds."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """$HUMANMATTING_MODELS, else the project's models/."""
    return Path(os.environ.get("HUMANMATTING_MODELS", PROJECT / "models"))


def backgrounds_dir() -> Path:
    return PROJECT / "resources" / "backgrounds"


def default_background_image() -> str:
    """The image the Image background starts with, or "" if resources/ is not installed."""
    path = backgrounds_dir() / "evening-lights.jpg"
    return str(path) if path.is_file() else ""
