"""A soak: hours of back-to-back sessions with a random user, injected faults and restarts.

Each session is built as the app builds it (``runner.build_session`` over the real SQLite
history file, check-ins on, ``runner.run_session``) and runs on simulated time: timers run
in order without waiting, so six hours of sessions take about 20 s. A seeded random
user says commands at random moments and answers the coach (check-ins, pauses after a
fault, the offer to go on after a crash). Every few sessions the user speaks instead of
typing: synthesized clips go through a real ``Listener`` thread into a real pocketsphinx
recognizer. Faults: the voice fails (reported as the voice adapter reports it) or its
stop() raises, the history's writes fail for a while, the microphone goes and comes back,
the recognizer raises. Restarts: every session opens the history afresh, some crash in the
loop, and a few are real ``exercise-coach`` processes (one killed with SIGKILL).

``run_soak`` returns a ``SoakReport``: each session's planned and actual outcome, and
memory, threads and file descriptors sampled after every session.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from soak_seams import FlakyHistory, FlakyRecognizer, SimLoop, SoakMic, SoakVoice
from soak_user import TYPED, Clips, Counts, Plan, SoakUser, plan_session

from assistant.app import session_listener
from assistant.checkin import CheckIns, CheckInTiming
from assistant.config import Settings
from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.history import History
from assistant.ports import Outcome
from assistant.routine import resolve_routine
from assistant.runner import build_session, run_session
from assistant.session import Timing

# ---------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Sample:
    """Resources in use after a session (after a garbage collection)."""

    session: int
    traced_bytes: int
    rss_bytes: int
    threads: int
    fds: int


@dataclass(frozen=True)
class SessionReport:
    """One session: what was planned, how it ended, and what the history says."""

    number: int
    routine: str
    ending: str
    spoken: bool
    expected: str
    outcome: str
    recorded: str
    exit_code: int
    session_seconds: float
    check_ins: int
    no_answer: bool
    voice_stop_broken: bool
    stuck_at: float | None = None
    """Where the loop had nothing left to do while something still waited (a hang)."""


@dataclass
class SoakReport:
    """Everything the soak saw, as JSON-ready data."""

    seed: int
    sessions: list[SessionReport] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    history_rows: int = 0
    logged: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0

    @property
    def simulated_hours(self) -> float:
        return sum(s.session_seconds for s in self.sessions) / 3600.0

    def summary(self, warm_up: int) -> dict[str, Any]:
        """Numbers for a person: outcomes, what the user said, resources after warm-up."""
        after = [s for s in self.samples if s.session >= warm_up]
        base, last = after[0], after[-1]
        return {
            "seed": self.seed,
            "sessions": len(self.sessions),
            "simulated_hours": round(self.simulated_hours, 2),
            "wall_seconds": round(self.wall_seconds, 1),
            "outcomes": dict(Counter(s.outcome for s in self.sessions)),
            "as_expected": sum(s.outcome == s.expected == s.recorded for s in self.sessions),
            "history_rows": self.history_rows,
            "spoken_sessions": sum(s.spoken for s in self.sessions),
            "check_ins": sum(s.check_ins for s in self.sessions),
            "paused_for_no_answer": sum(s.no_answer for s in self.sessions),
            "said": dict(self.counts.said),
            "faults": dict(self.counts.faults),
            "clips": {
                "fed": self.counts.clips,
                "heard": self.counts.clips_heard,
                "missed": self.counts.clips_missed,
                "misheard": self.counts.clips_misheard,
                "talk_taken_as_command": self.counts.talk_taken_as_command,
                "into_a_dead_microphone": self.counts.dead_microphone,
            },
            "logged": dict(self.logged),
            "after_warm_up": {
                "sessions": len(after),
                "traced_kib": [base.traced_bytes // 1024, last.traced_bytes // 1024],
                "traced_max_kib": max(s.traced_bytes for s in after) // 1024,
                "rss_mib": [round(base.rss_bytes / 2**20, 1), round(last.rss_bytes / 2**20, 1)],
                "threads": [base.threads, last.threads, max(s.threads for s in after)],
                "fds": [base.fds, last.fds, max(s.fds for s in after)],
            },
        }


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _sample(number: int) -> Sample:
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    return Sample(
        session=number,
        traced_bytes=traced,
        rss_bytes=_rss_bytes(),
        threads=threading.active_count(),
        fds=len(os.listdir("/proc/self/fd")),
    )


class _CountingHandler(logging.Handler):
    """Counts what the coach logs by level, keeping no records (they would hold memory)."""

    def __init__(self, counts: Counter[str]) -> None:
        super().__init__(logging.INFO)
        self._counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        self._counts[record.levelname] += 1


@contextmanager
def _counted_logs(counts: Counter[str]) -> Iterator[None]:
    logger = logging.getLogger("assistant")
    handler = _CountingHandler(counts)
    old = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]


# ------------------------------------------------------------------------------- the run


def run_soak(
    data_dir: Path,
    hours: float,
    seed: int,
    spoken_every: int = 4,
    processes: tuple[tuple[int, str], ...] = ((2, "killed"), (9, "pain_process")),
    trace_memory: bool = True,
) -> SoakReport:
    """Sessions back to back until ``hours`` of session time have passed.

    ``processes`` puts a real ``exercise-coach`` process at those session numbers ("killed":
    SIGKILL mid-session; "pain_process": the user types that it hurts).
    """
    rng = random.Random(seed)
    report = SoakReport(seed)
    grammar = load_grammar(default_grammar_path())
    clips = Clips()
    history_path = data_dir / "history.sqlite3"
    by_number = dict(processes)
    started = time.monotonic()
    if trace_memory:
        tracemalloc.start()
    try:
        with _counted_logs(report.logged):
            number = 0
            while report.simulated_hours < hours:
                spoken = number % spoken_every == spoken_every - 1
                plan = plan_session(rng, number, spoken, by_number.get(number))
                if plan.ending in ("killed", "pain_process"):
                    result = _process_session(plan, data_dir)
                else:
                    result = _session(plan, rng, report.counts, grammar, clips, history_path)
                report.sessions.append(result)
                report.samples.append(_sample(number))
                number += 1
    finally:
        if trace_memory:
            tracemalloc.stop()
    with History(history_path) as history:
        history.recover_crashed()
        recorded = history.recent_sessions(limit=None)
    report.history_rows = len(recorded)
    outcomes = {row.id: row.outcome for row in recorded}
    ids = sorted(outcomes)
    # Sessions and rows pair up in order: every session run began exactly one row.
    report.sessions = [
        dataclasses.replace(s, recorded=outcomes[i].value)
        for s, i in zip(report.sessions, ids, strict=False)
    ]
    report.wall_seconds = time.monotonic() - started
    return report


def _session(
    plan: Plan,
    rng: random.Random,
    counts: Counts,
    grammar: Grammar,
    clips: Clips,
    history_path: Path,
) -> SessionReport:
    """One in-process session, built and run the way the app runs one."""
    settings = Settings()
    loop = SimLoop()
    user = SoakUser(plan, rng, counts, grammar, clips if plan.spoken else None)

    def voice_failed() -> None:
        # As the app does when its voice reports a failure from the playing thread.
        loop.post(partial(session.fault, "voice"))

    voice = SoakVoice(user.hears, voice_failed)
    with FlakyHistory(history_path) as history:
        history.recover_crashed()
        session = build_session(
            resolve_routine(plan.routine),
            voice,
            loop,
            history,
            Timing(),
            settings.profile,
            settings.sessions_per_extra_set,
        )
        check_ins = CheckIns(
            session,
            voice,
            loop,
            CheckInTiming(
                reprompt_seconds=settings.reprompt_seconds,
                check_in_seconds=settings.check_in_seconds,
                answer_seconds=settings.check_in_answer_seconds,
            ),
        )
        user.loop, user.session, user.check_ins = loop, session, check_ins
        user.voice, user.history = voice, history
        start_input = _start_typing if not plan.spoken else _start_listening(user, grammar)
        check_ins.start()
        user.start()
        try:
            result = run_session(session, loop, history, start_input)
        finally:
            _stop_listening(user)
        events = [event.kind for event in history.events_of(session.session_id or -1)]
    return SessionReport(
        number=plan.number,
        routine=plan.routine,
        ending=plan.ending,
        spoken=plan.spoken,
        expected=_expected(plan, user).value,
        outcome=result.outcome.value,
        recorded="",
        exit_code=result.exit_code,
        session_seconds=loop.now(),
        check_ins=check_ins.asked,
        no_answer="no_answer" in events,
        voice_stop_broken=voice.stop_fails,
        stuck_at=loop.stuck_at,
    )


def _expected(plan: Plan, user: SoakUser) -> Outcome:
    """The planned ending, unless the session had finished before its moment came."""
    if plan.ending != "finish" and not user.ending_came:
        return Outcome.FINISHED  # "next", or a short routine, got there first
    return plan.expected


def _start_typing() -> None:
    """Typed sessions: the user's words go straight to the loop."""


def _start_listening(user: SoakUser, grammar: Grammar) -> Callable[[], None]:
    from assistant.asr_pocketsphinx import PocketsphinxRecognizer

    # A restart makes a new recognizer, as a new process would.
    recognizer = FlakyRecognizer(PocketsphinxRecognizer(grammar))
    mic = SoakMic()
    session, check_ins, loop = user.session, user.check_ins, user.loop
    listener = session_listener(
        session, check_ins, lambda: mic, recognizer, loop.post, retry_seconds=0.005
    )
    user.mic, user.listener, user.recognizer = mic, listener, recognizer
    return listener.start


def _stop_listening(user: SoakUser) -> None:
    if user.listener is not None and user.mic is not None:
        user.mic.shut()
        user.listener.stop()


def _process_session(plan: Plan, data_dir: Path) -> SessionReport:
    """A real ``exercise-coach run --text`` over the same history: killed, or told it hurts."""
    env = {
        **os.environ,
        "EXERCISE_COACH_DATA_DIR": str(data_dir),
        "EXERCISE_COACH_CONFIG": str(data_dir / "no-config.toml"),
    }
    command = [sys.executable, "-m", "assistant", "run", "--text", "--routine", plan.routine]
    coach = subprocess.Popen(
        [*command, "--time-scale", "0.002"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert coach.stdin is not None and coach.stdout is not None
    try:
        for line in coach.stdout:
            if "Lift." in line:
                break
        if plan.ending == "killed":
            os.kill(coach.pid, signal.SIGKILL)
        else:
            coach.stdin.write(TYPED["pain"] + "\n")
            coach.stdin.flush()
        status = coach.wait(timeout=60)
    finally:
        if coach.poll() is None:
            coach.kill()
            coach.wait()
        coach.stdin.close()
        coach.stdout.close()
    outcome = Outcome.CRASHED if status == -signal.SIGKILL else Outcome.PAIN
    return SessionReport(
        number=plan.number,
        routine=plan.routine,
        ending=plan.ending,
        spoken=False,
        expected=plan.expected.value,
        outcome=outcome.value if status in (-signal.SIGKILL, 3) else f"exit {status}",
        recorded="",
        exit_code=status,
        session_seconds=0.0,
        check_ins=0,
        no_answer=False,
        voice_stop_broken=False,
    )
