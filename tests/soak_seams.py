"""The seams a soak drives: simulated time, a microphone, a recognizer, history and voice.

Each is the real thing or the real thing's contract, with faults that can be switched on:
see soak_harness.py.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

from assistant.clock import EventLoop, ManualClock, _Entry
from assistant.errors import CoachError, HistoryError
from assistant.history import History
from assistant.ports import Heard, Recognizer

SESSION_LIMIT = 6 * 3600.0
"""Session seconds after which a session counts as stuck."""


class SimLoop(EventLoop):
    """The event loop on simulated time: timers run at once in order; posts run between them."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = ManualClock()
        self._posted: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition()
        self.posts = 0
        """Everything ever posted, so a caller can wait for a report from another thread."""
        self.stuck_at: float | None = None
        """Session time at which ``run`` found nothing left to do (a real loop would hang)."""

    def now(self) -> float:
        return self._clock.now()

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Entry:
        return self._clock.call_later(delay, callback)

    def post(self, callback: Callable[[], None]) -> None:
        with self._cond:
            self._posted.append(callback)
            self.posts += 1
            self._cond.notify_all()

    def wait_posts(self, count: int, timeout: float = 10.0) -> None:
        """Block (the loop) until ``count`` posts in all have arrived from other threads."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.posts >= count, timeout):
                raise SoakError(f"no report from the listener within {timeout} s")

    def run(self, done: Callable[[], bool]) -> None:
        while not done():
            while True:
                with self._cond:
                    if not self._posted:
                        break
                    event = self._posted.popleft()
                event()
                if done():
                    return
            due = self._clock.next_due()
            if due is None or due > SESSION_LIMIT:
                self.stuck_at = self.now()
                raise SoakError(f"stuck at {self.now():.0f} s: nothing left to run")
            self._clock.advance(due - self._clock.now())


class SoakError(RuntimeError):
    """The soak itself went wrong (a stuck session, a listener that never answered)."""


class SoakMic:
    """A microphone the soak controls: the simulated user's audio, unplugged and back at will."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._busy = False
        self.plugged = True
        self.closing = False

    def start(self) -> None:
        with self._cond:
            if not self.plugged:
                raise CoachError("soak: no microphone plugged in")

    def read(self, timeout: float = 0.5) -> bytes | None:
        with self._cond:
            self._busy = False  # the chunk handed out last has been heard
            self._cond.notify_all()
            ready = self._cond.wait_for(
                lambda: self._chunks or not self.plugged or self.closing, timeout
            )
            if self.closing or not ready:
                return None
            if not self.plugged:
                raise CoachError("soak: the microphone was unplugged")
            self._busy = True
            return self._chunks.popleft()

    def close(self) -> None:
        """Nothing to release."""

    def feed(self, audio: Iterator[bytes]) -> bool:
        """Play ``audio`` into the microphone and wait until it is all heard; False if unplugged."""
        with self._cond:
            if not self.plugged:
                return False
            self._chunks.extend(audio)
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: not self._chunks and not self._busy, 30.0):
                raise SoakError("the listener stopped reading the microphone")
            return True

    def set_plugged(self, plugged: bool) -> None:
        with self._cond:
            self.plugged = plugged
            self._cond.notify_all()

    def shut(self) -> None:
        """Let a listener that is stopping return from read at once."""
        with self._cond:
            self.closing = True
            self._cond.notify_all()


class FlakyRecognizer:
    """A real recognizer that raises on the next few chunks when told to (a decoder fault)."""

    def __init__(self, inner: Recognizer) -> None:
        self._inner = inner
        self.name = inner.name
        self.fail_chunks = 0

    def accept(self, pcm: bytes) -> list[Heard]:
        if self.fail_chunks > 0:
            self.fail_chunks -= 1
            raise RuntimeError("soak: the recognizer failed")
        return self._inner.accept(pcm)

    def flush(self) -> list[Heard]:
        return self._inner.flush()

    def reset(self) -> None:
        self._inner.reset()


class FlakyHistory(History):
    """The real SQLite history, whose writes during a session fail while ``full`` (disk full).

    A session's first and last writes (start, outcome) always work, so that every session
    has its row and its outcome to check; what fails is everything in between.
    """

    full = False

    def _check(self) -> None:
        if self.full:
            raise HistoryError(f"history file {self.path} cannot be written: the disk is full")

    def start_set(
        self, session_id: int, exercise_id: str, set_no: int, side: str | None, reps_planned: int
    ) -> int:
        self._check()
        return super().start_set(session_id, exercise_id, set_no, side, reps_planned)

    def rep_done(self, set_id: int, reps_done: int) -> None:
        self._check()
        super().rep_done(set_id, reps_done)

    def end_set(self, set_id: int, reps_done: int, how: str) -> None:
        self._check()
        super().end_set(set_id, reps_done, how)

    def event(self, session_id: int, kind: str, detail: str = "") -> None:
        self._check()
        super().event(session_id, kind, detail)


class SoakVoice:
    """The voice: tells the user what it says; can fail as the real voice adapter fails.

    A sentence that fails is reported through ``on_error`` (the real voice renders and plays
    on its own thread and reports there); ``stop_fails`` makes stop() raise.
    """

    def __init__(self, on_said: Callable[[str], None], on_error: Callable[[], None]) -> None:
        self._on_said = on_said
        self._on_error = on_error
        self.fail_next = False
        self.stop_fails = False

    def say(self, text: str) -> None:
        if self.fail_next:
            self.fail_next = False
            self._on_error()
            return
        self._on_said(text)

    def stop(self) -> None:
        if self.stop_fails:
            raise OSError("soak: the sound device does not answer")
