"""The report's HTML page: large print, black on white, printable, for screen readers too.

Headings in order, tables with captions and header cells, and a plot only ever beside the
table that holds its numbers.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

from assistant.report import Plot, ReportData, RoutineWeeks, day_text

_STYLE = """
html { font-size: 24px; line-height: 1.5; color: #000; background: #fff;
  font-family: "DejaVu Sans", Verdana, Arial, sans-serif; }
body { margin: 0 auto; padding: 1rem; max-width: 60rem; }
h1 { font-size: 2rem; } h2 { font-size: 1.6rem; margin-top: 2rem; } h3 { font-size: 1.3rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3rem; }
th, td { border: 2px solid #000; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
td.number { text-align: right; }
.table { overflow-x: auto; }
img { max-width: 100%; height: auto; border: 1px solid #000; }
figure { margin: 1rem 0; } figcaption { font-style: italic; }
@media print {
  html { font-size: 14pt; }
  body { max-width: none; padding: 0; }
  h2, h3 { break-after: avoid; }
  table, figure { break-inside: avoid; }
  .table { overflow: visible; }
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(caption: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A table with a caption, column headings, and each row's first cell as its heading."""
    head = "".join(f'<th scope="col">{_e(cell)}</th>' for cell in header)
    body = []
    for first, *rest in rows:
        cells = "".join(
            f'<td class="number">{cell}</td>' if isinstance(cell, int) else f"<td>{_e(cell)}</td>"
            for cell in rest
        )
        body.append(f'<tr><th scope="row">{_e(first)}</th>{cells}</tr>')
    return (
        f'<div class="table"><table><caption>{_e(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _figure(plot: Plot | None) -> str:
    if plot is None:
        return ""
    return (
        f'<figure><img src="{_e(plot.file_name)}" alt="{_e(plot.alt)}">'
        f"<figcaption>{_e(plot.caption)}</figcaption></figure>"
    )


def _target_text(routine: RoutineWeeks) -> str:
    if routine.target is None:
        return "no target is recorded for this routine"
    low, high = routine.target
    return f"{low} sessions a week" if low == high else f"{low} to {high} sessions a week"


def _glance(data: ReportData) -> str:
    items = []
    for routine in data.routines:
        line = f"{routine.title}: {_plural(routine.sessions, 'session')}"
        if routine.target is not None:
            line += (
                f"; {routine.weeks_on_target} of {len(data.weeks)} weeks reached the target "
                f"of {_target_text(routine)}"
            )
        items.append(line + ".")
    pains = len(data.pain_stops)
    items.append(
        f"Stopped because of pain: {_plural(pains, 'time')}."
        if pains
        else "No session was stopped because of pain."
    )
    items.append(f"Rests lengthened: {_plural(sum(data.longer_rests), 'time')}.")
    return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _routine_section(data: ReportData, routine: RoutineWeeks, plots: dict[str, Plot]) -> str:
    weeks = [
        (
            week.label,
            tally.sessions,
            tally.finished,
            tally.pain,
            tally.longer_rests,
            routine.verdict(tally),
        )
        for week, tally in zip(data.weeks, routine.weeks, strict=True)
    ]
    exercises = [
        (
            exercise.name,
            *(
                f"{_plural(sets, 'set')}, {_plural(reps, 'repetition')}"
                for sets, reps in zip(exercise.sets, exercise.reps, strict=True)
            ),
        )
        for exercise in routine.exercises
    ]
    return "".join(
        (
            f"<h2>{_e(routine.title)}</h2>",
            "<h3>Sessions per week</h3>",
            _figure(plots.get(f"sessions-{routine.id}")),
            _table(
                f"{routine.title}: sessions per week, target {_target_text(routine)}",
                ("Week", "Sessions", "Finished", "Stopped for pain", "Rests lengthened", "Target"),
                weeks,
            ),
            "<p>A session counts when at least one repetition was done. "
            "Finished means every exercise was led to its end.</p>",
            "<h3>Sets and repetitions per exercise</h3>",
            _figure(plots.get(f"exercises-{routine.id}")),
            _table(
                f"{routine.title}: sets done and repetitions done, week by week",
                ("Exercise", *(f"Week {week.label}" for week in data.weeks)),
                exercises,
            ),
            "<p>A set is done when all its repetitions were, or the person said they were "
            "tired. Exercises done on both sides count a set for each side.</p>",
        )
    )


def _rests_section(data: ReportData, plots: dict[str, Plot]) -> str:
    rows = [
        (week.label, rests, pains)
        for week, rests, pains in zip(
            data.weeks, data.longer_rests, data.pain_per_week, strict=True
        )
    ]
    return (
        "<h2>Rests lengthened</h2>"
        + "<p>How often the person asked for a longer rest (said \u201clonger rest\u201d).</p>"
        + _figure(plots.get("rests"))
        + _table(
            "Longer rests and pain stops, week by week",
            ("Week", "Rests lengthened", "Stopped for pain"),
            rows,
        )
    )


def _pain_section(data: ReportData) -> str:
    if not data.pain_stops:
        return "<h2>Pain stops</h2><p>No session was stopped because of pain.</p>"
    rows = [
        (
            f"{stop.when:%a} {stop.when.day} {stop.when:%b %Y, %H:%M}",
            stop.routine,
            stop.exercise + (f" ({stop.side})" if stop.side else ""),
            "-" if stop.set_no is None else stop.set_no,
            "-" if stop.rep_no is None else stop.rep_no,
        )
        for stop in data.pain_stops
    ]
    return (
        "<h2>Pain stops</h2>"
        + "<p>Each time the person said they were in pain, the coach stopped at once and "
        + "advised them to call their doctor or physical therapist.</p>"
        + _table(
            "Every session stopped because of pain",
            ("Date", "Routine", "Exercise", "Set", "Repetition"),
            rows,
        )
    )


def render(data: ReportData, plots: dict[str, Plot], generated: datetime) -> str:
    """The whole page; ``plots`` by kind: "sessions-<routine id>", "exercises-<id>", "rests"."""
    first, last = data.weeks[0].first, data.weeks[-1].last
    span = f"{len(data.weeks)} week{'s' if len(data.weeks) != 1 else ''}"
    period = f"{day_text(first)} {first.year} to {day_text(last)} {last.year}"
    title = f"Exercise report for {data.profile}: {span}, {period}"
    parts = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Written by exercise-coach on {_e(f'{generated:%d %b %Y at %H:%M}')}.</p>",
    ]
    if data.other_profiles:
        names = ", ".join(data.other_profiles)
        parts.append(
            f"<p>This history also holds other people ({_e(names)}); "
            "each has a report of their own (exercise-coach report --profile NAME).</p>"
        )
    if data.empty:
        parts.append(
            f"<h2>No sessions</h2><p>No exercise session of {_e(data.profile)} was recorded "
            f"from {_e(period)}.</p>"
        )
    else:
        parts += [
            "<h2>At a glance</h2>",
            _glance(data),
            *(_routine_section(data, routine, plots) for routine in data.routines),
            _rests_section(data, plots),
            _pain_section(data),
        ]
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in parts if part)
        + "\n</main>\n</body>\n</html>\n"
    )
