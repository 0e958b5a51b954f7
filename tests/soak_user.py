"""The soak's simulated user: a random plan per session, commands typed or spoken, faults.

See soak_harness.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from soak_seams import FlakyHistory, FlakyRecognizer, SimLoop, SoakMic, SoakVoice
from speech import KLATT_US, PIPER, Voice, at_level, chunks, silence, synthesize

from assistant import phrases
from assistant.checkin import CheckIns
from assistant.grammar import Grammar
from assistant.listener import Listener
from assistant.ports import Outcome
from assistant.runner import hear
from assistant.session import Session

ROUTINES = ("strong_back", "spine")

TYPED = {
    "pause": "pause",
    "resume": "continue",
    "pain": "it hurts",
    "stop": "end session",
    "longer_rest": "longer rest",
    "next": "next",
    "repeat": "say again",
    "help": "what can i say",
    "done": "i'm done",
    "ready": "i'm ready",
    "slower": "slower",
    "yes": "yes",
    "no": "no",
    "talk": "what a lovely day",
}
"""What the user types for each command ("talk" is ordinary talk, no command)."""

SPOKEN: dict[str, tuple[tuple[Voice, str], ...]] = {
    "pause": ((KLATT_US, "pause"), (PIPER, "pause")),
    "resume": ((KLATT_US, "continue"), (PIPER, "continue"), (PIPER, "carry on")),
    "pain": ((KLATT_US, "i'm in pain"), (PIPER, "it hurts"), (PIPER, "pain")),
    "stop": ((PIPER, "end session"),),
    "longer_rest": ((KLATT_US, "longer rest"), (PIPER, "longer rest")),
    "next": ((PIPER, "next exercise"),),
    "repeat": ((KLATT_US, "say again"),),
    "help": ((PIPER, "what can i say"),),
    "done": ((KLATT_US, "i'm done"), (PIPER, "i'm done")),
    "ready": ((KLATT_US, "i'm ready"), (PIPER, "i'm ready")),
    "yes": ((KLATT_US, "yes"), (PIPER, "yes")),
    "no": ((KLATT_US, "no"), (PIPER, "no")),
    "talk": ((KLATT_US, "i think i will have some tea after this"),),
}
"""What the user says for each command, and how they rephrase when nothing happens."""

MUST_BE_HEARD = {"resume", "pain", "stop"}
"""Commands the user keeps saying until they are heard (people do, and a session waits on them)."""


# ------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Plan:
    """One session: its routine, how it is meant to end, and what happens on the way."""

    number: int
    routine: str
    ending: str
    """finish, stop, pain, crash (in the loop), killed or pain_process (a real process)."""
    end_at: float
    """Session seconds at which a stop, pain or crash comes."""
    spoken: bool
    silent: bool
    """The user does not answer the first check-in (and says continue later)."""
    actions: tuple[tuple[float, str], ...]
    """(session seconds, what): commands the user says, and faults."""

    @property
    def expected(self) -> Outcome:
        return {
            "finish": Outcome.FINISHED,
            "stop": Outcome.STOPPED,
            "pain": Outcome.PAIN,
            "pain_process": Outcome.PAIN,
        }.get(self.ending, Outcome.CRASHED)


def plan_session(rng: random.Random, number: int, spoken: bool, ending: str | None) -> Plan:
    """A random session: a few commands, a few faults, and an ending."""
    if ending is None:
        ending = rng.choices(["finish", "stop", "pain", "crash"], [45, 20, 20, 15])[0]
    actions: list[tuple[float, str]] = []
    for _ in range(rng.randint(0, 2)):
        at = rng.uniform(20.0, 900.0)
        actions += [(at, "pause"), (at + rng.uniform(10.0, 120.0), "resume")]
    for name in ("longer_rest", "repeat", "help", "ready", "ready", "done", "talk", "slower"):
        if rng.random() < 0.4 and (name in SPOKEN or not spoken):
            actions.append((rng.uniform(20.0, 1500.0), name))
    if rng.random() < 0.15:
        actions.append((rng.uniform(300.0, 1500.0), "next"))
    # Faults come early, so that they are over before a stop or pain (from 200 s on).
    if rng.random() < 0.35:
        actions.append((rng.uniform(30.0, 150.0), "voice_fails"))
    if rng.random() < 0.2:
        actions.append((rng.uniform(30.0, 150.0), "voice_stop_breaks"))
    if rng.random() < 0.35:
        at = rng.uniform(30.0, 120.0)
        actions += [(at, "disk_full"), (at + rng.uniform(5.0, 30.0), "disk_ok")]
    if rng.random() < 0.35:
        at = rng.uniform(30.0, 900.0)
        actions += [(at, "mic_lost"), (at + rng.uniform(3.0, 60.0), "mic_back")]
    if spoken and rng.random() < 0.5:
        at = rng.uniform(30.0, 900.0)
        actions += [(at, "recognizer_fails"), (at + rng.uniform(3.0, 30.0), "recognizer_back")]
    return Plan(
        number=number,
        routine=rng.choice(ROUTINES),
        ending=ending,
        end_at=rng.uniform(200.0, 1500.0),
        spoken=spoken,
        silent=rng.random() < 0.15,
        actions=tuple(sorted(actions)),
    )


# ------------------------------------------------------------------------------ the user


@dataclass
class Counts:
    """What the user said and what came of it, over the whole soak."""

    said: Counter[str] = field(default_factory=Counter)
    clips: int = 0
    clips_heard: int = 0
    clips_missed: int = 0
    clips_misheard: int = 0
    talk_taken_as_command: int = 0
    dead_microphone: int = 0
    gave_up: int = 0
    faults: Counter[str] = field(default_factory=Counter)


class SoakUser:
    """Says the plan's commands at their moments and answers what the coach asks."""

    def __init__(
        self,
        plan: Plan,
        rng: random.Random,
        counts: Counts,
        grammar: Grammar,
        clips: Clips | None,
    ) -> None:
        self.plan = plan
        self._rng = rng
        self._counts = counts
        self._grammar = grammar
        self._clips = clips
        self._ignored_check_in = False
        self.ending_came = False
        """The planned stop, pain or crash came while the session was still under way."""
        # Wired in by soak_harness once the session exists.
        self.loop: SimLoop
        self.session: Session
        self.check_ins: CheckIns
        self.voice: SoakVoice
        self.history: FlakyHistory
        self.mic: SoakMic | None = None
        self.listener: Listener | None = None
        self.recognizer: FlakyRecognizer | None = None

    def hears(self, text: str) -> None:
        """The coach said ``text``: answer it the way a person would."""
        later = self._rng.uniform
        if text == phrases.CHECK_IN:
            if self.plan.silent and not self._ignored_check_in:
                self._ignored_check_in = True
                return
            self._later(later(2.0, 20.0), "resume")
        elif text in (phrases.NO_ANSWER_PAUSED, phrases.VOICE_FAILED, phrases.HISTORY_PAUSED):
            self._later(later(5.0, 120.0), "resume")
        elif text.startswith("Last time you stopped"):
            self._maybe(["resume", "next", ""])
        elif text == phrases.EASY_QUESTION or text.startswith("One more thing: was"):
            self._maybe(["yes", "no", ""])

    def _maybe(self, answers: list[str]) -> None:
        """Answer one of ``answers`` in a few seconds ("" is to say nothing)."""
        answer = self._rng.choice(answers)
        if answer:
            self._later(self._rng.uniform(2.0, 10.0), answer)

    def start(self) -> None:
        """Schedule the plan's actions and its ending on the session's clock."""
        for at, what in self.plan.actions:
            self.loop.call_later(at, partial(self._planned, what))
        if self.plan.ending in ("stop", "pain", "crash"):
            self.loop.call_later(self.plan.end_at, self._end)

    def _later(self, delay: float, what: str) -> None:
        self.loop.call_later(delay, partial(self.act, what))

    def _end(self) -> None:
        if self.session.is_over:
            return  # it had already finished
        self.ending_came = True
        if self.plan.ending == "crash":
            raise RuntimeError("soak: a bug in the loop")
        self.act(self.plan.ending)

    def _planned(self, what: str) -> None:
        if not self.session.is_over:  # the plan is for the session, not what comes after
            self.act(what)

    def act(self, what: str) -> None:
        """Do one thing: a command, or a fault."""
        fault = FAULTS.get(what)
        if fault is not None:
            self._counts.faults[what] += 1
            fault(self)
            return
        self._counts.said[what] += 1
        if self.plan.spoken:
            self._speak(what)
        else:
            hear(self.session, self._grammar, TYPED[what], self.check_ins)

    def _speak(self, what: str, rounds: int = 0) -> None:
        assert self.mic is not None and self.listener is not None and self._clips is not None
        for voice, text in SPOKEN[what]:
            before = len(self.listener.heard)
            self._counts.clips += 1
            if not self.mic.feed(self._clips.padded(voice, text)):
                self._counts.dead_microphone += 1
                break
            heard = [h.command for h in self.listener.heard[before:]]
            if what == "talk":
                self._counts.talk_taken_as_command += len(heard)
                return
            if what in heard:
                self._counts.clips_heard += 1
                return
            self._counts.clips_misheard += len(heard)
            self._counts.clips_missed += 1
        if what in MUST_BE_HEARD and not self.session.is_over:
            if rounds >= 20:
                self._counts.gave_up += 1
                return
            # Nothing happened: say it again in a little while, as people do.
            self._later_spoken(what, rounds + 1)

    def _later_spoken(self, what: str, rounds: int) -> None:
        self.loop.call_later(10.0, lambda: self._speak(what, rounds))


def _voice_fails(user: SoakUser) -> None:
    user.voice.fail_next = True


def _voice_stop_breaks(user: SoakUser) -> None:
    user.voice.stop_fails = True


def _disk(full: bool) -> Callable[[SoakUser], None]:
    def change(user: SoakUser) -> None:
        user.history.full = full

    return change


def _mic(plugged: bool) -> Callable[[SoakUser], None]:
    def change(user: SoakUser) -> None:
        if user.mic is None:
            # Typed sessions: what the listener reports for a spoken one.
            (user.session.input_back if plugged else user.session.input_lost)()
            return
        before = user.loop.posts
        user.mic.set_plugged(plugged)
        user.loop.wait_posts(before + 1)  # the listener reports the loss (or the return)

    return change


def _recognizer_fails(user: SoakUser) -> None:
    assert user.recognizer is not None and user.mic is not None
    user.recognizer.fail_chunks = 3
    user.mic.feed(chunks(silence(0.3)))


def _recognizer_back(user: SoakUser) -> None:
    assert user.mic is not None
    user.mic.feed(chunks(silence(0.1)))


FAULTS: dict[str, Callable[[SoakUser], None]] = {
    "voice_fails": _voice_fails,
    "voice_stop_breaks": _voice_stop_breaks,
    "disk_full": _disk(True),
    "disk_ok": _disk(False),
    "mic_lost": _mic(False),
    "mic_back": _mic(True),
    "recognizer_fails": _recognizer_fails,
    "recognizer_back": _recognizer_back,
}


class Clips:
    """Synthesized command clips, made once (and cached on disk by speech.py)."""

    def __init__(self) -> None:
        self._audio = {
            (voice, text): at_level(synthesize(text, voice), -20.0)
            for options in SPOKEN.values()
            for voice, text in options
        }

    def padded(self, voice: Voice, text: str) -> Iterator[bytes]:
        """The clip with quiet before and after, in 0.1 s microphone chunks."""
        audio = np.concatenate([silence(1.0), self._audio[(voice, text)], silence(0.8)])
        return chunks(audio)
