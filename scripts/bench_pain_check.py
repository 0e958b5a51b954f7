"""What one score of the pain check (assistant/pain_check.py) costs: processor time and memory.

A fast pain waits for its score before it is reported, so this is time on the safety path.
The recognizer keeps 4 s of audio for it. Two ways are timed on the same audio, in turns:
the embedding model run over all of it (``every_window``, as the check was first built), and
only over the windows that can count, those ending near the end of the speech
(``near_only``, as built). Prints JSON.

    .venv/bin/python scripts/bench_pain_check.py
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable

import numpy as np

from assistant.pain_check import PainCheck, near_windows, network_scores

KEPT_SECONDS = 4.0
SPEECH_END = 3.5
ROUNDS = 30


def main() -> None:
    began = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    check = PainCheck()
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    audio = np.random.default_rng(0).normal(0, 1000, round(KEPT_SECONDS * 16000)).astype(np.int16)

    def every_window() -> float:
        embeddings = check.features.embeddings(audio)
        means = np.mean([network_scores(n, embeddings) for n in check.networks], axis=0)
        return float(means[near_windows(means.size, SPEECH_END)].max())

    def near_only() -> float:
        return check.score(audio, SPEECH_END)

    ways: dict[str, Callable[[], float]] = {"every_window": every_window, "near_only": near_only}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(2):  # in turns, so both see the same load
        for name, way in ways.items():
            start = time.process_time()
            for _ in range(ROUNDS):
                way()
            times[name].append((time.process_time() - start) / ROUNDS * 1000)
    report = {
        "cpu_ms_per_score": {name: round(min(t), 1) for name, t in times.items()},
        "same_score": abs(every_window() - near_only()) < 1e-5,
        "rss_mb": {
            "before": round(began),
            "loaded": round(loaded),
            "peak": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        },
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
