"""Runs one session on the event loop: wires a routine, history, grammar and the user's words."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from assistant.clock import EventLoop
from assistant.grammar import Grammar
from assistant.history import History
from assistant.ports import Outcome, Speaker, VoiceControl
from assistant.routine import Routine
from assistant.session import USER_COMMANDS, Session, Timing, sets_for_session

_LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PAIN = 3
"""The session ended because the user reported pain; the advice was given and recorded."""
EXIT_PAIN_DEGRADED = 4
"""Ended for pain, but the advice could not be spoken or the stop could not be recorded."""
EXIT_CRASHED = 5

VOICE_SETTINGS = ("slower", "faster", "louder", "softer")


@dataclass(frozen=True)
class SessionResult:
    """How a session run ended."""

    outcome: Outcome
    session_id: int | None
    pain_failures: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """The process exit status for this outcome."""
        if self.outcome is Outcome.PAIN:
            return EXIT_PAIN_DEGRADED if self.pain_failures else EXIT_PAIN
        if self.outcome is Outcome.CRASHED:
            return EXIT_CRASHED
        return EXIT_OK


def build_session(
    routine: Routine,
    speaker: Speaker,
    loop: EventLoop,
    history: History,
    timing: Timing,
    profile: str,
    sessions_per_extra_set: int,
    voice: VoiceControl | None = None,
) -> Session:
    """A session whose sets follow the person's history."""
    finished = history.finished_since_last_pain(routine.id, profile)
    sets = sets_for_session(routine, finished, sessions_per_extra_set)
    return Session(
        routine, speaker, loop, history, sets=sets, timing=timing, profile=profile, voice=voice
    )


def hear(session: Session, grammar: Grammar, text: str) -> str | None:
    """Act on what the user said or typed; returns the command it matched."""
    command = grammar.match(text)
    if command is None:
        session.not_understood()
    else:
        act(session, command)
    return command


def act(session: Session, command: str) -> None:
    """Hand a grammar command to the session: a trigger, or a change to the voice."""
    if command in USER_COMMANDS:
        session.command(command)
    elif command in VOICE_SETTINGS:
        session.voice_setting(command)


def run_session(
    session: Session,
    loop: EventLoop,
    history: History,
    start_input: Callable[[], None],
) -> SessionResult:
    """Run ``session`` until it ends; a crash or Ctrl-C is recorded, never lost."""
    loop.post(session.begin)
    start_input()
    try:
        loop.run(lambda: session.is_over)
    except KeyboardInterrupt:
        _LOGGER.info("Interrupted: ending the session")
        session.command("stop")
    except Exception:
        _LOGGER.exception("The session loop failed")
        _record_crash(session, history)
        return SessionResult(Outcome.CRASHED, session.session_id)
    outcome = session.outcome or Outcome.STOPPED
    return SessionResult(outcome, session.session_id, tuple(session.pain_failures))


def _record_crash(session: Session, history: History) -> None:
    if session.session_id is None or session.is_over:
        return
    try:
        history.end_session(session.session_id, Outcome.CRASHED, *session.where())
    except Exception:
        _LOGGER.exception("Could not record the crash")
