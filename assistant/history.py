"""Session history in a SQLite file: every repetition is committed as it happens."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from assistant.closing import Closing
from assistant.errors import HistoryError
from assistant.ports import Outcome
from assistant.progression import Answer, Change, Past

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DATA_DIR_ENV = "EXERCISE_COACH_DATA_DIR"
FILE_NAME = "history.sqlite3"

# Tells this process's own sessions apart from a crashed one whose pid the OS has since
# handed back to us (pids are small and reused quickly in containers).
_PROCESS_TOKEN = uuid.uuid4().hex

_SCHEMA = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL DEFAULT 'default', routine_id TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT,  -- ISO-8601 UTC
    outcome TEXT NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'finished', 'stopped', 'pain', 'crashed')),
    end_exercise_id TEXT, end_set_no INTEGER, end_rep_no INTEGER, end_side TEXT,
    pid INTEGER NOT NULL, process_token TEXT NOT NULL  -- who runs it, to tell a crash
);
CREATE INDEX sessions_by_profile ON sessions (profile, started_at);
CREATE INDEX sessions_by_routine ON sessions (routine_id, profile, outcome);
CREATE TABLE sets (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    exercise_id TEXT NOT NULL, set_no INTEGER NOT NULL, side TEXT,
    reps_planned INTEGER NOT NULL, reps_done INTEGER NOT NULL DEFAULT 0,
    how TEXT,  -- completed, done, skipped or ended: NULL if it never ended
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL, ended_at TEXT
);
CREATE INDEX sets_by_session ON sets (session_id);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_session ON events (session_id)
"""
# Schema 2: progression (progression.py). "progress" keeps every change of a person's
# programme, "answers" every reply to "Was that easy?".
_SCHEMA_2 = """
CREATE TABLE progress (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL, routine_id TEXT NOT NULL,
    session_id INTEGER REFERENCES sessions (id) ON DELETE SET NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sets', 'stage', 'reps', 'harder')),
    subject TEXT NOT NULL,  -- the routine, series or exercise it changes
    old_value INTEGER NOT NULL, new_value INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('sessions', 'pain', 'easy', 'easier')),
    undoes INTEGER REFERENCES progress (id)  -- for 'easier': the change it takes back
);
CREATE INDEX progress_by_profile ON progress (profile, routine_id);
CREATE TABLE answers (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    at TEXT NOT NULL, exercise_id TEXT NOT NULL, easy INTEGER NOT NULL CHECK (easy IN (0, 1))
);
CREATE INDEX answers_by_session ON answers (session_id)
"""
_OUR_TABLES = {"sessions", "sets", "events", "progress", "answers"}


@dataclass(frozen=True)
class SessionSummary:
    """One session as the history command and the planner see it."""

    id: int
    profile: str
    routine_id: str
    started_at: datetime
    ended_at: datetime | None
    outcome: Outcome
    exercise_id: str | None
    set_no: int | None
    rep_no: int | None
    side: str | None
    sets_done: int
    """Sets that ended "completed" or "done" (tired)."""
    reps_done: int
    longer_rests: int
    pauses: int

    @property
    def duration(self) -> timedelta | None:
        """Time from start to end; None while the session is running."""
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def where(self) -> str:
        """How far it got, e.g. "pain at pelvic_tilt set 1 rep 3"."""
        if self.outcome in (Outcome.FINISHED, Outcome.RUNNING) or self.exercise_id is None:
            return self.outcome.value
        text = f"{self.outcome.value} at {self.exercise_id}"
        if self.side:
            text += f" ({self.side})"
        if self.set_no is not None:
            text += f" set {self.set_no}"
        if self.rep_no is not None:
            text += f" rep {self.rep_no}"
        return text


@dataclass(frozen=True)
class SetRecord:
    """One set of one exercise; ``how`` is None if it never ended (crash)."""

    id: int
    session_id: int
    exercise_id: str
    set_no: int
    side: str | None
    reps_planned: int
    reps_done: int
    how: str | None
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class EventRecord:
    """A pause, resume, longer rest, skip or other event."""

    id: int
    session_id: int
    at: datetime
    kind: str
    detail: str


def default_history_path(environ: Mapping[str, str] | None = None) -> Path:
    """The history file: in ``$EXERCISE_COACH_DATA_DIR`` if set, else the user data dir."""
    env = os.environ if environ is None else environ
    directory = env.get(DATA_DIR_ENV) or user_data_dir("exercise-coach")
    return Path(directory).expanduser() / FILE_NAME


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    # One fixed format, so text order is time order and MAX() works in SQL.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _alive(pid: int, token: str) -> bool:
    if pid == os.getpid():
        return token == _PROCESS_TOKEN
    if pid <= 0:
        return False  # os.kill(0, ...) would signal our own process group
    if sys.platform == "win32":
        return False  # os.kill would terminate it; a second coach at once is not supported
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


# (primary SQLite result codes, words of the message, what the user reads after the path)
_ERRORS: tuple[tuple[set[int], str, str], ...] = (
    (
        {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT},
        "not a database",
        "is not an exercise-coach history database (not SQLite, or damaged); "
        "move it aside and a new one will be created",
    ),
    (
        {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED},
        "locked",
        "is locked by another program; close any other exercise-coach and try again",
    ),
    (
        {sqlite3.SQLITE_READONLY},
        "readonly",
        "is read-only; check the permissions of it and its folder",
    ),
    ({sqlite3.SQLITE_FULL}, "disk is full", "cannot be written: the disk is full; free some space"),
    (
        {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM},
        "unable to open",
        "cannot be opened; check that it is a file in a folder you can write to",
    ),
    ({sqlite3.SQLITE_IOERR}, "disk I/O error", "cannot be read or written: input/output error"),
)


def _history_error(path: Path, exc: sqlite3.Error) -> HistoryError:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    for codes, words, meaning in _ERRORS:
        if code in codes or words in str(exc):
            return HistoryError(f"history file {path} {meaning}")
    return HistoryError(f"history file {path}: {exc}")


def _fields(row: sqlite3.Row) -> dict[str, Any]:
    """A row as keyword arguments, with the ISO-8601 ``*_at`` columns as datetimes."""
    return {
        key: _parse(row[key]) if key == "at" or key.endswith("_at") else row[key]
        for key in row.keys()  # noqa: SIM118 - sqlite3.Row is not iterable by key
    }


class History(Closing):
    """The session history in one SQLite file; implements ``ports.SessionRecorder``."""

    def __init__(
        self,
        path: Path,
        now: Callable[[], datetime] = _utc_now,
        timeout: float = 5.0,
    ) -> None:
        """Open or create the file; ``timeout`` is seconds to wait for another writer."""
        self.path = Path(path)
        self._now = now
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(
                f"cannot create the folder for history file {self.path}: {exc.strerror or exc}"
            ) from exc
        if self.path.is_dir():
            raise HistoryError(f"history file {self.path} is a folder, not a file")
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                _LOGGER.warning("History file %s is in %s journal mode, not WAL", self.path, mode)
            # FULL: a committed repetition survives a power cut too, not only a crash.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _history_error(self.path, exc) from exc
            raise
        self._conn: sqlite3.Connection | None = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"history file {self.path} was written by a newer exercise-coach "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}); please upgrade"
                )
            if version == 0:
                tables = {
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    ).fetchall()
                }
                if tables - _OUR_TABLES:
                    raise HistoryError(
                        f"history file {self.path} is a database of another program; "
                        "choose another path"
                    )
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
            if version < 2:
                for statement in filter(str.strip, _SCHEMA_2.split(";")):
                    conn.execute(statement)
            # Later schema versions add their steps here: `if version < 3: ...`.
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the file; harmless if already closed."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HistoryError(f"history file {self.path} is already closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the body as one committed write; any SQLite error becomes a HistoryError."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _history_error(self.path, exc) from exc

    def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _history_error(self.path, exc) from exc

    def _write(self, sql: str, params: Sequence[Any], must_change: str = "") -> int:
        """Run one statement and commit it; returns the new row id."""
        with self._transaction() as conn:
            cursor = conn.execute(sql, params)
            if must_change and cursor.rowcount != 1:
                raise HistoryError(f"history file {self.path} has no {must_change}")
        return cursor.lastrowid or 0

    # --- SessionRecorder -----------------------------------------------------------------

    def start_session(self, routine_id: str, profile: str = "default") -> int:
        """Record a new running session; returns its id."""
        return self._write(
            "INSERT INTO sessions (profile, routine_id, started_at, pid, process_token)"
            " VALUES (?, ?, ?, ?, ?)",
            (profile, routine_id, _stamp(self._now()), os.getpid(), _PROCESS_TOKEN),
        )

    def start_set(
        self, session_id: int, exercise_id: str, set_no: int, side: str | None, reps_planned: int
    ) -> int:
        """Record a set as begun; returns its id."""
        now = _stamp(self._now())
        return self._write(
            "INSERT INTO sets (session_id, exercise_id, set_no, side, reps_planned,"
            " started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, exercise_id, set_no, side, reps_planned, now, now),
        )

    def rep_done(self, set_id: int, reps_done: int) -> None:
        """Record that ``reps_done`` repetitions of the set are complete."""
        self._write(
            "UPDATE sets SET reps_done = ?, updated_at = ? WHERE id = ?",
            (reps_done, _stamp(self._now()), set_id),
            must_change=f"set {set_id}",
        )

    def end_set(self, set_id: int, reps_done: int, how: str) -> None:
        """Record a set as over: "completed", "done" (tired), "skipped" or "ended"."""
        now = _stamp(self._now())
        self._write(
            "UPDATE sets SET reps_done = ?, how = ?, updated_at = ?, ended_at = ? WHERE id = ?",
            (reps_done, how, now, now, set_id),
            must_change=f"set {set_id}",
        )

    def event(self, session_id: int, kind: str, detail: str = "") -> None:
        """Record a pause, resume, longer_rest, skip or other event."""
        self._write(
            "INSERT INTO events (session_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (session_id, _stamp(self._now()), kind, detail),
        )

    def end_session(
        self,
        session_id: int,
        outcome: Outcome,
        exercise_id: str | None,
        set_no: int | None,
        rep_no: int | None,
        side: str | None,
    ) -> None:
        """Record how the session ended and where it was."""
        now = _stamp(self._now())
        self._write(
            "UPDATE sessions SET outcome = ?, ended_at = ?, end_exercise_id = ?,"
            " end_set_no = ?, end_rep_no = ?, end_side = ? WHERE id = ?",
            (Outcome(outcome).value, now, exercise_id, set_no, rep_no, side, session_id),
            must_change=f"session {session_id}",
        )

    # --- recovery and reading ------------------------------------------------------------

    def recover_crashed(self) -> list[int]:
        """Mark 'running' sessions whose process is gone as 'crashed'; returns their ids."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id, pid, process_token FROM sessions WHERE outcome = 'running'"
            ).fetchall()
            crashed = [row["id"] for row in rows if not _alive(row["pid"], row["process_token"])]
            for session_id in crashed:
                last_at = conn.execute(
                    "SELECT max(t) FROM (SELECT started_at AS t FROM sessions WHERE id = :id"
                    " UNION ALL SELECT updated_at FROM sets WHERE session_id = :id"
                    " UNION ALL SELECT at FROM events WHERE session_id = :id)",
                    {"id": session_id},
                ).fetchone()[0]
                last_set = conn.execute(
                    "SELECT exercise_id, set_no, side, reps_done FROM sets"
                    " WHERE session_id = ? ORDER BY id DESC LIMIT 1",
                    (session_id,),
                ).fetchone()
                where = (None, None, None, None) if last_set is None else tuple(last_set)
                conn.execute(
                    "UPDATE sessions SET outcome = 'crashed', ended_at = ?, end_exercise_id = ?,"
                    " end_set_no = ?, end_side = ?, end_rep_no = ? WHERE id = ?",
                    (last_at, *where, session_id),
                )
        if crashed:
            _LOGGER.info("Marked sessions %s in %s as crashed", crashed, self.path)
        return crashed

    def recent_sessions(
        self, limit: int | None = 10, profile: str | None = None, since: datetime | None = None
    ) -> list[SessionSummary]:
        """The latest sessions, newest first, of one profile or of all.

        ``limit`` None gives every one; ``since`` keeps those started then or later.
        """
        rows = self._read(
            "SELECT id, profile, routine_id, started_at, ended_at, outcome,"
            " end_exercise_id AS exercise_id, end_set_no AS set_no, end_rep_no AS rep_no,"
            " end_side AS side,"
            " (SELECT count(*) FROM sets t WHERE t.session_id = s.id"
            "  AND t.how IN ('completed', 'done')) AS sets_done,"
            " (SELECT coalesce(sum(t.reps_done), 0) FROM sets t"
            "  WHERE t.session_id = s.id) AS reps_done,"
            " (SELECT count(*) FROM events e WHERE e.session_id = s.id"
            "  AND e.kind = 'longer_rest') AS longer_rests,"
            " (SELECT count(*) FROM events e WHERE e.session_id = s.id"
            "  AND e.kind = 'pause') AS pauses"
            " FROM sessions s WHERE (:profile IS NULL OR s.profile = :profile)"
            " AND (:since IS NULL OR s.started_at >= :since)"
            " ORDER BY s.started_at DESC, s.id DESC LIMIT :limit",
            {
                "profile": profile,
                "limit": -1 if limit is None else limit,  # SQLite: a negative LIMIT is none
                "since": None if since is None else _stamp(since),
            },
        )
        return [
            SessionSummary(**{**_fields(row), "outcome": Outcome(row["outcome"])}) for row in rows
        ]

    def sets_of(self, session_id: int) -> list[SetRecord]:
        """The sets of one session, in the order they began."""
        rows = self._read("SELECT * FROM sets WHERE session_id = ? ORDER BY id", (session_id,))
        return [SetRecord(**_fields(row)) for row in rows]

    def events_of(self, session_id: int) -> list[EventRecord]:
        """The events of one session, in order."""
        rows = self._read("SELECT * FROM events WHERE session_id = ? ORDER BY id", (session_id,))
        return [EventRecord(**_fields(row)) for row in rows]

    def finished_since_last_pain(self, routine_id: str, profile: str) -> int:
        """Finished sessions of the routine since the profile's last pain in any routine."""
        # Pain in any routine resets progression: it is the person's back, not the routine's.
        rows = self._read(
            "SELECT count(*) FROM sessions WHERE routine_id = :routine AND profile = :profile"
            " AND outcome = 'finished' AND id > coalesce((SELECT max(id) FROM sessions"
            " WHERE profile = :profile AND outcome = 'pain'), 0)",
            {"routine": routine_id, "profile": profile},
        )
        return int(rows[0][0])

    # --- progression (schema 2) ----------------------------------------------------------

    def pasts(self, profile: str) -> list[Past]:
        """Every session of the profile, oldest first, as progression sees it."""
        rows = self._read(
            "SELECT id, routine_id, outcome FROM sessions WHERE profile = ? ORDER BY id",
            (profile,),
        )
        return [Past(row["id"], row["routine_id"], Outcome(row["outcome"])) for row in rows]

    def record_change(self, profile: str, routine_id: str, change: Change) -> Change:
        """Keep a change of the person's programme; returns it with its row id."""
        row = self._write(
            "INSERT INTO progress (profile, routine_id, session_id, at, kind, subject,"
            " old_value, new_value, reason, undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                profile,
                routine_id,
                change.session_id,
                _stamp(self._now()),
                change.kind,
                change.subject,
                change.old,
                change.new,
                change.reason,
                change.undoes,
            ),
        )
        return dataclasses.replace(change, id=row)

    def changes(self, profile: str, routine_id: str) -> list[Change]:
        """The profile's changes to one routine, oldest first."""
        rows = self._read(
            "SELECT * FROM progress WHERE profile = ? AND routine_id = ? ORDER BY id",
            (profile, routine_id),
        )
        return [
            Change(
                row["kind"],
                row["subject"],
                row["old_value"],
                row["new_value"],
                row["reason"],
                row["session_id"],
                row["id"],
                row["undoes"],
            )
            for row in rows
        ]

    def record_answer(self, session_id: int, exercise_id: str, easy: bool) -> None:
        """Keep a "yes" or "no" to "Was that easy?" after an exercise."""
        self._write(
            "INSERT INTO answers (session_id, at, exercise_id, easy) VALUES (?, ?, ?, ?)",
            (session_id, _stamp(self._now()), exercise_id, int(easy)),
        )

    def answers(self, profile: str, routine_id: str) -> list[Answer]:
        """The profile's answers in sessions of one routine, oldest first."""
        rows = self._read(
            "SELECT a.session_id, a.exercise_id, a.easy FROM answers a"
            " JOIN sessions s ON s.id = a.session_id"
            " WHERE s.profile = ? AND s.routine_id = ? ORDER BY a.id",
            (profile, routine_id),
        )
        return [Answer(row["session_id"], row["exercise_id"], bool(row["easy"])) for row in rows]


def _format_duration(duration: timedelta | None) -> str:
    if duration is None:
        return "-"
    seconds = max(0, round(duration.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def format_history(summaries: Sequence[SessionSummary], tz: tzinfo | None = None) -> str:
    """A plain-text table of sessions for ``exercise-coach history``; times in ``tz`` (local)."""
    if not summaries:
        return "No sessions recorded yet."
    header = ("When", "Routine", "How far", "Sets", "Reps", "Time")
    rows = [
        (
            s.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            s.routine_id,
            s.where,
            str(s.sets_done),
            str(s.reps_done),
            _format_duration(s.duration),
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    numeric = {3, 4, 5}
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join(lines)
