"""Saving the microphone's audio, only when the user asks for it (``run --record DIR``).

By default no audio is kept anywhere: the listener hands each chunk to the recognizer and
drops it. With ``--record`` every chunk the microphone delivered (before echo cancellation)
also goes into one 16 kHz mono 16-bit WAV per session, in the folder the user named.
"""

from __future__ import annotations

import logging
import threading
import wave
from datetime import datetime
from pathlib import Path
from typing import Protocol

from assistant.closing import Closing
from assistant.errors import AudioError
from assistant.ports import SAMPLE_RATE

_LOGGER = logging.getLogger(__name__)


class AudioSource(Protocol):
    """Where microphone audio comes from (listener.AudioSource)."""

    def start(self) -> None:
        """Open the device."""

    def read(self, timeout: float = 0.5) -> bytes | None:
        """The next chunk, None if none yet."""

    def close(self) -> None:
        """Release the device."""


class MicrophoneRecording(Closing):
    """One WAV file that every source wrapped by ``tap`` writes into, across reconnects."""

    def __init__(self, folder: Path, now: datetime | None = None) -> None:
        """Create ``folder`` and a new file in it; AudioError if that cannot be done."""
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        self.path = Path(folder) / f"microphone-{stamp}.wav"
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Open for the whole session, written chunk by chunk: closed by close().
            self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115
        except OSError as err:
            raise AudioError(f"cannot record into {self.path}: {err.strerror or err}") from None
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)

    def tap(self, source: AudioSource) -> AudioSource:
        """``source``, with everything it delivers also written to the file."""
        return _Tapped(source, self)

    def write(self, pcm: bytes) -> None:
        """Append 16 kHz mono int16 audio; a failing disk ends the recording, not the listening."""
        with self._lock:
            if self._wav is None:
                return
            try:
                self._wav.writeframes(pcm)
            except OSError:
                _LOGGER.exception("Recording into %s failed; recording stops", self.path)
                self._wav = None

    def close(self) -> None:
        """Finish the file (its header gets the final length); safe to call twice."""
        with self._lock:
            wav, self._wav = self._wav, None
        if wav is not None:
            wav.close()


class _Tapped:
    def __init__(self, source: AudioSource, recording: MicrophoneRecording) -> None:
        self._source = source
        self._recording = recording

    def start(self) -> None:
        self._source.start()

    def read(self, timeout: float = 0.5) -> bytes | None:
        chunk = self._source.read(timeout)
        if chunk:
            self._recording.write(chunk)
        return chunk

    def close(self) -> None:
        self._source.close()
