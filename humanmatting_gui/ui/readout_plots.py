"""Live read-outs: FPS, latency and IoU over the last minute, in pyqtgraph plots."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

WINDOW_S = 60.0
CAPACITY = 4096  # samples kept per series: a minute at up to ~68 fps


class Series:
    """A ring buffer of (time, value) samples."""

    def __init__(self, capacity: int = CAPACITY):
        self.t = np.zeros(capacity)
        self.v = np.zeros(capacity)
        self.count = 0

    def add(self, t: float, value: float) -> None:
        k = self.count % len(self.t)
        self.t[k], self.v[k] = t, value
        self.count += 1

    def recent(self, now: float, window: float = WINDOW_S) -> tuple[np.ndarray, np.ndarray]:
        n = min(self.count, len(self.t))
        order = np.arange(self.count - n, self.count) % len(self.t)
        t, v = self.t[order], self.v[order]
        keep = t >= now - window
        return t[keep] - now, v[keep]


class ReadoutPlots(QWidget):
    """Three scrolling plots fed by ``add_frame``; redrawn at 10 Hz from a timer, never per frame."""

    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background=(30, 30, 30), foreground=(200, 200, 200))
        self.fps, self.latency, self.iou = Series(), Series(), Series()
        self._shown = []
        self.iou_kind = "stability"
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("—")
        column.addWidget(self.summary)
        layout = QHBoxLayout()
        column.addLayout(layout)
        self.plots, self.curves = {}, {}
        for key, title, unit, colour in (("fps", "Frames shown / s", "fps", "#6cc644"),
                                         ("latency", "Capture → display", "ms", "#4aa3df"),
                                         ("iou", "Stability", "IoU", "#e0a030")):
            plot = pg.PlotWidget(title=title)
            plot.setMinimumSize(120, 120)
            plot.setMaximumHeight(170)
            plot.setXRange(-WINDOW_S, 0)
            plot.setLabel("bottom", "s")
            plot.setLabel("left", unit)
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            self.curves[key] = plot.plot(pen=pg.mkPen(colour, width=2))
            self.plots[key] = plot
            layout.addWidget(plot)
        self.plots["iou"].setYRange(0, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def add_frame(self, shown_at: float, latency_ms: float, iou: float, iou_kind: str) -> None:
        self._shown.append(shown_at)
        while self._shown and self._shown[0] < shown_at - 1.0:
            self._shown.pop(0)
        self.fps.add(shown_at, len(self._shown))
        self.latency.add(shown_at, latency_ms)
        self.iou.add(shown_at, iou)
        if iou_kind != self.iou_kind:
            self.iou_kind = iou_kind
            self.plots["iou"].setTitle("IoU vs ground truth" if iou_kind == "truth" else "Stability")

    def refresh(self) -> None:
        now = time.perf_counter()
        for key, series in (("fps", self.fps), ("latency", self.latency), ("iou", self.iou)):
            t, v = series.recent(now)
            self.curves[key].setData(t, v)
        _, fps = self.fps.recent(now, 1.0)
        _, latency = self.latency.recent(now, 1.0)
        _, iou = self.iou.recent(now, 1.0)
        if len(fps):
            label = "IoU vs ground truth" if self.iou_kind == "truth" else \
                "stability (mask IoU with the last frame)"
            self.summary.setText(f"{fps[-1]:.0f} fps · {np.median(latency):.0f} ms · "
                                 f"{label} {np.mean(iou):.3f}")

    def clear(self) -> None:
        self.fps, self.latency, self.iou = Series(), Series(), Series()
        self._shown = []
        self.summary.setText("—")
