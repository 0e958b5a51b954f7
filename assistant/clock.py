"""Session time and the one loop that runs callbacks: a real one and a manual one for tests."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_LOGGER = logging.getLogger(__name__)


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class TimerQueue:
    """Callbacks ordered by due time; ties run in the order they were scheduled."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    def add(self, due: float, callback: Callable[[], None]) -> _Entry:
        """Schedule ``callback`` at session time ``due``."""
        entry = _Entry(due, next(self._seq), callback)
        heapq.heappush(self._heap, entry)
        return entry

    def next_due(self) -> float | None:
        """When the earliest live timer is due, or None."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: float) -> _Entry | None:
        """The earliest live timer due at or before ``now``, removed from the queue."""
        due = self.next_due()
        if due is None or due > now:
            return None
        return heapq.heappop(self._heap)

    def __len__(self) -> int:
        return sum(1 for entry in self._heap if not entry.cancelled)


class ManualClock:
    """A clock that moves only when told to; runs due callbacks in order as it moves."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers = TimerQueue()

    def now(self) -> float:
        """Session seconds."""
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Entry:
        """Run ``callback`` once the clock has been advanced by ``delay``."""
        return self._timers.add(self._now + max(0.0, delay), callback)

    def advance(self, seconds: float) -> None:
        """Move time forward, running every callback due on the way at its own time."""
        end = self._now + seconds
        while (entry := self._timers.pop_due(end)) is not None:
            self._now = max(self._now, entry.due)
            entry.callback()
        self._now = end

    def next_due(self) -> float | None:
        """When the next callback is due, or None if nothing is scheduled."""
        return self._timers.next_due()

    def run_until(self, done: Callable[[], bool], limit: float = 24 * 3600.0) -> None:
        """Jump from timer to timer until ``done()`` or nothing is left or ``limit`` passes."""
        end = self._now + limit
        while not done():
            due = self._timers.next_due()
            if due is None or due > end:
                return
            self.advance(due - self._now)


class EventLoop:
    """The one thread that runs the session: timers and events posted from other threads.

    Session time runs ``1 / time_scale`` times as fast as the monotonic clock, so
    ``time_scale=0.01`` makes a 30-second rest pass in 0.3 s.
    """

    def __init__(
        self, time_scale: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self._scale = time_scale
        self._monotonic = monotonic
        self._origin = monotonic()
        self._timers = TimerQueue()
        self._events: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stopping = threading.Event()

    def now(self) -> float:
        """Session seconds since the loop was made."""
        return (self._monotonic() - self._origin) / self._scale

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Entry:
        """Run ``callback`` on the loop after ``delay`` session seconds (loop thread only)."""
        return self._timers.add(self.now() + max(0.0, delay), callback)

    def post(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop soon; safe from any thread."""
        self._events.put(callback)

    def stop(self) -> None:
        """Make ``run`` return; safe from any thread."""
        self._stopping.set()
        self._events.put(lambda: None)

    def run(self, done: Callable[[], bool]) -> None:
        """Run events and timers until ``done()`` is true or ``stop()`` is called."""
        while not done() and not self._stopping.is_set():
            while (entry := self._timers.pop_due(self.now())) is not None:
                entry.callback()
                if done():
                    return
            due = self._timers.next_due()
            wait = None if due is None else max(0.0, (due - self.now()) * self._scale)
            try:
                event = self._events.get(timeout=wait)
            except queue.Empty:
                continue
            event()
