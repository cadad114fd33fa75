"""What the window remembers across runs (QSettings), with the defaults in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from PySide6.QtCore import QByteArray, QSettings

from humanmatting_gui.compositing import Background, parse_background
from humanmatting_gui.errors import InputError
from humanmatting_gui.look import Look
from humanmatting_gui.segmenter import SegmenterSettings
from humanmatting_gui.stream import STREAM_SETTINGS


@dataclass(frozen=True)
class Defaults:
    model: str = "rgb"
    settings: SegmenterSettings = field(default=STREAM_SETTINGS)
    background: Background = field(default_factory=Background)
    source: str = ""
    geometry: QByteArray | None = None
    look: Look = field(default_factory=Look)


def _settings() -> QSettings:
    return QSettings("humanmatting", "humanmatting")


def load() -> Defaults:
    """The stored choices; anything missing or no longer valid falls back to its default."""
    s = _settings()
    base = Defaults()
    try:
        background = parse_background(str(s.value("background", base.background.spec())))
    except InputError:  # e.g. a background image deleted since
        background = base.background
    try:
        settings = SegmenterSettings(
            threshold=float(s.value("threshold", base.settings.threshold)),
            softness=float(s.value("softness", base.settings.softness)),
            smoothing=float(s.value("smoothing", base.settings.smoothing)),
            refine=str(s.value("refine", base.settings.refine)).lower() == "true",
            flip=str(s.value("flip", base.settings.flip)).lower() == "true")
    except ValueError:
        settings = base.settings
    try:
        look = Look(str(s.value("just_me", base.look.just_me)).lower() == "true",
                    float(s.value("light_wrap", base.look.light_wrap)),
                    float(s.value("harmonize", base.look.harmonize)),
                    str(s.value("clean_edges", base.look.clean_edges)).lower() == "true")
    except ValueError:
        look = base.look
    model = str(s.value("model", base.model))
    geometry = s.value("geometry")
    known = model in ("rgb", "gray") or os.path.isfile(model)  # a model file may have gone
    return Defaults(model if known else base.model, settings, background,
                    str(s.value("source", "")), geometry if isinstance(geometry, QByteArray) else None,
                    look)


def save(d: Defaults) -> None:
    s = _settings()
    s.setValue("model", d.model)
    s.setValue("threshold", d.settings.threshold)
    s.setValue("softness", d.settings.softness)
    s.setValue("smoothing", d.settings.smoothing)
    s.setValue("refine", d.settings.refine)
    s.setValue("flip", d.settings.flip)
    s.setValue("background", d.background.spec())
    s.setValue("source", d.source)
    for name in ("just_me", "light_wrap", "harmonize", "clean_edges"):
        s.setValue(name, getattr(d.look, name))
    if d.geometry is not None:
        s.setValue("geometry", d.geometry)
    s.sync()
