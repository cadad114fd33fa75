"""File > Export video…: the window's model, mask settings and background over a video file,
in a format; runs off the GUI thread."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

from PySide6.QtCore import QThread, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout)

from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.export import Cancelled, ExportRequest, export_video
from humanmatting_gui.stream import StreamRequest
from humanmatting_gui.ui.source_panel import VIDEO_FILTER
from humanmatting_gui.video_io import FORMATS


class ExportThread(QThread):
    """Runs one export; ``progress(done, total)``, then ``finished_ok(message)`` or ``failed(message)``."""

    progress = Signal(int, int)
    finished_ok = Signal(str)
    failed = Signal(str)

    def __init__(self, request: ExportRequest, parent=None):
        super().__init__(parent)
        self.request = request
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            result = export_video(self.request, lambda d, t: self.progress.emit(d, t), self._cancel.is_set)
        except Cancelled:
            self.failed.emit("Export cancelled; nothing was written.")
        except HumanMattingError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - the thread's boundary: the dialog must hear
            self.failed.emit(f"Export failed: {exc}")
        else:
            notes = "".join(f" Note: {n}." for n in result.notes)
            self.finished_ok.emit(f"Wrote {result.path}: {result.frames} frames at "
                                  f"{result.fps:.1f} fps.{notes}")


def describe(request: StreamRequest) -> str:
    """The model and background of ``request`` in a few words."""
    model = request.model if isinstance(request.model, str) else "custom"
    model = {"rgb": "RGB", "gray": "grey"}.get(model, os.path.basename(model))
    background = request.background.spec() if request.background is not None else "none"
    look = request.look
    extras = [name for name, on in (("just me", look.just_me), (f"light wrap {look.light_wrap:.2f}", look.light_wrap),
                                    (f"harmonize {look.harmonize:.2f}", look.harmonize)) if on]
    return ", ".join([f"{model} model", f"background {background}", *extras,
                      "mask settings as in the window"])


class ExportDialog(QDialog):
    """Exports with ``stream``: the window's request at the time the dialog opened."""

    def __init__(self, source: str = "", stream: StreamRequest = StreamRequest(), parent=None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle("Export video")
        self.thread = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.source = QLineEdit(source)
        self.output = QLineEdit()
        self.stream = stream
        self.clean_edges = QCheckBox("Clean edge colours (hair)")
        self.clean_edges.setChecked(True)
        self.format = QComboBox()
        self.format.addItems(list(FORMATS))
        form.addRow("Video", self._with_button(self.source, self._choose_source))
        form.addRow("Look", QLabel(describe(stream)))
        form.addRow("", self.clean_edges)
        form.addRow("Format", self.format)
        form.addRow("Save as", self._with_button(self.output, self._choose_output))
        layout.addLayout(form)
        self.bar = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.start = QPushButton("Export")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        close = QPushButton("Close")
        self.start.clicked.connect(self.begin)
        self.cancel.clicked.connect(self.stop)
        close.clicked.connect(self.close)
        for button in (self.start, self.cancel, close):
            row.addWidget(button)
        layout.addLayout(row)
        if source:
            self._suggest_output()

    def _with_button(self, edit, slot):
        row = QHBoxLayout()
        button = QPushButton("…")
        button.setFixedWidth(32)
        button.clicked.connect(slot)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    def _suggest_output(self) -> None:
        stem = os.path.splitext(self.source.text())[0]
        extension = FORMATS[self.format.currentText()].extension
        self.output.setText(f"{stem}-humanmatting{extension}")

    def _choose_source(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video to export", "", VIDEO_FILTER)
        if path:
            self.source.setText(path)
            self._suggest_output()

    def _choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self.output.text())
        if path:
            self.output.setText(path)

    def request(self) -> ExportRequest:
        look = replace(self.stream.look, clean_edges=self.clean_edges.isChecked())
        return ExportRequest(self.source.text(), self.output.text(), self.format.currentText(),
                             stream=replace(self.stream, look=look))

    def begin(self) -> None:
        if self.thread is not None:
            return
        self.thread = ExportThread(self.request(), self)
        self.thread.progress.connect(self._progress)
        self.thread.finished_ok.connect(self._done)
        self.thread.failed.connect(self._done)
        self.start.setEnabled(False)
        self.cancel.setEnabled(True)
        self.status.setText("Exporting…")
        self.thread.start()

    def _progress(self, done: int, total: int) -> None:
        self.bar.setMaximum(total or 0)
        self.bar.setValue(done)
        self.status.setText(f"{done} / {total or '?'} frames")

    def _done(self, message: str) -> None:
        self.thread.wait()
        self.thread = None
        self.status.setText(message)
        self.start.setEnabled(True)
        self.cancel.setEnabled(False)

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.cancel()

    def closeEvent(self, event) -> None:
        if self.thread is not None:
            self.thread.cancel()
            self.thread.wait()
            self.thread = None
        super().closeEvent(event)
