"""Smoke tests of the listening benchmarks (scripts/): a tiny corpus made and measured.

The benchmarks print numbers; these tests check that the scripts run end to end and that
their JSON holds every field with sane values, not how good the numbers are (that is
docs/benchmarks.md's job), except where the answer is not in doubt: a clear "pain" in a
quiet room is heard.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_recognition  # noqa: E402
import benchlib  # noqa: E402
import make_corpus  # noqa: E402
import study_pain_nearly  # noqa: E402

from assistant.grammar import default_grammar_path, load_grammar  # noqa: E402

pytest.importorskip("pocketsphinx")
pytest.importorskip("piper")


def _run(*args: str | Path) -> str:
    result = subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    _run(SCRIPTS / "make_corpus.py", folder, "--tiny", "--jobs", "1")
    return folder


def test_the_prose_holds_no_command_phrase() -> None:
    keys = benchlib.phrase_keys(load_grammar(default_grammar_path("en")))
    sentences = make_corpus.prose_sentences()
    assert len(sentences) >= 300
    assert [s for s in sentences if benchlib.has_command_phrase(s, keys)] == []


def test_the_commands_said_are_the_grammars() -> None:
    grammar = load_grammar(default_grammar_path("en"))
    said = {n: ts for n, ts in make_corpus.COMMANDS.items() if n in grammar.command_names()}
    assert set(said) == set(grammar.command_names())  # every command is in the corpus
    assert all(grammar.match(t) == name for name, ts in said.items() for t in ts)


def test_a_tiny_corpus_has_its_manifest_and_files(corpus: Path) -> None:
    with open(corpus / "manifest.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0])[:5] == ["path", "expected", "kind", "voice", "snr_db"]
    names = load_grammar(default_grammar_path("en")).command_names()
    assert {r["expected"] for r in rows} == {*names, "none"}
    assert {r["kind"] for r in rows} == {"command", "narration", "conversation"}
    for entry in benchlib.read_manifest(corpus):
        audio = benchlib.read_wav(corpus / entry.path)
        assert audio.size / 16_000 == pytest.approx(entry.seconds, abs=0.01)
        assert 0 < entry.speech_start < entry.speech_end < entry.seconds
        assert np.abs(audio).max() > 1000


def test_pocketsphinx_bench_reports_every_figure(corpus: Path) -> None:
    report: dict[str, Any] = json.loads(
        _run(SCRIPTS / "bench_recognition.py", "--corpus", corpus, "--engine", "pocketsphinx")
    )
    entries = benchlib.read_manifest(corpus)
    assert report["package"]["assistant"]
    assert report["files"] == len(entries)
    assert set(report["targets"]) == {key for key, *_ in bench_recognition.TARGETS}
    commands = report["commands"]
    assert commands["files"] == sum(e.is_command for e in entries)
    assert commands["recall"]["pain"] == 1.0  # a clean "pain" from Piper's clear voice
    assert set(commands["confusions"]) == {e.expected for e in entries if e.is_command}
    assert 0 <= commands["by_snr"]["clean"]["accuracy"] <= 1
    distractors = report["distractors"]
    assert distractors["files"] == 4  # two narration sentences, two of ordinary talk
    assert distractors["false_accepts"] >= 0 and distractors["per_hour_speech"] >= 0
    assert set(distractors["by_kind"]) == {"narration", "conversation"}
    latency = report["latency"]
    assert latency["detections"] >= 1
    assert latency["total_p50_ms"] >= latency["audio_p50_ms"] > 0
    assert 0 < report["cpu_seconds_per_audio_second"] < 1
    # a peak: loading the recognizer need not raise it above what reading the corpus took
    assert report["peak_rss_mb"] >= report["rss_before_recognizer_mb"] > 0
    assert report["machine"]["cores"] >= 1


def test_echo_bench_reports_false_accepts_and_pain_recall() -> None:
    report: dict[str, Any] = json.loads(
        _run(SCRIPTS / "bench_echo.py", "--seconds", "20", "--user-every", "4")
    )
    assert 15 < report["narration_seconds"] < 40
    alone, user = report["narration_alone"], report["with_user_saying_pain"]
    assert alone["false_accepts"] >= 0 and alone["false_accepts_per_hour_of_narration"] >= 0
    assert alone["pain_false_accepts"] <= alone["false_accepts"]
    assert user["user_pains"] >= 3
    assert 0 <= user["pain_recall_during_coach_speech"] <= 1
    assert 0 < alone["echo_guard_percent_of_one_core"] < 100


def test_scoring_counts_a_command_once_and_splits_streams_by_condition() -> None:
    row = {"expected": "next", "heard": ["next", "next"]}
    assert bench_recognition.outcome(row) == "next"
    assert bench_recognition.outcome({"expected": "next", "heard": []}) == "none"
    assert bench_recognition.outcome({"expected": "next", "heard": ["next", "stop"]}) == "stop"
    entries = [
        benchlib.Entry(f"{n}.wav", "none", "conversation", "v", snr, "pink", False, "", 1, 2, 3)
        for n, snr in enumerate(["5", "10", "5", "20", "10"])
    ]
    parts = bench_recognition.shards(entries, 2)
    assert sorted(len(p) for p in parts) == [2, 3]
    for part in parts:
        conditions = [e.condition for e in part]
        assert conditions == sorted(conditions)  # each condition one unbroken run


def test_the_room_delays_and_keeps_the_energy() -> None:
    response = benchlib.room_impulse(2.5, 0.5, seed=1)
    delay = round(2.5 / 343 * 16_000)
    assert np.all(response[:delay] == 0) and response[delay] > 0
    assert float(np.sum(response**2)) == pytest.approx(1.0)
    direct = response[delay] ** 2
    assert 10 * np.log10(direct / (1 - direct)) == pytest.approx(-4.0, abs=0.5)


def test_the_pain_study_counts_files_against_the_re_decoding_by_kind() -> None:
    grammar = load_grammar(default_grammar_path())

    def segment(path: str, expected: str, text: str, figure: float) -> dict[str, Any]:
        return {
            "path": path,
            "expected": expected,
            "said": "",
            "text": text,
            "figure": figure,
            "word": "ouch",
        }

    records = [
        segment("a.wav", "pain", "out,", -1.2),  # missed, nearly said: gained above -1.5
        segment("b.wav", "pain", "it hurts", -0.1),  # heard already: never counted
        segment("c.wav", "none", "that's all right", -2.2),  # talk: turns pain below -2.0
        segment("c.wav", "none", "a horse", -6.0),
        segment("d.wav", "next", "next", -4.5),  # another command's file
    ]
    found = study_pain_nearly.summary(records, grammar, show=-2.5)
    assert found["files"] == 4 and found["segments"] == 5
    assert found["baseline"] == {
        "pain: no pain": 1,
        "pain: pain": 1,
        "none: no pain": 1,
        "command: no pain": 1,
    }
    above = found["above"]
    assert above["-1.0"] == {
        "pain files gained": 0,
        "distractor files turned pain": 0,
        "command files turned pain": 0,
    }
    assert above["-1.5"]["pain files gained"] == 1
    assert above["-2.0"]["distractor files turned pain"] == 0
    assert above["-2.5"]["distractor files turned pain"] == 1
    assert above["-5.0"] == {
        "pain files gained": 1,
        "distractor files turned pain": 1,
        "command files turned pain": 1,
    }
    assert len(found["examples at -2.5"]) == 2
