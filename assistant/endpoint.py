"""Finding speech in a microphone stream: an energy endpointer over an adaptive noise floor.

Pure numpy, for any recognizer adapter. Each frame's energy is measured in the speech
band; the noise floor is a low quantile (``floor_quantile``, 0 = the quietest) of the
smoothed frame levels of the last ``floor_window`` seconds, so it settles on stationary
noise (a fan, traffic) within that time and segments still close in it, and sits inside
fluctuating babble (with the quietest frame as the floor, babble at 20 dB below the speech
kept every segment open until ``max_segment``); a frame is speech when it stands clearly
above the floor. ``NoiseReducer`` takes measured stationary noise off a segment. A segment
starts after a short run of speech frames, carries ``pre_roll`` seconds of audio from
before that (recognizers need the onset and some silence), and ends after ``hangover``
seconds without speech or at ``max_segment`` seconds. All times are seconds of audio fed
since the endpointer was made.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from assistant.ports import SAMPLE_RATE

Samples = npt.NDArray[np.int16]

_SILENT_DB = -100.0
"""dBFS given to digital silence, which has no logarithm."""


@dataclass(frozen=True)
class EndpointSettings:
    """How the endpointer decides what is speech; defaults suit a room microphone at 16 kHz."""

    frame: float = 0.02
    """Seconds per analysis frame (10-30 ms)."""
    start_db: float = 10.0
    """Decibels above the noise floor for a frame to count as speech when none is going on."""
    continue_db: float = 6.0
    """Decibels above the noise floor for a frame to keep a segment going (hysteresis)."""
    start_run: float = 0.06
    """Seconds of speech frames, all within ``start_window``, that open a segment."""
    start_window: float = 0.1
    """Seconds in which ``start_run`` worth of speech frames must fall."""
    hangover: float = 0.3
    """Seconds without speech frames that close a segment."""
    pre_roll: float = 0.3
    """Seconds of audio from before the speech start given with a segment."""
    max_segment: float = 6.0
    """Seconds; a longer segment is cut off and reported as truncated."""
    floor_window: float = 2.0
    """Seconds over which the noise floor is the quietest (smoothed) frame level."""
    floor_quantile: float = 0.3
    """Which quantile of those levels is the floor: 0 is the quietest frame (steady noise);
    higher values let the floor sit inside fluctuating noise such as several voices
    talking (babble), which otherwise keeps a segment open for ever."""
    band: tuple[float, float] = (200.0, 4000.0)
    """Hertz: the band whose energy is measured (speech; not rumble or hiss)."""
    floor_min_db: float = -75.0
    """dBFS below which the floor is not tracked (digital silence, a muted microphone)."""
    min_speech_db: float = -60.0
    """dBFS a frame must reach to be speech whatever the floor."""

    def __post_init__(self) -> None:
        if not 0.005 <= self.frame <= 0.05:
            raise ValueError(f"frame must be 5-50 ms, got {self.frame} s")
        if self.continue_db > self.start_db:
            raise ValueError("continue_db must not exceed start_db")
        if min(self.start_run, self.hangover, self.pre_roll) < 0:
            raise ValueError("durations must not be negative")
        if not 0 <= self.floor_quantile < 1:
            raise ValueError(f"floor_quantile must be in [0, 1), got {self.floor_quantile}")
        if self.floor_window < 0.2:
            raise ValueError(f"floor_window must be at least 0.2 s, got {self.floor_window}")
        if not 0 <= self.band[0] < self.band[1] <= SAMPLE_RATE / 2:
            raise ValueError(f"band must be two increasing frequencies in Hz, got {self.band}")
        if self.start_window < self.start_run or self.max_segment <= self.start_window:
            raise ValueError("need start_run <= start_window < max_segment")


class EventKind(Enum):
    """What an endpointer event reports."""

    START = "start"
    """Speech began; ``audio`` is the pre-roll plus the speech so far."""
    AUDIO = "audio"
    """More audio of the open segment."""
    END = "end"
    """The segment closed; ``audio`` is empty."""


@dataclass(frozen=True)
class Event:
    """One step of a segment, for recognizers that decode while the speech goes on."""

    kind: EventKind
    time: float
    """Seconds: speech start for START, end of this audio for AUDIO, speech end for END."""
    audio: Samples = field(repr=False)
    segment: SegmentInfo
    """What is known about the segment so far (final at END)."""


@dataclass(frozen=True)
class SegmentInfo:
    """Where a segment lies in the stream and what surrounds it."""

    start: float
    """Seconds where the speech began (first speech frame)."""
    end: float
    """Seconds where the speech ended (after its last speech frame); start until it ends."""
    audio_start: float
    """Seconds where the segment's audio begins (``start`` minus the pre-roll)."""
    gap_before: float
    """Seconds without speech before ``start`` (since the previous segment or the stream start)."""
    truncated: bool = False
    """The segment hit ``max_segment`` and was cut off; the speech went on."""

    @property
    def duration(self) -> float:
        """Seconds of speech."""
        return self.end - self.start


def length_verdict(segment: SegmentInfo, shortest: float, longest: float) -> str | None:
    """Why a segment is too short or too long to be a command, or None if it may be one."""
    if segment.truncated:
        return "too long (cut off)"
    if segment.duration < shortest:
        return f"too short ({segment.duration:.2f} s)"
    if segment.duration > longest:
        return f"too long ({segment.duration:.2f} s)"
    return None


@dataclass(frozen=True)
class Segment:
    """A whole segment with its audio (pre-roll through hangover)."""

    info: SegmentInfo
    audio: Samples = field(repr=False)


class _State(Enum):
    QUIET = "quiet"
    SPEECH = "speech"
    SKIPPING = "skipping"  # after a truncated segment, until the speech stops


class Endpointer:
    """Streaming energy endpointer; feed int16 samples, get segment events back."""

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        self.settings = settings or EndpointSettings()
        s = self.settings
        self._frame_len = max(1, round(s.frame * SAMPLE_RATE))
        self._frame_s = self._frame_len / SAMPLE_RATE
        self._start_run = max(1, math.ceil(s.start_run / self._frame_s - 1e-9))
        self._start_window = max(self._start_run, math.ceil(s.start_window / self._frame_s - 1e-9))
        self._hangover = max(1, math.ceil(s.hangover / self._frame_s - 1e-9))
        self._max_frames = max(1, int(s.max_segment / self._frame_s))
        self._floor_frames = max(1, round(s.floor_window / self._frame_s))
        self._window = np.hanning(self._frame_len)
        freqs = np.fft.rfftfreq(self._frame_len, 1 / SAMPLE_RATE)
        self._band = (freqs >= s.band[0]) & (freqs <= s.band[1])
        # Parseval for a one-sided windowed spectrum, so levels read as dBFS of the band.
        self._scale = 2.0 / (self._frame_len * float(np.sum(self._window**2)) * 32768.0**2)
        self._pre_roll_frames = math.ceil(s.pre_roll / self._frame_s - 1e-9)
        self._frames = 0
        self.reset()

    def reset(self) -> None:
        """Forget any open segment and the noise floor; time keeps counting."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._floor: float | None = None
        self._powers: deque[float] = deque(maxlen=3)
        self._smoothed: deque[float] = deque(maxlen=self._floor_frames)
        self._state = _State.QUIET
        # Recent frames (for pre-roll and the start window) and their speech flags.
        keep = self._pre_roll_frames + self._start_window
        self._recent: deque[Samples] = deque(maxlen=keep)
        self._recent_flags: deque[bool] = deque(maxlen=self._start_window)
        self._silent_run = 0
        self._seg_frames = 0
        self._info: SegmentInfo | None = None
        self._last_speech_end = self.time

    @property
    def time(self) -> float:
        """Seconds of audio analysed so far (whole frames)."""
        return self._frames * self._frame_s

    @property
    def noise_floor_db(self) -> float | None:
        """The current noise floor estimate in dBFS, None before the first frame."""
        return self._floor

    @property
    def in_speech(self) -> bool:
        """A segment is open."""
        return self._state is _State.SPEECH

    def process(self, samples: Samples | bytes) -> list[Event]:
        """Feed audio (int16 array or little-endian PCM bytes); returns the events it caused."""
        if isinstance(samples, bytes | bytearray | memoryview):
            data = np.frombuffer(samples, dtype="<i2").astype(np.int16)
        else:
            data = np.asarray(samples, dtype=np.int16)
        if self._pending.size:
            data = np.concatenate([self._pending, data])
        count = len(data) // self._frame_len
        self._pending = data[count * self._frame_len :].copy()
        if count == 0:
            return []
        frames = data[: count * self._frame_len].reshape(count, self._frame_len)
        spectra = np.fft.rfft(frames.astype(np.float64) * self._window, axis=1)[:, self._band]
        powers = np.sum(np.abs(spectra) ** 2, axis=1) * self._scale
        events: list[Event] = []
        audio_run: list[Samples] = []
        for frame, power in zip(frames, powers, strict=True):
            self._step(frame, float(power), events, audio_run)
        if audio_run and self._state is _State.SPEECH and self._info is not None:
            events.append(self._audio_event(audio_run))
        return events

    def flush(self) -> list[Event]:
        """End of stream: close an open segment now."""
        if self._state is not _State.SPEECH or self._info is None:
            self._state = _State.QUIET
            return []
        end = self.time - self._silent_run * self._frame_s
        return [self._close(end, truncated=False)]

    def _audio_event(self, run: list[Samples]) -> Event:
        assert self._info is not None
        audio = np.concatenate(run)
        run.clear()
        return Event(EventKind.AUDIO, self.time, audio, self._info)

    def _is_speech(self, level: float, threshold_db: float) -> bool:
        floor = self._floor if self._floor is not None else level
        return level >= self.settings.min_speech_db and level >= floor + threshold_db

    def _track_floor(self, power: float) -> None:
        # The quietest smoothed level of the last few seconds: speech always has gaps
        # between words, steady noise does not, so the floor settles on the noise within
        # floor_window whatever its level, and follows it up or down.
        self._powers.append(power)
        smoothed = _db(sum(self._powers) / len(self._powers))
        self._smoothed.append(max(smoothed, self.settings.floor_min_db))
        q = self.settings.floor_quantile
        if q == 0:
            self._floor = min(self._smoothed)
        else:
            ordered = sorted(self._smoothed)
            self._floor = ordered[int(q * (len(ordered) - 1))]

    def _step(self, frame: Samples, power: float, events: list[Event], run: list[Samples]) -> None:
        s = self.settings
        level = _db(power)
        if self._state is _State.SPEECH:
            speech = self._is_speech(level, s.continue_db)
        else:
            speech = self._is_speech(level, s.start_db)
        # Decide against the floor as it was, then let the frame move it.
        self._track_floor(power)
        self._frames += 1
        self._recent.append(frame)
        self._recent_flags.append(speech)

        if self._state is _State.QUIET:
            if sum(self._recent_flags) >= self._start_run:
                self._open(events, run)
            return
        if self._state is _State.SKIPPING:
            self._silent_run = 0 if speech else self._silent_run + 1
            if self._silent_run >= self._hangover:
                self._state = _State.QUIET
                self._recent_flags.clear()
                self._last_speech_end = self.time - self._silent_run * self._frame_s
            return

        run.append(frame)
        self._seg_frames += 1
        self._silent_run = 0 if speech else self._silent_run + 1
        if self._silent_run >= self._hangover:
            if run:
                events.append(self._audio_event(run))
            events.append(self._close(self.time - self._silent_run * self._frame_s, False))
        elif self._seg_frames >= self._max_frames:
            if run:
                events.append(self._audio_event(run))
            events.append(self._close(self.time, truncated=True))

    def _open(self, events: list[Event], run: list[Samples]) -> None:
        flags = list(self._recent_flags)
        first = flags.index(True)
        back = len(flags) - first  # frames from the first speech frame to now, inclusive
        start = self.time - back * self._frame_s
        history = list(self._recent)
        take = min(len(history), back + self._pre_roll_frames)
        audio = np.concatenate(history[-take:])
        info = SegmentInfo(
            start=start,
            end=start,
            audio_start=self.time - take * self._frame_s,
            gap_before=max(0.0, start - self._last_speech_end),
        )
        self._info = info
        self._state = _State.SPEECH
        self._silent_run = 0
        self._seg_frames = back
        run.clear()
        events.append(Event(EventKind.START, start, audio, info))

    def _close(self, end: float, truncated: bool) -> Event:
        assert self._info is not None
        info = SegmentInfo(
            start=self._info.start,
            end=max(end, self._info.start),
            audio_start=self._info.audio_start,
            gap_before=self._info.gap_before,
            truncated=truncated,
        )
        self._info = None
        self._recent_flags.clear()
        if truncated:
            self._state = _State.SKIPPING
            self._silent_run = 0
        else:
            self._state = _State.QUIET
            self._last_speech_end = info.end
        return Event(EventKind.END, info.end, np.zeros(0, dtype=np.int16), info)


def _db(power: float) -> float:
    return 10 * math.log10(power) if power > 0 else _SILENT_DB


class Segmenter:
    """Collects endpointer events into whole segments, for recognizers that decode at the end."""

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        self.endpointer = Endpointer(settings)
        self._parts: list[Samples] = []

    def process(self, samples: Samples | bytes) -> list[Segment]:
        """Feed audio; returns the segments that closed in it."""
        return self._collect(self.endpointer.process(samples))

    def flush(self) -> list[Segment]:
        """End of stream: the open segment, if any, closed now."""
        return self._collect(self.endpointer.flush())

    def reset(self) -> None:
        """Forget any open segment and the noise floor."""
        self.endpointer.reset()
        self._parts = []

    def _collect(self, events: list[Event]) -> list[Segment]:
        segments: list[Segment] = []
        for event in events:
            if event.kind is EventKind.START:
                self._parts = [event.audio]
            elif event.kind is EventKind.AUDIO:
                self._parts.append(event.audio)
            else:
                audio = np.concatenate(self._parts) if self._parts else event.audio
                segments.append(Segment(event.segment, audio.astype(np.int16)))
                self._parts = []
        return segments


class NoiseReducer:
    """Spectral subtraction of stationary noise, with the noise measured before the speech.

    Recognizers trained on quiet speech (pocketsphinx's US model) lose a third of short
    commands in 10 dB pink noise; taking off the noise spectrum measured just before a
    segment, with a gain floor against "musical" noise, gets most of them back. Frames of
    ``frame_len`` samples, square-root Hann windows at 50 % overlap (exact reconstruction
    when nothing is taken off). Digital silence measures as no noise and passes unchanged.
    """

    def __init__(
        self, *, frame_len: int = 512, oversubtract: float = 1.0, gain_floor: float = 0.1
    ) -> None:
        if frame_len < 64 or frame_len % 2:
            raise ValueError(f"frame_len must be an even number of at least 64, got {frame_len}")
        if oversubtract < 0 or not 0 < gain_floor <= 1:
            raise ValueError("need oversubtract >= 0 and 0 < gain_floor <= 1")
        self.frame_len = frame_len
        self.oversubtract = oversubtract
        self.gain_floor = gain_floor
        self._hop = frame_len // 2
        self._window = np.sqrt(np.hanning(frame_len + 1)[:frame_len])
        self.noise: npt.NDArray[np.float64] | None = None
        """Noise power per frequency bin, as last measured (None before any measurement)."""

    def _frames(self, audio: npt.NDArray[np.float64]) -> npt.NDArray[np.complex128]:
        count = (len(audio) - self.frame_len) // self._hop + 1
        if count <= 0:
            return np.zeros((0, self.frame_len // 2 + 1), dtype=np.complex128)
        index = np.arange(self.frame_len)[None, :] + self._hop * np.arange(count)[:, None]
        return np.fft.rfft(audio[index] * self._window, axis=1)

    def measure(self, audio: Samples, min_seconds: float = 0.25) -> bool:
        """Take the noise spectrum from ``audio`` (no speech in it); False if it is too short.

        The per-bin median power over frames (scaled to the mean of exponentially distributed
        periodogram values) tolerates a few frames of breath or clicks.
        """
        if len(audio) < max(min_seconds * SAMPLE_RATE, self.frame_len * 2):
            return False
        spectra = self._frames(audio.astype(np.float64))
        power = np.median(np.abs(spectra) ** 2, axis=0) / math.log(2)
        # Smooth over neighbouring bins: fewer frames, less variance.
        kernel = np.ones(5) / 5
        self.noise = np.convolve(power, kernel, mode="same")
        return True

    def apply(self, audio: Samples) -> Samples:
        """``audio`` with the measured noise taken off (unchanged before any measurement)."""
        if self.noise is None or not np.any(self.noise > 0) or len(audio) == 0:
            return audio
        hop, size = self._hop, self.frame_len
        padded = np.concatenate([np.zeros(size), audio.astype(np.float64), np.zeros(size)])
        spectra = self._frames(padded)
        power = np.abs(spectra) ** 2
        gain = np.sqrt(
            np.maximum(
                1 - self.oversubtract * self.noise / np.maximum(power, 1e-9), self.gain_floor
            )
        )
        frames = np.fft.irfft(spectra * gain, size, axis=1) * self._window
        out = np.zeros(len(padded))
        for number, frame in enumerate(frames):
            out[number * hop : number * hop + size] += frame
        # sqrt-Hann analysis and synthesis at 50 % overlap sum to one (Hann), bar the edges.
        norm = np.zeros(len(padded))
        for number in range(len(frames)):
            norm[number * hop : number * hop + size] += self._window**2
        result = out / np.maximum(norm, 1e-3)
        trimmed = result[size : size + len(audio)]
        return np.clip(np.round(trimmed), -32768, 32767).astype(np.int16)
