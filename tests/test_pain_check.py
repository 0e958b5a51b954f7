"""Tests for the pain check (assistant.pain_check): the real feature models and weights on
synthesized speech in noise, and what happens when they cannot be loaded."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest
import speech

from assistant.asr_whisper import WhisperSettings
from assistant.engines import make_recognizer
from assistant.grammar import default_grammar_path, load_grammar
from assistant.pain_check import (
    AFTER,
    BEFORE,
    PainCheck,
    PainCheckUnavailable,
    load_pain_check,
    network_scores,
    window_end,
)
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


def scored_on_every_window(check: PainCheck, audio: speech.Audio, speech_end: float) -> float:
    """The score as defined: every embedding of the audio, every window's mean, the highest
    of those ending near ``speech_end`` (else the last)."""
    embeddings = check.features.embeddings(audio)
    means = np.mean([network_scores(n, embeddings) for n in check.networks], 0)
    ends = np.array([window_end(i) for i in range(means.size)])
    near = (ends >= speech_end - BEFORE) & (ends <= speech_end + AFTER)
    return float(means[near].max() if near.any() else means[-1])


@pytest.mark.parametrize("late", [0.0, 0.3, 0.6])
def test_only_the_windows_near_the_end_of_speech_are_computed_and_they_score_the_same(
    check: PainCheck, late: float
) -> None:
    # The embedding model is run only on the windows that can count: the same score.
    text, voice = TALK[2]
    audio = said(text, voice)[: round((end_of_speech(text, voice) + late) * SAMPLE_RATE)]
    beyond = len(audio) / SAMPLE_RATE + 0.5  # no window ends near it: the last one counts
    for end in (end_of_speech(text, voice), end_of_speech("i'm in pain", voice), beyond):
        fast = check.score(audio, end)
        assert fast == pytest.approx(scored_on_every_window(check, audio, end), abs=1e-5)


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
