"""Random commands and random waits against a session: what must hold whatever the user says."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from fakes import FakeRecorder, FakeSpeaker
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from test_session import APPLIES

from assistant import phrases
from assistant.clock import ManualClock
from assistant.ports import Outcome
from assistant.routine import Routine, resolve_routine
from assistant.session import ACTIVE, LIVE, STATES, USER_COMMANDS, Session, Timing

ROUTINES = ("strong_back", "spine")
ALL_STATES = {state["name"] for state in STATES}
PAIN_ADVICE = phrases.pain_advice()
NUMBER_LINES = {phrases.number(n) + "." for n in range(1, 100)}
REST_TICKS = {phrases.rest_left(p): p for p in (60.0, 30.0, 10.0)}
REST_START = "Well done. Rest for"
SESSION_LIMIT = 3 * 3600.0
"""Session seconds within which any session must end once nobody says anything."""
EPSILON = 1e-6

_EVERYDAY = tuple(name for name in USER_COMMANDS if name not in ("pain", "stop"))
COMMANDS = _EVERYDAY * 6 + ("pain", "stop")
"""Weighted so that most runs go on for a while before they end."""


@functools.cache
def routine(name: str) -> Routine:
    """A built-in routine, loaded once."""
    return resolve_routine(name)


@dataclass(frozen=True)
class Said:
    """A sentence, with the session's state and exercise when it was said."""

    at: float
    text: str
    state: str
    exercise: str
    during: str | None
    """The command being handled when it was said; None for the session's own timers."""


@dataclass
class Heard:
    """A command the user gave; ``acted`` and ``after`` are filled in once it is handled."""

    at: float
    command: str
    before: str
    acted: bool = False
    after: str = ""


@dataclass
class TracingSpeaker(FakeSpeaker):
    """A FakeSpeaker that logs each sentence with the session's state, among the commands."""

    session: Session | None = None
    during: str | None = None
    log: list[Said | Heard] = field(default_factory=list)

    def say(self, text: str) -> None:
        super().say(text)
        assert self.session is not None
        self.log.append(
            Said(self.clock.now(), text, self.session.state, self.session.exercise.id, self.during)
        )


@dataclass
class _Hold:
    next_at: float
    step: float
    counted: int
    counts: int
    last_at: float = 0.0


@dataclass
class _Rest:
    end: float
    length: float


def _close(a: float, b: float) -> bool:
    return abs(a - b) < EPSILON


def check_timing(log: list[Said | Heard], r: Routine, timing: Timing) -> None:
    """Hold counts come exactly count_seconds apart; rests last exactly their length.

    Pauses keep the time left (plus the move time for a hold), "longer rest" grows the
    rest to the next length; "next", "ready", "done", "stop" and "pain" end the tracking.
    """
    lengths = r.longer_rest_seconds
    level = -1
    hold: _Hold | None = None
    rest: _Rest | None = None
    # While paused, next_at and end hold the seconds that were left instead of a time.
    paused_hold: _Hold | None = None
    paused_rest: _Rest | None = None
    for event in log:
        if isinstance(event, Heard):
            if not event.acted or event.command in ("repeat", "help"):
                continue
            if event.command.startswith("microphone") and "paused" not in (
                event.before,
                event.after,
            ):
                continue
            at, name = event.at, event.command
            if name == "longer_rest":
                grown = min(level + 1, len(lengths) - 1)
                if grown != level:
                    level = grown
                    for tracked in (rest, paused_rest):
                        if tracked is not None and lengths[level] > tracked.length:
                            tracked.end += lengths[level] - tracked.length
                            tracked.length = lengths[level]
            elif name in ("pause", "microphone_lost"):
                if hold is not None:
                    hold.next_at -= at
                if rest is not None:
                    rest.end -= at
                paused_hold, paused_rest, hold, rest = hold, rest, None, None
            elif name in ("resume", "microphone_back"):
                if event.after == "hold" and paused_hold is not None:
                    hold = paused_hold
                    hold.next_at += at + timing.move_seconds
                if event.after == "rest" and paused_rest is not None:
                    rest = paused_rest
                    rest.end += at
                paused_hold = paused_rest = None
            else:
                hold = rest = None
                paused_hold = paused_rest = None
            continue
        if event.during in ("repeat", "help"):
            continue
        ex = r.exercise(event.exercise)
        text = event.text
        if hold is not None:
            if text in NUMBER_LINES and event.state == "hold":
                assert hold.counted < hold.counts, f"too many counts at {event.at}"
                assert _close(event.at, hold.next_at), (event, hold)
                assert text == phrases.number(hold.counted + 1) + ".", (event, hold)
                hold.counted += 1
                hold.last_at = event.at
                hold.next_at += hold.step
            elif text == phrases.RELEASE:
                assert hold.counted == hold.counts, f"released after {hold.counted} counts"
                assert _close(event.at, hold.last_at), (event, hold)
                hold = None
            elif event.during is None:
                raise AssertionError(f"{text!r} said in the middle of a hold at {event.at}")
        if rest is not None:
            if text in REST_TICKS and event.during is None:
                assert _close(event.at, rest.end - REST_TICKS[text]), (event, rest)
            elif text == phrases.REST_OVER and event.during is None:
                assert _close(event.at, rest.end), (event, rest)
                rest = None
            elif event.state != "rest" and event.during is None:
                raise AssertionError(f"the rest ended without 'Rest is over' at {event.at}")
        if text == phrases.hold(ex) and event.state == "hold" and event.during is None:
            assert hold is None
            step = ex.hold.count_seconds
            hold = _Hold(event.at + step, step, 0, ex.hold.counts)
        elif text.startswith(REST_START) and event.state == "rest":
            base = ex.rest_between_sets_seconds
            length = base if level < 0 else max(base, lengths[level])
            assert text == phrases.rest_start(length), (text, length)
            rest = _Rest(event.at + length, length)


class SessionMachine(RuleBasedStateMachine):
    """Drives one session with random commands and random waits."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.speaker = TracingSpeaker(self.clock)
        self.recorder = FakeRecorder()
        self._session: Session | None = None
        self.routine = routine(ROUTINES[0])
        self.ended: tuple[str, int] | None = None
        self.microphone_lost = False
        """State and sentences said when the session first reached a final state."""

    @property
    def session(self) -> Session:
        assert self._session is not None
        return self._session

    @initialize(
        name=st.sampled_from(ROUTINES),
        sets=st.integers(min_value=1, max_value=3),
        begin=st.booleans(),
    )
    def start(self, name: str, sets: int, begin: bool) -> None:
        """A session, begun or still waiting in "ready"."""
        self.routine = routine(name)
        plan = {ex.id: sets for ex in self.routine.exercises}
        self._session = Session(self.routine, self.speaker, self.clock, self.recorder, sets=plan)
        self.speaker.session = self._session
        if begin:
            self._session.begin()

    # ---------------------------------------------------------------- rules

    @precondition(lambda self: self._session is not None and self.session.state == "ready")
    @rule()
    def begin(self) -> None:
        self.session.begin()

    @rule(command=st.sampled_from(COMMANDS))
    def say(self, command: str) -> None:
        self._command(command)

    @rule(seconds=st.floats(min_value=0.0, max_value=90.0, allow_nan=False))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(timers=st.integers(min_value=1, max_value=40))
    def let_timers_run(self, timers: int) -> None:
        for _ in range(timers):
            due = self.clock.next_due()
            if due is None:
                return
            self.clock.advance(due - self.clock.now())

    @rule(fraction=st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
    def part_way_to_the_next_timer(self, fraction: float) -> None:
        due = self.clock.next_due()
        if due is not None:
            self.clock.advance((due - self.clock.now()) * fraction)

    @rule(lost=st.booleans())
    def microphone(self, lost: bool) -> None:
        """The microphone goes away or comes back: a lost one pauses a session under way."""
        session = self.session
        before = session.state
        heard = Heard(self.clock.now(), "microphone_lost" if lost else "microphone_back", before)
        self.speaker.log.append(heard)
        self.speaker.during = heard.command
        try:
            (session.input_lost if lost else session.input_back)()
        finally:
            self.speaker.during = None
        heard.after = session.state
        heard.acted = heard.after != before
        if lost and before in ACTIVE and not self.microphone_lost:
            assert session.state == "paused"
        self.microphone_lost = lost
        if before not in ACTIVE and before != "paused":
            assert session.state == before

    def _command(self, command: str) -> None:
        session = self.session
        before = session.state
        expected = before in APPLIES[command]
        if command == "done" and not session.exercise.reps.until_tired:
            expected = False
        available = session.available()
        said = len(self.speaker.said)
        heard = Heard(self.clock.now(), command, before)
        self.speaker.log.append(heard)
        self.speaker.during = command
        try:
            heard.acted = session.command(command)
        finally:
            self.speaker.during = None
        heard.after = session.state
        if before not in LIVE:
            assert session.state == before
            assert len(self.speaker.said) == said, "nothing is said after the end"
            return
        assert (command in available) == expected, (command, before, available)
        if command == "pain":
            assert session.state == "ended_for_pain"
        elif command == "stop":
            assert session.state == "stopped"
        elif not expected:
            assert heard.acted is False
            assert session.state == before
            assert len(self.speaker.said) == said + 1, f"{command} in {before}: no answer"
        else:
            assert heard.acted is True

    # ----------------------------------------------------------- invariants

    @invariant()
    def state_is_one_of_the_machines(self) -> None:
        if self._session is not None:
            assert self.session.state in ALL_STATES

    @invariant()
    def final_stays_final_and_silent(self) -> None:
        if self._session is None or not self.session.is_over:
            return
        now = (self.session.state, len(self.speaker.said))
        if self.ended is None:
            self.ended = now
        assert now == self.ended, "a final state moved, or the coach spoke after the end"
        assert all(s["how"] is not None for s in self.recorder.sets.values()), "a set left open"

    @invariant()
    def pain_advice_is_the_last_word(self) -> None:
        if PAIN_ADVICE not in self.speaker.said:
            return
        assert self.session.state == "ended_for_pain"
        assert self.speaker.said[-1] == PAIN_ADVICE
        assert self.speaker.said.count(PAIN_ADVICE) == 1
        assert self.session.outcome is Outcome.PAIN
        if self.session.session_id is not None:
            record = self.recorder.sessions[self.session.session_id]
            assert record["outcome"] is Outcome.PAIN
        assert self.session.pain_failures == []

    @invariant()
    def a_running_session_always_has_a_timer(self) -> None:
        if self._session is not None and self.session.state in ACTIVE:
            assert self.clock.next_due() is not None, f"stuck in {self.session.state}"

    # ------------------------------------------------------------- the end

    def teardown(self) -> None:
        if self._session is None:
            return
        session = self.session
        if session.state == "ready":
            session.begin()
        if session.state == "paused":
            self._command("resume")
        start = self.clock.now()
        self.clock.run_until(lambda: session.is_over, limit=SESSION_LIMIT)
        waited = self.clock.now() - start
        assert session.is_over, (
            f"no end within {SESSION_LIMIT:g} s: {session.state} after {waited:g}"
        )
        self.final_stays_final_and_silent()
        self.pain_advice_is_the_last_word()
        check_timing(self.speaker.log, self.routine, Timing())


SessionMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionMachine = SessionMachine.TestCase


def test_check_timing_sees_a_late_count() -> None:
    """The timing check itself fails on a count that comes late."""
    r = routine("strong_back")
    ex = r.exercises[0]
    log: list[Said | Heard] = [
        Said(10.0, phrases.hold(ex), "hold", ex.id, None),
        Said(11.0, "one.", "hold", ex.id, None),
        Said(12.5, "two.", "hold", ex.id, None),
    ]
    try:
        check_timing(log, r, Timing())
    except AssertionError:
        return
    raise AssertionError("a late count went unnoticed")
