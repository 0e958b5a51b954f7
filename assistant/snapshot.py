"""What a session is doing at one moment, as plain data a screen can show (pure core)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    """One moment of a session; times are session seconds, as on the session's clock."""

    routine: str
    """The routine's title."""
    state: str
    """The session machine's state ("hold", "rest", "paused", "finished", ...)."""
    exercise: str | None
    """The exercise's name; None before the first exercise is announced."""
    exercise_no: int
    """Position of the exercise in this session, from 1."""
    exercises: int
    """Exercises in this session."""
    side: str | None
    set_no: int | None
    sets: int
    """Sets of this exercise in this session."""
    rep_no: int | None
    """The repetition being done (or just done, in a release)."""
    reps: int
    """Repetitions per set; for an open-ended set, the most it goes to."""
    until_tired: bool
    hold_count: int
    """Numbers already counted aloud in the hold under way (0 outside a hold)."""
    hold_counts: int
    """Numbers a whole hold counts."""
    timer: str | None
    """"hold" or "rest" while one is timed, else None."""
    seconds_left: float | None
    """Seconds left of that hold or rest when the snapshot was taken."""
    taken_at: float
    """Session time of the snapshot, so a reader can count ``seconds_left`` down."""
    paused: bool
    """True while paused: ``seconds_left`` stands still."""
    commands: tuple[str, ...]
    """User commands that do something now (the same list "help" reads out)."""
    outcome: str | None
    """How the session ended, once it has."""

    def left_at(self, now: float) -> float | None:
        """Seconds left of the hold or rest at session time ``now``."""
        if self.seconds_left is None:
            return None
        if self.paused:
            return self.seconds_left
        return max(0.0, self.seconds_left - max(0.0, now - self.taken_at))
