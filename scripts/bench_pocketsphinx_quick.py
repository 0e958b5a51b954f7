"""Quick pocketsphinx benchmark: commands, "pain" recall and false accepts, in noise.

Streams sessions (clips 1.6 s apart after 2 s of lead-in, continuous noise) through
``PocketsphinxRecognizer`` in 0.1 s chunks, as a microphone would, and prints JSON:
per condition (clean, pink and babble noise at 20/10/5 dB) the command accuracy, "pain"
recall and false accepts on distractor sentences (count, per hour of distractor speech).
Not a test: nothing is asserted. ``--quick`` runs fewer voices and conditions.

    .venv/bin/python scripts/bench_pocketsphinx_quick.py [--quick] [--all-phrases]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import speech

from assistant.asr_pocketsphinx import Decoding, PocketsphinxRecognizer, Rejection
from assistant.endpoint import EndpointSettings
from assistant.grammar import default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE

GRAMMAR = load_grammar(default_grammar_path("en"))
VOICES = (
    speech.PIPER,
    speech.KLATT_US,
    speech.KLATT_US_SLOW_LOW,
    speech.F2_US_FAST_HIGH,
    speech.Voice("espeak", "en-us+klatt3", 165, 60),
    speech.Voice("piper", "joe", 125),
)
CONDITIONS: tuple[tuple[str, float | None], ...] = (
    ("clean", None),
    ("pink", 20.0),
    ("pink", 10.0),
    ("pink", 5.0),
    ("babble", 20.0),
    ("babble", 10.0),
    ("babble", 5.0),
)
PAIN = tuple(speech.VOICE_PHRASES_EN["pain"][:8])
GAP = 1.6


@dataclass(frozen=True)
class Clip:
    text: str
    expected: str | None
    start: float
    end: float


def build(
    texts: list[tuple[str, str | None]],
    voice: speech.Voice,
    kind: str,
    snr: float | None,
    seed: int,
) -> tuple[speech.Audio, list[Clip], float]:
    """The session stream, its clips and the seconds of speech in it."""
    parts = [speech.silence(2.0)]
    clips: list[Clip] = []
    position, spoken = 2.0, 0.0
    levels = []
    for text, expected in texts:
        audio = speech.synthesize(text, voice)
        first, last = speech.speech_bounds(audio)
        clips.append(Clip(text, expected, position + first, position + last))
        spoken += last - first
        levels.append(speech.active_rms(audio))
        parts += [audio, speech.silence(GAP)]
        position += (len(audio) + round(GAP * SAMPLE_RATE)) / SAMPLE_RATE
    stream = np.concatenate(parts).astype(np.int16)
    if snr is not None:
        seconds = len(stream) / SAMPLE_RATE
        shaped = (
            speech.babble(seconds, seed)
            if kind == "babble"
            else speech.noise("pink", seconds, seed)
        )[: len(stream)]
        mixed = stream + shaped * statistics.median(levels) / 10 ** (snr / 20)
        stream = np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
    return stream, clips, spoken


def run(job: tuple[speech.Voice, str, float | None, bool, dict[str, Any]]) -> dict[str, Any]:
    voice, kind, snr, all_phrases, overrides = job
    phrases = None if all_phrases else speech.voice_phrases_en()
    rejection = replace(Rejection(), **overrides.get("rejection", {}))
    decoding = replace(Decoding(), **overrides.get("decoding", {}))
    endpoint = replace(EndpointSettings(), **overrides.get("endpoint", {}))
    commands: list[tuple[str, str | None]] = [(c.phrases[0], c.name) for c in GRAMMAR.commands]
    commands += [(p, "pain") for p in PAIN if p != "pain"]
    out: dict[str, Any] = {"voice": voice.label, "kind": kind, "snr": snr}
    distractors: list[tuple[str, str | None]] = [(t, None) for t in speech.DISTRACTORS]
    for name, texts, seed in (("commands", commands, 1), ("distractors", distractors, 3)):
        stream, clips, spoken = build(texts, voice, kind, snr, seed)
        recognizer = PocketsphinxRecognizer(
            GRAMMAR, phrases=phrases, rejection=rejection, decoding=decoding, endpoint=endpoint
        )
        heard: list[tuple[str, str, float, float, float, float]] = []
        fed = 0.0
        for chunk in speech.chunks(stream, 0.1):
            began = time.perf_counter()
            results = recognizer.accept(chunk)
            spent = time.perf_counter() - began
            fed += len(chunk) / 2 / SAMPLE_RATE
            heard += [(h.command, h.text, h.start, h.end, fed, spent) for h in results]
        heard += [(h.command, h.text, h.start, h.end, fed, 0.0) for h in recognizer.flush()]
        rows = []
        for clip in clips:
            got = [h for h in heard if h[3] > clip.start - 0.3 and h[2] < clip.end + 0.3]
            segs = [
                (d.text, d.reason, None if d.score is None else round(d.score, 1))
                for d in recognizer.decisions
                if d.segment.end > clip.start - 0.3 and d.segment.start < clip.end + 0.3
            ]
            rows.append(
                {
                    "text": clip.text,
                    "expected": clip.expected,
                    "got": [h[0] for h in got],
                    "latency": round(got[0][4] - clip.end, 3) if got else None,
                    "compute": round(got[0][5], 4) if got else None,
                    "segments": segs,
                }
            )
        out[name] = rows
        out[f"{name}_speech_seconds"] = spoken
    return out


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for kind, snr in CONDITIONS:
        label = kind if snr is None else f"{kind} {snr:g} dB"
        runs = [r for r in results if r["kind"] == kind and r["snr"] == snr]
        if not runs:
            continue
        commands = [row for r in runs for row in r["commands"]]
        main = [row for row in commands if row["expected"] != "pain" or row["text"] == "pain"]
        pain = [row for row in commands if row["expected"] == "pain"]
        distractors = [row for r in runs for row in r["distractors"]]
        spoken = sum(r["distractors_speech_seconds"] for r in runs)
        false = [
            f"{r['voice']}: {row['text']!r}->{row['got']}"
            for r in runs
            for row in r["distractors"]
            if row["got"]
        ]
        right = [row for row in commands if row["got"] == [row["expected"]]]
        summary[label] = {
            "commands_correct": round(
                sum(r["got"] == [r["expected"]] for r in main) / len(main), 3
            ),
            "pain_recall": round(sum("pain" in r["got"] for r in pain) / len(pain), 3),
            "false_accepts": len(false),
            "false_accepts_per_hour": round(len(false) / spoken * 3600, 1),
            "distractor_sentences": len(distractors),
            "distractor_speech_seconds": round(spoken, 1),
            "latency_p50": round(statistics.median(r["latency"] for r in right), 3)
            if right
            else None,
            "compute_p50_ms": round(1000 * statistics.median(r["compute"] for r in right), 1)
            if right
            else None,
            "misses": [
                f"{r['voice']}: {row['text']!r}->{row['got']} {row['segments']}"
                for r in runs
                for row in r["commands"]
                if row["got"] != [row["expected"]]
            ],
            "false": false,
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 voices, 4 conditions")
    parser.add_argument("--all-phrases", action="store_true", help="every grammar phrase")
    parser.add_argument("--overrides", default="{}", help='JSON {"rejection": {...}, ...}')
    parser.add_argument("--raw", type=Path, help="also write every decision here (JSON)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    voices = VOICES[:3] if args.quick else VOICES
    conditions = CONDITIONS[:3] + CONDITIONS[5:6] if args.quick else CONDITIONS
    overrides = json.loads(args.overrides)
    jobs = [(v, k, s, args.all_phrases, overrides) for v in voices for k, s in conditions]
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    if args.raw:
        args.raw.write_text(json.dumps(results))
    report = {
        "voices": [v.label for v in voices],
        "phrases": "all" if args.all_phrases else "voice_phrases",
        "overrides": overrides,
        "seconds": round(time.perf_counter() - began, 1),
        "conditions": summarise(results),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
