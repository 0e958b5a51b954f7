"""A virtual sound card for tests: a private PulseAudio daemon with a null sink, and a recorder.

Per shared/AUDIO-FACTS.md: a temporary XDG_RUNTIME_DIR, the native protocol on a socket in it,
``module-null-sink sink_name=virt`` and ``module-always-sink``; PULSE_SERVER, PULSE_SINK=virt
and PULSE_SOURCE=virt.monitor point PortAudio's ALSA ``pulse``/``default`` devices at it.

The null sink renders in 2 s blocks unless some stream asks for a low latency, which stalls
PortAudio's callbacks for seconds; the recorder (``parec --latency-msec=10`` on the monitor)
is that stream, so it runs for as long as the daemon does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

RATE = 44_100
"""The null sink's default rate, and so PortAudio's default output rate."""


@dataclass
class MonitorRecorder:
    """Records ``virt.monitor`` through parec; places every sample on the monotonic clock."""

    rate: int = RATE
    _proc: subprocess.Popen[bytes] | None = None
    _chunks: list[npt.NDArray[np.float32]] = field(default_factory=list)
    _frames: int = 0
    _anchor: float = float("inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _first: threading.Event = field(default_factory=threading.Event)

    def start(self, env: dict[str, str], timeout: float = 10.0) -> None:
        """Start parec and wait for its first audio (the sink wakes from a 2 s block first)."""
        self._proc = subprocess.Popen(
            [
                "parec",
                "--device=virt.monitor",
                "--raw",
                "--format=float32le",
                f"--rate={self.rate}",
                "--channels=1",
                "--latency-msec=10",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            bufsize=0,
        )
        self._thread = threading.Thread(target=self._read, name="parec", daemon=True)
        self._thread.start()
        if not self._first.wait(timeout):
            self.close()
            raise RuntimeError("parec recorded nothing from virt.monitor")

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        rest = b""
        while data := os.read(fd, 8192):
            now = time.monotonic()
            data = rest + data
            usable = len(data) - len(data) % 4
            rest = data[usable:]
            block = np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)
            with self._lock:
                self._chunks.append(block)
                self._frames += block.size
                # Each read bounds from above when sample 0 was captured; keep the tightest.
                self._anchor = min(self._anchor, now - self._frames / self.rate)
            self._first.set()

    def audio(self, start: float, end: float) -> npt.NDArray[np.float32]:
        """What the sink played between two monotonic times (zeros where not yet recorded)."""
        with self._lock:
            everything = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
            anchor = self._anchor
        frames = max(0, round((end - start) * self.rate))
        out = np.zeros(frames, np.float32)
        first = round((start - anchor) * self.rate)
        lo, hi = max(first, 0), min(first + frames, everything.size)
        if lo < hi:
            out[lo - first : hi - first] = everything[lo:hi]
        return out

    def wait_until(self, when: float, timeout: float = 5.0) -> None:
        """Block until audio up to monotonic time ``when`` has been recorded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._anchor + self._frames / self.rate >= when:
                    return
            time.sleep(0.01)
        raise TimeoutError(f"no recording up to {when:.3f}")

    def close(self) -> None:
        """Stop parec."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._thread is not None:
            self._thread.join(2.0)


@dataclass
class PulseAudio:
    """A running private PulseAudio daemon."""

    runtime_dir: Path
    pid: int
    env: dict[str, str]
    """The variables that point PulseAudio clients at this daemon."""
    recorder: MonitorRecorder


def _reinit_portaudio() -> None:
    # PortAudio lists devices once at init; make it see the environment as it is now.
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


@contextlib.contextmanager
def pulse_server() -> Iterator[PulseAudio]:
    """Start a daemon with a null sink ``virt``, set the env vars, yield, kill it by pid."""
    if shutil.which("pulseaudio") is None or shutil.which("parec") is None:
        message = "pulseaudio and parec are needed (apt-get install pulseaudio pulseaudio-utils)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs them: a missing one is a broken install
        pytest.skip(message)
    runtime = Path(tempfile.mkdtemp(prefix="pulse-"))
    runtime.chmod(0o700)
    socket = runtime / "pulse-native"
    env = {
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_SERVER": f"unix:{socket}",
        "PULSE_SINK": "virt",
        "PULSE_SOURCE": "virt.monitor",
    }
    saved = {name: os.environ.get(name) for name in env}
    subprocess.run(
        [
            "pulseaudio",
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "--system=false",
            "-n",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
            "--load=module-null-sink sink_name=virt",
            "--load=module-always-sink",
        ],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=20,
    )
    pid = int((runtime / "pulse" / "pid").read_text().split()[0])
    recorder = MonitorRecorder()
    try:
        os.environ.update(env)
        _reinit_portaudio()
        recorder.start({**os.environ, **env})
        yield PulseAudio(runtime, pid, env, recorder)
    finally:
        recorder.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reinit_portaudio()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="module")
def pulse_audio() -> Iterator[PulseAudio]:
    """A private PulseAudio daemon for the tests of one module, with the monitor recorded."""
    with pulse_server() as server:
        yield server
