"""Starting the window: ``humanmatting gui``, and its headless run for docs and checks."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from humanmatting_gui.look import Look
from humanmatting_gui.ui.main_window import MainWindow


class RunRecorder:
    """Counts shown frames for ``--frames N``, then saves the screenshot and prints the figures.

    Also measures how long the GUI thread was ever kept from its event loop: a 10 ms timer
    that notes the longest gap between its ticks, once the stream runs (from the 5th frame
    on: start-up, window creation and first paint are not a stall of the running app).
    """

    def __init__(self, window: MainWindow, frames: int, screenshot: str | None):
        self.window, self.frames, self.screenshot = window, frames, screenshot
        self.error = None
        self.shown, self.latency, self.iou = [], [], []
        self.kind = "stability"
        self.longest_stall = 0.0
        self._tick = time.perf_counter()
        self.heartbeat = QTimer(window)
        self.heartbeat.setInterval(10)
        self.heartbeat.timeout.connect(self._beat)
        self.heartbeat.start()
        window.frame_shown.connect(self._frame)
        window.source_stopped.connect(self._stopped)

    def _stopped(self, message: str, failed: bool) -> None:
        """The source failed or ended before N frames were shown: end the run all the same."""
        if len(self.shown) < self.frames:
            self.error = message if failed else None
            QTimer.singleShot(0, self.finish)

    def _beat(self) -> None:
        now = time.perf_counter()
        if len(self.shown) >= 5:
            self.longest_stall = max(self.longest_stall, now - self._tick - 0.010)
        self._tick = now

    def _frame(self, result, shown_at: float) -> None:
        if len(self.shown) >= self.frames:
            return
        self.shown.append(shown_at)
        self.latency.append((shown_at - result.captured) * 1000)
        self.iou.append(result.iou)
        self.kind = result.iou_kind
        if len(self.shown) == self.frames:
            QTimer.singleShot(0, self.finish)

    def figures(self) -> dict:
        gaps = np.diff(self.shown)
        # the first frames include start-up; figures are over the rest
        steady = gaps[len(gaps) // 5:] if len(gaps) > 5 else gaps
        return {"frames": len(self.shown),
                "fps_median": round(float(1.0 / np.median(steady)), 1) if len(steady) else 0.0,
                "latency_median_ms": round(float(np.median(self.latency)), 1),
                "iou_mean" if self.kind == "truth" else "stability_mean": round(float(np.mean(self.iou)), 4),
                "dropped_frames": self.window.slot.dropped,
                "gui_longest_stall_ms": round(self.longest_stall * 1000, 1),
                "screenshot": self.screenshot}

    def finish(self) -> None:
        if self.error is not None:
            print(f"humanmatting: error: {self.error}", file=sys.stderr)
            self.window.close()
            return
        self.window.plots.refresh()
        if self.screenshot:
            self.window.grab().save(self.screenshot)
        print(json.dumps(self.figures()), flush=True)
        self.window.close()


def run(source=None, background=None, model=None, frames=None, screenshot=None, paced=True,
        look=None) -> int:
    """Start the window (optionally on ``source``). With ``frames``: the headless run.
    ``look``: a Look to start with (none or the default: the remembered one)."""
    if frames is not None and not source:
        print("humanmatting: error: --frames needs --source", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("humanmatting")
    app.setApplicationName("humanmatting")
    window = MainWindow(remember=frames is None)
    if model:
        window.mask_panel.set_model(model)
        window._request_changed()
    if look is not None and look != Look():
        window.look_panel.set_look(look)
        window._request_changed()
    if background and not window.apply_background_spec(background) and frames is not None:
        print(f"humanmatting: error: {window.message.label.text()}", file=sys.stderr)
        window.close()
        return 2
    recorder = RunRecorder(window, frames, screenshot) if frames else None
    window.show()
    # a source asked for is always tried (and a failure shown); the one remembered from the
    # last run only if it is still there
    start = source or window.last_saved_source
    if source or (start and (start.isdigit() or os.path.exists(start))):
        if not window.open_source(start, paced) and recorder is not None:
            print(f"humanmatting: error: {window.message.label.text()}", file=sys.stderr)
            window.close()
            return 1
    app.exec()
    return 1 if recorder is not None and recorder.error is not None else 0
