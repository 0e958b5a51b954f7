"""The carers' report: weeks of history as a large-print HTML page with plots beside it.

``collect`` reads the history into plain numbers per week; report_page.py turns them into
the page and report_plots.py draws the PNGs. Weeks are the seven days ending on the report's
day, so the latest week is as full as the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from assistant.errors import ReportError
from assistant.history import History, SessionSummary
from assistant.ports import Outcome
from assistant.routine import Routine, builtin_routines, resolve_routine

_LOGGER = logging.getLogger(__name__)

MAX_WEEKS = 104
"""Two years: longer reports are not readable as one page."""
SET_DONE = ("completed", "done")
"""How a set ended when it counts as done (all its repetitions, or until tired)."""


@dataclass(frozen=True)
class Week:
    """Seven days, both ends included."""

    first: date
    last: date

    @property
    def label(self) -> str:
        """E.g. "6 to 12 May" or "29 Apr to 5 May"."""
        start = f"{self.first.day}" if self.first.month == self.last.month else day_text(self.first)
        return f"{start} to {day_text(self.last)}"


@dataclass
class Tally:
    """One routine's sessions in one week."""

    sessions: int = 0
    """Sessions in which at least one repetition was done."""
    finished: int = 0
    pain: int = 0
    longer_rests: int = 0


@dataclass(frozen=True)
class ExerciseWeeks:
    """Sets done and repetitions done of one exercise, week by week."""

    name: str
    sets: list[int]
    reps: list[int]


@dataclass(frozen=True)
class RoutineWeeks:
    """One routine, week by week, with the seed's target where the routine is known."""

    id: str
    title: str
    target: tuple[int, int] | None
    """Fewest and most sessions a week (the routine's frequency), if known."""
    weeks: list[Tally]
    exercises: list[ExerciseWeeks] = field(default_factory=list)
    """In the routine's order."""

    @property
    def sessions(self) -> int:
        """Sessions with exercise in all the weeks."""
        return sum(tally.sessions for tally in self.weeks)

    def verdict(self, tally: Tally) -> str:
        """The week against the target, in words (never only a colour)."""
        if self.target is None:
            return "No target known"
        low, high = self.target
        if tally.sessions < low:
            return f"Below target ({low - tally.sessions} short)"
        return "Above target" if tally.sessions > high else "On target"

    @property
    def weeks_on_target(self) -> int:
        """Weeks with at least the fewest sessions the target asks for."""
        return sum(self.target is not None and t.sessions >= self.target[0] for t in self.weeks)


@dataclass(frozen=True)
class PainStop:
    """A session that ended because of pain, and where."""

    when: datetime
    """Local time the session started."""
    routine: str
    exercise: str
    set_no: int | None
    rep_no: int | None
    side: str | None


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as numbers and names."""

    profile: str
    weeks: list[Week]
    routines: list[RoutineWeeks]
    """The person's routines, the one done most first."""
    pain_stops: list[PainStop]
    other_profiles: list[str] = field(default_factory=list)
    """People with sessions in the same weeks who are not in this report."""

    @property
    def empty(self) -> bool:
        """True if the person has no session at all in these weeks."""
        return not self.routines and not self.pain_stops

    @property
    def longer_rests(self) -> list[int]:
        """Rests lengthened per week, all routines together."""
        return [sum(r.weeks[i].longer_rests for r in self.routines) for i in range(len(self.weeks))]

    @property
    def pain_per_week(self) -> list[int]:
        """Sessions ended for pain per week, all routines together."""
        return [sum(r.weeks[i].pain for r in self.routines) for i in range(len(self.weeks))]


def day_text(day: date) -> str:
    """E.g. "5 May"."""
    return f"{day.day} {day:%b}"


def weeks_ending(today: date, count: int) -> list[Week]:
    """``count`` weeks of seven days, oldest first, the last ending on ``today``."""
    if not 1 <= count <= MAX_WEEKS:
        raise ReportError(f"weeks must be from 1 to {MAX_WEEKS}, got {count}")
    first = today - timedelta(days=7 * count - 1)
    return [
        Week(first + timedelta(days=7 * i), first + timedelta(days=7 * i + 6)) for i in range(count)
    ]


def _known_routines() -> dict[str, Routine]:
    known: dict[str, Routine] = {}
    for name in builtin_routines():
        routine = resolve_routine(name)
        known[routine.id] = routine
    return known


def collect(
    history: History, profile: str, weeks: Sequence[Week], tz: tzinfo | None = None
) -> ReportData:
    """Count what ``profile`` did in ``weeks`` (local dates in ``tz``, default the machine's)."""
    since = datetime.combine(weeks[0].first, time(), tzinfo=tz).astimezone()
    summaries = history.recent_sessions(limit=None, since=since)
    others = sorted({s.profile for s in summaries} - {profile})
    known = _known_routines()
    routines: dict[str, RoutineWeeks] = {}
    exercises: dict[tuple[str, str], ExerciseWeeks] = {}
    stops: list[PainStop] = []
    for summary in reversed(summaries):
        days = (summary.started_at.astimezone(tz).date() - weeks[0].first).days
        if summary.profile != profile or not 0 <= days < 7 * len(weeks):
            continue
        week = days // 7
        routine = known.get(summary.routine_id)
        if summary.routine_id not in routines:
            routines[summary.routine_id] = _routine_weeks(summary.routine_id, routine, len(weeks))
        row = routines[summary.routine_id]
        tally = row.weeks[week]
        tally.sessions += summary.reps_done > 0
        tally.finished += summary.outcome is Outcome.FINISHED
        tally.pain += summary.outcome is Outcome.PAIN
        tally.longer_rests += summary.longer_rests
        for done in history.sets_of(summary.id):
            exercise = exercises.setdefault(
                (summary.routine_id, done.exercise_id),
                ExerciseWeeks(
                    _exercise_name(routine, done.exercise_id), [0] * len(weeks), [0] * len(weeks)
                ),
            )
            exercise.sets[week] += done.how in SET_DONE
            exercise.reps[week] += done.reps_done
        if summary.outcome is Outcome.PAIN:
            stops.append(_pain_stop(summary, routine, row.title, tz))
    for routine_id, row in routines.items():
        row.exercises.extend(_in_order(exercises, routine_id, known.get(routine_id)))
    ranked = sorted(routines.values(), key=lambda row: (-row.sessions, row.id))
    return ReportData(profile, list(weeks), ranked, stops, others)


def _routine_weeks(routine_id: str, routine: Routine | None, weeks: int) -> RoutineWeeks:
    if routine is None:  # A routine file that is not built in: no target to compare with.
        return RoutineWeeks(routine_id, routine_id, None, [Tally() for _ in range(weeks)])
    target = routine.frequency.days_per_week
    return RoutineWeeks(routine_id, routine.title, target, [Tally() for _ in range(weeks)])


def _exercise_name(routine: Routine | None, exercise_id: str) -> str:
    if routine is None:
        return exercise_id
    try:
        return routine.exercise(exercise_id).name
    except KeyError:
        return exercise_id


def _in_order(
    exercises: dict[tuple[str, str], ExerciseWeeks], routine_id: str, routine: Routine | None
) -> list[ExerciseWeeks]:
    """The routine's exercises in the order the routine does them; unknown ones after."""
    order = [ex.id for ex in routine.exercises] if routine else []
    ids = sorted(
        (exercise_id for rid, exercise_id in exercises if rid == routine_id),
        key=lambda exercise_id: (
            order.index(exercise_id) if exercise_id in order else len(order),
            exercise_id,
        ),
    )
    return [exercises[(routine_id, exercise_id)] for exercise_id in ids]


def _pain_stop(
    summary: SessionSummary, routine: Routine | None, title: str, tz: tzinfo | None
) -> PainStop:
    exercise = (
        _exercise_name(routine, summary.exercise_id)
        if summary.exercise_id
        else "Before the first exercise"
    )
    return PainStop(
        when=summary.started_at.astimezone(tz),
        routine=title,
        exercise=exercise,
        set_no=summary.set_no,
        rep_no=summary.rep_no,
        side=summary.side,
    )


@dataclass(frozen=True)
class Plot:
    """A PNG beside the page, with the words that stand in for it."""

    file_name: str
    alt: str
    caption: str


@dataclass(frozen=True)
class Written:
    """The files a report run wrote."""

    html: Path
    images: list[Path]
    data: ReportData


def write_report(
    history_path: Path,
    output: Path,
    weeks: int,
    profile: str,
    today: date | None = None,
    tz: tzinfo | None = None,
) -> Written:
    """Write the page to ``output`` and its PNGs beside it; ``today`` defaults to now."""
    # Imported here: both build on this module's data classes (and matplotlib is slow to load).
    from assistant.report_page import render
    from assistant.report_plots import draw

    output = Path(output)
    now = datetime.now(tz).astimezone(tz)
    span = weeks_ending(today or now.date(), weeks)
    if not output.parent.is_dir():
        raise ReportError(f"cannot write the report to {output}: no folder {output.parent}")
    if history_path.exists():
        with History(history_path) as history:
            data = collect(history, profile, span, tz)
    else:  # Reading must not create a history file where there was none.
        data = ReportData(profile, span, [], [], [])
    try:
        plots = {} if data.empty else draw(data, output.parent, output.stem)
        output.write_text(render(data, plots, now), encoding="utf-8")
    except OSError as err:
        raise ReportError(f"cannot write the report to {output}: {err.strerror or err}") from None
    images = [output.parent / plot.file_name for plot in plots.values()]
    _LOGGER.info("Report written to %s with %d plots", output, len(images))
    return Written(output, images, data)
