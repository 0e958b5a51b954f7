"""Silence and check-ins: reminders of the words to say, "Are you all right?", and the pause.

Unit tests run the real session on a manual clock with a fake voice and history; the last
test runs the real text-mode command line against the real SQLite history.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes import FakeRecorder, FakeSpeaker

from assistant import phrases
from assistant.checkin import QUIET, CheckIns, CheckInTiming
from assistant.clock import ManualClock
from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.grammar import default_grammar_path, load_grammar
from assistant.history import History
from assistant.ports import Outcome
from assistant.routine import resolve_routine
from assistant.runner import act, hear
from assistant.session import ACTIVE, Session

TIMING = CheckInTiming(reprompt_seconds=15.0, check_in_seconds=120.0, answer_seconds=30.0)
GRAMMAR = load_grammar(default_grammar_path())
HOUR = 3600.0
COACH = (sys.executable, "-m", "assistant")


@dataclass
class StateSpeaker(FakeSpeaker):
    """A FakeSpeaker that also notes the session state each sentence was said in."""

    session: Session | None = None
    states: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        super().say(text)
        self.states.append(self.session.state if self.session is not None else "")


@dataclass
class Rig:
    session: Session
    check_ins: CheckIns
    speaker: StateSpeaker
    clock: ManualClock
    recorder: FakeRecorder

    @property
    def said(self) -> list[str]:
        return self.speaker.said

    def run_until_said(self, text: str, limit: float = HOUR) -> float:
        """Run the clock until ``text`` is said; returns the session time it was said at."""
        start = len(self.said)
        self.clock.run_until(lambda: text in self.said[start:], limit)
        for at, said in self.speaker.timeline[start:]:
            if said == text:
                return at
        raise AssertionError(f"{text!r} not said within {limit} s; state {self.session.state}")

    def times_of(self, text: str) -> list[float]:
        return [at for at, said in self.speaker.timeline if said == text]

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.recorder.events]

    def say(self, text: str) -> None:
        """The user says (or types) ``text``."""
        hear(self.session, GRAMMAR, text, self.check_ins)


def make_rig(routine: str = "strong_back", timing: CheckInTiming = TIMING) -> Rig:
    clock = ManualClock()
    speaker = StateSpeaker(clock)
    recorder = FakeRecorder()
    session = Session(resolve_routine(routine), speaker, clock, recorder)
    speaker.session = session
    check_ins = CheckIns(session, speaker, clock, timing)
    session.begin()
    check_ins.start()
    return Rig(session, check_ins, speaker, clock, recorder)


def test_long_silence_asks_then_reminds_then_pauses_and_records_it() -> None:
    rig = make_rig()
    asked = rig.run_until_said(phrases.CHECK_IN)
    # The whole session so far was under way, and nobody was heard.
    assert TIMING.check_in_seconds <= asked < TIMING.check_in_seconds + 30.0
    assert rig.session.state in ACTIVE
    paused = rig.run_until_said(phrases.NO_ANSWER_PAUSED)
    assert paused - asked == pytest.approx(TIMING.answer_seconds, abs=TIMING.tick_seconds)
    (again,) = [at for at in rig.times_of(phrases.CHECK_IN_AGAIN) if asked < at < paused]
    assert again - asked >= TIMING.reprompt_seconds
    assert rig.session.state == "paused"
    assert rig.session.pause_reason == "no_answer"
    assert rig.kinds()[-2:] == ["no_answer", "pause"]
    _, _, where = rig.recorder.events[-2]
    assert where.startswith("pelvic_tilt set 1 repetition")


def test_check_ins_are_said_in_quiet_moments_never_over_a_count() -> None:
    rig = make_rig("spine", CheckInTiming(check_in_seconds=40.0, answer_seconds=1000.0))
    for _ in range(6):
        rig.run_until_said(phrases.CHECK_IN)
        rig.say("continue")
    for text, state in zip(rig.said, rig.speaker.states, strict=True):
        if text in (phrases.CHECK_IN, phrases.CHECK_IN_AGAIN):
            assert state in QUIET, (text, state)
        if text == phrases.DONE_REMINDER:
            assert state == "release"


def test_continue_answers_a_check_in_and_the_session_carries_on() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.CHECK_IN)
    state = rig.session.state
    rig.say("continue")
    assert rig.said[-1] == phrases.CHECK_IN_ANSWERED
    assert rig.session.state == state
    assert not rig.check_ins.awaiting_answer
    rig.clock.advance(TIMING.check_in_seconds - 5.0)
    assert rig.session.state in ACTIVE
    assert "no_answer" not in rig.kinds()
    assert not any(text.startswith("We are not paused") for text in rig.said)


def test_yes_answers_a_check_in_and_no_pauses_with_advice() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.CHECK_IN)
    rig.say("yes")
    assert rig.said[-1] == phrases.CHECK_IN_ANSWERED
    assert rig.session.state in ACTIVE
    rig.run_until_said(phrases.CHECK_IN)
    rig.say("no")
    assert rig.said[-2:] == [phrases.PAUSED, phrases.CHECK_IN_NOT_ALL_RIGHT]
    assert rig.session.pause_reason == "user"
    assert rig.kinds()[-1] == "pause"
    rig.say("it hurts")
    assert rig.session.outcome is Outcome.PAIN


def test_other_commands_are_acted_on_but_do_not_answer_a_check_in() -> None:
    rig = make_rig()
    asked = rig.run_until_said(phrases.CHECK_IN)
    rig.clock.advance(20.0)
    said = len(rig.said)
    rig.say("help")  # "help, I can't get up" is no "I am all right"
    assert rig.said[said].startswith("You can say")
    assert rig.check_ins.awaiting_answer
    again = rig.run_until_said(phrases.CHECK_IN_AGAIN)
    assert again - (asked + 20.0) <= 15.0
    paused = rig.run_until_said(phrases.NO_ANSWER_PAUSED)
    assert paused - (asked + 20.0) == pytest.approx(TIMING.answer_seconds, abs=1.0)


def test_a_pause_asked_for_during_a_check_in_ends_it() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.CHECK_IN)
    rig.say("pause")
    rig.clock.advance(TIMING.answer_seconds * 3)
    assert rig.session.pause_reason == "user"
    assert "no_answer" not in rig.kinds()
    assert phrases.CHECK_IN_AGAIN not in rig.said[-3:]


def test_words_that_are_no_command_get_the_words_to_say_and_a_fresh_window() -> None:
    rig = make_rig()
    asked = rig.run_until_said(phrases.CHECK_IN)
    rig.clock.advance(20.0)
    rig.say("I can't get up")
    assert rig.said[-1] == phrases.CHECK_IN_AGAIN
    assert phrases.NOT_UNDERSTOOD not in rig.said
    paused = rig.run_until_said(phrases.NO_ANSWER_PAUSED)
    # Not answered (only a command answers), but the window started again at the words.
    assert paused - (asked + 20.0) == pytest.approx(TIMING.answer_seconds, abs=1.0)


def test_words_that_are_no_command_with_no_question_open_are_not_understood() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.RELEASE)
    rig.say("what a lovely day")
    assert rig.said[-1] == phrases.NOT_UNDERSTOOD


@pytest.mark.parametrize("when", ["during the check-in", "paused by it"])
def test_pain_works_during_a_check_in_and_while_paused_by_one(when: str) -> None:
    rig = make_rig()
    rig.run_until_said(phrases.CHECK_IN)
    if when == "paused by it":
        rig.run_until_said(phrases.NO_ANSWER_PAUSED)
    rig.say("it hurts")
    assert rig.session.outcome is Outcome.PAIN
    assert rig.said[-1] == phrases.pain_advice()
    assert rig.kinds()[-1] == "pain"
    said = len(rig.said)
    rig.clock.advance(HOUR)
    assert len(rig.said) == said, "nothing more after pain"


def test_continue_resumes_a_session_paused_for_no_answer() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.NO_ANSWER_PAUSED)
    rig.clock.advance(100.0)
    rig.say("continue")
    assert rig.said[-1] != phrases.CHECK_IN_ANSWERED
    assert phrases.RESUMING in rig.said
    assert rig.session.state in ACTIVE
    assert rig.kinds()[-1] == "resume"
    # The silence starts again from the answer.
    resumed = rig.clock.now()
    assert rig.run_until_said(phrases.CHECK_IN) - resumed >= TIMING.check_in_seconds


def test_paused_reminders_double_up_to_the_check_in_interval() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.RELEASE)
    rig.say("pause")
    paused_at = rig.clock.now()
    rig.clock.advance(1000.0)
    times = rig.times_of(phrases.PAUSED_REMINDER)
    assert times[0] - paused_at == pytest.approx(TIMING.reprompt_seconds, abs=TIMING.tick_seconds)
    gaps = [round(b - a) for a, b in itertools.pairwise(times)]
    assert gaps == [30, 60, *[120] * 7]
    assert rig.session.state == "paused"
    assert "no_answer" not in rig.kinds(), "a pause asked for is not a silence"


@pytest.mark.parametrize("lost", ["microphone", "recognizer"])
def test_no_reminders_while_nothing_can_be_heard_and_no_silence_counted(lost: str) -> None:
    rig = make_rig()
    rig.clock.advance(60.0)
    rig.session.input_lost(lost)
    assert rig.session.pause_reason == lost
    rig.clock.advance(1000.0)
    assert phrases.PAUSED_REMINDER not in rig.said
    assert phrases.CHECK_IN not in rig.said
    rig.session.input_back(lost)
    back = rig.clock.now()
    asked = rig.run_until_said(phrases.CHECK_IN)
    # 60 s of silence before the loss, the rest after it: the paused time did not count.
    assert asked - back >= TIMING.check_in_seconds - 60.0 - TIMING.tick_seconds


def test_until_tired_sets_remind_say_done_and_fixed_sets_do_not() -> None:
    spine = make_rig("spine", CheckInTiming(reprompt_seconds=15.0, check_in_seconds=HOUR))
    spine.clock.run_until(lambda: spine.session.exercise.id != "neck_press", HOUR)
    reminders = spine.times_of(phrases.DONE_REMINDER)
    assert len(reminders) >= 2
    gaps = [b - a for a, b in itertools.pairwise(reminders)]
    assert all(later >= earlier for earlier, later in itertools.pairwise(gaps))
    strong = make_rig("strong_back", CheckInTiming(reprompt_seconds=15.0, check_in_seconds=HOUR))
    strong.clock.run_until(lambda: strong.session.is_over, 4 * HOUR)
    assert strong.session.outcome is Outcome.FINISHED
    assert phrases.DONE_REMINDER not in strong.said


def test_done_said_ends_the_reminders_of_that_set() -> None:
    rig = make_rig("spine", CheckInTiming(reprompt_seconds=15.0, check_in_seconds=HOUR))
    rig.run_until_said(phrases.DONE_REMINDER)
    rig.clock.run_until(lambda: rig.session.state == "lift", HOUR)
    rig.say("i'm done")
    assert rig.session.exercise.id == "extensor_strengthening"
    before = len(rig.times_of(phrases.DONE_REMINDER))
    rig.clock.run_until(lambda: rig.session.state == "lift", HOUR)
    rig.clock.advance(10.0)
    assert len(rig.times_of(phrases.DONE_REMINDER)) == before


def test_when_typed_input_ends_the_session_goes_on_unattended() -> None:
    rig = make_rig()
    rig.check_ins.input_ended()
    rig.clock.run_until(lambda: rig.session.is_over, 4 * HOUR)
    assert rig.session.outcome is Outcome.FINISHED
    assert phrases.CHECK_IN not in rig.said


def test_check_ins_stop_when_the_session_ends() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.RELEASE)
    rig.say("stop")
    rig.clock.advance(10.0)
    assert rig.clock.next_due() is None, "no tick left running after the end"


def test_a_voice_failing_on_the_check_in_does_not_stop_the_watch() -> None:
    rig = make_rig()
    speaker = rig.speaker
    plain_say = speaker.say

    def say(text: str) -> None:
        if text.startswith("Are you all right?"):
            raise OSError("voice is broken")
        plain_say(text)

    speaker.say = say  # type: ignore[method-assign]
    rig.clock.run_until(lambda: rig.check_ins.asked == 1, HOUR)
    assert phrases.CHECK_IN not in rig.said
    rig.run_until_said(phrases.NO_ANSWER_PAUSED)
    assert rig.session.pause_reason == "no_answer"


def test_voice_commands_go_through_the_check_ins_too() -> None:
    rig = make_rig()
    rig.run_until_said(phrases.CHECK_IN)
    act(rig.session, "resume", rig.check_ins)
    assert rig.said[-1] == phrases.CHECK_IN_ANSWERED


def test_thresholds_come_from_file_environment_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("check_in_seconds = 600\nreprompt_seconds = 20\n", "utf-8")
    env = {"EXERCISE_COACH_CHECK_IN_ANSWER_SECONDS": "45"}
    settings = load_settings({"reprompt_seconds": 10.0}, env, config)
    assert settings.check_in_seconds == 600.0
    assert settings.check_in_answer_seconds == 45.0
    assert settings.reprompt_seconds == 10.0
    with pytest.raises(ConfigError, match="check_in_seconds must be a number > 0"):
        load_settings({}, {"EXERCISE_COACH_CHECK_IN_SECONDS": "0"}, config)


# ------------------------------------------------------------------ end to end, real CLI


def _wait_for(lines: list[str], read: Callable[[], str], text: str) -> None:
    while True:
        line = read()
        assert line, f"the coach ended before saying {text!r}: {lines[-5:]}"
        lines.append(line)
        if text in line:
            return


def test_silent_user_is_asked_then_paused_and_it_is_in_the_real_history(
    _private_dirs: Path,
) -> None:
    env = {**os.environ, "EXERCISE_COACH_CHECK_IN_SECONDS": "60"}
    coach = subprocess.Popen(
        [*COACH, "run", "--text", "--routine", "spine", "--time-scale", "0.002"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert coach.stdin is not None and coach.stdout is not None
    lines: list[str] = []
    try:
        _wait_for(lines, coach.stdout.readline, phrases.CHECK_IN)
        _wait_for(lines, coach.stdout.readline, phrases.NO_ANSWER_PAUSED)
        time.sleep(0.5)  # paused: nothing moves on while the user is silent
        coach.stdin.write("carry on\n")
        coach.stdin.flush()
        _wait_for(lines, coach.stdout.readline, phrases.RESUMING)
        coach.stdin.write("end session\n")
        coach.stdin.close()
        status = coach.wait(timeout=60)
        lines.extend(coach.stdout.readlines())
    finally:
        if coach.poll() is None:
            coach.kill()
            coach.wait()
        coach.stdout.close()
    said = "".join(lines)
    assert status == 0, said[-2000:]
    assert "Lift." not in said.split(phrases.NO_ANSWER_PAUSED)[1].split(phrases.RESUMING)[0]
    with History(_private_dirs / "history.sqlite3") as history:
        (session,) = history.recent_sessions()
        kinds = [event.kind for event in history.events_of(session.id)]
    assert session.outcome is Outcome.STOPPED
    assert kinds[:3] == ["no_answer", "pause", "resume"]
