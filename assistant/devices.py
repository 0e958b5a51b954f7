"""Sound devices for carers: list them, and check that the coach can speak and hear."""

from __future__ import annotations

import math
import time
from typing import Any, TextIO

from assistant.errors import AudioError
from assistant.ports import SAMPLE_RATE

CHECK_SENTENCE = "This is your exercise coach. If you can hear me, the speaker works."
QUIET_DBFS = -60.0
"""Below this the microphone is taken to hear nothing at all."""


def list_devices() -> str:
    """Every input and output device PortAudio sees, marking the defaults."""
    import sounddevice as sd

    try:
        devices = sd.query_devices()
        default_in, default_out = sd.default.device
    except Exception as err:
        raise AudioError(f"cannot list sound devices: {err}") from None
    lines = [
        *_section("Microphones:", devices, "max_input_channels", default_in),
        *_section("Speakers:", devices, "max_output_channels", default_out),
    ]
    lines.append("(* marks the default)")
    return "\n".join(lines)


def _section(title: str, devices: Any, channels: str, default: int) -> list[str]:
    rows = [
        f"  {'*' if i == default else ' '} {i}: {d['name']} ({d[channels]} ch)"
        for i, d in enumerate(devices)
        if d[channels] > 0
    ]
    return [title, *(rows or ["    none"])]


def level_dbfs(pcm: bytes) -> float:
    """RMS level of 16-bit audio in dB below full scale."""
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(samples**2)))
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


def check(device: int | str | None, seconds: float, out: TextIO) -> int:
    """Speak a sentence, record ``seconds`` from the microphone, report the level."""
    from assistant.mic import Microphone
    from assistant.tts import make_speaker

    voice = make_speaker()
    try:
        voice.start()
    except OSError as err:
        raise AudioError(f"cannot open the speaker: {err}") from None
    try:
        voice.say(CHECK_SENTENCE)
        voice.wait_until_quiet(timeout=30.0)
    finally:
        voice.close()
    print(f"Spoke: {CHECK_SENTENCE}", file=out)
    mic = Microphone(device)
    mic.start()
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = mic.read(0.5)
            if chunk:
                chunks.append(chunk)
    finally:
        mic.close()
    pcm = b"".join(chunks)
    level = level_dbfs(pcm)
    print(
        f"Recorded {len(pcm) / 2 / SAMPLE_RATE:.1f} s; level {level:.1f} dBFS; "
        f"input overflows {mic.overflows}",
        file=out,
    )
    if level < QUIET_DBFS:
        print("The microphone hears nothing: check it is plugged in and not muted.", file=out)
        return 1
    print("The microphone works.", file=out)
    return 0
