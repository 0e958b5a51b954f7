"""Routine files: reading a routine's TOML and checking every field.

A routine file is TOML, written to be edited by a physiotherapist. Seconds are seconds;
spoken text is second person, in short sentences. Fields (``*`` = required)::

    id*                 lowercase snake_case, e.g. "strong_back"
    title*              the programme's title
    general_cautions*   list of sentences read at the start of every session
    longer_rest_seconds list of rests that "longer rest" steps through (default [60, 120])
    notes               list: choices made where the seed is silent (not spoken)

    [source]*           title*, organisation*, author, year (whole number), edition
    [frequency]*        days_per_week* = [fewest, most] (1-7), times_per_day (default 1),
                        text (the seed's wording)

    [[exercises]]*      one table per exercise, in session order:
      id*, name*        id is lowercase snake_case, unique in the file
      position*         the starting position, spoken
      steps*            list: the action, one movement per sentence
      hold_seconds      a hold of N seconds (whole number, 1-120), counted one a second; or
      hold_counts       N numbers counted aloud, with
        count_seconds   seconds per number (default 1.0) and
        slow_count      true where the seed says "a slow N count" (default false)
      reps*             repetitions per set and side (1-100); the ceiling when until_tired
      until_tired       true for "repeat until tired" (default false)
      reps_goal         [low, high], the seed's target range (until_tired: reps >= high)
      sets_goal*        sets the seed's goal names (1-20)
      rest_between_sets_seconds*, rest_between_reps_seconds*   0-900
      purpose, cautions (list), suggestions (list), notes (list)
      equipment         list, from: ball, bed or floor, chair, mat, pillow, towel, wall
      [[exercises.sides]]       none, or exactly two: name*, position, steps
      [exercises.frequency]     as [frequency], for this exercise only
      [exercises.progression]   series (snake_case id), stage (1, 2, ... within the
                                series), advance_when, harder (list)

Every problem raises :class:`RoutineError` naming the file, the exercise and the field.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import NoReturn

from assistant.errors import RoutineError
from assistant.routine import Exercise, Frequency, Hold, Progression, Repetitions, Routine, Side

ROUTINES_DIR = Path(__file__).parent / "routines"
"""Where the built-in routines live."""

EQUIPMENT = frozenset({"ball", "bed or floor", "chair", "mat", "pillow", "towel", "wall"})
"""Equipment names a routine may list."""

MAX_FILE_BYTES = 1_000_000
"""A routine is a few kilobytes; anything past this is refused unread."""

# tomllib's memory grows with the square of a dotted key's depth (a 200 kB "a.a.a..." line
# takes gigabytes), so keys nested this deep are refused before parsing. Possessive
# quantifiers and the lookbehind keep the scan linear.
_MAX_KEY_DEPTH = 20
_DEEP_KEY = re.compile(
    rf"(?<![\w-])(?:(?:[\w-]++|\"[^\"\n]*+\"|'[^'\n]*+')[ \t]*+\.[ \t]*+){{{_MAX_KEY_DEPTH}}}"
)
_ID = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_MAX_TEXT = 2000
_MAX_ITEMS = 50
_MAX_EXERCISES = 100
_MAX_HOLD_SECONDS = 120
_MAX_COUNT_SECONDS = 10
_MAX_REPS = 100
_MAX_SETS = 20
_MAX_REST_SECONDS = 900

_ROUTINE_FIELDS = (
    "id", "title", "source", "general_cautions", "frequency", "exercises",
    "longer_rest_seconds", "notes",
)  # fmt: skip
_SOURCE_FIELDS = ("title", "organisation", "author", "year", "edition")
_FREQUENCY_FIELDS = ("days_per_week", "times_per_day", "text")
_EXERCISE_FIELDS = (
    "id", "name", "position", "steps", "hold_seconds", "hold_counts", "count_seconds",
    "slow_count", "reps", "until_tired", "reps_goal", "sets_goal",
    "rest_between_sets_seconds", "rest_between_reps_seconds", "purpose", "sides",
    "cautions", "suggestions", "equipment", "frequency", "progression", "notes",
)  # fmt: skip
_SIDE_FIELDS = ("name", "position", "steps")
_PROGRESSION_FIELDS = ("series", "stage", "advance_when", "harder")


def _kind(value: object) -> str:
    """What a TOML value is, in words."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text {shown!r}"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a date/time ({value})"


class _Table:
    """One TOML table being read: each field is taken, checked and converted once."""

    def __init__(
        self, data: object, where: str, allowed: tuple[str, ...], name: str, check: bool = True
    ) -> None:
        self.where = where
        if not isinstance(data, dict):
            raise RoutineError(f"{where}: {name} must be a table, got {_kind(data)}")
        self.data: dict[str, object] = data
        self.allowed = allowed
        if check:
            self.check_fields()

    def check_fields(self) -> None:
        """Report the first field not in the schema, with the nearest allowed name."""
        for key in self.data:
            if key not in self.allowed:
                close = difflib.get_close_matches(key, self.allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.fail(f"unknown field '{key}'{hint};", f"allowed: {', '.join(self.allowed)}")

    def fail(self, name: str, problem: str) -> NoReturn:
        raise RoutineError(f"{self.where}: {name} {problem}")

    def has(self, name: str) -> bool:
        return name in self.data

    def required(self, name: str) -> object:
        if name not in self.data:
            self.fail(name, "is required")
        return self.data[name]

    def text(self, name: str, required: bool = True) -> str:
        if not required and name not in self.data:
            return ""
        return self._text(name, self.required(name))

    def _text(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            self.fail(name, f"must be text in quotes, got {_kind(value)}")
        if not value.strip():
            self.fail(name, "must not be empty")
        if len(value) > _MAX_TEXT:
            self.fail(name, f"must be at most {_MAX_TEXT} characters, got {len(value)}")
        return value.strip()

    def texts(self, name: str, required: bool = False) -> tuple[str, ...]:
        if not required and name not in self.data:
            return ()
        value = self.required(name)
        if not isinstance(value, list):
            self.fail(name, f'must be a list of texts, like ["..."], got {_kind(value)}')
        if not value:
            self.fail(name, "must not be empty (leave the field out instead)")
        if len(value) > _MAX_ITEMS:
            self.fail(name, f"must have at most {_MAX_ITEMS} items, got {len(value)}")
        return tuple(self._text(f"{name} item {i}", item) for i, item in enumerate(value, 1))

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        if default is not None and name not in self.data:
            return default
        return self._integer(name, self.required(name), low, high)

    def _integer(self, name: str, value: object, low: int, high: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(name, f"must be a whole number, got {_kind(value)}")
        self._in_range(name, value, low, high, low_open=False)
        return value

    def number(self, name: str, high: float, low_open: bool, default: float | None = None) -> float:
        """A number from 0 (excluded when ``low_open``) to ``high``."""
        if default is not None and name not in self.data:
            return default
        return self._number(name, self.required(name), high, low_open)

    def _number(self, name: str, value: object, high: float, low_open: bool) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(name, f"must be a number, got {_kind(value)}")
        if not math.isfinite(value):
            self.fail(name, f"must be a finite number, got {value}")
        self._in_range(name, value, 0, high, low_open)
        return float(value)

    def _in_range(self, name: str, value: float, low: float, high: float, low_open: bool) -> None:
        if low_open and value <= low:
            self.fail(name, f"must be > {low}, got {value}")
        if value < low:
            self.fail(
                name, f"must be > 0, got {value}" if low == 1 else f"must be >= {low}, got {value}"
            )
        if value > high:
            self.fail(name, f"must be at most {high}, got {value}")

    def boolean(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {_kind(value)}")
        return value

    def pair(self, name: str, low: int, high: int) -> tuple[int, int]:
        value = self.required(name)
        if not isinstance(value, list) or len(value) != 2:
            shown = f"{len(value)} items" if isinstance(value, list) else _kind(value)
            self.fail(name, f"must be a list of two whole numbers [low, high], got {shown}")
        first = self._integer(f"{name} low", value[0], low, high)
        second = self._integer(f"{name} high", value[1], low, high)
        if first > second:
            self.fail(name, f"must be [low, high] with low <= high, got [{first}, {second}]")
        return first, second

    def identifier(self, name: str) -> str:
        value = self.required(name)
        if not isinstance(value, str) or not _ID.match(value):
            self.fail(name, f"must be lowercase snake_case like 'pelvic_tilt', got {_kind(value)}")
        return value

    def table(self, name: str, allowed: tuple[str, ...]) -> _Table | None:
        if name not in self.data:
            return None
        table = _Table(self.data[name], self.where, allowed, name, check=False)
        table.where = f"{self.where}: {name}"
        table.check_fields()
        return table

    def tables(self, name: str) -> list[object]:
        value = self.required(name)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.fail(name, f"must be written as [[{name}]] tables, got {_kind(value)}")
        return value


def load_routine(path: Path) -> Routine:
    """Read and check a routine file; raise RoutineError naming what is wrong."""
    label = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise RoutineError(f"{label}: no such routine file") from None
    except IsADirectoryError:
        raise RoutineError(f"{label}: is a folder, not a routine file") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or error
        raise RoutineError(f"{label}: cannot read the routine file ({reason})") from None
    if len(data) > MAX_FILE_BYTES:
        raise RoutineError(
            f"{label}: is larger than 1 MB; a routine file is a few kilobytes, so it is refused"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RoutineError(
            f"{label}: is not UTF-8 text (bad byte at position {error.start}); save it as UTF-8"
        ) from None
    if _DEEP_KEY.search(text):
        raise RoutineError(
            f"{label}: has {_MAX_KEY_DEPTH} or more names joined by dots (like a.b.c...), "
            "which TOML reads as keys nested that deep; a routine never needs them"
        )
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RoutineError(f"{label}: is not valid TOML: {error}") from None
    except RecursionError:
        raise RoutineError(f"{label}: is not valid TOML: nested too deeply") from None
    return _routine(document, label)


def builtin_routines() -> dict[str, Path]:
    """The built-in routine files, keyed by routine id (the file's stem)."""
    return {path.stem: path for path in sorted(ROUTINES_DIR.glob("*.toml"))}


def resolve_routine(name_or_path: str) -> Routine:
    """Load a built-in routine by id ("strong_back", "spine") or a user's .toml by path."""
    builtins = builtin_routines()
    if name_or_path in builtins:
        return load_routine(builtins[name_or_path])
    path = Path(name_or_path).expanduser()
    if not name_or_path.strip() or (path.suffix.lower() != ".toml" and not path.exists()):
        raise RoutineError(
            f"no routine called {name_or_path!r}; built-in routines are "
            f"{', '.join(builtins)}, or give the path to a .toml file"
        )
    return load_routine(path)


def _routine(document: dict[str, object], label: str) -> Routine:
    top = _Table(document, label, _ROUTINE_FIELDS, "the file")
    routine_id = top.identifier("id")
    title = top.text("title")
    source = _source(top)
    cautions = top.texts("general_cautions", required=True)
    frequency_table = top.table("frequency", _FREQUENCY_FIELDS)
    if frequency_table is None:
        top.fail("frequency", "is required, e.g. [frequency] days_per_week = [3, 6]")
    frequency = _frequency(frequency_table)
    longer: tuple[float, ...] = (60.0, 120.0)
    if top.has("longer_rest_seconds"):
        value = top.required("longer_rest_seconds")
        if not isinstance(value, list) or not 1 <= len(value) <= 5:
            top.fail("longer_rest_seconds", f"must be a list of 1 to 5 numbers, got {_kind(value)}")
        longer = tuple(
            top._number(f"longer_rest_seconds item {i}", item, _MAX_REST_SECONDS, low_open=True)
            for i, item in enumerate(value, 1)
        )
    raw_exercises = top.tables("exercises")
    if not raw_exercises:
        top.fail("exercises", "must list at least one exercise")
    if len(raw_exercises) > _MAX_EXERCISES:
        top.fail("exercises", f"must have at most {_MAX_EXERCISES}, got {len(raw_exercises)}")
    exercises: list[Exercise] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_exercises, 1):
        exercise = _exercise(raw, f"{label}: exercise #{number}", label)
        if exercise.id in seen:
            raise RoutineError(
                f"{label}: exercise '{exercise.id}': id is used twice "
                f"(exercises #{seen[exercise.id]} and #{number})"
            )
        seen[exercise.id] = number
        exercises.append(exercise)
    _check_series(exercises, label)
    return Routine(
        id=routine_id,
        title=title,
        source=source,
        general_cautions=cautions,
        frequency=frequency,
        exercises=tuple(exercises),
        longer_rest_seconds=longer,
        notes=top.texts("notes"),
    )


def _source(top: _Table) -> str:
    table = top.table("source", _SOURCE_FIELDS)
    if table is None:
        top.fail("source", 'is required, e.g. [source] title = "..." organisation = "..."')
    title = table.text("title")
    organisation = table.text("organisation")
    author = table.text("author", required=False)
    year = table.integer("year", 1800, 2200, default=0)
    edition = table.text("edition", required=False)
    cited = f'"{title}"' + (f", {author.rstrip('.')}" if author else "") + f". {organisation}"
    cited += f", {year}." if year else "."
    return cited + (f" {edition}." if edition else "")


def _frequency(table: _Table) -> Frequency:
    return Frequency(
        days_per_week=table.pair("days_per_week", 1, 7),
        times_per_day=table.integer("times_per_day", 1, 6, default=1),
        text=table.text("text", required=False),
    )


def _exercise(raw: object, where: str, label: str) -> Exercise:
    # Read the id first, so that every later message can name the exercise.
    table = _Table(raw, where, _EXERCISE_FIELDS, "it", check=False)
    exercise_id = table.identifier("id")
    table.where = f"{label}: exercise '{exercise_id}'"
    table.check_fields()
    frequency_table = table.table("frequency", _FREQUENCY_FIELDS)
    return Exercise(
        id=exercise_id,
        name=table.text("name"),
        position=table.text("position"),
        steps=table.texts("steps", required=True),
        hold=_hold(table),
        reps=_repetitions(table),
        sets_goal=table.integer("sets_goal", 1, _MAX_SETS),
        rest_between_sets_seconds=table.number(
            "rest_between_sets_seconds", _MAX_REST_SECONDS, low_open=False
        ),
        rest_between_reps_seconds=table.number(
            "rest_between_reps_seconds", _MAX_REST_SECONDS, low_open=False
        ),
        purpose=table.text("purpose", required=False),
        sides=_sides(table),
        cautions=table.texts("cautions"),
        suggestions=table.texts("suggestions"),
        equipment=_equipment(table),
        frequency=None if frequency_table is None else _frequency(frequency_table),
        progression=_progression(table),
        notes=table.texts("notes"),
    )


def _hold(table: _Table) -> Hold:
    if table.has("hold_seconds"):
        for name in ("hold_counts", "count_seconds", "slow_count"):
            if table.has(name):
                table.fail(name, "cannot be given with hold_seconds; use one way of holding")
        return Hold(counts=table.integer("hold_seconds", 1, _MAX_HOLD_SECONDS), count_seconds=1.0)
    if not table.has("hold_counts"):
        table.fail("hold_seconds", "(or hold_counts with count_seconds) is required")
    counts = table.integer("hold_counts", 1, _MAX_HOLD_SECONDS)
    count_seconds = table.number("count_seconds", _MAX_COUNT_SECONDS, low_open=True, default=1.0)
    if counts * count_seconds > _MAX_HOLD_SECONDS:
        table.fail(
            "hold_counts",
            f"times count_seconds must be at most {_MAX_HOLD_SECONDS} seconds, "
            f"got {counts} x {count_seconds} = {counts * count_seconds:g}",
        )
    return Hold(counts=counts, count_seconds=count_seconds, slow_count=table.boolean("slow_count"))


def _repetitions(table: _Table) -> Repetitions:
    count = table.integer("reps", 1, _MAX_REPS)
    until_tired = table.boolean("until_tired")
    goal = table.pair("reps_goal", 1, _MAX_REPS) if table.has("reps_goal") else None
    if goal is not None and until_tired and count < goal[1]:
        table.fail(
            "reps",
            f"is the most repetitions of an until_tired set and must be at least the top "
            f"of reps_goal ({goal[1]}), got {count}",
        )
    if goal is not None and not until_tired and not goal[0] <= count <= goal[1]:
        table.fail("reps", f"must lie within reps_goal [{goal[0]}, {goal[1]}], got {count}")
    return Repetitions(count=count, until_tired=until_tired, goal=goal)


def _sides(table: _Table) -> tuple[Side, ...]:
    if not table.has("sides"):
        return ()
    raw_sides = table.tables("sides")
    if len(raw_sides) != 2:
        table.fail("sides", f"must have 0 or 2 entries (one per side), got {len(raw_sides)}")
    sides: list[Side] = []
    for number, raw in enumerate(raw_sides, 1):
        side = _Table(raw, f"{table.where}: side {number}", _SIDE_FIELDS, "it")
        sides.append(
            Side(
                name=side.text("name"),
                position=side.text("position", required=False) or None,
                steps=side.texts("steps"),
            )
        )
    if sides[0].name.lower() == sides[1].name.lower():
        table.fail("sides", f"must have two different names, got {sides[0].name!r} twice")
    return tuple(sides)


def _equipment(table: _Table) -> tuple[str, ...]:
    items = table.texts("equipment")
    for item in items:
        if item not in EQUIPMENT:
            table.fail(
                "equipment",
                f"has unknown item {item!r}; known items: {', '.join(sorted(EQUIPMENT))}",
            )
    if len(set(items)) != len(items):
        table.fail("equipment", "lists an item twice")
    return items


def _progression(table: _Table) -> Progression:
    progression = table.table("progression", _PROGRESSION_FIELDS)
    if progression is None:
        return Progression()
    series = progression.identifier("series") if progression.has("series") else None
    if series is None and progression.has("stage"):
        progression.fail("stage", "needs a series (the id the stages share)")
    return Progression(
        series=series,
        stage=progression.integer("stage", 1, _MAX_ITEMS, default=1),
        advance_when=progression.text("advance_when", required=False),
        harder=progression.texts("harder"),
    )


def _check_series(exercises: list[Exercise], label: str) -> None:
    stages: dict[str, list[int]] = {}
    for exercise in exercises:
        if exercise.progression.series is not None:
            stages.setdefault(exercise.progression.series, []).append(exercise.progression.stage)
    for series, found in stages.items():
        if sorted(found) != list(range(1, len(found) + 1)):
            raise RoutineError(
                f"{label}: series '{series}': stages must run 1, 2, 3... without gaps or "
                f"repeats, got {sorted(found)}"
            )
