"""Recognizer adapter over pocketsphinx: an energy endpointer, a command grammar, rejection.

Each segment the endpointer finds is decoded whole, once it has ended, as one utterance:

- the audio given to pocketsphinx starts ``pre_roll`` seconds before the speech (taken from
  a ring buffer of the stream, not the endpointer's shorter pre-roll) and ends at the
  endpointer's hangover;
- the noise spectrum measured in the quiet just before the segment is subtracted first
  (``NoiseReducer``): the US model is trained on quiet speech;
- the whole segment goes to ``process_raw(..., full_utt=True)`` so cepstral mean
  normalisation is computed over the segment itself (the model's ``feat.params`` asks for
  batch CMN; streamed in chunks, pocketsphinx falls back to live CMN from a generic
  initial mean: measured on isolated commands, 86 / 50 % right at 20 / 10 dB whole,
  against 54 / 32 % streamed in 0.1 s chunks);
- the grammar holds only the phrases passed as ``phrases`` (by default each command's
  ``voice_phrases`` when the grammar has them, else every phrase): a recognizer-side
  grammar should hold few, distinct phrases; the text grammar's many near-synonyms
  ("ow", "hurt", "wait", "that's it") are confusable and catch ordinary talk;
- decoder settings: ``bestpath`` off and ``topn`` 16 (both measured better on short
  phrases in noise). ``remove_noise`` and ``cmn`` cannot be set by keyword: the model's
  ``feat.params`` overrides them (``remove_noise`` stays on, which helps).

A closed grammar maps any speech onto some command, so what is *not* a command is
rejected per segment by these tests in turn:

1. length: a command lasts ``min_duration`` to ``max_duration`` seconds of speech, and a
   segment cut off at the endpointer's ``max_segment`` is never one;
2. isolation: at least ``min_gap_before`` seconds of quiet before it (the endpointer's
   hangover gives the quiet after), so a fragment of a sentence is not a command;
3. completeness: the grammar search must reach the end of a phrase; pocketsphinx otherwise
   returns the best partial path ("what are my"), which is rejected;
4. pace: the speech may last at most ``phone_allowance + seconds_per_phone`` times the
   phones of the phrase heard, so a sentence forced onto "resume" is refused;
5. score: the acoustic score of the phrase's words per frame against that of a free phone
   loop decoding the same frames; speech the phrase does not fit scores far below it.
   (Whole-path scores, as first tried, mostly compared how each explained the noise
   around the speech.) This test is weak: see ``Rejection.min_score``.

Safety commands ("pain") have their own, looser thresholds: a missed "it hurts" costs more
than a false one. pocketsphinx is imported when a recognizer is made.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.endpoint import (
    Endpointer,
    EndpointSettings,
    Event,
    EventKind,
    NoiseReducer,
    Samples,
    SegmentInfo,
    length_verdict,
)
from assistant.errors import CoachError
from assistant.grammar import Grammar, normalise
from assistant.ports import SAMPLE_RATE, Heard

_LOGGER = logging.getLogger(__name__)

_SEARCH = "commands"


class RecognizerError(CoachError):
    """The speech recognizer cannot be started: a model, word or grammar problem."""


@dataclass(frozen=True)
class Rejection:
    """When the pocketsphinx adapter refuses a segment as not a command."""

    min_duration: float = 0.15
    """Seconds of speech below which a segment is a click or a breath."""
    max_duration: float = 2.6
    """Seconds of speech above which a segment is a sentence, not a command."""
    min_gap_before: float = 0.3
    """Seconds of quiet needed before a command."""
    safety_min_gap_before: float = 0.0
    """Seconds of quiet needed before a safety command such as "pain"."""
    seconds_per_phone: float = 0.13
    """Seconds of speech allowed per phone of the phrase heard (slow speech is ~0.1)."""
    phone_allowance: float = 0.25
    """Seconds of speech allowed on top, for short words with long vowels ("ouch", "pain")."""
    min_score: float = -25.0
    """Lowest score: acoustic score of the phrase's words minus that of a free phone loop
    over the same frames, per 10 ms frame (log base 1.0001 units; 0 = as good as free
    phones). Commands score about -45 to +20, ordinary talk forced onto a phrase -75 to -5,
    so any threshold trades: measured (6 voices, clean / pink 10 dB) -25 keeps 69 / 71 %
    of commands with 7 / 18 % of distractor sentences accepted, -30 keeps 77 / 80 % with
    10 / 25 %, none 92 / 87 % with 34 / 56 % (other gates only)."""
    safety_min_score: float = -40.0
    """The same for safety commands (a missed "it hurts" costs more than a false one)."""


@dataclass(frozen=True)
class Decoding:
    """How segments are prepared and decoded."""

    pre_roll: float = 0.5
    """Seconds of audio before the speech start given to the decoder."""
    noise_window: float = 1.5
    """Seconds of quiet before a segment (at most) in which the noise spectrum is measured."""
    denoise: bool = True
    """Subtract the measured noise spectrum before decoding."""
    oversubtract: float = 1.0
    """Times the noise power taken off each frequency bin."""
    gain_floor: float = 0.1
    """Lowest power gain per bin (against "musical" noise)."""
    topn: int = 16
    """Gaussians per mixture scored (pocketsphinx ``topn``; its default 4 is worse in noise)."""
    bestpath: bool = False
    """pocketsphinx ``bestpath`` lattice rescoring (worse on grammars in noise: off)."""
    garbage_weight: float | None = None
    """JSGF weight of a loop of common words (``GARBAGE_WORDS``) competing with the phrases
    (theirs is 1); a segment it explains better is rejected. None (the default) leaves it
    out: measured, it rejects every distractor but also 35-90 % of commands, and triples
    the decoding time."""
    garbage_phone_weight: float = 0.05
    """JSGF weight of each further word of the garbage loop (against 1 for ending it)."""
    phone_loop_score: bool = True
    """Also decode with pocketsphinx's phone-loop model for the score test (a second
    decode, about as costly again; without it every score is 0)."""


@dataclass(frozen=True)
class Decision:
    """What the recognizer made of one segment: for logs, tests and benchmarks."""

    segment: SegmentInfo
    text: str
    """The grammar hypothesis ("" when none)."""
    command: str | None
    """The command accepted, or None when rejected."""
    reason: str
    """"accepted" or why the segment was rejected."""
    score: float | None
    """Phrase-minus-phone-loop acoustic score per frame (see ``Rejection.min_score``)."""
    compute_seconds: float
    """Wall-clock seconds spent after the segment ended (denoising, decoding, deciding)."""


def voice_phrases(grammar: Grammar) -> list[str]:
    """The phrases a recognizer grammar should hold: each command's ``voice_phrases`` if the
    grammar defines them, else all its phrases."""
    chosen: list[str] = []
    for command in grammar.commands:
        subset = getattr(command, "voice_phrases", None)
        chosen += list(subset) if subset else list(command.phrases)
    return chosen


class PocketsphinxRecognizer:
    """Streams 16 kHz int16 audio and reports grammar commands (the Recognizer port)."""

    name = "pocketsphinx"

    def __init__(
        self,
        grammar: Grammar,
        *,
        phrases: Iterable[str] | None = None,
        rejection: Rejection | None = None,
        endpoint: EndpointSettings | None = None,
        decoding: Decoding | None = None,
        model_dir: Path | None = None,
        dictionary: Path | None = None,
        keep_decisions: int = 200,
    ) -> None:
        """Load the model bundled with pocketsphinx (or ``model_dir``) and the grammar.

        ``phrases`` are the grammar phrases to listen for (default: ``voice_phrases``);
        each must be a phrase of ``grammar``.
        """
        self.grammar = grammar
        self.rejection = rejection or Rejection()
        self.decoding = decoding or Decoding()
        self._endpointer = Endpointer(endpoint)
        owners = {normalise(p): c.name for c in grammar.commands for p in c.phrases}
        wanted = [normalise(p) for p in (voice_phrases(grammar) if phrases is None else phrases)]
        unknown = [p for p in wanted if p not in owners]
        if unknown or not wanted:
            raise RecognizerError(
                f"phrases must be phrases of the {grammar.language!r} grammar; "
                f"not in it: {', '.join(repr(p) for p in unknown) or '(none given)'}"
            )
        self.phrases: tuple[str, ...] = tuple(dict.fromkeys(wanted))
        """The phrases the recognizer grammar holds."""
        self._phrases = {p: owners[p] for p in self.phrases}
        self._safety = {c.name for c in grammar.commands if c.safety}
        self.decisions: deque[Decision] = deque(maxlen=keep_decisions)
        """The latest decisions, newest last."""
        self._grammar_decoder, self._phone_decoder = _load(
            grammar, self.phrases, self.decoding, model_dir, dictionary
        )
        self._reducer = NoiseReducer(
            oversubtract=self.decoding.oversubtract, gain_floor=self.decoding.gain_floor
        )
        s = self._endpointer.settings
        keep = s.max_segment + s.hangover + self.decoding.pre_roll + self.decoding.noise_window
        self._keep = round((keep + 1.0) * SAMPLE_RATE)
        self._buffer: Samples = np.zeros(0, dtype=np.int16)
        self._buffer_start = 0
        """Stream sample index of ``_buffer[0]``."""
        self._fed = 0
        self._last_end = 0.0
        self._open: SegmentInfo | None = None

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed 16 kHz mono int16 audio; returns commands whose utterance ended in it."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        self._remember(samples)
        return self._handle(self._endpointer.process(samples))

    def flush(self) -> list[Heard]:
        """End of stream: decide on a segment still open."""
        return self._handle(self._endpointer.flush())

    def reset(self) -> None:
        """Forget any partial utterance (and the noise floor, which re-adapts in seconds)."""
        self._open = None
        self._endpointer.reset()

    @property
    def time(self) -> float:
        """Seconds of audio fed so far."""
        return self._endpointer.time

    def _remember(self, samples: Samples) -> None:
        self._buffer = np.concatenate([self._buffer, samples])
        self._fed += len(samples)
        extra = len(self._buffer) - self._keep
        if extra > 0:
            self._buffer = self._buffer[extra:]
            self._buffer_start += extra

    def _audio(self, start: float, end: float) -> Samples:
        first = max(round(start * SAMPLE_RATE) - self._buffer_start, 0)
        last = max(round(end * SAMPLE_RATE) - self._buffer_start, first)
        return self._buffer[first:last]

    def _handle(self, events: list[Event]) -> list[Heard]:
        heard: list[Heard] = []
        for event in events:
            if event.kind is EventKind.START:
                self._open = event.segment
                self._measure_noise(event.segment)
            elif event.kind is EventKind.END and self._open is not None:
                self._open = None
                # The segment closed after its hangover of quiet: decode through that.
                closed = event.segment.end + self._endpointer.settings.hangover
                result = self._decide(event.segment, min(closed, self._fed / SAMPLE_RATE))
                if result is not None:
                    heard.append(result)
        return heard

    def _measure_noise(self, segment: SegmentInfo) -> None:
        if not self.decoding.denoise:
            return
        quiet_end = segment.start - 0.05
        quiet_start = max(quiet_end - self.decoding.noise_window, self._last_end + 0.05)
        # Too little quiet (a segment right after another): keep the last measurement.
        self._reducer.measure(self._audio(quiet_start, quiet_end))

    def _decide(self, segment: SegmentInfo, now: float) -> Heard | None:
        began = time.perf_counter()
        r = self.rejection
        self._last_end = now
        text, score = "", None
        command: str | None = None
        verdict = length_verdict(segment, r.min_duration, r.max_duration)
        if verdict is not None:
            reason = verdict
        else:
            audio = self._audio(segment.start - self.decoding.pre_roll, now)
            if self.decoding.denoise:
                audio = self._reducer.apply(audio)
            text, score = self._decode(audio.tobytes())
            phrase_command = self._phrases.get(normalise(text))
            safety = phrase_command in self._safety
            min_gap = r.safety_min_gap_before if safety else r.min_gap_before
            min_score = r.safety_min_score if safety else r.min_score
            longest = r.phone_allowance + r.seconds_per_phone * self._phones(text)
            if phrase_command is None:
                reason = "not a command phrase (ordinary talk, or a partial path)"
            elif segment.duration > longest:
                reason = f"too slow for the phrase ({segment.duration:.2f} > {longest:.2f} s)"
            elif segment.gap_before < min_gap:
                reason = f"not isolated ({segment.gap_before:.2f} s quiet before)"
            elif score is None or score < min_score:
                reason = "low score"
            else:
                command = self.grammar.match(text)
                reason = "accepted" if command is not None else "no command matches"
        decision = Decision(segment, text, command, reason, score, time.perf_counter() - began)
        self.decisions.append(decision)
        _LOGGER.debug(
            "segment %.2f-%.2f s %r score %s: %s",
            segment.start,
            segment.end,
            text,
            "-" if score is None else f"{score:.1f}",
            reason,
        )
        if command is None or score is None:
            return None
        margin = score - (r.safety_min_score if command in self._safety else r.min_score)
        return Heard(
            command=command,
            text=text,
            start=segment.start,
            end=segment.end,
            confidence=1 / (1 + math.exp(-margin / 8)),
        )

    def _phones(self, text: str) -> int:
        count = 0
        for word in text.split():
            pronunciation = self._grammar_decoder.lookup_word(word)
            count += len(str(pronunciation).split()) if pronunciation else 1
        return count

    def _decode(self, data: bytes) -> tuple[str, float | None]:
        grammar, phones = self._grammar_decoder, self._phone_decoder
        grammar.start_utt()
        grammar.process_raw(data, False, True)
        grammar.end_utt()
        hyp = grammar.hyp()
        if hyp is None or not str(hyp.hypstr):
            return "", None
        text = str(hyp.hypstr)
        if normalise(text) not in self._phrases:
            return text, None  # ordinary talk (the word loop won) or a partial path
        if phones is None:
            return text, 0.0
        log = grammar.get_logmath().log
        words = [
            (s.start_frame, s.end_frame, log(s.ascore))
            for s in grammar.seg()
            if s.ascore > 0 and not _is_filler(str(s.word))
        ]
        if not words:
            return text, None
        first, last = words[0][0], words[-1][1]
        phones.start_utt()
        phones.process_raw(data, False, True)
        phones.end_utt()
        # Acoustic scores only (no grammar or phone-LM weights), over the frames the phrase
        # words cover: how much worse the phrase explains its own speech than free phones.
        loop = 0.0
        for segment in phones.seg():
            if segment.ascore <= 0:
                continue
            overlap = min(last, segment.end_frame) - max(first, segment.start_frame) + 1
            length = segment.end_frame - segment.start_frame + 1
            if overlap > 0 and length > 0:
                loop += log(segment.ascore) * overlap / length
        phrase = sum(score for _, _, score in words)
        return text, (phrase - loop) / max(1, last - first + 1)


def _is_filler(word: str) -> bool:
    return word.startswith(("<", "[", "(", "+")) or word in ("<s>", "</s>")


_GARBAGE_TEXT = (
    "the a an and or but of to in on at by for with from up out about over into after "
    "i you he she we they it me him her us them my your his our their this that these those "
    "is are was were be been have has had do does did will would can could should may might "
    "not no yes okay oh well so then now here there what when where who why how very just "
    "good nice lovely time day today morning night tea water home back floor knees arms legs "
    "head feet hips side one two three four five six seven ten last first more some all any "
    "go going come coming get got make made see saw know think thought say said tell told "
    "want like look take give put keep let lie rest breathe lift lower hold turn press "
    "squeeze relax slowly gently again together thank thanks hello right really dear sorry "
    "please little big long old new weather kettle daughter news phone cat dinner fish walk "
    "doctor window dark outside postman idea much later over bent sides seconds ceiling toes"
)
GARBAGE_WORDS = tuple(_GARBAGE_TEXT.split())
"""Common English words (conversation and the coach's narration) whose loop competes
with the command phrases: a segment it explains better is ordinary talk, not a command."""


def jsgf(
    phrases: Iterable[str], garbage_weight: float | None = None, phone_weight: float = 0.05
) -> str:
    """A JSGF grammar for pocketsphinx with one alternative per phrase, and optionally a
    loop of ``GARBAGE_WORDS`` competing with them at ``garbage_weight`` (each further word
    at ``phone_weight``)."""
    alternatives = "\n    | ".join(phrases)
    if garbage_weight is None:
        return f"#JSGF V1.0;\n\ngrammar commands;\n\npublic <command> = {alternatives};\n"
    loop = " | ".join(GARBAGE_WORDS)
    return (
        "#JSGF V1.0;\n\ngrammar commands;\n\n"
        f"public <command> = /1/ <phrase> | /{garbage_weight:g}/ <garbage>;\n\n"
        f"<phrase> = {alternatives};\n\n"
        f"<garbage> = /1/ <phone> | /{phone_weight:g}/ <phone> <garbage>;\n\n"
        f"<phone> = {loop};\n"
    )


def _load(
    grammar: Grammar,
    phrases: tuple[str, ...],
    decoding: Decoding,
    model_dir: Path | None,
    dictionary: Path | None,
) -> tuple[Any, Any]:
    try:
        import pocketsphinx
    except ImportError as error:
        raise RecognizerError(
            "pocketsphinx is not installed (pip install pocketsphinx); "
            "it is needed for the pocketsphinx recognizer"
        ) from error
    hmm = model_dir or Path(pocketsphinx.get_model_path("en-us/en-us"))
    words = dictionary or Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    phone_lm = Path(pocketsphinx.get_model_path("en-us/en-us-phone.lm.bin"))
    for what, path in (("acoustic model", hmm), ("dictionary", words), ("phone model", phone_lm)):
        if not path.exists():
            raise RecognizerError(f"pocketsphinx {what} not found at {path}")
    common: dict[str, Any] = {
        "hmm": str(hmm),
        "dict": str(words),
        "samprate": SAMPLE_RATE,
        "topn": decoding.topn,
        "loglevel": "FATAL",
    }
    try:
        grammar_decoder = pocketsphinx.Decoder(lm=None, bestpath=decoding.bestpath, **common)
    except (RuntimeError, ValueError) as error:
        raise RecognizerError(f"pocketsphinx cannot load the model at {hmm}: {error}") from error
    missing = sorted(w for w in grammar.vocabulary() if grammar_decoder.lookup_word(w) is None)
    if missing:
        raise RecognizerError(
            f"grammar {grammar.language!r}: {len(missing)} word(s) not in the pocketsphinx "
            f"dictionary {words}: {', '.join(missing)}; rephrase them or add pronunciations"
        )
    try:
        text = jsgf(phrases, decoding.garbage_weight, decoding.garbage_phone_weight)
        grammar_decoder.add_jsgf_string(_SEARCH, text)
        grammar_decoder.activate_search(_SEARCH)
        phone_decoder = (
            pocketsphinx.Decoder(allphone=str(phone_lm), **common)
            if decoding.phone_loop_score
            else None
        )
    except (RuntimeError, ValueError) as error:
        raise RecognizerError(f"pocketsphinx cannot use the command grammar: {error}") from error
    _LOGGER.info("pocketsphinx ready: %d phrases, model %s", len(phrases), hmm)
    return grammar_decoder, phone_decoder


__all__ = [
    "GARBAGE_WORDS",
    "Decision",
    "Decoding",
    "PocketsphinxRecognizer",
    "RecognizerError",
    "Rejection",
    "jsgf",
    "voice_phrases",
]
