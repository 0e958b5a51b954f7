"""Tests for the pain check (assistant.pain_check): the real feature models and weights on
synthesized speech in noise, and what happens when they cannot be loaded."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest
import speech

from assistant.asr_whisper import WhisperSettings
from assistant.engines import make_recognizer
from assistant.grammar import default_grammar_path, load_grammar
from assistant.pain_check import PainCheck, PainCheckUnavailable, load_pain_check
from assistant.ports import SAMPLE_RATE

pytest.importorskip("onnxruntime")
BELOW = WhisperSettings().pain_check_below
LEAD = 2.5
"""Seconds of noise before the speech, as the live stream has."""


@pytest.fixture(scope="module")
def check() -> PainCheck:
    return PainCheck()


def said(text: str, voice: speech.Voice, snr_db: float = 20.0, seed: int = 0) -> speech.Audio:
    """``text`` after LEAD s of pink noise and before 0.5 s of it, at ``snr_db``."""
    clip = speech.at_level(speech.synthesize(text, voice), -26.0)
    return speech.mix(speech.pad(clip, LEAD, 0.5), snr_db, "pink", seed=seed)


def end_of_speech(text: str, voice: speech.Voice) -> float:
    return LEAD + len(speech.synthesize(text, voice)) / SAMPLE_RATE


# Voices of the benchmark corpus, which the networks were not trained on (Piper's joe at
# 150 words a minute: trained at other speeds only).
PAINS = [
    ("ouch that hurts", speech.KLATT_US),
    ("pain", speech.PIPER),
    ("i'm in pain", speech.F2_US_FAST_HIGH),
    ("stop it hurts", speech.KLATT_US_SLOW_LOW),
]
TALK = [
    ("The bus was late again this morning.", speech.KLATT_US),
    ("Have you seen my reading glasses anywhere?", speech.PIPER),
    ("Then release.", speech.F2_US_FAST_HIGH),
]


@pytest.mark.parametrize(("text", "voice"), PAINS, ids=[t for t, _ in PAINS])
def test_a_pain_phrase_is_believed(check: PainCheck, text: str, voice: speech.Voice) -> None:
    score = check.score(said(text, voice), end_of_speech(text, voice))
    assert score >= BELOW, f"{text!r} scored {score:.3f}"


@pytest.mark.parametrize(("text", "voice"), TALK, ids=[t for t, _ in TALK])
def test_ordinary_talk_is_doubted(check: PainCheck, text: str, voice: speech.Voice) -> None:
    score = check.score(said(text, voice), end_of_speech(text, voice))
    assert score < BELOW, f"{text!r} scored {score:.3f}"


def test_a_pain_at_the_start_of_the_stream_is_scored_on_what_there_is(check: PainCheck) -> None:
    # Less than a window of audio before the end of the speech: its start is repeated.
    clip = speech.pad(
        speech.at_level(speech.synthesize("ouch that hurts", speech.KLATT_US), -26.0), 0.2, 0.3
    )
    assert check.score(clip, len(clip) / SAMPLE_RATE - 0.3) >= BELOW


def test_weights_that_cannot_be_read_are_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "pain_check.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(PainCheckUnavailable, match="cannot read the pain check's weights"):
        PainCheck(bad)


def test_without_openwakeword_there_is_no_check_and_pain_is_not_held_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "openwakeword" else real(name, *a),
    )
    with caplog.at_level(logging.WARNING):
        assert load_pain_check() is None
    assert "No pain check (openwakeword is not installed" in caplog.text


def test_the_app_builds_whisper_with_the_pain_check() -> None:
    pytest.importorskip("faster_whisper")
    recognizer = make_recognizer("whisper", None, load_grammar(default_grammar_path()))
    assert isinstance(getattr(recognizer, "pain_check", None), PainCheck)
