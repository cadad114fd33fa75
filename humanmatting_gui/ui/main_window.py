"""The main window: assembles the view and the panels, owns the capture and inference threads."""

from __future__ import annotations

import os
import time

import cv2
from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QMainWindow, QMessageBox, QScrollArea,
                               QVBoxLayout, QWidget)

from humanmatting_gui.compositing import parse_background
from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.latest import LatestSlot
from humanmatting_gui.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, open_source
from humanmatting_gui.stream import StreamRequest
from humanmatting_gui.ui import settings as stored
from humanmatting_gui.ui.background_panel import BackgroundPanel
from humanmatting_gui.ui.capture import CaptureThread
from humanmatting_gui.ui.cutout_dialog import CutoutDialog, CutoutThread
from humanmatting_gui.ui.export_dialog import ExportDialog
from humanmatting_gui.ui.look_panel import LookPanel
from humanmatting_gui.ui.mask_panel import MaskPanel
from humanmatting_gui.ui.message_bar import MessageBar
from humanmatting_gui.ui.readout_plots import ReadoutPlots
from humanmatting_gui.ui.source_panel import SourcePanel
from humanmatting_gui.ui.video_view import VideoView
from humanmatting_gui.ui.worker import InferenceWorker

SHORTCUTS = (("Space", "Pause / resume"), ("M", "Switch RGB / grey model"), ("B", "Next background"),
             ("F", "Full screen"), ("Ctrl+S", "Snapshot of the composited frame"),
             ("Ctrl+O", "Open video"), ("Ctrl+E", "Export video"), ("Ctrl+Q", "Quit"))


class MainWindow(QMainWindow):
    """``frame_shown(result, shown_at)`` fires after each frame is painted (for read-outs,
    the headless run and tests)."""

    frame_shown = Signal(object, float)
    source_stopped = Signal(str, bool)  # (message, failed): the source failed or ended
    cutout_shown = Signal(object)  # a dropped image's CutoutDialog, once it is ready

    def __init__(self, remember: bool = True):
        super().__init__()
        self.setWindowTitle("humanmatting")
        self.setAcceptDrops(True)
        self.remember = remember
        self.source_spec = ""
        self.capture = None
        self.last_result = None
        self._unpainted = None
        self.paused = False
        self.dialogs = []
        self.jobs = []
        self.slot = LatestSlot(depth=2)  # one late frame caught up, not lost
        saved = stored.load() if remember else stored.Defaults()
        self.view = VideoView()
        self.view.painted.connect(self._painted)
        self.message = MessageBar()
        self.source_panel = SourcePanel()
        self.background_panel = BackgroundPanel()
        self.mask_panel = MaskPanel(saved.settings)
        self.look_panel = LookPanel(saved.look)
        self.plots = ReadoutPlots()
        self.virtualcam = QCheckBox("Send to virtual camera")
        self._layout()
        self._build_actions()
        self.background_panel.set_background(saved.background)
        self.mask_panel.set_model(saved.model)
        self.worker = InferenceWorker(self.slot, self.current_request())
        self.worker.result.connect(self.show_result)
        self.worker.rejected.connect(self._request_rejected)
        self.worker.sink_failed.connect(self._sink_failed)
        self.worker.errored.connect(self.message.show_message)
        self.worker.start()
        self.source_panel.source_chosen.connect(self.open_source)
        self.background_panel.background_changed.connect(self._request_changed)
        self.mask_panel.changed.connect(self._request_changed)
        self.look_panel.changed.connect(self._request_changed)
        self.mask_panel.mirror.toggled.connect(self._set_mirror)
        self.virtualcam.toggled.connect(self._set_virtualcam)
        self.last_saved_source = saved.source
        if saved.geometry is not None:
            self.restoreGeometry(saved.geometry)
        else:
            self.resize(1200, 760)
        self._show_status()

    def _layout(self) -> None:
        side = QWidget()
        column = QVBoxLayout(side)
        for widget in (self.source_panel, self.background_panel, self.mask_panel, self.look_panel,
                       self.virtualcam):
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFixedWidth(360)
        left = QWidget()
        stack = QVBoxLayout(left)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(self.message)
        stack.addWidget(self.view, 1)
        stack.addWidget(self.plots)
        central = QWidget()
        row = QHBoxLayout(central)
        row.addWidget(left, 1)
        row.addWidget(scroll)
        self.setCentralWidget(central)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work in full screen too, with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open video…", self.source_panel.choose_video, "Ctrl+O")
        self._action(file_menu, "Open images…", self.source_panel.choose_images)
        self._action(file_menu, "Export video…", self.open_export_dialog, "Ctrl+E")
        self._action(file_menu, "Snapshot", self.snapshot, "Ctrl+S")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, "Ctrl+Q")
        view = bar.addMenu("&View")
        self.pause_action = self._action(view, "Pause", self.toggle_pause, "Space")
        self._action(view, "Switch model (RGB / grey)", self.mask_panel.toggle_model, "M")
        self._action(view, "Next background", self.background_panel.cycle, "B")
        self._action(view, "Full screen", self.toggle_full_screen, "F")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self.show_shortcuts)

    def current_request(self) -> StreamRequest:
        return StreamRequest(self.mask_panel.model, self.mask_panel.settings(),
                             self.background_panel.background, self.look_panel.look())

    def _request_changed(self, *_args) -> None:
        self.worker.request = self.current_request()
        self._show_status()

    def _request_rejected(self, message: str, rejected: StreamRequest, in_force: StreamRequest) -> None:
        self.message.show_message(message)
        if rejected != self.worker.request:
            return  # the user has asked for something else meanwhile: that stands
        self.mask_panel.set_model(in_force.model)
        self.background_panel.set_background(in_force.background)
        self.look_panel.set_look(in_force.look)
        self.worker.request = in_force
        self._show_status()

    def _set_mirror(self, on: bool) -> None:
        self.view.mirrored = on
        self.view.update()

    def _set_virtualcam(self, on: bool) -> None:
        from humanmatting_gui.virtualcam import VirtualCamera

        self.worker.sink = VirtualCamera(self.capture.source.fps if self.capture else 30.0) if on else None

    def _sink_failed(self, message: str) -> None:
        self.message.show_message(message)
        self.virtualcam.blockSignals(True)
        self.virtualcam.setChecked(False)
        self.virtualcam.blockSignals(False)

    def open_source(self, spec: str, paced: bool = True) -> bool:
        """Stop the current source and start ``spec``; on failure say why and keep running."""
        self.stop_source()
        try:
            source = open_source(spec, loop=self.source_panel.loop.isChecked())
        except HumanMattingError as exc:
            self.message.show_message(f"Cannot open {spec}: {exc}")
            self.view.clear("No source")
            return False
        self.message.hide()
        self.source_spec = spec
        self.plots.clear()
        self.worker.reset_stream()
        self.capture = CaptureThread(source, self.slot, paced, self.worker.ready)
        self.capture.failed.connect(self._source_failed)
        self.capture.ended.connect(self._source_ended)
        self.capture.start()
        self._show_status()
        return True

    def stop_source(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture = None
        self.slot.clear()

    def _source_failed(self, message: str) -> None:
        self.message.show_message(message)
        self.view.clear("The source stopped: choose another one")
        self.source_stopped.emit(message, True)

    def _source_ended(self) -> None:
        message = f"{os.path.basename(self.source_spec)} has ended"
        self.message.show_message(message)
        self.source_stopped.emit(message, False)

    def show_result(self, result) -> None:
        if self.paused:
            return
        self.last_result = self._unpainted = result
        self.view.show_frame(result.output)

    def _painted(self, shown_at: float) -> None:
        """A frame reached the screen: read-outs count it now, not when it was handed over
        (results that came faster than paints were never seen, and are not counted)."""
        result, self._unpainted = self._unpainted, None
        if result is None:
            return
        self.plots.add_frame(shown_at, (shown_at - result.captured) * 1000, result.iou, result.iou_kind)
        self.frame_shown.emit(result, shown_at)

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.capture is not None:
            self.capture.set_paused(self.paused)
        self.pause_action.setText("Resume" if self.paused else "Pause")
        self._show_status()

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()
        self.menuBar().setVisible(not self.isFullScreen())

    def snapshot(self, path: str | None = None) -> str | None:
        """Save the current composited frame (PNG, with alpha when transparent)."""
        if self.last_result is None:
            self.message.show_message("Nothing to save yet: start a source first")
            return None
        if path is None:
            folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, time.strftime("humanmatting-%Y%m%d-%H%M%S.png"))
        if not cv2.imwrite(path, self.last_result.output):
            self.message.show_message(f"Could not write {path}")
            return None
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return path

    def open_export_dialog(self) -> ExportDialog:
        source = self.source_spec if os.path.isfile(self.source_spec) else ""
        dialog = ExportDialog(source, self.current_request(), self)
        self._keep(dialog)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> None:
        text = "\n".join(f"{keys}\t{what}" for keys, what in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", text)

    def _show_status(self) -> None:
        b = self.background_panel.background
        state = "paused" if self.paused else (os.path.basename(self.source_spec) or "no source")
        chosen = self.mask_panel.model
        model = {"rgb": "RGB model", "gray": "grey model"}.get(chosen, f"model {os.path.basename(chosen)}")
        self.statusBar().showMessage(f"{state} · {model} · background: {b.spec()}")

    def open_path(self, path: str) -> None:
        """What a drop does: an image is cut out, a video becomes the source."""
        ext = os.path.splitext(path)[1].lower()
        if ext in IMAGE_EXTENSIONS:
            self.cut_out(path)
        elif ext in VIDEO_EXTENSIONS:
            self.open_source(path)
        else:
            self.message.show_message(f"Cannot use {os.path.basename(path)}: drop an image or a video")

    def cut_out(self, path: str) -> CutoutThread:
        """Cut ``path`` out off the GUI thread; a dialog shows it when done (``cutout_shown``),
        a failure is a message."""
        job = CutoutThread(path, self.current_request(), self)
        job.done.connect(self._show_cutout)
        job.errored.connect(self.message.show_message)
        job.finished.connect(lambda: self.jobs.remove(job) if job in self.jobs else None)
        job.finished.connect(job.deleteLater)
        self.jobs.append(job)
        self.statusBar().showMessage(f"Cutting out {os.path.basename(path)}…")
        job.start()
        return job

    def _show_cutout(self, made) -> None:
        dialog = CutoutDialog(made, self)
        self._keep(dialog)
        dialog.show()
        self.cutout_shown.emit(dialog)
        self._show_status()

    def _keep(self, dialog) -> None:
        """Hold an open dialog; it is let go (and freed) when it closes."""
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda: self.dialogs.remove(dialog) if dialog in self.dialogs else None)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            self.message.show_message("Only files can be dropped here")
            return
        event.acceptProposedAction()
        self.open_path(urls[0])

    def apply_background_spec(self, spec: str) -> bool:
        try:
            background = parse_background(spec)
        except HumanMattingError as exc:
            self.message.show_message(str(exc))
            return False
        self.background_panel.set_background(background)
        self._request_changed()
        return True

    def closeEvent(self, event) -> None:
        if self.remember:
            stored.save(stored.Defaults(self.mask_panel.model, self.mask_panel.settings(),
                                        self.background_panel.background, self.source_spec,
                                        self.saveGeometry(), self.look_panel.look()))
        for dialog in list(self.dialogs):
            dialog.close()
        for job in list(self.jobs):
            job.cancelled.set()
            job.wait()
        self.stop_source()
        self.worker.stop()
        super().closeEvent(event)

