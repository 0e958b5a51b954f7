"""How often whisper's readings of commands are right, by how sure whisper was of them.

Reads the ``--raw`` file of a ``bench_recognition.py --engine whisper`` run and takes every
segment in which whisper named a command other than a safety one and that was accepted, or
refused only for being unsure (``min_command_logprob``; its command is found again in its
text with the grammar's matcher), so that runs with and without that rule read the same. A
reading is right when the file's speech was that command. Prints JSON:

- ``by_logprob``: right and wrong readings in bands of the mean log probability, for the
  whole corpus and its two halves (even and odd file numbers);
- ``figures``: for each figure whisper gives, how many wrong readings (and how many of them
  on distractors) a threshold on it refuses when it loses ``--lost`` right ones.

This chose ``WhisperSettings.min_command_logprob`` (docs/benchmarks.md, round 8).

    .venv/bin/python scripts/study_confidence.py w8_raw.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.grammar import Grammar, default_grammar_path, load_grammar, normalise

BANDS = (-1.3, -1.1, -1.0, -0.9, -0.8, -0.7)
"""Upper edges of the bands of mean log probability; the last band is everything above."""


@dataclass(frozen=True)
class Reading:
    """One segment in which whisper named a command other than a safety one."""

    right: bool
    on_distractor: bool
    half: int
    avg_logprob: float
    no_speech_prob: float
    command_word_probs: tuple[float, ...]
    """The probabilities of the words of the command's phrases in what whisper wrote."""


def readings(raw: list[dict[str, Any]], grammar: Grammar) -> list[Reading]:
    safety = {command.name for command in grammar.commands if command.safety}
    found: list[Reading] = []
    for row in (row for shard in raw for row in shard["rows"]):
        number = int(Path(row["path"]).name[:5])
        for segment in row["segments"]:
            reason = segment.get("reason", "")
            if segment["what"] != "segment" or not reason.startswith(("accepted", "unsure")):
                continue
            command = segment["command"] or grammar.match(segment["text"])
            if command is None or command in safety:
                continue
            vocabulary = {w for p in grammar.phrases_for(command) for w in normalise(p).split()}
            probs = tuple(p for w, p in segment["word_probs"] if normalise(w) in vocabulary)
            found.append(
                Reading(
                    right=row["expected"] == command,
                    on_distractor=row["expected"] == "none",
                    half=number % 2,
                    avg_logprob=segment["avg_logprob"],
                    no_speech_prob=segment["no_speech_prob"],
                    command_word_probs=probs,
                )
            )
    return found


def by_logprob(found: list[Reading]) -> list[dict[str, Any]]:
    edges = [-np.inf, *BANDS, np.inf]
    table = []
    for low, high in itertools.pairwise(edges):
        band = [r for r in found if low <= r.avg_logprob < high]
        row: dict[str, Any] = {
            "from": low if np.isfinite(low) else None,
            "below": high if np.isfinite(high) else None,
        }
        for name, part in (
            ("all", band),
            *((f"half {h}", [r for r in band if r.half == h]) for h in (0, 1)),
        ):
            row[name] = {
                "right": sum(r.right for r in part),
                "wrong": sum(not r.right for r in part),
            }
        table.append(row)
    return table


FIGURES: dict[str, Callable[[Reading], float]] = {
    "mean log probability": lambda r: r.avg_logprob,
    "lowest command word probability": lambda r: min(r.command_word_probs, default=0.0),
    "mean command word probability": lambda r: (
        float(np.mean(r.command_word_probs)) if r.command_word_probs else 0.0
    ),
    "no speech probability (negated)": lambda r: -r.no_speech_prob,
}


def figures(found: list[Reading], lost: int) -> dict[str, Any]:
    right = np.array([r.right for r in found])
    distractor = np.array([r.on_distractor for r in found])
    result = {}
    for name, figure in FIGURES.items():
        values = np.array([figure(r) for r in found])
        threshold = float(np.sort(values[right])[lost])
        refused = values < threshold
        result[name] = {
            "threshold": round(threshold, 3),
            "right_lost": int((refused & right).sum()),
            "wrong_refused": int((refused & ~right).sum()),
            "of_them_on_distractors": int((refused & distractor).sum()),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="a bench_recognition.py --raw file (whisper)")
    parser.add_argument("--lost", type=int, default=26, help="right readings a threshold may lose")
    args = parser.parse_args()
    found = readings(json.loads(args.raw.read_text()), load_grammar(default_grammar_path("en")))
    report = {
        "readings": len(found),
        "right": sum(r.right for r in found),
        "by_logprob": by_logprob(found),
        "figures": figures(found, args.lost),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
