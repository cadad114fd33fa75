"""The capture thread: reads a frame source and puts every frame into the latest-frame slot."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread, Signal

from humanmatting_gui.errors import SourceError
from humanmatting_gui.latest import LatestSlot


class CaptureThread(QThread):
    """Owns one source from start to ``stop()``; a realtime source (a video, an image folder)
    is paced at its frame rate unless ``paced`` is False. With ``ready`` (an Event), the first
    frame is read once it is set: the worker's model is loaded, so no frame waits on it."""

    failed = Signal(str)
    ended = Signal()

    def __init__(self, source, slot: LatestSlot, paced: bool = True, ready=None, parent=None):
        super().__init__(parent)
        self.source, self.slot, self.paced, self.ready = source, slot, paced, ready
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def set_paused(self, paused: bool) -> None:
        (self._running.clear if paused else self._running.set)()

    def run(self) -> None:
        while self.ready is not None and not self.ready.wait(0.1) and not self._stop.is_set():
            pass
        period = 1.0 / self.source.fps if self.source.fps else 0.0
        next_due = time.perf_counter()
        try:
            while not self._stop.is_set():
                if not self._running.is_set():
                    self._running.wait(0.1)
                    next_due = time.perf_counter()
                    continue
                frame = self.source.read()
                if frame is None:
                    self.ended.emit()
                    return
                self.slot.put(frame)
                if self.paced and self.source.realtime and period:
                    next_due += period
                    self._stop.wait(max(0.0, next_due - time.perf_counter()))
        except SourceError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - the thread's boundary: say it, never die mute
            self.failed.emit(f"{self.source.name} failed: {exc}")
        finally:
            self.source.close()

    def stop(self) -> None:
        """Stop reading and wait for the thread to end (the source is closed by then)."""
        self._stop.set()
        self._running.set()
        self.wait()
