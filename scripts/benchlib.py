"""Shared parts of the listening benchmarks: the corpus manifest, the room, the coach's
narration, percentiles, memory and the machine description.

``make_corpus.py``, ``bench_recognition.py`` and ``bench_echo.py`` import this module; it
imports ``assistant`` the ordinary way, so ``PYTHONPATH=/some/other/checkout`` measures
that checkout's package (``package_info()`` says which one was imported).
"""

from __future__ import annotations

import csv
import importlib.metadata
import math
import os
import platform
import resource
import subprocess
import sys
import wave
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # speech.py and fakes.py: the test suite's helpers

import assistant  # noqa: E402
from assistant.grammar import Grammar, normalise  # noqa: E402
from assistant.ports import SAMPLE_RATE  # noqa: E402

Audio = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float64]

MANIFEST = "manifest.csv"
NONE = "none"
"""``expected`` of a file that holds no command."""
CLEAN = "clean"
"""``snr_db`` of a file with no added noise."""
SPEECH_LEVEL_DBFS = -26.0
"""Speech level at the microphone of a person two or three metres away (RMS of the speech)."""


@dataclass(frozen=True)
class Entry:
    """One row of ``manifest.csv``: a WAV file and what it holds."""

    path: str
    """Relative to the corpus folder."""
    expected: str
    """A command name, or ``none``."""
    kind: str
    """``command`` (the bare command), ``phrase`` (a command said inside a phrase),
    ``narration`` (the coach's own sentences) or ``conversation`` (ordinary talk)."""
    voice: str
    snr_db: str
    """Decibels of speech over noise, or ``clean``."""
    noise: str
    """``none``, ``pink``, ``brown`` or ``babble``."""
    reverb: bool
    """Heard through a room from two or three metres away."""
    text: str
    speech_start: float
    """Seconds into the file where the speech starts."""
    speech_end: float
    """Seconds into the file where the speech ends."""
    seconds: float

    @property
    def condition(self) -> str:
        """The listening condition: noise, level and room ("pink 10 dB", "clean reverb")."""
        label = CLEAN if self.snr_db == CLEAN else f"{self.noise} {self.snr_db} dB"
        return label + (" reverb" if self.reverb else "")

    @property
    def is_command(self) -> bool:
        """True if the file holds a command."""
        return self.expected != NONE


def write_manifest(folder: Path, entries: Iterable[Entry]) -> None:
    """Write ``manifest.csv``: the required columns first, then the descriptive ones."""
    names = [f.name for f in fields(Entry)]
    with open(folder / MANIFEST, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=names)
        writer.writeheader()
        for entry in entries:
            row = asdict(entry)
            row["reverb"] = int(entry.reverb)
            writer.writerow(row)


def read_manifest(folder: Path) -> list[Entry]:
    """The corpus entries in manifest order; SystemExit with a clear message if unusable."""
    path = folder / MANIFEST
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        return [
            Entry(
                path=row["path"],
                expected=row["expected"],
                kind=row["kind"],
                voice=row["voice"],
                snr_db=row["snr_db"],
                noise=row["noise"],
                reverb=row["reverb"] == "1",
                text=row["text"],
                speech_start=float(row["speech_start"]),
                speech_end=float(row["speech_end"]),
                seconds=float(row["seconds"]),
            )
            for row in rows
        ]
    except (OSError, KeyError, ValueError) as err:
        raise SystemExit(f"{path}: not a corpus manifest made by make_corpus.py ({err})") from None


def write_wav(path: Path, audio: Audio) -> None:
    """16 kHz mono 16-bit WAV."""
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(audio.astype("<i2").tobytes())


def read_wav(path: Path) -> Audio:
    """A 16 kHz mono 16-bit WAV as int16 samples."""
    with wave.open(str(path), "rb") as file:
        if (file.getframerate(), file.getnchannels(), file.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise SystemExit(f"{path}: expected 16 kHz mono 16-bit audio")
        return np.frombuffer(file.readframes(file.getnframes()), dtype="<i2").astype(np.int16)


# --- what is a command -------------------------------------------------------------------------

Keys = set[tuple[str, ...]]


def phrase_keys(grammar: Grammar) -> Keys:
    """Every phrase of every command, as word tuples (apostrophes dropped, as matching does)."""
    return {
        tuple(w.replace("'", "") for w in p.split()) for c in grammar.commands for p in c.phrases
    }


def has_command_phrase(text: str, keys: Keys) -> bool:
    """True if ``text`` contains any command phrase anywhere."""
    words = tuple(w.replace("'", "") for w in normalise(text).split())
    return any(
        words[i : i + len(key)] == key for key in keys for i in range(len(words) - len(key) + 1)
    )


# --- the room -------------------------------------------------------------------------------------


def room_impulse(
    distance: float, rt60: float, seed: int, rate: int = SAMPLE_RATE, direct_db: float = -4.0
) -> Floats:
    """A synthetic room impulse response from a talker ``distance`` metres away.

    The direct sound arrives after ``distance`` / 343 s, the floor and nearby walls add a
    few early reflections in the next 20 ms, and the diffuse tail is noise decaying by 60 dB
    in ``rt60`` seconds, darker as it goes (walls and air absorb the highs). ``direct_db`` is
    the direct-to-reverberant energy ratio: a living room's critical distance is about a
    metre, so at two or three metres the reverberation carries more energy than the direct
    sound (about -4 dB).
    """
    rng = np.random.default_rng(seed)
    length = int(rt60 * 1.2 * rate)
    delay = round(distance / 343.0 * rate)
    times = np.arange(length) / rate
    tail = rng.standard_normal(length) * np.exp(-6.9 * times / rt60)
    onset = int(0.005 * rate)
    tail[:onset] *= np.linspace(0.0, 1.0, onset)  # the tail builds up after the direct sound
    darker = np.convolve(tail, np.ones(8) / 8)[:length]
    weight = times / times[-1]
    tail = (1 - weight) * tail + weight * darker
    early = np.zeros(length)
    for _ in range(5):
        early[int(rng.uniform(0.001, 0.02) * rate)] += rng.uniform(0.3, 0.7) * rng.choice([-1, 1])
    direct = np.zeros(length)
    direct[0] = 1.0
    reverberant = early + tail
    scale = math.sqrt(10 ** (-direct_db / 10) / float(np.sum(reverberant**2)))
    response = direct + reverberant * scale
    return np.concatenate([np.zeros(delay), response / float(np.sqrt(np.sum(response**2)))])


def reverberate(audio: npt.NDArray[Any], response: Floats) -> Floats:
    """``audio`` through a room (FFT convolution), as long as the audio plus the tail."""
    size = audio.size + response.size - 1
    bins = 1 << (size - 1).bit_length()
    spectrum = np.fft.rfft(audio.astype(np.float64), bins) * np.fft.rfft(response, bins)
    return np.asarray(np.fft.irfft(spectrum, bins)[:size], dtype=np.float64)


# --- the coach's narration ------------------------------------------------------------------------


def session_lines(routine_name: str) -> list[tuple[float, str]]:
    """Everything the coach says in a first session of a routine, with its session time.

    The session runs on a manual clock with nobody answering: it waits out each position
    and counts every hold and rest, as it does for a user who never speaks.
    """
    from fakes import FakeRecorder, FakeSpeaker

    from assistant.clock import ManualClock
    from assistant.routine import resolve_routine
    from assistant.session import Session

    clock = ManualClock()
    speaker = FakeSpeaker(clock)
    session = Session(resolve_routine(routine_name), speaker, clock, FakeRecorder())
    session.begin()
    clock.advance(6 * 3600.0)
    if not session.is_over:
        raise RuntimeError(f"the {routine_name} session did not end within six hours")
    return list(speaker.timeline)


# --- numbers --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded for the JSON report (None stays None)."""
    return None if value is None else round(value, digits)


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` rounded, or None when there is nothing to count."""
    return round(part / whole, 4) if whole else None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- where it ran ---------------------------------------------------------------------------------

_PACKAGES = (
    "numpy",
    "pocketsphinx",
    "vosk",
    "faster-whisper",
    "ctranslate2",
    "piper-tts",
    "onnxruntime",
    "aec-audio-processing",
)


def package_info() -> dict[str, Any]:
    """Which ``assistant`` was imported (folder, git commit, uncommitted changes)."""
    folder = Path(assistant.__file__).resolve().parent.parent
    info: dict[str, Any] = {"assistant": str(folder)}
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--", "assistant", "grammars"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        info["commit"] = head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        info["commit"] = None
    return info


def machine_info() -> dict[str, Any]:
    """CPU, cores, operating system, Python and the versions of the packages that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        espeak = subprocess.run(
            ["espeak-ng", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.split(" ")[3]
    except (OSError, subprocess.SubprocessError, IndexError):
        espeak = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions | {"espeak-ng": espeak},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
