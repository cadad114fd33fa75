"""Soak: the real window, headless, on a looping clip for a given time; memory and speed over time.

    python benchmarks/soak.py [--minutes 60] [--every 60] [--source CLIP] [--model rgb]

Prints one line per interval: minutes run, resident memory (RSS, MiB), frames shown per
second and the median capture-to-paint latency over that interval; then the RSS at start
(after the first interval, when start-up is done), middle and end, and the growth from start
to end. The clip loops (the window's loop setting), paced at its own frame rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CLIP = os.path.join(ROOT, "..", "shared", "data", "clips", "kite-walk.mp4")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--every", type=float, default=60.0, help="seconds per reported interval")
    p.add_argument("--source", default=CLIP)
    p.add_argument("--model", default="rgb")
    args = p.parse_args(argv)
    if not os.path.exists(args.source):
        print(f"skipped: {args.source} is not present")
        return 0
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from humanmatting_gui.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(remember=False)
    window.mask_panel.set_model(args.model)
    window._request_changed()
    window.source_panel.loop.setChecked(True)
    window.show()
    if not window.open_source(args.source):
        print(f"error: {window.message.text}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    interval = {"shown": [], "latency": []}
    rows = []

    def frame(result, shown_at):
        interval["shown"].append(shown_at)
        interval["latency"].append((shown_at - result.captured) * 1000)

    def report():
        shown, latency = interval["shown"], interval["latency"]
        interval["shown"], interval["latency"] = [], []
        row = {"minutes": round((time.perf_counter() - start) / 60, 2), "rss_mib": round(rss_mib(), 1),
               "fps": round(len(shown) / args.every, 1),
               "latency_median_ms": round(float(np.median(latency)), 1) if latency else None}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if time.perf_counter() - start >= args.minutes * 60:
            window.close()
            app.quit()

    window.frame_shown.connect(frame)
    timer = QTimer()
    timer.timeout.connect(report)
    timer.start(int(args.every * 1000))
    app.exec()
    if len(rows) >= 2:
        first, middle, last = rows[0], rows[len(rows) // 2], rows[-1]
        print(json.dumps({"rss_start_mib": first["rss_mib"], "rss_middle_mib": middle["rss_mib"],
                          "rss_end_mib": last["rss_mib"],
                          "rss_growth_mib": round(last["rss_mib"] - first["rss_mib"], 1),
                          "fps_median": float(np.median([r["fps"] for r in rows])),
                          "latency_median_ms": float(np.median([r["latency_median_ms"] for r in rows
                                                                if r["latency_median_ms"] is not None]))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
