"""The carers' report, from a real history file filled by real sessions over several weeks."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from assistant.cli import main
from assistant.clock import ManualClock
from assistant.history import History
from assistant.routine import resolve_routine
from assistant.session import Session, sets_for_session

COACH = (sys.executable, "-m", "assistant")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STRONG = "Exercises for Strong Back and Hips"
SPINE = "Osteoporosis Spine Strengthening Exercises"


@dataclass
class User:
    """Says each scripted command in the hold of the given exercise and repetition."""

    clock: ManualClock
    script: list[tuple[str, int, str]]
    """(exercise id, repetition, command); an exercise id of "" means the first thing said."""
    session: Session | None = None
    said: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)
        if self.session is None or not self.script:
            return
        exercise_id, _, rep_no, _ = self.session.where()
        wanted, rep, command = self.script[0]
        holding = self.session.state == "hold"
        if wanted == "" or (holding and (exercise_id, rep_no) == (wanted, rep)):
            self.script.pop(0)
            session = self.session

            def answer() -> None:
                session.command(command)

            # The person answers a moment after the coach speaks, as a person does.
            self.clock.call_later(0.5, answer)

    def stop(self) -> None:
        """Nothing to cut off."""


def _exercise(
    history_path: Path,
    started: datetime,
    routine_id: str = "strong_back",
    script: list[tuple[str, int, str]] | None = None,
    profile: str = "ann",
) -> None:
    """One whole session on the real state machine, written to the real history file."""
    clock = ManualClock()
    with History(history_path, now=lambda: started + timedelta(seconds=clock.now())) as history:
        routine = resolve_routine(routine_id)
        finished = history.finished_since_last_pain(routine.id, profile)
        user = User(clock, list(script or []))
        session = Session(
            routine,
            user,
            clock,
            history,
            sets=sets_for_session(routine, finished),
            profile=profile,
        )
        user.session = session
        session.begin()
        clock.run_until(lambda: session.is_over)
        assert session.is_over


def _days_ago(days: int) -> datetime:
    """Ten in the morning, local time, ``days`` before today."""
    return datetime.combine(date.today() - timedelta(days=days), time(10, 0)).astimezone()


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts, keyed by caption; and every image."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str | None]] = []
        self.headings: list[str] = []
        self._rows: list[list[str]] = []
        self._caption = ""
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = []
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th", "caption", "h1", "h2"):
            self._text = []
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text or [])
        if tag in ("td", "th"):
            self._rows[-1].append(text)
        elif tag == "caption":
            self._caption = text
        elif tag in ("h1", "h2"):
            self.headings.append(text)
        elif tag == "table":
            self.tables[self._caption] = self._rows
        if tag in ("td", "th", "caption", "h1", "h2"):
            self._text = None


def _parse(page: Path) -> _Tables:
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _check_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    width, height = struct.unpack(">II", data[16:24])
    assert 800 <= width <= 2000 and 300 <= height <= 2500, (path, width, height)
    assert 10_000 < len(data) < 1_000_000, (path, len(data))
    rgb = (imread(path)[..., :3] * 255).astype(np.uint32)
    # A plot, not a blank page: many shades, and black text or lines on white.
    assert len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])) > 20
    assert (rgb < 50).all(axis=-1).mean() > 0.005
    return width, height


def test_four_weeks_of_sessions_make_a_report_with_counts_pain_and_plots(
    _private_dirs: Path, tmp_path: Path
) -> None:
    history_path = _private_dirs / "history.sqlite3"
    # Week 1 (oldest): three finished sessions. Week 2: one, stopped for pain.
    for days in (27, 25, 23):
        _exercise(history_path, _days_ago(days))
    _exercise(history_path, _days_ago(18), script=[("leg_arm_lift", 3, "pain")])
    # Week 3: three sessions; in one the person asks twice for a longer rest.
    _exercise(history_path, _days_ago(13), script=[("pelvic_tilt", 2, "longer_rest")] * 2)
    for days in (10, 8):
        _exercise(history_path, _days_ago(days))
    # Week 4: one stopped before any repetition (not counted), one stopped after two
    # repetitions, one finished; a spine session; and another person's session.
    _exercise(history_path, _days_ago(6), script=[("", 0, "stop")])
    _exercise(history_path, _days_ago(5), script=[("pelvic_tilt", 3, "stop")])
    _exercise(history_path, _days_ago(3))
    _exercise(history_path, _days_ago(2), routine_id="spine")
    _exercise(history_path, _days_ago(2), script=[("", 0, "stop")], profile="bob")

    output = tmp_path / "out" / "report.html"
    output.parent.mkdir()
    out = io.StringIO()
    assert (
        main(["report", "--weeks", "4", "--output", str(output), "--profile", "ann"], stdout=out)
        == 0
    )
    assert "(10 sessions)" in out.getvalue()

    page = _parse(output)
    assert page.headings[0].startswith("Exercise report for ann: 4 weeks")
    strong = page.tables[f"{STRONG}: sessions per week, target 3 to 6 sessions a week"]
    assert strong[0] == [
        "Week",
        "Sessions",
        "Finished",
        "Stopped for pain",
        "Rests lengthened",
        "Target",
    ]
    assert [row[1:] for row in strong[1:]] == [
        ["3", "3", "0", "0", "On target"],
        ["1", "0", "1", "0", "Below target (2 short)"],
        ["3", "3", "0", "2", "On target"],
        ["2", "1", "0", "0", "Below target (1 short)"],
    ]
    spine = page.tables[f"{SPINE}: sessions per week, target 7 sessions a week"]
    assert [row[1] for row in spine[1:]] == ["0", "0", "0", "1"]

    (stop,) = page.tables["Every session stopped because of pain"][1:]
    pain_day = _days_ago(18)
    assert stop[0] == f"{pain_day:%a} {pain_day.day} {pain_day:%b %Y, %H:%M}"
    assert stop[2:] == ["Leg and Arm Lift (left leg)", "1", "3"]

    sets = page.tables[f"{STRONG}: sets done and repetitions done, week by week"]
    # Week 1: one set, one set, then two after two finished sessions.
    # Week 4: the stop in repetition 3 keeps 2 repetitions and no set done; the finished
    # session has 2 sets (three finished sessions since the pain).
    assert [row[0] for row in sets[1:]] == [
        "Pelvic Tilt",
        "Leg and Arm Lift",
        "Chest Lift One",
        "Diagonal Lift",
        "Head Press",
    ]
    pelvic = sets[1][1:]
    assert pelvic[0] == "4 sets, 32 repetitions"
    assert pelvic[3] == "2 sets, 18 repetitions"
    spine_sets = page.tables[f"{SPINE}: sets done and repetitions done, week by week"]
    assert spine_sets[1] == [
        "Neck Press Against Resistance",
        *["0 sets, 0 repetitions"] * 3,
        "1 set, 10 repetitions",
    ]

    text = output.read_text(encoding="utf-8")
    assert "3 of 4 weeks" not in text and "2 of 4 weeks reached the target" in text
    assert "other people (bob)" in text
    assert '<html lang="en">' in text and "@media print" in text
    assert len(page.images) == 5
    for image in page.images:
        assert image["alt"] and len(image["alt"] or "") > 40
        _check_png(output.parent / str(image["src"]))


def _coach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COACH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_of_sessions_run_through_the_command_line(
    _private_dirs: Path, tmp_path: Path
) -> None:
    coach = subprocess.Popen(
        [*COACH, "run", "--text", "--routine", "spine", "--time-scale", "0.005"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert coach.stdin is not None and coach.stdout is not None
    for line in coach.stdout:
        if "Repetition three." in line:
            coach.stdin.write("it hurts, pain\n")
            coach.stdin.flush()
            break
    coach.stdout.read()
    coach.stdin.close()
    coach.stdout.close()
    assert coach.wait(timeout=60) == 3

    output = tmp_path / "carers.html"
    done = _coach("report", "--weeks", "2", "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"written to {output}" in done.stdout
    page = _parse(output)
    weeks = page.tables[f"{SPINE}: sessions per week, target 7 sessions a week"]
    assert [row[1:4] for row in weeks[1:]] == [["0", "0", "0"], ["1", "0", "1"]]
    (stop,) = page.tables["Every session stopped because of pain"][1:]
    assert stop[1:3] == [SPINE, "Neck Press Against Resistance"]
    assert stop[3] == "1" and stop[4] in ("3", "4")
    for name in ("carers-spine-sessions.png", "carers-spine-exercises.png", "carers-rests.png"):
        assert f"plot: {tmp_path / name}" in done.stdout
        _check_png(tmp_path / name)


def test_empty_history_gives_a_clear_page_and_creates_no_history(
    _private_dirs: Path, tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    out = io.StringIO()
    assert main(["report", "--output", str(output)], stdout=out) == 0
    page = _parse(output)
    assert "No sessions" in page.headings
    assert "No exercise session of default was recorded" in output.read_text(encoding="utf-8")
    assert page.images == []
    assert list(tmp_path.glob("*.png")) == []
    assert not (_private_dirs / "history.sqlite3").exists()
    assert "(0 sessions)" in out.getvalue()


def test_bad_weeks_value_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = _coach("report", "--weeks", "0", "--output", str(tmp_path / "r.html"))
    assert done.returncode == 2
    assert "--weeks: must be a whole number of weeks from 1 to 104, got '0'" in done.stderr
    assert "Traceback" not in done.stderr
    for bad in ("-3", "four", "105", "2.5"):
        with pytest.raises(SystemExit) as exited:
            main(["report", "--weeks", bad])
        assert exited.value.code == 2
        assert f"got '{bad}'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_output_in_a_missing_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "no such folder" / "report.html"
    assert main(["report", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"exercise-coach: cannot write the report to {output}: no folder {output.parent}"
    )
