"""Privacy: no audio is kept or sent anywhere unless the user asks, and nothing goes online.

Whole sessions run as a user runs them, in a process (and voice helper) whose every Python
network call is seen by an audit hook that records it and refuses it. The hook sees C-level
sockets only through Python, so the sound server's own UNIX socket is not in its view; what
it does see is every address lookup and connection the coach's Python code could make.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from speech import PIPER, at_level, synthesize

from assistant.history import History
from assistant.ports import SAMPLE_RATE
from assistant.runner import EXIT_PAIN

COACH = (sys.executable, "-m", "assistant")
README = Path(__file__).parent.parent / "README.md"

AUDIT_HOOK = """
import os, socket, sys

_LOG = os.environ["PRIVACY_TEST_NETWORK_LOG"]
_REFUSED = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
            "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg", "socket.bind"}
_SEEN = _REFUSED | {"urllib.Request", "http.client.connect"}


def _hook(event, args):
    if event not in _SEEN:
        return
    sock = args[0] if args else None
    if isinstance(sock, socket.socket) and sock.family == socket.AF_UNIX:
        return
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {event} {args!r}\\n")
    if event in _REFUSED:
        raise PermissionError(f"network use refused by the privacy test: {event}")


sys.addaudithook(_hook)
"""

AUDIO_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"ID3", b"\x93NUMPY")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".raw", ".pcm", ".npy", ".opus", ".webm"}


def _audited(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment for a coach whose network use is logged and refused, with its own dirs."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT_HOOK, encoding="utf-8")
    log = tmp_path / "network.log"
    log.touch()
    for name in ("home", "tmp", "data", "config"):
        (tmp_path / name).mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(hook),
        "PRIVACY_TEST_NETWORK_LOG": str(log),
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "EXERCISE_COACH_DATA_DIR": str(tmp_path / "data"),
        "EXERCISE_COACH_CONFIG": str(tmp_path / "config" / "config.toml"),
    }
    return env, log


def _audio_files(*folders: Path) -> list[Path]:
    """Files that are audio by name or by their first bytes."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            with path.open("rb") as file:
                head = file.read(8)
            if path.suffix.lower() in AUDIO_SUFFIXES or head.startswith(AUDIO_MAGIC):
                found.append(path)
    return found


def _user_says_pain(path: Path) -> npt.NDArray[np.int16]:
    pain = at_level(synthesize("I'm in pain", PIPER), -20.0)
    audio = np.concatenate([np.zeros(6 * SAMPLE_RATE, np.int16), pain])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(audio.astype("<i2").tobytes())
    return audio


def _start_spoken_session(folder: Path, *extra: str) -> subprocess.Popen[str]:
    """A spoken session from a recording to a WAV, which the user's pain ends."""
    env, _ = _audited(folder)
    files = folder / "files"
    files.mkdir()
    _user_says_pain(files / "user.wav")
    heard, spoken = str(files / "user.wav"), str(files / "coach.wav")
    files_flags = ("--audio-in", heard, "--audio-out", spoken)
    return subprocess.Popen(
        [*COACH, "run", "--routine", "spine", "--engine", "pocketsphinx", *files_flags, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two spoken sessions run side by side (each takes ~20 s of real-time speech): one as
    everybody runs it, one with ``--record``; the folder each ran in, after it ended."""
    folders = {name: tmp_path_factory.mktemp(name) for name in ("plain", "recorded")}
    coaches = {
        "plain": _start_spoken_session(folders["plain"]),
        "recorded": _start_spoken_session(
            folders["recorded"], "--record", str(folders["recorded"] / "recordings")
        ),
    }
    for coach in coaches.values():
        out, err = coach.communicate(timeout=180)
        assert coach.returncode == EXIT_PAIN, out[-2000:] + err[-3000:]
    return folders


def test_a_spoken_session_keeps_no_audio_and_makes_no_network_connection(
    spoken: dict[str, Path],
) -> None:
    tmp_path = spoken["plain"]
    log = tmp_path / "network.log"
    assert log.read_text(encoding="utf-8") == "", "the coach used the network"
    places = [tmp_path / name for name in ("data", "config", "home", "tmp")]
    assert _audio_files(*places) == [], "audio was kept where the user did not ask for it"
    assert not list((tmp_path / "tmp").glob("coach-voice-*")), "the voice's scratch is removed"
    assert (tmp_path / "data" / "history.sqlite3").exists()
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["coach.wav", "user.wav"]


def test_record_saves_what_the_microphone_heard_only_when_asked(spoken: dict[str, Path]) -> None:
    tmp_path = spoken["recorded"]
    recordings = tmp_path / "recordings"
    assert (tmp_path / "network.log").read_text(encoding="utf-8") == ""
    (recording,) = recordings.iterdir()
    assert recording.name.startswith("microphone-") and recording.suffix == ".wav"
    with wave.open(str(recording), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        heard = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    with wave.open(str(tmp_path / "files" / "user.wav"), "rb") as wav:
        said = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert heard.size >= said.size * 0.9, "it holds the microphone audio up to the pain"
    common = min(heard.size, said.size)
    assert np.array_equal(heard[:common], said[:common]), "exactly what the microphone gave"
    places = [tmp_path / name for name in ("data", "config", "home", "tmp")]
    assert _audio_files(*places) == [], "and nowhere else"


def test_a_text_session_and_history_make_no_network_connection(tmp_path: Path) -> None:
    env, log = _audited(tmp_path)
    for args, stdin in (
        (["run", "--text", "--routine", "spine", "--time-scale", "0.001"], "stop\n"),
        (["history"], ""),
        (["list"], ""),
    ):
        done = subprocess.run(
            [*COACH, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert log.read_text(encoding="utf-8") == ""


def test_the_audit_hook_does_see_the_one_command_that_goes_online(tmp_path: Path) -> None:
    """The control: fetch-model looks up the model server, and the hook sees (and stops) it."""
    env, log = _audited(tmp_path)
    done = subprocess.run(
        [*COACH, "fetch-model"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2, done.stderr[-2000:]
    seen = log.read_text(encoding="utf-8")
    assert "socket.getaddrinfo" in seen and "alphacephei.com" in seen, seen


def test_the_history_schema_has_no_place_for_audio(tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite3"):
        pass
    with sqlite3.connect(tmp_path / "history.sqlite3") as conn:
        listed = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [row[0] for row in listed]
        columns = [
            (table, name.lower(), kind.upper())
            for table in tables
            for _, name, kind, *_ in conn.execute(f"PRAGMA table_info({table})")
        ]
    assert {"sessions", "sets", "events"} <= {table for table, _, _ in columns}
    for table, name, kind in columns:
        assert kind in ("INTEGER", "TEXT"), f"{table}.{name} is {kind}"
        assert not any(word in name for word in ("audio", "wav", "record", "sound", "voice"))


def test_the_readme_says_so() -> None:
    text = " ".join(README.read_text(encoding="utf-8").lower().split())
    assert "no audio is stored or sent anywhere unless you ask" in text
    assert "--record dir" in text
    assert "the history holds no recordings" in text
    assert "no network connection except `fetch-model`" in text
