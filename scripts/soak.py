"""Run the soak (tests/soak_harness.py) for any number of simulated hours; print JSON.

Sessions back to back on simulated time, with a random user, injected faults (voice, history,
microphone, recognizer) and restarts (in-process, a crash in the loop, real processes): each
session's outcome, and memory, threads and file descriptors after warm-up. Not a test; the
suite runs six hours of it (tests/test_soak.py).

    .venv/bin/python scripts/soak.py [--hours 48] [--seed 5] [--warm-up 8] [--sessions]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from soak_harness import run_soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hours", type=float, default=48.0, help="simulated hours")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--warm-up", type=int, default=8, help="sessions before comparing")
    parser.add_argument("--sessions", action="store_true", help="also list every session")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="exercise-coach-soak-") as data:
        report = run_soak(Path(data), args.hours, args.seed)
    summary = report.summary(args.warm_up)
    summary["unexpected"] = [
        dataclasses.asdict(s)
        for s in report.sessions
        if not s.outcome == s.expected == s.recorded or s.stuck_at is not None
    ]
    if args.sessions:
        summary["every_session"] = [dataclasses.asdict(s) for s in report.sessions]
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
