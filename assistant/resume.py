"""Going on after a cut-off session: where the last one stopped when the coach was killed.

A session that was cut off (power cut, crash, kill -9) is marked "crashed" at the next start
(history.History.recover_crashed), with the exercise, set and side it had reached. If the
person's last session of this routine ended that way, the next one offers to go on from
there; the set that was cut off is done again from its first repetition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.ports import Outcome
from assistant.routine import Exercise

if TYPE_CHECKING:
    from assistant.history import History

OFFER_SECONDS = 30.0
"""Session seconds to answer the offer after it is said; silence starts from the beginning."""

_SET_OVER = ("completed", "done")
"""How a set ends when it was all done: going on starts with what follows it."""


@dataclass(frozen=True)
class ResumePoint:
    """Where a cut-off session stopped, as a place in this session's exercises."""

    crashed_session: int
    """The history id of the session that was cut off."""
    exercise: int
    """Index of the exercise in this session's exercises."""
    set_no: int
    """The set to do next, from 1."""
    side: int
    """Index of the side (0 for an exercise without sides)."""


def find_resume_point(
    history: History,
    routine_id: str,
    profile: str,
    exercises: Sequence[Exercise],
    sets: Mapping[str, int],
) -> ResumePoint | None:
    """Where to go on, if the profile's last session was of this routine and was cut off."""
    recent = history.recent_sessions(limit=1, profile=profile)
    if not recent:
        return None
    last = recent[0]
    ids = [exercise.id for exercise in exercises]
    where = last.exercise_id
    if last.outcome is not Outcome.CRASHED or last.routine_id != routine_id or where not in ids:
        return None
    index = ids.index(str(where))
    names = [side.name for side in exercises[index].sides]
    side = names.index(last.side) if last.side in names else 0
    set_no = last.set_no or 1
    rows = history.sets_of(last.id)
    how = rows[-1].how if rows else None
    if how == "skipped":
        index, set_no, side = index + 1, 1, 0
    elif how in _SET_OVER:
        if side + 1 < len(names):
            side += 1
        elif set_no < sets.get(ids[index], 1):
            set_no, side = set_no + 1, 0
        else:
            index, set_no, side = index + 1, 1, 0
    if index >= len(exercises):
        return None  # it had done everything but say goodbye
    set_no = min(set_no, sets.get(exercises[index].id, 1))
    return ResumePoint(last.id, index, set_no, side)
