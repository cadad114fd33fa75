"""A one-slot queue where the newest item wins: the link between capture and inference."""

from __future__ import annotations

import threading


class LatestSlot:
    """``put()`` replaces an item not yet taken (counted in ``dropped``), so a slow consumer
    always gets the newest item and latency never builds up; ``get()`` waits for one."""

    def __init__(self):
        self._item = None
        self._full = False
        self._closed = False
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item) -> None:
        with self._cond:
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify()

    def get(self, timeout: float | None = None):
        """The newest item, or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def clear(self) -> None:
        with self._cond:
            self._item, self._full = None, False

    def close(self) -> None:
        """Wake every waiting ``get()``; later ones return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
