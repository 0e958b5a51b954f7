"""The echo guard on real audio: the coach's own narration, users talking over it, pocketsphinx.

The coach's sentences (phrases.py) are rendered by the project's own voice (tts.HelperRenderer,
espeak-ng), laid on a timeline and logged in an audio_out.ReferenceLog exactly as the sound
output keeps them. The microphone hears them through a simulated speaker-to-microphone path
(a delay, a reverberant room, a soft-clipping speaker, pink noise), plus the user's commands
in other voices (tests/speech.py). Everything runs through the real Listener with the real
PocketsphinxRecognizer, fed 0.1 s chunks stamped as a sound card would. Run with ``-s`` to
see the REPORT lines; thresholds sit below the numbers measured when this was written.
"""

from __future__ import annotations

import os
import subprocess
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import speech
from fakes import AskingRecognizer
from pulse import PulseAudio, pulse_audio

from assistant import phrases
from assistant.asr_pocketsphinx import PocketsphinxRecognizer
from assistant.audio_out import DeviceOutput, ReferenceLog, resample
from assistant.echo import EchoGuard, EchoSettings, _Nlms, _Resampler, _Suppressor
from assistant.grammar import default_grammar_path, load_grammar
from assistant.listener import Listener
from assistant.mic import Microphone
from assistant.ports import SAMPLE_RATE, Heard
from assistant.routine import resolve_routine
from assistant.tts import (
    SENTENCE_GAP_SECONDS,
    HelperRenderer,
    Spoken,
    VoiceSpeaker,
    prepare,
    split_sentences,
)

pytest.importorskip("pocketsphinx")

__all__ = ["pulse_audio"]  # the fixture, imported for pytest

GRAMMAR = load_grammar(default_grammar_path("en"))
RATE = 44_100
"""The simulated output's rate, as the null sink and most sound cards."""
T0 = 1000.0
"""Monotonic time of the simulated session's first sample."""
Floats = npt.NDArray[np.float64]
ROUTINE = resolve_routine("strong_back")
COACH_LINES = (
    phrases.safety_intro(ROUTINE),
    phrases.help_text(["pause", "longer_rest", "next", "repeat", "help", "stop"]),
    phrases.PAUSED,
    phrases.help_text(["resume", "stop", "help"]),
)
"""The coach's own sentences that name commands: "say pain", "say pause", "Paused"..."""
USER_TEXTS = ("pain", "i'm in pain", "it hurts", "pause", "stop")
USER_VOICES = (speech.PIPER, speech.KLATT_US, speech.F2_US_FAST_HIGH)


# --- the simulated session ----------------------------------------------------------------------


@dataclass(frozen=True)
class Narration:
    """The coach's audio at RATE from T0, and its utterances as VoiceSpeaker records them."""

    audio: npt.NDArray[np.float32]
    spoken: tuple[Spoken, ...]
    pain_words: tuple[float, ...]
    """Seconds into the session where the coach says "pain" (estimated, +-0.3 s)."""


def _render(lines: Sequence[str]) -> Narration:
    renderer = HelperRenderer("espeak")
    parts = [np.zeros(RATE, np.float32)]
    spoken: list[Spoken] = []
    pain_words: list[float] = []
    at = 1.0
    try:
        for text in lines:
            started = at
            for number, sentence in enumerate(split_sentences(text)):
                if number:
                    parts.append(np.zeros(round(SENTENCE_GAP_SECONDS * RATE), np.float32))
                    at += SENTENCE_GAP_SECONDS
                audio = prepare(renderer.render(sentence, 160.0), 0.0, RATE)
                words = sentence.lower().replace(",", "").split()
                if "pain" in words or "pain." in words:
                    index = next(i for i, w in enumerate(words) if w.startswith("pain"))
                    pain_words.append(at + audio.size / RATE * (index + 0.5) / len(words))
                parts.append(audio)
                at += audio.size / RATE
            spoken.append(Spoken(text, T0 + started, T0 + at, True))
            parts.append(np.zeros(round(1.5 * RATE), np.float32))
            at += 1.5
    finally:
        renderer.close()
    return Narration(np.concatenate(parts), tuple(spoken), tuple(pain_words))


@pytest.fixture(scope="module")
def narration() -> Narration:
    """The coach's narration, rendered once for the module."""
    return _render(COACH_LINES)


def _room(delay: float, rng: np.random.Generator, rt60: float = 0.2) -> Floats:
    """A speaker-to-microphone impulse response: delay, direct sound, exponential tail."""
    times = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(times.size) * np.exp(-6.9 * times / rt60) * 0.05
    tail[: int(0.003 * SAMPLE_RATE)] = 0.0
    tail[0] = 1.0
    return np.concatenate([np.zeros(int(delay * SAMPLE_RATE)), tail])


def echo_path(
    coach: npt.NDArray[np.float32], delay: float, level_dbfs: float = -22.0, seed: int = 0
) -> tuple[Floats, float]:
    """What the microphone hears of the coach (int16 scale), and the echo's speech RMS."""
    rng = np.random.default_rng(seed)
    played = resample(coach, RATE, SAMPLE_RATE).astype(np.float64)
    played = np.tanh(2.0 * played) / 2.0  # a small speaker compresses its peaks
    echo = np.convolve(played, _room(delay, rng))[: played.size]
    level = 32768.0 * 10 ** (level_dbfs / 20)
    echo *= level / speech.active_rms(np.clip(echo * 32768, -32768, 32767).astype(np.int16))
    echo *= 32768.0
    noise = speech.noise("pink", echo.size / SAMPLE_RATE, seed)[: echo.size]
    return echo + noise * 32768.0 * 10 ** (-55 / 20), level


def add_speech(mic: Floats, clip: speech.Audio, at: float, level: float) -> Floats:
    """``mic`` with ``clip`` at speech RMS ``level`` starting ``at`` seconds in."""
    scaled = clip.astype(np.float64) * level / speech.active_rms(clip)
    start = int(at * SAMPLE_RATE)
    mixed = mic.copy()
    mixed[start : start + scaled.size] += scaled[: mixed.size - start]
    return mixed


@dataclass
class Run:
    """What the listener did with one simulated session."""

    heard: list[Heard]
    ignored: list[Heard]
    guard: EchoGuard | None
    recognizer: PocketsphinxRecognizer
    seconds: float
    """Wall-clock seconds the run took."""


def listen(
    mic: Floats, narration: Narration, settings: EchoSettings | None = None, guard: bool = True
) -> Run:
    """Stream ``mic`` through Listener(EchoGuard -> PocketsphinxRecognizer -> is_own_speech)."""
    log = ReferenceLog(RATE, keep_seconds=300.0)
    block = 1024
    for start in range(0, narration.audio.size, block):
        log.add(T0 + start / RATE, narration.audio[start : start + block])
    echo = EchoGuard(log.slice, RATE, lambda: narration.spoken, GRAMMAR, settings)
    source = speech.ChunkSource(np.clip(np.round(mic), -32768, 32767).astype(np.int16))
    recognizer = PocketsphinxRecognizer(GRAMMAR)
    began = time.perf_counter()
    listener = speech.listen_to(source, recognizer, echo if guard else None)
    seconds = time.perf_counter() - began
    return Run(listener.heard, listener.ignored, echo if guard else None, recognizer, seconds)


def _overlaps(heard: Heard, start: float, end: float) -> bool:
    return heard.start < end + 0.3 and heard.end > start - 0.3


# --- unit tests -----------------------------------------------------------------------------------


def _guard(spoken: Sequence[Spoken]) -> EchoGuard:
    return EchoGuard(lambda a, b: np.zeros(0, np.float32), RATE, lambda: spoken, GRAMMAR)


def test_the_coach_saying_a_command_is_known_by_time() -> None:
    intro = "You can say pause, longer rest, next, repeat or stop at any time. If anything "
    intro += "hurts, say pain, and we will stop at once."
    guard = _guard([Spoken(intro, 10.0, 18.0, True), Spoken(phrases.PAUSED, 30.0, 34.0, True)])
    assert guard.coach_was_saying("pain", (17.0, 17.5))
    assert guard.coach_was_saying("pause", (30.2, 30.6))  # "Paused." is heard as "pause"
    assert guard.coach_was_saying("stop", (17.0, 17.5))
    assert not guard.coach_was_saying("pain", (24.0, 24.5))  # the coach was silent
    assert not guard.coach_was_saying("done", (17.0, 17.5))  # never said
    # Only the words near the heard time count in a long utterance.
    long_text = "Pain is never a good sign. " + "Lie on your back and breathe slowly. " * 8
    guard = _guard([Spoken(long_text, 0.0, 30.0, True)])
    assert guard.coach_was_saying("pain", (0.5, 1.0))
    assert not guard.coach_was_saying("pain", (25.0, 25.5))


def test_pain_is_never_refused_unless_the_coach_says_a_pain_word() -> None:
    guard = _guard([Spoken("Lift your hips and hold. Breathe in slowly.", 5.0, 9.0, True)])
    pain = Heard("pain", "pain", 1.0, 1.4)
    assert not guard.is_own_speech(pain, (6.0, 6.4))
    guard = _guard([Spoken("If anything hurts, say pain.", 5.0, 8.0, False)])
    assert guard.is_own_speech(pain, (6.8, 7.2))  # no microphone audio: nothing but the coach


def test_a_command_over_the_coach_needs_other_speech_in_it() -> None:
    spoken = [Spoken("Slowly lower your leg to the floor.", T0 + 5.0, T0 + 8.0, True)]
    settings = EchoSettings(warmup=0.0)
    guard = EchoGuard(lambda a, b: np.zeros(0, np.float32), RATE, lambda: spoken, GRAMMAR, settings)
    slower = Heard("slower", "slow down", 1.0, 1.4)
    # Nothing but the coach on the microphone (no frames of other speech): its own echo.
    assert guard.is_own_speech(slower, (T0 + 6.0, T0 + 6.4))
    assert not guard.is_own_speech(slower, (T0 + 12.0, T0 + 12.4))  # the coach was silent
    assert not guard.is_own_speech(Heard("pain", "it hurts", 1.0, 1.4), (T0 + 6.0, T0 + 6.4))
    lenient = EchoSettings(warmup=0.0, commands_need_evidence=False)
    guard = EchoGuard(lambda a, b: np.zeros(0, np.float32), RATE, lambda: spoken, GRAMMAR, lenient)
    assert not guard.is_own_speech(slower, (T0 + 6.0, T0 + 6.4))


def test_a_command_over_the_coach_needs_as_much_other_speech_as_command_evidence() -> None:
    spoken = [Spoken("Lift your hips and hold them there.", T0, T0 + 8.0, True)]
    settings = EchoSettings(warmup=0.0, command_evidence=0.2)
    guard = EchoGuard(lambda a, b: np.zeros(0, np.float32), RATE, lambda: spoken, GRAMMAR, settings)
    # The microphone: hiss, a 0.1 s blip at 1 s (what is left of the echo gets through the
    # gate like this) and half a second of a voice the speaker did not play at 3 s.
    mic = speech.noise("white", 6.0, 1)[: 6 * SAMPLE_RATE] * 30
    for at, seconds in ((1.0, 0.1), (3.0, 0.5)):
        start, count = round(at * SAMPLE_RATE), round(seconds * SAMPLE_RATE)
        mic[start : start + count] += speech.noise("pink", 0.5, 2)[:count] * 6000
    pcm = np.clip(mic, -32768, 32767).astype(np.int16)
    for start in range(0, pcm.size, 1600):
        guard.process(pcm[start : start + 1600].tobytes(), T0 + start / SAMPLE_RATE)
    stop = Heard("stop", "stop", 1.0, 1.4)
    assert guard.is_own_speech(stop, (T0 + 1.0, T0 + 1.4)), "0.1 s is not enough"
    assert not guard.is_own_speech(stop, (T0 + 3.0, T0 + 3.5)), "the user said it"
    # Pain keeps its own rule: refused only where the coach said a pain word.
    assert not guard.is_own_speech(Heard("pain", "it hurts", 1.0, 1.4), (T0 + 1.0, T0 + 1.4))
    guard.settings = EchoSettings(warmup=0.0, command_evidence=0.05)
    assert not guard.is_own_speech(stop, (T0 + 1.0, T0 + 1.4))


def test_speech_over_the_coach_may_be_its_own_voice_unless_other_speech_is_in_it() -> None:
    spoken = [Spoken("Lift your hips and hold them there.", T0, T0 + 8.0, True)]
    guard = _guard(spoken)
    # The microphone: quiet hiss, and from 3 to 3.5 s a voice the speaker did not play.
    mic = speech.noise("white", 6.0, 1)[: 6 * SAMPLE_RATE] * 30
    mic[3 * SAMPLE_RATE : 3 * SAMPLE_RATE + SAMPLE_RATE // 2] += (
        speech.noise("pink", 0.5, 2)[: SAMPLE_RATE // 2] * 6000
    )
    pcm = np.clip(mic, -32768, 32767).astype(np.int16)
    for start in range(0, pcm.size, 1600):
        guard.process(pcm[start : start + 1600].tobytes(), T0 + start / SAMPLE_RATE)
    assert guard.other_speech_seconds((T0 + 3.0, T0 + 3.5)) >= 0.4
    assert not guard.coach_alone((T0 + 3.0, T0 + 3.5)), "the user's speech is in it"
    assert guard.coach_alone((T0 + 1.0, T0 + 1.5)), "nothing but the coach's voice"
    assert not guard.coach_alone((T0 + 10.0, T0 + 10.5)), "the coach was silent"
    strict = EchoSettings(pain_evidence=1.0)
    guard.settings = strict
    assert guard.coach_alone((T0 + 3.0, T0 + 3.5)), "too little other speech for this setting"


def _listen_silence(recognizer: AskingRecognizer, echo: EchoGuard | None) -> None:
    speech.listen_to(speech.ChunkSource(speech.silence(8.0), start=T0), recognizer, echo, 30.0)


def test_the_listener_tells_the_recognizer_when_the_coach_talked() -> None:
    recognizer = AskingRecognizer()
    # The coach talked from 3 to 5 s into the stream; word_margin 0.6 s either side.
    _listen_silence(recognizer, _guard([Spoken("Lift your hips.", T0 + 3.0, T0 + 5.0, True)]))
    talked = sorted(end for (start, end), yes in recognizer.answers.items() if yes)
    assert len(recognizer.answers) == 80
    # Chunks that overlap 2.4-5.6 s end from 2.4 to 5.6 s, give or take the 20-30 ms the
    # chunks are read after they were captured.
    assert talked[0] == pytest.approx(2.4, abs=0.11) and talked[-1] == pytest.approx(5.6, abs=0.11)
    assert talked == [round(end, 1) for end in np.arange(talked[0], talked[-1] + 0.05, 0.1)]
    # Without an echo guard nobody knows when the coach talks, and the recognizer is not told.
    alone = AskingRecognizer()
    _listen_silence(alone, None)
    assert alone.talking is None and alone.answers == {}


def test_reference_is_one_continuous_stream_at_16_khz() -> None:
    rng = np.random.default_rng(3)
    played = rng.standard_normal(RATE * 3).astype(np.float32) * 0.1
    log = ReferenceLog(RATE)
    for start in range(0, played.size, 512):
        log.add(T0 + start / RATE, played[start : start + 512])
    reader = _Resampler(log.slice, RATE, T0 + 0.5)
    got = np.concatenate([reader.read(1600) for _ in range(15)])
    expected = resample(played, RATE, SAMPLE_RATE)[8000 : 8000 + got.size]
    # Before its start the stream is silence, so compare after the filter's reach.
    assert np.max(np.abs(got - expected)[50:]) < 1e-5


def test_the_filter_finds_the_delay_and_cancels_a_linear_echo() -> None:
    rng = np.random.default_rng(4)
    far = rng.standard_normal(SAMPLE_RATE * 6) * 3000.0
    echo = np.convolve(far, _room(0.12, rng))[: far.size] * 0.5
    nlms = _Nlms(EchoSettings())
    out = np.concatenate(
        [nlms.frame(echo[i : i + 160], far[i : i + 160])[0] for i in range(0, far.size, 160)]
    )
    last = slice(-2 * SAMPLE_RATE, None)
    erle = 10 * np.log10(np.sum(echo[last] ** 2) / np.sum(out[last] ** 2))
    print(f"REPORT white-noise echo 120 ms: delay {nlms.delay / 16:.0f} ms, ERLE {erle:.1f} dB")
    assert 0.09 * SAMPLE_RATE < nlms.delay <= 0.12 * SAMPLE_RATE
    assert erle > 25


def _suppress(
    suppressor: _Suppressor, out: Floats, echo: Floats, echoing: bool, near: bool = False
) -> Floats:
    frames = range(0, out.size, 160)
    done = [suppressor.frame(out[i : i + 160], echo[i : i + 160], near, echoing) for i in frames]
    return np.concatenate(done)


def test_the_suppressor_passes_audio_unchanged_without_the_coachs_echo() -> None:
    sound = np.random.default_rng(5).standard_normal(SAMPLE_RATE) * 3000.0
    out = _suppress(_Suppressor(EchoSettings(suppress=1.5)), sound, sound * 0.5, echoing=False)
    assert np.max(np.abs(out[160:] - sound[:-160])) < 1e-6  # 10 ms late, and nothing else


def test_the_suppressor_cuts_the_residual_echo_and_keeps_other_speech() -> None:
    rng = np.random.default_rng(6)
    estimate = rng.standard_normal(3 * SAMPLE_RATE) * 3000.0
    residual = np.tanh(estimate / 3000.0) * 600.0  # what the filter could not predict
    suppressor = _Suppressor(EchoSettings(suppress=1.5))
    learn = slice(0, 2 * SAMPLE_RATE)
    _suppress(suppressor, residual[learn], estimate[learn], echoing=True)
    last = slice(2 * SAMPLE_RATE, None)
    user = rng.standard_normal(SAMPLE_RATE) * 6000.0  # 20 dB over the residual
    left = _suppress(suppressor, residual[last], estimate[last], echoing=True)
    kept = _suppress(suppressor, residual[last] + user, estimate[last], echoing=True, near=True)
    cut = 10 * np.log10(np.sum(residual[last] ** 2) / np.sum(left[320:] ** 2))
    lost = 10 * np.log10(np.sum(user**2) / np.sum(kept[320:] ** 2))
    print(f"REPORT suppressor: residual echo cut by {cut:.1f} dB, speech over it {lost:.1f} dB")
    assert cut > 10
    assert lost < 1.5


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="canceller"):
        EchoSettings(canceller="magic")


# --- (a) the coach alone ----------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.03, 0.08])
def test_the_coach_alone_is_never_obeyed(narration: Narration, delay: float) -> None:
    mic, _ = echo_path(narration.audio, delay, seed=int(delay * 100))
    run = listen(mic, narration)
    assert run.guard is not None
    cpu = run.guard.cpu_seconds / run.guard.audio_seconds
    bare = listen(mic, narration, guard=False)
    words = listen(mic, narration, EchoSettings(canceller="none"))
    print(
        f"REPORT coach alone, {narration.audio.size / RATE:.0f} s, echo {1000 * delay:.0f} ms: "
        f"accepted {[h.text for h in run.heard]} ignored {[h.text for h in run.ignored]}; "
        f"without a guard accepted {[h.text for h in bare.heard]}; word check only accepted "
        f"{[h.text for h in words.heard]} ignored {[h.text for h in words.ignored]}; "
        f"echo guard {100 * cpu:.1f}% of a core; run {run.seconds:.1f} s"
    )
    # Never pain from the coach's own voice (it says "say pain"); other own-voice commands are
    # measured (target 0 per hour, issue 4) and bounded here so a regression shows.
    assert [h.text for h in run.heard if h.command == "pain"] == []
    assert len(run.heard) <= 1
    assert len(run.heard) < len(bare.heard)


# --- (b), (c) the user over the coach -----------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """One user utterance placed in the session."""

    text: str
    voice: str
    start: float
    end: float


def _user_plan(narration: Narration) -> list[tuple[float, str, speech.Voice]]:
    """Commands every 3.3 s while the coach talks (after 4 s to adapt), and on its "pain"s."""
    slots: list[float] = []
    for utterance in narration.spoken:
        at = utterance.started - T0 + 0.8
        assert utterance.ended is not None
        while at < utterance.ended - T0 - 1.0:
            if at > 5.0 and all(abs(at - p) > 1.5 for p in narration.pain_words):
                slots.append(at)
            at += 3.3
    plan = [
        (at, USER_TEXTS[n % len(USER_TEXTS)], USER_VOICES[n // len(USER_TEXTS) % 3])
        for n, at in enumerate(slots)
    ]
    # The hardest case: the user says "pain" just as the coach says "say pain".
    plan += [(p - 0.2, "pain", USER_VOICES[n % 3]) for n, p in enumerate(narration.pain_words)]
    return sorted(plan)


def _score(run: Run, said: Sequence[Said], narration: Narration) -> dict[str, list[bool]]:
    hits: dict[str, list[bool]] = {"pain": [], "other": [], "over own pain": []}
    for item in said:
        command = GRAMMAR.match(item.text)
        got = any(h.command == command and _overlaps(h, item.start, item.end) for h in run.heard)
        over_own = any(item.start - 0.5 < p < item.end + 0.5 for p in narration.pain_words)
        kind = "over own pain" if over_own else "pain" if command == "pain" else "other"
        hits[kind].append(got)
    return hits


@pytest.mark.parametrize("sir_db", [0, -5, -10])
def test_the_user_is_heard_over_the_coach(narration: Narration, sir_db: int) -> None:
    mic, level = echo_path(narration.audio, 0.05)
    alone = speech.noise("pink", mic.size / SAMPLE_RATE, 0)[: mic.size] * 32768 * 10 ** (-55 / 20)
    said: list[Said] = []
    for at, text, voice in _user_plan(narration):
        clip = speech.synthesize(text, voice)
        mic = add_speech(mic, clip, at, level * 10 ** (sir_db / 20))
        alone = add_speech(alone, clip, at, level * 10 ** (sir_db / 20))
        said.append(Said(text, voice.label, at, at + clip.size / SAMPLE_RATE))
    run = listen(mic, narration)
    baseline = _score(listen(alone, narration, guard=False), said, narration)
    hits = _score(run, said, narration)
    false = [h for h in run.heard if not any(_overlaps(h, s.start, s.end) for s in said)]
    wrong = [
        h
        for h in run.heard
        for s in said
        if _overlaps(h, s.start, s.end) and h.command != GRAMMAR.match(s.text)
    ]
    summary = ", ".join(
        f"{kind} {sum(v)}/{len(v)} (alone {sum(baseline[kind])})" for kind, v in hits.items()
    )
    print(
        f"REPORT user at {sir_db:+d} dB to the echo: heard {summary}; false accepts "
        f"{[h.text for h in false]}; wrong command {[h.text for h in wrong]}; ignored as own "
        f"{[h.text for h in run.ignored]}; run {run.seconds:.1f} s"
    )
    # pocketsphinx alone (this test's recognizer) now and then hears pain in what is left of
    # the coach's voice, alone or over a user's word ("stop" read "stop it hurts"): on the
    # 36-minute narration it acted on 20 of the coach's words as pain (docs/benchmarks.md,
    # round 3). The default engine leaves such a pain to whisper (bench_echo.py). Since the
    # test's Piper clips are the same take on every machine (tests/speech.py), this take
    # shows one at each level (0, -5 and -10 dB); more than one is a regression.
    assert [h for h in false if h.command != "pain"] == []
    assert len([h for h in false + wrong if h.command == "pain"]) <= 1
    # The recognizer's own recall (the same clips with no coach) bounds what can be heard.
    pain, pain_alone = (
        sum(hits["pain"] + hits["over own pain"]),
        sum(baseline["pain"] + baseline["over own pain"]),
    )
    # Small numbers (11 pain clips) on a recognizer still being tuned: the REPORT lines carry
    # the measurement; this only catches a guard that stops pain getting through at all.
    assert pain >= min(1, pain_alone)


# --- (d) through a real (virtual) sound card ------------------------------------------------------


def _write_wav(path: Path, audio: speech.Audio) -> None:
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(audio.astype("<i2").tobytes())


def test_pain_over_the_coach_through_pulseaudio(pulse_audio: PulseAudio, tmp_path: Path) -> None:
    coach = (
        phrases.welcome(ROUTINE)
        + " You can say pause, longer rest, next, repeat or stop at any time."
        + " If anything hurts, say pain, and we will stop at once."
    )
    pain = tmp_path / "pain.wav"
    _write_wav(pain, speech.at_level(speech.synthesize("i'm in pain", speech.PIPER), -18.0))
    heard: list[Heard] = []
    recognizer = PocketsphinxRecognizer(GRAMMAR)
    with VoiceSpeaker(HelperRenderer("espeak"), DeviceOutput()) as speaker:
        guard = EchoGuard(speaker.reference, speaker.rate, lambda: speaker.spoken, GRAMMAR)
        listener = Listener(
            Microphone,
            recognizer,
            lambda call: call(),
            heard.append,
            lambda: None,
            lambda: None,
            lambda what: None,
            echo=guard,
        )
        listener.start()
        time.sleep(1.0)
        speaker.say(coach)
        deadline = time.monotonic() + 10
        while not speaker.spoken and time.monotonic() < deadline:
            time.sleep(0.01)
        started = speaker.spoken[0].started
        time.sleep(max(0.0, started + 5.5 - time.monotonic()))
        played_at = time.monotonic()
        subprocess.run(
            ["paplay", "--device=virt", str(pain)], env=os.environ.copy(), check=True, timeout=20
        )
        assert speaker.wait_until_quiet(30)
        time.sleep(1.5)
        listener.stop()
        spoken = speaker.spoken[0]
    assert spoken.ended is not None
    print(
        f"REPORT PulseAudio: coach {spoken.ended - started:.1f} s, 'i'm in pain' played "
        f"{played_at - started:.1f} s in; heard {[(h.text, round(h.start, 2)) for h in heard]}; "
        f"ignored {[h.text for h in listener.ignored]}; decisions "
        f"{[(round(d.segment.start, 1), d.text, d.reason) for d in recognizer.decisions]}; "
        f"echo guard "
        f"{100 * guard.cpu_seconds / max(guard.audio_seconds, 1e-9):.1f}% of a core"
    )
    # Pain is heard over the coach; nothing the coach said itself (its "say pain", or words
    # heard as a command before the canceller has learned the echo) is acted on.
    assert [h.command for h in heard] == ["pain"]
    assert heard[0].text == "i'm in pain" and heard[0].start > 5.0
