"""How often whisper nearly wrote a pain word it did not write, on pain files and on talk.

Whisper decodes greedily: at each step it writes its likeliest token, and the pains it
misses are often a near thing ("that's really good," for "that really hurts", "out," for
"ouch"). This re-decodes the short segments (up to ``max_duration`` s) of a whole-corpus
``bench_recognition.py --engine whisper --raw`` run as ``WhisperTranscriber`` does (30 s
window, the commands as prompt, greedy) and takes the transcript's ``nearest``: the highest
log probability whisper gave a one-word pain phrase of the grammar ("pain", "hurts", "ouch",
...; spelt with a capital too) at any step (``WhisperTranscriber``'s ``watch``, which the
recognizer's ``nearly_pain`` rule reads).

The segments' audio is cut from the corpus file (the speech from 0.35 s before to 0.35 s
after, where the recognizer's endpointer gives whisper 0.3 s around it), so whisper does not
always write what it wrote in the run. The baseline is therefore this re-decoding: for each
threshold, the files on which no segment was read as pain and some segment's figure is
above it, by kind (pain files gained; distractor files and other commands' files that would
turn pain). Every pain and distractor file is taken, and every ``--every``-th file of the
other commands. Prints JSON. Made for docs/benchmarks.md, round 9 (about 40 minutes with
2 jobs on this machine):

    .venv/bin/python scripts/study_pain_nearly.py w10_raw.json --corpus /tmp/corpus --jobs 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.asr_whisper import WhisperSettings
from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE

AROUND = 0.35
"""Seconds of audio kept before and after a segment's speech."""
THRESHOLDS = (-1.0, -1.5, -2.0, -2.5, -3.0, -3.5, -4.0, -5.0)
FLOOR = min(THRESHOLDS)
"""Figures at or below this are not measured (``WhisperTranscriber``'s ``watch_floor``)."""


def _segments(
    raw: list[dict[str, Any]], every: int, longest: float
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    rows = [row for shard in raw for row in shard["rows"]]
    picked = [
        row for i, row in enumerate(rows) if row["expected"] in ("pain", "none") or i % every == 0
    ]
    found = []
    for row in picked:
        segments = [
            s
            for s in row["segments"]
            if s["what"] == "segment" and s["end"] - s["start"] <= longest
        ]
        if segments:
            found.append((row, segments))
    return found


def _decode(
    job: tuple[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]],
) -> list[dict[str, Any]]:
    """Re-decode ``job``'s segments; one record per segment."""
    import soundfile as sf

    from assistant.verify import WhisperTranscriber, command_prompt, pain_words

    corpus, items = job
    grammar = load_grammar(default_grammar_path())
    transcriber = WhisperTranscriber(
        command_prompt(grammar), threads=1, watch=pain_words(grammar), watch_floor=FLOOR
    )
    records = []
    for row, segments in items:
        audio, _ = sf.read(str(Path(corpus) / row["path"]), dtype="float32")
        for segment in segments:
            start = max(0.0, segment["start"] - row["stream_start"] - AROUND)
            end = segment["end"] - row["stream_start"] + AROUND
            clip = audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
            heard = transcriber.transcribe(clip)
            word, figure = heard.nearest or ("", -99.0)
            records.append(
                {
                    "path": row["path"],
                    "expected": row["expected"],
                    "said": row["text"],
                    "text": heard.text,
                    "figure": figure,
                    "word": word,
                }
            )
    return records


def summary(records: list[dict[str, Any]], grammar: Grammar, show: float) -> dict[str, Any]:
    """The baseline, and the files each threshold would turn pain, by kind."""
    safety = {command.name for command in grammar.commands if command.safety}
    files: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        files.setdefault(record["path"], []).append(record)

    def kind(path: str) -> str:
        expected = files[path][0]["expected"]
        return expected if expected in ("pain", "none") else "command"

    heard = {
        path: any(grammar.match(s["text"]) in safety for s in segments)
        for path, segments in files.items()
    }
    baseline = Counter(f"{kind(p)}: {'pain' if heard[p] else 'no pain'}" for p in files)
    table, examples = {}, []
    for threshold in THRESHOLDS:
        turned: Counter[str] = Counter()
        for path, segments in files.items():
            if heard[path]:
                continue
            fired = [s for s in segments if s["figure"] > threshold]
            if fired:
                turned[kind(path)] += 1
                if threshold == show:
                    s = max(fired, key=lambda s: s["figure"])
                    read = f"{s['said']!r} read {s['text']!r}"
                    examples.append(f"{kind(path)}: {read}, {s['word']!r} at {s['figure']:.2f}")
        table[str(threshold)] = {
            "pain files gained": turned["pain"],
            "distractor files turned pain": turned["none"],
            "command files turned pain": turned["command"],
        }
    return {
        "files": len(files),
        "segments": len(records),
        "baseline": dict(baseline),
        "above": table,
        f"examples at {show}": sorted(examples),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--every", type=int, default=3, help="other commands' files: every Nth")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--show", type=float, default=-2.5, help="threshold to list files for")
    parser.add_argument("--records", type=Path, help="also write every segment's figure here")
    args = parser.parse_args(argv)
    grammar = load_grammar(default_grammar_path())
    items = _segments(json.loads(args.raw.read_text()), args.every, WhisperSettings.max_duration)
    jobs = [(str(args.corpus), items[i :: args.jobs]) for i in range(args.jobs)]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        records = [r for part in pool.map(_decode, jobs) for r in part]
    if args.records:
        args.records.write_text(json.dumps(records))
    print(json.dumps(summary(records, grammar, args.show), indent=2))


if __name__ == "__main__":
    main()
