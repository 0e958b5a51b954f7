"""Tests for the energy endpointer and the pocketsphinx recognizer, on synthesized speech.

The recognition tests stream whole sessions (speech clips 1.6 s apart over continuous
noise) in 0.1 s chunks, as a microphone would, and print what they measure. Thresholds
sit a little below the numbers measured when this file was written (the REPORT lines; run
with ``-s`` to see them): they catch regressions, they are not the product's goals.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest
import speech

from assistant.asr_pocketsphinx import (
    Decoding,
    PocketsphinxRecognizer,
    RecognizerError,
    jsgf,
    voice_phrases,
)
from assistant.endpoint import Endpointer, EndpointSettings, EventKind, NoiseReducer, Segmenter
from assistant.grammar import Command, Grammar, default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE

pytest.importorskip("pocketsphinx")

GRAMMAR = load_grammar(default_grammar_path("en"))
RECOGNITION_VOICES = (speech.PIPER, speech.KLATT_US, speech.F2_US_FAST_HIGH)
PHRASES = speech.voice_phrases_en()
"""The recognizer grammar: the phrases proposed as ``voice_phrases`` for grammars/en.toml."""


def make() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer(GRAMMAR, phrases=PHRASES)


DISTRACTORS = (
    "Lie on your back with your knees bent.",
    "Press your lower back into the floor.",
    "Rest your arms by your sides.",
    "Breathe in slowly.",
    "Now lift your hips.",
    "Hold it there for five seconds.",
    "Slowly lower your leg back down.",
    "Well done, that was the last one.",
    "That's a good idea.",
    "What time is it?",
    "Thank you very much.",
    "I think so.",
    "The weather is nice today.",
    "My daughter is coming over later.",
    "Could you pass me the water?",
    "Did you see the news this morning?",
    "Okay.",
    "Hello.",
    "The kettle is boiling.",
)
"""Ordinary talk and the coach's own narration: no command phrase in any of them ("Yes." was
one of them until it became the answer to "Was that easy?")."""

PAIN_PHRASES = (
    "pain",
    "it hurts",
    "ouch",
    "that hurts",
    "my back hurts",
    "i'm in pain",
    "i feel pain",
    "help me it hurts",
)
"""Pain phrases said in the recall test (all in ``PHRASES``)."""


def main_phrase_texts() -> list[tuple[str, str | None]]:
    return [(command.phrases[0], command.name) for command in GRAMMAR.commands]


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return make()


# --- endpointer -----------------------------------------------------------------------


def tone(seconds: float, dbfs: float, hz: float = 300.0) -> speech.Audio:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    wave: speech.Audio = np.round(np.sin(2 * np.pi * hz * t) * amplitude).astype(np.int16)
    return wave


def in_noise(
    signal: speech.Audio, noise_dbfs: float, kind: speech.NoiseKind = "pink"
) -> speech.Audio:
    noise = speech.noise(kind, len(signal) / SAMPLE_RATE, seed=7)[: len(signal)]
    mixed = signal.astype(np.float64) + noise * 32768 * 10 ** (noise_dbfs / 20)
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


def test_endpointer_finds_a_tone_in_noise_with_its_times_and_pre_roll() -> None:
    signal = np.concatenate([speech.silence(2.0), tone(0.8, -30), speech.silence(2.0)])
    segmenter = Segmenter()
    found = [
        s for chunk in speech.chunks(in_noise(signal, -45), 0.1) for s in segmenter.process(chunk)
    ]
    found += segmenter.flush()
    assert len(found) == 1
    info = found[0].info
    assert info.start == pytest.approx(2.0, abs=0.05)
    assert info.end == pytest.approx(2.8, abs=0.05)
    assert info.start - info.audio_start == pytest.approx(0.3, abs=0.021)
    assert not info.truncated
    assert info.gap_before == pytest.approx(2.0, abs=0.05)
    # Pre-roll through hangover: the decoder sees silence either side of the speech.
    assert len(found[0].audio) / SAMPLE_RATE == pytest.approx(0.3 + 0.8 + 0.3, abs=0.05)


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_endpointer_closes_a_segment_in_stationary_noise(kind: speech.NoiseKind) -> None:
    # Noise switched on suddenly opens a segment; the adapting floor must close it.
    signal = np.concatenate([speech.silence(1.0), in_noise(speech.silence(8.0), -25, kind)])
    segmenter = Segmenter()
    found = [s for chunk in speech.chunks(signal, 0.1) for s in segmenter.process(chunk)]
    assert len(found) == 1
    assert found[0].info.start == pytest.approx(1.0, abs=0.05)
    assert found[0].info.end < 1.0 + 2.0 + 0.3 + 0.1  # floor_window + hangover
    assert not segmenter.endpointer.in_speech
    assert segmenter.flush() == []


def test_endpointer_hears_speech_after_noise_has_been_absorbed() -> None:
    signal = np.concatenate([speech.silence(4.0), tone(0.5, -20), speech.silence(1.0)])
    segmenter = Segmenter()
    found = [
        s for chunk in speech.chunks(in_noise(signal, -35), 0.1) for s in segmenter.process(chunk)
    ]
    assert [round(s.info.start, 1) for s in found] == [4.0]
    floor = segmenter.endpointer.noise_floor_db
    assert floor is not None and -43 < floor < -33


def test_endpointer_cuts_off_long_speech_and_waits_for_quiet() -> None:
    settings = EndpointSettings(max_segment=1.0, floor_quantile=0.0)  # a steady tone
    signal = np.concatenate(
        [
            speech.silence(0.5),
            tone(1.8, -20),
            speech.silence(1.0),
            tone(0.4, -20),
            speech.silence(1),
        ]
    )
    segmenter = Segmenter(settings)
    found = [s for chunk in speech.chunks(signal, 0.05) for s in segmenter.process(chunk)]
    assert [s.info.truncated for s in found] == [True, False]
    assert found[0].info.end == pytest.approx(1.5, abs=0.05)
    # The rest of the long tone is not a segment, and the next one is measured from its end.
    assert found[1].info.start == pytest.approx(3.3, abs=0.05)
    assert found[1].info.gap_before == pytest.approx(1.0, abs=0.05)


def test_endpointer_gives_the_same_events_whatever_the_chunk_size() -> None:
    signal = in_noise(
        np.concatenate([speech.silence(1.0), tone(0.6, -30), speech.silence(1.0)]), -50
    )
    results = []
    for size in (0.013, 0.1, 1.0):
        endpointer = Endpointer()
        events = [e for chunk in speech.chunks(signal, size) for e in endpointer.process(chunk)]
        kinds = [e.kind for e in events if e.kind is not EventKind.AUDIO]
        audio = sum(len(e.audio) for e in events)
        results.append((kinds, events[-1].segment, audio))
    assert results[0] == results[1] == results[2]
    assert results[0][0] == [EventKind.START, EventKind.END]


def test_endpointer_ignores_digital_silence_and_quiet_hum() -> None:
    signal = np.concatenate([speech.silence(1.0), tone(2.0, -70), speech.silence(1.0)])
    assert Segmenter().process(signal) == []


def test_noise_reducer_takes_off_stationary_noise_and_keeps_the_signal() -> None:
    noise = speech.noise("pink", 3.0, seed=5) * 32768 * 10 ** (-40 / 20)
    signal = np.concatenate([np.zeros(16000), tone(1.0, -25, hz=1000.0)])
    noisy = np.clip(np.round(signal + noise[16000:]), -32768, 32767).astype(np.int16)
    reducer = NoiseReducer()
    assert reducer.apply(noisy) is noisy  # nothing measured yet: unchanged
    assert reducer.measure(np.round(noise[:16000]).astype(np.int16))
    cleaned = reducer.apply(noisy).astype(np.float64)
    assert len(cleaned) == len(noisy)

    def rms(x: np.typing.NDArray[np.float64]) -> float:
        return float(np.sqrt(np.mean(x**2)))

    # The noise alone drops (measured to 0.65 of its RMS: most of pink noise's power is
    # below 200 Hz, where the bins are few); the tone keeps its level.
    assert rms(cleaned[800:15200]) < 0.75 * rms(noise[16800:31200])
    assert rms(cleaned[16800:-800]) == pytest.approx(rms(signal[16800:-800]), rel=0.1)
    # Digital silence measures as no noise and changes nothing.
    assert reducer.measure(speech.silence(1.0))
    assert np.array_equal(reducer.apply(noisy), noisy)
    assert not reducer.measure(speech.silence(0.1))


def test_endpoint_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="frame"):
        EndpointSettings(frame=0.2)
    with pytest.raises(ValueError, match="continue_db"):
        EndpointSettings(start_db=5, continue_db=8)


# --- recognizer ---------------------------------------------------------------------------


def test_missing_grammar_words_are_listed_at_start() -> None:
    grammar = Grammar(
        "en", (Command("pain", ("pain", "zorblaxing hurts", "qwxv"), "say pain", safety=True),)
    )
    with pytest.raises(RecognizerError, match="qwxv, zorblaxing") as caught:
        PocketsphinxRecognizer(grammar)
    assert "2 word(s)" in str(caught.value)


def test_every_grammar_word_is_in_the_dictionary(recognizer: PocketsphinxRecognizer) -> None:
    assert recognizer.name == "pocketsphinx"
    assert recognizer.phrases == tuple(PHRASES)


def test_phrases_default_to_the_grammars_voice_phrases_and_must_belong_to_it() -> None:
    assert voice_phrases(GRAMMAR) == [p for c in GRAMMAR.commands for p in c.voice_phrases]
    assert "ow" not in voice_phrases(GRAMMAR), "a lone syllable makes a confusable grammar"
    with pytest.raises(RecognizerError, match="'pain please'"):
        PocketsphinxRecognizer(GRAMMAR, phrases=["pain", "pain please"])
    garbage = jsgf(["pain", "stop"], garbage_weight=0.5)
    assert "/0.5/ <garbage>" in garbage and "<phrase> = pain\n    | stop;" in garbage
    assert Decoding().pre_roll > EndpointSettings().pre_roll


def test_commands_in_three_voices_clean_and_in_noise() -> None:
    report: dict[str, float] = {}
    latencies: list[float] = []
    computes: list[float] = []
    for snr in (None, 10.0):
        correct = total = 0
        for voice in RECOGNITION_VOICES:
            stream, clips = speech.session(main_phrase_texts(), voice, snr)
            result = speech.run(make(), stream, clips)
            misses = []
            for clip in clips:
                got = result.for_clip(clip)
                total += 1
                if [h.command for h, _, _ in got] == [clip.expected]:
                    correct += 1
                    latencies.append(got[0][1] - clip.end)
                    computes.append(got[0][2])
                else:
                    misses.append(f"{clip.text!r}->{[h.text for h, _, _ in got]}")
            print(f"{voice.label} snr={snr}: misses {misses}")
        label = "clean" if snr is None else f"{snr:g}dB"
        report[label] = correct / total
    print(
        f"REPORT commands accuracy {report} "
        f"latency end-of-speech->command audio p50 {statistics.median(latencies):.2f} s "
        f"max {max(latencies):.2f} s; compute p50 {1000 * statistics.median(computes):.0f} ms "
        f"max {1000 * max(computes):.0f} ms"
    )
    # Measured 0.74 clean and 0.60 at 10 dB pink noise, latency p50 0.35 s (see the report;
    # before the rework 0.79 and 0.24 with every phrase in the grammar). Most misses are the
    # score test refusing a right answer. Regression floors, not goals (97 %, 0.3 s).
    assert report["clean"] >= 0.70
    assert report["10dB"] >= 0.55
    assert statistics.median(latencies) < 0.45


def test_short_phrases_with_commands_inside() -> None:
    texts = [
        ("i'm in pain", "pain"),
        ("next one please", "next"),
        ("can i have a longer rest", "longer_rest"),
    ]
    correct = total = 0
    for voice in RECOGNITION_VOICES:
        stream, clips = speech.session(texts, voice, None)
        result = speech.run(make(), stream, clips)
        for clip in clips:
            total += 1
            correct += [h.command for h, _, _ in result.for_clip(clip)] == [clip.expected]
    print(f"REPORT short phrases {correct}/{total}")
    assert correct >= total - 4  # measured 6/9


def test_pain_is_heard_in_every_voice() -> None:
    recall: dict[str, float] = {}
    for snr in (None, 10.0):
        heard = total = 0
        for voice in speech.VOICES:
            stream, clips = speech.session([(p, "pain") for p in PAIN_PHRASES], voice, snr)
            result = speech.run(make(), stream, clips)
            missed = []
            for clip in clips:
                total += 1
                if "pain" in [h.command for h, _, _ in result.for_clip(clip)]:
                    heard += 1
                else:
                    missed.append(clip.text)
            print(f"{voice.label} snr={snr}: pain missed {missed}")
        recall["clean" if snr is None else f"{snr:g}dB"] = heard / total
    print(f"REPORT pain recall {recall}")
    # Measured 0.94 clean and 0.91 at 10 dB on one machine's own takes of the clips (goal:
    # 0.99); 0.81 clean before the rework. With the takes fixed for every machine
    # (tests/speech.py seeds Piper and sox's dither), 0.88 and 0.84 (27 of 32).
    assert recall["clean"] >= 0.8
    assert recall["10dB"] >= 0.8


def test_conversation_and_narration_fire_few_commands() -> None:
    false_accepts: list[str] = []
    total = 0
    for snr in (None, 10.0):
        for voice in (speech.PIPER, speech.KLATT_US):
            stream, clips = speech.session([(t, None) for t in DISTRACTORS], voice, snr, seed=3)
            result = speech.run(make(), stream, clips)
            total += len(clips)
            false_accepts += [
                f"{voice.label}/{snr}: {clip.text!r}->{h.text!r}"
                for clip in clips
                for h, _, _ in result.for_clip(clip)
            ]
    rate = len(false_accepts) / total
    print(f"REPORT distractor false accepts {len(false_accepts)}/{total} = {rate:.2f}")
    for line in false_accepts:
        print("  ", line)
    # A measured budget, not a goal (about 1 per hour): measured 0.19 (0.24 before the
    # rework); the score test and the short phrase list do most of the work.
    assert rate <= 0.22
