"""The report's plots as PNG files (matplotlib, Agg): large type, black on white, no colour code.

Lines differ by marker and dash as well as colour, and bars by hatching, so a plot printed
in black and white, or seen by someone who cannot tell colours apart, says the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import cycle
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from assistant.report import Plot, ReportData, RoutineWeeks

_STYLE: dict[RcKeyType, Any] = {
    "font.size": 17,
    "axes.titlesize": 19,
    "axes.labelsize": 17,
    "legend.fontsize": 15,
    "axes.linewidth": 1.5,
    "lines.linewidth": 3,
    "lines.markersize": 10,
    "hatch.linewidth": 1.5,
    "axes.prop_cycle": "cycler(color=['#000000', '#0000b0', '#b00000', '#006000', "
    "'#7a3d00', '#600080', '#005c66', '#404040', '#8a0050', '#3d5c00'])",
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_DASHES = ("-", "--", ":", "-.")
_WIDTH_INCHES = 11.0
_DPI = 100


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=_DPI, facecolor="white")


def _week_axis(axes: Axes, labels: Sequence[str], ylabel: str) -> None:
    tilted = len(labels) > 4
    axes.set_xticks(
        range(len(labels)), labels, rotation=30 if tilted else 0, ha="right" if tilted else "center"
    )
    axes.set_xlabel("Week")
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", color="#808080", linewidth=0.8)
    axes.set_axisbelow(True)


def _target(routine: RoutineWeeks) -> str:
    if routine.target is None:
        return "no target known"
    low, high = routine.target
    return f"target {low} a week" if low == high else f"target {low} to {high} a week"


def _sessions(data: ReportData, routine: RoutineWeeks, path: Path) -> Plot:
    labels = [week.label for week in data.weeks]
    counts = [tally.sessions for tally in routine.weeks]
    figure = Figure(figsize=(_WIDTH_INCHES, 5.0), layout="constrained")
    axes = figure.subplots()
    if routine.target is not None:
        low, high = routine.target
        if high > low:
            axes.axhspan(low, high, color="#d0d0d0")
        axes.axhline(low, color="#000000", linestyle="--", linewidth=2, label=_target(routine))
        axes.axhline(high, color="#000000", linestyle="--", linewidth=2)
    bars = axes.bar(
        range(len(counts)),
        counts,
        color="#1f3d99",
        edgecolor="#000000",
        hatch="//",
        label="Sessions",
    )
    axes.bar_label(bars, padding=3)
    axes.set_ylim(0, max([*counts, *(routine.target or (0, 0))]) + 2)
    axes.set_title(f"{routine.title}: sessions per week")
    _week_axis(axes, labels, "Sessions")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(figure, path)
    weeks = "; ".join(
        f"week {week.label}: {tally.sessions}"
        for week, tally in zip(data.weeks, routine.weeks, strict=True)
    )
    alt = (
        f"Bar chart of {routine.title} sessions per week, {_target(routine)} shown as dashed "
        f"lines. {weeks}."
    )
    return Plot(path.name, alt, f"Sessions per week against the {_target(routine)}.")


def _exercises(data: ReportData, routine: RoutineWeeks, path: Path) -> Plot:
    labels = [week.label for week in data.weeks]
    figure = Figure(figsize=(_WIDTH_INCHES, 10.0), layout="constrained")
    sets_axes, reps_axes = figure.subplots(2, 1)
    styles = zip(cycle(_MARKERS), cycle(_DASHES), strict=False)
    for exercise, (marker, dash) in zip(routine.exercises, styles, strict=False):
        style: dict[str, Any] = {"marker": marker, "linestyle": dash, "label": exercise.name}
        sets_axes.plot(range(len(labels)), exercise.sets, **style)
        reps_axes.plot(range(len(labels)), exercise.reps, **style)
    sets_axes.set_title(f"{routine.title}: sets done per week")
    reps_axes.set_title(f"{routine.title}: repetitions done per week")
    _week_axis(sets_axes, labels, "Sets")
    _week_axis(reps_axes, labels, "Repetitions")
    for axes in (sets_axes, reps_axes):
        axes.set_ylim(bottom=0)
    figure.legend(*sets_axes.get_legend_handles_labels(), loc="outside lower center", ncols=2)
    _save(figure, path)
    most = max(routine.exercises, key=lambda exercise: sum(exercise.reps))
    alt = (
        f"Line charts of sets and repetitions per week for the {len(routine.exercises)} "
        f"exercises of {routine.title}. Most repetitions: {most.name}, {sum(most.reps)} in all. "
        "Every number is in the table below."
    )
    return Plot(path.name, alt, f"{routine.title}: sets and repetitions per exercise.")


def _rests(data: ReportData, path: Path) -> Plot:
    labels = [week.label for week in data.weeks]
    figure = Figure(figsize=(_WIDTH_INCHES, 5.0), layout="constrained")
    axes = figure.subplots()
    width = 0.4
    places = range(len(labels))
    for offset, values, colour, hatch, label in (
        (-width / 2, data.longer_rests, "#ffffff", "..", "Rests lengthened"),
        (width / 2, data.pain_per_week, "#b00000", "xx", "Stopped for pain"),
    ):
        bars = axes.bar(
            [x + offset for x in places],
            values,
            width,
            color=colour,
            edgecolor="#000000",
            hatch=hatch,
            label=label,
        )
        axes.bar_label(bars, padding=3)
    axes.set_ylim(0, max([*data.longer_rests, *data.pain_per_week]) + 2)
    axes.set_title("Rests lengthened and pain stops per week")
    _week_axis(axes, labels, "Times")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(figure, path)
    weeks = "; ".join(
        f"week {week.label}: {rest} longer, {pain} for pain"
        for week, rest, pain in zip(data.weeks, data.longer_rests, data.pain_per_week, strict=True)
    )
    alt = f"Bar chart of rests lengthened and sessions stopped for pain per week. {weeks}."
    return Plot(path.name, alt, "Rests lengthened and pain stops per week.")


def draw(data: ReportData, folder: Path, stem: str) -> dict[str, Plot]:
    """Draw every plot of ``data`` into ``folder`` as ``<stem>-<kind>.png``."""
    plots: dict[str, Plot] = {}
    with rc_context(_STYLE):
        for routine in data.routines:
            # A routine file's id may hold any character; a file name should not.
            name = re.sub(r"[^A-Za-z0-9_-]+", "_", routine.id)
            plots[f"sessions-{routine.id}"] = _sessions(
                data, routine, folder / f"{stem}-{name}-sessions.png"
            )
            if routine.exercises:
                plots[f"exercises-{routine.id}"] = _exercises(
                    data, routine, folder / f"{stem}-{name}-exercises.png"
                )
        plots["rests"] = _rests(data, folder / f"{stem}-rests.png")
    return plots
