"""The session history against real SQLite files, including a real kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.errors import HistoryError
from assistant.history import (
    SCHEMA_VERSION,
    History,
    SessionSummary,
    default_history_path,
    format_history,
)
from assistant.ports import Outcome, SessionRecorder

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


class StepClock:
    """Returns a time that moves on by ``step`` seconds at every call."""

    def __init__(self, start: datetime = START, step: float = 1.0) -> None:
        self.current = start
        self.step = timedelta(seconds=step)

    def __call__(self) -> datetime:
        now = self.current
        self.current += self.step
        return now


def _run_session(
    history: History, outcome: Outcome, routine: str = "strong_back", profile: str = "default"
) -> int:
    session_id = history.start_session(routine, profile)
    set_id = history.start_set(session_id, "pelvic_tilt", 1, None, 3)
    for n in (1, 2, 3):
        history.rep_done(set_id, n)
    history.end_set(set_id, 3, "completed")
    history.end_session(session_id, outcome, None, None, None, None)
    return session_id


def test_full_session_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "history.sqlite3"
    with History(path, now=StepClock()) as history:
        recorder: SessionRecorder = history
        session_id = recorder.start_session("strong_back", "ann")
        first = recorder.start_set(session_id, "pelvic_tilt", 1, None, 5)
        for n in range(1, 6):
            recorder.rep_done(first, n)
        recorder.end_set(first, 5, "completed")
        recorder.event(session_id, "longer_rest", "30")
        recorder.event(session_id, "pause")
        recorder.event(session_id, "resume")
        second = recorder.start_set(session_id, "bridge", 1, "left", 8)
        recorder.rep_done(second, 1)
        recorder.rep_done(second, 2)
        recorder.rep_done(second, 3)
        recorder.end_set(second, 3, "ended")
        recorder.end_session(session_id, Outcome.PAIN, "bridge", 1, 3, "left")

    with History(path) as history:
        (summary,) = history.recent_sessions()
        sets = history.sets_of(session_id)
        events = history.events_of(session_id)

    assert summary == SessionSummary(
        id=session_id,
        profile="ann",
        routine_id="strong_back",
        started_at=START,
        ended_at=START + timedelta(seconds=16),
        outcome=Outcome.PAIN,
        exercise_id="bridge",
        set_no=1,
        rep_no=3,
        side="left",
        sets_done=1,
        reps_done=8,
        longer_rests=1,
        pauses=1,
    )
    assert summary.duration == timedelta(seconds=16)
    assert summary.where == "pain at bridge (left) set 1 rep 3"
    assert [(s.exercise_id, s.side, s.reps_planned, s.reps_done, s.how) for s in sets] == [
        ("pelvic_tilt", None, 5, 5, "completed"),
        ("bridge", "left", 8, 3, "ended"),
    ]
    assert sets[0].started_at == START + timedelta(seconds=1)
    assert sets[0].ended_at == START + timedelta(seconds=7)
    assert [(e.kind, e.detail) for e in events] == [
        ("longer_rest", "30"),
        ("pause", ""),
        ("resume", ""),
    ]


def test_new_file_has_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reps_survive_kill_9_and_session_is_recovered_as_crashed(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from assistant.history import History

        history = History(Path(sys.argv[1]))
        session_id = history.start_session("strong_back", "default")
        set_id = history.start_set(session_id, "pelvic_tilt", 1, None, 10)
        for n in (1, 2, 3):
            history.rep_done(set_id, n)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, env=env, capture_output=True
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    # The process died before any checkpoint: the reps are only in the write-ahead log.
    assert path.with_name(path.name + "-wal").stat().st_size > 0

    with History(path) as history:
        (before,) = history.recent_sessions()
        assert before.outcome is Outcome.RUNNING
        (only_set,) = history.sets_of(before.id)
        assert only_set.reps_done == 3
        assert only_set.how is None

        assert history.recover_crashed() == [before.id]
        assert history.recover_crashed() == []
        (after,) = history.recent_sessions()

    assert after.outcome is Outcome.CRASHED
    assert after.ended_at == only_set.updated_at
    assert after.where == "crashed at pelvic_tilt set 1 rep 3"
    assert after.reps_done == 3


def test_recover_crashed_spares_live_sessions_but_not_a_reused_pid(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path) as history:
        ours = history.start_session("strong_back", "default")
        # A session from an earlier process that happened to have our pid.
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute(
                "INSERT INTO sessions (routine_id, started_at, pid, process_token)"
                " VALUES ('strong_back', '2024-01-01T00:00:00.000+00:00', ?, 'earlier')",
                (os.getpid(),),
            )
            earlier = conn.execute("SELECT max(id) FROM sessions").fetchone()[0]

        assert history.recover_crashed() == [earlier]
        outcomes = {s.id: s.outcome for s in history.recent_sessions()}

    assert outcomes == {ours: Outcome.RUNNING, earlier: Outcome.CRASHED}


def test_finished_since_last_pain(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite3", now=StepClock()) as history:
        assert history.finished_since_last_pain("strong_back", "default") == 0
        _run_session(history, Outcome.FINISHED)
        _run_session(history, Outcome.FINISHED)
        assert history.finished_since_last_pain("strong_back", "default") == 2

        _run_session(history, Outcome.PAIN)
        assert history.finished_since_last_pain("strong_back", "default") == 0

        _run_session(history, Outcome.FINISHED)
        _run_session(history, Outcome.STOPPED)
        _run_session(history, Outcome.FINISHED, routine="hips")
        _run_session(history, Outcome.FINISHED, profile="bob")
        _run_session(history, Outcome.FINISHED)
        assert history.finished_since_last_pain("strong_back", "default") == 2
        assert history.finished_since_last_pain("hips", "default") == 1
        assert history.finished_since_last_pain("strong_back", "bob") == 1

        # Pain in another routine of the same person resets progression too.
        _run_session(history, Outcome.PAIN, routine="hips")
        assert history.finished_since_last_pain("strong_back", "default") == 0
        assert history.finished_since_last_pain("strong_back", "bob") == 1


def test_recent_sessions_newest_first_limited_and_by_profile(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite3", now=StepClock()) as history:
        ids = [_run_session(history, Outcome.FINISHED) for _ in range(4)]
        bob = _run_session(history, Outcome.FINISHED, profile="bob")
        assert [s.id for s in history.recent_sessions(limit=3)] == [bob, ids[3], ids[2]]
        assert [s.id for s in history.recent_sessions(profile="bob")] == [bob]
        assert [s.id for s in history.recent_sessions(profile="default")] == ids[::-1]


def test_format_history(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite3", now=StepClock(step=61)) as history:
        _run_session(history, Outcome.FINISHED)
        session_id = history.start_session("strong_back", "default")
        set_id = history.start_set(session_id, "pelvic_tilt", 1, None, 10)
        history.rep_done(set_id, 1)
        history.rep_done(set_id, 2)
        history.end_set(set_id, 2, "ended")
        history.end_session(session_id, Outcome.PAIN, "pelvic_tilt", 1, 3, None)
        history.start_session("hips", "default")
        summaries = history.recent_sessions()

    text = format_history(summaries, tz=timezone(timedelta(hours=2)))

    assert text.splitlines() == [
        "When              Routine      How far                          Sets  Reps  Time",
        "2024-05-01 11:13  hips         running                             0     0     -",
        "2024-05-01 11:07  strong_back  pain at pelvic_tilt set 1 rep 3     0     2  5:05",
        "2024-05-01 11:00  strong_back  finished                            1     3  6:06",
    ]
    assert format_history([]) == "No sessions recorded yet."


def test_not_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"these are not the bytes of a SQLite database\n" * 100)
    with pytest.raises(HistoryError, match="not an exercise-coach history") as info:
        History(path)
    assert str(path) in str(info.value)


def test_database_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    with pytest.raises(HistoryError, match="another program"):
        History(path)


def test_database_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer exercise-coach"):
        History(path)


def test_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="is a folder") as info:
        History(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_path_whose_parent_is_a_file(tmp_path: Path) -> None:
    parent = tmp_path / "not_a_folder"
    parent.write_text("x")
    path = parent / "history.sqlite3"
    with pytest.raises(HistoryError, match="cannot create the folder") as info:
        History(path)
    assert str(path) in str(info.value)


def test_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path, timeout=0) as history:
        session_id = history.start_session("strong_back", "default")
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(HistoryError, match="locked by another program"):
                history.event(session_id, "pause")
            other.execute("ROLLBACK")
        history.event(session_id, "pause")
        assert [e.kind for e in history.events_of(session_id)] == ["pause"]


def test_disk_full_raises_history_error_and_keeps_committed_data(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path) as history:
        session_id = history.start_session("strong_back", "default")
        set_id = history.start_set(session_id, "pelvic_tilt", 1, None, 10)
        history.rep_done(set_id, 1)
        # max_page_count is per connection, so it must be set on the History's own one:
        # the file then cannot grow and SQLite answers SQLITE_FULL, as on a full disk.
        conn = history._conn
        assert conn is not None
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(HistoryError, match="disk is full") as info:
            for _ in range(1000):
                history.event(session_id, "note", "x" * 2000)
        assert str(path) in str(info.value)
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)

        history.rep_done(set_id, 2)  # small updates still fit in existing pages
        assert history.sets_of(session_id)[0].reps_done == 2

    with History(path) as history:
        assert history.sets_of(session_id)[0].reps_done == 2
        assert history.recent_sessions()[0].id == session_id


def test_read_only_database_raises_history_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path) as history:
        session_id = history.start_session("strong_back", "default")
        # Tests run as root, who can write a chmod-ed file; query_only makes SQLite itself
        # answer SQLITE_READONLY, as it does for a file the user cannot write.
        conn = history._conn
        assert conn is not None
        conn.execute("PRAGMA query_only = ON")
        with pytest.raises(HistoryError, match="is read-only") as info:
            history.event(session_id, "pause")
        assert str(path) in str(info.value)
        assert history.recent_sessions()[0].id == session_id


def test_closed_history_raises_history_error(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite3")
    history.close()
    history.close()
    with pytest.raises(HistoryError, match="closed"):
        history.start_session("strong_back", "default")


def test_unknown_set_is_an_error_not_silence(tmp_path: Path) -> None:
    with (
        History(tmp_path / "history.sqlite3") as history,
        pytest.raises(HistoryError, match="no set 42"),
    ):
        history.rep_done(42, 1)


def test_default_history_path(tmp_path: Path) -> None:
    assert default_history_path({"EXERCISE_COACH_DATA_DIR": str(tmp_path)}) == (
        tmp_path / "history.sqlite3"
    )
    default = default_history_path({})
    assert default.name == "history.sqlite3"
    assert "exercise-coach" in str(default)
