"""A small queue where the newest items win: the link between capture and inference."""

from __future__ import annotations

import collections
import threading


class LatestSlot:
    """Holds at most ``depth`` items not yet taken; ``put()`` beyond that lets the oldest go
    (counted in ``dropped``), so a slow consumer gets recent items and latency never builds
    up past ``depth`` frames. ``get()`` takes the oldest held, waiting for one.

    ``depth=1``: only the newest. ``depth=2`` (the live view): a worker late by one frame now
    and then (a busy machine) catches up instead of losing the frame, for at most one frame
    of extra latency while it is late."""

    def __init__(self, depth: int = 1):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._items: collections.deque = collections.deque()
        self._depth = depth
        self._closed = False
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item) -> None:
        with self._cond:
            if len(self._items) == self._depth:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None):
        """The oldest item held, or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def close(self) -> None:
        """Wake every waiting ``get()``; later ones return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
