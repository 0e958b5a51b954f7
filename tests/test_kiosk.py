"""Kiosk mode: people one after another, each with their own history, nothing left between.

In-process tests run the real kiosk loop on a fast clock with a scripted person who answers
what the coach says; the command-line tests run `exercise-coach kiosk` as the service does,
typed (``--text``) and spoken (``--audio-in``: one recording of two people's whole visits,
synthesized speech, recognized by pocketsphinx).
"""

from __future__ import annotations

import configparser
import functools
import gc
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import AskingRecognizer, FakeSpeaker
from process_output import OutputLines, end
from speech import PIPER, at_level, synthesize

from assistant import phrases
from assistant.clock import EventLoop, ManualClock
from assistant.config import Settings
from assistant.errors import ConfigError, GrammarError
from assistant.grammar import default_grammar_path, load_grammar, load_kiosk_grammar
from assistant.history import History
from assistant.kiosk import ABANDONED_SECONDS, CHOSEN_SECONDS, Kiosk, KioskParts, SessionClock
from assistant.kiosk_app import KioskScreen, TwoGrammars
from assistant.ports import SAMPLE_RATE, Heard, Outcome
from assistant.profiles import Profile, load_profiles, waiting_grammar
from assistant.progress import ANSWER_SECONDS, GUEST
from assistant.routine import resolve_routine
from assistant.runner import build_session
from assistant.screen import ScreenFeed
from assistant.session import Session, Timing

ROOT = Path(__file__).resolve().parents[1]
COACH = (sys.executable, "-m", "assistant")
GRAMMAR_PATH = default_grammar_path()
SESSION_GRAMMAR = load_grammar(GRAMMAR_PATH)

SHORT_ROUTINE = """
id = "short"
title = "A short test routine"
general_cautions = ["Go slowly."]

[source]
title = "Test"
organisation = "Test"

[frequency]
days_per_week = [3, 6]

[[exercises]]
id = "arm_lift"
name = "Arm Lift"
position = "Lie on your back."
steps = ["Lift your arm."]
hold_seconds = 2
reps = 1
sets_goal = 1
rest_between_sets_seconds = 5
rest_between_reps_seconds = 1

[exercises.progression]
harder = ["You may hold a light weight."]
"""

PROFILES = """
[[profiles]]
number = 1
name = "Mary"

[[profiles]]
number = 2
name = "John"
id = "john-smith"
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    routine = tmp_path / "short.toml"
    routine.write_text(SHORT_ROUTINE, encoding="utf-8")
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(PROFILES, encoding="utf-8")
    return {"routine": routine, "profiles": profiles}


# --------------------------------------------------------------------------- profiles


def test_profiles_file_gives_numbers_names_and_history_ids(files: dict[str, Path]) -> None:
    assert load_profiles(files["profiles"]) == (
        Profile(1, "Mary", "mary"),
        Profile(2, "John", "john-smith"),
    )


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("[[profiles]]\nnumber = 1\nname = 'Ann'\n" * 2, ("profiles[2]", "number 1", "[1]")),
        ("[[profiles]]\nnumber = 1\nname = 'Ann 2'\n", ("profiles[1]", "name", "words")),
        ("[[profiles]]\nnumber = 0\nname = 'Ann'\n", ("profiles[1]", "number", "1 to 99")),
        ("[[profiles]]\nnumber = 'one'\nname = 'Ann'\n", ("profiles[1]", "number")),
        ("[[profiles]]\nnumber = 1\nname = 'Guest'\n", ("profiles[1]", "'guest'")),
        ("[[profiles]]\nnumber = 1\nname = 'Ann'\nage = 80\n", ("unknown field 'age'",)),
        ("people = 3\n", ("unknown field 'people'",)),
        ("[[profiles]\n", ("cannot read",)),
        (
            "[[profiles]]\nnumber = 1\nname = 'Ann'\n[[profiles]]\nnumber = 2\nname = 'ann'\n",
            ("profiles[2]", "name 'ann'"),
        ),
    ],
)
def test_a_bad_profiles_file_names_the_entry_and_the_field(
    tmp_path: Path, content: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profiles(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_the_waiting_grammar_is_small_and_keeps_start_phrases_out_of_sessions(
    files: dict[str, Path],
) -> None:
    waiting = waiting_grammar(
        GRAMMAR_PATH, SESSION_GRAMMAR, files["profiles"], load_profiles(files["profiles"])
    )
    for text, command in [
        ("start exercises", "start_exercises"),
        ("start back exercises", "start_back"),
        ("start spine exercises", "start_spine"),
        ("number two", "profile_2"),
        ("I'm Mary", "profile_1"),
        ("john", "profile_2"),
        ("it hurts", "pain"),
        ("pause", None),
        ("yes", None),
        ("what a nice day", None),
    ]:
        assert waiting.match(text) == command, text
    assert len(waiting.commands) == 6
    assert not {"start_exercises", "start_back", "start_spine"} & set(
        SESSION_GRAMMAR.command_names()
    )


KIOSK_HEADER = (
    'language = "en"\n[commands.pain]\ndescription = "x"\nsafety = true\nphrases = ["pain"]\n'
)
START = '[kiosk.start_exercises]\ndescription = "x"\nphrases = ["start exercises"]\n'
PROFILE = '[kiosk.profile]\ndescription = "x"\nphrases = ["number {number}", "{name}"]\n'


@pytest.mark.parametrize(
    ("kiosk", "fragments"),
    [
        ("", ("kiosk must be a table",)),
        (PROFILE, ("no start command",)),
        (START, ("[kiosk.profile] is missing",)),
        (START + PROFILE.replace("{name}", "me"), ("phrases[2] 'me'", "one placeholder")),
        (START + PROFILE.replace("{name}", "{name} {number}"), ("one placeholder",)),
        (START + PROFILE.replace("{name}", "{name}2"), ("'2'", "recogniser")),
        (
            START + PROFILE + '[kiosk.dance]\ndescription = "x"\nphrases = ["dance"]\n',
            ("command 'dance'", "unknown command"),
        ),
    ],
)
def test_a_bad_kiosk_grammar_names_the_file_and_the_field(
    tmp_path: Path, kiosk: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "xx.toml"
    path.write_text(KIOSK_HEADER + kiosk, encoding="utf-8")
    load_grammar(path)  # the session's grammar does not mind the kiosk's tables
    with pytest.raises(GrammarError) as caught:
        load_kiosk_grammar(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


# --------------------------------------------------------------------------- parts


def test_a_closed_session_clock_cancels_its_timers_and_lets_go_of_them() -> None:
    loop = EventLoop(time_scale=1e-4)
    clock = SessionClock(loop)
    fired: list[str] = []
    clock.call_later(1.0, lambda: fired.append("kept"))
    dropped = clock.call_later(2.0, lambda: fired.append("dropped"))
    loop.run(lambda: bool(fired))
    clock.close()
    clock.call_later(0.0, lambda: fired.append("after close"))
    loop.call_later(5.0, lambda: fired.append("end"))
    loop.run(lambda: fired[-1] == "end")
    assert fired == ["kept", "end"]
    assert getattr(dropped, "callback") is None  # noqa: B009 - nothing of the session is held


@dataclass
class FakeRecognizer:
    """Hears a command at the end of every chunk that holds a non-zero sample."""

    command: str
    name: str = "fake"
    fed: float = 0.0
    resets: int = 0

    def accept(self, pcm: bytes) -> list[Heard]:
        start = self.fed
        self.fed += len(pcm) / 2 / SAMPLE_RATE
        if any(pcm):
            return [Heard(self.command, self.command, start, self.fed)]
        return []

    def flush(self) -> list[Heard]:
        return []

    def reset(self) -> None:
        self.resets += 1


def test_two_grammars_switch_at_the_next_chunk_and_keep_one_timeline() -> None:
    waiting, session = FakeRecognizer("start_exercises"), FakeRecognizer("pause")
    both = TwoGrammars(waiting, session)
    quiet, speech = bytes(3200), b"\x01\x00" * 1600
    assert both.accept(speech)[0].command == "start_exercises"
    both.use("session")
    both.accept(quiet)
    (heard,) = both.accept(speech)
    assert heard.command == "pause"
    assert (heard.start, heard.end) == pytest.approx((0.2, 0.3))  # on the kiosk's timeline
    assert session.resets == 1
    both.use("waiting")
    (heard,) = both.accept(speech)
    assert heard.command == "start_exercises" and heard.start == pytest.approx(0.3)


def test_two_grammars_ask_when_the_coach_talks_on_their_one_timeline() -> None:
    waiting, session = AskingRecognizer(), AskingRecognizer()
    both = TwoGrammars(waiting, session)
    asked: list[tuple[float, float]] = []

    def talking(start: float, end: float) -> bool:
        asked.append((round(start, 6), round(end, 6)))
        return False

    both.when_coach_talks(talking)
    chunk = bytes(3200)
    both.accept(chunk)
    both.use("session")
    both.accept(chunk)
    both.accept(chunk)
    both.use("waiting")
    both.accept(chunk)
    assert asked == [(0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4)]
    assert list(session.answers) == [(0.0, 0.1), (0.1, 0.2)]  # in its own times
    # A recognizer that does not ask is left alone.
    TwoGrammars(FakeRecognizer("start_exercises"), session).when_coach_talks(lambda s, e: True)


# --------------------------------------------------------------------------- the kiosk loop


@dataclass
class FakeVoice:
    """A voice whose pace "slower" changes, as tts.VoiceSpeaker's."""

    settings: float = 160.0

    def adjust(self, setting: str) -> str:
        self.settings -= 15.0
        return "I will speak more slowly now."


@dataclass
class Visitors:
    """People at the kiosk: each step waits for the coach to say something, then answers."""

    loop: EventLoop
    steps: list[tuple[str, str]]
    said: list[str] = field(default_factory=list)
    kiosk: Kiosk | None = None
    fail_on: str | None = None
    """The coach's voice breaks once on a sentence holding this (a crash in a session)."""
    on_say: Callable[[str], None] = lambda text: None

    def say(self, text: str) -> None:
        if self.fail_on is not None and self.fail_on in text:
            self.fail_on = None
            raise RuntimeError("the voice broke")
        self.said.append(text)
        self.on_say(text)
        if self.steps and self.steps[0][0] in text:
            _, reply = self.steps.pop(0)
            self._later(functools.partial(self._hear, reply))
        elif not self.steps and text == phrases.KIOSK_WAITING:
            self._later(self._end)

    def stop(self) -> None:
        pass

    def _later(self, call: Callable[[], None]) -> None:
        # Due at once: before any timer already set, as a person who answers right away.
        self.loop.call_later(0.0, call)

    def _hear(self, text: str) -> None:
        assert self.kiosk is not None
        self.kiosk.hear_text(text)

    def _end(self) -> None:
        assert self.kiosk is not None
        self.kiosk.input_ended()


def _kiosk(
    tmp_path: Path,
    files: dict[str, Path],
    steps: list[tuple[str, str]],
    voice: FakeVoice | None = None,
    screen: ScreenFeed | None = None,
    **settings: Any,
) -> tuple[Kiosk, Visitors, History]:
    """A kiosk on a fast clock, its visitors, its history; ``screen``: show it there."""
    base = Settings(
        data_dir=tmp_path / "data",
        routine=str(files["routine"]),
        time_scale=1e-4,
        position_seconds=2.0,
        sessions_per_extra_set=1,
        # Check-ins ("Are you all right?") are checkin.py's tests' concern; on this fast
        # clock any stall of the machine would be minutes of silence and bring one on.
        check_in_seconds=1e9,
    )
    loop = EventLoop(time_scale=base.time_scale)
    people = Visitors(loop, list(steps))
    profiles = load_profiles(files["profiles"])
    history = History(base.history_path)
    waiting = waiting_grammar(GRAMMAR_PATH, SESSION_GRAMMAR, files["profiles"], profiles)
    shown = KioskScreen(screen, loop.post) if screen is not None else None
    parts = KioskParts(
        Settings(**{**base.__dict__, **settings}),
        loop,
        history,
        shown.speaker(people) if shown is not None else people,
        SESSION_GRAMMAR,
        waiting,
        profiles,
        voice=voice,
        screen=shown,
    )
    kiosk = Kiosk(parts)
    people.kiosk = kiosk
    return kiosk, people, history


def _outcomes(history: History) -> list[tuple[str, Outcome]]:
    return [(s.profile, s.outcome) for s in reversed(history.recent_sessions(limit=None))]


def test_two_people_one_after_the_other_each_with_their_own_history(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    voice = FakeVoice()
    steps = [
        (phrases.KIOSK_WAITING, "number one"),
        (phrases.kiosk_hello("Mary"), "start exercises"),
        ("Exercise one of one", "slower"),
        ("One more thing: was Arm Lift easy", "yes"),
        (phrases.KIOSK_WAITING, "I'm John"),
        (phrases.kiosk_hello("John"), "start exercises"),
        ("Exercise one of one", "start exercises"),  # means "ready" here: no second session
        ("One more thing: was Arm Lift easy", "no"),
        (phrases.KIOSK_WAITING, "start exercises"),
    ]
    kiosk, people, history = _kiosk(tmp_path, files, steps, voice)
    paces: list[float] = []
    people.on_say = lambda text: paces.append(voice.settings) if "Welcome." in text else None
    before = {id(o) for o in gc.get_objects() if isinstance(o, Session)}
    with history:
        kiosk.run()
        assert people.steps == []
        assert _outcomes(history) == [
            ("mary", Outcome.FINISHED),
            ("john-smith", Outcome.FINISHED),
            (GUEST, Outcome.FINISHED),
        ]
        assert [(a.exercise_id, a.easy) for a in history.answers("mary", "short")] == [
            ("arm_lift", True)
        ]
        assert [(a.exercise_id, a.easy) for a in history.answers("john-smith", "short")] == [
            ("arm_lift", False)
        ]
        # The guest is never asked; the first person's "slower" was theirs alone.
        assert sum("One more thing" in line for line in people.said) == 2
        assert paces == [160.0, 160.0, 160.0] and voice.settings == 160.0
        assert "I will speak more slowly now." in people.said
        assert people.said.count(phrases.kiosk_begin("Mary")) == 1
        assert phrases.KIOSK_GUEST in people.said
    # Nothing of any session is left alive once the kiosk waits again.
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, Session) and id(o) not in before] == []


def test_the_screen_shows_a_session_and_then_nothing_of_it(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    steps = [
        (phrases.KIOSK_WAITING, "number one"),
        (phrases.kiosk_hello("Mary"), "start exercises"),
    ]
    feed = ScreenFeed(time.monotonic)
    kiosk, people, history = _kiosk(tmp_path, files, steps, screen=feed)
    views: list[dict[str, Any]] = []
    people.on_say = lambda text: views.append(feed.view()) if text == "And release." else None
    with history:
        kiosk.run()
    assert views and views[0]["exercise"] == "Arm Lift"
    after = feed.view()
    assert after["exercise"] == "Exercise coach" and after["status"] == phrases.KIOSK_WAITING
    assert after["said"] == phrases.KIOSK_WAITING
    assert "Mary" not in repr(after) and "Arm Lift" not in repr(after)


def test_progress_is_per_person_and_guests_never_accumulate(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    # With one finished session per extra set, Mary's second session would do two sets if
    # the short routine's goal allowed it; its goal is one, so watch the "yes" answers grow
    # into the light-weight suggestion instead: twice, then said.
    steps: list[tuple[str, str]] = []
    for _ in range(2):
        steps += [
            (phrases.KIOSK_WAITING, "Mary"),
            (phrases.kiosk_hello("Mary"), "start exercises"),
            ("One more thing: was Arm Lift easy", "yes"),
            (phrases.KIOSK_WAITING, "start exercises"),
        ]
    kiosk, people, history = _kiosk(tmp_path, files, steps)
    with history:
        kiosk.run()
        changes = history.changes("mary", "short")
        assert [(c.kind, c.subject, c.new, c.reason) for c in changes] == [
            ("harder", "arm_lift", 1, "easy")
        ]
        assert history.changes(GUEST, "short") == []
    said = "\n".join(people.said)
    assert "You may hold a light weight." in said
    assert said.count(phrases.harder_suggested("Arm Lift", "You may hold a light weight.")) == 1


def test_a_session_that_crashes_is_recorded_the_kiosk_says_sorry_and_waits_again(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    steps = [
        (phrases.KIOSK_WAITING, "number one"),
        (phrases.kiosk_hello("Mary"), "start exercises"),
        (phrases.KIOSK_SORRY, "number two"),
        (phrases.kiosk_hello("John"), "start exercises"),
    ]
    kiosk, people, history = _kiosk(tmp_path, files, steps)
    people.fail_on = "Repetition one of one"
    with history:
        kiosk.run()
        assert _outcomes(history) == [
            ("mary", Outcome.CRASHED),
            ("john-smith", Outcome.FINISHED),
        ]
    assert people.steps == []
    assert people.said.count(phrases.KIOSK_SORRY) == 1
    assert [result.outcome for _, result in kiosk.results] == [Outcome.CRASHED, Outcome.FINISHED]


def test_pain_works_while_waiting_and_in_a_session(tmp_path: Path, files: dict[str, Path]) -> None:
    steps = [
        (phrases.KIOSK_WAITING, "number one"),
        (phrases.kiosk_hello("Mary"), "ouch my back hurts"),
        (phrases.pain_advice(), "start exercises"),  # Mary is forgotten: a guest starts
        ("Hold.", "pain"),
        (phrases.KIOSK_WAITING, "start exercises"),
    ]
    kiosk, people, history = _kiosk(tmp_path, files, steps)
    with history:
        kiosk.run()
        assert _outcomes(history) == [
            ("mary", Outcome.PAIN),
            (GUEST, Outcome.PAIN),
            (GUEST, Outcome.FINISHED),
        ]
        where = history.recent_sessions(limit=None)[1]
        assert where.exercise_id == "arm_lift"
    assert people.said.count(phrases.pain_advice()) == 2


def test_a_chosen_profile_is_forgotten_if_nobody_starts(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    kiosk, people, history = _kiosk(tmp_path, files, [(phrases.KIOSK_WAITING, "number one")])

    def later(text: str) -> None:
        if text == phrases.kiosk_hello("Mary"):  # and two minutes later someone else starts
            kiosk.parts.loop.call_later(
                CHOSEN_SECONDS + 1.0, lambda: kiosk.hear_text("start exercises")
            )

    people.on_say = later
    with history:
        kiosk.run()
        assert _outcomes(history) == [(GUEST, Outcome.FINISHED)]


def test_a_session_left_paused_is_ended_and_the_kiosk_waits_again(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    steps = [
        (phrases.KIOSK_WAITING, "start exercises"),
        ("Exercise one of one", "pause"),
        (phrases.KIOSK_WAITING, "number one"),
        (phrases.kiosk_hello("Mary"), "start exercises"),
    ]
    kiosk, people, history = _kiosk(tmp_path, files, steps)
    loop = kiosk.parts.loop
    times: dict[str, float] = {}

    def note(text: str) -> None:
        if text == phrases.PAUSED or text.startswith("Ending the session."):
            times.setdefault(text[:6], loop.now())

    people.on_say = note
    with history:
        kiosk.run()
        assert _outcomes(history) == [(GUEST, Outcome.STOPPED), ("mary", Outcome.FINISHED)]
    assert times["Ending"] - times["Paused"] >= ABANDONED_SECONDS


# --------------------------------------------------------------------------- the command line


def _short_session_seconds(routine: Path, tmp_path: Path) -> float:
    """How long a person's session of the short routine lasts, in session seconds."""
    clock = ManualClock()
    speaker = FakeSpeaker(clock)
    with History(tmp_path / "timing.sqlite3") as history:
        timing = Timing(position_seconds=3.0)
        session = build_session(
            resolve_routine(str(routine)), speaker, clock, history, timing, GUEST, 2
        )
        session.begin()
        clock.run_until(lambda: session.is_over)
    return clock.now() + 3.0  # and the summary's last words


def test_typed_kiosk_on_the_command_line_for_two_people(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    env = {**os.environ, "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data")}
    coach = subprocess.Popen(
        [
            *COACH,
            "kiosk",
            "--text",
            "--routine",
            str(files["routine"]),
            "--profiles",
            str(files["profiles"]),
            "--time-scale",
            "0.002",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert coach.stdin is not None and coach.stdout is not None and coach.stderr is not None
    lines = OutputLines(coach.stdout)

    def say(text: str) -> None:
        assert coach.stdin is not None
        coach.stdin.write(text + "\n")
        coach.stdin.flush()

    try:
        lines.wait_for("say start exercises")
        say("number one")
        lines.wait_for("Hello, Mary.")
        say("start back exercises")  # the built-in routine, as a start phrase chooses
        lines.wait_for("Exercise one of five: Pelvic Tilt")
        say("stop")
        lines.wait_for("say start exercises", count=2)
        say("I'm John")
        lines.wait_for("Hello, John.")
        say("start exercises")
        lines.wait_for("One more thing: was Arm Lift easy")
        say("yes")
        lines.wait_for("say start exercises", count=3)
        coach.stdin.close()
        status = coach.wait(timeout=60)
    finally:
        stderr = end(coach)
    assert status == 0, stderr
    assert "Traceback" not in stderr
    with History(tmp_path / "data" / "history.sqlite3") as history:
        assert _outcomes(history) == [("mary", Outcome.STOPPED), ("john-smith", Outcome.FINISHED)]
        (mary, john) = reversed(history.recent_sessions(limit=None))
        assert (mary.routine_id, john.routine_id) == ("strong_back", "short")
        assert history.answers("john-smith", "short")[0].easy is True


def test_stopping_the_service_stops_the_session_records_it_and_exits_0(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    env = {**os.environ, "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data")}
    coach = subprocess.Popen(
        [*COACH, "kiosk", "--text", "--routine", "strong_back", "--time-scale", "0.05"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert coach.stdin is not None and coach.stdout is not None and coach.stderr is not None
    lines = OutputLines(coach.stdout)
    try:
        lines.wait_for("say start exercises")
        coach.stdin.write("start exercises\n")
        coach.stdin.flush()
        lines.wait_for("Exercise one of five")
        coach.send_signal(signal.SIGTERM)  # what "systemctl --user stop" does
        status = coach.wait(timeout=60)
    finally:
        stderr = end(coach)
    assert status == 0, stderr
    assert "Traceback" not in stderr
    assert any(line.startswith("coach: Ending the session.") for line in lines.lines)
    with History(tmp_path / "data" / "history.sqlite3") as history:
        assert _outcomes(history) == [(GUEST, Outcome.STOPPED)]


def test_a_bad_profiles_file_stops_the_kiosk_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "profiles.toml"
    bad.write_text("[[profiles]]\nnumber = 1\nname = 'R2D2'\n", encoding="utf-8")
    done = subprocess.run(
        [*COACH, "kiosk", "--text", "--profiles", str(bad)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "profiles.toml: profiles[1]: name" in done.stderr
    assert "Traceback" not in done.stderr


def _write_wav(path: Path, audio: np.ndarray[Any, Any]) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(audio.astype("<i2").tobytes())


def _script(lines: list[tuple[float, str]]) -> np.ndarray[Any, Any]:
    """One recording: each sentence spoken (Piper) from its time in seconds on."""
    clips = [(at, at_level(synthesize(text, PIPER), -20.0)) for at, text in lines]
    end = max(at + clip.size / SAMPLE_RATE for at, clip in clips) + 1.0
    audio = np.zeros(int(end * SAMPLE_RATE), dtype=np.int16)
    for at, clip in clips:
        start = int(at * SAMPLE_RATE)
        audio[start : start + clip.size] = clip
    return audio


def test_spoken_kiosk_from_one_recording_of_two_visits(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """Start, session, end and wait again, twice: a WAV of two people, pocketsphinx hears it."""
    session = _short_session_seconds(files["routine"], tmp_path)
    first_start = 6.0
    answer = first_start + session + 3.0  # "One more thing: was Arm Lift easy?" ... "yes"
    second = first_start + session + ANSWER_SECONDS + 8.0
    pain = second + 4.0 + 12.0  # well inside John's session
    # "start my exercises": of the start phrases, pocketsphinx heard it in 16 of 16 fresh
    # Piper syntheses; "start exercises" in 15 of 16 (one refused for its score).
    script = [
        (2.0, "number one"),
        (first_start, "start my exercises"),
        (answer, "yes"),
        (second, "I'm John"),
        (second + 4.0, "start my exercises"),
        (pain, "I'm in pain"),
    ]
    recording = tmp_path / "visits.wav"
    _write_wav(recording, _script(script))
    env = {
        **os.environ,
        "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data"),
        "EXERCISE_COACH_POSITION_SECONDS": "3",
    }
    done = subprocess.run(
        [
            *COACH,
            "-v",
            "kiosk",
            "--engine",
            "pocketsphinx",
            "--routine",
            str(files["routine"]),
            "--profiles",
            str(files["profiles"]),
            "--audio-in",
            str(recording),
            "--audio-out",
            str(tmp_path / "coach.wav"),
            "--time-scale",
            "0.125",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    said = done.stdout
    print("REPORT heard:", [line for line in done.stderr.splitlines() if "Heard" in line])
    assert done.returncode == 0, said[-3000:] + done.stderr[-3000:]
    assert said.count("Hello, Mary.") == 1 and said.count("Hello, John.") == 1
    assert "Stop the exercise now." in said
    with History(tmp_path / "data" / "history.sqlite3") as history:
        assert _outcomes(history) == [("mary", Outcome.FINISHED), ("john-smith", Outcome.PAIN)]
        assert [a.easy for a in history.answers("mary", "short")] == [True]
        assert history.answers("john-smith", "short") == []
    assert said.rstrip().endswith(phrases.KIOSK_WAITING)


# --------------------------------------------------------------------------- the service


def test_the_systemd_unit_restarts_on_failure_and_runs_the_kiosk_as_a_user(
    tmp_path: Path,
) -> None:
    unit_path = ROOT / "scripts" / "exercise-coach.service"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(unit_path, encoding="utf-8")
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"
    assert "User" not in service  # a user unit: it runs as the kiosk's own user
    assert service["ExecStart"].split()[1:] == ["kiosk"]
    after = unit["Unit"]["After"].split()
    assert {"sound.target", "pipewire.service", "pulseaudio.service"} <= set(after)
    assert unit["Install"]["WantedBy"] == "default.target"
    # systemd itself checks the unit, with ExecStart pointing at this checkout's coach.
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is part of systemd (Debian: systemd)"
    coach = Path(sys.executable).parent / "exercise-coach"
    text = unit_path.read_text(encoding="utf-8").replace(
        "%h/exercise-coach/.venv/bin/exercise-coach", str(coach)
    )
    copy = tmp_path / "exercise-coach.service"
    copy.write_text(text, encoding="utf-8")
    checked = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
