"""Model and mask controls: RGB/grey model, threshold, softness, smoothing, edge refinement,
the mirrored second pass, mirror view."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QRadioButton, QSlider)

from humanmatting_gui.segmenter import SegmenterSettings


def percent_slider(value: float) -> QSlider:
    """A horizontal 0-100 slider showing ``value`` in [0, 1]."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(round(value * 100))
    return slider


class MaskPanel(QGroupBox):
    """Emits ``changed()`` when anything here changes; read ``model`` and ``settings()``."""

    changed = Signal()

    def __init__(self, settings: SegmenterSettings, parent=None):
        super().__init__("Model and mask", parent)
        form = QFormLayout(self)
        row = QHBoxLayout()
        self.rgb, self.gray = QRadioButton("RGB"), QRadioButton("Grey")
        self.file = QRadioButton("File")  # a model file given by --model PATH
        self.file.setVisible(False)
        self.model_path = ""
        self.rgb.setChecked(True)
        self.models = QButtonGroup(self)
        for button in (self.rgb, self.gray, self.file):
            self.models.addButton(button)
            row.addWidget(button)
        self.models.buttonToggled.connect(self._model_toggled)
        form.addRow("Model", row)
        self.threshold = percent_slider(settings.threshold)
        self.softness = percent_slider(settings.softness)
        self.smoothing = percent_slider(settings.smoothing / 0.95)
        for slider in (self.threshold, self.softness, self.smoothing):
            slider.valueChanged.connect(self.changed)
        form.addRow("Threshold", self.threshold)
        form.addRow("Softness", self.softness)
        form.addRow("Smoothing", self.smoothing)
        self.refine = QCheckBox("Refine edges")
        self.refine.setChecked(settings.refine)
        self.refine.toggled.connect(self.changed)
        form.addRow("", self.refine)
        self.flip = QCheckBox("Mirrored second pass")
        self.flip.setToolTip("The model also sees the frame mirrored: steadier masks, twice the model's time")
        self.flip.setChecked(settings.flip)
        self.flip.toggled.connect(self.changed)
        form.addRow("", self.flip)
        self.mirror = QCheckBox("Mirror view")
        form.addRow("", self.mirror)

    def _model_toggled(self, _button, checked: bool) -> None:
        if checked:
            self.changed.emit()

    @property
    def model(self) -> str:
        """``rgb``, ``gray`` or the path of a model file."""
        if self.file.isChecked():
            return self.model_path
        return "gray" if self.gray.isChecked() else "rgb"

    def set_model(self, model: str) -> None:
        """``rgb``, ``gray`` (or ``grey``), or a model file's path, shown as a third choice."""
        self.models.blockSignals(True)
        if model in ("rgb", "gray", "grey"):
            (self.rgb if model == "rgb" else self.gray).setChecked(True)
        else:
            self.model_path = model
            self.file.setText(f"File: {os.path.basename(model)}")
            self.file.setToolTip(model)
            self.file.setVisible(True)
            self.file.setChecked(True)
        self.models.blockSignals(False)

    def toggle_model(self) -> None:
        (self.rgb if self.gray.isChecked() else self.gray).setChecked(True)

    def settings(self) -> SegmenterSettings:
        return SegmenterSettings(threshold=self.threshold.value() / 100,
                                 softness=self.softness.value() / 100,
                                 smoothing=0.95 * self.smoothing.value() / 100,
                                 refine=self.refine.isChecked(), flip=self.flip.isChecked())

    def set_settings(self, settings: SegmenterSettings) -> None:
        for slider, value in ((self.threshold, settings.threshold), (self.softness, settings.softness),
                              (self.smoothing, settings.smoothing / 0.95)):
            slider.blockSignals(True)
            slider.setValue(round(value * 100))
            slider.blockSignals(False)
        for box, value in ((self.refine, settings.refine), (self.flip, settings.flip)):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)
