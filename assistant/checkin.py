"""Silence and check-ins: the person on the floor is never left talking to nobody.

The coach leads a session without needing to hear anything, so silence is normal; two
kinds of it are not:

- a question left unanswered. Where the coach waits for words (paused: "say continue";
  an until-tired set: "say done when you are tired"; a check-in), it says the words again
  after ``reprompt_seconds`` of silence, then after twice that, and so on, up to
  ``check_in_seconds`` between reminders. "Say ready when you are in position" and the end
  of a rest are not questions: the coach goes on by itself when their time is up.
- a long silence. After ``check_in_seconds`` of a session under way without hearing the user,
  the coach asks "Are you all right? Say continue, or say pain if something hurts." The
  session carries on meanwhile; with no answer within ``answer_seconds`` it pauses and records
  a "no_answer" event (``Session.pause_unanswered``), and the paused reminders follow.

Only "continue" or "yes" answers a check-in; "no" pauses the session and says to rest, to
say pain if something hurts, and to call for help if the user cannot get up.

What counts as hearing the user: a command (typed, or heard by the recognizer after the echo
guard), and typed words that are no command. Either ends the silence, but neither answers a
check-in ("help, I can't get up" is no "I am all right"): a command is acted on as usual,
and the coach says the words to say again with a fresh answer window. In a spoken session
only commands are heard: the coach's own voice reaches the microphone, so raw speech cannot
tell the user from the coach.

Pure: runs on the session's clock (one tick a second of session time) and reads the
session's state; it speaks through the same speaker and never touches audio.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from assistant import phrases
from assistant.ports import Clock, Speaker, Timer
from assistant.session import ACTIVE

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckInTiming:
    """When the coach reminds and checks in; everything in seconds of session time."""

    reprompt_seconds: float = 15.0
    """Silence after a question before the coach says the words to say again (then doubling)."""
    check_in_seconds: float = 300.0
    """Silence during a session under way before the coach asks "Are you all right?"."""
    answer_seconds: float = 30.0
    """Time to answer a check-in before the coach pauses the session and records it."""
    tick_seconds: float = 1.0
    """How often the rules are looked at."""


@dataclass(frozen=True)
class Question:
    """Something the coach is waiting to hear, and what it says when nothing comes."""

    name: str
    reminder: str
    say_in: frozenset[str]
    """States the reminder may be said in: quiet moments, never over a hold count."""


QUIET = frozenset({"release", "rest", "position"})
"""States with no count running, where a check-in or reminder can be said."""

CHECK_IN = Question("check_in", phrases.CHECK_IN_AGAIN, QUIET)
PAUSED = Question("paused", phrases.PAUSED_REMINDER, frozenset({"paused"}))
UNTIL_TIRED = Question("until_tired", phrases.DONE_REMINDER, frozenset({"release"}))

_SET_STATES = frozenset({"lift", "hold", "release"})
INPUT_LOST = frozenset({"microphone", "recognizer"})
"""Pause reasons for which the user cannot be heard, so reminders would go unanswered."""


class Watched(Protocol):
    """What check-ins read and do on the session (session.Session)."""

    @property
    def state(self) -> str:
        """The machine state."""

    @property
    def is_over(self) -> bool:
        """True once the session has ended."""

    @property
    def open_ended(self) -> bool:
        """True if the current set runs until the user is tired."""

    @property
    def pause_reason(self) -> str | None:
        """Why the session is paused, or None."""

    def command(self, name: str) -> bool:
        """Act on a user command."""

    def pause_unanswered(self) -> None:
        """Pause because a check-in got no answer, and record it."""


class CheckIns:
    """Watches for silence during one session; call ``start`` once the loop runs it."""

    def __init__(
        self,
        session: Watched,
        speaker: Speaker,
        clock: Clock,
        timing: CheckInTiming | None = None,
    ) -> None:
        self._session = session
        self._speaker = speaker
        self._clock = clock
        self.timing = timing or CheckInTiming()
        self._timer: Timer | None = None
        self._last_tick = 0.0
        self._silent = 0.0
        """Seconds of session under way since the user was last heard."""
        self._asked_at: float | None = None
        """When "Are you all right?" was asked, while its answer is awaited."""
        self._question: Question | None = None
        self._remind_at = 0.0
        self._gap = self.timing.reprompt_seconds
        self.asked = 0
        """Check-ins asked this session, for logs and tests."""

    @property
    def awaiting_answer(self) -> bool:
        """True while a check-in waits for its answer."""
        return self._asked_at is not None

    def start(self) -> None:
        """Begin watching (on the loop thread)."""
        self._last_tick = self._clock.now()
        self._timer = self._clock.call_later(self.timing.tick_seconds, self._tick)

    def stop(self) -> None:
        """Stop watching: no more reminders or check-ins."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._asked_at = None

    def input_ended(self) -> None:
        """Nobody can answer any more (typed input closed): stop rather than pause for nobody."""
        _LOGGER.info("Input ended: no more check-ins this session")
        self.stop()

    def heard(self, command: str) -> bool:
        """The user said ``command``; True if it was the answer to a check-in and needs no more.

        "continue" (the resume command) or "yes" answers a check-in; "no" pauses the session.
        Any other command is acted on as usual but answers nothing ("help, I can't get up"
        is no "I am all right"): the words to say come again, with a fresh answer window.
        """
        self._silent = 0.0
        if self._asked_at is None:
            self._question = None  # the next tick starts any reminder afresh
            return False
        if command in ("resume", "yes"):
            self._close_check_in()
            self._say(phrases.CHECK_IN_ANSWERED)
            return True
        if command == "no":
            self._close_check_in()
            self._session.command("pause")
            self._say(phrases.CHECK_IN_NOT_ALL_RIGHT)
            return True
        self._asked_at = self._remind_at = self._clock.now()
        return False

    def heard_other(self) -> bool:
        """Words that are no command; True if the words to say were said in reply.

        They end the silence but answer no check-in: the check-in gets a fresh window.
        """
        asking = self._asked_at is not None
        self._silent = 0.0
        question = CHECK_IN if asking else self._open_question()
        if question is None:
            return False
        if asking:
            self._asked_at = self._clock.now()
        self._say(question.reminder)
        self._question = question
        self._remind_after(self.timing.reprompt_seconds)
        return True

    # ---------------------------------------------------------------- the rules

    def _tick(self) -> None:
        self._timer = None
        if self._session.is_over:
            return
        now = self._clock.now()
        state = self._session.state
        if state in ACTIVE:
            self._silent += now - self._last_tick
        self._last_tick = now
        if self._asked_at is not None and state not in ACTIVE:
            self._asked_at = None  # paused by a command or by the microphone
        question = self._open_question()
        if question != self._question:
            self._question = question
            self._remind_after(self.timing.reprompt_seconds)
        if self._asked_at is not None and now - self._asked_at >= self.timing.answer_seconds:
            self._no_answer()
        elif (
            self._asked_at is None
            and state in QUIET
            and self._silent >= self.timing.check_in_seconds
        ):
            self._check_in(now)
        elif question is not None and now >= self._remind_at and state in question.say_in:
            self._say(question.reminder)
            self._remind_after(min(2 * self._gap, self.timing.check_in_seconds))
        self._timer = self._clock.call_later(self.timing.tick_seconds, self._tick)

    def _open_question(self) -> Question | None:
        session = self._session
        if self._asked_at is not None:
            return CHECK_IN
        if session.state == "paused":
            # Paused because nothing can be heard: asking is no use; the input's return resumes.
            return None if session.pause_reason in INPUT_LOST else PAUSED
        if session.state in _SET_STATES and session.open_ended:
            return UNTIL_TIRED
        return None

    def _check_in(self, now: float) -> None:
        self.asked += 1
        self._asked_at = now
        self._say(phrases.CHECK_IN)
        self._question = CHECK_IN
        self._remind_after(self.timing.reprompt_seconds)

    def _no_answer(self) -> None:
        _LOGGER.warning("No answer to a check-in: pausing the session")
        self._asked_at = None
        self._silent = 0.0
        self._session.pause_unanswered()

    def _close_check_in(self) -> None:
        self._asked_at = None
        self._question = None

    def _remind_after(self, gap: float) -> None:
        self._gap = gap
        self._remind_at = self._clock.now() + gap

    def _say(self, text: str) -> None:
        try:
            self._speaker.say(text)
        except Exception:
            _LOGGER.exception("Could not say a check-in")
