"""The listening thread: microphone to echo guard to recognizer, commands posted to the loop."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from assistant.errors import CoachError
from assistant.ports import SAMPLE_RATE, Heard, HearsOverTheCoach, Recognizer

_LOGGER = logging.getLogger(__name__)

FAILURES_BEFORE_REPORT = 3
"""Chunks in a row the recognizer may fail on before the session hears of it (and pauses)."""


class AudioSource(Protocol):
    """Where microphone audio comes from (mic.Microphone, mic.FileSource)."""

    def start(self) -> None:
        """Open the device; raises a CoachError if there is none."""

    def read(self, timeout: float = 0.5) -> bytes | None:
        """The next chunk, None if none yet; raises a CoachError if the device went away."""

    def close(self) -> None:
        """Release the device."""


class EchoGuard(Protocol):
    """Keeps the coach from acting on its own voice (echo.py)."""

    def process(self, pcm: bytes, captured_at: float) -> bytes:
        """Remove the coach's own playback from a microphone chunk captured at ``captured_at``."""

    def is_own_speech(self, heard: Heard, spoken_at: tuple[float, float]) -> bool:
        """True if ``heard`` is the coach's own words, spoken over ``spoken_at`` (monotonic)."""

    def coach_alone(self, spoken_at: tuple[float, float]) -> bool:
        """True if what was heard over ``spoken_at`` (monotonic times) may be the coach's own
        voice: it was playing then, and little other speech was seen in it."""


class Listener:
    """Reads audio on its own thread and posts each command heard to the loop.

    A microphone that fails is reported once through ``on_lost``; the listener keeps trying
    to open one every ``retry_seconds`` and reports ``on_back`` when audio flows again. A
    recognizer that raises on ``FAILURES_BEFORE_REPORT`` chunks in a row is reported through
    ``on_failed("recognizer")``, and ``on_recovered("recognizer")`` once it hears a chunk again.
    """

    def __init__(
        self,
        open_source: Callable[[], AudioSource],
        recognizer: Recognizer,
        post: Callable[[Callable[[], None]], None],
        on_heard: Callable[[Heard], None],
        on_lost: Callable[[], None],
        on_back: Callable[[], None],
        on_failed: Callable[[str], None],
        echo: EchoGuard | None = None,
        retry_seconds: float = 2.0,
        on_recovered: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_source = open_source
        self._recognizer = recognizer
        self._post = post
        self._on_heard = on_heard
        self._on_lost = on_lost
        self._on_back = on_back
        self._on_failed = on_failed
        self._on_recovered = on_recovered
        self._echo = echo
        self._retry = retry_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="listener", daemon=True)
        self._fed_seconds = 0.0
        self._anchor: tuple[float, float] | None = None
        """(audio seconds fed, monotonic time) at the last chunk: maps audio time to time."""
        self.heard: list[Heard] = []
        """The latest commands heard and acted on (up to ``KEEP_HEARD``), for logs and tests."""
        self.ignored: list[Heard] = []
        """The latest commands dropped as the coach's own voice."""
        if echo is not None and isinstance(recognizer, HearsOverTheCoach):
            recognizer.when_coach_talks(self._coach_alone)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        source: AudioSource | None = None
        lost = False
        failures = 0
        while not self._stop.is_set():
            if source is None:
                try:
                    source = self._open_source()
                    source.start()
                except CoachError as err:
                    source = None
                    if not lost:
                        _LOGGER.warning("No microphone: %s", err)
                        lost = True
                        self._post(self._on_lost)
                    self._stop.wait(self._retry)
                    continue
                if lost:
                    lost = False
                    self._post(self._on_back)
            try:
                chunk = source.read(0.5)
            except CoachError as err:
                _LOGGER.warning("Microphone lost: %s", err)
                source.close()
                source = None
                if not lost:
                    lost = True
                    self._post(self._on_lost)
                continue
            if chunk is None:
                continue
            try:
                self._hear(chunk)
            except Exception:
                failures += 1
                if failures <= FAILURES_BEFORE_REPORT:  # not ten tracebacks a second
                    _LOGGER.exception("The recognizer failed on a chunk")
                with contextlib.suppress(Exception):
                    self._recognizer.reset()
                if failures == FAILURES_BEFORE_REPORT:
                    self._post(lambda: self._on_failed("recognizer"))
                continue
            if failures >= FAILURES_BEFORE_REPORT and self._on_recovered is not None:
                _LOGGER.warning("The recognizer works again")
                self._post(functools.partial(self._on_recovered, "recognizer"))
            failures = 0
        if source is not None:
            source.close()
        self._stop.set()

    def _hear(self, chunk: bytes) -> None:
        now = self._clock()
        if self._echo is not None:
            chunk = self._echo.process(chunk, now - len(chunk) / 2 / SAMPLE_RATE)
        self._fed_seconds += len(chunk) / 2 / SAMPLE_RATE
        self._anchor = (self._fed_seconds, now)
        for heard in self._recognizer.accept(chunk):
            self._deliver(heard)

    def _spoken_at(self, start: float, end: float) -> tuple[float, float]:
        """Monotonic times of audio seconds ``start`` to ``end`` fed to the recognizer."""
        fed, at = self._anchor or (0.0, self._clock())
        return at - (fed - start), at - (fed - end)

    def _coach_alone(self, start: float, end: float) -> bool:
        """Called by the recognizer, on this thread, during ``accept``."""
        return self._echo is not None and self._echo.coach_alone(self._spoken_at(start, end))

    def _deliver(self, heard: Heard) -> None:
        spoken_at = self._spoken_at(heard.start, heard.end)
        if self._echo is not None and self._echo.is_own_speech(heard, spoken_at):
            _LOGGER.info("Ignored my own words: %r", heard.text)
            _keep_latest(self.ignored, heard)
            return
        _LOGGER.info("Heard %r -> %s", heard.text, heard.command)
        _keep_latest(self.heard, heard)
        self._post(lambda: self._on_heard(heard))


KEEP_HEARD = 500
"""Commands a listener remembers: a kiosk listens for weeks."""


def _keep_latest(kept: list[Heard], heard: Heard) -> None:
    kept.append(heard)
    if len(kept) > KEEP_HEARD:
        del kept[: len(kept) - KEEP_HEARD]
