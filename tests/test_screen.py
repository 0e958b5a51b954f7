"""The large-print screen: what it shows of a real session, its JSON over real HTTP, and the
page itself in headless Chromium following a real text-mode session run through the CLI."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

import pytest
from fakes import FakeRecorder, FakeSpeaker

from assistant.clock import ManualClock
from assistant.errors import ScreenError
from assistant.ports import SAMPLE_RATE
from assistant.routine import resolve_routine
from assistant.screen import HOST, ScreenFeed, ScreenServer, ScreenSpeaker
from assistant.session import Session

ROOT = Path(__file__).resolve().parents[1]
COACH = (sys.executable, "-m", "assistant")
SPINE = "Osteoporosis Spine Strengthening Exercises"


def _on_screen(routine: str = "strong_back") -> tuple[Session, ScreenFeed, ManualClock]:
    """A real session on a manual clock whose speaker feeds a screen, as app.py wires it."""
    clock = ManualClock()
    feed = ScreenFeed(clock.now)

    def post(call: Callable[[], None]) -> None:
        # The loop runs a posted call after the step that posted it: a timer due now does too.
        clock.call_later(0.0, call)

    speaker = ScreenSpeaker(FakeSpeaker(clock), feed, post)
    session = Session(resolve_routine(routine), speaker, clock, FakeRecorder())
    speaker.follow(session.snapshot)
    return session, feed, clock


def _advance_until(clock: ManualClock, done: Callable[[], bool], step: float = 0.25) -> None:
    for _ in range(40_000):
        if done():
            clock.advance(0.0)  # let the posted screen update run
            return
        clock.advance(step)
    raise AssertionError("never reached")


def test_screen_shows_exercise_count_time_left_and_the_commands_help_would_say() -> None:
    session, feed, clock = _on_screen()
    assert feed.view()["status"] == "Waiting for the coach to start."
    session.begin()
    clock.advance(0.0)
    shown = feed.view()
    assert shown["exercise"] == "Exercises for Strong Back and Hips"
    assert shown["status"] == "Getting ready"
    assert shown["said"].startswith("Welcome.")

    _advance_until(clock, lambda: session.state == "hold")
    shown = feed.view()
    assert shown["exercise"] == "Pelvic Tilt"
    assert shown["progress"] == "Exercise 1 of 5, set 1 of 1"
    assert shown["count"] == "Repetition 1 of 8"
    assert shown["timer"] == "Hold: count 0 of 10, 10 seconds left"
    assert shown["said"] == "Hold."
    # The same words "help" says, in the same order, with pain last.
    assert shown["commands"] == [
        *(name.replace("_", " ") for name in session.available() if name != "pain"),
        "pain: at any time, if something hurts",
    ]

    clock.advance(3.5)
    shown = feed.view()
    assert shown["timer"] == "Hold: count 3 of 10, 7 seconds left"
    assert shown["said"] == "three."

    session.command("pause")
    clock.advance(0.0)
    clock.advance(30.0)
    shown = feed.view()
    assert shown["status"] == "Paused. Say resume to go on."
    assert shown["timer"] == "Hold: count 3 of 10, 7 seconds left (paused)"
    assert "resume" in shown["commands"] and "pause" not in shown["commands"]

    session.command("resume")
    _advance_until(clock, lambda: session.where()[2] == 2 and session.state == "lift")
    assert feed.view()["count"] == "Repetition 2 of 8"

    session.command("pain")
    clock.advance(0.0)
    shown = feed.view()
    assert shown["status"] == "Stopped because of pain."
    assert shown["commands"] == []
    assert shown["timer"] == ""
    assert "doctor" in shown["said"]


def test_rest_counts_down_between_updates() -> None:
    session, feed, clock = _on_screen("spine")
    session.begin()
    _advance_until(clock, lambda: session.state == "hold")
    session.command("longer_rest")  # a rest of a minute after this repetition
    _advance_until(clock, lambda: session.state == "rest")
    first = feed.view()
    assert first["exercise"] == "Neck Press Against Resistance"
    assert first["timer"] == "Rest: 60 seconds left"
    clock.advance(20.0)  # nothing is said between 60 and 30 seconds left: the page counts on
    assert feed.view()["timer"] == "Rest: 40 seconds left"
    assert feed.view()["seconds_left"] == 40


def test_a_failing_snapshot_never_reaches_the_session(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    feed = ScreenFeed(clock.now)
    said = FakeSpeaker(clock)
    speaker = ScreenSpeaker(said, feed, lambda call: call())

    def broken() -> Any:
        raise RuntimeError("no snapshot")

    speaker.follow(broken)
    speaker.say("Hello.")
    assert said.said == ["Hello."]
    assert feed.view()["said"] == "Hello."
    assert "Could not update the screen" in caplog.text


def _get(url: str, host: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def test_json_page_and_files_over_http_on_localhost_only_and_a_clean_close() -> None:
    session, feed, clock = _on_screen("spine")
    session.begin()
    clock.advance(0.0)
    threads = set(threading.enumerate())
    with ScreenServer(feed, 0) as server:
        assert server.url.startswith(f"http://{HOST}:")
        status, kind, body = _get(server.url + "state.json")
        assert (status, kind) == (200, "application/json")
        shown = json.loads(body)
        assert shown["exercise"] == SPINE and shown["status"] == "Getting ready"
        status, kind, body = _get(server.url)
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert b'<html lang="en">' in body and b'aria-live="polite"' in body
        assert _get(server.url + "screen.js")[0] == 200
        assert _get(server.url + "screen.css")[1] == "text/css; charset=utf-8"
        assert _get(server.url + "nothing")[0] == 404
        # A page elsewhere that points its own name at 127.0.0.1 is refused.
        assert _get(server.url + "state.json", host="attacker.example")[0] == 403
        port = int(server.url.rsplit(":", 1)[1].rstrip("/"))
        # Only the loopback interface listens.
        with socket.socket() as probe:
            outside = socket.gethostbyname(socket.gethostname())
            if outside != HOST:
                assert probe.connect_ex((outside, port)) != 0
        with pytest.raises(ScreenError, match=f"port {port}"):
            ScreenServer(feed, port)
    assert set(threading.enumerate()) == threads
    with pytest.raises(urllib.error.URLError):
        _get(f"http://{HOST}:{port}/state.json")


# ------------------------------------------------------------- the page in Chromium


class _Texts(HTMLParser):
    """The text inside each element with an id, and every attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.attributes: list[tuple[str, str, str | None]] = []
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        element = dict(attrs).get("id")
        if tag not in ("meta", "link", "br", "img", "input"):
            self._open.append(element)
        if element:
            self.by_id[element] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("meta", "link", "br", "img", "input") and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            if element:
                self.by_id[element] += data


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium")
    assert browser, "the screen test needs Debian's chromium: run scripts/bootstrap"
    return subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _dom(url: str, profile: Path) -> _Texts:
    page = _Texts()
    page.feed(_chromium("--dump-dom", url, profile=profile).stdout)
    return page


def _screen_url(stdout: IO[str]) -> str:
    for line in stdout:
        if line.startswith("Large-print screen: "):
            url = line.split(": ", 1)[1].strip()
            assert url.startswith(f"http://{HOST}:")
            return url
    raise AssertionError("the coach never gave the screen's address")


def _said(stdout: IO[str], words: str) -> None:
    for line in stdout:
        if words in line:
            return
    raise AssertionError(f"the coach never said {words!r}")


def _wait_for(url: str, field: str, value: str) -> None:
    for _ in range(200):
        if json.loads(_get(url + "state.json")[2])[field] == value:
            return
        time.sleep(0.05)
    raise AssertionError(f"the screen never showed {field} = {value!r}")


@pytest.fixture
def coach() -> Iterator[subprocess.Popen[str]]:
    """A text-mode session of the spine routine with the screen, at the real pace."""
    process = subprocess.Popen(
        [*COACH, "run", "--text", "--routine", "spine", "--screen"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def test_page_in_headless_chromium_follows_a_text_session(
    coach: subprocess.Popen[str], tmp_path: Path
) -> None:
    stdin, stdout = coach.stdin, coach.stdout
    assert stdin is not None and stdout is not None
    url = _screen_url(stdout)
    _said(stdout, "Welcome.")
    _wait_for(url, "status", "Getting ready")
    profile = tmp_path / "chromium"

    page = _dom(url, profile)
    assert page.by_id["exercise"] == SPINE
    assert page.by_id["status"] == "Getting ready"
    assert ("html", "lang", "en") in page.attributes
    assert ("section", "aria-live", "polite") in page.attributes
    assert ("p", "role", "timer") in page.attributes

    def say(words: str) -> None:
        stdin.write(words + "\n")
        stdin.flush()

    say("next")
    _said(stdout, "Exercise one of three")
    _wait_for(url, "exercise", "Neck Press Against Resistance")
    page = _dom(url, profile)
    assert page.by_id["exercise"] == "Neck Press Against Resistance"
    assert page.by_id["progress"] == "Exercise 1 of 3, set 1 of 1"

    say("next")
    _said(stdout, "Exercise two of three")
    say("pause")
    _said(stdout, "Paused.")
    _wait_for(url, "status", "Paused. Say resume to go on.")
    page = _dom(url, profile)
    assert page.by_id["exercise"] == "Strengthening Extensor Muscles"
    assert page.by_id["status"] == "Paused. Say resume to go on."
    assert "resume" in page.by_id["commands"] and "pain: at any time" in page.by_id["commands"]
    assert page.by_id["said"].startswith("Paused.")

    shot = tmp_path / "screen.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,900", url, profile=profile)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    (ROOT / "build").mkdir(exist_ok=True)
    shutil.copyfile(shot, ROOT / "build" / "screen.png")

    say("stop")
    _said(stdout, "Ending the session.")
    assert coach.wait(timeout=30) == 0
    with pytest.raises(urllib.error.URLError):
        _get(url + "state.json")


def test_spoken_session_shows_on_the_screen_too(tmp_path: Path) -> None:
    heard = tmp_path / "quiet.wav"
    with wave.open(str(heard), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(bytes(2 * 30 * SAMPLE_RATE))
    files = ["--audio-in", str(heard), "--audio-out", str(tmp_path / "coach.wav")]
    with subprocess.Popen(
        [*COACH, "run", "--routine", "spine", "--engine", "pocketsphinx", *files, "--screen"],
        stdout=subprocess.PIPE,
        text=True,
    ) as coach:
        assert coach.stdout is not None
        try:
            url = _screen_url(coach.stdout)
            _wait_for(url, "status", "Getting ready")
            shown = json.loads(_get(url + "state.json")[2])
            assert shown["exercise"] == SPINE
            assert shown["said"].startswith("Welcome.")
            assert "pain: at any time, if something hurts" in shown["commands"]
        finally:
            # Ending it politely would wait for the voice to finish speaking in real time.
            coach.kill()
