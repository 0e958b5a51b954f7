"""Fakes for the pure core's unit tests: they record what the core asked of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.clock import ManualClock
from assistant.ports import SAMPLE_RATE, Heard, Outcome


@dataclass
class FakeSpeaker:
    """Records every sentence, with the session time it was said at."""

    clock: ManualClock
    said: list[str] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    stops: list[float] = field(default_factory=list)
    fail: bool = False

    def say(self, text: str) -> None:
        if self.fail:
            raise OSError("voice is broken")
        self.said.append(text)
        self.timeline.append((self.clock.now(), text))

    def stop(self) -> None:
        self.stops.append(self.clock.now())
        if self.fail:
            raise OSError("voice is broken")

    def text(self) -> str:
        return "\n".join(self.said)


@dataclass
class FakeRecorder:
    """Keeps what a session records in lists, like history.History keeps it in SQLite."""

    sessions: dict[int, dict[str, object]] = field(default_factory=dict)
    sets: dict[int, dict[str, object]] = field(default_factory=dict)
    events: list[tuple[int, str, str]] = field(default_factory=list)
    fail: bool = False

    def _check(self) -> None:
        if self.fail:
            raise OSError("database or disk is full")

    def start_session(self, routine_id: str, profile: str) -> int:
        self._check()
        session_id = len(self.sessions) + 1
        self.sessions[session_id] = {"routine": routine_id, "outcome": Outcome.RUNNING}
        return session_id

    def start_set(
        self, session_id: int, exercise_id: str, set_no: int, side: str | None, reps_planned: int
    ) -> int:
        self._check()
        set_id = len(self.sets) + 1
        self.sets[set_id] = {
            "session": session_id,
            "exercise": exercise_id,
            "set_no": set_no,
            "side": side,
            "planned": reps_planned,
            "reps": 0,
            "how": None,
        }
        return set_id

    def rep_done(self, set_id: int, reps_done: int) -> None:
        self._check()
        self.sets[set_id]["reps"] = reps_done

    def end_set(self, set_id: int, reps_done: int, how: str) -> None:
        self._check()
        self.sets[set_id]["reps"] = reps_done
        self.sets[set_id]["how"] = how

    def event(self, session_id: int, kind: str, detail: str = "") -> None:
        self._check()
        self.events.append((session_id, kind, detail))

    def end_session(
        self,
        session_id: int,
        outcome: Outcome,
        exercise_id: str | None,
        set_no: int | None,
        rep_no: int | None,
        side: str | None,
    ) -> None:
        self._check()
        self.sessions[session_id].update(
            outcome=outcome, exercise=exercise_id, set_no=set_no, rep_no=rep_no, side=side
        )


class QueuedRecognizer:
    """A recognizer that reports each queued ``Heard`` once the stream is ``delay`` seconds
    past its end (an endpointer's hangover), and counts resets."""

    def __init__(self, heard: list[Heard], delay: float = 0.3, name: str = "fake") -> None:
        self.pending = list(heard)
        self.delay = delay
        self.name = name
        self.fed = 0
        self.resets = 0

    def accept(self, pcm: bytes) -> list[Heard]:
        self.fed += len(pcm) // 2
        ready = [h for h in self.pending if h.end + self.delay <= self.fed / SAMPLE_RATE]
        self.pending = [h for h in self.pending if h not in ready]
        return ready

    def flush(self) -> list[Heard]:
        ready, self.pending = self.pending, []
        return ready

    def reset(self) -> None:
        self.resets += 1


class AskingRecognizer(QueuedRecognizer):
    """A recognizer that asks, after each chunk, whether the coach talked over that chunk
    (the ``HearsOverTheCoach`` question), and keeps the answers by (start, end) in seconds."""

    def __init__(self) -> None:
        super().__init__([])
        self.talking: Callable[[float, float], bool] | None = None
        self.answers: dict[tuple[float, float], bool] = {}

    def when_coach_talks(self, talking: Callable[[float, float], bool]) -> None:
        self.talking = talking

    def accept(self, pcm: bytes) -> list[Heard]:
        heard = super().accept(pcm)
        if self.talking is not None:
            start, end = (self.fed - len(pcm) // 2) / SAMPLE_RATE, self.fed / SAMPLE_RATE
            self.answers[(round(start, 6), round(end, 6))] = self.talking(start, end)
        return heard
