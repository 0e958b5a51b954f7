"""Runs one session on the event loop: wires a routine, history, grammar and the user's words."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from assistant.checkin import CheckIns
from assistant.clock import EventLoop
from assistant.grammar import Grammar
from assistant.history import History
from assistant.ports import Clock, Outcome, Speaker, VoiceControl
from assistant.progress import Progress
from assistant.resume import find_resume_point
from assistant.routine import Routine
from assistant.session import USER_COMMANDS, Session, Timing

_LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PAIN = 3
"""The session ended because the user reported pain; the advice was given and recorded."""
EXIT_PAIN_DEGRADED = 4
"""Ended for pain, but the advice could not be spoken or the stop could not be recorded."""
EXIT_CRASHED = 5

VOICE_SETTINGS = ("slower", "faster", "louder", "softer")
PROGRESS_COMMANDS = ("yes", "no", "easier")
"""Answers to "Was that easy?" and "make it easier", for the person's progression."""


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
    loop: Clock,
    history: History,
    timing: Timing,
    profile: str,
    sessions_per_extra_set: int,
    voice: VoiceControl | None = None,
) -> Session:
    """A session that follows the person's progression; it offers to go on after a crash.

    The guest profile starts from the first level every time, and is never offered to go
    on from someone else's session.
    """
    progress = Progress(
        routine,
        history,
        speaker,
        loop,
        profile,
        sessions_per_extra_set,
        lambda: pain_outside_session(routine, speaker, loop, history, profile),
    )
    plan = progress.plan
    session = Session(
        plan.routine,
        speaker,
        loop,
        history,
        sets=plan.sets,
        stages=plan.stages,
        timing=timing,
        profile=profile,
        voice=voice,
        progress=progress,
    )
    if not progress.guest:
        point = find_resume_point(history, routine.id, profile, session.exercises, plan.sets)
        if point is not None:
            session.offer_resume(point)
    return session


def pain_outside_session(
    routine: Routine, speaker: Speaker, clock: Clock, history: History, profile: str
) -> tuple[str, ...]:
    """Pain said while no session runs: the same advice, kept as a session ended for pain.

    Returns what failed while handling it, as ``Session.pain_failures``.
    """
    session = Session(routine, speaker, clock, history, profile=profile)
    session.report_pain()
    return tuple(session.pain_failures)


def hear(
    session: Session, grammar: Grammar, text: str, check_ins: CheckIns | None = None
) -> str | None:
    """Act on what the user said or typed; returns the command it matched."""
    command = grammar.match(text)
    if command is None:
        if check_ins is None or not check_ins.heard_other():
            session.not_understood()
    else:
        act(session, command, check_ins)
    return command


def act(session: Session, command: str, check_ins: CheckIns | None = None) -> None:
    """Hand a grammar command to the session: a trigger, or a change to the voice.

    ``check_ins`` hear it first: "continue" may be the answer to "Are you all right?".
    """
    if check_ins is not None and check_ins.heard(command):
        return
    progress = session.progress
    over = session.is_over and session.outcome is not Outcome.PAIN
    if progress is not None and (command in PROGRESS_COMMANDS or over):
        # Once the session is over only its progression listens (the last question, pain).
        progress.hear(session.session_id, command)
    elif command in USER_COMMANDS:
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
    result = SessionResult(outcome, session.session_id, tuple(session.pain_failures))
    return _conclude(session, loop, result)


def _conclude(session: Session, loop: EventLoop, result: SessionResult) -> SessionResult:
    """The person's progression after the session: the last question, then the changes."""
    progress = session.progress
    if progress is None:
        return result
    try:
        if result.outcome is Outcome.FINISHED:
            progress.ask_last(session.session_id)
            loop.run(lambda: not progress.awaiting_answer)
    except KeyboardInterrupt:
        _LOGGER.info("Interrupted while waiting for an answer")
    except Exception:
        _LOGGER.exception("The loop failed while waiting for an answer")
    finally:
        progress.conclude(session.session_id, result.outcome)
    if progress.pain_after is not None:
        return SessionResult(Outcome.PAIN, result.session_id, progress.pain_after)
    return result


def _record_crash(session: Session, history: History) -> None:
    if session.session_id is None or session.is_over:
        return
    try:
        history.end_session(session.session_id, Outcome.CRASHED, *session.where())
    except Exception:
        _LOGGER.exception("Could not record the crash")
