"""Faults around a session, each injected where the real adapter meets the world.

Each test checks the four promises of docs/reliability.md: the coach says what happened (aloud
if it still can, in print otherwise), pauses rather than carrying on blind, logs it, and keeps
every row already in the history (read back from the real SQLite file).
"""

from __future__ import annotations

import ast
import errno
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from process_output import OutputLines, end
from pulse import pulse_server
from speech import PIPER, at_level, synthesize

from assistant import phrases
from assistant.asr_pocketsphinx import PocketsphinxRecognizer
from assistant.audio_out import FileOutput
from assistant.clock import EventLoop, ManualClock
from assistant.console import ConsoleSpeaker
from assistant.grammar import default_grammar_path, load_grammar
from assistant.history import History
from assistant.listener import Listener
from assistant.mic import FileSource, MicrophoneError
from assistant.ports import SAMPLE_RATE, Heard, Outcome, Speaker
from assistant.resume import ResumePoint, find_resume_point
from assistant.routine import resolve_routine
from assistant.runner import EXIT_PAIN_DEGRADED, SessionResult, act, run_session
from assistant.session import Session
from assistant.tts import HelperRenderer, VoiceSpeaker

COACH = (sys.executable, "-m", "assistant")
FAST = "0.01"
GRAMMAR = load_grammar(default_grammar_path())
NO_CHECK_INS = {"EXERCISE_COACH_CHECK_IN_SECONDS": "1000000"}


def _write_wav(path: Path, audio: npt.NDArray[np.int16]) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(audio.astype("<i2").tobytes())
    return path


def _pain_after(path: Path, seconds: float) -> Path:
    """A recording of a quiet room in which the user says "I'm in pain" after ``seconds``."""
    pain = at_level(synthesize("I'm in pain", PIPER), -20.0)
    quiet = np.zeros(int(seconds * SAMPLE_RATE), np.int16)
    return _write_wav(path, np.concatenate([quiet, pain, np.zeros(SAMPLE_RATE, np.int16)]))


def _history(data_dir: Path) -> History:
    return History(data_dir / "history.sqlite3")


# ------------------------------------------------------------------ the speaker fails


def test_speaker_that_dies_mid_session_pauses_and_pain_is_still_advised_in_print(
    tmp_path: Path,
) -> None:
    """The sound server dies under a spoken session: the coach notices, pauses, says so in print;
    the user's "I'm in pain" (heard from the recording) still ends it, with the advice printed
    and exit status 4 because the advice could not be spoken."""
    heard = _pain_after(tmp_path / "user.wav", 14.0)
    data = tmp_path / "data"
    with pulse_server() as pulse:
        env = {**os.environ, **pulse.env, "EXERCISE_COACH_DATA_DIR": str(data), **NO_CHECK_INS}
        coach = subprocess.Popen(
            [*COACH, "run", "--routine", "spine", "--engine", "pocketsphinx", "--audio-in", heard],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert coach.stdout is not None and coach.stderr is not None
        lines = OutputLines(coach.stdout)
        try:
            lines.wait_for("Welcome.", timeout=60)
            time.sleep(2.0)
            os.kill(pulse.pid, signal.SIGKILL)  # the speaker is gone, mid-sentence
            failed = lines.wait_for("the voice failed", timeout=30)
            lines.wait_for(phrases.VOICE_FAILED, timeout=30, start=failed)
            status = coach.wait(timeout=90)
        finally:
            stderr = end(coach)
    said = lines.text()
    assert status == EXIT_PAIN_DEGRADED, f"exit {status}\n{said}\n{stderr[-3000:]}"
    assert phrases.pain_advice() in said, "the advice is printed with the coach's words"
    assert phrases.pain_advice() in stderr, "and again on stderr, as the exit status says"
    assert "Traceback" not in stderr.split("failed while stopping for pain")[-1]
    with _history(data) as history:
        (session,) = history.recent_sessions()
        kinds = [event.kind for event in history.events_of(session.id)]
    assert session.outcome is Outcome.PAIN
    assert kinds[:2] == ["voice_failed", "pause"], kinds
    assert kinds[-1] == "pain"


# ------------------------------------------------------------------ the disk fills up


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs) that can fill up; mounting needs root, as CI runs."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (run the tests as root): {done.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(bytes(4096))
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    return filler


_STARTED: list[subprocess.Popen[str]] = []
"""Coaches the tests started, so a failing test leaves none running."""


@pytest.fixture(autouse=True)
def _no_coach_left() -> Iterator[None]:
    yield
    while _STARTED:
        coach = _STARTED.pop()
        if coach.poll() is None:
            coach.kill()
            coach.wait()


def _text_session(data: Path) -> tuple[subprocess.Popen[str], OutputLines]:
    coach = subprocess.Popen(
        [*COACH, "run", "--text", "--routine", "spine", "--time-scale", FAST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Check-ins are not under test here: no "Are you all right?" pauses in the way.
        env={**os.environ, "EXERCISE_COACH_DATA_DIR": str(data), **NO_CHECK_INS},
    )
    _STARTED.append(coach)
    assert coach.stdout is not None
    return coach, OutputLines(coach.stdout)


def _type(coach: subprocess.Popen[str], text: str) -> None:
    assert coach.stdin is not None
    coach.stdin.write(text + "\n")
    coach.stdin.flush()


def _finish(coach: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """Wait for the coach to end; its exit status and stderr."""
    assert coach.stdin is not None and coach.stderr is not None
    try:
        status = coach.wait(timeout=timeout)
    finally:
        stderr = end(coach)
    return status, stderr


def test_disk_full_mid_session_pauses_and_resume_carries_on_without_losing_a_row(
    small_disk: Path,
) -> None:
    data = small_disk / "data"
    coach, lines = _text_session(data)
    lines.wait_for("Repetition three", timeout=60)
    filler = _fill(small_disk)
    failed = lines.wait_for(phrases.HISTORY_FAILED, timeout=30)
    lines.wait_for(phrases.HISTORY_PAUSED, timeout=10, start=failed)
    time.sleep(1.0)  # 100 seconds of session time: nothing goes on while paused
    waited = lines.text().split(phrases.HISTORY_PAUSED, 1)[1]
    assert "Repetition" not in waited and "release" not in waited, waited
    filler.unlink()
    _type(coach, "resume")
    resumed = lines.wait_for("Resuming.", timeout=30, start=failed)
    lines.wait_for("Repetition", timeout=30, start=resumed)
    _type(coach, "stop")
    lines.wait_for("Ending the session.", timeout=30, start=resumed)
    status, stderr = _finish(coach)
    assert status == 0, stderr[-3000:]
    assert "disk is full" in stderr, "the log says what failed"
    with _history(data) as history:
        (session,) = history.recent_sessions()
        sets = history.sets_of(session.id)
        kinds = [event.kind for event in history.events_of(session.id)]
    assert session.outcome is Outcome.STOPPED
    said = lines.text()
    # Every repetition released is in the history: the count caught up once the disk had room.
    assert sum(s.reps_done for s in sets) == said.count(phrases.RELEASE), (sets, said)
    assert "resume" in kinds


def test_disk_full_then_pain_advises_in_print_and_exit_status_says_the_stop_was_not_recorded(
    small_disk: Path,
) -> None:
    data = small_disk / "data"
    coach, lines = _text_session(data)
    lines.wait_for("Repetition three", timeout=60)
    filler = _fill(small_disk)
    lines.wait_for(phrases.HISTORY_PAUSED, timeout=30)
    _type(coach, "it hurts")
    status, stderr = _finish(coach)
    filler.unlink()  # a full disk cannot even be opened for reading (SQLite needs room)
    said = lines.text()
    assert status == EXIT_PAIN_DEGRADED, stderr[-3000:]
    assert phrases.pain_advice() in said
    assert phrases.pain_advice() in stderr
    assert "failed while stopping for pain: history" in stderr
    with _history(data) as history:
        (session,) = history.recent_sessions()
        (first_set,) = history.sets_of(session.id)
    assert first_set.reps_done >= 2, "the repetitions recorded before the disk filled are kept"


# ------------------------------------------------- killed mid-session: the restart offers to resume


def test_killed_mid_session_the_next_run_offers_to_resume_where_it_stopped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    coach, lines = _text_session(data)
    second = lines.wait_for("Exercise two of three: Strengthening Extensor Muscles.", timeout=60)
    lines.wait_for("Repetition two.", timeout=60, start=second)
    os.kill(coach.pid, signal.SIGKILL)
    _finish(coach)
    with _history(data) as history:
        (killed,) = history.recent_sessions()
        released = history.sets_of(killed.id)[-1].reps_done
    assert released >= 1, "the repetition released before the kill is in the history"

    again, lines = _text_session(data)
    _type(again, "resume")  # read after the offer: the session begins before input is read
    second = lines.wait_for("Exercise two of three: Strengthening Extensor Muscles.", 60)
    lines.wait_for("Repetition two.", timeout=60, start=second)
    _type(again, "stop")
    status, stderr = _finish(again)
    said = lines.text()
    assert status == 0, stderr[-3000:]
    offer = phrases.resume_offer("Strengthening Extensor Muscles", 1, None)
    assert said.index(offer) < said.index(phrases.RESUMING_FROM_LAST_TIME)
    assert "Exercise one of three" not in said, "it went on from where it stopped"
    with _history(data) as history:
        resumed, crashed = history.recent_sessions()
        sets = history.sets_of(resumed.id)
        events = history.events_of(resumed.id)
        kept = history.sets_of(crashed.id)[-1].reps_done
    assert crashed.outcome is Outcome.CRASHED
    assert crashed.where.startswith("crashed at extensor_strengthening set 1")
    assert kept == released, "the restart lost nothing of the session that was cut off"
    assert resumed.outcome is Outcome.STOPPED
    assert sets[0].exercise_id == "extensor_strengthening" and sets[0].set_no == 1
    assert [e.detail for e in events if e.kind == "resumed_from"] == [f"session {crashed.id}"]


def test_next_at_the_offer_starts_again_from_the_first_exercise(tmp_path: Path) -> None:
    data = tmp_path / "data"
    coach, lines = _text_session(data)
    lines.wait_for("Repetition two.", timeout=60)
    os.kill(coach.pid, signal.SIGKILL)
    _finish(coach)
    again, lines = _text_session(data)
    _type(again, "next")
    lines.wait_for("Exercise one of three", timeout=60)
    _type(again, "stop")
    status, stderr = _finish(again)
    said = lines.text()
    assert status == 0, stderr[-3000:]
    assert phrases.resume_offer("Neck Press Against Resistance", 1, None) in said
    assert phrases.STARTING_AGAIN in said


Row = tuple[str, int, str | None, int, str | None]
"""A set of the cut-off session: exercise, set, side, repetitions done, how it ended."""

TWO_SETS = dict.fromkeys(
    ("pelvic_tilt", "leg_arm_lift", "chest_lift_1", "diagonal_lift", "head_press"), 2
)


def _cut_off(history: History, rows: list[Row], routine_id: str = "strong_back") -> int:
    """A session that was killed after ``rows``, as recover_crashed leaves it."""
    session_id = history.start_session(routine_id, "default")
    for exercise_id, set_no, side, reps, how in rows:
        set_id = history.start_set(session_id, exercise_id, set_no, side, 8)
        history.rep_done(set_id, reps)
        if how is not None:
            history.end_set(set_id, reps, how)
    exercise_id, set_no, side, reps, _ = rows[-1]
    history.end_session(session_id, Outcome.CRASHED, exercise_id, set_no, reps + 1, side)
    return session_id


def _session(history: History, out: io.StringIO, clock: ManualClock) -> Session:
    routine = resolve_routine("strong_back")
    return Session(routine, ConsoleSpeaker(out), clock, history, sets=TWO_SETS)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("pelvic_tilt", 1, None, 3, None)], (0, 1, 0)),
        ([("pelvic_tilt", 1, None, 8, "completed")], (0, 2, 0)),
        ([("pelvic_tilt", 2, None, 8, "completed")], (1, 1, 0)),
        ([("leg_arm_lift", 1, "left leg", 8, "completed")], (1, 1, 1)),
        ([("leg_arm_lift", 1, "right leg", 8, "completed")], (1, 2, 0)),
        ([("leg_arm_lift", 2, "right leg", 4, None)], (1, 2, 1)),
        ([("pelvic_tilt", 1, None, 2, "skipped")], (1, 1, 0)),
        ([("head_press", 2, None, 8, "completed")], None),
    ],
)
def test_resume_point_is_the_set_that_was_cut_off_or_the_one_after_a_finished_set(
    tmp_path: Path, rows: list[Row], expected: tuple[int, int, int] | None
) -> None:
    with History(tmp_path / "h.sqlite3") as history:
        crashed = _cut_off(history, rows)
        session = _session(history, io.StringIO(), ManualClock())
        point = find_resume_point(history, "strong_back", "default", session.exercises, TWO_SETS)
    if expected is None:
        assert point is None
    else:
        assert point == ResumePoint(crashed, *expected)


def test_no_offer_after_a_finished_session_another_routine_or_another_person(
    tmp_path: Path,
) -> None:
    with History(tmp_path / "h.sqlite3") as history:
        exercises = _session(history, io.StringIO(), ManualClock()).exercises

        def point(profile: str = "default") -> ResumePoint | None:
            return find_resume_point(history, "strong_back", profile, exercises, TWO_SETS)

        assert point() is None, "no history at all"
        _cut_off(history, [("pelvic_tilt", 1, None, 3, None)])
        assert point() is not None
        assert point("ann") is None, "someone else's session is not offered"
        _cut_off(history, [("neck_press", 1, None, 3, None)], routine_id="spine")
        assert point() is None, "the last session was of another routine"
        finished = history.start_session("strong_back", "default")
        history.end_session(finished, Outcome.FINISHED, "head_press", 1, 8, None)
        assert point() is None


def test_offer_unanswered_starts_from_the_beginning_and_pain_works_during_it(
    tmp_path: Path,
) -> None:
    with History(tmp_path / "h.sqlite3") as history:
        crashed = _cut_off(history, [("diagonal_lift", 1, "lying on your left side", 3, None)])
        exercises = _session(history, io.StringIO(), ManualClock()).exercises
        point = find_resume_point(history, "strong_back", "default", exercises, TWO_SETS)
        assert point == ResumePoint(crashed, 3, 1, 1)

        out, clock = io.StringIO(), ManualClock()
        session = _session(history, out, clock)
        session.offer_resume(point)
        session.begin()
        offer = phrases.resume_offer("Diagonal Lift", 1, "lying on your left side")
        assert out.getvalue().splitlines()[-1] == f"coach: {offer}"
        assert session.state == "ready"
        session.command("help")
        assert "resume, next or stop" in out.getvalue().splitlines()[-1]
        clock.run_until(lambda: session.state != "ready")
        assert phrases.STARTING_AGAIN in out.getvalue()
        assert session.cursor.exercise == 0

        out, clock = io.StringIO(), ManualClock()
        hurt = _session(history, out, clock)
        hurt.offer_resume(point)
        hurt.begin()
        hurt.command("pain")
        assert hurt.state == "ended_for_pain"
        assert phrases.pain_advice() in out.getvalue()
        assert history.recent_sessions()[0].outcome is Outcome.PAIN


# ------------------------------------- microphone, recognizer and voice, in a live session


class _Unpluggable:
    """A real FileSource whose "device" can be pulled out: then it raises MicrophoneError on
    read and on start, as mic.Microphone does when the sound server or the device is gone."""

    def __init__(self, source: FileSource, unplugged: threading.Event) -> None:
        self._source = source
        self._unplugged = unplugged

    def start(self) -> None:
        if self._unplugged.is_set():
            raise MicrophoneError("cannot open the microphone: no such device")
        self._source.start()

    def read(self, timeout: float = 0.5) -> bytes | None:
        if self._unplugged.is_set():
            raise MicrophoneError("the microphone stopped sending audio")
        return self._source.read(timeout)

    def close(self) -> None:
        self._source.close()


class _Breakable:
    """The real pocketsphinx recognizer, made to raise while ``broken`` is set."""

    name = "pocketsphinx"

    def __init__(self, broken: threading.Event) -> None:
        self._real = PocketsphinxRecognizer(GRAMMAR)
        self._broken = broken

    def accept(self, pcm: bytes) -> list[Heard]:
        if self._broken.is_set():
            raise RuntimeError("decoder error")
        return self._real.accept(pcm)

    def flush(self) -> list[Heard]:
        return self._real.flush()

    def reset(self) -> None:
        self._real.reset()


class _Live:
    """A session run on its own thread, as run_session runs it, hearing through a Listener."""

    def __init__(self, tmp_path: Path, speaker: Speaker | None = None, scale: float = 0.02) -> None:
        self.loop = EventLoop(time_scale=scale)
        self.out = io.StringIO()
        self.history = History(tmp_path / "history.sqlite3")
        console = ConsoleSpeaker(self.out)
        self.session = Session(
            resolve_routine("spine"), _Tee(console, speaker) if speaker else console, self.loop,
            self.history,
        )  # fmt: skip
        self.unplugged = threading.Event()
        self.broken = threading.Event()
        self.listener = Listener(
            lambda: _Unpluggable(FileSource(bytes(32000), self.loop.now, time_scale=scale),
                                 self.unplugged),
            _Breakable(self.broken),
            self.loop.post,
            lambda heard: act(self.session, heard.command),
            on_lost=self.session.input_lost,
            on_back=self.session.input_back,
            on_failed=self.session.input_lost,
            on_recovered=self.session.input_back,
            retry_seconds=0.1,
        )  # fmt: skip
        self.results: list[SessionResult] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.results.append(run_session(self.session, self.loop, self.history, self.listener.start))

    def wait_for(self, text: str, after: int = 0, timeout: float = 30.0) -> int:
        """Where ``text`` was first printed after position ``after`` of the output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.out.getvalue().find(text, after)
            if found >= 0:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not said: {self.out.getvalue()[-600:]}")

    def say(self, command: str) -> None:
        self.loop.post(lambda: act(self.session, command))

    def stop(self) -> list[str]:
        """Stop the session; the kinds of the events it recorded, from the SQLite file."""
        self.say("stop")
        self._thread.join(timeout=30)
        self.listener.stop()
        assert self.results and self.results[0].outcome is Outcome.STOPPED
        kinds = [event.kind for event in self.history.events_of(self.results[0].session_id or 0)]
        self.history.close()
        return kinds


class _Tee:
    """Prints each sentence and speaks it, as the spoken session does."""

    def __init__(self, console: ConsoleSpeaker, voice: Speaker) -> None:
        self._console = console
        self._voice = voice

    def say(self, text: str) -> None:
        self._console.say(text)
        self._voice.say(text)

    def stop(self) -> None:
        self._voice.stop()


def _quiet_for(live: _Live, seconds: float) -> str:
    """What was printed during ``seconds`` of waiting."""
    before = len(live.out.getvalue())
    time.sleep(seconds)
    return live.out.getvalue()[before:]


def test_microphone_that_disappears_pauses_and_its_return_resumes_with_every_row_kept(
    tmp_path: Path,
) -> None:
    live = _Live(tmp_path)
    first = live.wait_for("Repetition two.")
    live.unplugged.set()
    lost = live.wait_for(phrases.MICROPHONE_LOST, first)
    assert "Repetition" not in _quiet_for(live, 1.0), "nothing goes on while it cannot hear"
    assert live.session.state == "paused"
    live.unplugged.clear()
    back = live.wait_for(phrases.MICROPHONE_BACK, lost)
    live.wait_for("Resuming.", back)
    kinds = live.stop()
    assert kinds[:4] == ["microphone_lost", "pause", "microphone_back", "resume"], kinds
    with History(tmp_path / "history.sqlite3") as history:
        (session,) = history.recent_sessions()
        (first_set,) = history.sets_of(session.id)
    assert first_set.reps_done == live.out.getvalue().count(phrases.RELEASE)


def test_recognizer_that_keeps_raising_pauses_until_it_hears_again(tmp_path: Path) -> None:
    live = _Live(tmp_path)
    first = live.wait_for("Repetition two.")
    live.broken.set()
    failed = live.wait_for(phrases.RECOGNIZER_FAILED, first)
    assert "Repetition" not in _quiet_for(live, 1.0), "nothing goes on while it cannot hear"
    assert live.session.state == "paused"
    live.broken.clear()
    back = live.wait_for(phrases.MICROPHONE_BACK, failed)
    live.wait_for("Resuming.", back)
    kinds = live.stop()
    assert kinds[:4] == ["recognizer_lost", "pause", "recognizer_back", "resume"], kinds


HANGS = (
    "import sys, time\n"
    "print('{\"ready\": true}', flush=True)\n"
    "for line in sys.stdin:\n    time.sleep(60)\n"
)
FAILS = (
    "import json, sys\n"
    "print('{\"ready\": true}', flush=True)\n"
    "for line in sys.stdin:\n"
    "    print(json.dumps({'ok': False, 'error': 'synthesis failed'}), flush=True)\n"
)


def _voice(tmp_path: Path, renderer: HelperRenderer, live: list[_Live]) -> VoiceSpeaker:
    """A real voice into a WAV; its failures reach the session as the spoken session's do."""
    voice = VoiceSpeaker(
        renderer,
        FileOutput(tmp_path / "coach.wav"),
        on_error=lambda err: live[0].loop.post(partial(live[0].session.fault, "voice")),
    )
    voice.start()
    return voice


def test_voice_helper_that_hangs_is_killed_the_session_pauses_and_goes_on_after_resume(
    tmp_path: Path,
) -> None:
    renderer = HelperRenderer("espeak", timeout=1.0)
    renderer.start()
    hung = renderer.pid
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)  # the voice engine stops answering
    rig: list[_Live] = []
    voice = _voice(tmp_path, renderer, rig)
    try:
        # Session time at a tenth of real time, so the voice keeps up with the session.
        rig.append(_Live(tmp_path, voice, scale=0.1))
        live = rig[0]
        failed = live.wait_for(phrases.VOICE_FAILED)
        assert "Exercise one" not in _quiet_for(live, 1.0), "nothing goes on unspoken"
        assert live.session.state == "paused"
        assert renderer.pid != hung, "the hung helper was killed (and a new one started)"
        live.say("resume")
        live.wait_for("Resuming.", failed)
        deadline = time.monotonic() + 30
        while not any(s.completed and s.text == "Resuming." for s in voice.spoken):
            assert time.monotonic() < deadline, "the voice did not come back"
            time.sleep(0.05)
        spoken = [s.text for s in voice.spoken if s.completed]
        kinds = live.stop()
    finally:
        voice.close()
    assert phrases.VOICE_FAILED in spoken, "it said what happened as soon as it could"
    assert kinds[:3] == ["voice_failed", "pause", "resume"], kinds
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)


def test_voice_engine_that_raises_pauses_the_session_and_says_so_in_print(tmp_path: Path) -> None:
    renderer = HelperRenderer(command=[sys.executable, "-c", FAILS])
    rig: list[_Live] = []
    voice = _voice(tmp_path, renderer, rig)
    try:
        rig.append(_Live(tmp_path, voice, scale=0.1))
        live = rig[0]
        live.wait_for(phrases.VOICE_FAILED)
        assert "Exercise one" not in _quiet_for(live, 1.0), "nothing goes on unspoken"
        assert live.session.state == "paused"
        kinds = live.stop()
    finally:
        voice.close()
    assert kinds[:2] == ["voice_failed", "pause"], kinds
    assert kinds.count("voice_failed") == 1, "one failure recorded, not one per sentence"
    assert not any(s.completed for s in voice.spoken)


# ------------------------------------------------- config or history file unreadable at start

NO_PRIVILEGES = ("setpriv", "--inh-caps=-all", "--bounding-set=-all", "--")
"""Runs a command as root without root's powers, so file permissions apply (tests run as root)."""


def _unreadable(path: Path, how: str) -> None:
    """Make ``path`` unreadable in one of the ways a user's file can be."""
    if how == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    elif how == "folder":
        path.mkdir()
    elif how == "no permission":
        path.write_text("time_scale = 0.5\n", encoding="utf-8")
        path.chmod(0)
    elif how == "read-only":
        path.chmod(0o444)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (the tests run as root: all are readable)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _contents(path: Path) -> bytes | list[str]:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else path.read_bytes()


def _kept_history(data: Path) -> dict[str, bytes]:
    """A history with one finished session, as the files on disk."""
    with _history(data) as history:
        session_id = history.start_session("spine", "default")
        history.end_session(session_id, Outcome.FINISHED, "chest_raises", 1, 10, None)
    return _snapshot(data)


@pytest.mark.parametrize("how", ["garbage", "folder", "no permission"])
def test_unreadable_config_file_is_one_clear_line_exit_2_and_the_history_is_untouched(
    tmp_path: Path, how: str
) -> None:
    data, config = tmp_path / "data", tmp_path / "config.toml"
    before = _kept_history(data)
    _unreadable(config, how)
    env = {**os.environ, "EXERCISE_COACH_DATA_DIR": str(data), "EXERCISE_COACH_CONFIG": str(config)}
    done = subprocess.run(
        [*NO_PRIVILEGES, *COACH, "run", "--text", "--time-scale", FAST],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"exercise-coach: {config}: cannot read the config file"), line
    assert "coach:" not in done.stdout, "no session starts on settings it could not read"
    assert _snapshot(data) == before


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("garbage", "is not an exercise-coach history database"),
        ("folder", "is a folder, not a file"),
        ("no permission", "cannot be opened"),
        ("read-only", "is read-only"),
    ],
)
def test_unreadable_history_file_is_one_clear_line_exit_2_and_is_left_as_it_was(
    tmp_path: Path, how: str, says: str
) -> None:
    data = tmp_path / "data"
    path = data / "history.sqlite3"
    if how in ("garbage", "folder"):
        data.mkdir()
    else:
        _kept_history(data)
        for leftover in data.glob("history.sqlite3-*"):
            leftover.unlink()  # closed cleanly: no WAL files, as after any finished session
    _unreadable(path, how)
    before = _contents(path)
    done = subprocess.run(
        [*NO_PRIVILEGES, *COACH, "run", "--text", "--time-scale", FAST],
        capture_output=True,
        text=True,
        env={**os.environ, "EXERCISE_COACH_DATA_DIR": str(data)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"exercise-coach: history file {path}") and says in line, line
    assert "coach:" not in done.stdout
    assert _contents(path) == before


# ------------------------------------------------- the table in docs/reliability.md stays true


def test_every_test_named_in_the_reliability_table_exists() -> None:
    root = Path(__file__).parent.parent
    doc = (root / "docs" / "reliability.md").read_text(encoding="utf-8")
    named: list[tuple[str, str]] = []
    current = ""
    for cell in re.findall(r"`(tests/\w+\.py(?:::\w+)?|::\w+)`", doc):
        where, _, name = cell.partition("::")
        current = where or current
        named.append((current, name))
    assert len(named) > 50
    defined: dict[str, set[str]] = {}
    for where, name in named:
        if where not in defined:
            tree = ast.parse((root / where).read_text(encoding="utf-8"))
            defined[where] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not name or name in defined[where], f"{where}::{name} is not a test"
