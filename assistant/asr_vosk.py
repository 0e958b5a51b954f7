"""Recognizer adapter over vosk (Kaldi) with a closed command grammar.

vosk is imported lazily, so ``import assistant`` works without it. Things learned from
vosk 0.3.45 that shape this module:

- Word times count from the recognizer's creation. ``KaldiRecognizer.Reset()`` neither restarts
  them nor drops audio already buffered (words spoken before it can still come out after it),
  so ``reset()`` makes a new recognizer instead; that takes about a millisecond.
- ``SetPartialWords(True)`` leaves partial results empty with a look-ahead (small) model, so
  partials are read as plain text; word times come from the final result.
- A grammar word missing from the model is dropped with only a log line, and a model with a
  broken ``graph/HCLr.fst`` loads, logs a warning and crashes the process on the first audio.
  Both are caught here before any audio is fed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import CoachError, ModelError, RecognizerError
from assistant.grammar import Grammar
from assistant.model import validate_model
from assistant.ports import SAMPLE_RATE, Heard

_LOGGER = logging.getLogger(__name__)

UNKNOWN_WORD = "[unk]"
"""vosk's garbage word: any speech outside the grammar, where the model has it."""

_REMNANT = 0.5
"""Seconds: a cut-short word's tail decoded this soon after the cut is not a new word."""
_NO_RUNTIME_GRAPH = "Runtime graphs are not supported"
_ERROR_PREFIX = re.compile(r"^(?:ERROR|ASSERTION_FAILED)\b\s*(?:\(VoskAPI:.*?:\d+\)\s*)?:?\s*")


def _import_vosk() -> Any:
    try:
        import vosk
    except (ImportError, OSError) as error:
        raise RecognizerError(
            f"the vosk speech recognizer is not installed or cannot load ({error}); "
            "install it with `pip install vosk`"
        ) from None
    # -1: no LOG lines; warnings and errors still reach stderr, where _native_stderr picks
    # them up.
    vosk.SetLogLevel(-1)
    return vosk


@contextlib.contextmanager
def _native_stderr() -> Iterator[list[str]]:
    """Collect what libvosk writes to file descriptor 2 while the block runs."""
    lines: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr at all: nothing to collect
        yield lines
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode("utf-8", "replace").splitlines())


def _errors(lines: list[str]) -> list[str]:
    found = [_ERROR_PREFIX.sub("", line).strip() for line in lines if _ERROR_PREFIX.match(line)]
    for line in lines:
        if not _ERROR_PREFIX.match(line):
            _LOGGER.debug("vosk: %s", line)
    return [line for line in found if line]


class VoskModel:
    """A loaded vosk model (~2.6 s and ~500 MB for the Korean one); share it between recognizers."""

    def __init__(self, model_dir: Path) -> None:
        validate_model(model_dir)
        vosk = _import_vosk()
        self.path = model_dir
        with _native_stderr() as log:
            try:
                handle = vosk.Model(str(model_dir))
            except Exception:  # vosk raises a bare Exception("Failed to create a model")
                handle = None
        errors = _errors(log)
        if handle is None or errors:
            detail = errors[-1] if errors else "vosk gave no reason"
            raise ModelError(
                f"{model_dir}: vosk cannot load this model ({detail}); the folder is damaged "
                "or incomplete: delete it and install the model again"
            )
        self._vosk = vosk
        self.handle: Any = handle

    def has_word(self, word: str) -> bool:
        """True if ``word`` is in the model's word list (the one vosk checks grammars against)."""
        return int(self.handle.vosk_model_find_word(word)) >= 0

    def missing_words(self, words: set[str]) -> list[str]:
        """The words the model cannot recognize, sorted."""
        return sorted(word for word in words if not self.has_word(word))

    def recognizer(self, phrases: list[str]) -> Any:
        """A new ``KaldiRecognizer`` restricted to ``phrases``, with word times on."""
        grammar = json.dumps(phrases, ensure_ascii=False)
        with _native_stderr() as log:
            try:
                recognizer = self._vosk.KaldiRecognizer(self.handle, float(SAMPLE_RATE), grammar)
            except Exception:  # bare Exception("Failed to create a recognizer")
                recognizer = None
        errors = _errors(log)
        if any(_NO_RUNTIME_GRAPH in line for line in log):
            raise ModelError(
                f"{self.path}: this model cannot take a command grammar (its graph/HCLr.fst "
                "is missing or unreadable); install the model again"
            )
        if recognizer is None or errors:
            detail = errors[-1] if errors else "vosk gave no reason"
            raise RecognizerError(f"vosk cannot start a recognizer on {self.path}: {detail}")
        recognizer.SetWords(True)
        return recognizer


class VoskRecognizer:
    """Streams 16 kHz audio to vosk restricted to the grammar's phrases; reports commands.

    Safety commands ("pain") fire on the partial result, as soon as vosk's best guess contains
    them, without waiting for the end of the utterance; other commands fire on the final result.
    """

    name = "vosk"

    def __init__(
        self,
        model_dir: Path,
        grammar: Grammar,
        *,
        model: VoskModel | None = None,
        early_safety: bool = True,
    ) -> None:
        """Load (or reuse ``model``, already loaded from ``model_dir``) and check the vocabulary."""
        self._model = model if model is not None else VoskModel(model_dir)
        self._grammar = grammar
        self._early_safety = early_safety
        missing = self._model.missing_words(grammar.vocabulary())
        if missing:
            total = len(grammar.vocabulary())
            raise RecognizerError(
                f"the speech model {model_dir} lacks {len(missing)} of the {total} words of the "
                f"{grammar.language!r} command grammar: {', '.join(missing)} "
                "(use a model of the grammar's language, or change the grammar)"
            )
        self.has_unknown = self._model.has_word(UNKNOWN_WORD)
        """False when the model has no "[unk]": every sound then decodes as some command."""
        phrases = [phrase for phrase in grammar.vosk_grammar() if phrase != UNKNOWN_WORD]
        if self.has_unknown:
            phrases.append(UNKNOWN_WORD)
        else:
            _LOGGER.warning(
                "Speech model %s has no %s word: speech outside the commands cannot be "
                "rejected by the recognizer and will be heard as the nearest command",
                model_dir,
                UNKNOWN_WORD,
            )
        self._phrases = phrases
        self._samples = 0
        """Samples fed since this object was made."""
        self._base = 0
        """``_samples`` when the current vosk recognizer was made: its time zero."""
        self._last_partial = ""
        self._remnant: frozenset[str] = frozenset()
        """Words of a safety command just cut short, ignored at the start of the next utterance."""
        self._recognizer = self._model.recognizer(phrases)

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed 16 kHz mono int16 audio; returns commands whose utterance ended in it."""
        if len(pcm) % 2:
            raise ValueError("pcm must be whole 16-bit samples")
        if not pcm:
            return []
        self._samples += len(pcm) // 2
        try:
            ended = self._recognizer.AcceptWaveform(pcm)
            if ended:
                self._last_partial = ""
                return self._heard(self._recognizer.Result(), self._base)
            if self._early_safety:
                return self._check_partial()
        except CoachError:
            raise
        except Exception as error:  # vosk raises bare Exception("Failed to process waveform")
            raise RecognizerError(f"vosk failed on the audio: {error}") from error
        return []

    def flush(self) -> list[Heard]:
        """End of stream: returns anything still pending."""
        result = self._recognizer.FinalResult()
        base = self._base
        self._restart()
        return self._heard(result, base)

    def reset(self) -> None:
        """Forget any partial utterance; later times still count from this object's creation."""
        self._restart()
        self._remnant = frozenset()

    def _restart(self) -> None:
        self._recognizer = self._model.recognizer(self._phrases)
        self._base = self._samples
        self._last_partial = ""

    def _check_partial(self) -> list[Heard]:
        partial = str(json.loads(self._recognizer.PartialResult()).get("partial", ""))
        if not partial or partial == self._last_partial:
            return []
        self._last_partial = partial
        words = partial.split()
        if self._remnant and words and words[0] in self._remnant:
            words = words[1:]
        command = self._match(" ".join(words))
        if command is None or not self._grammar.command(command).safety:
            return []
        # Safety first: end the utterance now; its final result gives the word times.
        fired_at = self._samples / SAMPLE_RATE
        result = self._recognizer.FinalResult()
        base = self._base
        self._restart()
        heard = [h for h in self._heard(result, base) if h.command == command]
        if not heard:
            _LOGGER.warning("Final result lost %r of partial %r; reporting it", command, partial)
            heard = [Heard(command, " ".join(words), fired_at, fired_at)]
        # The word was cut while still being spoken: its tail opens the next utterance.
        self._remnant = frozenset(heard[0].text.split())
        return heard

    def _match(self, text: str) -> str | None:
        words = text.split()
        command = self._grammar.match(" ".join(w for w in words if w != UNKNOWN_WORD))
        if command is None:
            return None
        # Other speech around a command ("[unk] stop [unk]") is conversation, not a command,
        # but a safety phrase anywhere counts.
        if UNKNOWN_WORD in words and not self._grammar.command(command).safety:
            return None
        return command

    def _heard(self, result_json: str, base: int) -> list[Heard]:
        """The command in one final result, with times on this object's clock."""
        result = json.loads(result_json)
        words: list[dict[str, Any]] = list(result.get("result", []))
        remnant, self._remnant = self._remnant, frozenset()
        if words and words[0].get("word") in remnant and float(words[0]["start"]) < _REMNANT:
            words = words[1:]
        command = self._match(" ".join(str(w["word"]) for w in words))
        spoken = [w for w in words if w.get("word") != UNKNOWN_WORD]
        if command is None or not spoken:
            if result.get("text"):
                _LOGGER.debug("Heard %r: no command", result.get("text"))
            return []
        offset = base / SAMPLE_RATE
        return [
            Heard(
                command,
                " ".join(str(w["word"]) for w in spoken),
                offset + float(spoken[0]["start"]),
                offset + float(spoken[-1]["end"]),
                min(float(w.get("conf", 1.0)) for w in spoken),
            )
        ]
