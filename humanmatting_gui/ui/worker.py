"""The inference worker: takes the newest frame, runs the engine, emits the result."""

from __future__ import annotations

import contextlib
import threading

from PySide6.QtCore import QThread, Signal

from humanmatting_gui.errors import HumanMattingError
from humanmatting_gui.latest import LatestSlot
from humanmatting_gui.live import LiveProcessor
from humanmatting_gui.stream import StreamRequest


class InferenceWorker(QThread):
    """Processes frames from ``slot`` with the current StreamRequest. A request whose model or
    background cannot be loaded is rejected: ``rejected(message, rejected request, request
    still in force)``; the worker goes on with the one in force, and only the window sets a
    new request. Any other error is caught here, at the thread's boundary: a failing frame
    emits ``errored(message)`` (once until a frame succeeds again) and the stream goes on;
    QThread's ``finished`` always fires."""

    result = Signal(object)
    rejected = Signal(str, object, object)
    sink_failed = Signal(str)
    errored = Signal(str)

    def __init__(self, slot: LatestSlot, request: StreamRequest, threads: int | None = None, parent=None):
        super().__init__(parent)
        self.slot = slot
        #: what the window asks for, handed over whole (only it sets this); the next frame uses it
        self.request = request
        self._good = None
        self._rejected = None
        self._threads = threads
        self._stop = threading.Event()
        self._reset = threading.Event()
        #: also send each composite to this sink (a VirtualCamera), or to nothing (None)
        self.sink = None
        self._active_sink = None  # the sink the worker thread has open; only it touches it
        #: set once the model is loaded and warmed up (or failed to): capture waits for it
        self.ready = threading.Event()

    def reset_stream(self) -> None:
        """The source changed: drop temporal history before the next frame."""
        self._reset.set()

    def run(self) -> None:
        processor = LiveProcessor(threads=self._threads)  # nothing loaded yet: it cannot fail
        failing = False
        try:
            # the model ready before the camera's first frame; one that cannot load is met
            # again by the first frame, which reports it as for any request
            with contextlib.suppress(HumanMattingError):
                processor.configure(self.request)
                processor.warm_up()
            self.ready.set()
            while not self._stop.is_set():
                frame = self.slot.get(timeout=0.1)
                if frame is None:
                    continue
                if self._reset.is_set():
                    self._reset.clear()
                    processor.reset()
                request = self.request
                if request is self._rejected:  # until the window answers the rejection
                    request = self._good or StreamRequest()
                try:
                    result = processor.show(frame, request)
                except Exception as exc:  # noqa: BLE001 - the thread's boundary
                    known = isinstance(exc, HumanMattingError)  # a model or background that fails
                    if known and request is not self._good:
                        self._rejected = request
                        self.rejected.emit(str(exc), request, self._good or StreamRequest())
                    elif not failing:  # once; or what worked fails now (a background deleted)
                        self.errored.emit(str(exc) if known else f"Processing failed: {exc}")
                    failing = True
                    continue
                failing = False
                self._good = request
                self.result.emit(result)
                self._send(result)
        except Exception as exc:  # noqa: BLE001 - the thread's boundary
            self.errored.emit(f"The inference worker stopped: {exc}")
        finally:
            self.ready.set()
            processor.close()
            if self._active_sink is not None:
                self._active_sink.close()

    def _send(self, result) -> None:
        sink = self.sink
        if self._active_sink is not None and self._active_sink is not sink:
            self._active_sink.close()
        self._active_sink = sink
        if sink is None:
            return
        try:
            sink.send(result.output)
        except Exception as exc:  # noqa: BLE001 - a device error (v4l2loopback) is the sink's end
            self.sink = self._active_sink = None
            sink.close()
            message = str(exc) if isinstance(exc, HumanMattingError) else \
                f"The virtual camera stopped: {exc}"
            self.sink_failed.emit(message)

    def stop(self) -> None:
        """Stop and wait for the thread (the window's slot stays usable: ``get`` times out)."""
        self._stop.set()
        self.wait()
