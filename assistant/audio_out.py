"""Where spoken audio goes: a sound device or a WAV file, both on a real-time timeline.

An output pulls mono float32 samples from a queue at its own pace (the sound card's callback,
or a clock thread for a file) and keeps a reference copy of every block it played, stamped
with the monotonic time at which the block is heard, for echo cancellation and tests.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

_LOGGER = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]
"""Mono audio, float32 in [-1, 1]."""

DEAD_AFTER_SECONDS = 1.0
"""Seconds without a callback from a running output stream before it counts as gone."""


class AudioOutput(Protocol):
    """A place that plays mono float32 audio in real time (a sound card or a WAV file)."""

    rate: int
    """Samples per second the output plays at; callers resample to it."""
    latency: float
    """Seconds from play() on an idle output until the audio is heard."""

    def start(self) -> None:
        """Open the device or file and start the timeline; raises OSError if it cannot."""

    def play(self, samples: Samples) -> None:
        """Queue samples after anything already queued; returns at once."""

    def clear(self) -> None:
        """Drop everything queued; silence follows within the output's latency."""

    def heard_until(self) -> float:
        """Monotonic time at which everything queued so far will have been heard."""

    def reference(self, start: float, end: float) -> Samples:
        """What was played between two monotonic times, at ``rate``; zeros where silent."""

    def close(self) -> None:
        """Stop the timeline and release the device or file."""


def _silence(frames: int) -> Samples:
    return np.zeros(frames, dtype=np.float32)


def resample(samples: Samples, rate: int, to_rate: int) -> Samples:
    """Linear-interpolation resampling, low-passed first when the rate goes down."""
    if rate == to_rate or not samples.size:
        return samples.astype(np.float32)
    if to_rate < rate:
        taps = np.arange(-32, 33)
        cutoff = 0.45 * to_rate / rate
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
        samples = np.convolve(samples, kernel / kernel.sum(), mode="same").astype(np.float32)
    frames = round(samples.size * to_rate / rate)
    positions = np.arange(frames) * (rate / to_rate)
    resampled: Samples = np.interp(positions, np.arange(samples.size), samples).astype(np.float32)
    return resampled


class PlayQueue:
    """Samples waiting to be played; the audio thread pulls, other threads push or clear."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: collections.deque[Samples] = collections.deque()
        self._offset = 0
        self._frames = 0
        self._drained_at = 0.0

    def push(self, samples: Samples) -> None:
        """Queue a copy of ``samples``."""
        chunk = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1).copy()
        if chunk.size:
            with self._lock:
                self._chunks.append(chunk)
                self._frames += chunk.size

    def clear(self) -> None:
        """Drop everything queued."""
        with self._lock:
            self._chunks.clear()
            self._offset = 0
            self._frames = 0

    def pull_into(self, out: Samples, heard_at: float, rate: int) -> None:
        """Fill ``out`` (heard from ``heard_at``) with queued samples, then zeros; only copies."""
        filled = 0
        with self._lock:
            while filled < out.size and self._chunks:
                chunk = self._chunks[0]
                take = min(out.size - filled, chunk.size - self._offset)
                out[filled : filled + take] = chunk[self._offset : self._offset + take]
                filled += take
                self._offset += take
                if self._offset == chunk.size:
                    self._chunks.popleft()
                    self._offset = 0
            self._frames -= filled
            if filled:
                self._drained_at = heard_at + filled / rate
        out[filled:] = 0.0

    def status(self) -> tuple[int, float]:
        """Frames still queued, and when the last sample pulled so far is heard."""
        with self._lock:
            return self._frames, self._drained_at


class ReferenceLog:
    """The last ``keep_seconds`` of played samples as one stream, with when blocks are heard.

    Samples are kept contiguous (a ring buffer indexed by frame count) and each block's time
    only places the stream on the clock: slice() uses the median placement of the blocks
    around the asked window, so callback jitter shifts a slice as a whole, never inside it.
    """

    def __init__(self, rate: int, keep_seconds: float = 60.0) -> None:
        self.rate = rate
        self._ring = _silence(max(1, round(keep_seconds * rate)))
        self._frames = 0
        self._stamps: collections.deque[tuple[int, float]] = collections.deque(maxlen=20_000)
        self._lock = threading.Lock()

    def add(self, heard_at: float, block: Samples) -> None:
        """Append a block heard from ``heard_at``; only copies, for audio callbacks."""
        size = self._ring.size
        with self._lock:
            at = self._frames % size
            head = min(block.size, size - at)
            self._ring[at : at + head] = block[:head]
            self._ring[: block.size - head] = block[head : head + size]
            self._stamps.append((self._frames, heard_at))
            self._frames += block.size

    def slice(self, start: float, end: float) -> Samples:
        """Played samples between two monotonic times; zeros where nothing was kept."""
        frames = max(0, round((end - start) * self.rate))
        out = _silence(frames)
        with self._lock:
            if not self._stamps:
                return out
            stamps = np.array(self._stamps, dtype=np.float64)
            near = stamps[(stamps[:, 1] > start - 2.0) & (stamps[:, 1] < end + 2.0)]
            if not near.size:
                near = stamps[-1:]
            anchor = float(np.median(near[:, 1] - near[:, 0] / self.rate))
            first = round((start - anchor) * self.rate)
            lo = max(first, self._frames - self._ring.size, 0)
            hi = min(first + frames, self._frames)
            frame = lo
            while frame < hi:
                at = frame % self._ring.size
                take = min(hi - frame, self._ring.size - at)
                out[frame - first : frame - first + take] = self._ring[at : at + take]
                frame += take
        return out


class DeviceOutput:
    """Plays through a PortAudio output device with a callback that only copies."""

    def __init__(
        self,
        device: int | str | None = None,
        latency: float | str = 0.25,
        rate: int | None = None,
    ) -> None:
        """``latency`` in seconds bounds how long stop() takes to be heard (~latency + 10 ms)."""
        self._device = device
        self._requested_latency = latency
        self._origin: float | None = None
        self._frames = 0
        self._flushing = threading.Event()
        self._last_callback = 0.0
        self.rate = rate or 0
        self._queue = PlayQueue()
        self._stream: Any = None
        self.reference_log = ReferenceLog(1)
        self.underflows = 0
        self.latency = 0.1

    def start(self) -> None:
        """Open the output stream at the device's own rate unless one was given."""
        import sounddevice as sd  # lazy: needs PortAudio

        try:
            if not self.rate:
                info = sd.query_devices(self._device, "output")
                self.rate = int(info["default_samplerate"])
            self.reference_log = ReferenceLog(self.rate)
            stream = sd.OutputStream(
                samplerate=self.rate,
                device=self._device,
                channels=1,
                dtype="float32",
                latency=self._requested_latency,
                callback=self._callback,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as err:
            name = self._device if self._device is not None else "default"
            raise OSError(f"cannot open the sound output {name}: {err}") from err
        self._stream = stream
        self.latency = float(stream.latency)
        _LOGGER.info("Sound output at %d Hz, latency %.3f s", self.rate, self.latency)

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = self._last_callback = time.monotonic()
        if status.output_underflow:
            self.underflows += 1
        block = outdata[:, 0]
        if self._origin is None or status.output_underflow:
            # Place blocks by counting frames from one anchor, so the reference does not
            # jitter with the callback's scheduling; re-anchor only when the device skipped.
            delay = time_info.outputBufferDacTime - time_info.currentTime
            if not 0.0 <= delay < 1.0:
                delay = self.latency
            self._origin = now + delay - self._frames / self.rate
        heard_at = self._origin + self._frames / self.rate
        self._frames += frames
        self._queue.pull_into(block, heard_at, self.rate)
        self.reference_log.add(heard_at, block)

    def play(self, samples: Samples) -> None:
        """Queue samples for the callback."""
        self._queue.push(samples)

    def clear(self) -> None:
        """Drop everything queued and flush the device's buffer; never blocks the caller."""
        self._queue.clear()
        stream = self._stream
        if stream is None or self._flushing.is_set():
            return
        if time.monotonic() - self._last_callback > DEAD_AFTER_SECONDS:
            # The device stopped asking for audio (it went away): restarting a dead ALSA stream
            # fails and leaves PortAudio unable to shut down (it aborts the process at exit).
            _LOGGER.warning("The sound output is not playing; not flushing it")
            return
        self._flushing.set()
        # Aborting discards the device's buffer, so a generous latency (which keeps a busy
        # process from underrunning) does not delay silence. It runs on its own thread: on a
        # device that has gone away PortAudio can block, and stop() is on the pain path.
        threading.Thread(target=self._flush, args=(stream,), name="flush", daemon=True).start()

    def _flush(self, stream: Any) -> None:
        try:
            stream.abort()
            self._origin = None
            stream.start()
        except Exception:
            _LOGGER.exception("Could not flush the sound output")
        finally:
            self._flushing.clear()

    def heard_until(self) -> float:
        """When the queued audio will have been heard, from our own clock."""
        pending, drained_at = self._queue.status()
        if not pending or not self.rate:
            return drained_at
        return time.monotonic() + self.latency + pending / self.rate

    def reference(self, start: float, end: float) -> Samples:
        """What the callback wrote, placed at the time it is heard."""
        return self.reference_log.slice(start, end)

    def close(self) -> None:
        """Stop and close the stream (queued audio is dropped)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            self._queue.clear()
            stream.stop()
            stream.close()


class FileOutput:
    """Writes what would be played into a WAV file on a real-time timeline.

    A clock thread pulls as many samples as real time has advanced (silence when nothing is
    queued), so the file is as long as the session and each sentence sits where it was heard.
    """

    def __init__(self, path: Path, rate: int = 22_050, tick: float = 0.02) -> None:
        """``tick`` in seconds: how often the clock thread writes (and the stop() latency)."""
        self.path = Path(path)
        self.rate = rate
        self._tick = tick
        self.latency = 0.0
        self._queue = PlayQueue()
        self.reference_log = ReferenceLog(rate)
        self._file: Any = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._started = 0.0
        self._written = 0
        self._write_lock = threading.Lock()

    def start(self) -> None:
        """Create the WAV (16-bit mono) and start the clock thread."""
        import soundfile as sf  # lazy, like every adapter

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = sf.SoundFile(
                str(self.path), "w", samplerate=self.rate, channels=1, subtype="PCM_16"
            )
        except (RuntimeError, OSError) as err:
            raise OSError(f"cannot write the audio file {self.path}: {err}") from err
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="audio-file", daemon=True)
        self._thread.start()

    def _advance(self, until: float) -> None:
        with self._write_lock:
            frames = int((until - self._started) * self.rate) - self._written
            if frames <= 0 or self._file is None:
                return
            self._write(frames)

    def _write(self, frames: int) -> None:
        block = _silence(frames)
        at = self._started + self._written / self.rate
        self._queue.pull_into(block, at, self.rate)
        self.reference_log.add(at, block)
        self._file.write(block)
        self._written += frames

    def _run(self) -> None:
        while not self._closing.wait(self._tick):
            self._advance(time.monotonic())

    def play(self, samples: Samples) -> None:
        """Queue samples for the clock thread."""
        self._queue.push(samples)

    def clear(self) -> None:
        """Drop everything queued."""
        self._queue.clear()

    def heard_until(self) -> float:
        """When the queued audio will have been written."""
        pending, drained_at = self._queue.status()
        if not pending:
            return drained_at
        written_until = self._started + self._written / self.rate
        return max(written_until, time.monotonic()) + pending / self.rate

    def reference(self, start: float, end: float) -> Samples:
        """What was written to the file, placed on the monotonic clock."""
        return self.reference_log.slice(start, end)

    @property
    def started(self) -> float:
        """Monotonic time of the file's first sample."""
        return self._started

    def close(self) -> None:
        """Write the timeline up to now plus anything still queued, then close the file."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._file is None:
            return
        self._advance(time.monotonic())
        with self._write_lock:
            rest, _ = self._queue.status()
            if rest:
                self._write(rest)
            self._file.close()
            self._file = None
