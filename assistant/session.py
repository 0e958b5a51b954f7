"""The session script: a finite-state machine that leads one routine, pure of any audio."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transitions import Machine, MachineError

from assistant import phrases
from assistant.ports import Clock, Outcome, SessionRecorder, Speaker, Timer, VoiceControl
from assistant.resume import OFFER_SECONDS, ResumePoint
from assistant.routine import Exercise, Routine, Side
from assistant.snapshot import Snapshot

if TYPE_CHECKING:
    from assistant.progression import SessionProgress

_LOGGER = logging.getLogger(__name__)

ACTIVE = ["intro", "announce", "position", "steps", "lift", "hold", "release", "rest"]
"""States in which the session is under way; "pause" works in each."""
LIVE = ["ready", *ACTIVE, "paused"]
"""Every state that is not final; "pain" and "stop" work in each."""
FINAL = ["finished", "stopped", "ended_for_pain"]

STATES: list[dict[str, Any]] = [
    *({"name": name, "on_exit": "_cancel_timer"} for name in LIVE),
    *({"name": name, "final": True} for name in FINAL),
]

USER_COMMANDS = (
    "pause",
    "resume",
    "next",
    "longer_rest",
    "pain",
    "repeat",
    "help",
    "stop",
    "done",
    "ready",
)
"""Triggers a user may say; the grammar maps phrases onto these names."""

_SET_ENDS = ["lift", "hold", "release"]
"""States an open-ended set can end in ("done"), besides the end of a repetition."""

TRANSITIONS: list[dict[str, Any]] = [
    # The script, fired by the session's own timers.
    {"trigger": "start", "source": "ready", "dest": "intro"},
    {"trigger": "introduced", "source": "intro", "dest": "announce"},
    {"trigger": "announced", "source": "announce", "dest": "position"},
    {"trigger": "explain", "source": "position", "dest": "steps"},
    {"trigger": "lift", "source": ["position", "steps", "release"], "dest": "lift"},
    {"trigger": "hold", "source": "lift", "dest": "hold"},
    {"trigger": "release", "source": "hold", "dest": "release"},
    {"trigger": "other_side", "source": _SET_ENDS, "dest": "position"},
    {"trigger": "rest", "source": _SET_ENDS, "dest": "rest"},
    {"trigger": "rested", "source": "rest", "dest": "position"},
    {"trigger": "next_exercise", "source": [*_SET_ENDS, "rest"], "dest": "announce"},
    {"trigger": "finish", "source": _SET_ENDS, "dest": "finished", "before": "_note_end"},
    # What the user says.
    {"trigger": "pain", "source": LIVE, "dest": "ended_for_pain"},
    {"trigger": "stop", "source": LIVE, "dest": "stopped", "before": "_note_end"},
    {"trigger": "pause", "source": ACTIVE, "dest": "paused", "before": "_pause"},
    *(
        {
            "trigger": "resume",
            "source": "paused",
            "dest": name,
            "conditions": f"paused_in_{name}",
            "before": "_resume",
        }
        for name in ACTIVE
    ),
    {"trigger": "next", "source": "intro", "dest": "announce"},
    {"trigger": "next", "source": "rest", "dest": None, "after": "_skip_rest"},
    {
        "trigger": "next",
        "source": ["announce", "position", "steps", "lift", "hold", "release"],
        "dest": "announce",
        "conditions": "has_next_exercise",
        "before": "_skip_exercise",
    },
    {
        "trigger": "next",
        "source": ["announce", "position", "steps", "lift", "hold", "release"],
        "dest": "finished",
        "unless": "has_next_exercise",
        "before": ["_note_end", "_skip_exercise"],
    },
    {"trigger": "ready", "source": ["position", "rest"], "dest": None, "after": "_ready"},
    {
        "trigger": "done",
        "source": _SET_ENDS,
        "dest": None,
        "conditions": "open_ended",
        "after": "_done",
    },
    {
        "trigger": "longer_rest",
        "source": [*ACTIVE, "paused"],
        "dest": None,
        "after": "_longer_rest",
    },
    {"trigger": "repeat", "source": [*ACTIVE, "paused"], "dest": None, "after": "_repeat"},
    {"trigger": "help", "source": [*ACTIVE, "paused"], "dest": None, "after": "_help"},
]


@dataclass(frozen=True)
class Timing:
    """How the coach paces what it says; everything in seconds of session time."""

    position_seconds: float = 15.0
    """Seconds to get into a starting position, unless the user says "ready" sooner."""
    move_seconds: float = 2.0
    """Seconds between the cue "lift" and the start of the hold count."""
    words_per_minute: float = phrases.SPEECH_WORDS_PER_MINUTE
    """Speaking pace the coach waits for before it moves on."""
    settle_seconds: float = 1.0
    """Silence after an instruction before the next step."""


def sets_for_session(
    routine: Routine, finished_since_pain: int, sessions_per_extra_set: int = 2
) -> dict[str, int]:
    """Sets per exercise: one at first, as the seeds say, one more every few finished sessions.

    A session that ended for pain starts the count again (``finished_since_pain``).
    """
    extra = finished_since_pain // max(1, sessions_per_extra_set)
    return {ex.id: max(1, min(ex.sets_goal, 1 + extra)) for ex in routine.exercises}


@dataclass
class _Cursor:
    """Where the session is: exercise, set, side and completed repetitions."""

    exercise: int = 0
    set_no: int = 1
    side: int = 0
    reps: int = 0


@dataclass(frozen=True)
class _Paused:
    state: str
    left: float
    """Seconds left of the timer that was running (hold, rest, release)."""
    counts: int
    """Hold counts already said."""


class Session:
    """Leads one routine: speaks each step, counts holds, times rests, obeys commands.

    Every method runs on the one loop thread; timers come from the injected clock.
    """

    state: str
    trigger: Callable[..., bool]

    def __init__(
        self,
        routine: Routine,
        speaker: Speaker,
        clock: Clock,
        recorder: SessionRecorder,
        *,
        sets: Mapping[str, int] | None = None,
        stages: Mapping[str, int] | None = None,
        timing: Timing | None = None,
        profile: str = "default",
        voice: VoiceControl | None = None,
        progress: SessionProgress | None = None,
    ) -> None:
        """``progress``: the person's progression, told of each exercise completed."""
        self.routine = routine
        self.exercises: tuple[Exercise, ...] = routine.session_exercises(dict(stages or {}))
        self._sets = {ex.id: (sets or {}).get(ex.id, 1) for ex in self.exercises}
        self._speaker = speaker
        self._clock = clock
        self._recorder = recorder
        self._timing = timing or Timing()
        self.profile = profile
        self._voice = voice
        self.progress = progress
        self.cursor = _Cursor()
        self.outcome: Outcome | None = None
        self.session_id: int | None = None
        self.reps_total = 0
        self.sets_completed = 0
        self.exercises_done: set[str] = set()
        self.last_instruction = ""
        self.pain_failures: list[str] = []
        """What failed while handling pain (advice not spoken, not recorded)."""
        self._started_at = 0.0
        self._timer: Timer | None = None
        self._generation = 0
        self._steps_read: set[tuple[int, int]] = set()
        self._set_id: int | None = None
        self._counts = 0
        self._timer_due = 0.0
        self._rest_ends = 0.0
        self._began = False
        self._ended_in: str | None = None
        """The live state the session was in when pain or stop ended it."""
        self._rest_level = -1
        self._rest_now = False
        self._announce_after_rest = False
        self._rest_total = 0.0
        self._paused: _Paused | None = None
        self._resuming = False
        self._history_warned = False
        self._input_lost: set[str] = set()
        """Inputs gone ("microphone", "recognizer") until they are back."""
        self._pause_reason = "user"
        self._resume_from: ResumePoint | None = None
        """Where a cut-off session stopped, to offer at begin()."""
        self._offer: ResumePoint | None = None
        """The offer made, while it waits for its answer."""
        self.machine = Machine(
            model=self,
            states=STATES,
            transitions=TRANSITIONS,
            initial="ready",
            auto_transitions=False,
            queued=True,
            ignore_invalid_triggers=False,
        )

    # ----------------------------------------------------------------- public API

    @property
    def is_over(self) -> bool:
        """True once the session has reached a final state."""
        return self.state in FINAL

    @property
    def exercise(self) -> Exercise:
        """The exercise the session is on."""
        return self.exercises[min(self.cursor.exercise, len(self.exercises) - 1)]

    @property
    def side(self) -> Side | None:
        """The side being worked, for two-sided exercises."""
        sides = self.exercise.sides
        return sides[self.cursor.side] if sides else None

    @property
    def sets(self) -> int:
        """Sets of the current exercise this session."""
        return self._sets[self.exercise.id]

    def begin(self) -> None:
        """Record the session and start speaking."""
        self._started_at = self._clock.now()
        self.session_id = self._record("start_session", self.routine.id, self.profile)
        if self._resume_from is not None:
            self._offer_resume(self._resume_from)
            return
        self.trigger("start")

    def offer_resume(self, point: ResumePoint) -> None:
        """Before begin(): offer to go on where a cut-off session stopped (resume.py)."""
        self._resume_from = point

    def available(self) -> list[str]:
        """User commands that do something now."""
        names = set(self.machine.get_triggers(self.state)) & set(USER_COMMANDS)
        if self._offering:
            names |= {"resume", "next"}
        if "done" in names and not self.open_ended:
            names.discard("done")
        return [name for name in USER_COMMANDS if name in names]

    def snapshot(self) -> Snapshot:
        """What the session is doing now, for a screen; reads only, changes nothing."""
        exercise_id, set_no, rep_no, side = self.where()
        paused = self._paused if self.state == "paused" else None
        doing = paused.state if paused is not None else self.state
        now = self._clock.now()
        hold = self.exercise.hold
        counts = paused.counts if paused is not None else self._counts
        left: float | None = None
        if doing == "rest":
            left = paused.left if paused is not None else self._rest_ends - now
        elif doing == "hold":
            # Time to the next number, then the numbers still to count.
            next_count = paused.left if paused is not None else self._timer_due - now
            left = next_count + (hold.counts - counts - 1) * hold.count_seconds
        return Snapshot(
            routine=self.routine.title,
            state=self.state,
            exercise=self.exercise.name if exercise_id is not None else None,
            exercise_no=min(self.cursor.exercise, len(self.exercises) - 1) + 1,
            exercises=len(self.exercises),
            side=side,
            set_no=set_no,
            sets=self.sets,
            rep_no=rep_no,
            reps=self.exercise.reps.count,
            until_tired=self.open_ended,
            hold_count=counts if doing == "hold" else 0,
            hold_counts=hold.counts,
            timer=doing if left is not None else None,
            seconds_left=None if left is None else max(0.0, left),
            taken_at=now,
            paused=paused is not None,
            commands=tuple(self.available()),
            outcome=self.outcome.value if self.outcome is not None else None,
        )

    def command(self, name: str) -> bool:
        """Act on a user command; says "not now" where it means nothing. True if it acted."""
        if name == "pain":
            was_over = self.is_over
            self.report_pain()
            return not was_over
        if self.is_over:
            return False
        if self._offering and name in ("resume", "next"):
            self._answer_offer(resume=name == "resume")
            return True
        if name not in self.available():
            self._say(phrases.not_now(self._why_not(name), self.available()), keep=False)
            return False
        try:
            return bool(self.trigger(name))
        except MachineError:
            _LOGGER.exception("Command %s failed in state %s", name, self.state)
            self._say(phrases.not_now("", self.available()), keep=False)
            return False

    def voice_setting(self, setting: str) -> None:
        """Change the voice ("slower", "faster", "louder", "softer") where there is one."""
        if self.is_over:
            return
        if self._voice is None:
            self._say(phrases.NO_VOICE_SETTINGS, keep=False)
            return
        try:
            self._say(self._voice.adjust(setting), keep=False)
        except Exception:
            _LOGGER.exception("Voice setting %s failed", setting)

    def input_lost(self, what: str = "microphone") -> None:
        """The microphone went away, or the recognizer keeps failing: pause if under way."""
        if self.is_over or what in self._input_lost:
            return
        self._input_lost.add(what)
        self._record("event", self.session_id, f"{what}_lost", self.state)
        if self.state in ACTIVE:
            self._pause_reason = what
            self.trigger("pause")
        else:
            self._say(phrases.PAUSED_BECAUSE[what], keep=False)

    def input_back(self, what: str = "microphone") -> None:
        """The microphone or recognizer works again: resume a pause that its loss caused."""
        if self.is_over or what not in self._input_lost:
            return
        self._input_lost.discard(what)
        self._record("event", self.session_id, f"{what}_back", self.state)
        self._say(phrases.MICROPHONE_BACK, keep=False)
        if self.state == "paused" and self._pause_reason == what and not self._input_lost:
            self.trigger("resume")

    def fault(self, what: str) -> None:
        """An output failed ("voice", "history"): record it, and pause if under way.

        Nothing carries on blind: the user hears or reads why, and says resume to go on.
        """
        if self.is_over or (self.state == "paused" and self._pause_reason == what):
            return
        self._record("event", self.session_id, f"{what}_failed", self._where_text())
        if self.state in ACTIVE:
            self._pause_reason = what
            self.trigger("pause")

    @property
    def pause_reason(self) -> str | None:
        """Why the session is paused (a key of phrases.PAUSED_BECAUSE); None if it is not."""
        return self._pause_reason if self.state == "paused" else None

    def pause_unanswered(self) -> None:
        """Nobody answered a check-in (checkin.py): pause if under way, and record it."""
        if self.state not in ACTIVE:
            return
        self._record("event", self.session_id, "no_answer", self._where_text())
        self._pause_reason = "no_answer"
        self.trigger("pause")

    def not_understood(self) -> None:
        """Tell the user what was heard matched no command."""
        if not self.is_over:
            self._say(phrases.NOT_UNDERSTOOD, keep=False)

    def report_pain(self) -> None:
        """Stop at once and advise a doctor; works from every state, whatever has failed."""
        if self.is_over:
            return
        try:
            self._speaker.stop()
        except Exception:
            _LOGGER.exception("Could not stop the voice for pain")
            self.pain_failures.append("voice stop")
        self._cancel_timer()
        self._ended_in = self.state
        try:
            self.trigger("pain")
        except Exception:
            _LOGGER.exception("Pain transition failed in state %s; forcing the end", self.state)
            self.machine.set_state("ended_for_pain")
            self.on_enter_ended_for_pain()

    # ------------------------------------------------------------ conditions

    @property
    def has_next_exercise(self) -> bool:
        """True if an exercise follows the current one."""
        return self.cursor.exercise + 1 < len(self.exercises)

    @property
    def open_ended(self) -> bool:
        """True if the current set runs until the user is tired."""
        return self.exercise.reps.until_tired

    def _paused_in(self, name: str) -> bool:
        return self._paused is not None and self._paused.state == name

    # --------------------------------------------------------------- states

    def on_enter_intro(self) -> None:
        self._resumed()
        text = f"{phrases.welcome(self.routine)} {phrases.safety_intro(self.routine)}"
        self._say_then(text, "introduced")

    def on_enter_announce(self) -> None:
        self._resumed()
        self._began = True
        ex = self.exercise
        text = phrases.announce(ex, self.cursor.exercise + 1, len(self.exercises), self.sets)
        self._say_then(text, "announced")

    def on_enter_position(self) -> None:
        self._resumed()
        c = self.cursor
        again = (c.set_no, c.side, c.reps) != (1, 0, 0)
        switching = c.side > 0 and c.reps == 0
        text = phrases.position(self.exercise, self.side, again, switching)
        wait = self._speaking(text) + self._timing.position_seconds
        self._say(text)
        self._schedule(wait, self._in_position)

    def on_enter_steps(self) -> None:
        self._resumed()
        self._steps_read.add((self.cursor.exercise, self.cursor.side))
        self._say_then(phrases.steps(self.exercise, self.side), "lift")

    def on_enter_lift(self) -> None:
        self._resumed()
        c = self.cursor
        if c.reps == 0 and self._set_id is None:
            self._set_id = self._record(
                "start_set",
                self.session_id,
                self.exercise.id,
                c.set_no,
                self.side.name if self.side else None,
                self.exercise.reps.count,
            )
        text = phrases.lift(self.exercise, c.set_no, self.sets, c.reps + 1)
        self._say(text)
        self._schedule(self._speaking(text) + self._timing.move_seconds, lambda: self._fire("hold"))

    def on_enter_hold(self) -> None:
        paused = self._paused if self._resumed() else None
        hold = self.exercise.hold
        if paused is not None:
            self._counts = paused.counts
            self._say(phrases.HOLD_RESUMED)
            self._schedule(self._timing.move_seconds + paused.left, self._count)
        else:
            self._counts = 0
            self._say(phrases.hold(self.exercise))
            self._schedule(hold.count_seconds, self._count)

    def _count(self) -> None:
        self._counts += 1
        self._speaker.say(phrases.number(self._counts) + ".")
        if self._counts >= self.exercise.hold.counts:
            self._fire("release")
        else:
            self._schedule(self.exercise.hold.count_seconds, self._count)

    def on_enter_release(self) -> None:
        paused = self._paused if self._resumed() else None
        if paused is not None:
            self._say(phrases.RELAX)
            self._schedule(paused.left, self._after_rep)
            return
        self.cursor.reps += 1
        self.reps_total += 1
        self.exercises_done.add(self.exercise.id)
        if self._set_id is not None:
            self._record("rep_done", self._set_id, self.cursor.reps)
        self._say(phrases.RELEASE)
        self._schedule(self.exercise.rest_between_reps_seconds, self._after_rep)

    def on_enter_rest(self) -> None:
        paused = self._paused if self._resumed() else None
        if paused is not None:
            left = paused.left
            self._say(phrases.rest_resumed(left))
        else:
            self._rest_total = self._rest_length()
            left = self._rest_total
            self._say(phrases.rest_start(left))
        self._rest_ends = self._clock.now() + left
        self._schedule_rest_tick()

    def on_enter_paused(self) -> None:
        self._say(phrases.PAUSED_BECAUSE[self._pause_reason], keep=False)
        self._record("event", self.session_id, "pause", self._paused.state if self._paused else "")

    def on_enter_finished(self) -> None:
        self._end_set("completed")
        self._say(phrases.finished(self._summary()))
        self._end(Outcome.FINISHED)

    def on_enter_stopped(self) -> None:
        self._stop_voice()
        self._end_set("ended")
        self._say(phrases.stopped(self._summary()))
        self._end(Outcome.STOPPED)

    def on_enter_ended_for_pain(self) -> None:
        self.outcome = Outcome.PAIN
        try:
            self._speaker.say(phrases.pain_advice())
        except Exception:
            _LOGGER.exception("Could not speak the pain advice")
            self.pain_failures.append("voice")
        where = self.where()
        try:
            if self._set_id is not None:
                self._recorder.end_set(self._set_id, self.cursor.reps, "pain")
                self._set_id = None
            if self.session_id is None:
                # Pain before the session began is still a session that ended for pain.
                self.session_id = self._recorder.start_session(self.routine.id, self.profile)
            self._recorder.event(self.session_id, "pain", self._where_text())
            self._recorder.end_session(self.session_id, Outcome.PAIN, *where)
        except Exception:
            _LOGGER.exception("Could not record the pain stop")
            self.pain_failures.append("history")

    # ------------------------------------------------------- command actions

    def _pause(self) -> None:
        self._stop_voice()
        ends = self._rest_ends if self.state == "rest" else self._timer_due
        self._paused = _Paused(self.state, max(0.0, ends - self._clock.now()), self._counts)

    def _resume(self) -> None:
        self._resuming = True
        self._pause_reason = "user"
        self._say(phrases.RESUMING, keep=False)
        self._record("event", self.session_id, "resume", self._paused.state if self._paused else "")

    def _resumed(self) -> bool:
        """True (once) if the state was just re-entered by "resume"."""
        if not self._resuming:
            return False
        self._resuming = False
        return True

    def _note_end(self) -> None:
        self._ended_in = self.state

    def _skip_rest(self) -> None:
        self._end_rest_early()
        self._rest_over()

    def _rest_over(self) -> None:
        if self._announce_after_rest:
            self._announce_after_rest = False
            self._fire("next_exercise")
        else:
            self._fire("rested")

    def _ready(self) -> None:
        if self.state == "rest":
            self._skip_rest()
        else:
            self._cancel_timer()
            self._in_position()

    def _done(self) -> None:
        self._cancel_timer()
        self._stop_voice()
        self._say(phrases.tired_done(self.cursor.reps))
        self._record("event", self.session_id, "done", self._where_text())
        self._end_of_side("done")

    def _longer_rest(self) -> None:
        lengths = self.routine.longer_rest_seconds
        resting = self.state == "rest" or (self._paused_in("rest") and self.state == "paused")
        if self._rest_level + 1 >= len(lengths):
            self._say(phrases.longest_rest(lengths[-1]), keep=False)
            self._rest_now = not resting
            return
        self._rest_level += 1
        seconds = lengths[self._rest_level]
        self._record("event", self.session_id, "longer_rest", f"{seconds:g}")
        if resting:
            # The rest under way (running or paused) grows to the new length.
            in_rest = self.state == "rest"
            left_now = self._rest_ends - self._clock.now() if in_rest else self._paused_left()
            elapsed = self._rest_total - left_now
            self._rest_total = max(self._rest_total, seconds)
            left = max(0.0, self._rest_total - elapsed)
            if in_rest:
                self._rest_ends = self._clock.now() + left
                self._schedule_rest_tick()
            else:
                self._paused = _Paused("rest", left, 0)
            self._say(phrases.longer_rest(seconds, True, left), keep=False)
        else:
            self._rest_now = True
            self._say(phrases.longer_rest(seconds, False, None), keep=False)

    def _paused_left(self) -> float:
        return self._paused.left if self._paused is not None else 0.0

    def _repeat(self) -> None:
        if self.state == "paused":
            self._say(phrases.PAUSED, keep=False)
            return
        self._say(self.last_instruction or phrases.help_text(self.available()), keep=False)

    def _help(self) -> None:
        self._say(phrases.help_text(self.available()), keep=False)

    @property
    def _offering(self) -> bool:
        """True while the offer to go on from a cut-off session waits for its answer."""
        return self._offer is not None and self.state == "ready"

    def _offer_resume(self, point: ResumePoint) -> None:
        self._offer = point
        exercise = self.exercises[point.exercise]
        side = exercise.sides[point.side].name if exercise.sides else None
        text = phrases.resume_offer(exercise.name, point.set_no, side)
        self._say(text)
        wait = self._speaking(text) + OFFER_SECONDS
        self._schedule(wait, lambda: self._answer_offer(resume=False))

    def _answer_offer(self, resume: bool) -> None:
        point, self._offer = self._offer, None
        self._cancel_timer()
        if resume and point is not None:
            self.cursor = _Cursor(exercise=point.exercise, set_no=point.set_no, side=point.side)
            self._record(
                "event", self.session_id, "resumed_from", f"session {point.crashed_session}"
            )
            self._say(phrases.RESUMING_FROM_LAST_TIME, keep=False)
        else:
            self._say(phrases.STARTING_AGAIN, keep=False)
        self.trigger("start")

    def _skip_exercise(self) -> None:
        self._stop_voice()
        self._end_set("skipped")
        self._record("event", self.session_id, "skip", self.exercise.id)
        self._say(phrases.skipped(self.exercise))
        self._next_exercise_cursor()

    def _end_rest_early(self) -> None:
        left = self._rest_ends - self._clock.now()
        self._record("event", self.session_id, "rest_ended", f"{left:.0f}")

    # ----------------------------------------------------------- the script

    def _in_position(self) -> None:
        if (self.cursor.exercise, self.cursor.side) in self._steps_read:
            self._fire("lift")
        else:
            self._fire("explain")

    def _after_rep(self) -> None:
        reps = self.exercise.reps
        if self.cursor.reps >= reps.count:
            if reps.until_tired:
                self._say(phrases.ceiling_reached(self.exercise))
            self._end_of_side("completed")
        elif self._rest_now:
            self._fire("rest")
        else:
            self._fire("lift")

    def _end_of_side(self, how: str) -> None:
        self._end_set(how)
        c = self.cursor
        if c.side + 1 < max(1, len(self.exercise.sides)):
            c.side += 1
            c.reps = 0
            # A longer rest asked for during the set comes before the other side.
            self._fire("rest" if self._rest_now else "other_side")
            return
        self.sets_completed += 1
        if c.set_no < self.sets:
            c.set_no += 1
            c.side = 0
            c.reps = 0
            self._fire("rest")
            return
        self._say(phrases.exercise_done(self.exercise))
        if self.progress is not None:
            self.progress.after_exercise(self.session_id, self.exercise, c.reps)
        if self.has_next_exercise:
            self._next_exercise_cursor()
            if self._rest_now:
                # A longer rest asked for during the last set comes before the next exercise.
                self._announce_after_rest = True
                self._fire("rest")
            else:
                self._fire("next_exercise")
        else:
            self._fire("finish")

    def _next_exercise_cursor(self) -> None:
        self.cursor = _Cursor(exercise=self.cursor.exercise + 1)

    def _rest_length(self) -> float:
        self._rest_now = False
        base = self.exercise.rest_between_sets_seconds
        if self._rest_level >= 0:
            return max(base, self.routine.longer_rest_seconds[self._rest_level])
        return base

    def _schedule_rest_tick(self) -> None:
        left = self._rest_ends - self._clock.now()
        points = [p for p in (60.0, 30.0, 10.0) if p < left - 0.5 and p < self._rest_total]
        if points:
            point = max(points)

            def tick() -> None:
                self._speaker.say(phrases.rest_left(point))
                self._schedule_rest_tick()

            self._schedule(left - point, tick)
        else:

            def over() -> None:
                self._say(phrases.REST_OVER)
                self._rest_over()

            self._schedule(left, over)

    # -------------------------------------------------------------- helpers

    def _fire(self, trigger: str) -> None:
        if not self.is_over:
            self.trigger(trigger)

    def _say(self, text: str, keep: bool = True) -> None:
        """Speak; ``keep`` makes it the instruction that "repeat" says again."""
        if keep:
            self.last_instruction = text
        self._speaker.say(text)

    def _say_then(self, text: str, trigger: str) -> None:
        self._say(text)
        self._schedule(
            self._speaking(text) + self._timing.settle_seconds, lambda: self._fire(trigger)
        )

    def _speaking(self, text: str) -> float:
        return phrases.speaking_seconds(text, self._timing.words_per_minute)

    def _stop_voice(self) -> None:
        try:
            self._speaker.stop()
        except Exception:
            _LOGGER.exception("Could not stop the voice")

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay``; replaces any timer already running."""
        self._cancel_timer()
        self._generation += 1
        generation = self._generation
        self._timer_due = self._clock.now() + delay

        def fire() -> None:
            if generation == self._generation and not self.is_over:
                callback()

        self._timer = self._clock.call_later(delay, fire)

    def _cancel_timer(self) -> None:
        self._generation += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end_set(self, how: str) -> None:
        if self._set_id is not None:
            self._record("end_set", self._set_id, self.cursor.reps, how)
            self._set_id = None

    def where(self) -> tuple[str | None, int | None, int | None, str | None]:
        """Exercise, set, repetition and side the session is at (all None before the first)."""
        if not self._began:
            return (None, None, None, None)
        side = self.side.name if self.side else None
        state = self._ended_in or self.state
        if state == "paused" and self._paused is not None:
            state = self._paused.state
        # In a release the repetition just done is the one that counts; elsewhere the one
        # being done or about to begin.
        rep_no = self.cursor.reps if state == "release" else self.cursor.reps + 1
        return (self.exercise.id, self.cursor.set_no, rep_no, side)

    def _where_text(self) -> str:
        ex, set_no, rep, side = self.where()
        if ex is None:
            return "before the first exercise"
        text = f"{ex} set {set_no} repetition {rep}"
        return f"{text} ({side})" if side else text

    def _summary(self) -> str:
        minutes = (self._clock.now() - self._started_at) / 60.0
        return phrases.summary(
            len(self.exercises_done), self.sets_completed, self.reps_total, minutes
        )

    def _end(self, outcome: Outcome) -> None:
        self.outcome = outcome
        if self.session_id is not None:
            self._record("end_session", self.session_id, outcome, *self.where())

    def _why_not(self, name: str) -> str:
        if name == "resume":
            return "We are not paused."
        if name == "done" and not self.open_ended:
            return "Done ends a set that goes on until you are tired; this one has a set count."
        if self.state == "paused":
            return "We are paused. Say resume to go on."
        return ""

    def _record(self, method: str, *args: Any) -> Any:
        """Write to the history; the first failure is logged, said, and pauses the session."""
        try:
            return getattr(self._recorder, method)(*args)
        except Exception:
            _LOGGER.exception("History write %s failed", method)
            if not self._history_warned:
                self._history_warned = True
                self._speaker.say(phrases.HISTORY_FAILED)
                # Paused from the loop, not from inside the transition that was writing.
                self._clock.call_later(0.0, lambda: self.fault("history"))
            return None


def _paused_in_property(name: str) -> property:
    return property(lambda self: self._paused_in(name))


for _name in ACTIVE:
    setattr(Session, f"paused_in_{_name}", _paused_in_property(_name))
