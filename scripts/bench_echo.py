"""Benchmark the coach hearing itself: its whole narration through the live listening path.

Every sentence of a first session of both routines (``benchlib.session_lines``) is
rendered by the app's own voice (tts.HelperRenderer, espeak-ng at 160 words a minute,
tts.prepare at 44.1 kHz) and laid on a timeline as VoiceSpeaker plays it: each utterance
when the session says it (plus the output latency) or after the previous one, its
sentences ``SENTENCE_GAP_SECONDS`` apart. The microphone hears that through an echo path
(a soft-clipping small speaker, a bulk delay, a room) at speaker level, over quiet room
noise. The audio played is logged in an audio_out.ReferenceLog as the sound output logs
it, a little ahead of the microphone, and the microphone is read in 0.1 s chunks stamped
as a sound card stamps them, by the real Listener with the real EchoGuard and the
recognizer ``engines.make_recognizer`` builds.

Two runs: the narration alone (every command acted on is a false accept), and the same
with a user on the floor, two and a half metres away, saying a "pain" phrase every
``--user-every`` seconds of the coach's speech and whenever the coach itself says "pain".
The session is not driven by what is heard (it would end at the first pain): the whole
narration plays in both runs. Then the same pains (text, voice, room and level) are said
with no coach, each alone in the room's noise, to a recognizer built the same way: what
that hears is the most the echo handling could let through. Prints JSON: false accepts
per hour of narration, pain recall during the coach's speech and without it, what the echo
guard refused, CPU; ``--raw FILE`` also writes every decision of both runs and the audio
the recognizer heard beside the user.

    .venv/bin/python scripts/bench_echo.py [--engine pocketsphinx] [--seconds 60]
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import time
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
import numpy as np
import numpy.typing as npt
import speech

from assistant.audio_out import ReferenceLog, resample
from assistant.echo import EchoGuard, EchoSettings
from assistant.engines import make_recognizer
from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE, Heard, HearsOverTheCoach, Recognizer
from assistant.tts import SENTENCE_GAP_SECONDS, HelperRenderer, Spoken, prepare, split_sentences

RATE = 44_100
"""The simulated sound output's rate."""
T0 = 1000.0
"""Monotonic time of the timeline's first sample."""
OUTPUT_LATENCY = 0.25
"""Seconds from say() to the first sample heard (audio_out's device latency)."""
WORDS_PER_MINUTE = 160.0
ROUTINES = ("strong_back", "spine")
PAIN_TEXTS = ("pain", "i'm in pain", "it hurts", "ouch that hurts", "my back hurts")
USER_VOICES = (speech.PIPER, speech.KLATT_US, speech.F2_US_FAST_HIGH)
ECHO_DBFS = -22.0
"""Speech level of the coach's echo at the microphone (RMS)."""
ROOM_NOISE_DBFS = -55.0
"""Level of the room's pink noise at the microphone."""
WITHOUT_GAP = 4.0
"""Seconds between the user's pains said without the coach (``without_the_coach``)."""
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sentence:
    """One rendered sentence on the timeline."""

    text: str
    start: float
    """Seconds from the timeline start."""
    audio: Floats
    """At RATE, as played."""

    @property
    def end(self) -> float:
        """Seconds from the timeline start where it stops."""
        return self.start + self.audio.size / RATE


@dataclass(frozen=True)
class Utterance:
    """One say() of the coach: its sentences, played one after another."""

    text: str
    sentences: tuple[Sentence, ...]

    @property
    def start(self) -> float:
        """Seconds from the timeline start."""
        return self.sentences[0].start

    @property
    def end(self) -> float:
        """Seconds from the timeline start."""
        return self.sentences[-1].end


@dataclass(frozen=True)
class UserClip:
    """A "pain" the user says over the coach."""

    text: str
    voice: str
    start: float
    end: float
    over_own_pain: bool
    """Said just as the coach itself says a pain word."""


# --- the coach's side -----------------------------------------------------------------------------


def narrate(routines: tuple[str, ...], limit: float | None) -> list[Utterance]:
    """Render the sessions' sentences and place them as VoiceSpeaker would play them."""
    renderer = HelperRenderer("espeak")
    rendered: dict[str, Floats] = {}
    utterances: list[Utterance] = []
    offset, last_end = 1.0, 0.0
    try:
        for routine in routines:
            lines = benchlib.session_lines(routine)
            for said_at, text in lines:
                at = max(offset + said_at + OUTPUT_LATENCY, last_end + SENTENCE_GAP_SECONDS)
                sentences: list[Sentence] = []
                for sentence in split_sentences(text):
                    if limit is not None and at > limit:
                        break
                    if sentence not in rendered:
                        audio = renderer.render(sentence, WORDS_PER_MINUTE)
                        rendered[sentence] = prepare(audio, 0.0, RATE)
                    sentences.append(Sentence(sentence, at, rendered[sentence]))
                    at = sentences[-1].end + SENTENCE_GAP_SECONDS
                if not sentences:
                    return utterances
                said = " ".join(s.text for s in sentences)  # all of it, unless cut at the limit
                utterances.append(Utterance(said, tuple(sentences)))
                last_end = utterances[-1].end
            offset = last_end + 5.0
    finally:
        renderer.close()
    return utterances


class Played:
    """The coach's output as one stream at RATE, made block by block from the sentences."""

    def __init__(self, utterances: list[Utterance]) -> None:
        self._sentences = [s for u in utterances for s in u.sentences]
        self._starts = [round(s.start * RATE) for s in self._sentences]

    def block(self, first: int, count: int) -> Floats:
        """Samples ``first`` to ``first + count`` of the output."""
        out = np.zeros(count, dtype=np.float32)
        index = max(0, bisect.bisect_right(self._starts, first) - 1)
        while index < len(self._sentences) and self._starts[index] < first + count:
            start, audio = self._starts[index], self._sentences[index].audio
            lo, hi = max(first, start), min(first + count, start + audio.size)
            if hi > lo:
                out[lo - first : hi - first] += audio[lo - start : hi - start]
            index += 1
        return out


def echo_path(utterances: list[Utterance], seconds: float, delay: float) -> npt.NDArray[np.float64]:
    """What the microphone hears of the coach, over room noise, at 16 kHz (int16 scale).

    A small speaker compresses its peaks; the echo arrives ``delay`` seconds after the
    reference (the sound card's and the room's delay together) through a room whose
    direct sound dominates (the speaker is beside the microphone); its speech is at
    -22 dBFS RMS. The room's noise is pink at -55 dBFS.
    """
    mic = np.zeros(round(seconds * SAMPLE_RATE))
    response = benchlib.room_impulse(0.1, 0.4, seed=7, direct_db=15.0)
    response = np.concatenate([np.zeros(round(delay * SAMPLE_RATE)), response])
    gain: float | None = None
    for sentence in (s for u in utterances for s in u.sentences):
        played = resample(sentence.audio, RATE, SAMPLE_RATE).astype(np.float64)
        echo = benchlib.reverberate(np.tanh(2.0 * played) / 2.0, response)
        if gain is None:  # the first sentence sets the level: all are peak-normalised alike
            gain = 32768 * 10 ** (ECHO_DBFS / 20) / speech.active_rms(_pcm(echo * 32768)) * 32768
        start = round(sentence.start * SAMPLE_RATE)
        part = echo[: max(0, mic.size - start)] * gain
        mic[start : start + part.size] += part
    block = 60 * SAMPLE_RATE
    for number, first in enumerate(range(0, mic.size, block)):
        size = min(block, mic.size - first)
        noise = speech.noise("pink", size / SAMPLE_RATE, seed=number)[:size]
        mic[first : first + size] += noise * 32768 * 10 ** (ROOM_NOISE_DBFS / 20)
    return mic


def _pcm(samples: npt.NDArray[np.float64]) -> benchlib.Audio:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


# --- the user's side ------------------------------------------------------------------------------


def plan_user(utterances: list[Utterance], every: float) -> list[tuple[float, bool]]:
    """When the user says pain: every ``every`` seconds of coach speech, and on its "pain"s."""
    plan: list[tuple[float, bool]] = []
    spoken = 0.0
    due = every / 2
    for sentence in (s for u in utterances for s in u.sentences):
        length = sentence.end - sentence.start
        words = re.findall(r"[a-z']+", sentence.text.lower())
        pains = [i for i, w in enumerate(words) if w.startswith("pain") or w.startswith("hurt")]
        if pains:
            # The coach's first pain word, placed by its position in the sentence (+-0.3 s).
            at = sentence.start + length * (pains[0] + 0.5) / len(words) - 0.2
            if not plan or at > plan[-1][0] + 3.0:
                plan.append((at, True))
        elif length > 1.2 and spoken + length >= due:
            at = sentence.start + min(0.4, length / 4)
            if not plan or at > plan[-1][0] + 3.0:
                plan.append((at, False))
                due = spoken + length + every
        spoken += length
    return plan


def add_user(
    mic: npt.NDArray[np.float64], plan: list[tuple[float, bool]], sir_db: float
) -> list[UserClip]:
    """Add the user's "pain" phrases (through the room, from the floor) to ``mic``."""
    level = 32768 * 10 ** ((ECHO_DBFS + sir_db) / 20)
    clips: list[UserClip] = []
    for number, (at, own) in enumerate(plan):
        text = PAIN_TEXTS[number % len(PAIN_TEXTS)]
        voice = USER_VOICES[number // len(PAIN_TEXTS) % len(USER_VOICES)]
        dry = speech.synthesize(text, voice)
        wet = benchlib.reverberate(dry, benchlib.room_impulse(2.5, 0.5, seed=number))
        wet *= level / max(speech.active_rms(_pcm(wet)), 1.0)
        start = round(at * SAMPLE_RATE)
        part = wet[: max(0, mic.size - start)]
        mic[start : start + part.size] += part
        clips.append(UserClip(text, voice.label, at, at + dry.size / SAMPLE_RATE, own))
    return clips


def without_the_coach(
    plan: list[tuple[float, bool]],
    sir_db: float,
    engine: str,
    grammar: Grammar,
    fast_pain: str,
    overrides: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The same pains (text, voice, room, level) said with no coach talking: each alone in
    the room's noise, ``WITHOUT_GAP`` seconds apart, straight into a recognizer built as
    for the runs. What it hears is the most the echo handling could let through."""
    seconds = WITHOUT_GAP * (len(plan) + 1)
    mic = np.zeros(round(seconds * SAMPLE_RATE))
    noise = speech.noise("pink", seconds, seed=99)[: mic.size]
    mic += noise * 32768 * 10 ** (ROOM_NOISE_DBFS / 20)
    spaced = [(WITHOUT_GAP * (number + 0.5), own) for number, (_, own) in enumerate(plan)]
    clips = add_user(mic, spaced, sir_db)
    recognizer = build(engine, grammar, fast_pain, overrides.get("whisper"))
    heard: list[Heard] = []
    for chunk in speech.chunks(_pcm(mic), 0.1):
        heard += recognizer.accept(chunk)
    heard += recognizer.flush()
    hits = [any(h.command == "pain" and _near(h, c) for h in heard) for c in clips]
    return {
        "pain_recall": benchlib.ratio(sum(hits), len(hits)),
        "missed": [f"{c.voice} {c.text!r}" for hit, c in zip(hits, clips, strict=True) if not hit],
        "other_commands": _heard([h for h in heard if h.command != "pain"]),
    }


# --- listening ------------------------------------------------------------------------------------


class NarrationSource(speech.ChunkSource):
    """The Listener's AudioSource: 0.1 s chunks read a little after their capture, with the
    coach's output logged as it is played (ahead of the microphone by the output buffer)."""

    def __init__(self, mic: benchlib.Audio, utterances: list[Utterance], log: ReferenceLog):
        super().__init__(mic, T0)
        self._utterances = utterances
        self._played = Played(utterances)
        self._log = log
        self._logged = 0

    def read(self, timeout: float = 0.5) -> bytes | None:
        """The next chunk (None at the end), once what was played up to it is logged."""
        chunk = super().read(timeout)
        ahead = round((self.now - T0 + OUTPUT_LATENCY) * RATE)
        while chunk is not None and self._logged < ahead:
            self._log.add(T0 + self._logged / RATE, self._played.block(self._logged, 1024))
            self._logged += 1024
        return chunk

    def spoken(self) -> list[Spoken]:
        """The coach's utterances heard so far, as VoiceSpeaker.spoken holds them."""
        now = self.now
        return [
            Spoken(u.text, T0 + u.start, T0 + u.end if T0 + u.end <= now else None, True)
            for u in self._utterances
            if T0 + u.start <= now
        ]


class Timed:
    """A Recognizer that adds up the processor time spent in it."""

    def __init__(self, inner: Recognizer, keep_audio: bool = False) -> None:
        self.inner = inner
        self.name = inner.name
        self.cpu = 0.0
        self.decisions: list[Any] = []
        """Every decision the inner recognizer made (asr_whisper keeps only its latest)."""
        self._seen: set[int] = set()
        self.audio: list[bytes] | None = [] if keep_audio else None
        """What the recognizer heard, after the echo guard (``--raw``)."""

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed the inner recognizer, timed."""
        if self.audio is not None:
            self.audio.append(pcm)
        began = time.thread_time()
        try:
            return self.inner.accept(pcm)
        finally:
            self.cpu += time.thread_time() - began
            self._keep_decisions()

    def _keep_decisions(self) -> None:
        # The objects stay referenced in self.decisions, so their ids are never reused.
        for decision in getattr(self.inner, "decisions", ()):
            if id(decision) not in self._seen:
                self._seen.add(id(decision))
                self.decisions.append(decision)

    def flush(self) -> list[Heard]:
        """End of stream."""
        return self.inner.flush()

    def reset(self) -> None:
        """Forget a partial utterance."""
        self.inner.reset()

    def when_coach_talks(self, talking: Callable[[float, float], bool]) -> None:
        """Pass the listener's question on (asr_whisper)."""
        if isinstance(self.inner, HearsOverTheCoach):
            self.inner.when_coach_talks(talking)


class JudgingGuard(EchoGuard):
    """The EchoGuard, keeping the other speech it measured in every command it judged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.judged: list[tuple[Heard, float, bool]] = []
        """Commands heard while the coach talked: (command, seconds of other speech in
        it, taken for the coach's own)."""

    def is_own_speech(self, heard: Heard, spoken_at: tuple[float, float]) -> bool:
        """EchoGuard's verdict, kept with the evidence it weighed."""
        own = super().is_own_speech(heard, spoken_at)
        if self.coach_talking(spoken_at):
            self.judged.append((heard, self.other_speech_seconds(spoken_at), own))
        return own


@dataclass
class Run:
    """What the listener did with one stream."""

    heard: list[Heard]
    ignored: list[Heard]
    delivered: list[tuple[Heard, float]]
    """Each command acted on, with the narration second when the listener delivered it."""
    judged: list[tuple[Heard, float, bool]]
    """Each command heard over the coach, with the seconds of other speech in it."""
    guard_cpu: float
    recognizer_cpu: float
    wall: float
    doubts: list[str] = field(default_factory=list)
    """The fast pains the pain check doubted, and what became of them."""
    decisions: list[Any] = field(default_factory=list)
    """Every segment decision of asr_whisper, oldest first."""
    audio: bytes = b""
    """What the recognizer heard, 16 kHz int16 (only with ``keep_audio``)."""


def build(
    engine: str, grammar: Grammar, fast_pain: str, overrides: dict[str, Any] | None = None
) -> Recognizer:
    """The recognizer as the app builds it, or whisper with pocketsphinx's pain path
    ``fast_pain``: "quiet" (only while the coach is silent, as built), "always" or "off",
    and other ``WhisperSettings`` fields from ``overrides``."""
    if engine == "whisper" and (fast_pain != "quiet" or overrides):
        from assistant.asr_whisper import WhisperRecognizer, WhisperSettings
        from assistant.pain_check import load_pain_check

        always = fast_pain == "always"
        return WhisperRecognizer(
            grammar,
            settings=WhisperSettings(
                fast_safety=fast_pain != "off", fast_over_coach=always, **(overrides or {})
            ),
            fast=make_recognizer("pocketsphinx", None, grammar),
            pain_check=load_pain_check(),
        )
    return make_recognizer(engine, None, grammar)


def listen(
    mic: npt.NDArray[np.float64],
    utterances: list[Utterance],
    engine: str,
    grammar: Grammar,
    fast_pain: str = "quiet",
    overrides: dict[str, dict[str, Any]] | None = None,
    keep_audio: bool = False,
) -> Run:
    """Stream ``mic`` through Listener(EchoGuard -> recognizer -> is_own_speech);
    ``overrides`` change ``EchoSettings`` ("echo") and ``WhisperSettings`` ("whisper")."""
    o = overrides or {}
    log = ReferenceLog(RATE, keep_seconds=60.0)
    source = NarrationSource(_pcm(mic), utterances, log)
    settings = EchoSettings(**o.get("echo", {}))
    guard = JudgingGuard(log.slice, RATE, source.spoken, grammar, settings=settings)
    recognizer = Timed(build(engine, grammar, fast_pain, o.get("whisper")), keep_audio)
    delivered: list[tuple[Heard, float]] = []
    began = time.perf_counter()
    listener = speech.listen_to(
        source,
        recognizer,
        guard,
        timeout=None,
        on_heard=lambda heard: delivered.append((heard, source.now - T0)),
    )
    wall = time.perf_counter() - began
    return Run(
        listener.heard,
        listener.ignored,
        delivered,
        guard.judged,
        guard.cpu_seconds,
        recognizer.cpu,
        wall,
        [
            f"{d.heard.start:.1f} s {d.heard.text!r} ({d.score:.2f}): {d.outcome}"
            for d in getattr(recognizer.inner, "doubts", [])
        ],
        recognizer.decisions,
        b"".join(recognizer.audio or ()),
    )


# --- the report -----------------------------------------------------------------------------------


def _near(heard: Heard, clip: UserClip) -> bool:
    return heard.start < clip.end + 0.3 and heard.end > clip.start - 0.3


def _near_any(heard: Heard, clips: list[UserClip]) -> bool:
    return any(_near(heard, clip) for clip in clips)


def _users_pain(heard: Heard, clips: list[UserClip]) -> bool:
    """A pain heard where the user said one."""
    return heard.command == "pain" and _near_any(heard, clips)


def _heard(items: list[Heard]) -> list[str]:
    return [f"{h.start:.1f} s {h.text!r} -> {h.command}" for h in items]


def report_alone(run: Run, seconds: float, speech_seconds: float) -> dict[str, Any]:
    """The narration alone: everything acted on is a false accept."""
    return {
        "false_accepts": len(run.heard),
        "false_accepts_per_hour_of_narration": round(len(run.heard) / seconds * 3600, 2),
        "false_accepts_per_hour_of_coach_speech": round(len(run.heard) / speech_seconds * 3600, 2),
        "pain_false_accepts": sum(h.command == "pain" for h in run.heard),
        "acted_on": _heard(run.heard),
        "refused_as_own_speech": len(run.ignored),
        "refused": _heard(run.ignored)[:40],
        "over_the_coach": _judged(run.judged),
        "doubted_fast_pains": run.doubts,
        **_costs(run, seconds),
    }


def _judged(judged: list[tuple[Heard, float, bool]]) -> list[str]:
    """What the echo guard made of each command heard over the coach, and on what evidence."""
    return [
        f"{h.start:.1f} s {h.text[:40]!r} -> {h.command}: {evidence:.2f} s of other speech,"
        f" {'refused' if own else 'acted on'}"
        for h, evidence, own in judged
    ]


def _below(values: list[float], bounds: tuple[float, ...]) -> dict[str, int]:
    return {f"below_{bound}_s": sum(value < bound for value in values) for bound in bounds}


def report_user(run: Run, clips: list[UserClip], seconds: float) -> dict[str, Any]:
    """The narration with the user's pains over it."""
    hits = [any(h.command == "pain" and _near(h, c) for h in run.heard) for c in clips]
    waits = [
        min(at for h, at in run.delivered if h.command == "pain" and _near(h, c)) - c.end
        for hit, c in zip(hits, clips, strict=True)
        if hit
    ]
    during = [hit for hit, c in zip(hits, clips, strict=True) if not c.over_own_pain]
    over_own = [hit for hit, c in zip(hits, clips, strict=True) if c.over_own_pain]
    others = [h for h in run.heard if not _near_any(h, clips)]
    evidence = [other for h, other, _ in run.judged if _users_pain(h, clips)]
    return {
        "user_pains": len(clips),
        "pain_recall_during_coach_speech": benchlib.ratio(sum(during), len(during)),
        "pain_recall_over_the_coachs_own_pain_word": benchlib.ratio(sum(over_own), len(over_own)),
        "pain_recall_all": benchlib.ratio(sum(hits), len(hits)),
        # Seconds of audio from the end of the user's pain to its delivery: the listener's
        # clock here is the audio's, so the processor time of decoding is not in it.
        "pain_audio_latency_p50_s": benchlib.rounded(benchlib.percentile(waits, 0.5), 2),
        "pain_audio_latency_max_s": benchlib.rounded(max(waits, default=None), 2),
        "pains_within_1_s_of_audio": sum(wait <= 1.0 for wait in waits),
        "missed": [
            f"{c.start:.1f} s {c.voice} {c.text!r}{' (over its own pain)' * c.over_own_pain}"
            for hit, c in zip(hits, clips, strict=True)
            if not hit
        ],
        "refused_user_pains": sum(_users_pain(h, clips) for h in run.ignored),
        "doubted_fast_pains": run.doubts,
        # What a user's command over the coach would show the echo guard: the other speech
        # it measured in each of the user's pains heard (commands_need_evidence).
        "user_pains_over_the_coach_judged": len(evidence),
        "user_pain_other_speech": _below(evidence, (0.05, 0.1, 0.2, 0.3)),
        "false_accepts_away_from_the_user": len(others),
        "false_accepts_per_hour_of_narration": round(len(others) / seconds * 3600, 2),
        "acted_on_away_from_the_user": _heard(others),
        **_costs(run, seconds),
    }


def _costs(run: Run, seconds: float) -> dict[str, Any]:
    return {
        "echo_guard_percent_of_one_core": round(100 * run.guard_cpu / seconds, 2),
        "recognizer_percent_of_one_core": round(100 * run.recognizer_cpu / seconds, 2),
        "realtime_factor": round(run.wall / seconds, 3),
    }


def write_raw(path: Path, alone: Run, with_user: Run, clips: list[UserClip]) -> None:
    """Both runs' decisions and commands, the user's clips, and the audio heard with them."""

    def run(r: Run) -> dict[str, Any]:
        return {
            "decisions": [asdict(d) for d in r.decisions],
            "heard": [asdict(h) for h in r.heard],
            "ignored": [asdict(h) for h in r.ignored],
            "judged": [
                {**asdict(h), "other_speech_seconds": other, "own": own}
                for h, other, own in r.judged
            ],
            "doubts": r.doubts,
        }

    raw = {
        "clips": [asdict(c) for c in clips],
        "alone": run(alone),
        "with_user": run(with_user),
    }
    path.write_text(json.dumps(raw, indent=1))
    with wave.open(str(path.with_suffix(".wav")), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(with_user.audio)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--engine", default="pocketsphinx", help="pocketsphinx, whisper or pocketsphinx+whisper"
    )
    parser.add_argument("--seconds", type=float, help="only the first N seconds of narration")
    parser.add_argument(
        "--fast-pain",
        choices=("quiet", "always", "off"),
        default="quiet",
        help="whisper's pocketsphinx pain path: only while the coach is silent (as built), "
        "always (before round 3) or off (WhisperSettings.fast_safety, fast_over_coach)",
    )
    parser.add_argument("--user-every", type=float, default=20.0, help="seconds of coach speech")
    parser.add_argument("--sir-db", type=float, default=-5.0, help="user's speech over the echo")
    parser.add_argument("--delay", type=float, default=0.05, help="echo delay (seconds)")
    parser.add_argument(
        "--overrides",
        type=json.loads,
        default={},
        help='settings to change, JSON: {"echo": {"pain_evidence": 0.3}, "whisper": {...}}',
    )
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--raw",
        type=Path,
        help="write every decision, command and user clip of both runs to this JSON file, "
        "and what the recognizer heard with the user beside it (FILE.wav)",
    )
    args = parser.parse_args()
    if args.engine not in ("pocketsphinx", "whisper", "pocketsphinx+whisper"):
        parser.error(
            "--engine: pocketsphinx, whisper or pocketsphinx+whisper (no English vosk model here)"
        )
    grammar = load_grammar(default_grammar_path("en"))
    machine = benchlib.machine_info()
    began = time.perf_counter()
    utterances = narrate(ROUTINES, args.seconds)
    seconds = utterances[-1].end + 3.0
    speech_seconds = sum(s.end - s.start for u in utterances for s in u.sentences)
    mic = echo_path(utterances, seconds, args.delay)
    fast = args.fast_pain
    alone = listen(mic, utterances, args.engine, grammar, fast, args.overrides)
    plan = plan_user(utterances, args.user_every)
    clips = add_user(mic, plan, args.sir_db)
    with_user = listen(
        mic, utterances, args.engine, grammar, fast, args.overrides, args.raw is not None
    )
    if args.raw is not None:
        write_raw(args.raw, alone, with_user, clips)
    report = {
        "label": args.label,
        "engine": args.engine,
        "fast_pain": fast,
        "overrides": args.overrides,
        "package": benchlib.package_info(),
        "routines": list(ROUTINES),
        "narration_seconds": round(seconds, 1),
        "coach_speech_seconds": round(speech_seconds, 1),
        "utterances": len(utterances),
        "echo_delay_seconds": args.delay,
        "echo_level_dbfs": ECHO_DBFS,
        "user_sir_db": args.sir_db,
        "narration_alone": report_alone(alone, seconds, speech_seconds),
        "with_user_saying_pain": report_user(with_user, clips, seconds),
        "the_same_pains_without_the_coach": without_the_coach(
            plan, args.sir_db, args.engine, grammar, fast, args.overrides
        ),
        "wall_seconds": round(time.perf_counter() - began, 1),
        "peak_rss_mb": benchlib.peak_rss_mb(),
        "machine": machine,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
