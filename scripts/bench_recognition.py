"""Benchmark a recognizer on a corpus from make_corpus.py; prints a JSON report.

Every file is streamed in the live loop's chunks (``mic.BLOCK_SECONDS``, 0.1 s) through
the recognizer that ``engines.make_recognizer`` builds for the app, as one continuous
stream: files of one listening condition follow each other, and each run of a condition
starts with ``WARMUP`` seconds of its noise, as a room that was noisy before anyone spoke.
A command heard is credited to the file its speech started in. Reported:

- per command recall and the confusion matrix (expected -> what was acted on);
- accuracy per SNR (clean, 20, 10, 5 dB), per condition, per voice, per kind, and the
  issue's headline figures: "pain" recall and all-command accuracy at 10 dB and cleaner;
- false accepts on distractor files per hour of their speech and of their audio, for
  the coach's narration and for ordinary talk, with examples;
- latency from the end of speech to the command: audio time (the chunk that returned it
  ends that long after the speech) plus compute (the processor time of that ``accept``
  call, i.e. its wall time on an idle core; the wall time measured is reported too);
- real-time factor (wall), CPU seconds per audio second, peak RSS;
- the targets of issue 4 with the measured value and whether it is met.

    .venv/bin/python scripts/bench_recognition.py --corpus DIR --engine pocketsphinx
    .venv/bin/python scripts/bench_recognition.py --corpus DIR --engine vosk --model DIR
    .venv/bin/python scripts/bench_recognition.py --plot out.png a.json b.json

``--overrides '{"rejection": {"min_score": -30}}'`` tries other pocketsphinx settings
(``Rejection``, ``Decoding``, ``EndpointSettings`` fields) without editing the package.

``PYTHONPATH=/other/checkout`` benchmarks that checkout's ``assistant`` (and its grammar);
the report's ``package`` says which was imported.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import benchlib
import numpy as np
from benchlib import Entry, percentile, ratio

from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.mic import BLOCK_SECONDS
from assistant.ports import SAMPLE_RATE, Heard, Recognizer

ENGINES = ("pocketsphinx", "whisper", "pocketsphinx+whisper", "vosk")
WARMUP = 3.0
"""Seconds of a condition's noise fed before its first file."""
GOOD_SNR = (benchlib.CLEAN, "20", "10")
"""The SNRs of the issue's headline figures: 10 dB and cleaner."""
SNR_ORDER = ("5", "10", "20", benchlib.CLEAN)
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    # key, what, bound, direction
    ("pain_recall_snr10_and_cleaner", '"pain" recall, SNR 10 dB and cleaner', 0.99, ">="),
    ("accuracy_snr10_and_cleaner", "all commands, accuracy at SNR >= 10 dB", 0.97, ">="),
    ("false_accepts_per_hour", "false accepts per hour of distractor speech", 1.0, "<="),
    ("latency_p50_ms", "latency end of speech to command, p50 (ms, audio + CPU)", 300.0, "<="),
    ("latency_p95_ms", "latency end of speech to command, p95 (ms, audio + CPU)", 600.0, "<="),
    ("cpu_percent_of_one_core", "CPU while listening (% of one core)", 10.0, "<="),
    ("peak_rss_mb", "peak RSS (MB)", 250.0, "<="),
)


@dataclass(frozen=True)
class Setup:
    """What one worker needs to build the recognizer and find the files."""

    corpus: Path
    engine: str
    model: Path | None
    grammar: Path
    overrides: dict[str, dict[str, Any]]
    """pocketsphinx settings to change: {"rejection": {...}, "decoding": {...}, ...}."""


@dataclass(frozen=True)
class Event:
    """A command the recognizer returned, and when."""

    heard: Heard
    returned_at: float
    """Seconds of audio fed when the ``accept`` call that returned it ended."""
    compute: float
    """Wall seconds of that call."""
    compute_cpu: float
    """Processor seconds of that call (all threads): its wall time on an idle machine."""


# --- streaming ------------------------------------------------------------------------------------


def chunks(audio: benchlib.Audio) -> list[bytes]:
    """The audio in the live loop's chunk size."""
    size = round(BLOCK_SECONDS * SAMPLE_RATE)
    return [audio[i : i + size].astype("<i2").tobytes() for i in range(0, audio.size, size)]


class Stream:
    """Feeds one recognizer chunk by chunk and keeps the time and the cost of every call."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self.fed = 0.0
        self.wall = 0.0
        self.cpu = 0.0
        self.events: list[Event] = []

    def feed(self, audio: benchlib.Audio) -> None:
        """Stream ``audio`` through the recognizer as a microphone would deliver it."""
        for chunk in chunks(audio):
            wall, cpu = time.perf_counter(), time.process_time()
            heard = self.recognizer.accept(chunk)
            spent, used = time.perf_counter() - wall, time.process_time() - cpu
            self.wall += spent
            self.cpu += used
            self.fed += len(chunk) / 2 / SAMPLE_RATE
            self.events += [Event(h, self.fed, spent, used) for h in heard]


def build(setup: Setup, grammar: Grammar) -> Recognizer:
    """The recognizer as the app builds it, or pocketsphinx with ``setup.overrides``."""
    from assistant.engines import make_recognizer

    if not setup.overrides:
        return make_recognizer(setup.engine, setup.model, grammar)
    from assistant.asr_pocketsphinx import Decoding, PocketsphinxRecognizer, Rejection
    from assistant.endpoint import EndpointSettings
    from assistant.verify import VerifiedRecognizer

    o = setup.overrides
    recognizer = PocketsphinxRecognizer(
        grammar,
        rejection=replace(Rejection(), **o.get("rejection", {})),
        decoding=replace(Decoding(), **o.get("decoding", {})),
        endpoint=replace(EndpointSettings(), **o.get("endpoint", {})),
    )
    if setup.engine == "whisper":
        from assistant.asr_whisper import WhisperRecognizer, WhisperSettings
        from assistant.pain_check import load_pain_check

        settings = replace(WhisperSettings(), **o.get("whisper", {}))
        check = load_pain_check()
        return WhisperRecognizer(grammar, settings=settings, fast=recognizer, pain_check=check)
    if setup.engine != "pocketsphinx+whisper":
        return recognizer
    verified = VerifiedRecognizer(recognizer, grammar)
    verified.load()
    return verified


def run_shard(setup: Setup, entries: Sequence[Entry]) -> dict[str, Any]:
    """Stream ``entries`` (one worker's share) and return per-file rows and the costs."""
    grammar = load_grammar(setup.grammar)
    rss_before = benchlib.peak_rss_mb()
    began = time.perf_counter()
    stream = Stream(build(setup, grammar))
    load_seconds = time.perf_counter() - began
    starts: list[float] = []
    condition = None
    notes: list[dict[str, Any]] = []
    for entry in entries:
        audio = benchlib.read_wav(setup.corpus / entry.path)
        if entry.condition != condition:
            condition = entry.condition
            quiet = audio[: max(1, round((entry.speech_start - 0.1) * SAMPLE_RATE))]
            stream.feed(np.resize(quiet, round(WARMUP * SAMPLE_RATE)).astype(np.int16))
        starts.append(stream.fed)
        stream.feed(audio)
        notes += _drain_notes(stream.recognizer)
    stream.events += [Event(h, stream.fed, 0.0, 0.0) for h in stream.recognizer.flush()]
    notes += _drain_notes(stream.recognizer)
    by_file: dict[int, list[Event]] = defaultdict(list)
    for event in stream.events:
        index = bisect.bisect_right(starts, event.heard.start) - 1
        by_file[index].append(event)  # -1: heard in a warm-up, before any file
    notes_by_file: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for note in notes:
        notes_by_file[bisect.bisect_right(starts, note["start"]) - 1].append(note)
    rows = [_row(e, starts[i], by_file.get(i, [])) for i, e in enumerate(entries)]
    for i, row in enumerate(rows):
        row["stream_start"] = starts[i]
        row["segments"] = notes_by_file.get(i, [])  # in stream seconds, as stream_start
    return {
        "rows": rows,
        "warmup_heard": [e.heard.command for e in by_file.get(-1, [])],
        "audio_seconds": stream.fed,
        "wall_seconds": stream.wall,
        "cpu_seconds": stream.cpu,
        "load_seconds": load_seconds,
        "rss_before_recognizer_mb": rss_before,
        "peak_rss_mb": benchlib.peak_rss_mb(),
    }


def _drain_notes(recognizer: Recognizer) -> list[dict[str, Any]]:
    """What a whisper recognizer decided on each segment, the fast recognizer's safety
    commands it held, and the fast pains the pain check doubted, since the last call (for
    ``--raw``: rules can be studied offline)."""
    notes: list[dict[str, Any]] = []
    decisions = getattr(recognizer, "decisions", None)
    if decisions is not None and hasattr(recognizer, "held"):
        notes += [{"what": "segment", **asdict(d)} for d in decisions]
        notes += [
            {"what": "held", "command": h.command, "text": h.text, "start": h.start, "end": h.end}
            for h in recognizer.held
        ]
        doubts = getattr(recognizer, "doubts", [])
        notes += [
            {"what": "doubt", "text": d.heard.text, "start": d.heard.start, "end": d.heard.end}
            | {"score": d.score, "outcome": d.outcome}
            for d in doubts
        ]
        decisions.clear()
        recognizer.held.clear()
        if doubts:
            doubts.clear()
    return notes


def _row(entry: Entry, start: float, events: list[Event]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "path": entry.path,
        "expected": entry.expected,
        "kind": entry.kind,
        "voice": entry.voice,
        "snr_db": entry.snr_db,
        "condition": entry.condition,
        "text": entry.text,
        "speech_seconds": entry.speech_end - entry.speech_start,
        "seconds": entry.seconds,
        "heard": [e.heard.command for e in events],
        "heard_text": [e.heard.text for e in events],
        "heard_at": [(e.heard.start - start, e.heard.end - start) for e in events],
    }
    hit = next((e for e in events if e.heard.command == entry.expected), None)
    if hit is not None:
        row["latency_audio"] = hit.returned_at - (start + entry.speech_end)
        row["compute"] = hit.compute
        row["compute_cpu"] = hit.compute_cpu
    return row


def usable(entries: list[Entry], grammar: Grammar) -> tuple[list[Entry], dict[str, int]]:
    """The entries that mean what their label says under ``grammar``: commands it has, and
    distractors with none of its phrases (a grammar newer or older than the corpus)."""
    names, keys = set(grammar.command_names()), benchlib.phrase_keys(grammar)
    kept = [
        e
        for e in entries
        if (e.expected in names)
        or (not e.is_command and not benchlib.has_command_phrase(e.text, keys))
    ]
    skipped = Counter(
        "commands the grammar lacks" if e.is_command else "distractors holding a phrase"
        for e in entries
        if e not in kept
    )
    return kept, dict(skipped)


def shards(entries: list[Entry], count: int) -> list[list[Entry]]:
    """Split by condition (each stays one stream), balancing the seconds of audio."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: (e.condition, e.path)):
        groups[entry.condition].append(entry)
    parts: list[list[Entry]] = [[] for _ in range(max(1, count))]
    for group in sorted(groups.values(), key=lambda g: -sum(e.seconds for e in g)):
        min(parts, key=lambda p: sum(e.seconds for e in p)).extend(group)
    return [p for p in parts if p]


# --- the report -----------------------------------------------------------------------------------


def outcome(row: dict[str, Any]) -> str:
    """What a command file was acted on as: the expected command (alone), ``none``, or the
    first wrong command."""
    heard: list[str] = row["heard"]
    if not heard:
        return benchlib.NONE
    if set(heard) == {row["expected"]}:
        return str(row["expected"])
    return next(c for c in heard if c != row["expected"])


def accuracy(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy and pain recall of some command rows."""
    pain = [r for r in rows if r["expected"] == "pain"]
    return {
        "files": len(rows),
        "accuracy": ratio(sum(outcome(r) == r["expected"] for r in rows), len(rows)),
        "pain_files": len(pain),
        "pain_recall": ratio(sum("pain" in r["heard"] for r in pain), len(pain)),
    }


def grouped(
    rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str], order: Sequence[str] = ()
) -> dict[str, Any]:
    """``accuracy`` per value of ``key``, in ``order`` first, then sorted."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    names = [n for n in order if n in groups] + sorted(n for n in groups if n not in order)
    return {name: accuracy(groups[name]) for name in names}


def false_accepts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """False accepts of some distractor rows, per hour of their speech and of their audio."""
    count = sum(len(r["heard"]) for r in rows)
    speech = sum(r["speech_seconds"] for r in rows)
    audio = sum(r["seconds"] for r in rows)
    return {
        "files": len(rows),
        "speech_hours": round(speech / 3600, 3),
        "audio_hours": round(audio / 3600, 3),
        "false_accepts": count,
        "per_hour_speech": round(count / speech * 3600, 2) if speech else None,
        "per_hour_audio": round(count / audio * 3600, 2) if audio else None,
        "files_with_false_accept": ratio(sum(bool(r["heard"]) for r in rows), len(rows)),
        "by_command": dict(Counter(c for r in rows for c in r["heard"]).most_common()),
    }


def latency(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """End of speech to command, over the command files whose command was heard.

    ``total`` adds the processor time of the call that returned the command (its wall
    time on an idle core); ``total_wall`` adds the wall time measured here instead, which
    also holds the time other processes on a busy machine took the core away.
    """
    hits = [r for r in rows if "latency_audio" in r]
    audio = [r["latency_audio"] for r in hits]
    cpu = [r["compute_cpu"] for r in hits]
    wall = [r["compute"] for r in hits]
    series = {
        "audio": audio,
        "compute": cpu,
        "total": [a + c for a, c in zip(audio, cpu, strict=True)],
        "compute_wall": wall,
        "total_wall": [a + c for a, c in zip(audio, wall, strict=True)],
    }
    return {
        "detections": len(hits),
        **{
            f"{name}_p{q}_ms": _ms(percentile(values, q / 100))
            for name, values in series.items()
            for q in (50, 95)
        },
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 1)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's measurements from the workers' results."""
    rows = [row for result in results for row in result["rows"]]
    commands = [r for r in rows if r["expected"] != benchlib.NONE]
    distractors = [r for r in rows if r["expected"] == benchlib.NONE]
    audio = sum(r["audio_seconds"] for r in results)
    confusions: dict[str, Counter[str]] = defaultdict(Counter)
    for row in commands:
        confusions[row["expected"]][outcome(row)] += 1
    names = list(dict.fromkeys(r["expected"] for r in commands))
    good = accuracy([r for r in commands if r["snr_db"] in GOOD_SNR])
    timing = latency(commands)
    measured = {
        "pain_recall_snr10_and_cleaner": good["pain_recall"],
        "accuracy_snr10_and_cleaner": good["accuracy"],
        "false_accepts_per_hour": false_accepts(distractors)["per_hour_speech"],
        "latency_p50_ms": timing["total_p50_ms"],
        "latency_p95_ms": timing["total_p95_ms"],
        "cpu_percent_of_one_core": round(100 * sum(r["cpu_seconds"] for r in results) / audio, 2),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
    }
    return {
        "targets": {
            key: {
                "what": what,
                "target": f"{direction} {bound:g}",
                "measured": measured[key],
                "met": None
                if measured[key] is None
                else (measured[key] >= bound if direction == ">=" else measured[key] <= bound),
            }
            for key, what, bound, direction in TARGETS
        },
        "commands": {
            **accuracy(commands),
            "snr10_and_cleaner": good,
            "recall": {
                name: ratio(
                    sum(name in r["heard"] for r in commands if r["expected"] == name),
                    sum(r["expected"] == name for r in commands),
                )
                for name in names
            },
            "confusions": {name: dict(confusions[name].most_common()) for name in names},
            "by_snr": grouped(commands, lambda r: str(r["snr_db"]), SNR_ORDER[::-1]),
            "by_condition": grouped(commands, lambda r: str(r["condition"])),
            "by_voice": grouped(commands, lambda r: str(r["voice"])),
            "by_kind": grouped(commands, lambda r: str(r["kind"])),
            "misses": [
                f"{r['voice']} {r['condition']}: {r['text']!r} -> {r['heard']}"
                for r in commands
                if outcome(r) != r["expected"]
            ][:40],
        },
        "distractors": {
            **false_accepts(distractors),
            "by_kind": {
                kind: false_accepts([r for r in distractors if r["kind"] == kind])
                for kind in sorted({r["kind"] for r in distractors})
            },
            "by_snr": {
                snr: false_accepts([r for r in distractors if r["snr_db"] == snr])
                for snr in SNR_ORDER[::-1]
                if any(r["snr_db"] == snr for r in distractors)
            },
            "examples": [
                f"{r['voice']} {r['condition']}: {r['text']!r} -> {r['heard_text']}"
                for r in distractors
                if r["heard"]
            ][:40],
        },
        "latency": timing,
        "audio_seconds": round(audio, 1),
        "realtime_factor": round(sum(r["wall_seconds"] for r in results) / audio, 4),
        "cpu_seconds_per_audio_second": round(sum(r["cpu_seconds"] for r in results) / audio, 4),
        "peak_rss_mb": measured["peak_rss_mb"],
        "rss_before_recognizer_mb": max(r["rss_before_recognizer_mb"] for r in results),
        "load_seconds": round(max(r["load_seconds"] for r in results), 2),
        "heard_in_warmups": [c for r in results for c in r["warmup_heard"]],
    }


# --- the plot -------------------------------------------------------------------------------------


def plot(out: Path, reports: list[Path]) -> None:
    """Accuracy and "pain" recall against SNR, one line per report, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    labels = ["5 dB", "10 dB", "20 dB", "clean"]
    for path in reports:
        report = json.loads(path.read_text(encoding="utf-8"))
        by_snr = report["commands"]["by_snr"]
        name = report.get("label") or report["engine"]
        for axis, (field, count) in zip(
            axes, (("accuracy", "files"), ("pain_recall", "pain_files")), strict=True
        ):
            groups = [by_snr.get(snr, {}) for snr in SNR_ORDER]
            points = [
                (i, g[field], g[count]) for i, g in enumerate(groups) if g.get(field) is not None
            ]
            line = axis.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o")
            line[0].set_label(name)
            for x, value, n in points:
                if n < 30:  # say where a point rests on few files
                    axis.annotate(
                        f"n={n}",
                        (x, 100 * value),
                        textcoords="offset points",
                        xytext=(4 if x < len(SNR_ORDER) - 1 else -30, -12),
                        fontsize=7,
                        color=line[0].get_color(),
                    )
    for axis, title, target in zip(
        axes, ("All commands: accuracy", '"pain": recall'), (97, 99), strict=True
    ):
        axis.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target}%")
        axis.set_title(title)
        axis.set_xticks(range(len(labels)), labels)
        axis.set_xlabel("SNR (pink, brown and babble noise pooled)")
        axis.set_ylim(0, 101)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("% of command files")
    axes[1].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(out, dpi=110)


# --- the command line -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a folder made by make_corpus.py")
    parser.add_argument("--engine", choices=ENGINES, default="pocketsphinx")
    parser.add_argument("--model", type=Path, help="vosk model folder (for --engine vosk)")
    parser.add_argument(
        "--grammar", type=Path, help="default: the corpus's grammar.toml, else the package's en"
    )
    parser.add_argument(
        "--overrides",
        type=json.loads,
        default={},
        help='pocketsphinx settings, JSON: {"rejection": {"min_score": -30}, "decoding": {...}}',
    )
    parser.add_argument("--every", type=int, default=1, help="take every Nth file (a subset)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one stream each)")
    parser.add_argument("--label", default="", help="a name for this run in the report and plot")
    parser.add_argument("--out", type=Path, help="also write the report here")
    parser.add_argument("--raw", type=Path, help="also write every file's result here (JSON)")
    parser.add_argument("--plot", type=Path, help="draw REPORTS into this PNG instead")
    parser.add_argument("reports", type=Path, nargs="*", help="report JSON files for --plot")
    args = parser.parse_args()
    if args.plot:
        plot(args.plot, args.reports)
        return
    if args.corpus is None:
        parser.error("--corpus is required (or --plot)")
    if args.engine == "vosk" and args.model is None:
        parser.error("--engine vosk needs --model DIR")
    if args.overrides and args.engine == "vosk":
        parser.error("--overrides are pocketsphinx settings")
    corpus_grammar = args.corpus / "grammar.toml"
    grammar = args.grammar or (
        corpus_grammar if corpus_grammar.is_file() else default_grammar_path("en")
    )
    entries, skipped = usable(benchlib.read_manifest(args.corpus), load_grammar(grammar))
    entries = entries[:: max(1, args.every)]
    setup = Setup(args.corpus, args.engine, args.model, grammar, args.overrides)
    machine = benchlib.machine_info()
    began = time.perf_counter()
    parts = shards(entries, args.jobs)
    if len(parts) == 1:
        results = [run_shard(setup, parts[0])]
    else:
        with ProcessPoolExecutor(len(parts)) as pool:
            results = list(pool.map(run_shard, [setup] * len(parts), parts))
    report = {
        "label": args.label,
        "engine": args.engine,
        "model": str(args.model) if args.model else None,
        "overrides": args.overrides,
        "grammar": str(grammar),
        "package": benchlib.package_info(),
        "corpus": str(args.corpus),
        "files": len(entries),
        "every": args.every,
        "skipped": skipped,
        "jobs": len(parts),
        "chunk_seconds": BLOCK_SECONDS,
        "wall_seconds": round(time.perf_counter() - began, 1),
        **summarise(results),
        "machine": machine,
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.raw:
        args.raw.write_text(json.dumps(results, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
