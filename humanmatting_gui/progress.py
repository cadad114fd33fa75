"""A one-line progress bar on stderr: count, rate and time left."""

from __future__ import annotations

import sys
import time


class Progress:
    """``update(done, note)`` redraws at most 10 times a second; ``finish()`` ends the line."""

    def __init__(self, total: int, unit: str = "files", stream=None, width: int = 30):
        self.total, self.unit, self.width = max(0, total), unit, width
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._drawn = 0.0
        self.done = 0

    def line(self, note: str = "") -> str:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            filled = int(self.width * min(self.done, self.total) / self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            left = (self.total - self.done) / rate if rate > 0 else 0
            text = f"[{bar}] {self.done}/{self.total} {self.unit} {rate:.1f}/s ETA {left:.0f}s"
        else:
            text = f"{self.done} {self.unit} {rate:.1f}/s"
        return f"{text} {note}".rstrip()

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.perf_counter()
        if now - self._drawn >= 0.1 or done == self.total:
            self._drawn = now
            self.stream.write("\r" + self.line(note)[:120].ljust(120))
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\r" + self.line()[:120].ljust(120) + "\n")
        self.stream.flush()
