"""Microphone audio: a sounddevice input stream, or a WAV file fed at the pace of speech."""

from __future__ import annotations

import logging
import queue
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import AudioError
from assistant.ports import SAMPLE_RATE

_LOGGER = logging.getLogger(__name__)

BLOCK_SECONDS = 0.1
"""Audio per chunk handed to the recognizer."""
SILENCE_TIMEOUT = 1.5
"""Seconds without any callback from a running stream before the device counts as gone."""
START_TIMEOUT = 6.0
"""Seconds a new stream may take to deliver its first audio (sound servers buffer at start)."""


class MicrophoneError(AudioError):
    """No usable microphone, or it went away."""


class AudioFileError(AudioError):
    """An --audio-in file that is not a readable 16-bit PCM WAV."""


class Microphone:
    """Reads 16 kHz mono int16 from a sounddevice ``RawInputStream``.

    The callback only copies the bytes and enqueues them; overflows are counted. ``read``
    raises MicrophoneError when the device stops delivering audio (unplugged, server gone).
    """

    def __init__(self, device: int | str | None = None, block_seconds: float = BLOCK_SECONDS):
        self._device = device
        self._block = int(SAMPLE_RATE * block_seconds)
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=200)
        self._stream: Any = None
        self._last_audio = 0.0
        self._started = False
        self.overflows = 0
        """Input overflows reported by PortAudio (audio the system dropped)."""
        self.dropped = 0
        """Chunks dropped because nobody read them in time."""

    def start(self) -> None:
        """Open and start the input stream; MicrophoneError if there is no usable device."""
        import sounddevice as sd

        try:
            self._stream = sd.RawInputStream(
                samplerate=SAMPLE_RATE,
                blocksize=self._block,
                device=self._device,
                channels=1,
                dtype="int16",
                callback=self._callback,
            )
            self._stream.start()
        except Exception as err:  # PortAudioError, ValueError for a bad device
            self._stream = None
            raise MicrophoneError(f"cannot open the microphone: {err}") from None
        self._last_audio = time.monotonic()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status and status.input_overflow:
            self.overflows += 1
        try:
            self._chunks.put_nowait(bytes(indata))
        except queue.Full:
            self.dropped += 1

    def read(self, timeout: float = 0.5) -> bytes | None:
        """The next chunk, or None if none came within ``timeout``; MicrophoneError if gone."""
        try:
            chunk = self._chunks.get(timeout=timeout)
        except queue.Empty:
            stream = self._stream
            silent_for = time.monotonic() - self._last_audio
            limit = SILENCE_TIMEOUT if self._started else START_TIMEOUT
            if stream is None or not stream.active or silent_for > limit:
                raise MicrophoneError("the microphone stopped sending audio") from None
            return None
        self._last_audio = time.monotonic()
        self._started = True
        return chunk

    def close(self) -> None:
        """Stop and close the stream; safe to call twice."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:
                _LOGGER.debug("Closing the input stream failed", exc_info=True)


def read_wav(path: Path) -> bytes:
    """A WAV file as 16 kHz mono int16 PCM; AudioFileError for anything else."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such audio file") from None
    except (wave.Error, EOFError, OSError) as err:
        raise AudioFileError(f"{path}: not a readable WAV file ({err})") from None
    if width != 2:
        raise AudioFileError(f"{path}: must be 16-bit PCM, got {8 * width}-bit samples")
    import numpy as np

    samples = np.frombuffer(frames[: len(frames) - len(frames) % (2 * channels)], dtype="<i2")
    if not samples.size:
        raise AudioFileError(f"{path}: holds no audio")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if rate != SAMPLE_RATE:
        if rate < 8000:
            raise AudioFileError(f"{path}: sample rate {rate} Hz is too low for speech")
        count = int(len(samples) * SAMPLE_RATE / rate)
        positions = np.linspace(0, len(samples) - 1, count) if count else np.zeros(0)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)
    return bytes(samples.astype("<i2").tobytes())


class FileSource:
    """Feeds a recorded WAV in real-time-sized chunks, paced by the session clock.

    After the recording ends it feeds silence, as a quiet room would.
    """

    def __init__(
        self,
        pcm: bytes,
        now: Callable[[], float],
        block_seconds: float = BLOCK_SECONDS,
        time_scale: float = 1.0,
    ) -> None:
        self._pcm = pcm
        self._now = now
        self._block_bytes = 2 * int(SAMPLE_RATE * block_seconds)
        self._scale = time_scale
        self._fed = 0
        self._origin: float | None = None
        self._closed = threading.Event()

    def start(self) -> None:
        """Start the recording's timeline at the current session time."""
        self._origin = self._now()

    def read(self, timeout: float = 0.5) -> bytes | None:
        """The next chunk once session time has reached it."""
        if self._origin is None:
            self.start()
        assert self._origin is not None
        due = self._origin + (self._fed / 2 + self._block_bytes / 2) / SAMPLE_RATE
        wait = (due - self._now()) * self._scale
        if wait > 0:
            if self._closed.wait(min(wait, timeout)):
                return None
            if due > self._now():
                return None
        chunk = self._pcm[self._fed : self._fed + self._block_bytes]
        self._fed += self._block_bytes
        if len(chunk) < self._block_bytes:
            chunk += bytes(self._block_bytes - len(chunk))
        return chunk

    def close(self) -> None:
        """Stop feeding."""
        self._closed.set()
