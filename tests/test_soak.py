"""Soak: six hours of sessions back to back, with a random user, faults and restarts.

See soak_harness.py for what runs. ``EXERCISE_COACH_SOAK_HOURS`` makes the run longer (or shorter);
``scripts/soak.py`` runs it outside pytest and prints the numbers as JSON.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from soak_harness import SessionReport, run_soak
from soak_user import FAULTS

from assistant.ports import Outcome
from assistant.runner import EXIT_CRASHED, EXIT_OK, EXIT_PAIN, EXIT_PAIN_DEGRADED

HOURS = float(os.environ.get("EXERCISE_COACH_SOAK_HOURS", "6"))
SEED = 5
WARM_UP = 8
"""Sessions before resources are compared: two spoken ones (each with a new recognizer) let
the allocator settle (RSS grows by about 30 MB with the first two, then stays flat)."""
TRACED_GROWTH = 128 * 1024
"""Bytes Python may hold on to after warm-up; one session left alive is about 90 KiB."""
RSS_GROWTH = 16 * 2**20
"""Bytes the process may grow by after warm-up; a recognizer left loaded is about 30 MB."""


def _exit_code(session: SessionReport) -> int:
    if session.ending in ("killed", "pain_process"):
        return {"killed": -9, "pain_process": EXIT_PAIN}[session.ending]
    if session.outcome == Outcome.PAIN:
        return EXIT_PAIN_DEGRADED if session.voice_stop_broken else EXIT_PAIN
    return EXIT_CRASHED if session.outcome == Outcome.CRASHED else EXIT_OK


def test_hours_of_sessions_with_faults_and_restarts_stay_flat(tmp_path: Path) -> None:
    threads = threading.active_count()
    report = run_soak(tmp_path / "data", HOURS, SEED)
    summary = report.summary(WARM_UP)
    print("SOAK", json.dumps(summary))

    assert report.simulated_hours >= HOURS
    # Every session began exactly one history row, and ended as it was meant to.
    assert report.history_rows == len(report.sessions)
    for session in report.sessions:
        assert session.stuck_at is None, f"the loop would hang: {session}"
        assert session.outcome == session.expected == session.recorded, session
        assert session.exit_code == _exit_code(session), session
    # All of it happened: each ending, each fault, unanswered check-ins, speech heard.
    endings = {session.ending for session in report.sessions}
    assert endings == {"finish", "stop", "pain", "crash", "killed", "pain_process"}
    assert set(report.counts.faults) == set(FAULTS)
    assert sum(session.no_answer for session in report.sessions) >= 1
    assert report.counts.clips_heard >= 20
    assert report.counts.gave_up == 0

    after = [sample for sample in report.samples if sample.session >= WARM_UP]
    assert len(after) >= 8
    first, last = after[0], after[-1]
    assert all(sample.threads == threads for sample in report.samples), "a thread was left"
    assert all(sample.fds == first.fds for sample in after), "a file was left open"
    assert last.traced_bytes - first.traced_bytes < TRACED_GROWTH
    assert max(sample.rss_bytes for sample in after) - first.rss_bytes < RSS_GROWTH
