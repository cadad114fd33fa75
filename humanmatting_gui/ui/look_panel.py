"""Look controls: just me, light wrap, colour harmony, clean edges (shown at once on the live view)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox

from humanmatting_gui.look import Look
from humanmatting_gui.ui.mask_panel import percent_slider


class LookPanel(QGroupBox):
    """Emits ``changed()`` when anything here changes; read ``look()``."""

    changed = Signal()

    def __init__(self, look: Look = Look(), parent=None):
        super().__init__("Look", parent)
        form = QFormLayout(self)
        self.just_me = QCheckBox("Just me (hide other people)")
        self.light_wrap = percent_slider(look.light_wrap)
        self.harmonize = percent_slider(look.harmonize)
        self.clean_edges = QCheckBox("Clean edge colours (hair)")
        form.addRow("", self.just_me)
        form.addRow("Light wrap", self.light_wrap)
        form.addRow("Harmonize", self.harmonize)
        form.addRow("", self.clean_edges)
        self.set_look(look)
        for box in (self.just_me, self.clean_edges):
            box.toggled.connect(self.changed)
        for slider in (self.light_wrap, self.harmonize):
            slider.valueChanged.connect(self.changed)

    def look(self) -> Look:
        return Look(self.just_me.isChecked(), self.light_wrap.value() / 100,
                    self.harmonize.value() / 100, self.clean_edges.isChecked())

    def set_look(self, look: Look) -> None:
        widgets = (self.just_me, self.light_wrap, self.harmonize, self.clean_edges)
        for widget in widgets:
            widget.blockSignals(True)
        self.just_me.setChecked(look.just_me)
        self.light_wrap.setValue(round(look.light_wrap * 100))
        self.harmonize.setValue(round(look.harmonize * 100))
        self.clean_edges.setChecked(look.clean_edges)
        for widget in widgets:
            widget.blockSignals(False)
