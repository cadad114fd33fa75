"""The inference worker: takes the newest frame, runs the engine, emits the result."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread, Signal

from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.latest import LatestSlot
from humanmatting_gui.live import LiveProcessor, LiveRequest


class InferenceWorker(QThread):
    """Processes frames from ``slot`` with the current LiveRequest. A request whose model or
    background cannot be loaded is rejected: ``rejected(message, request still in force)``."""

    result = Signal(object)
    rejected = Signal(str, object)
    sink_failed = Signal(str)

    def __init__(self, slot: LatestSlot, request: LiveRequest, threads: int | None = None, parent=None):
        super().__init__(parent)
        self.slot = slot
        self._request = request
        self._good = None
        self._threads = threads
        self._stop = threading.Event()
        self._reset = threading.Event()
        self._sink = None
        self._active_sink = None  # the sink the worker thread has open; only it touches it
        self.processed = 0

    @property
    def request(self) -> LiveRequest:
        return self._request

    def set_request(self, request: LiveRequest) -> None:
        """Hand over a new request whole; the next frame uses it."""
        self._request = request

    def set_sink(self, sink) -> None:
        """Also send each composite to ``sink`` (a VirtualCamera), or to nothing (None)."""
        self._sink = sink

    def reset_stream(self) -> None:
        """The source changed: drop temporal history before the next frame."""
        self._reset.set()

    def run(self) -> None:
        processor = LiveProcessor(self._threads)
        try:
            while not self._stop.is_set():
                frame = self.slot.get(timeout=0.1)
                if frame is None:
                    continue
                if self._reset.is_set():
                    self._reset.clear()
                    processor.reset()
                request = self._request
                try:
                    result = processor.process(frame, request)
                except HumanMattingError as exc:
                    fallback = self._good or LiveRequest()
                    self._request = fallback
                    self.rejected.emit(str(exc), fallback)
                    continue
                self._good = request
                self.processed += 1
                self.result.emit(result)
                self._send(result)
        finally:
            processor.close()
            if self._active_sink is not None:
                self._active_sink.close()

    def _send(self, result) -> None:
        sink = self._sink
        if self._active_sink is not None and self._active_sink is not sink:
            self._active_sink.close()
        self._active_sink = sink
        if sink is None:
            return
        try:
            sink.send(result.output)
        except HumanMattingError as exc:
            self._sink = self._active_sink = None
            sink.close()
            self.sink_failed.emit(str(exc))

    def stop(self) -> None:
        self._stop.set()
        self.slot.close()
        self.wait()
        self.slot.reopen()
