"""A second opinion on pocketsphinx's fast "pain": a small classifier of the sound itself.

pocketsphinx forces pieces of ordinary talk onto "it hurts" or "I feel pain", and its pain
is acted on at once (``asr_whisper``: the fast path), so most false pain stops were its
(docs/benchmarks.md, round 6: 23 of 34). This scores the audio that ended with the fast
pain: openWakeWord's features (a melspectrogram and Google's ``speech_embedding``, two
ONNX files in the ``openwakeword`` package from PyPI, which is not imported) and small
networks trained by ``scripts/train_pain_check.py`` on synthetic speech (the grammar's pain
phrases against other commands, everyday talk, near-rhymes and dictionary words, in voices
and noise the benchmark corpus does not use). The weights are ``pain_check.npz`` beside
this file.

The score is the networks' mean probability that a window of 1.96 s ends with pain, the
highest over the windows that end from ``BEFORE`` s before to ``AFTER`` s after the end of
the speech. A low score does not drop the pain: ``asr_whisper`` then waits for whisper's
reading of the same speech, and only a confident reading without pain overrules it.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from assistant.ports import SAMPLE_RATE

_LOGGER = logging.getLogger(__name__)
Floats = npt.NDArray[np.float32]
Audio = npt.NDArray[np.int16]
WEIGHTS = Path(__file__).resolve().parent / "pain_check.npz"
FRAMES = 16
"""Embeddings a window holds (one every 0.08 s, each of 0.76 s of audio): 1.96 s."""
WINDOW_SECONDS = 0.08 * (FRAMES - 1) + 0.76
BEFORE, AFTER = 0.2, 0.45
"""The windows scored end from BEFORE s before to AFTER s after the end of the speech."""
_NETWORK_KEYS = ("mu", "sd", "w1", "b1", "w2", "b2")


class PainCheckUnavailable(RuntimeError):
    """The feature models or the weights cannot be loaded."""


def feature_models() -> tuple[Path, Path]:
    """openWakeWord's melspectrogram and embedding models, found without importing it."""
    spec = importlib.util.find_spec("openwakeword")
    if spec is None or not spec.submodule_search_locations:
        raise PainCheckUnavailable("openwakeword is not installed (pip install openwakeword)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "resources" / "models"
    paths = folder / "melspectrogram.onnx", folder / "embedding_model.onnx"
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise PainCheckUnavailable(f"openwakeword has no {', '.join(missing)} in {folder}")
    return paths


class Features:
    """Audio to one 96-value speech embedding every 0.08 s (openWakeWord's features)."""

    def __init__(self) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]
        except ImportError as error:
            raise PainCheckUnavailable("onnxruntime is not installed") from error
        mel, embedding = feature_models()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        cpu = ["CPUExecutionProvider"]
        try:
            self._mel = ort.InferenceSession(str(mel), sess_options=options, providers=cpu)
            self._embedding = ort.InferenceSession(
                str(embedding), sess_options=options, providers=cpu
            )
        except Exception as error:  # onnxruntime raises its own kinds for a bad file
            raise PainCheckUnavailable(f"cannot load openWakeWord's models: {error}") from error

    def embeddings(self, audio: Audio) -> Floats:
        """Embedding i covers 0.08 i to 0.08 i + 0.76 s of ``audio`` (16 kHz int16)."""
        return self.embed(self.spectrogram(audio))

    def spectrogram(self, audio: Audio) -> Floats:
        """The melspectrogram (one 32-band frame every 0.01 s), scaled as openWakeWord does."""
        pcm = audio.astype(np.float32)[None, :]
        spec: Floats = np.squeeze(self._mel.run(None, {"input": pcm})[0]) / 10 + 2
        return spec if spec.ndim == 2 else np.zeros((0, 32), np.float32)

    @staticmethod
    def count(spec: Floats) -> int:
        """How many embeddings ``spec`` holds."""
        return len(_starts(spec))

    def embed(self, spec: Floats, first: int = 0, count: int | None = None) -> Floats:
        """Embeddings ``first`` to ``first + count - 1`` of ``spec`` (all from ``first`` when
        ``count`` is None): the embedding model is most of the cost, so only those are made."""
        starts = _starts(spec)[first : None if count is None else first + count]
        if not starts:
            return np.zeros((0, 96), np.float32)
        batch = np.stack([spec[i : i + 76] for i in starts]).astype(np.float32)[..., None]
        out: Floats = self._embedding.run(None, {"input_1": batch})[0].reshape(len(starts), 96)
        return out


def _starts(spec: Floats) -> range:
    """The first melspectrogram frame of each embedding (76 frames, every 8th frame)."""
    return range(0, spec.shape[0] - 75, 8)


def window_end(first: int) -> float:
    """Seconds into the audio at which the window starting at embedding ``first`` ends."""
    return 0.08 * (first + FRAMES - 1) + 0.76


def near_windows(count: int, speech_end: float, offset: float = 0.0) -> npt.NDArray[np.intp]:
    """Which of ``count`` windows (by first embedding) end from ``BEFORE`` s before to
    ``AFTER`` s after ``speech_end``, when ``offset`` s of audio were put before the stream."""
    ends = np.array([window_end(i) for i in range(count)]) - offset
    return np.flatnonzero((ends >= speech_end - BEFORE) & (ends <= speech_end + AFTER))


Network = dict[str, Floats]


def network_scores(network: Network, embeddings: Floats) -> Floats:
    """One network's probability of pain for every window (window i starts at embedding i)."""
    count = len(embeddings) - FRAMES + 1
    if count < 1:
        return np.zeros(0, np.float32)
    x = np.stack([embeddings[i : i + FRAMES].reshape(-1) for i in range(count)])
    hidden = np.maximum(((x - network["mu"]) / network["sd"]) @ network["w1"] + network["b1"], 0)
    return sigmoid((hidden @ network["w2"] + network["b2"])[:, 0])


def sigmoid(z: Floats) -> Floats:
    out: Floats = (1 / (1 + np.exp(-np.clip(z, -50, 50)))).astype(np.float32)
    return out


def save_networks(networks: list[Network], path: Path) -> None:
    """Write ``networks`` as one npz (keys ``<i>/<name>``)."""
    arrays = {f"{i}/{k}": n[k].astype(np.float32) for i, n in enumerate(networks) for k in n}
    with path.open("wb") as file:
        np.savez_compressed(file, **arrays)  # type: ignore[arg-type]


def load_networks(path: Path) -> list[Network]:
    try:
        with np.load(path, allow_pickle=False) as data:
            count = len({key.split("/")[0] for key in data.files})
            networks = [
                {k: data[f"{i}/{k}"].astype(np.float32) for k in _NETWORK_KEYS}
                for i in range(count)
            ]
    except (OSError, KeyError, ValueError) as error:
        raise PainCheckUnavailable(
            f"cannot read the pain check's weights {path}: {error}"
        ) from error
    if not networks:
        raise PainCheckUnavailable(f"no networks in {path}")
    return networks


class PainCheck:
    """How much the audio that ended with a fast "pain" sounds like a pain phrase (0-1)."""

    def __init__(self, weights: Path = WEIGHTS, features: Features | None = None) -> None:
        self.networks = load_networks(weights)
        self.features = features or Features()

    def score(self, audio: Audio, speech_end: float) -> float:
        """The highest mean score of the windows ending near ``speech_end`` (seconds into
        ``audio``). Audio shorter than a window is lengthened by repeating its start."""
        pad = max(
            0, round((WINDOW_SECONDS + BEFORE) * SAMPLE_RATE) - round(speech_end * SAMPLE_RATE)
        )
        if pad and audio.size:
            audio = np.concatenate([np.resize(audio[: SAMPLE_RATE // 2], pad), audio]).astype(
                np.int16
            )
        spec = self.features.spectrogram(audio)
        windows = self.features.count(spec) - FRAMES + 1
        if windows < 1:
            return 1.0  # nothing to judge: do not doubt the pain
        near = near_windows(windows, speech_end, pad / SAMPLE_RATE)
        first, last = (int(near[0]), int(near[-1])) if near.size else (windows - 1, windows - 1)
        embeddings = self.features.embed(spec, first, last - first + FRAMES)
        mean = np.mean([network_scores(n, embeddings) for n in self.networks], axis=0)
        return float(mean.max())


def load_pain_check() -> PainCheck | None:
    """The pain check, or None (logged) when it cannot be loaded: pocketsphinx's pain is
    then acted on at once, as before there was a check."""
    try:
        return PainCheck()
    except PainCheckUnavailable as error:
        _LOGGER.warning("No pain check (%s): a fast pain is acted on without it", error)
        return None


__all__ = [
    "Features",
    "PainCheck",
    "PainCheckUnavailable",
    "load_networks",
    "load_pain_check",
    "near_windows",
    "save_networks",
]
