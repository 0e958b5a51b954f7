"""Which recognizer the coach uses, and what it says when it cannot have one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from assistant.engines import choose_engine, whisper_installed
from assistant.errors import ModelError, RecognizerError


def test_auto_picks_whisper_without_a_vosk_model_when_it_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    assert whisper_installed()
    assert choose_engine("auto", None, tmp_path) == ("whisper", None)


def test_auto_picks_pocketsphinx_without_vosk_or_whisper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "faster_whisper" else real(name, *a),
    )
    assert not whisper_installed()
    assert choose_engine("auto", None, tmp_path) == ("pocketsphinx", None)


def test_auto_picks_vosk_when_a_model_folder_is_given(tmp_path: Path) -> None:
    assert choose_engine("auto", tmp_path / "model", tmp_path) == ("vosk", tmp_path / "model")


def test_vosk_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="exercise-coach fetch-model"):
        choose_engine("vosk", None, tmp_path)


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecognizerError, match="unknown engine"):
        choose_engine("siri", None, tmp_path)


def test_verified_pocketsphinx_is_chosen_by_name(tmp_path: Path) -> None:
    assert choose_engine("pocketsphinx+whisper", None, tmp_path) == (
        "pocketsphinx+whisper",
        None,
    )


def test_whisper_is_chosen_by_name_without_a_vosk_model(tmp_path: Path) -> None:
    assert choose_engine("whisper", None, tmp_path) == ("whisper", None)
