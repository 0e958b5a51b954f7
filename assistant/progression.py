"""How a person's programme grows, as the seeds describe it: pure rules over plain records.

- **Sets.** One set of each exercise at first ("Begin with only one set"); one more after every
  ``sessions_per_extra_set`` sessions finished without pain, up to each exercise's goal
  (``session.sets_for_session``). A session that ended for pain, in any routine, starts
  again at one set; "make it easier" takes one set off and the count starts from there.
- **"Was that easy?"** After an exercise where a "yes" could lead somewhere, the coach asks.
  A "yes" in two finished sessions running (the last answer before this one, given after
  the last change to that exercise) takes one step, the first of these that applies:
  the series' next stage (Chest Lift One to Two to Three: "when you can do the previous
  one with ease"); a higher ceiling for an until-tired exercise with a goal range, by
  ``REPS_STEP`` from ``OPEN_REPS_START`` up to the top of the goal (the extensor's
  "slowly increase up to 15-20"); once the goal is reached, the seed's way to make it
  harder (light weights, a rolled towel), said with the exercise from then on.
- **Undo.** Every change is a ``Change`` kept in the history. "Make it easier" undoes the
  latest change that made things harder and is still in effect, with a change of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.ports import Outcome
from assistant.routine import Exercise, Routine
from assistant.session import sets_for_session

SETS, STAGE, REPS, HARDER = "sets", "stage", "reps", "harder"
KINDS = (SETS, STAGE, REPS, HARDER)
"""What a change changes: the sets level of a routine, the stage of a series, the ceiling of
an until-tired exercise, whether an exercise's harder variant is suggested (0 or 1)."""

SESSIONS, PAIN, EASY, EASIER = "sessions", "pain", "easy", "easier"
REASONS = (SESSIONS, PAIN, EASY, EASIER)
"""Why: sessions finished without pain, a pain stop, two "yes" answers, "make it easier"."""

OPEN_REPS_START = 10
"""Ceiling the first sessions give an until-tired exercise that has a goal range (the
extensor's 15-20): the seed says to "slowly increase"; 10, like its other until-tired sets."""
REPS_STEP = 2
"""Repetitions one step adds to that ceiling, up to the top of the goal."""

Key = tuple[str, str]


@dataclass(frozen=True)
class Change:
    """One step of a person's programme, up or down."""

    kind: str
    subject: str
    """The routine id (sets), the series id (stage) or the exercise id (reps, harder)."""
    old: int
    new: int
    reason: str
    session_id: int | None = None
    """The session it was decided in."""
    id: int | None = None
    """Its history row, once recorded."""
    undoes: int | None = None
    """For "make it easier": the row of the change it takes back."""

    @property
    def key(self) -> Key:
        """What it changes: (kind, subject)."""
        return (self.kind, self.subject)

    @property
    def harder(self) -> bool:
        """True for a step up (every kind's larger value is the harder one)."""
        return self.new > self.old


@dataclass(frozen=True)
class Past:
    """An earlier session of the person, as far as progression cares."""

    session_id: int
    routine_id: str
    outcome: Outcome


@dataclass(frozen=True)
class Answer:
    """A "yes" or "no" to "Was that easy?" after an exercise."""

    session_id: int
    exercise_id: str
    easy: bool


@dataclass(frozen=True)
class Plan:
    """What one session does for the person: the routine as it is for them today."""

    routine: Routine
    """Exercises with today's ceilings, and the harder variant where it was suggested."""
    sets: dict[str, int]
    stages: dict[str, int]
    sets_level: int


class SessionProgress(Protocol):
    """What a session and its runner tell the person's progression (progress.Progress)."""

    @property
    def awaiting_answer(self) -> bool:
        """True while "Was that easy?" waits for its answer."""

    @property
    def pain_after(self) -> tuple[str, ...] | None:
        """Set when pain was said after the session ended: what failed while handling it."""

    def after_exercise(self, session_id: int | None, exercise: Exercise, reps: int) -> None:
        """``exercise`` was completed, ``reps`` repetitions in its last set: maybe ask."""

    def hear(self, session_id: int | None, command: str) -> None:
        """The user said "yes", "no" or "easier" (or, once the session is over, "pain")."""

    def ask_last(self, session_id: int | None) -> None:
        """Ask the question held back after the last exercise, once the session is over."""

    def conclude(self, session_id: int | None, outcome: Outcome) -> None:
        """Decide, record and say the changes this session has earned."""


def values(changes: Sequence[Change]) -> dict[Key, int]:
    """The value each change left in effect: the newest per (kind, subject)."""
    return {change.key: change.new for change in changes}


def reps_start(exercise: Exercise) -> int:
    """The ceiling an exercise starts at: lower than the goal where the seed says to build up."""
    reps = exercise.reps
    if reps.until_tired and reps.goal is not None:
        return min(reps.count, OPEN_REPS_START)
    return reps.count


def default(routine: Routine, kind: str, subject: str) -> int:
    """A value before any change: one set, the first stage, the starting ceiling, no extra."""
    if kind == REPS:
        return reps_start(routine.exercise(subject))
    return 0 if kind == HARDER else 1


def current(routine: Routine, changes: Sequence[Change], kind: str, subject: str) -> int:
    """The value in effect now."""
    return values(changes).get((kind, subject), default(routine, kind, subject))


def sets_cap(routine: Routine) -> int:
    """The highest sets level that still adds a set somewhere."""
    return max((exercise.sets_goal for exercise in routine.exercises), default=1)


def sets_level(routine: Routine, pasts: Sequence[Past], changes: Sequence[Change], per: int) -> int:
    """The sets level the person's next session of ``routine`` does."""
    last_pain = max((p.session_id for p in pasts if p.outcome is Outcome.PAIN), default=0)
    start, since = 1, last_pain
    for change in reversed(changes):
        if change.key == (SETS, routine.id) and change.reason == EASIER:
            if change.session_id is not None and change.session_id > last_pain:
                start, since = change.new, change.session_id
            break
    finished = sum(
        1
        for p in pasts
        if p.routine_id == routine.id and p.outcome is Outcome.FINISHED and p.session_id > since
    )
    return max(1, min(sets_cap(routine), start + finished // max(1, per)))


def sets_change(
    routine: Routine, pasts: Sequence[Past], changes: Sequence[Change], per: int
) -> Change | None:
    """The change of sets level the sessions so far call for, if the level moved."""
    level = sets_level(routine, pasts, changes, per)
    now = current(routine, changes, SETS, routine.id)
    if level == now:
        return None
    last_pain = max((p.session_id for p in pasts if p.outcome is Outcome.PAIN), default=0)
    decided = max((c.session_id or 0 for c in changes if c.kind == SETS), default=0)
    reason = PAIN if level < now and last_pain > decided else SESSIONS
    return Change(SETS, routine.id, now, level, reason)


def plan(routine: Routine, changes: Sequence[Change], level: int, per: int) -> Plan:
    """The session the person does today."""
    found = values(changes)
    stages = {
        series: max(1, min(top, found.get((STAGE, series), 1)))
        for series, top in routine.series_stages().items()
    }
    exercises = [_as_today(routine, exercise, found) for exercise in routine.exercises]
    today = dataclasses.replace(routine, exercises=tuple(exercises))
    sets = sets_for_session(today, (level - 1) * max(1, per), per)
    return Plan(today, sets, stages, level)


def _as_today(routine: Routine, exercise: Exercise, found: Mapping[Key, int]) -> Exercise:
    reps = exercise.reps
    if reps.until_tired and reps.goal is not None:
        ceiling = found.get((REPS, exercise.id), reps_start(exercise))
        exercise = dataclasses.replace(exercise, reps=dataclasses.replace(reps, count=ceiling))
    harder = exercise.progression.harder
    if harder and found.get((HARDER, exercise.id), 0):
        purpose = " ".join(part for part in (exercise.purpose, *harder) if part)
        exercise = dataclasses.replace(exercise, purpose=purpose)
    return exercise


def step_for(
    routine: Routine, changes: Sequence[Change], exercise_id: str, sets: int, reps: int
) -> Change | None:
    """The step a "yes" after this exercise leads to; None where there is none (no question).

    ``sets`` and ``reps``: sets done today and repetitions in the last one, for "the goal".
    """
    exercise = routine.exercise(exercise_id)
    progression = exercise.progression
    if progression.series is not None:
        top = routine.series_stages()[progression.series]
        if progression.stage < top:
            return Change(STAGE, progression.series, progression.stage, progression.stage + 1, EASY)
    goal = exercise.reps.goal
    ceiling = current(routine, changes, REPS, exercise_id) if goal else exercise.reps.count
    if exercise.reps.until_tired and goal is not None and ceiling < goal[1]:
        return Change(REPS, exercise_id, ceiling, min(goal[1], ceiling + REPS_STEP), EASY)
    reached = sets >= exercise.sets_goal and (not exercise.reps.until_tired or reps >= ceiling)
    if progression.harder and reached and not current(routine, changes, HARDER, exercise_id):
        return Change(HARDER, exercise_id, 0, 1, EASY)
    return None


def easy_changes(
    steps: Mapping[str, Change],
    session_id: int,
    answers: Sequence[Answer],
    pasts: Sequence[Past],
    changes: Sequence[Change],
) -> list[Change]:
    """Steps earned at the end of a finished session: "yes" now and in the last time before.

    ``steps`` maps each exercise asked about this session to the step a "yes" leads to;
    ``answers`` are the person's answers in every session, this one included, oldest first.
    """
    finished = {p.session_id for p in pasts if p.outcome is Outcome.FINISHED}
    earned: list[Change] = []
    for exercise_id, step in steps.items():
        mine = [a for a in answers if a.exercise_id == exercise_id]
        now = [a for a in mine if a.session_id == session_id]
        if not now or not now[-1].easy:
            continue
        changed = max((c.session_id or 0 for c in changes if c.key == step.key), default=0)
        before = [
            a
            for a in mine
            if a.session_id < session_id and a.session_id in finished and a.session_id > changed
        ]
        if before and before[-1].easy:
            earned.append(dataclasses.replace(step, session_id=session_id))
    return earned


def undo(changes: Sequence[Change], session_id: int | None = None) -> Change | None:
    """What "make it easier" does: take back the latest step up that is still in effect."""
    found = values(changes)
    taken_back = {change.undoes for change in changes if change.undoes is not None}
    for change in reversed(changes):
        if (
            change.harder
            and change.reason != EASIER
            and change.id not in taken_back
            and found.get(change.key) == change.new
        ):
            return Change(
                change.kind,
                change.subject,
                change.new,
                change.old,
                EASIER,
                session_id=session_id,
                undoes=change.id,
            )
    return None
