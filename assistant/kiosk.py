"""Kiosk mode: the coach as an unattended appliance that leads one person after another.

The kiosk waits quietly, listening only for its small waiting grammar (the ``[kiosk.*]``
tables of the grammar file: "start exercises", "start back exercises", "start spine
exercises", a person's number or name from the staff's profiles list, and pain). A start
phrase leads one session with the full session grammar, then the kiosk waits again. Nothing
of one person reaches the next: each session has its own objects and its own clock, whose
timers are all cancelled when it ends; the voice goes back to the kiosk's pace and volume;
the chosen profile is forgotten. A session that crashes is recorded as crashed, the kiosk
says sorry and waits again; pain while waiting gets the same advice as in a session.

People on the staff's list (profiles.py) have their own history and progression; anyone else
is the guest: one set, the first stage, never asked. The wiring to the console, the voice
and the microphone is in kiosk_app.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from assistant import phrases
from assistant.checkin import CheckIns, CheckInTiming
from assistant.clock import EventLoop
from assistant.config import Settings
from assistant.grammar import Grammar
from assistant.history import History
from assistant.ports import Clock, Outcome, Speaker, Timer
from assistant.profiles import Profile
from assistant.progress import GUEST
from assistant.routine import resolve_routine
from assistant.runner import SessionResult, act, build_session, hear, pain_outside_session
from assistant.runner import run_session as run_one_session
from assistant.session import Session, Timing

_LOGGER = logging.getLogger(__name__)

START_ROUTINES = {"start_exercises": None, "start_back": "strong_back", "start_spine": "spine"}
"""The routine each start phrase leads; None: the configured one (``--routine``)."""
CHOSEN_SECONDS = 120.0
"""Session seconds a chosen profile is kept for its "start exercises"."""
ABANDONED_SECONDS = 900.0
"""Session seconds a session may stay paused before the kiosk ends it and waits again."""
WATCH_SECONDS = 10.0
"""How often the kiosk looks for an abandoned session."""


class SessionClock:
    """The loop's clock for one session: closing it cancels every timer the session left.

    A cancelled timer also lets go of its callback, so nothing of the session is kept alive
    by the loop's queue once the session is over.
    """

    def __init__(self, loop: EventLoop) -> None:
        self._loop = loop
        self._live: set[_Handle] = set()
        self._closed = False

    def now(self) -> float:
        """Session seconds, the loop's."""
        return self._loop.now()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` after ``delay`` unless the clock is closed by then."""
        handle = _Handle(None if self._closed else callback, self._live)
        if not self._closed:
            handle.entry = self._loop.call_later(delay, handle.fire)
            self._live.add(handle)
        return handle

    def close(self) -> None:
        """Cancel every timer still to run; later ones are never set."""
        self._closed = True
        for handle in list(self._live):
            handle.cancel()


class _Handle:
    def __init__(self, callback: Callable[[], None] | None, live: set[_Handle]) -> None:
        self.callback = callback
        self.entry: Timer | None = None
        self._live = live

    def fire(self) -> None:
        callback, self.callback = self.callback, None
        self._live.discard(self)
        if callback is not None:
            callback()

    def cancel(self) -> None:
        self.callback = None
        self._live.discard(self)
        if self.entry is not None:
            self.entry.cancel()


class Screen(Protocol):
    """The large-print page, where there is one (kiosk_app.KioskScreen)."""

    def show(self, session: Session) -> None:
        """Follow this session."""

    def clear(self) -> None:
        """Forget the session: the page shows only the waiting words."""


@dataclass(frozen=True)
class KioskParts:
    """What the kiosk runs on, built at the edge (``run_kiosk``) or by a test."""

    settings: Settings
    loop: EventLoop
    history: History
    speaker: Speaker
    session_grammar: Grammar
    waiting_grammar: Grammar
    profiles: tuple[Profile, ...] = ()
    voice: Any = None
    """The VoiceSpeaker, if any: "slower" and "louder" change it, each session resets it."""
    listen: Callable[[str], None] = lambda mode: None
    """Switches the recognizer between "waiting" and "session" grammars."""
    screen: Screen | None = None


class Kiosk:
    """Waits for a start phrase, leads one person's session, and waits again."""

    def __init__(self, parts: KioskParts) -> None:
        self.parts = parts
        self._loop = parts.loop
        self._speaker = parts.speaker
        self._by_command = {p.command: p for p in parts.profiles}
        self._voice_defaults = getattr(parts.voice, "settings", None)
        self._session: Session | None = None
        self._check_ins: CheckIns | None = None
        self._chosen: Profile | None = None
        self._forget: Timer | None = None
        self._start: tuple[str, Profile | None] | None = None
        self._input_over = False
        self.stopping = False
        """Set to end the kiosk (a signal); a session under way is stopped first."""
        self.results: list[tuple[str, SessionResult]] = []
        """(profile, result) of the latest sessions, newest last (a few, for logs and tests)."""

    # ------------------------------------------------------------------ input

    def heard(self, command: str) -> None:
        """A command from the recognizer (loop thread)."""
        if self._session is not None:
            act(self._session, command, self._check_ins)
        else:
            self._waiting_command(command)

    def hear_text(self, text: str) -> None:
        """A typed line (loop thread)."""
        if self._session is not None:
            hear(self._session, self.parts.session_grammar, text, self._check_ins)
            return
        command = self.parts.waiting_grammar.match(text)
        if command is not None:
            self._waiting_command(command)

    def input_ended(self) -> None:
        """No more input will come (typed input closed, recording over): end once waiting."""
        self._input_over = True
        if self._check_ins is not None:
            self._check_ins.input_ended()

    def input_lost(self, what: str = "microphone") -> None:
        """The microphone went away, or the recognizer keeps failing: a session pauses."""
        if self._session is not None:
            self._session.input_lost(what)

    def input_back(self, what: str = "microphone") -> None:
        """The microphone (or the recognizer) works again."""
        if self._session is not None:
            self._session.input_back(what)

    def fault(self, what: str) -> None:
        """A part such as the voice failed: a session under way pauses and says so."""
        if self._session is not None:
            self._session.fault(what)

    # ------------------------------------------------------------------ the cycle

    def run(self) -> None:
        """Wait, lead, wait again: until input ends or ``stopping`` is set."""
        self._speaker.say(phrases.KIOSK_WAITING)
        while True:
            try:
                self._loop.run(lambda: self._start is not None or self._over)
            except KeyboardInterrupt:
                return
            except Exception:
                _LOGGER.exception("The kiosk failed while waiting; waiting again")
                continue
            if self._start is None:
                return
            routine, profile = self._start
            self._start = None
            try:
                self._lead(routine, profile)
            except KeyboardInterrupt:
                return
            if self._over:
                return
            self._speaker.say(phrases.KIOSK_WAITING)

    @property
    def _over(self) -> bool:
        return self._input_over or self.stopping

    def _waiting_command(self, command: str) -> None:
        if command == "pain":
            self._pain_while_waiting()
        elif command in START_ROUTINES:
            routine = START_ROUTINES[command] or self.parts.settings.routine
            self._start = (routine, self._chosen)
        elif command in self._by_command:
            self._choose(self._by_command[command])

    def _choose(self, profile: Profile) -> None:
        self._chosen = profile
        self._speaker.say(phrases.kiosk_hello(profile.name))
        if self._forget is not None:
            self._forget.cancel()
        self._forget = self._loop.call_later(CHOSEN_SECONDS, self._forget_chosen)

    def _forget_chosen(self) -> None:
        self._chosen = None
        if self._forget is not None:
            self._forget.cancel()
            self._forget = None

    def _pain_while_waiting(self) -> None:
        profile = self._chosen.id if self._chosen else GUEST
        self._forget_chosen()
        with self._session_clock() as clock:
            try:
                routine = resolve_routine(self.parts.settings.routine)
                failures = pain_outside_session(
                    routine, self._speaker, clock, self.parts.history, profile
                )
            except Exception:
                _LOGGER.exception("Could not record pain while waiting")
                self._speaker.say(phrases.pain_advice())
                failures = ("history",)
        self._keep(profile, SessionResult(Outcome.PAIN, None, failures))

    def _lead(self, routine_name: str, chosen: Profile | None) -> None:
        """One person's session, from the greeting to the last word; then nothing lingers."""
        self._forget_chosen()
        profile = chosen.id if chosen else GUEST
        self._speaker.say(phrases.kiosk_begin(chosen.name) if chosen else phrases.KIOSK_GUEST)
        result = SessionResult(Outcome.CRASHED, None)
        with self._session_clock() as clock:
            try:
                result = self._run_session(routine_name, profile, clock)
            except Exception:
                _LOGGER.exception("The session of %s could not run", profile)
            finally:
                if self._check_ins is not None:
                    self._check_ins.stop()
                self._session = None
                self._check_ins = None
                self.parts.listen("waiting")
                self._reset_voice()
                if self.parts.screen is not None:
                    self.parts.screen.clear()
        self._keep(profile, result)
        if result.outcome is Outcome.CRASHED:
            self._speaker.say(phrases.KIOSK_SORRY)

    def _run_session(self, routine_name: str, profile: str, clock: Clock) -> SessionResult:
        settings = self.parts.settings
        session = build_session(
            resolve_routine(routine_name),
            self._speaker,
            clock,
            self.parts.history,
            Timing(
                position_seconds=settings.position_seconds,
                move_seconds=settings.move_seconds,
                words_per_minute=settings.words_per_minute,
            ),
            profile,
            settings.sessions_per_extra_set,
            voice=self.parts.voice,
        )
        timing = CheckInTiming(
            reprompt_seconds=settings.reprompt_seconds,
            check_in_seconds=settings.check_in_seconds,
            answer_seconds=settings.check_in_answer_seconds,
        )
        self._check_ins = CheckIns(session, self._speaker, clock, timing)
        self._session = session
        if self.parts.screen is not None:
            self.parts.screen.show(session)
        self.parts.listen("session")
        self._reset_voice()
        self._loop.post(self._check_ins.start)
        if self._input_over:
            self._loop.post(self._check_ins.input_ended)
        self._watch(session, clock, 0.0)
        return run_one_session(session, self._loop, self.parts.history, lambda: None)

    def _watch(self, session: Session, clock: Clock, paused_for: float) -> None:
        """End a session left paused for ``ABANDONED_SECONDS`` (the person has gone)."""
        if session.is_over:
            return
        paused_for = paused_for + WATCH_SECONDS if session.state == "paused" else 0.0
        if paused_for >= ABANDONED_SECONDS:
            _LOGGER.warning(
                "Session %s paused for %.0f s: ending it", session.session_id, paused_for
            )
            session.command("stop")
            return
        clock.call_later(WATCH_SECONDS, lambda: self._watch(session, clock, paused_for))

    @contextmanager
    def _session_clock(self) -> Iterator[SessionClock]:
        clock = SessionClock(self._loop)
        try:
            yield clock
        finally:
            clock.close()

    def _reset_voice(self) -> None:
        if self._voice_defaults is not None:
            self.parts.voice.settings = self._voice_defaults

    def _keep(self, profile: str, result: SessionResult) -> None:
        _LOGGER.info("Session of %s ended: %s", profile, result.outcome.value)
        self.results = [*self.results[-9:], (profile, result)]
