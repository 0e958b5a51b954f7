"""The exercise programmes as data: dataclasses, and loading (checked in routine_file.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Hold:
    """How long a position is held, as the coach counts it aloud."""

    counts: int
    """Numbers spoken during the hold ("one... two... three...")."""
    count_seconds: float
    """Seconds between two spoken numbers."""
    slow_count: bool = False
    """True where the seed says "a slow N count" rather than N seconds."""

    @property
    def seconds(self) -> float:
        """Seconds the hold lasts."""
        return self.counts * self.count_seconds


@dataclass(frozen=True)
class Repetitions:
    """How many repetitions make one set (on each side)."""

    count: int
    """Repetitions planned per set and side; for an open-ended set, the most done this session."""
    until_tired: bool = False
    """Open-ended set: the user says "done" when tired ("repeat until tired")."""
    goal: tuple[int, int] | None = None
    """The seed's target range where it gives one (extensor: work up to 15-20)."""


@dataclass(frozen=True)
class Side:
    """One side of an exercise done on both sides, with what differs on that side."""

    name: str
    """Spoken name, e.g. "left leg" or "lying on your right side"."""
    position: str | None = None
    """Replaces the exercise's position for this side, where it differs."""
    steps: tuple[str, ...] = ()
    """Replaces the exercise's steps for this side, where they differ."""


@dataclass(frozen=True)
class Frequency:
    """How often the seed says to do an exercise."""

    days_per_week: tuple[int, int]
    """Fewest and most days a week, e.g. (3, 6)."""
    times_per_day: int = 1
    """Sessions a day (the neck press: twice)."""
    text: str = ""
    """The seed's wording, to read out or print."""


@dataclass(frozen=True)
class Progression:
    """How an exercise gets harder, as the seed describes it."""

    series: str | None = None
    """Exercises of one series (Chest Lift I, II, III) share this id; a session does one stage."""
    stage: int = 1
    """Position in the series, from 1."""
    advance_when: str = ""
    """When to move on, in the seed's words ("when you can do the previous one with ease")."""
    harder: tuple[str, ...] = ()
    """Ways to make it harder once the goal is reached (light weights, a rolled towel, ...)."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a routine, everything the coach reads aloud and counts."""

    id: str
    name: str
    position: str
    """Starting position, spoken."""
    steps: tuple[str, ...]
    """The action as short spoken steps, read before the first repetition."""
    hold: Hold
    reps: Repetitions
    sets_goal: int
    """Sets the seed's goal names; a first session does one."""
    rest_between_sets_seconds: float
    """Seconds"""
    rest_between_reps_seconds: float
    """Seconds to release and settle between repetitions."""
    purpose: str = ""
    sides: tuple[Side, ...] = ()
    """Empty for exercises done once; two entries for those done on both sides."""
    cautions: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()
    equipment: tuple[str, ...] = ()
    frequency: Frequency | None = None
    """Overrides the routine's frequency for this exercise."""
    progression: Progression = field(default_factory=Progression)
    notes: tuple[str, ...] = ()
    """Where the seed is silent or ambiguous, the choice made (not spoken)."""


@dataclass(frozen=True)
class Routine:
    """A whole programme: general cautions read at the start and its exercises in order."""

    id: str
    title: str
    source: str
    general_cautions: tuple[str, ...]
    frequency: Frequency
    exercises: tuple[Exercise, ...]
    longer_rest_seconds: tuple[float, ...] = (60.0, 120.0)
    """Rest lengths that "longer rest" steps through (the seed's 1-2 minutes)."""
    notes: tuple[str, ...] = ()

    def exercise(self, exercise_id: str) -> Exercise:
        """The exercise with this id."""
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(exercise_id)

    def series_stages(self) -> dict[str, int]:
        """Each series and its highest stage."""
        stages: dict[str, int] = {}
        for exercise in self.exercises:
            series = exercise.progression.series
            if series is not None:
                stages[series] = max(stages.get(series, 0), exercise.progression.stage)
        return stages

    def session_exercises(self, stages: dict[str, int] | None = None) -> tuple[Exercise, ...]:
        """The exercises one session does: every exercise, but one stage of each series.

        ``stages`` maps a series id to the person's current stage (default 1).
        """
        stages = stages or {}
        chosen: list[Exercise] = []
        for exercise in self.exercises:
            series = exercise.progression.series
            if series is None or exercise.progression.stage == stages.get(series, 1):
                chosen.append(exercise)
        return tuple(chosen)


# Reading and checking files lives in routine_file.py (it outgrew this module). These
# delegate at call time, so either module can be imported first without an import cycle.


def load_routine(path: Path) -> Routine:
    """Read and check a routine file; raise RoutineError naming the file, exercise and field."""
    from assistant.routine_file import load_routine as load

    return load(path)


def builtin_routines() -> dict[str, Path]:
    """The built-in routine files, keyed by routine id (the file's stem)."""
    from assistant.routine_file import builtin_routines as builtins

    return builtins()


def resolve_routine(name_or_path: str) -> Routine:
    """Load a built-in routine by id ("strong_back", "spine") or a user's .toml by path."""
    from assistant.routine_file import resolve_routine as resolve

    return resolve(name_or_path)
