"""Progression: the pure rules, and whole sessions through real SQLite across several sessions."""

from __future__ import annotations

import functools
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from assistant import phrases, progression
from assistant.clock import EventLoop
from assistant.history import _SCHEMA, SCHEMA_VERSION, History
from assistant.ports import Outcome
from assistant.progress import GUEST
from assistant.progression import (
    EASIER,
    EASY,
    HARDER,
    PAIN,
    REPS,
    SESSIONS,
    SETS,
    STAGE,
    Answer,
    Change,
    Past,
)
from assistant.routine import Routine, resolve_routine
from assistant.runner import SessionResult, act, build_session, run_session
from assistant.session import Session, Timing

FINISHED, STOPPED = Outcome.FINISHED, Outcome.STOPPED


@functools.cache
def routine(name: str) -> Routine:
    return resolve_routine(name)


def _finished(*ids: int, routine_id: str = "strong_back") -> list[Past]:
    return [Past(i, routine_id, FINISHED) for i in ids]


# --------------------------------------------------------------------------- sets


def test_sets_level_grows_with_finished_sessions_up_to_the_goal() -> None:
    r = routine("strong_back")
    assert progression.sets_level(r, [], [], 2) == 1
    assert progression.sets_level(r, _finished(1), [], 2) == 1
    assert progression.sets_level(r, _finished(1, 2), [], 2) == 2
    assert progression.sets_level(r, _finished(*range(1, 20)), [], 2) == 3  # the goal
    assert progression.sets_level(routine("spine"), _finished(*range(1, 9)), [], 1) == 1


def test_sets_level_counts_only_this_routine_and_restarts_after_pain_anywhere() -> None:
    r = routine("strong_back")
    pasts = [
        *_finished(1, 2),
        Past(3, "strong_back", STOPPED),
        *_finished(4, routine_id="spine"),
    ]
    assert progression.sets_level(r, pasts, [], 2) == 2
    pasts.append(Past(5, "spine", Outcome.PAIN))
    assert progression.sets_level(r, pasts, [], 2) == 1
    assert progression.sets_level(r, [*pasts, *_finished(6, 7)], [], 2) == 2


def test_make_it_easier_on_sets_restarts_the_count_from_its_level() -> None:
    r = routine("strong_back")
    easier = Change(SETS, "strong_back", 3, 2, EASIER, session_id=6, id=9, undoes=4)
    pasts = _finished(*range(1, 7))
    assert progression.sets_level(r, pasts, [easier], 2) == 2
    assert progression.sets_level(r, [*pasts, *_finished(7)], [easier], 2) == 2
    assert progression.sets_level(r, [*pasts, *_finished(7, 8)], [easier], 2) == 3
    # A pain stop after it wins: one set.
    later_pain = [*pasts, Past(7, "strong_back", Outcome.PAIN)]
    assert progression.sets_level(r, later_pain, [easier], 2) == 1


def test_sets_change_says_why() -> None:
    r = routine("strong_back")
    up = progression.sets_change(r, _finished(1, 2), [], 2)
    assert up == Change(SETS, "strong_back", 1, 2, SESSIONS)
    recorded = [Change(SETS, "strong_back", 1, 2, SESSIONS, session_id=2, id=1)]
    assert progression.sets_change(r, _finished(1, 2), recorded, 2) is None
    after_pain = [*_finished(1, 2), Past(3, "strong_back", Outcome.PAIN)]
    assert progression.sets_change(r, after_pain, recorded, 2) == Change(
        SETS, "strong_back", 2, 1, PAIN
    )


# --------------------------------------------------------------------------- the plan


def test_first_plan_is_one_set_first_stage_and_a_low_extensor_ceiling() -> None:
    back = progression.plan(routine("strong_back"), [], 1, 2)
    assert set(back.sets.values()) == {1}
    assert back.stages == {"chest_lift": 1}
    spine = progression.plan(routine("spine"), [], 1, 2)
    extensor = spine.routine.exercise("extensor_strengthening")
    assert extensor.reps.count == progression.OPEN_REPS_START
    assert extensor.reps.goal == (15, 20)
    # Until-tired exercises with no goal range keep their ceiling.
    assert spine.routine.exercise("neck_press").reps.count == 10


def test_plan_follows_the_changes_in_effect() -> None:
    r = routine("strong_back")
    changes = [
        Change(STAGE, "chest_lift", 1, 2, EASY, 1, 1),
        Change(STAGE, "chest_lift", 2, 3, EASY, 3, 2),
        Change(STAGE, "chest_lift", 3, 2, EASIER, 4, 3, undoes=2),
        Change(HARDER, "head_press", 0, 1, EASY, 4, 4),
    ]
    plan = progression.plan(r, changes, 3, 2)
    assert plan.stages == {"chest_lift": 2}
    assert plan.sets["pelvic_tilt"] == 3 and plan.sets["head_press"] == 1
    ids = [ex.id for ex in plan.routine.session_exercises(plan.stages)]
    assert "chest_lift_2" in ids and "chest_lift_1" not in ids
    head = plan.routine.exercise("head_press")
    assert "light weights" in head.purpose
    assert "light weights" not in plan.routine.exercise("pelvic_tilt").purpose
    assert "light weights" in phrases.announce(head, 5, 5, 1)


# --------------------------------------------------------------------------- questions


def test_a_yes_after_chest_lift_one_or_two_leads_to_the_next_stage() -> None:
    r = routine("strong_back")
    assert progression.step_for(r, [], "chest_lift_1", 1, 8) == Change(
        STAGE, "chest_lift", 1, 2, EASY
    )
    assert progression.step_for(r, [], "chest_lift_2", 1, 8) == Change(
        STAGE, "chest_lift", 2, 3, EASY
    )


def test_light_weights_only_once_the_goal_is_reached() -> None:
    r = routine("strong_back")
    assert progression.step_for(r, [], "pelvic_tilt", 1, 8) is None  # 1 of 3 sets
    assert progression.step_for(r, [], "pelvic_tilt", 3, 8) == Change(
        HARDER, "pelvic_tilt", 0, 1, EASY
    )
    assert progression.step_for(r, [], "chest_lift_3", 3, 8) == Change(
        HARDER, "chest_lift_3", 0, 1, EASY
    )
    assert progression.step_for(r, [], "head_press", 1, 8) is not None  # its goal is one set
    suggested = [Change(HARDER, "head_press", 0, 1, EASY, 2, 1)]
    assert progression.step_for(r, suggested, "head_press", 1, 8) is None


def test_extensor_ceiling_rises_towards_its_goal_then_the_harder_way() -> None:
    r = routine("spine")
    changes: list[Change] = []
    ceilings = []
    while (step := progression.step_for(r, changes, "extensor_strengthening", 1, 99)) is not None:
        changes.append(step)
        if step.kind != REPS:
            break
        ceilings.append(step.new)
    assert ceilings == [12, 14, 16, 18, 20]
    assert changes[-1] == Change(HARDER, "extensor_strengthening", 0, 1, EASY)
    # Stopped short of the ceiling ("done" at 12 of 20): the goal is not reached.
    at_top = changes[:-1]
    assert progression.step_for(r, at_top, "extensor_strengthening", 1, 12) is None
    # An until-tired exercise with no goal range: its ceiling is the goal.
    assert progression.step_for(r, [], "neck_press", 1, 6) is None
    assert progression.step_for(r, [], "neck_press", 1, 10) is not None
    assert progression.step_for(r, [], "chest_raises", 1, 10) is None  # no harder way


def test_two_yeses_in_finished_sessions_running_earn_the_step() -> None:
    step = {"chest_lift_1": Change(STAGE, "chest_lift", 1, 2, EASY)}
    yes = functools.partial(Answer, exercise_id="chest_lift_1", easy=True)
    no = functools.partial(Answer, exercise_id="chest_lift_1", easy=False)
    pasts = _finished(1, 2, 3)

    def earned(
        answers: list[Answer], pasts: list[Past] = pasts, changes: tuple[Change, ...] = ()
    ) -> list[Change]:
        return progression.easy_changes(step, 3, answers, pasts, changes)

    assert earned([yes(3)]) == []
    assert earned([yes(2), yes(3)]) == [Change(STAGE, "chest_lift", 1, 2, EASY, session_id=3)]
    assert earned([yes(1), no(2), yes(3)]) == []
    assert earned([yes(2), no(3)]) == []
    assert earned([yes(2), no(3), yes(3)]) != []  # the last answer of a session counts
    # A yes in a session that ended for pain, or was stopped, does not count.
    assert earned([yes(2), yes(3)], [*_finished(1, 3), Past(2, "strong_back", STOPPED)]) == []
    # Nor a yes given before the last change to that step.
    before = (Change(STAGE, "chest_lift", 2, 1, EASIER, 2, 7, undoes=6),)
    assert earned([yes(2), yes(3)], changes=before) == []


# --------------------------------------------------------------------------- undo


def test_make_it_easier_takes_back_the_latest_step_up_still_in_effect() -> None:
    stage = Change(STAGE, "chest_lift", 1, 2, EASY, 2, 1)
    sets = Change(SETS, "strong_back", 1, 2, SESSIONS, 2, 2)
    first = progression.undo([stage, sets], session_id=3)
    assert first == Change(SETS, "strong_back", 2, 1, EASIER, 3, undoes=2)
    assert first is not None
    second = progression.undo([stage, sets, Change(**{**first.__dict__, "id": 3})], 3)
    assert second == Change(STAGE, "chest_lift", 2, 1, EASIER, 3, undoes=1)
    assert second is not None
    done = [
        stage,
        sets,
        Change(**{**first.__dict__, "id": 3}),
        Change(**{**second.__dict__, "id": 4}),
    ]
    assert progression.undo(done) is None
    # A step already undone by pain is not "undone" again (that would make it harder).
    pain = Change(SETS, "strong_back", 2, 1, PAIN, 3, 3)
    assert progression.undo([sets, pain]) is None


# --------------------------------------------------------------------------- real SQLite


def test_a_history_of_schema_one_opens_and_keeps_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO sessions (profile, routine_id, started_at, outcome, pid, process_token)"
            " VALUES ('ann', 'strong_back', '2024-05-01T09:00:00.000+00:00', 'finished', 1, 'x')"
        )
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    with History(path) as history:
        assert history.pasts("ann") == [Past(1, "strong_back", FINISHED)]
        assert history.changes("ann", "strong_back") == []
        history.record_answer(1, "chest_lift_1", True)
        assert history.answers("ann", "strong_back") == [Answer(1, "chest_lift_1", True)]
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


@dataclass
class Person:
    """Speaks the coach's lines into a list and answers its questions, posted on the loop."""

    loop: EventLoop
    replies: dict[str, str] = field(default_factory=dict)
    """Sentence fragment -> command said right after it (once each)."""
    said: list[str] = field(default_factory=list)
    session: Session | None = None

    def say(self, text: str) -> None:
        self.said.append(text)
        for fragment, command in list(self.replies.items()):
            if fragment in text and self.session is not None:
                del self.replies[fragment]
                # Due at once: before any timer already set (an answer window), as a
                # person answering right away.
                self.loop.call_later(0.0, functools.partial(act, self.session, command))

    def stop(self) -> None:
        pass


def _session(
    path: Path, name: str, profile: str, replies: dict[str, str], per: int = 2
) -> tuple[SessionResult, Person, Session]:
    """One whole session, fast, with real history; ``replies`` answer the coach."""
    loop = EventLoop(time_scale=1e-5)
    person = Person(loop, dict(replies))
    with History(path) as history:
        session = build_session(
            routine(name), person, loop, history, Timing(position_seconds=1.0), profile, per
        )
        person.session = session
        result = run_session(session, loop, history, lambda: None)
    return result, person, session


def _ids(session: Session) -> list[str]:
    return [exercise.id for exercise in session.exercises]


def _kinds(path: Path, profile: str, routine_id: str = "strong_back") -> list[tuple[str, ...]]:
    with History(path) as history:
        return [
            (c.kind, c.subject, str(c.old), str(c.new), c.reason)
            for c in history.changes(profile, routine_id)
        ]


YES = {"Chest Lift One. Well done": "yes", "was Head Press easy": "no"}


def test_chest_lift_moves_on_after_two_easy_sessions_and_back_on_make_it_easier(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    first, person, session = _session(path, "strong_back", "ann", YES, per=10)
    assert first.outcome is FINISHED
    assert "chest_lift_1" in _ids(session)
    assert phrases.EASY_QUESTION in person.said
    assert phrases.ANSWER_YES in person.said and phrases.ANSWER_NO in person.said
    assert _kinds(path, "ann") == []

    _, person, _ = _session(path, "strong_back", "ann", YES, per=10)
    assert phrases.next_stage("Chest Lift One", "Chest Lift Two") in person.said
    assert _kinds(path, "ann") == [("stage", "chest_lift", "1", "2", "easy")]

    easier = {"Exercise one of five": "easier"}
    _, person, session = _session(path, "strong_back", "ann", easier, per=10)
    assert "chest_lift_2" in _ids(session) and "chest_lift_1" not in _ids(session)
    assert phrases.back_to_stage("Chest Lift One", "Chest Lift Two") in person.said
    assert _kinds(path, "ann")[-1] == ("stage", "chest_lift", "2", "1", "easier")

    _, person, session = _session(path, "strong_back", "ann", {}, per=10)
    assert "chest_lift_1" in _ids(session)
    with History(path) as history:
        answers = history.answers("ann", "strong_back")
    assert [(a.exercise_id, a.easy) for a in answers] == [
        ("chest_lift_1", True),
        ("head_press", False),
    ] * 2
    # Someone else's history is their own.
    _, person, session = _session(path, "strong_back", "bob", {}, per=10)
    assert "chest_lift_1" in _ids(session) and _kinds(path, "bob") == []


def test_sets_grow_are_said_and_pain_takes_them_back_to_one(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _, person, session = _session(path, "strong_back", "cy", {}, per=1)
    assert session.sets == 1
    assert phrases.more_sets(2) in person.said
    _, person, session = _session(path, "strong_back", "cy", {"Set one of two": "pain"}, per=1)
    assert session.outcome is Outcome.PAIN
    assert phrases.BACK_TO_ONE_SET in person.said
    assert person.said.index(phrases.pain_advice()) < person.said.index(phrases.BACK_TO_ONE_SET)
    _, _, session = _session(path, "strong_back", "cy", {"Exercise one": "stop"}, per=1)
    assert session.sets == 1
    assert _kinds(path, "cy") == [
        ("sets", "strong_back", "1", "2", "sessions"),
        ("sets", "strong_back", "2", "1", "pain"),
    ]


def test_extensor_goes_up_to_twelve_after_two_easy_sessions(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    replies = {"Strengthening Extensor Muscles. Well done": "yes"}
    for _ in range(2):
        _session(path, "spine", "di", {**replies, "Neck Press Against Resistance. Well": "no"})
    assert _kinds(path, "di", "spine") == [("reps", "extensor_strengthening", "10", "12", "easy")]
    _, person, session = _session(path, "spine", "di", {})
    extensor = session.exercises[1]
    assert extensor.reps.count == 12
    assert any("up to twelve times" in line for line in person.said)


def test_the_last_question_is_asked_after_the_summary_and_pain_then_is_still_heard(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    result, person, _ = _session(path, "strong_back", "ed", {"was Head Press easy": "pain"})
    summary = next(i for i, line in enumerate(person.said) if "That's all for today" in line)
    question = person.said.index(
        phrases.easy_question_after(routine("strong_back").exercise("head_press"))
    )
    assert summary < question < person.said.index(phrases.pain_advice())
    assert result.outcome is Outcome.PAIN and result.exit_code == 3
    with History(path) as history:
        outcomes = [p.outcome for p in history.pasts("ed")]
    assert outcomes == [FINISHED, Outcome.PAIN]


def test_a_guest_is_never_asked_and_never_moves_on(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    for _ in range(3):
        result, person, session = _session(path, "strong_back", GUEST, {}, per=1)
        assert result.outcome is FINISHED
        assert session.sets == 1 and "chest_lift_1" in _ids(session)
        assert phrases.EASY_QUESTION not in person.said
    _, person, _ = _session(path, "strong_back", GUEST, {"Exercise one": "easier"}, per=1)
    assert phrases.ALREADY_EASIEST in person.said
    assert _kinds(path, GUEST) == []


def test_yes_with_no_question_is_answered_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _, person, _ = _session(path, "spine", "fay", {"Exercise one": "yes"})
    assert phrases.NO_QUESTION in person.said
    with History(path) as history:
        assert history.answers("fay", "spine") == []
