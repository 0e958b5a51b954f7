"""The large-print screen: a page on 127.0.0.1 that shows what the session is doing, live.

The session never waits for the screen. A ``ScreenSpeaker`` passes each sentence on to the
real speaker, then asks the loop for a snapshot once the step has settled; the HTTP thread
only reads the latest one from a ``ScreenFeed``. The page polls ``state.json``.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from assistant.closing import Closing
from assistant.errors import ScreenError
from assistant.ports import Speaker
from assistant.snapshot import Snapshot

_LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
"""The screen is for this machine only: nothing listens on other interfaces."""
WAITING = "Waiting for the coach to start."
TITLE = "Exercise coach"

_STATUS = {
    "ready": "Starting",
    "intro": "Getting ready",
    "announce": "Next exercise",
    "position": "Get into position",
    "steps": "How to do it",
    "lift": "Lift",
    "hold": "Hold",
    "release": "Release",
    "rest": "Rest",
    "paused": "Paused",
    "finished": "Finished. Well done.",
    "stopped": "Session ended.",
    "ended_for_pain": "Stopped because of pain.",
}
"""What the page says the session is doing, by machine state."""

_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/screen.css": ("screen.css", "text/css; charset=utf-8"),
    "/screen.js": ("screen.js", "text/javascript; charset=utf-8"),
}
"""Paths the server answers with a file from assistant/web/, and their content types."""


def _seconds(seconds: float) -> str:
    whole = math.ceil(seconds)
    return f"{whole} second{'' if whole == 1 else 's'} left"


def _timer(snapshot: Snapshot, left: float | None) -> str:
    if snapshot.timer is None or left is None:
        return ""
    if snapshot.timer == "hold":
        text = f"Hold: count {snapshot.hold_count} of {snapshot.hold_counts}, {_seconds(left)}"
    else:
        text = f"Rest: {_seconds(left)}"
    return text + (" (paused)" if snapshot.paused else "")


def _count(snapshot: Snapshot) -> str:
    if snapshot.exercise is None or snapshot.rep_no is None:
        return ""
    if snapshot.until_tired:
        return f"Repetition {snapshot.rep_no}, until tired (up to {snapshot.reps})"
    return f"Repetition {snapshot.rep_no} of {snapshot.reps}"


def _commands(names: tuple[str, ...]) -> list[str]:
    # The words of "help", with pain last and marked as always there.
    words = [name.replace("_", " ") for name in names if name != "pain"]
    return [*words, "pain: at any time, if something hurts"] if "pain" in names else words


def view(
    snapshot: Snapshot | None, said: str, now: float, waiting: str = WAITING
) -> dict[str, Any]:
    """The words the page shows, built here so the page only puts them in place."""
    if snapshot is None:
        empty = dict.fromkeys(("routine", "progress", "side", "count", "timer"), "")
        return {
            **empty,
            "title": TITLE,
            "exercise": TITLE,
            "status": waiting,
            "seconds_left": None,
            "commands": [],
            "said": said,
        }
    left = snapshot.left_at(now)
    status = _STATUS.get(snapshot.state, snapshot.state.replace("_", " ").capitalize())
    if snapshot.paused:
        status += ". Say resume to go on."
    progress = ""
    if snapshot.exercise is not None:
        progress = f"Exercise {snapshot.exercise_no} of {snapshot.exercises}"
        if snapshot.set_no is not None:
            progress += f", set {snapshot.set_no} of {snapshot.sets}"
    heading = snapshot.exercise if snapshot.exercise is not None else snapshot.routine
    return {
        "title": f"{TITLE}: {heading}",
        "routine": snapshot.routine,
        "exercise": heading,
        "status": status,
        "progress": progress,
        "side": f"Side: {snapshot.side}" if snapshot.side else "",
        "count": _count(snapshot),
        "timer": _timer(snapshot, left),
        "seconds_left": None if left is None else math.ceil(left),
        "commands": _commands(snapshot.commands),
        "said": said,
    }


class ScreenFeed:
    """The latest snapshot and sentence, written by the loop and read by the server."""

    def __init__(self, now: Callable[[], float]) -> None:
        """``now`` is the session clock (thread-safe), to count a hold or rest down."""
        self._now = now
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._said = ""
        self._waiting = WAITING

    def show(self, snapshot: Snapshot) -> None:
        """Show this moment of the session."""
        with self._lock:
            self._snapshot = snapshot

    def said(self, text: str) -> None:
        """Remember the last sentence the coach said."""
        with self._lock:
            self._said = text

    def clear(self, waiting: str = WAITING) -> None:
        """Forget the session (nothing of one person lingers) and show ``waiting``."""
        with self._lock:
            self._snapshot = None
            self._said = ""
            self._waiting = waiting

    def view(self) -> dict[str, Any]:
        """What the page shows now."""
        with self._lock:
            snapshot, said, waiting = self._snapshot, self._said, self._waiting
        return view(snapshot, said, self._now(), waiting)


class ScreenSpeaker:
    """A Speaker that passes every sentence on and then has the screen brought up to date."""

    def __init__(
        self, inner: Speaker, feed: ScreenFeed, post: Callable[[Callable[[], None]], None]
    ) -> None:
        """``post`` queues a call on the session's loop (``EventLoop.post``)."""
        self._inner = inner
        self._feed = feed
        self._post = post
        self._source: Callable[[], Snapshot] | None = None

    def follow(self, source: Callable[[], Snapshot]) -> None:
        """Take snapshots from ``source`` (``Session.snapshot``)."""
        self._source = source

    def say(self, text: str) -> None:
        """Say ``text``, then update the screen once the loop has finished this step."""
        self._inner.say(text)
        self._feed.said(text)
        # Posted, not done now: the session speaks before it sets its timers.
        self._post(self.refresh)

    def stop(self) -> None:
        """Stop the voice."""
        self._inner.stop()

    def refresh(self) -> None:
        """Show a fresh snapshot; run on the loop thread. A failure never reaches the session."""
        if self._source is None:
            return
        try:
            self._feed.show(self._source())
        except Exception:
            _LOGGER.exception("Could not update the screen")


class _Server(ThreadingHTTPServer):
    # Join request threads on close: requests are short (HTTP/1.0, a socket timeout).
    daemon_threads = False
    block_on_close = True

    def __init__(self, port: int, feed: ScreenFeed, pages: dict[str, tuple[bytes, str]]) -> None:
        super().__init__((HOST, port), _Handler)
        self.feed = feed
        self.pages = pages
        bound = self.server_address[1]
        # Only our own names: a page elsewhere that rebinds its DNS to 127.0.0.1 gets nothing.
        self.hosts = {f"{HOST}:{bound}", f"localhost:{bound}"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5.0
    """Seconds an idle connection (a browser's speculative one) may hold a thread."""

    def do_GET(self) -> None:
        if self.headers.get("Host", "") not in self.server.hosts:
            self._send(HTTPStatus.FORBIDDEN, b"Forbidden\n", "text/plain; charset=utf-8")
            return
        path = self.path.split("?", 1)[0]
        if path == "/state.json":
            body = json.dumps(self.server.feed.view()).encode()
            self._send(HTTPStatus.OK, body, "application/json")
        elif path in self.server.pages:
            self._send(HTTPStatus.OK, *self.server.pages[path])
        else:
            self._send(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _LOGGER.debug("screen: " + format, *args)


def _pages() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("assistant") / "web"
    return {path: ((folder / name).read_bytes(), kind) for path, (name, kind) in _FILES.items()}


class ScreenServer(Closing):
    """Serves the page on 127.0.0.1 from one thread; ``close`` stops it and joins every thread."""

    def __init__(self, feed: ScreenFeed, port: int = 0) -> None:
        """Listen on ``port`` (0: any free port); raises ScreenError if it is taken."""
        if not 0 <= port <= 65535:
            raise ScreenError(f"screen port must be from 0 to 65535, got {port}")
        try:
            self._server = _Server(port, feed, _pages())
        except OSError as err:
            raise ScreenError(
                f"cannot show the screen on port {port}: {err.strerror or err}; "
                "choose another port, or 0 for any free one"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="screen"
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self._server.server_address[1]}/"

    def close(self) -> None:
        """Stop serving and wait for the server's threads; harmless twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
