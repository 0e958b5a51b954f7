"""The small interfaces the pure core talks to; adapters implement them at the edge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Speaker(Protocol):
    """Says sentences to the user: a console, a test fake or a real voice."""

    def say(self, text: str) -> None:
        """Queue ``text`` to be spoken after anything already queued; returns at once."""

    def stop(self) -> None:
        """Cut off whatever is being said and drop everything queued."""


class VoiceControl(Protocol):
    """Changes how the voice sounds; remembered between sessions."""

    def adjust(self, setting: str) -> str:
        """Apply "slower", "faster", "louder" or "softer"; returns what to tell the user."""


class Timer(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None:
        """Stop the callback from running; harmless if it already ran."""


class Clock(Protocol):
    """Session time in seconds and callbacks at a session time; run by the one loop."""

    def now(self) -> float:
        """Seconds of session time, monotonic."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the loop after ``delay`` seconds of session time."""


class Outcome(StrEnum):
    """How a session ended."""

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    PAIN = "pain"
    CRASHED = "crashed"


class SessionRecorder(Protocol):
    """Where a session writes what happens, as it happens (history.History)."""

    def start_session(self, routine_id: str, profile: str) -> int:
        """Record a new running session; returns its id."""

    def start_set(
        self, session_id: int, exercise_id: str, set_no: int, side: str | None, reps_planned: int
    ) -> int:
        """Record a set as begun; returns its id."""

    def rep_done(self, set_id: int, reps_done: int) -> None:
        """Record that ``reps_done`` repetitions of the set are complete."""

    def end_set(self, set_id: int, reps_done: int, how: str) -> None:
        """Record a set as over: ``how`` is "completed", "done" (tired), "skipped" or "ended"."""

    def event(self, session_id: int, kind: str, detail: str = "") -> None:
        """Record a pause, resume, longer rest, skip or other event."""

    def end_session(
        self,
        session_id: int,
        outcome: Outcome,
        exercise_id: str | None,
        set_no: int | None,
        rep_no: int | None,
        side: str | None,
    ) -> None:
        """Record how the session ended and where it was."""


SAMPLE_RATE = 16_000
"""Microphone audio everywhere in the project: 16 kHz mono signed 16-bit little-endian PCM."""


@dataclass(frozen=True)
class Heard:
    """A command the recognizer heard, with where it was in the audio stream."""

    command: str
    """A grammar command name (a trigger name such as "pain" or "longer_rest")."""
    text: str
    """The words as recognized."""
    start: float
    """Seconds of audio fed (since the recognizer was made) where the speech began."""
    end: float
    """Seconds of audio fed where the speech ended."""
    confidence: float = 1.0
    """0 to 1 where the engine gives a score; 1 where it does not."""


class Recognizer(Protocol):
    """Streams microphone audio and reports the commands it hears (asr_vosk, asr_pocketsphinx)."""

    name: str
    """Engine name, said at start ("vosk", "pocketsphinx")."""

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed 16 kHz mono int16 audio; returns commands whose utterance ended in it."""

    def flush(self) -> list[Heard]:
        """End of stream: returns anything still pending."""

    def reset(self) -> None:
        """Forget any partial utterance."""


@runtime_checkable
class HearsOverTheCoach(Protocol):
    """A recognizer that judges speech over the coach's own voice more strictly (asr_whisper).

    The listener, which knows when the coach spoke, tells it how to find out."""

    def when_coach_talks(self, talking: Callable[[float, float], bool]) -> None:
        """``talking(start, end)``: whether that speech may be the coach's own voice: it was
        playing then, and little other speech was seen in it (seconds of audio fed to this
        recognizer, as in ``Heard``)."""
