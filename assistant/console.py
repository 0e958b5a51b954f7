"""Text mode: the coach's words printed to a terminal, the user's words typed on stdin."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TextIO

_LOGGER = logging.getLogger(__name__)


class ConsoleSpeaker:
    """A Speaker that prints each sentence on its own line."""

    def __init__(self, stream: TextIO, prefix: str = "coach: ") -> None:
        self._stream = stream
        self._prefix = prefix
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        """Print ``text`` at once."""
        with self._lock:
            self._stream.write(f"{self._prefix}{text}\n")
            self._stream.flush()

    def stop(self) -> None:
        """Nothing to cut off: printed lines are complete."""


class LineReader:
    """Reads lines on a daemon thread and hands each to ``post`` (the loop's queue)."""

    def __init__(
        self,
        stream: TextIO,
        on_line: Callable[[str], None],
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._stream = stream
        self._on_line = on_line
        self._on_end = on_end
        self._thread = threading.Thread(target=self._read, name="console-input", daemon=True)

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._stream:
                text = line.strip()
                if text:
                    self._on_line(text)
        except (OSError, ValueError):
            _LOGGER.exception("Console input failed")
        if self._on_end is not None:
            self._on_end()
