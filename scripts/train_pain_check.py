"""Train the pain check (assistant/pain_check.py), and score it on a benchmark's fast pains.

pocketsphinx's "pain" is acted on at once, before whisper has decoded (the fast path); 23 of
the 34 false pains of round 6 were its. The pain check is a second opinion on them, without
waiting for whisper:

- the features of openWakeWord (a melspectrogram and Google's ``speech_embedding``, two
  ONNX files in the ``openwakeword`` 0.5.1 package on PyPI);
- small networks (16 embeddings, 1.96 s of audio, to 32 units to one) trained here on
  synthetic speech: the grammar's pain phrases (positive: the windows that end with them),
  and the other commands' phrases, everyday sentences (``corpus/pain_check_talk.txt``),
  near-rhymes (``NEAR``) and strings of dictionary words (negative);
- said by espeak-ng voice variants the benchmark corpus does not use, at random speeds and
  pitches, and by Piper's joe at speeds the corpus does not use (the corpus has joe too: it
  is the only neural voice here, so Piper's results are not from a held-out speaker), in
  the corpus's kinds of noise and room, with other seeds.

``--seeds`` networks are trained on the same clips, from different starting weights; the
check uses their mean. ``--write`` saves them (by default over the package's weights).

With ``--raw`` (a ``bench_recognition.py --raw`` file made with the check off) it also scores
every pain the fast path acted on alone there (whisper did not also accept pain for that
speech): true ones (pain files) and false ones (distractors). The scored audio is the
corpus file with its lead noise repeated before it, as the live stream would have; each
network's score and the mean are written, and how many of each a threshold would doubt.
Prints JSON.

    .venv/bin/python scripts/train_pain_check.py --write
    .venv/bin/python scripts/train_pain_check.py --corpus /tmp/corpus --raw w7_raw.json \\
        --out pain_check.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import benchlib
import numpy as np
import numpy.typing as npt
import speech

from assistant.grammar import default_grammar_path, load_grammar
from assistant.pain_check import (
    AFTER,
    FRAMES,
    WEIGHTS,
    Features,
    Network,
    near_windows,
    network_scores,
    save_networks,
    sigmoid,
    window_end,
)
from assistant.ports import SAMPLE_RATE

Floats = npt.NDArray[np.float32]
TALK = Path(__file__).resolve().parent / "corpus" / "pain_check_talk.txt"
PRE_ROLL = 1.6
"""Seconds of a corpus file's lead noise put before it, as the stream before it."""
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5)
NEAR = (
    "paint", "spain", "plain", "pane", "pay", "paid", "pen", "pin", "train", "rain", "cane",
    "couch", "pouch", "out", "oh", "wow", "how", "now", "hers", "heard", "hearts", "hurry",
    "her", "shirts", "it hunts", "that's hers", "it's her", "my back", "i'm in",
    "that's plain", "in spain", "in vain", "again", "it works", "that works", "birds",
    "it's heard", "paying", "explain", "complain", "main", "lane", "stain", "brain", "chain",
)  # fmt: skip
"""Words and phrases that sound like pain phrases and are not."""
PAINISH = re.compile(r"\b(pain\w*|hurt\w*|ouch|ow|ache\w*|sore|injur\w*)\b")
ESPEAK_VARIANTS = (
    "Adam", "Andy", "Annie", "Auntie", "Belinda", "Boris", "Caleb", "David", "Ed", "Edward",
    "Gene", "Henrique", "Hugo", "Iven", "Jacky", "John", "Lee", "Linda", "Max", "Michael",
    "Mike", "Paul", "Quincy", "Rob", "Robert", "Steph", "Storm", "Zac", "grandpa", "grandma",
    "klatt5", "klatt6", "m1", "m3", "m4", "m5", "m6", "m7", "f1", "f3", "f4", "f5", "norbert",
    "shelby", "travis", "victor",
)  # fmt: skip
"""espeak-ng variants for training; the corpus uses klatt to klatt4 and f2, none of these."""
PIPER_SPEEDS = (110, 135, 160, 190, 210)
"""Piper speeds for training; the corpus uses 125, 150 and 175."""
PIPER_SHARE = 0.2


# --- training clips -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One rendered training clip: its embeddings and where its speech is."""

    number: int
    text: str
    pain: bool
    voice: str
    start: float
    end: float
    embeddings: npt.NDArray[np.float16]


def training_texts(seed: int) -> list[tuple[str, bool, int]]:
    """(text, is pain, renderings): pain phrases many times, the negatives fewer."""
    grammar = load_grammar(default_grammar_path())
    pain = [p for c in grammar.commands if c.safety for p in c.phrases]
    others = [p for c in grammar.commands if not c.safety for p in c.phrases]
    talk = [t for t in TALK.read_text(encoding="utf-8").splitlines() if t and not t.startswith("#")]
    return (
        [(t, True, 40) for t in pain]
        + [(t, False, 4) for t in others]
        + [(t, False, 6) for t in talk]
        + [(t, False, 8) for t in NEAR]
        + [(t, False, 1) for t in dictionary_strings(700, seed)]
    )


def dictionary_strings(count: int, seed: int) -> list[str]:
    """``count`` strings of 1-9 random words of pocketsphinx's dictionary, none pain-like."""
    from pocketsphinx import get_model_path

    words = []
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as file:
        for line in file:
            word = line.split()[0]
            if "(" not in word and word.isalpha() and not PAINISH.search(word):
                words.append(word)
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(count)]


def training_voice(rng: random.Random) -> speech.Voice:
    if rng.random() < PIPER_SHARE:
        return speech.Voice("piper", "joe", rng.choice(PIPER_SPEEDS))
    name = f"{rng.choice(['en-us', 'en-gb', 'en'])}+{rng.choice(ESPEAK_VARIANTS)}"
    return speech.Voice("espeak", name, rng.randint(105, 195), rng.randint(20, 80))


_FEATURES: Features | None = None


def render(job: tuple[int, str, bool]) -> Clip | None:
    """Say ``text`` in a random training voice, level, room and noise; None if too short."""
    global _FEATURES
    number, text, pain = job
    if _FEATURES is None:
        _FEATURES = Features()
    rng = random.Random(number * 7919 + 1)
    voice = training_voice(rng)
    clip = speech.synthesize(text, voice)
    if clip.size < SAMPLE_RATE // 10:
        return None
    clip = speech.at_level(clip, benchlib.SPEECH_LEVEL_DBFS + rng.uniform(-6, 4))
    lead = rng.uniform(1.3, 2.2)  # a whole window of audio before the speech ends
    dry = speech.pad(clip, lead, 0.8)
    wet = dry.astype(np.float64)
    if rng.random() < 0.25:
        wet = benchlib.reverberate(dry, benchlib.room_impulse(rng.uniform(1.5, 3.5), 0.5, number))
        wet = wet[: dry.size] * speech.active_rms(dry) / max(speech.active_rms(_pcm(wet)), 1.0)
    audio = _pcm(wet)
    noise: speech.NoiseKind | Literal["babble"] | None = rng.choice(
        [None, "pink", "brown", "babble", "babble"]
    )
    if noise is not None:
        audio = speech.mix(audio, rng.choice([20.0, 15.0, 10.0, 5.0]), noise, seed=number + 10**5)
    first, last = speech.speech_bounds(clip)
    embeddings = _FEATURES.embeddings(audio).astype(np.float16)
    return Clip(number, text, pain, voice.label, lead + first, lead + last, embeddings)


def _pcm(samples: npt.NDArray[Any]) -> benchlib.Audio:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def windows(clips: Sequence[Clip]) -> tuple[Floats, Floats]:
    """Windows and labels: a pain clip's windows that end with its speech are positive, and
    those before its speech negative; every window of another clip is negative."""
    rows: list[Floats] = []
    labels: list[float] = []
    for clip in clips:
        e = clip.embeddings.astype(np.float32)
        for first in range(len(e) - FRAMES + 1):
            end = window_end(first)
            if not clip.pain:
                label = 0.0
            elif clip.end - 0.1 <= end <= clip.end + AFTER:
                label = 1.0
            elif end < clip.start + 0.15:
                label = 0.0
            else:
                continue
            rows.append(e[first : first + FRAMES].reshape(-1))
            labels.append(label)
    return np.asarray(rows, np.float32), np.asarray(labels, np.float32)


# --- the network ----------------------------------------------------------------------------------


def fit(x: Floats, y: Floats, seed: int, hidden: int = 32, epochs: int = 40) -> Network:
    """A one-hidden-layer network by Adam on class-weighted cross-entropy."""
    rng = np.random.default_rng(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-3
    xn = (x - mu) / sd
    d = x.shape[1]
    params = [
        rng.normal(0, 1 / np.sqrt(d), (d, hidden)).astype(np.float32),
        np.zeros(hidden, np.float32),
        rng.normal(0, 1 / np.sqrt(hidden), (hidden, 1)).astype(np.float32),
        np.zeros(1, np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    weight = (1 - y.mean()) / y.mean()
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for at in range(0, len(y), 256):
            batch = order[at : at + 256]
            xb, yb = xn[batch], y[batch]
            w1, b1, w2, b2 = params
            h = np.maximum(xb @ w1 + b1, 0)
            p = sigmoid((h @ w2 + b2)[:, 0])
            dz = (np.where(yb == 1, weight, 1.0) * (p - yb))[:, None] / len(batch)
            dh = (dz @ w2.T) * (h > 0)
            grads = [xb.T @ dh + 1e-4 * w1, dh.sum(0), h.T @ dz + 1e-4 * w2, dz.sum(0)]
            step += 1
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                corrected = (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
                params[i] = (params[i] - 1e-3 * corrected).astype(np.float32)
    return dict(zip(("w1", "b1", "w2", "b2"), params, strict=True)) | {"mu": mu, "sd": sd}


# --- the fast pains of a benchmark run ------------------------------------------------------------


@dataclass(frozen=True)
class FastPain:
    """A pain the fast path acted on alone, in one corpus file."""

    true: bool
    path: str
    snr_db: str
    voice: str
    text: str
    end: float
    """End of the speech pocketsphinx reported, seconds into the file."""


def fast_pains(raw: list[dict[str, Any]]) -> list[FastPain]:
    """Pains heard on pain files and distractors that no whisper decision accepted."""
    found = []
    for row in (r for shard in raw for r in shard["rows"]):
        true = row["expected"] == "pain"
        if not true and row["kind"] not in ("conversation", "narration"):
            continue
        for command, (start, end) in zip(row["heard"], row["heard_at"], strict=True):
            if command != "pain" or _whisper_accepted_pain(row, start, end):
                continue
            found.append(FastPain(true, row["path"], row["snr_db"], row["voice"], row["text"], end))
    return found


def _whisper_accepted_pain(row: dict[str, Any], start: float, end: float) -> bool:
    base = row["stream_start"]
    return any(
        d["what"] == "segment"
        and d.get("command") == "pain"
        and d["reason"] == "accepted"
        and d["start"] - base < end + 0.3
        and d["end"] - base > start - 0.3
        for d in row["segments"]
    )


def file_embeddings(features: Features, corpus: Path, path: str) -> Floats:
    """A corpus file with its lead noise repeated before it for PRE_ROLL s."""
    audio = benchlib.read_wav(corpus / path)
    lead = audio[: round(0.7 * SAMPLE_RATE)]
    before = np.resize(lead, round(PRE_ROLL * SAMPLE_RATE)).astype(np.int16)
    return features.embeddings(np.concatenate([before, audio]))


def score_at(scores: Floats, end: float) -> float:
    """The highest of ``scores`` of the windows ending near ``end`` (seconds into the file)."""
    near = near_windows(len(scores), end, PRE_ROLL)
    return float(scores[near].max() if near.size else scores.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", nargs="?", type=Path, const=WEIGHTS, help="save the networks")
    parser.add_argument("--corpus", type=Path, help="the benchmark corpus (with --raw)")
    parser.add_argument("--raw", type=Path, help="bench_recognition.py --raw, made without it")
    parser.add_argument("--seeds", type=int, default=5, help="networks trained")
    parser.add_argument("--data-seed", type=int, default=0, help="draw of training clips")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="the whole report, with every fast pain")
    args = parser.parse_args()
    if (args.raw is None) != (args.corpus is None):
        parser.error("--raw and --corpus go together")

    jobs: list[tuple[int, str, bool]] = []
    for text, pain, renderings in training_texts(args.data_seed):
        for _ in range(renderings):
            jobs.append((10**6 * args.data_seed + len(jobs), text, pain))
    with ProcessPoolExecutor(args.jobs) as pool:
        clips = [c for c in pool.map(render, jobs, chunksize=16) if c is not None]
    x, y = windows(clips)
    networks = [fit(x, y, seed) for seed in range(1, args.seeds + 1)]
    if args.write is not None:
        save_networks(networks, args.write)
    report: dict[str, Any] = {
        "training": {
            "clips": len(clips),
            "pain_clips": sum(c.pain for c in clips),
            "windows": len(y),
            "positive_windows": int(y.sum()),
            "voices": len({c.voice for c in clips}),
            "data_seed": args.data_seed,
            "networks": len(networks),
            "written": str(args.write) if args.write else None,
        }
    }
    if args.raw is not None:
        report |= study(networks, args.corpus, json.loads(args.raw.read_text()))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "events"}, indent=1))


def study(networks: list[Network], corpus: Path, raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Each network's and the mean's score of every fast pain of ``raw``, and how many of
    the true and the false ones each threshold would doubt."""
    features = Features()
    cache: dict[str, list[Floats]] = {}
    events = []
    for event in fast_pains(raw):
        if event.path not in cache:
            embeddings = file_embeddings(features, corpus, event.path)
            cache[event.path] = [network_scores(n, embeddings) for n in networks]
        each = [score_at(s, event.end) for s in cache[event.path]]
        mean = score_at(np.mean(cache[event.path], axis=0), event.end)
        events.append(
            {**event.__dict__, "scores": [round(s, 4) for s in each], "mean": round(mean, 4)}
        )

    def doubted(key: str, threshold: float, true: bool) -> int:
        def score(e: dict[str, Any]) -> float:
            return float(e["mean"] if key == "mean" else e["scores"][int(key)])

        return sum(1 for e in events if e["true"] == true and score(e) < threshold)

    keys = [*map(str, range(len(networks))), "mean"]
    return {
        "fast_pains": {
            "true": sum(e["true"] for e in events),
            "false": sum(not e["true"] for e in events),
        },
        "doubted": {
            k: {
                str(t): {"false": doubted(k, t, False), "true": doubted(k, t, True)}
                for t in THRESHOLDS
            }
            for k in keys
        },
        "events": events,
    }


if __name__ == "__main__":
    main()
