"""A running process's output, line by line as it arrives, for tests that wait on it."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterable


class OutputLines:
    """A process's stdout lines, read on a thread, with the monotonic time each arrived."""

    def __init__(self, stream: Iterable[str]) -> None:
        self.lines: list[str] = []
        self.times: list[float] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterable[str]) -> None:
        for line in stream:
            self.times.append(time.monotonic())  # first, so every line read has its time
            self.lines.append(line.rstrip("\n"))

    def wait_for(
        self,
        text: str,
        timeout: float = 60.0,
        *,
        start: int = 0,
        after: float = 0.0,
        count: int = 1,
    ) -> int:
        """Index of the ``count``-th line holding ``text``, from line ``start`` on, that
        arrived at or after the monotonic time ``after``; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = 0
            for index in range(start, len(self.lines)):
                if text in self.lines[index] and self.times[index] >= after:
                    seen += 1
                    if seen == count:
                        return index
            time.sleep(0.02)
        raise AssertionError(f"{text!r} x{count} not printed within {timeout} s: {self.lines[-8:]}")

    def text(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)


def end(process: subprocess.Popen[str]) -> str:
    """Kill ``process`` if it still runs, close its pipes, and return what it wrote on stderr."""
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stdin is not None:
        process.stdin.close()
    stderr = process.stderr.read() if process.stderr is not None else ""
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return stderr
