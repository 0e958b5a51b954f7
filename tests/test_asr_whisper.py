"""Tests for the whisper recognizer (assistant.asr_whisper).

The unit tests feed tones through the real endpointer with a fake transcriber and a fake
fast recognizer; the recognition tests stream synthesized sessions through whisper tiny.en
and pocketsphinx, as the app builds them, and print what they measure (REPORT lines).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import speech
from fakes import QueuedRecognizer

from assistant.asr_whisper import RecentAudio, WhisperRecognizer, WhisperSettings
from assistant.endpoint import EndpointSettings
from assistant.engines import make_recognizer
from assistant.grammar import default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE, Heard
from assistant.verify import (
    FloatAudio,
    Transcript,
    WhisperTranscriber,
    default_model_dir,
    pain_words,
)

GRAMMAR = load_grammar(default_grammar_path("en"))


class FakeTranscriber:
    """Says the next of ``texts`` for each segment and keeps the segments it was given."""

    def __init__(self, *texts: str | Transcript) -> None:
        self.texts = [t if isinstance(t, Transcript) else Transcript(t, -0.2, 0.01) for t in texts]
        self.calls: list[FloatAudio] = []

    def load(self) -> None:
        pass

    def transcribe(self, audio: FloatAudio) -> Transcript:
        self.calls.append(audio)
        return self.texts.pop(0)


def fast_recognizer(*heard: Heard) -> QueuedRecognizer:
    """The fast recognizer: reports each ``Heard`` 0.1 s after its end."""
    return QueuedRecognizer(list(heard), delay=0.1, name="fast")


def bursts(*seconds: float, gap: float = 1.5) -> speech.Audio:
    """Warbling tones of these lengths (speech to the energy endpointer: syllables at 3 Hz,
    so its noise floor does not absorb them), ``gap`` s apart, in hiss."""
    parts: list[speech.Audio] = [speech.silence(1.0)]
    for length in seconds:
        t = np.arange(round(length * SAMPLE_RATE)) / SAMPLE_RATE
        envelope = 0.15 + 0.85 * np.abs(np.sin(np.pi * 3 * t + np.pi / 2))
        tone = 8000 * envelope * np.sin(2 * np.pi * 300 * t)
        parts += [tone.astype(np.int16), speech.silence(gap)]
    audio = np.concatenate(parts).astype(np.float64)
    audio += speech.noise("white", len(audio) / SAMPLE_RATE, 1)[: len(audio)] * 30
    return np.clip(audio, -32768, 32767).astype(np.int16)


def feed(recognizer: WhisperRecognizer, audio: speech.Audio) -> list[Heard]:
    heard: list[Heard] = []
    for chunk in speech.chunks(audio, 0.1):
        heard += recognizer.accept(chunk)
    return heard + recognizer.flush()


def make(*texts: str | Transcript, fast: QueuedRecognizer | None = None, **settings: object):  # type: ignore[no-untyped-def]
    transcriber = FakeTranscriber(*texts)
    recognizer = WhisperRecognizer(
        GRAMMAR,
        settings=WhisperSettings(**settings),  # type: ignore[arg-type]
        transcriber=transcriber,
        fast=fast,
    )
    return recognizer, transcriber


def test_each_segment_is_transcribed_and_its_command_found() -> None:
    recognizer, transcriber = make("Next one, please.", "Can I have a longer rest?")
    heard = feed(recognizer, bursts(0.8, 1.2))
    assert [h.command for h in heard] == ["next", "longer_rest"]
    assert heard[0].text == "next one please"
    assert 0.9 < heard[0].start < 1.1 and 1.7 < heard[0].end < 1.9
    # Whisper is given the speech with the endpointer's pre-roll and hangover around it.
    assert len(transcriber.calls) == 2
    assert 0.8 + 0.5 <= len(transcriber.calls[0]) / SAMPLE_RATE <= 0.8 + 0.7
    assert recognizer.name == "whisper"


def test_ordinary_talk_fires_nothing_and_from_a_sentence_only_pain_is_taken() -> None:
    recognizer, transcriber = make(
        "The weather is nice today.",
        "I'll see you next week when we can go to the shops again.",
        "Thank you.",
        "Next week, we can go for a longer rest by the sea.",
        "I have a sharp pain in my back when I lift my leg.",
        max_duration=1.2,
    )
    heard = feed(recognizer, bursts(1.0, 1.0, 0.6, 1.5, 1.5))
    # 1.5 s of speech is more than max_duration: a sentence, from which only pain is taken.
    assert [h.command for h in heard] == ["pain"]
    assert len(transcriber.calls) == 5
    assert [d.reason for d in recognizer.decisions] == [
        "no command in it",
        "talk, not a command (12 other words)",
        "no command in it",
        "a sentence: only pain is taken from one",
        "accepted",
    ]


def test_sentences_cut_off_by_the_endpointer_are_decoded_for_pain() -> None:
    recognizer, transcriber = make("Ouch, my back really hurts, I have to stop now.")
    endpoint = EndpointSettings(max_segment=2.0)
    recognizer = WhisperRecognizer(
        GRAMMAR, settings=recognizer.settings, endpoint=endpoint, transcriber=transcriber
    )
    heard = feed(recognizer, bursts(3.0))
    assert [h.command for h in heard] == ["pain"]
    assert len(transcriber.calls) == 1
    assert len(transcriber.calls[0]) / SAMPLE_RATE < 3.0, "the first 2 s (with pre-roll)"


def test_without_long_for_safety_sentences_are_not_decoded() -> None:
    recognizer, transcriber = make("Thank you.", max_duration=1.2, long_for_safety=False)
    assert feed(recognizer, bursts(0.6, 1.5)) == []
    assert len(transcriber.calls) == 1
    assert [d.reason for d in recognizer.decisions] == ["no command in it", "too long (1.44 s)"]


def test_pain_counts_anywhere_in_what_is_said() -> None:
    recognizer, _ = make("Oh, I think my back hurts a lot when I lift it up like this.")
    assert [h.command for h in feed(recognizer, bursts(1.5))] == ["pain"]


def test_noise_and_the_prompt_echoed_are_refused() -> None:
    recognizer, _ = make(
        Transcript("Next.", avg_logprob=-1.4, no_speech_prob=0.8),
        "Commands: pause, wait, next.",
        "",
        Transcript("Next.", avg_logprob=-0.3, no_speech_prob=0.8),
    )
    heard = feed(recognizer, bursts(0.5, 0.5, 0.5, 0.5))
    assert [d.reason for d in recognizer.decisions][:3] == [
        "noise (no speech 0.80)",
        "the prompt echoed",
        "nothing heard",
    ]
    # Whisper unsure there is speech, but sure of the words: accepted.
    assert [h.command for h in heard] == ["next"]


def test_a_command_whisper_is_unsure_of_is_refused_but_pain_never_is() -> None:
    unsure, fair = Transcript("Next.", avg_logprob=-1.3), Transcript("Next.", avg_logprob=-1.0)
    recognizer, _ = make(unsure, fair, Transcript("It hurts.", avg_logprob=-1.6))
    heard = feed(recognizer, bursts(0.5, 0.5, 0.5))
    assert [h.command for h in heard] == ["next", "pain"]
    assert [d.reason for d in recognizer.decisions] == [
        "unsure of the command (mean log probability -1.30)",
        "accepted",
        "accepted",
    ]
    recognizer, _ = make(unsure, min_command_logprob=-1.5)
    assert [h.command for h in feed(recognizer, bursts(0.5))] == ["next"]


def nearly(text: str, word: str, figure: float) -> Transcript:
    """Whisper wrote ``text`` with ``word`` close behind, at log probability ``figure``."""
    return Transcript(text, -0.3, 0.01, nearest=(word, figure))


def test_a_pain_word_whisper_nearly_wrote_is_pain() -> None:
    recognizer, _ = make(
        nearly("Out.", "ouch", -1.6),
        nearly("Out.", "ouch", -2.4),  # not near enough
        nearly("Oh.", "pain", -1.9),  # fillers only, but nearly pain
        nearly("Next.", "hurts", -1.0),  # another command: pain wins
        Transcript("Next.", -0.3, 0.01),
    )
    heard = feed(recognizer, bursts(0.5, 0.5, 0.5, 0.5, 0.5))
    assert [(h.command, h.text) for h in heard] == [
        ("pain", "out"),
        ("pain", "oh"),
        ("pain", "next"),
        ("next", "next"),
    ]
    assert [d.reason for d in recognizer.decisions] == [
        "nearly said pain ('ouch' at -1.60; no command in it)",
        "no command in it",
        "nearly said pain ('pain' at -1.90; fillers only)",
        "nearly said pain ('hurts' at -1.00; accepted)",
        "accepted",
    ]
    assert [d.command for d in recognizer.decisions] == ["pain", None, "pain", "pain", "next"]


def test_nearly_pain_is_not_taken_from_a_sentence_nor_when_off() -> None:
    recognizer, _ = make(nearly("I went out to the shops.", "ouch", -0.5), max_duration=1.2)
    assert feed(recognizer, bursts(1.5)) == []
    assert recognizer.decisions[-1].reason == "no command in it"
    recognizer, _ = make(nearly("Out.", "ouch", -0.5), nearly_pain=None)
    assert feed(recognizer, bursts(0.5)) == []
    recognizer, _ = make(nearly("Out.", "ouch", -2.4), nearly_pain=-2.5)
    assert [h.command for h in feed(recognizer, bursts(0.5))] == ["pain"]


def test_nearly_pain_is_not_taken_from_a_reading_of_many_words() -> None:
    recognizer, _ = make(
        nearly("She had a little bit in case, had a little bit.", "pain", -1.0),
        nearly("It's up, it's up, it's up, it's up,", "hurt", -1.6),
        nearly("Stop it, it's got the third.", "hurts", -0.9),  # six words: pain
    )
    heard = feed(recognizer, bursts(1.0, 1.0, 1.0))
    assert [h.command for h in heard] == ["pain"]
    assert [d.command for d in recognizer.decisions] == [None, None, "pain"]
    recognizer, _ = make(nearly("Two roads that urged any yellow wood.", "hurt", -1.6))
    assert feed(recognizer, bursts(1.0)) == []
    recognizer, _ = make(
        nearly("Two roads that urged any yellow wood.", "hurt", -1.6), nearly_pain_max_words=7
    )
    assert [h.command for h in feed(recognizer, bursts(1.0))] == ["pain"]


def test_a_word_nearly_written_that_is_not_pain_is_nothing() -> None:
    # Another transcriber may watch other words: only the grammar's pain counts.
    recognizer, _ = make(nearly("Out.", "next", -0.5), nearly("Out.", "xylophone", -0.5))
    assert feed(recognizer, bursts(0.5, 0.5)) == []


def test_nearly_pain_after_other_talk_is_pain_and_counts_once() -> None:
    recognizer, _ = make("So when the bell rang,", nearly("Out.", "ouch", -1.0))
    heard = feed(recognizer, bursts(1.0, 0.6, gap=0.6))
    assert [h.command for h in heard] == ["pain"]
    # The fast recognizer heard the same pain first: reported once.
    fast = fast_recognizer(Heard("pain", "ouch", 1.0, 1.5))
    recognizer, _ = make(nearly("Out.", "ouch", -1.0), fast=fast)
    assert [h.command for h in feed(recognizer, bursts(0.5))] == ["pain"]


def test_unsure_is_judged_last_on_the_reading_that_decided() -> None:
    # Straight after talk, a command alone and unsure is still judged with the talk.
    recognizer, transcriber = make(
        "So when the bell rang,",
        Transcript("Let's start.", avg_logprob=-1.4),
        "So when the bell rang, let's start.",
    )
    assert feed(recognizer, bursts(1.0, 0.6, gap=0.6)) == []
    assert len(transcriber.calls) == 3
    assert recognizer.decisions[1].reason.startswith("talk, not a command (0.60 s after")
    # Accepted with the talk before it, but unsure of the two together: refused.
    recognizer, _ = make("I want", "to stop.", Transcript("I want to stop.", avg_logprob=-1.2))
    assert feed(recognizer, bursts(0.5, 0.5, gap=0.4)) == []
    assert recognizer.decisions[-1].reason == "unsure of the command (mean log probability -1.20)"


def test_a_command_straight_after_other_talk_is_judged_with_that_talk() -> None:
    # Speech at 1.0-2.0 s, then 0.6 s later at 2.6-3.2 s; after 2 s of quiet, the same.
    audio = np.concatenate([bursts(1.0, 0.6, gap=0.6), bursts(0.6, 0.6, gap=0.6)])
    recognizer, transcriber = make(
        "So when the bell rang,",
        "let's start.",
        "So when the bell rang, let's start.",  # the two decoded together
        "Um, okay.",
        "Let's start.",
    )
    # Fillers are not talk: the command after "um, okay" alone is acted on.
    assert [h.command for h in feed(recognizer, audio)] == ["ready"]
    assert [d.reason for d in recognizer.decisions] == [
        "no command in it",
        "talk, not a command (0.60 s after other talk; together: 4 other words)",
        "fillers only",
        "accepted",
    ]
    assert recognizer.decisions[1].text == "So when the bell rang, let's start."
    # Whisper was given the talk and the command as one piece of audio, the pause between
    # them once (1.0 s and 0.6 s of speech, 0.6 s apart, with the pre-roll and hangover).
    joined = len(transcriber.calls[2]) / SAMPLE_RATE
    assert 1.0 + 0.6 + 0.6 + 0.4 <= joined <= 1.0 + 0.6 + 0.6 + 0.7, joined


def test_a_command_said_with_a_pause_in_it_is_still_heard() -> None:
    recognizer, _ = make("I want", "to stop.", "I want to stop.")
    heard = feed(recognizer, bursts(0.5, 0.5, gap=0.4))
    assert [h.command for h in heard] == ["stop"]
    assert heard[0].text == "i want to stop"
    assert recognizer.decisions[-1].reason == "accepted with the talk 0.40 s before it"


def test_talk_in_the_coachs_own_voice_does_not_hold_a_command_back() -> None:
    recognizer, transcriber = make("Lift your hips, slowly,", "Pause.")
    recognizer.when_coach_talks(lambda start, end: end < 2.2)
    assert [h.command for h in feed(recognizer, bursts(1.0, 0.6, gap=0.6))] == ["pause"]
    assert len(transcriber.calls) == 2, "judged alone"
    recognizer, transcriber = make("Lift your hips, slowly,", "Pause.", command_quiet_before=0)
    assert [h.command for h in feed(recognizer, bursts(1.0, 0.6, gap=0.6))] == ["pause"]
    assert len(transcriber.calls) == 2, "judged alone"


def test_pain_straight_after_other_talk_is_still_pain() -> None:
    recognizer, _ = make("So when the bell rang,", "Ouch!")
    assert [h.command for h in feed(recognizer, bursts(1.0, 0.6, gap=0.6))] == ["pain"]


def test_clicks_are_not_decoded() -> None:
    recognizer, transcriber = make()
    assert feed(recognizer, bursts(0.06, 0.08)) == []
    assert transcriber.calls == []


def test_a_word_the_endpointer_hears_only_the_peak_of_is_decoded() -> None:
    # In noise only the loudest 0.1-0.15 s of a short "it hurts" or "next" rises above
    # the endpointer's threshold; whisper is given it with pre-roll and hangover around.
    recognizer, transcriber = make("It hurts.", "Next.")
    heard = feed(recognizer, bursts(0.12, 0.11))
    assert [h.command for h in heard] == ["pain", "next"]
    assert len(transcriber.calls) == 2


def test_fast_pain_is_reported_at_once_and_not_again_by_whisper() -> None:
    fast = fast_recognizer(Heard("pain", "it hurts", 1.0, 1.6), Heard("next", "next", 3.1, 3.5))
    recognizer, _ = make("It hurts.", "Next.", fast=fast)
    audio = bursts(0.6, 0.5)
    heard: list[tuple[Heard, float]] = []
    for index, chunk in enumerate(speech.chunks(audio, 0.1)):
        heard += [(h, (index + 1) * 0.1) for h in recognizer.accept(chunk)]
    heard += [(h, len(audio) / SAMPLE_RATE) for h in recognizer.flush()]
    assert [h.text for h, _ in heard] == ["it hurts", "next"]
    pain_at, next_at = heard[0][1], heard[1][1]
    # The fast recognizer's pain came before the endpointer's hangover had even run out;
    # its "next" was ignored (only safety commands are taken from it) and whisper's used.
    assert pain_at <= 1.8 and next_at >= 3.5 + 0.3
    assert recognizer.name == "whisper+fast"
    recognizer.reset()
    assert fast.resets == 1


def test_early_pain_does_not_wait_for_whisper_decoding_in_the_same_call() -> None:
    audio = bursts(0.6)
    chunks = list(speech.chunks(audio, 0.1))
    # Without the fast recognizer: the call in which the segment closes decodes it.
    plain, transcriber = make("Next.")
    closes = next(i for i, c in enumerate(chunks) if plain.accept(c) or transcriber.calls)
    # The fast recognizer's pain ready in that very call.
    fast = fast_recognizer(Heard("pain", "it hurts", 1.0, (closes + 1) * 0.1 - 0.15))
    recognizer, transcriber = make("It hurts.", fast=fast)
    calls: list[tuple[list[str], int]] = []
    for chunk in chunks:
        before = len(transcriber.calls)
        calls.append(
            ([h.command for h in recognizer.accept(chunk)], len(transcriber.calls) - before)
        )
    assert calls[closes] == (["pain"], 0), "pain returned at once, whisper not run in that call"
    assert calls[closes + 1] == ([], 1), "whisper decodes the segment next, its pain a repeat"
    assert all(heard == [] for heard, _ in calls[closes + 1 :])


def test_whisper_pain_is_reported_when_the_fast_recognizer_missed_it() -> None:
    fast = fast_recognizer(Heard("pain", "pain", 3.1, 3.5))
    recognizer, _ = make("Ouch, that hurts.", "Pain.", fast=fast)
    heard = feed(recognizer, bursts(0.6, 0.5))
    assert [(h.command, h.text) for h in heard] == [("pain", "ouch that hurts"), ("pain", "pain")]


def test_fast_pain_over_the_coach_is_left_to_whisper() -> None:
    # The fast recognizer hears "pain" in the coach's voice (1.0-1.6 s) and in the user's
    # after the coach fell silent (3.1-3.5 s); whisper hears the first segment as the
    # coach's sentence and the second as pain.
    fast = fast_recognizer(Heard("pain", "pain", 1.0, 1.6), Heard("pain", "i feel pain", 3.1, 3.5))
    recognizer, _ = make("and keep your back straight.", "Pain.", fast=fast)
    asked: list[tuple[float, float]] = []

    def talking(start: float, end: float) -> bool:
        asked.append((start, end))
        return end < 2.5

    recognizer.when_coach_talks(talking)
    heard: list[tuple[Heard, float]] = []
    audio = bursts(0.6, 0.5)
    for index, chunk in enumerate(speech.chunks(audio, 0.1)):
        heard += [(h, (index + 1) * 0.1) for h in recognizer.accept(chunk)]
    assert [h.text for h, _ in heard] == ["i feel pain"]
    assert heard[0][1] <= 3.5 + 0.2, "the pain after the coach fell silent came at once"
    assert [h.text for h in recognizer.held] == ["pain"]
    assert asked == [(1.0, 1.6), (3.1, 3.5)]


def test_whisper_hears_pain_the_fast_recognizer_heard_over_the_coach() -> None:
    fast = fast_recognizer(Heard("pain", "pain", 1.0, 1.6))
    recognizer, _ = make("Stop, it hurts!", fast=fast)
    recognizer.when_coach_talks(lambda start, end: True)
    heard: list[tuple[Heard, float]] = []
    for index, chunk in enumerate(speech.chunks(bursts(0.6), 0.1)):
        heard += [(h, (index + 1) * 0.1) for h in recognizer.accept(chunk)]
    assert [(h.command, h.text) for h, _ in heard] == [("pain", "stop it hurts")]
    assert heard[0][1] >= 1.6 + 0.3, "whisper's, after the endpointer closed the segment"


def test_fast_pain_is_reported_at_once_when_asking_about_the_coach_fails() -> None:
    fast = fast_recognizer(Heard("pain", "pain", 1.0, 1.6))
    recognizer, _ = make("Pain.", fast=fast)

    def broken(start: float, end: float) -> bool:
        raise RuntimeError("the echo guard is broken")

    recognizer.when_coach_talks(broken)
    heard: list[tuple[str, float]] = []
    for index, chunk in enumerate(speech.chunks(bursts(0.6), 0.1)):
        heard += [(h.text, (index + 1) * 0.1) for h in recognizer.accept(chunk)]
    assert [text for text, _ in heard] == ["pain"]
    assert heard[0][1] <= 1.8, "at once, not after whisper's decoding"


def test_fast_pain_just_after_other_speech_is_left_to_whisper() -> None:
    # Speech at 1.0-1.8 s, then 0.6 s later at 2.4-3.0 s, then 1.6 s later at 4.6-5.1 s.
    audio = np.concatenate([bursts(0.8, 0.6, gap=0.6), bursts(0.5)])
    fast = fast_recognizer(Heard("pain", "it hurts", 2.4, 3.0), Heard("pain", "pain", 4.6, 5.1))
    recognizer, _ = make("Please, sir,", "I want some more.", "Ouch!", fast=fast)
    heard: list[tuple[str, float]] = []
    for index, chunk in enumerate(speech.chunks(audio, 0.1)):
        heard += [(h.text, (index + 1) * 0.1) for h in recognizer.accept(chunk)]
    assert [text for text, _ in heard] == ["pain"]
    assert heard[0][1] <= 5.1 + 0.2, "after a second and more of quiet: at once"
    assert [h.text for h in recognizer.held] == ["it hurts"]
    assert [d.reason for d in recognizer.decisions][:2] == ["no command in it"] * 2


def test_fast_over_coach_reports_the_fast_pain_while_the_coach_talks_too() -> None:
    fast = fast_recognizer(Heard("pain", "pain", 1.0, 1.6))
    recognizer, _ = make("and keep your back straight.", fast=fast, fast_over_coach=True)
    recognizer.when_coach_talks(lambda start, end: True)
    assert [h.text for h in feed(recognizer, bursts(0.6))] == ["pain"]
    assert list(recognizer.held) == []


class FakePainCheck:
    """Gives ``score`` (or raises ``error``) and keeps what it was asked: the audio's length
    and where in it the speech ended, in seconds."""

    def __init__(self, score: float = 0.1, error: Exception | None = None) -> None:
        self.result = score
        self.error = error
        self.asked: list[tuple[float, float]] = []

    def score(self, audio: speech.Audio, speech_end: float) -> float:
        self.asked.append((len(audio) / SAMPLE_RATE, speech_end))
        if self.error is not None:
            raise self.error
        return self.result


FAST_PAIN = Heard("pain", "i feel pain", 1.0, 1.6)


def doubted(  # type: ignore[no-untyped-def]
    *texts: str | Transcript,
    score: float = 0.1,
    heard: Heard = FAST_PAIN,
    **settings: object,
):
    """A recognizer whose fast recognizer hears pain (``heard``, by default at 1.0-1.6 s),
    and its pain check."""
    fast = fast_recognizer(heard)
    check = FakePainCheck(score)
    recognizer = WhisperRecognizer(
        GRAMMAR,
        settings=WhisperSettings(**settings),  # type: ignore[arg-type]
        transcriber=FakeTranscriber(*texts),
        fast=fast,
        pain_check=check,
    )
    return recognizer, check


def timed(recognizer: WhisperRecognizer, audio: speech.Audio) -> list[tuple[str, float]]:
    """(command, seconds of audio fed when it was returned) for each command heard."""
    heard: list[tuple[str, float]] = []
    for index, chunk in enumerate(speech.chunks(audio, 0.1)):
        heard += [(h.command, (index + 1) * 0.1) for h in recognizer.accept(chunk)]
    return heard + [(h.command, len(audio) / SAMPLE_RATE) for h in recognizer.flush()]


def test_a_fast_pain_the_pain_check_believes_is_reported_at_once() -> None:
    recognizer, check = doubted("It hurts.", score=0.9)
    [(command, at)] = timed(recognizer, bursts(0.6))
    assert command == "pain" and at <= 1.8
    # The check was given the audio up to then, and where in it the pain ended.
    [(seconds, end)] = check.asked
    assert seconds == pytest.approx(at) and end == pytest.approx(1.6)
    assert list(recognizer.doubts) == []


def test_a_doubted_pain_is_overruled_by_whisper_reading_talk_confidently() -> None:
    recognizer, _ = doubted(Transcript("I think so.", -0.2, 0.01))
    assert timed(recognizer, bursts(0.6)) == []
    [doubt] = recognizer.doubts
    assert doubt.score == 0.1 and doubt.outcome.startswith("overruled by whisper: 'I think so.'")


def test_a_doubted_pain_is_not_overruled_by_whisper_reading_the_speech_beside_it() -> None:
    # The fast recognizer placed its pain just after the speech whisper read as talk: that
    # reading is of other speech, so it neither drops the pain nor settles it. (With the
    # rule for pain just after other speech off: that would leave this pain to whisper.)
    recognizer, _ = doubted(
        Transcript("I think so.", -0.2, 0.01),
        heard=Heard("pain", "i feel pain", 1.75, 2.05),
        fast_quiet_before=0,
    )
    audio = np.concatenate([bursts(0.6), np.zeros(3 * SAMPLE_RATE, np.int16)])
    [(command, at)] = timed(recognizer, audio)
    assert command == "pain" and 2.05 + 2.0 <= at < 2.05 + 2.0 + 0.1  # on the next chunk
    assert [d.text for d in recognizer.decisions] == ["I think so."]
    assert recognizer.doubts[0].outcome == "reported: whisper did not decide"


def test_a_doubted_pain_is_reported_when_whisper_is_unsure() -> None:
    recognizer, _ = doubted(Transcript("Hey.", -0.9, 0.01))
    heard = timed(recognizer, bursts(0.6))
    # Reported when whisper has decided (the segment closes after the hangover), not at once.
    assert [c for c, _ in heard] == ["pain"] and 1.8 < heard[0][1] < 2.6
    assert recognizer.doubts[0].outcome == "reported: whisper no command in it"


def test_a_doubted_pain_whisper_writes_only_fillers_for_is_reported() -> None:
    # "ow" comes out of whisper as "Oh." with confidence: that does not overrule pain.
    recognizer, _ = doubted(Transcript("Oh.", -0.1, 0.01))
    assert [c for c, _ in timed(recognizer, bursts(0.6))] == ["pain"]


def test_a_doubted_pain_whisper_hears_too_is_reported_once() -> None:
    recognizer, _ = doubted(Transcript("It hurts.", -0.2, 0.01))
    assert [c for c, _ in timed(recognizer, bursts(0.6))] == ["pain"]
    assert recognizer.doubts[0].outcome == "whisper heard pain too"


def test_a_doubted_pain_is_reported_when_whisper_has_not_decided_in_time() -> None:
    # Nothing the energy endpointer took for speech (a quiet "pain"): whisper never decides.
    recognizer, _ = doubted()
    [(command, at)] = timed(recognizer, np.zeros(5 * SAMPLE_RATE, np.int16))
    assert command == "pain" and at == pytest.approx(1.6 + 2.0)
    assert recognizer.doubts[0].outcome == "reported: whisper did not decide"


def test_a_doubted_pain_is_reported_at_the_end_of_the_stream() -> None:
    recognizer, _ = doubted(doubt_seconds=60.0)
    fed = [recognizer.accept(chunk) for chunk in speech.chunks(np.zeros(2 * SAMPLE_RATE, np.int16))]
    assert all(heard == [] for heard in fed)
    assert [h.command for h in recognizer.flush()] == ["pain"]


def test_a_doubted_pain_is_reported_on_the_next_chunk_when_whisper_fails() -> None:
    recognizer, _ = doubted()  # the fake transcriber has nothing to say: it raises
    reported: list[tuple[str, int]] = []
    failures = 0
    for index, chunk in enumerate(speech.chunks(bursts(0.6), 0.1)):
        try:
            reported += [(h.command, index) for h in recognizer.accept(chunk)]
        except IndexError:
            failures += 1
            failed_at = index
            recognizer.reset()  # as the listener does
    assert failures == 1 and reported == [("pain", failed_at + 1)]


def test_a_failing_pain_check_does_not_hold_the_pain_back() -> None:
    recognizer, check = doubted(Transcript("I think so.", -0.2, 0.01))
    check.error = RuntimeError("onnxruntime fell over")
    [(command, at)] = timed(recognizer, bursts(0.6))
    assert command == "pain" and at <= 1.8


def test_with_pain_check_below_zero_nothing_is_doubted() -> None:
    recognizer, _ = doubted(Transcript("I think so.", -0.2, 0.01), pain_check_below=0.0)
    [(command, at)] = timed(recognizer, bursts(0.6))
    assert command == "pain" and at <= 1.8


def test_recent_audio_keeps_the_latest_seconds_and_knows_where_they_start() -> None:
    recent = RecentAudio(1.0)
    for chunk in speech.chunks((np.arange(3 * SAMPLE_RATE) % 1000).astype(np.int16), 0.1):
        recent.add(chunk)
    audio, start = recent.audio()
    assert 1.0 <= len(audio) / SAMPLE_RATE < 1.1 and start == pytest.approx(
        3.0 - len(audio) / SAMPLE_RATE
    )
    assert audio[-1] == (3 * SAMPLE_RATE - 1) % 1000


def test_without_fast_safety_the_fast_recognizer_is_not_used() -> None:
    fast = fast_recognizer(Heard("pain", "pain", 1.0, 1.6))
    recognizer, _ = make("Next.", fast=fast, fast_safety=False)
    assert [h.command for h in feed(recognizer, bursts(0.6))] == ["next"]
    assert fast.fed == 0


# --- real whisper -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def whisper() -> Iterator[WhisperRecognizer]:
    pytest.importorskip("faster_whisper")
    recognizer = make_recognizer("whisper", None, GRAMMAR)
    assert isinstance(recognizer, WhisperRecognizer)
    yield recognizer


def fresh(whisper: WhisperRecognizer) -> WhisperRecognizer:
    """A recognizer sharing the loaded model, with its own endpointer and fast recognizer."""
    return WhisperRecognizer(
        GRAMMAR,
        transcriber=whisper.transcriber,
        fast=make_recognizer("pocketsphinx", None, GRAMMAR),
    )


def test_another_whisper_model_folder_is_used(whisper: WhisperRecognizer) -> None:
    folder = default_model_dir()
    other = WhisperRecognizer(GRAMMAR, settings=WhisperSettings(model_dir=str(folder)))
    assert isinstance(other.transcriber, WhisperTranscriber)
    assert other.transcriber.model_dir == folder
    heard = feed(other, speech.pad(speech.synthesize("next one please", speech.PIPER)))
    assert [h.command for h in heard] == ["next"]


def test_whisper_watches_the_grammars_pain_words_unless_told_not_to(
    whisper: WhisperRecognizer,
) -> None:
    assert isinstance(whisper.transcriber, WhisperTranscriber)
    assert set(whisper.transcriber.watch) == set(pain_words(GRAMMAR))
    assert whisper.transcriber.watch_floor == WhisperSettings().nearly_pain
    off = WhisperRecognizer(GRAMMAR, settings=WhisperSettings(nearly_pain=None))
    assert isinstance(off.transcriber, WhisperTranscriber)
    assert off.transcriber.watch == ()


def test_real_whisper_hears_commands_in_three_voices_clean_and_in_noise(
    whisper: WhisperRecognizer,
) -> None:
    texts = [(command.phrases[0], command.name) for command in GRAMMAR.commands]
    report: dict[str, float] = {}
    for snr in (None, 10.0):
        correct = total = 0
        for voice in (speech.PIPER, speech.KLATT_US, speech.F2_US_FAST_HIGH):
            stream, clips = speech.session(texts, voice, snr)
            result = speech.run(fresh(whisper), stream, clips)
            misses = []
            for clip in clips:
                got = [h.command for h, _, _ in result.for_clip(clip)]
                total += 1
                if got == [clip.expected]:
                    correct += 1
                else:
                    misses.append(f"{clip.text!r}->{got}")
            print(f"{voice.label} snr={snr}: misses {misses}")
        report["clean" if snr is None else f"{snr:g}dB"] = correct / total
    print(f"REPORT whisper commands accuracy {report}")
    # Regression floors a little under what was measured when this was written (0.88-0.90
    # clean, 0.71-0.75 at 10 dB: "softer" is heard as "stop her"), not the product's goal of
    # 97%; pocketsphinx alone, in test_asr_pocketsphinx, 0.74 and 0.60.
    assert report["clean"] >= 0.80
    assert report["10dB"] >= 0.62


def test_real_whisper_hears_pain_in_every_voice_and_talk_fires_little(
    whisper: WhisperRecognizer,
) -> None:
    pain = [(p, "pain") for p in ("it hurts", "ouch", "my back hurts", "i'm in pain")]
    heard = total = 0
    missed: list[str] = []
    for voice in speech.VOICES:
        stream, clips = speech.session(pain, voice, 10.0)
        result = speech.run(fresh(whisper), stream, clips)
        for clip in clips:
            total += 1
            if "pain" in [h.command for h, _, _ in result.for_clip(clip)]:
                heard += 1
            else:
                missed.append(f"{voice.label}: {clip.text!r}")
    fired: list[str] = []
    count = 0
    for voice in (speech.PIPER, speech.KLATT_US):
        talk = [(t, None) for t in speech.DISTRACTORS if GRAMMAR.match(t) is None]
        stream, clips = speech.session(talk, voice, 10.0)
        result = speech.run(fresh(whisper), stream, clips)
        count += len(clips)
        fired += [
            f"{clip.text!r}->{h.text!r}" for clip in clips for h, _, _ in result.for_clip(clip)
        ]
    print(f"REPORT whisper pain {heard}/{total} at 10 dB; distractors fired {len(fired)}/{count}")
    for line in missed + fired:
        print("  ", line)
    # Measured 13 of 16 (the misses: "ouch" heard as "out" or "oh"; pocketsphinx alone, in
    # test_asr_pocketsphinx, hears 0.91 of its pain phrases at 10 dB, on fewer voices).
    assert heard >= total - 4
    # Measured 5 of 86, every one the pocketsphinx pain fast path ("i feel pain" for "Okay.");
    # whisper itself fired on none.
    assert len(fired) <= count // 8


PAIN_SENTENCES = (
    "Oh no, I think I have hurt my back, it really hurts.",
    "Stop please, my hip is really painful right now.",
    "Ouch, ouch, that one really hurts my lower back.",
    "I have a sharp pain in my back when I lift my leg.",
    "Wait, something hurts in my spine, I need to stop.",
    "My back is hurting a lot, I don't think I can go on.",
)
"""Pain told in a sentence, as people in pain tell it: 3-4 s said slowly."""


def test_real_whisper_hears_pain_told_in_a_sentence(whisper: WhisperRecognizer) -> None:
    sentences = [(text, "pain") for text in PAIN_SENTENCES]
    heard = total = alone = 0
    missed: list[str] = []
    for voice in (speech.PIPER, speech.KLATT_US, speech.KLATT_US_SLOW_LOW):
        stream, clips = speech.session(sentences, voice, None)
        result = speech.run(fresh(whisper), stream, clips)
        by_pocketsphinx = speech.run(make_recognizer("pocketsphinx", None, GRAMMAR), stream, clips)
        for clip in clips:
            total += 1
            alone += "pain" in [h.command for h, _, _ in by_pocketsphinx.for_clip(clip)]
            if "pain" in [h.command for h, _, _ in result.for_clip(clip)]:
                heard += 1
            else:
                missed.append(f"{voice.label}: {clip.text!r}")
    print(
        f"REPORT whisper pain told in a sentence {heard}/{total} (pocketsphinx alone "
        f"{alone}/{total}); missed {missed}"
    )
    # Measured 16 of 18 ("my back is hurting" heard as "burning" in both espeak voices);
    # 8 of 18 before sentences were decoded for pain (the espeak voices' sentences last
    # over 3 s, and were not decoded at all).
    assert heard >= total - 4


@pytest.mark.parametrize(
    ("said", "command"),
    [
        ("Next one, please.", "next"),
        ("Okay, resume. Resume.", "resume"),
        ("Can we take a break?", "pause"),
        ("Then I'm ready.", "ready"),
        ("All children, next one, grow up.", None),
        ("Pride relates more to louder opinion.", None),
        ("Yes, end of time.", None),
    ],
)
def test_a_command_must_be_most_of_what_was_said(said: str, command: str | None) -> None:
    recognizer, _ = make(said)
    assert [h.command for h in feed(recognizer, bursts(0.8))] == ([command] if command else [])
