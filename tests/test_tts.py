"""The spoken voice: rendering in a helper process, settings, the file sink, real playback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from pulse import PulseAudio, pulse_audio

from assistant.audio_out import DeviceOutput, FileOutput, resample
from assistant.tts import (
    RATE_MAX,
    RATE_MIN,
    SETTINGS_FILE,
    Audio,
    HelperRenderer,
    RenderError,
    RenderTimeout,
    VoiceSettings,
    VoiceSpeaker,
    adjusted,
    load_voice_settings,
    make_speaker,
    prepare,
    split_sentences,
    trim_silence,
    wav_complete,
)

__all__ = ["pulse_audio"]  # the fixture, imported for pytest

Floats = npt.NDArray[np.float32]

SENTENCES = [
    "Lie on your back with your knees bent.",
    "Breathe in.",
    "Now slowly lift your hips off the floor, and hold for five seconds.",
    "Lie on your back with your knees bent.",
    "Rest.",
]


@pytest.fixture(scope="module", params=["espeak", "piper"])
def renderer(request: pytest.FixtureRequest) -> Iterator[HelperRenderer]:
    helper = HelperRenderer(str(request.param))
    started = time.monotonic()
    helper.start()
    print(f"\n{request.param} helper started in {time.monotonic() - started:.3f} s")
    yield helper
    helper.close()


@pytest.fixture(scope="module")
def espeak() -> Iterator[HelperRenderer]:
    helper = HelperRenderer("espeak")
    yield helper
    helper.close()


def _spoken_seconds(audio: Audio) -> float:
    return trim_silence(audio.samples, audio.rate, margin=0.0).size / audio.rate


def _rms(samples: Floats) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def test_sentences_are_split_with_their_punctuation() -> None:
    assert split_sentences("Lift. Hold it; breathe!\nRest?  ") == [
        "Lift.",
        "Hold it;",
        "breathe!",
        "Rest?",
    ]
    assert split_sentences("  ") == []


def test_wav_complete_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(22_050)
        file.writeframes(b"\x01\x00" * 1000)
    assert wav_complete(path)
    path.write_bytes(path.read_bytes()[:-10])
    assert not wav_complete(path)
    assert not wav_complete(tmp_path / "missing.wav")


def test_many_sentences_in_a_row_render_completely(renderer: HelperRenderer) -> None:
    pid = renderer.pid
    lengths: dict[str, list[float]] = {}
    times = []
    for text in SENTENCES * 2:
        started = time.monotonic()
        audio = renderer.render(text, 160)
        times.append(time.monotonic() - started)
        assert audio.rate == 22_050
        assert _rms(audio.samples) > 0.01
        lengths.setdefault(text, []).append(_spoken_seconds(audio))
    print(
        f"{renderer.engine}: render {1000 * np.median(times):.0f} ms median, "
        f"{1000 * max(times):.0f} ms max; seconds "
        + ", ".join(f"{min(v):.2f}" for v in lengths.values())
    )
    for text, seconds in lengths.items():
        words = len(text.split())
        assert min(seconds) > 0.2 * words, text  # never a cut-off file
        # the same sentence, the same audio: espeak-ng exactly, Piper (sampling noise) roughly
        spread = 0.02 if renderer.engine == "espeak" else 0.25 * min(seconds)
        assert max(seconds) - min(seconds) <= spread, text
    assert renderer.pid == pid and renderer.restarts == 0


def test_pace_changes_duration(renderer: HelperRenderer) -> None:
    text = SENTENCES[2]
    slow = _spoken_seconds(renderer.render(text, RATE_MIN))
    fast = _spoken_seconds(renderer.render(text, RATE_MAX))
    print(f"{renderer.engine}: {RATE_MIN:g} wpm {slow:.2f} s, {RATE_MAX:g} wpm {fast:.2f} s")
    assert slow / fast > 1.4


def test_every_sentence_gets_its_own_pace(espeak: HelperRenderer) -> None:
    # The pace once went missing at random under load (pyttsx3 cancelled the queued rate).
    text = SENTENCES[2]
    seconds = {wpm: _spoken_seconds(espeak.render(text, wpm)) for wpm in (RATE_MIN, RATE_MAX)}
    for _ in range(8):
        for wpm in (RATE_MAX, RATE_MIN):
            spoken = _spoken_seconds(espeak.render(text, wpm))
            assert spoken == pytest.approx(seconds[wpm], abs=0.05)
    assert seconds[RATE_MIN] / seconds[RATE_MAX] > 1.4


def test_volume_changes_loudness(espeak: HelperRenderer) -> None:
    audio = espeak.render(SENTENCES[0], 160)
    levels = {db: _rms(prepare(audio, db, 44_100)) for db in (-6.0, 0.0, 6.0)}
    change = [20 * np.log10(levels[db] / levels[0.0]) for db in (-6.0, 6.0)]
    print(f"volume -6/+6 dB gives {change[0]:.2f}/{change[1]:.2f} dB RMS")
    assert change[0] == pytest.approx(-6.0, abs=0.3)
    assert change[1] == pytest.approx(6.0, abs=0.3)
    assert float(np.max(np.abs(prepare(audio, 6.0, 44_100)))) <= 1.0


def test_resampling_keeps_a_tone() -> None:
    tone = np.sin(2 * np.pi * 440 * np.arange(22_050) / 22_050).astype(np.float32)
    for rate in (16_000, 44_100, 48_000):
        out = resample(tone, 22_050, rate)
        assert out.size == rate
        spectrum = np.abs(np.fft.rfft(out))
        assert int(np.argmax(spectrum)) == 440
        assert _rms(out) == pytest.approx(_rms(tone), rel=0.02)


def test_adjust_steps_bounds_and_sentences() -> None:
    settings, said = adjusted(VoiceSettings(), "slower")
    assert (settings.words_per_minute, said) == (145.0, "I will speak more slowly now.")
    settings, said = adjusted(settings, "louder")
    assert (settings.volume_db, said) == (3.0, "I will speak louder now.")
    for _ in range(10):
        settings, said = adjusted(settings, "faster")
    assert settings.words_per_minute == RATE_MAX
    assert said == "This is as fast as I can speak."
    for _ in range(20):
        settings, said = adjusted(settings, "softer")
    assert said == "This is as softly as I can speak."
    with pytest.raises(ValueError, match="unknown voice setting"):
        adjusted(settings, "higher")


def test_settings_are_remembered(tmp_path: Path) -> None:
    path = tmp_path / "data" / "voice.json"
    speaker = VoiceSpeaker(HelperRenderer("espeak"), FileOutput(tmp_path / "x.wav"), path)
    assert speaker.adjust("slower") == "I will speak more slowly now."
    assert speaker.adjust("softer") == "I will speak more softly now."
    speaker.close()
    assert json.loads(path.read_text()) == {"words_per_minute": 145.0, "volume_db": -3.0}
    assert load_voice_settings(path) == VoiceSettings(145.0, -3.0)
    path.write_text("{not json")
    assert load_voice_settings(path) == VoiceSettings()


def _loud_runs(samples: Floats, rate: int, threshold: float = 0.01) -> list[tuple[float, float]]:
    """(start, end) seconds of stretches louder than ``threshold`` in 10 ms frames."""
    hop = rate // 100
    frames = samples[: samples.size // hop * hop].reshape(-1, hop)
    loud = np.abs(frames).max(axis=1) > threshold
    runs: list[tuple[float, float]] = []
    for index in np.flatnonzero(loud):
        start = index * hop / rate
        if runs and start - runs[-1][1] < 0.15:
            runs[-1] = (runs[-1][0], start + hop / rate)
        else:
            runs.append((start, start + hop / rate))
    return runs


def test_file_sink_writes_a_real_time_timeline(tmp_path: Path) -> None:
    path = tmp_path / "session.wav"
    output = FileOutput(path)
    speaker = VoiceSpeaker(HelperRenderer("espeak"), output)
    speaker.start()
    speaker.say("Lie on your back.")
    assert speaker.wait_until_quiet(10)
    time.sleep(0.5)
    speaker.say("Breathe in. Breathe out.")
    assert speaker.wait_until_quiet(10)
    time.sleep(0.3)
    speaker.close()
    closed = time.monotonic()
    with wave.open(str(path), "rb") as file:
        rate = file.getframerate()
        samples = np.frombuffer(file.readframes(file.getnframes()), "<i2") / 32768.0
    length = samples.size / rate
    print(f"file {length:.3f} s for a session of {closed - output.started:.3f} s")
    assert length == pytest.approx(closed - output.started, abs=0.1)
    first, second = speaker.spoken
    assert first.completed and second.completed and first.ended and second.ended
    runs = _loud_runs(samples.astype(np.float32), rate)
    print("loud stretches", [(round(a, 2), round(b, 2)) for a, b in runs])
    print(
        "spoken", [(round(s.started - output.started, 2), round((s.ended or 0) - output.started, 2))
                   for s in speaker.spoken]
    )  # fmt: skip
    # The first utterance, then a silence of at least 0.5 s, then two sentences 0.35 s apart.
    assert len(runs) == 3
    assert runs[0][0] == pytest.approx(first.started - output.started, abs=0.06)
    assert runs[0][1] == pytest.approx(first.ended - output.started, abs=0.06)
    assert runs[1][0] - runs[0][1] >= 0.5
    assert runs[1][0] == pytest.approx(second.started - output.started, abs=0.06)
    assert runs[2][1] == pytest.approx(second.ended - output.started, abs=0.06)
    assert runs[2][0] - runs[1][1] == pytest.approx(0.35 + 0.06, abs=0.06)  # gap + margins


def test_hung_renderer_is_killed_and_reported(tmp_path: Path) -> None:
    hang = (
        "import sys, time\nprint('{\"ready\": true}', flush=True)\n"
        "for line in sys.stdin:\n    time.sleep(60)\n"
    )
    renderer = HelperRenderer(command=[sys.executable, "-c", hang], timeout=0.5)
    renderer.start()
    pid = renderer.pid
    assert pid is not None
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match="killed"):
        renderer.render("Hello.", 160)
    print(f"hung render reported after {time.monotonic() - started:.3f} s")
    assert renderer.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    errors: list[Exception] = []
    speaker = VoiceSpeaker(renderer, FileOutput(tmp_path / "x.wav"), on_error=errors.append)
    speaker.start()
    speaker.say("One.")
    speaker.say("Two.")
    assert speaker.wait_until_quiet(10)
    speaker.close()
    assert [type(err) for err in errors] == [RenderTimeout, RenderTimeout]
    assert not speaker.spoken


class StuckOutput:
    """An output whose device stopped pulling audio."""

    rate = 22_050
    latency = 0.0

    def __init__(self) -> None:
        self.played = 0

    def start(self) -> None:
        pass

    def play(self, samples: Floats) -> None:
        self.played += samples.size

    def clear(self) -> None:
        pass

    def heard_until(self) -> float:
        return time.monotonic() + 1.0

    def reference(self, start: float, end: float) -> Floats:
        return np.zeros(0, np.float32)

    def close(self) -> None:
        pass


def test_an_output_that_stops_playing_is_reported() -> None:
    errors: list[Exception] = []
    speaker = VoiceSpeaker(
        HelperRenderer(), StuckOutput(), on_error=errors.append, stall_seconds=0.2
    )
    speaker.start()
    speaker.say("One.")
    speaker.say("Two.")
    assert speaker.wait_until_quiet(5)
    speaker.close()
    assert [str(err) for err in errors] == [
        "the sound output stopped playing during 'One.'",
        "the sound output stopped playing during 'Two.'",
    ]


def test_make_speaker_keeps_settings_in_the_data_dir(tmp_path: Path) -> None:
    speaker = make_speaker("espeak", tmp_path / "data", tmp_path / "out.wav")
    speaker.adjust("louder")
    speaker.close()
    assert load_voice_settings(tmp_path / "data" / SETTINGS_FILE).volume_db == 3.0


def test_a_helper_that_dies_is_restarted(espeak: HelperRenderer) -> None:
    espeak.render("One.", 160)
    pid = espeak.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    audio = espeak.render("Two.", 160)
    assert audio.seconds > 0.2
    assert espeak.pid != pid and espeak.restarts == 1


def test_a_voice_that_cannot_load_is_a_render_error() -> None:
    renderer = HelperRenderer(command=[sys.executable, "-c", 'print(\'{"error": "no voice"}\')'])
    with pytest.raises(RenderError, match="no voice"):
        renderer.render("Hello.", 160)
    renderer.close()


def test_the_module_imports_without_audio_libraries() -> None:
    code = (
        "import sys\nfor name in ('pyttsx3', 'sounddevice', 'piper', 'soundfile'):\n"
        "    sys.modules[name] = None\nimport assistant.tts\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- through PortAudio into the virtual sound card -----------------------------------------------


def _correlation(recorded: Floats, reference: Floats, rate: int) -> tuple[float, float]:
    """Peak normalized cross-correlation and its lag in seconds (recording later: positive)."""
    size = recorded.size + reference.size
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size))
    cross = np.fft.irfft(spectrum, size)
    lag = int(np.argmax(cross))
    peak = float(cross[lag]) / float(np.linalg.norm(recorded) * np.linalg.norm(reference))
    return peak, (lag if lag < size // 2 else lag - size) / rate


def test_speaker_plays_through_portaudio(pulse_audio: PulseAudio) -> None:
    output = DeviceOutput()
    with VoiceSpeaker(HelperRenderer("espeak"), output) as speaker:
        speaker.say(SENTENCES[0])
        deadline = time.monotonic() + 5
        while not speaker.is_speaking() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert speaker.current_text() == SENTENCES[0]
        assert speaker.wait_until_quiet(10)
        assert not speaker.is_speaking()
        (spoken,) = speaker.spoken
        assert spoken.ended is not None
        start, end = spoken.started - 0.3, spoken.ended + 0.3
        pulse_audio.recorder.wait_until(end)
        recorded = pulse_audio.recorder.audio(start, end)
        reference = speaker.reference(start, end)
    assert output.rate == pulse_audio.recorder.rate
    peak, lag = _correlation(recorded, reference, output.rate)
    runs = _loud_runs(recorded, output.rate)
    print(
        f"device {output.rate} Hz latency {output.latency:.3f} s, underflows {output.underflows}; "
        f"recorded RMS {_rms(recorded):.3f}, correlation {peak:.3f} at {1000 * lag:+.0f} ms; "
        f"heard {runs[0][0] - 0.3:+.3f} s from the predicted start"
    )
    assert _rms(recorded) > 0.02
    assert peak > 0.9
    assert abs(lag) < 0.05
    assert runs[0][0] - 0.3 == pytest.approx(0.0, abs=0.06)


def test_stop_silences_within_200_ms(pulse_audio: PulseAudio) -> None:
    text = (
        "Slowly raise both arms above your head and reach towards the wall behind you "
        "while you keep breathing in and out"
    )
    output = DeviceOutput()
    with VoiceSpeaker(HelperRenderer("espeak"), output) as speaker:
        speaker.say(text)
        speaker.say("This is never heard.")
        deadline = time.monotonic() + 5
        while not speaker.spoken and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(max(0.0, speaker.spoken[0].started + 1.0 - time.monotonic()))
        stopped = time.monotonic()
        speaker.stop()
        returned = time.monotonic() - stopped
        assert not speaker.is_speaking()
        assert speaker.wait_until_quiet(2)
        pulse_audio.recorder.wait_until(stopped + 1.0)
        recorded = pulse_audio.recorder.audio(stopped - 0.5, stopped + 1.0)
    rate = pulse_audio.recorder.rate
    before, after = recorded[: rate // 2], recorded[rate // 2 :]
    loud = np.flatnonzero(np.abs(after) > 1e-3)
    latency = (int(loud[-1]) + 1) / rate if loud.size else 0.0
    print(
        f"stop() returned in {1000 * returned:.2f} ms; last sound {1000 * latency:.0f} ms "
        f"after stop(); RMS before {_rms(before):.3f}"
    )
    assert _rms(before[-rate // 5 :]) > 0.01  # it was really speaking when stopped
    assert latency < 0.2
    assert [s.text for s in speaker.spoken] == [text]
    assert not speaker.spoken[0].completed
