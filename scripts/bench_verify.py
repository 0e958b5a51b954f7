"""Benchmark the whisper verifier over pocketsphinx: commands, pain and false accepts.

The same material as ``bench_pocketsphinx_quick`` (clips 1.6 s apart after 2 s of lead-in,
continuous noise, streamed in 0.1 s chunks): the main command phrases and "pain" phrases,
and the distractor sentences. Each stream goes once through
``VerifiedRecognizer(PocketsphinxRecognizer)``; what pocketsphinx heard (before) and what
survived verification (after) are both scored. Prints JSON per condition: commands
correct, pain recall, false accepts, the verify step's compute time (p50/p95) and CPU
seconds per minute of audio for pocketsphinx and for the verifier. Not a test.

    .venv/bin/python scripts/bench_verify.py [--voices 3] [--conditions clean,pink10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pocketsphinx_quick as quick
import speech

from assistant.asr_pocketsphinx import PocketsphinxRecognizer
from assistant.ports import SAMPLE_RATE, Heard
from assistant.verify import VerifiedRecognizer

CONDITIONS: dict[str, tuple[str, float | None]] = {
    "clean": ("clean", None),
    "pink20": ("pink", 20.0),
    "pink10": ("pink", 10.0),
    "pink5": ("pink", 5.0),
    "babble10": ("babble", 10.0),
}


class Timed:
    """A recognizer proxy that adds up the CPU seconds spent in the recognizer."""

    def __init__(self, inner: PocketsphinxRecognizer) -> None:
        self.inner = inner
        self.name = inner.name
        self.cpu = 0.0

    def accept(self, pcm: bytes) -> list[Heard]:
        began = time.process_time()
        try:
            return self.inner.accept(pcm)
        finally:
            self.cpu += time.process_time() - began

    def flush(self) -> list[Heard]:
        return self.inner.flush()

    def reset(self) -> None:
        self.inner.reset()


def run(job: tuple[speech.Voice, str, float | None, int]) -> dict[str, Any]:
    voice, kind, snr, threads = job
    commands: list[tuple[str, str | None]] = [
        (c.phrases[0], c.name) for c in quick.GRAMMAR.commands
    ]
    commands += [(p, "pain") for p in quick.PAIN if p != "pain"]
    distractors: list[tuple[str, str | None]] = [(t, None) for t in speech.DISTRACTORS]
    out: dict[str, Any] = {"voice": voice.label, "kind": kind, "snr": snr}
    for name, texts, seed in (("commands", commands, 1), ("distractors", distractors, 3)):
        stream, clips, spoken = quick.build(texts, voice, kind, snr, seed)
        timed = Timed(PocketsphinxRecognizer(quick.GRAMMAR, phrases=speech.voice_phrases_en()))
        verified = VerifiedRecognizer(timed, quick.GRAMMAR, threads=threads)
        verified.load()
        total_cpu = 0.0
        for chunk in speech.chunks(stream, 0.1):
            began = time.process_time()
            verified.accept(chunk)
            total_cpu += time.process_time() - began
        verified.flush()
        checks = list(verified.verifications)
        rows = []
        for clip in clips:

            def near(h: Heard, clip: quick.Clip = clip) -> bool:
                return h.end > clip.start - 0.3 and h.start < clip.end + 0.3

            mine = [v for v in checks if near(v.heard)]
            rows.append(
                {
                    "text": clip.text,
                    "expected": clip.expected,
                    "before": [v.heard.command for v in mine],
                    "after": [v.result.command for v in mine if v.result is not None],
                    "whisper": [v.transcript for v in mine],
                    "compute": [round(v.compute_seconds, 4) for v in mine if v.transcript],
                }
            )
        out[name] = rows
        out[f"{name}_speech_seconds"] = spoken
        out[f"{name}_audio_seconds"] = len(stream) / SAMPLE_RATE
        out[f"{name}_cpu_pocketsphinx"] = timed.cpu
        out[f"{name}_cpu_verify"] = total_cpu - timed.cpu
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for label, (kind, snr) in CONDITIONS.items():
        runs = [r for r in results if r["kind"] == kind and r["snr"] == snr]
        if not runs:
            continue
        commands = [row for r in runs for row in r["commands"]]
        main = [row for row in commands if row["expected"] != "pain" or row["text"] == "pain"]
        pain = [row for row in commands if row["expected"] == "pain"]
        distractors = [row for r in runs for row in r["distractors"]]
        spoken = sum(r["distractors_speech_seconds"] for r in runs)
        audio = sum(r["commands_audio_seconds"] + r["distractors_audio_seconds"] for r in runs)
        computes = [c for row in commands + distractors for c in row["compute"]]
        entry: dict[str, Any] = {}
        for stage in ("before", "after"):
            false = [row for row in distractors if row[stage]]
            entry[stage] = {
                "commands_correct": round(
                    sum(row[stage] == [row["expected"]] for row in main) / len(main), 3
                ),
                "pain_recall": round(sum("pain" in row[stage] for row in pain) / len(pain), 3),
                "false_accepts": len(false),
                "false_accepts_per_hour": round(len(false) / spoken * 3600, 1),
            }
        entry["distractor_sentences"] = len(distractors)
        entry["verify_ms_p50"] = (
            round(1000 * (statistics.median(computes)), 1) if computes else None
        )
        entry["verify_ms_p95"] = round(1000 * (_pct(computes, 0.95) or 0.0), 1)
        entry["verify_ms_max"] = round(1000 * max(computes), 1) if computes else None
        entry["verifications"] = len(computes)
        for part in ("pocketsphinx", "verify"):
            cpu = sum(r[f"{n}_cpu_{part}"] for r in runs for n in ("commands", "distractors"))
            entry[f"cpu_{part}_percent_of_one_core"] = round(100 * cpu / audio, 2)
        entry["lost_commands"] = [
            f"{r['voice']}: {row['text']!r} ps={row['before']} whisper={row['whisper']}"
            for r in runs
            for row in r["commands"]
            if row["expected"] in row["before"] and row["expected"] not in row["after"]
        ]
        entry["false_after"] = [
            f"{r['voice']}: {row['text']!r}->{row['after']} whisper={row['whisper']}"
            for r in runs
            for row in r["distractors"]
            if row["after"]
        ]
        entry["false_before"] = [
            f"{r['voice']}: {row['text']!r}->{row['before']} whisper={row['whisper']}"
            for r in runs
            for row in r["distractors"]
            if row["before"]
        ]
        summary[label] = entry
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--voices", type=int, default=3, help="first N of the quick voices")
    parser.add_argument("--conditions", default="clean,pink10", help=",".join(CONDITIONS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="whisper CPU threads per job")
    parser.add_argument("--raw", type=Path, help="also write every row here (JSON)")
    args = parser.parse_args()
    voices = quick.VOICES[: args.voices]
    conditions = [CONDITIONS[c] for c in args.conditions.split(",")]
    jobs = [(v, k, s, args.threads) for v in voices for k, s in conditions]
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    if args.raw:
        args.raw.write_text(json.dumps(results))
    report = {
        "voices": [v.label for v in voices],
        "jobs": args.jobs,
        "whisper_threads": args.threads,
        "seconds": round(time.perf_counter() - began, 1),
        "conditions": summarise(results),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
