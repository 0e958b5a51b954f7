"""Keeping the coach from obeying its own voice: echo cancellation and a self-word check.

The coach's speech reaches the microphone, and its sentences contain command words ("say
pain, and we will stop"). Two defences, one per method of the listener's EchoGuard port:

1. ``process`` cancels the echo. The audio played (``reference``, placed on the monotonic
   clock at the time it is heard) is read as one continuous stream aligned with the
   microphone's capture times and resampled to 16 kHz. An adaptive filter (partitioned-block
   frequency-domain NLMS, two-path so double talk cannot wreck it, behind a bulk delay found
   by GCC-PHAT cross-correlation) subtracts the echo it predicts. What is left of the echo
   (speaker distortion, misadjustment) would still open the recognizer's endpointer, so a
   broadband gate mutes 10 ms frames that hold no more than the expected residual and fills
   them with noise at the room's level; frames with other speech pass untouched, so "pain"
   said over the coach reaches the recognizer undistorted. WebRTC's AEC3
   (``aec-audio-processing``) is the alternative canceller: it removes more echo but its
   suppressor also eats much of the user's speech during double talk (measured in
   tests/test_echo.py).
2. ``is_own_speech`` refuses a heard command when the coach was saying one of that
   command's phrases at that moment (its utterance overlapping the heard time, narrowed to
   the words near that time), *unless* the microphone held speech of its own in the heard
   segment: frames where what was left after cancellation stands well above the echo
   residual expected there. A command the coach was not saying is never refused.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from assistant.grammar import Grammar, normalise
from assistant.ports import SAMPLE_RATE, Heard

_LOGGER = logging.getLogger(__name__)

FRAME = SAMPLE_RATE // 100
"""Samples per 10 ms frame, the unit of cancellation and of the statistics kept."""

Floats = npt.NDArray[np.float32]
_F64 = npt.NDArray[np.float64]
_C128 = npt.NDArray[np.complex128]
CANCELLERS = ("nlms", "webrtc", "none")


class SpokenLike(Protocol):
    """One utterance of the coach on the monotonic clock (tts.Spoken)."""

    @property
    def text(self) -> str:
        """What was said."""

    @property
    def started(self) -> float:
        """When its first sample is heard."""

    @property
    def ended(self) -> float | None:
        """When its last sample was heard or it was cut off; None while it goes on."""


@dataclass(frozen=True)
class EchoSettings:
    """How the echo guard cancels and decides; defaults suit a speaker near the microphone."""

    canceller: str = "nlms"
    """"nlms" (adaptive filter and gate), "webrtc" (AEC3) or "none" (only the word check)."""
    lead: float = 0.03
    """Seconds after a chunk's capture time where its reference is taken, so the echo
    never comes before its reference even where the output's and the input's time stamps
    agree to a millisecond (PulseAudio); the canceller then finds up to ``max_delay``."""
    max_delay: float = 0.45
    """Seconds of echo delay behind the reference that the canceller looks for."""
    partitions: int = 12
    """10 ms blocks of echo tail the adaptive filter models after the bulk delay."""
    step: float = 0.4
    """Adaptation step of the filter (0-1): faster convergence against more misadjustment."""
    gate_db: float = 10.0
    """Decibels over the typical echo residual at which a frame counts as other speech."""
    gate_noise_db: float = 12.0
    """Decibels over the noise floor at which a frame counts as other speech."""
    gate_hold: float = 0.2
    """Seconds the gate stays open after the last frame of other speech."""
    word_margin: float = 0.6
    """Seconds around a heard segment within which the coach's words count as said then."""
    word_window: float = 1.5
    """Seconds either side of a word's estimated time in an utterance (plus 10% of it)."""
    own_evidence: float = 0.05
    """Seconds of other speech in a segment (or just before it, where the endpointer may
    not yet have started it) that make a self-word the user's after all."""
    warmup: float = 4.0
    """Seconds of the coach's speech the canceller learns from before non-safety commands
    heard over that speech are believed."""
    commands_need_evidence: bool = True
    """While the coach talks, a command other than a safety one counts only with
    ``command_evidence`` of other speech in it, whether or not the coach was saying its
    words: an open-vocabulary recognizer (asr_whisper) makes commands of the echo's remains
    ("slow down" from "slowly lower"). Safety commands keep the word check alone."""
    command_evidence: float = 0.1
    """Seconds of other speech in a command other than a safety one, heard over the
    coach, for it to be the user's (``own_evidence`` is the same for safety commands).
    Over the 36-minute narration, 6 of the 10 commands whisper made of the echo had
    0.05-0.08 s, and none of the 31 user pains heard over it had under 0.1 s
    (docs/benchmarks.md, round 6)."""
    pain_evidence: float = 0.2
    """Seconds of other speech in a segment heard over the coach for a fast recognizer's
    pain to be believed at once (``coach_alone``); with less, it waits for whisper.
    With 0.2 s the 36-minute narration alone fired no pain, and the user's pains over it
    were heard as often or more (docs/benchmarks.md, round 5)."""
    keep_seconds: float = 30.0
    """Seconds of frame statistics kept for the check."""
    suppress: float = 0.0
    """How hard the residual echo suppressor works (0: off, the default): each frequency's
    gain is 1 - ``suppress`` x the residual echo expected there / the power left there,
    while the coach's echo is in the microphone (``_Suppressor``). Measured at 1.5 over the
    36-minute narration (docs/benchmarks.md, round 11): 38 of the user's 50 pains over the
    coach heard instead of 34, but 5 false pains from the narration alone, where whisper
    read "pain" in what was left of the coach's voice. So it is off: kept for a second
    reading of the audio for pain, which that round worked out but did not build."""
    suppress_floor_db: float = -20.0
    """The lowest gain the suppressor gives a frequency, in decibels."""

    def __post_init__(self) -> None:
        if self.canceller not in CANCELLERS:
            raise ValueError(f"canceller must be one of {CANCELLERS}, got {self.canceller!r}")
        if not 0 < self.step <= 1 or self.partitions < 1 or self.max_delay <= 0:
            raise ValueError("need 0 < step <= 1, partitions >= 1 and max_delay > 0")


class _Resampler:
    """The reference read at 16 kHz as one stream: fetched in whole samples of its own rate,
    so no sample is skipped or repeated between chunks."""

    _TAPS = 32

    def __init__(self, fetch: Callable[[float, float], Floats], rate: int, start: float) -> None:
        self._fetch = fetch
        self._rate = rate
        self._start = start
        self._raw: _F64 = np.zeros(self._TAPS)
        self._raw_first = -self._TAPS
        """Index (at ``rate``, from ``start``) of ``_raw[0]``; before ``start`` is silence."""
        self._fetched = 0
        self._emitted = 0
        self._kernel: _F64 | None = None
        if rate > SAMPLE_RATE:
            taps = np.arange(-self._TAPS, self._TAPS + 1)
            cutoff = 0.45 * SAMPLE_RATE / rate
            kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
            self._kernel = kernel / kernel.sum()

    def read(self, count: int) -> _F64:
        """The next ``count`` samples at 16 kHz, full scale 1.0."""
        positions = (self._emitted + np.arange(count)) * (self._rate / SAMPLE_RATE)
        self._emitted += count
        last = math.floor(positions[-1]) + 1 + self._TAPS
        if last >= self._fetched:
            more = last + 1 - self._fetched
            begin = self._start + self._fetched / self._rate
            got = np.asarray(self._fetch(begin, begin + more / self._rate), dtype=np.float64)
            block = np.zeros(more)
            block[: min(more, got.size)] = got[:more]
            self._raw = np.concatenate([self._raw, block])
            self._fetched += more
        drop = math.floor(positions[0]) - self._TAPS - self._raw_first
        if drop > 0:
            self._raw = self._raw[drop:]
            self._raw_first += drop
        base, first = self._raw, self._raw_first
        if self._kernel is not None:
            base, first = np.convolve(self._raw, self._kernel, mode="valid"), first + self._TAPS
        out: _F64 = np.interp(positions - first, np.arange(base.size), base)
        return out


class _Nlms:
    """Two-path partitioned-block frequency-domain NLMS behind a bulk delay (GCC-PHAT)."""

    def __init__(self, settings: EchoSettings) -> None:
        self._parts = settings.partitions
        self._step = settings.step
        bins = FRAME + 1
        self._front: _C128 = np.zeros((self._parts, bins), complex)
        """The filter that makes the output; the background one replaces it when better."""
        self._back: _C128 = np.zeros((self._parts, bins), complex)
        self._spectra: _C128 = np.zeros((self._parts, bins), complex)
        self._previous: _F64 = np.zeros(FRAME)
        self._power: _F64 = np.full(bins, 1.0)
        self._energy = {"front": 1e-9, "back": 1e-9}
        self._blocks = 0
        self._max_lag = round(settings.max_delay * SAMPLE_RATE)
        self._history = round(1.0 * SAMPLE_RATE)
        self._refs: _F64 = np.zeros(self._history + self._max_lag + FRAME)
        self._mics: _F64 = np.zeros(self._history)
        self.delay = 0
        """Samples the reference is delayed by before the filter."""
        self._lag: int | None = None
        """Samples the echo lags the reference, as last measured."""
        self._candidate: int | None = None
        self._active = 0

    def frame(self, mic: _F64, ref: _F64) -> tuple[_F64, _F64]:
        """One 10 ms block (int16 scale): the microphone less the echo, and the echo estimate."""
        self._refs = np.concatenate([self._refs[FRAME:], ref])
        self._mics = np.concatenate([self._mics[FRAME:], mic])
        self._blocks += 1
        if float(np.mean(ref**2)) > 3e3:
            self._active += 1
        if self._active >= 40 and self._blocks % 25 == 0:
            self._estimate_delay()
            self._active = 0
        end = self._refs.size - self.delay
        block = self._refs[end - FRAME : end]
        spectrum = np.fft.rfft(np.concatenate([self._previous, block]))
        self._previous = block
        self._spectra = np.roll(self._spectra, 1, axis=0)
        self._spectra[0] = spectrum
        self._power = 0.9 * self._power + 0.1 * np.abs(spectrum) ** 2
        echo = np.fft.irfft((self._front * self._spectra).sum(axis=0))[FRAME:]
        back_echo = np.fft.irfft((self._back * self._spectra).sum(axis=0))[FRAME:]
        error, back_error = mic - echo, mic - back_echo
        gradient = np.fft.rfft(np.concatenate([np.zeros(FRAME), back_error]))
        norm = self._parts * self._power + 1e-3 * float(np.mean(self._power)) + 1.0
        self._back += self._step * np.conj(self._spectra) * (gradient / norm)
        # Constrain one partition per block to a linear (not circular) convolution.
        part = self._blocks % self._parts
        taps = np.fft.irfft(self._back[part])
        taps[FRAME:] = 0.0
        self._back[part] = np.fft.rfft(taps)
        front = 0.95 * self._energy["front"] + 0.05 * float(np.sum(error**2))
        back = 0.95 * self._energy["back"] + 0.05 * float(np.sum(back_error**2))
        if back < 0.8 * front:
            self._front[:] = self._back
            front = back
        elif back > 4 * front:  # double talk threw the background filter off: restart it
            self._back[:] = self._front
            back = front
        self._energy = {"front": front, "back": back}
        return error, echo

    def _estimate_delay(self) -> None:
        refs = self._refs[-(self._history + self._max_lag) :]
        size = 1 << (self._mics.size + refs.size - 1).bit_length()
        cross = np.fft.rfft(self._mics, size) * np.conj(np.fft.rfft(refs, size))
        cross /= np.abs(cross) + 1e-9
        lags = np.fft.irfft(cross, size)[(np.arange(self._max_lag) - self._max_lag) % size]
        lag = int(np.argmax(lags))
        _LOGGER.debug("echo lag %d, peak %.1f", lag, lags[lag] / float(np.mean(np.abs(lags))))
        if lags[lag] < 8 * float(np.mean(np.abs(lags))):
            return  # no clear peak: keep what we have
        if self._lag is None:
            _LOGGER.info("Echo delay %.0f ms", 1000 * lag / SAMPLE_RATE)
        elif abs(lag - self._lag) < 3:
            self._candidate = None
            return
        elif abs(lag - self._lag) > 80 and (
            self._candidate is None or abs(self._candidate - lag) > 16
        ):
            self._candidate = lag  # a big change must be seen twice
            return
        # The path moved in time (an output underrun, the reference's placement), not in
        # shape: move the bulk delay with it and keep the filter, which would take seconds
        # to learn again.
        self._lag, self._candidate = lag, None
        self.delay = max(0, lag - 32)  # room for the path's start and the resampler


class _NearEnd:
    """Frames where the microphone holds speech beyond the echo residual; a gate on the rest."""

    def __init__(self, settings: EchoSettings) -> None:
        self._margin = 10 ** (settings.gate_db / 10)
        self._over_noise = 10 ** (settings.gate_noise_db / 10)
        self._hold_frames = round(settings.gate_hold * 100)
        self._ratios: deque[float] = deque(maxlen=500)
        self._typical = 0.01
        self._echo = 0.0
        self.noise = 1e4
        """Mean square of the microphone's noise floor (int16 scale)."""
        self._open = 0
        self._rng = np.random.default_rng(0)

    def judge(self, out: _F64, echo: _F64) -> tuple[bool, bool]:
        """(other speech in this frame, the coach's echo is in it)."""
        power, echo_power = float(np.mean(out**2)), float(np.mean(echo**2))
        self._echo = max(echo_power, 0.7 * self._echo)  # the room's tail after each sound
        echoing = self._echo > 2 * self.noise
        if not echoing:
            self.noise = min(max(power, 1.0), self.noise * 1.002)
        else:
            self._ratios.append(power / (self._echo + 1e-9))
            if len(self._ratios) > 50 and len(self._ratios) % 10 == 0:
                self._typical = float(np.median(self._ratios))
        near = power > self.noise * self._over_noise and power > (
            self._typical * self._echo * self._margin
        )
        return near, echoing

    def gate(self, out: _F64, near: bool, echoing: bool) -> _F64:
        """Pass frames with other speech or no echo; replace echo residue with room noise."""
        if near:
            self._open = self._hold_frames
        if not echoing or self._open > 0:
            self._open = max(0, self._open - 1)
            return out
        comfort = self._rng.standard_normal(out.size) * math.sqrt(self.noise)
        return 0.03 * out + 0.97 * comfort


class _Suppressor:
    """Residual echo suppression after the NLMS canceller, per frequency.

    The speaker's distortion leaves echo the linear filter cannot predict; whisper writes
    the coach's words from it over the user's. In 20 ms windows (sqrt-Hann, 10 ms hop, so
    the output is 10 ms late), the residual expected in each frequency is the filter's echo
    estimate there times the share of it that was left over in frames of echo alone
    (learned as the coach talks); each frequency keeps 1 - ``suppress`` x that / what is
    left there, no less than the floor. Frames without the coach's echo pass unchanged.
    """

    def __init__(self, settings: EchoSettings) -> None:
        self._over = settings.suppress
        self._floor = 10 ** (settings.suppress_floor_db / 20)
        self._window = np.sqrt(np.hanning(2 * FRAME + 1)[: 2 * FRAME])
        bins = FRAME + 1
        self._previous = (np.zeros(FRAME), np.zeros(FRAME))
        self._tail = np.zeros(FRAME)
        self._left = np.full(bins, 1e-9)
        """Power left after the filter, per frequency, in frames of echo alone (smoothed)."""
        self._estimated = np.full(bins, 1e-9)
        """The filter's echo estimate's power in those frames."""
        self._residual = np.zeros(bins)
        """The residual expected, held over the room's tail."""

    def frame(self, out: _F64, echo: _F64, near: bool, echoing: bool) -> _F64:
        """The previous 10 ms of ``out`` (the canceller's output) with the residual removed."""
        cleaned, estimate = self._previous
        self._previous = (out, echo)
        spectrum = np.fft.rfft(np.concatenate([cleaned, out]) * self._window)
        echo_power = np.abs(np.fft.rfft(np.concatenate([estimate, echo]) * self._window)) ** 2
        echo_power = np.convolve(echo_power, np.ones(5) / 5, mode="same")  # distortion spreads
        power = np.abs(spectrum) ** 2
        if echoing and not near:
            self._left = 0.95 * self._left + 0.05 * power
            self._estimated = 0.95 * self._estimated + 0.05 * echo_power
        self._residual = np.maximum(
            echo_power * np.minimum(self._left / self._estimated, 1.0), 0.6 * self._residual
        )
        if echoing:
            gain = np.clip(1.0 - self._over * self._residual / (power + 1e-9), self._floor, 1.0)
            spectrum = spectrum * gain
        shaped = np.fft.irfft(spectrum, 2 * FRAME) * self._window
        result: _F64 = shaped[:FRAME] + self._tail
        self._tail = shaped[FRAME:]
        return result


class _WebRtc:
    """WebRTC AEC3 in 10 ms frames; imported when made."""

    def __init__(self) -> None:
        from aec_audio_processing import AudioProcessor

        self._ap: Any = AudioProcessor(
            enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False
        )
        self._ap.set_stream_format(SAMPLE_RATE, 1)
        self._ap.set_reverse_stream_format(SAMPLE_RATE, 1)
        self._ap.set_stream_delay(0)

    def frame(self, mic: _F64, ref: _F64) -> tuple[_F64, _F64]:
        self._ap.process_reverse_stream(_pcm(ref).tobytes())
        out = np.frombuffer(self._ap.process_stream(_pcm(mic).tobytes()), dtype="<i2")
        cleaned = out.astype(np.float64)
        return cleaned, mic - cleaned  # what it removed stands in for its echo estimate


class EchoGuard:
    """The listener's EchoGuard: cancels the coach's voice and refuses its own words."""

    def __init__(
        self,
        reference: Callable[[float, float], Floats],
        reference_rate: int,
        spoken: Callable[[], Sequence[SpokenLike]],
        grammar: Grammar,
        settings: EchoSettings | None = None,
    ) -> None:
        """``reference(start, end)``: what was played between two monotonic times at
        ``reference_rate`` (VoiceSpeaker.reference); ``spoken()``: the coach's utterances."""
        self.settings = settings or EchoSettings()
        self._reference = reference
        self._rate = reference_rate
        self._spoken = spoken
        self._phrases = {c.name: tuple(p.split() for p in c.phrases) for c in grammar.commands}
        self._safety = {c.name for c in grammar.commands if c.safety}
        self.echo_seconds = 0.0
        """Seconds of the coach's playback the canceller has learned from."""
        self._canceller: _Nlms | _WebRtc | None = None
        self._near_end = _NearEnd(self.settings)
        self._suppressor = _Suppressor(self.settings) if self.settings.suppress > 0 else None
        self._resampler: _Resampler | None = None
        self._pending: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._pending_at = 0.0
        self._ready: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._frames: deque[tuple[float, bool]] = deque(
            maxlen=round(self.settings.keep_seconds * 100)
        )
        """(capture time, other speech in it) of each 10 ms frame."""
        self.cpu_seconds = 0.0
        """Processor seconds spent in process(), for benchmarks."""
        self.audio_seconds = 0.0
        """Seconds of microphone audio processed."""

    # --- cancellation -------------------------------------------------------------------------

    def process(self, pcm: bytes, captured_at: float) -> bytes:
        """Remove the coach's playback from a chunk captured from ``captured_at`` (monotonic)."""
        began = time.process_time()
        mic = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        if not self._pending.size:
            self._pending_at = captured_at
        self._pending = np.concatenate([self._pending, mic])
        whole = self._pending.size // FRAME * FRAME
        if whole:
            done = self._cancel(self._pending[:whole], self._pending_at)
            self._ready = np.concatenate([self._ready, done])
            self._pending = self._pending[whole:]
            self._pending_at += whole / SAMPLE_RATE
        if self._ready.size < mic.size:
            # A chunk of no whole number of frames: delay the output once by the shortfall.
            self._ready = np.concatenate(
                [np.zeros(mic.size - self._ready.size, np.int16), self._ready]
            )
        out, self._ready = self._ready[: mic.size], self._ready[mic.size :]
        self.cpu_seconds += time.process_time() - began
        self.audio_seconds += mic.size / SAMPLE_RATE
        return out.astype("<i2").tobytes()

    def _cancel(self, mic: npt.NDArray[np.int16], at: float) -> npt.NDArray[np.int16]:
        s = self.settings
        if self._resampler is None:
            self._resampler = _Resampler(self._reference, self._rate, at + s.lead)
            if s.canceller != "none":
                self._canceller = _Nlms(s) if s.canceller == "nlms" else _WebRtc()
        ref = self._resampler.read(mic.size) * 32767.0
        out = np.empty_like(mic)
        for start in range(0, mic.size, FRAME):
            m = mic[start : start + FRAME].astype(np.float64)
            if self._canceller is None:
                cleaned, echo = m, ref[start : start + FRAME]
            else:
                cleaned, echo = self._canceller.frame(m, ref[start : start + FRAME])
            near, echoing = self._near_end.judge(cleaned, echo)
            if echoing:
                self.echo_seconds += FRAME / SAMPLE_RATE
            self._frames.append((at + start / SAMPLE_RATE, near))
            if isinstance(self._canceller, _Nlms):
                if self._suppressor is not None:
                    cleaned = self._suppressor.frame(cleaned, echo, near, echoing)
                cleaned = self._near_end.gate(cleaned, near, echoing)
            out[start : start + FRAME] = _pcm(cleaned)
        return out

    # --- the self-word check ----------------------------------------------------------------

    def is_own_speech(self, heard: Heard, spoken_at: tuple[float, float]) -> bool:
        """True if ``heard`` is the coach's own words over ``spoken_at`` (monotonic times)."""
        s = self.settings
        safety = heard.command in self._safety
        if not safety and self.echo_seconds < s.warmup and self.coach_talking(spoken_at):
            # The canceller has not learned the echo yet: while the coach talks, only pain
            # gets through (the user can say anything else again).
            _LOGGER.info("Heard %r while the canceller was still learning: ignored", heard.text)
            return True
        saying = self.coach_was_saying(heard.command, spoken_at)
        strict = s.commands_need_evidence and not safety
        if not saying and not (strict and self.coach_talking(spoken_at)):
            return False
        evidence = self.other_speech_seconds(spoken_at)
        own = evidence < (s.own_evidence if safety else s.command_evidence)
        _LOGGER.info(
            "Heard %r as I %s, with %.2f s of other speech: %s",
            heard.text,
            "said it" if saying else "talked",
            evidence,
            "my own words" if own else "the user's",
        )
        return own

    def coach_alone(self, spoken_at: tuple[float, float]) -> bool:
        """True if the coach was talking around ``spoken_at`` and the microphone held less
        than ``pain_evidence`` seconds of other speech in it: what was heard there may be
        the coach's own voice."""
        return (
            self.coach_talking(spoken_at)
            and self.other_speech_seconds(spoken_at) < self.settings.pain_evidence
        )

    def coach_talking(self, spoken_at: tuple[float, float]) -> bool:
        """True if the coach was saying something within ``word_margin`` of ``spoken_at``."""
        return bool(self._words_said(spoken_at))

    def coach_was_saying(self, command: str, spoken_at: tuple[float, float]) -> bool:
        """True if a phrase of ``command`` was in what the coach said around ``spoken_at``."""
        phrases = self._phrases.get(command, ())
        said = self._words_said(spoken_at)
        return any(_contains(words, phrase) for words in said for phrase in phrases)

    def other_speech_seconds(self, spoken_at: tuple[float, float]) -> float:
        """Seconds within ``spoken_at`` where the microphone held more than the coach's echo."""
        low, high = spoken_at[0] - 0.3, spoken_at[1] + 0.1
        return sum(near for at, near in self._frames if low <= at <= high) * FRAME / SAMPLE_RATE

    def _words_said(self, spoken_at: tuple[float, float]) -> list[list[str]]:
        s = self.settings
        low, high = spoken_at[0] - s.word_margin, spoken_at[1] + s.word_margin
        said: list[list[str]] = []
        for utterance in _snapshot(self._spoken):
            ended = utterance.ended
            if utterance.started > high or (ended is not None and ended < low):
                continue
            words = normalise(utterance.text).split()
            if ended is None or not words:
                said.append(words)
                continue
            # Place each word by the characters before it; keep those near the heard time,
            # with room for the pauses between sentences, which the count does not know.
            length = ended - utterance.started
            window = s.word_window + 0.1 * length
            sizes = np.array([len(word) + 1 for word in words], dtype=np.float64)
            middles = utterance.started + length * (np.cumsum(sizes) - sizes / 2) / sizes.sum()
            near = (middles > low - window) & (middles < high + window)
            said.append([w if keep else "" for w, keep in zip(words, near, strict=True)])
        return said


def _pcm(samples: _F64) -> npt.NDArray[np.int16]:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def _same_word(said: str, phrase_word: str) -> bool:
    # "paused" is heard as "pause", "hurts" as "hurt": one word may extend the other.
    if said == phrase_word:
        return True
    short, long = sorted((said, phrase_word), key=len)
    return len(short) >= 3 and long.startswith(short) and len(long) - len(short) <= 3


def _contains(words: list[str], phrase: list[str]) -> bool:
    size = len(phrase)
    return any(
        all(_same_word(w, p) for w, p in zip(words[i : i + size], phrase, strict=True))
        for i in range(len(words) - size + 1)
    )


def _snapshot(spoken: Callable[[], Sequence[SpokenLike]]) -> list[SpokenLike]:
    # The voice thread may append while we copy its deque, which then raises: try again.
    for _ in range(5):
        try:
            return list(spoken())
        except RuntimeError:
            continue
    return []


__all__ = ["CANCELLERS", "EchoGuard", "EchoSettings", "SpokenLike"]
