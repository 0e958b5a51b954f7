"""One person's progression through one session: the plan, "Was that easy?", the changes.

The rules are in progression.py (pure); this applies them to one session and a history
file, and says every change aloud as it is made. Changes take effect from the next session:
the exercises of a session under way stay as they were announced. A person's progression is
theirs (``profile``); the guest profile never accumulates any: it always starts at the first
level and is never asked.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from assistant import phrases, progression
from assistant.history import History
from assistant.ports import Clock, Outcome, Speaker, Timer
from assistant.progression import Change, Plan
from assistant.routine import Exercise, Routine

_LOGGER = logging.getLogger(__name__)

GUEST = "guest"
"""The profile of someone not on the kiosk's list: the first level every time."""

ANSWER_SECONDS = 20.0
"""Session seconds, after a session ends, to hear the summary and the question held back
for the last exercise and to answer it."""


class Progress:
    """The person's progression during one session (``progression.SessionProgress``)."""

    def __init__(
        self,
        routine: Routine,
        history: History,
        speaker: Speaker,
        clock: Clock,
        profile: str,
        sessions_per_extra_set: int,
        report_pain: Callable[[], tuple[str, ...]],
    ) -> None:
        """``report_pain`` handles pain said once the session is over (see ``hear``)."""
        self._routine = routine
        self._history = history
        self._speaker = speaker
        self._clock = clock
        self._profile = profile
        self._per = sessions_per_extra_set
        self._report_pain = report_pain
        self.guest = profile == GUEST
        self._changes: list[Change] = [] if self.guest else history.changes(profile, routine.id)
        pasts = [] if self.guest else history.pasts(profile)
        level = progression.sets_level(routine, pasts, self._changes, self._per)
        self.plan: Plan = progression.plan(routine, self._changes, level, self._per)
        """What this session does for the person."""
        exercises = self.plan.routine.session_exercises(self.plan.stages)
        self._last_id = exercises[-1].id if exercises else None
        self._steps: dict[str, Change] = {}
        """Exercises asked about this session, and where a "yes" leads."""
        self._asking: str | None = None
        self._held: Exercise | None = None
        self._timer: Timer | None = None
        self._pain: tuple[str, ...] | None = None

    @property
    def awaiting_answer(self) -> bool:
        """True while "Was that easy?" waits for its answer."""
        return self._asking is not None

    @property
    def pain_after(self) -> tuple[str, ...] | None:
        """Set when pain was said after the session ended: what failed while handling it."""
        return self._pain

    def after_exercise(self, session_id: int | None, exercise: Exercise, reps: int) -> None:
        """Ask "Was that easy?" where a yes could lead somewhere; of the last, at the end."""
        if self.guest:
            return
        sets = self.plan.sets.get(exercise.id, 1)
        step = progression.step_for(self._routine, self._changes, exercise.id, sets, reps)
        if step is None:
            return
        self._steps[exercise.id] = step
        if exercise.id == self._last_id:
            # The session ends next: asked after the summary, so the answer has time.
            self._held = exercise
            return
        self._asking = exercise.id
        self._speaker.say(phrases.EASY_QUESTION)

    def ask_last(self, session_id: int | None) -> None:
        """Ask about the last exercise, once the session is over; wait ``ANSWER_SECONDS``.

        A question asked during the session and never answered is dropped first.
        """
        self._stop_waiting()
        exercise, self._held = self._held, None
        if exercise is None or self._pain is not None:
            return
        self._asking = exercise.id
        self._speaker.say(phrases.easy_question_after(exercise))
        self._timer = self._clock.call_later(ANSWER_SECONDS, self._stop_waiting)

    def hear(self, session_id: int | None, command: str) -> None:
        """ "yes" or "no" to the question, "easier" to undo a step; "pain" after the end."""
        if command == "pain":
            self._stop_waiting()
            if self._pain is None:
                self._pain = self._report_pain()
        elif command == "easier":
            self._easier(session_id)
        elif command in ("yes", "no"):
            self._answer(session_id, command == "yes")

    def conclude(self, session_id: int | None, outcome: Outcome) -> None:
        """Decide, record and say the changes the session earned (finished, or pain)."""
        self._stop_waiting()
        if self._pain is not None:
            outcome = Outcome.PAIN
        if self.guest or session_id is None or outcome not in (Outcome.FINISHED, Outcome.PAIN):
            return
        try:
            pasts = self._history.pasts(self._profile)
            earned: list[Change] = []
            if outcome is Outcome.FINISHED:
                answers = self._history.answers(self._profile, self._routine.id)
                earned += progression.easy_changes(
                    self._steps, session_id, answers, pasts, self._changes
                )
            sets = progression.sets_change(self._routine, pasts, self._changes, self._per)
            if sets is not None:
                earned.append(dataclasses.replace(sets, session_id=session_id))
        except Exception:
            _LOGGER.exception("Could not work out the progression of session %s", session_id)
            return
        for change in earned:
            self._apply(change)

    # ------------------------------------------------------------------ helpers

    def _answer(self, session_id: int | None, easy: bool) -> None:
        exercise_id = self._asking
        if exercise_id is None or session_id is None:
            self._speaker.say(phrases.NO_QUESTION)
            return
        self._stop_waiting()
        try:
            self._history.record_answer(session_id, exercise_id, easy)
        except Exception:
            _LOGGER.exception("Could not record the answer about %s", exercise_id)
        self._speaker.say(phrases.ANSWER_YES if easy else phrases.ANSWER_NO)

    def _easier(self, session_id: int | None) -> None:
        change = None if self.guest else progression.undo(self._changes, session_id)
        if change is None:
            self._speaker.say(phrases.ALREADY_EASIEST)
            return
        self._apply(change)

    def _apply(self, change: Change) -> None:
        """Record a change and say it; said even if it could not be recorded."""
        try:
            change = self._history.record_change(self._profile, self._routine.id, change)
        except Exception:
            _LOGGER.exception("Could not record %s", change)
        self._changes.append(change)
        self._speaker.say(self._describe(change))

    def _describe(self, change: Change) -> str:
        if change.kind == progression.SETS:
            if change.reason == progression.PAIN:
                return phrases.BACK_TO_ONE_SET
            if change.harder:
                return phrases.more_sets(change.new)
            return phrases.sets_from_next_time(change.new)
        if change.kind == progression.STAGE:
            old, new = (
                self._stage(change.subject, change.old),
                self._stage(change.subject, change.new),
            )
            return (
                phrases.next_stage(old, new) if change.harder else phrases.back_to_stage(new, old)
            )
        exercise = self._routine.exercise(change.subject)
        if change.kind == progression.REPS:
            if change.harder:
                return phrases.higher_ceiling(exercise.name, change.new)
            return phrases.lower_ceiling(exercise.name, change.new)
        if change.harder:
            return phrases.harder_suggested(exercise.name, " ".join(exercise.progression.harder))
        return phrases.harder_withdrawn(exercise.name)

    def _stage(self, series: str, stage: int) -> str:
        for exercise in self._routine.exercises:
            if exercise.progression.series == series and exercise.progression.stage == stage:
                return exercise.name
        return f"stage {phrases.number(stage)}"

    def _stop_waiting(self) -> None:
        self._asking = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
