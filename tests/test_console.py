"""Whole sessions through the text console, typed commands and a manual clock."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from assistant.clock import ManualClock
from assistant.console import ConsoleSpeaker, LineReader
from assistant.grammar import default_grammar_path, load_grammar
from assistant.history import History
from assistant.ports import Outcome
from assistant.routine import resolve_routine
from assistant.runner import hear
from assistant.session import Session

GRAMMAR = load_grammar(default_grammar_path())


def _console_session(
    routine_id: str, tmp_path: Path
) -> tuple[Session, ManualClock, io.StringIO, History]:
    clock = ManualClock()
    out = io.StringIO()
    history = History(tmp_path / "history.sqlite3")
    session = Session(resolve_routine(routine_id), ConsoleSpeaker(out), clock, history)
    return session, clock, out, history


def _type_when(
    session: Session, clock: ManualClock, when: Callable[[Session], bool], text: str
) -> None:
    clock.run_until(lambda: when(session) or session.is_over)
    assert not session.is_over, f"session ended before {text!r} could be typed"
    hear(session, GRAMMAR, text)


def test_whole_strong_back_session_with_typed_commands(tmp_path: Path) -> None:
    session, clock, out, history = _console_session("strong_back", tmp_path)
    session.begin()
    _type_when(session, clock, lambda s: s.state == "position", "I'm ready")
    _type_when(session, clock, lambda s: s.state == "hold", "wait a moment")
    assert session.state == "paused"
    clock.advance(120)
    hear(session, GRAMMAR, "carry on")
    _type_when(session, clock, lambda s: s.state == "lift", "say that again")
    _type_when(session, clock, lambda s: s.state == "lift", "can I have a longer rest")
    _type_when(session, clock, lambda s: s.state == "rest", "what can I say")
    _type_when(session, clock, lambda s: s.state == "rest", "next one please")
    _type_when(session, clock, lambda s: s.exercise.id == "chest_lift_1", "skip this one")
    clock.run_until(lambda: session.is_over)
    text = out.getvalue()
    history.close()
    assert session.outcome is Outcome.FINISHED
    for expected in (
        "coach: Welcome.",
        "Check with your doctor",
        "Exercise one of five: Pelvic Tilt.",
        "Paused.",
        "Resuming.",
        "Your rests are now one minute.",
        "Well done. Rest for one minute.",
        "You can say",
        "Skipping Chest Lift One.",
        "Now the other side",
        "Head Press",
        "That's all for today.",
    ):
        assert expected in text, expected
    with History(tmp_path / "history.sqlite3") as reopened:
        (summary,) = reopened.recent_sessions()
        kinds = [event.kind for event in reopened.events_of(summary.id)]
    assert summary.outcome is Outcome.FINISHED
    assert kinds.count("pause") == 1
    assert "longer_rest" in kinds
    assert "skip" in kinds


def test_whole_spine_session_with_done_ends_open_ended_sets(tmp_path: Path) -> None:
    session, clock, out, history = _console_session("spine", tmp_path)
    session.begin()
    for exercise in ("neck_press", "extensor_strengthening", "chest_raises"):
        _type_when(
            session,
            clock,
            lambda s, e=exercise: s.exercise.id == e and s.cursor.reps == 3,  # type: ignore[misc]
            "I'm tired",
        )
    clock.run_until(lambda: session.is_over)
    history.close()
    text = out.getvalue()
    assert session.outcome is Outcome.FINISHED
    assert text.count("Well done, three repetitions.") == 3
    assert "Never flex or bend your spine forward" in text
    with History(tmp_path / "history.sqlite3") as reopened:
        (summary,) = reopened.recent_sessions()
        sets = reopened.sets_of(summary.id)
    assert [(s.exercise_id, s.reps_done, s.how) for s in sets] == [
        ("neck_press", 3, "done"),
        ("extensor_strengthening", 3, "done"),
        ("chest_raises", 3, "done"),
    ]


def test_typed_pain_mid_hold_stops_and_advises(tmp_path: Path) -> None:
    session, clock, out, history = _console_session("strong_back", tmp_path)
    session.begin()
    _type_when(session, clock, lambda s: s.state == "hold" and s.cursor.reps == 2, "ow my back")
    history.close()
    assert session.outcome is Outcome.PAIN
    assert out.getvalue().rstrip().endswith("call for emergency help."), (
        "the pain advice is the last thing said"
    )
    with History(tmp_path / "history.sqlite3") as reopened:
        (summary,) = reopened.recent_sessions()
    assert (summary.exercise_id, summary.set_no, summary.rep_no) == ("pelvic_tilt", 1, 3)


def test_unknown_words_get_an_answer(tmp_path: Path) -> None:
    session, _clock, out, history = _console_session("spine", tmp_path)
    session.begin()
    assert hear(session, GRAMMAR, "the weather is nice today") is None
    history.close()
    assert "Sorry, I did not catch that." in out.getvalue()


def test_line_reader_hands_over_each_line_then_the_end() -> None:
    lines: list[str] = []
    ended: list[bool] = []
    reader = LineReader(
        io.StringIO("pause\n\n  resume  \n"), lines.append, lambda: ended.append(True)
    )
    reader.start()
    reader._thread.join(timeout=5)
    assert lines == ["pause", "resume"]
    assert ended == [True]


def test_microphone_lost_pauses_and_its_return_resumes(tmp_path: Path) -> None:
    session, clock, out, history = _console_session("strong_back", tmp_path)
    session.begin()
    clock.run_until(lambda: session.state == "hold")
    session.input_lost()
    assert session.state == "paused"
    clock.advance(600)
    assert session.state == "paused", "nothing carries on blind while the mic is gone"
    session.input_back()
    assert session.state == "hold"
    clock.run_until(lambda: session.is_over)
    history.close()
    text = out.getvalue()
    assert "the microphone seems to be disconnected" in text
    assert "I can hear you again." in text
    assert session.outcome is Outcome.FINISHED


def test_user_pause_is_not_resumed_by_the_microphone_coming_back(tmp_path: Path) -> None:
    session, clock, _out, history = _console_session("strong_back", tmp_path)
    session.begin()
    clock.run_until(lambda: session.state == "rest" or session.state == "position")
    hear(session, GRAMMAR, "pause")
    session.input_lost()
    session.input_back()
    history.close()
    assert session.state == "paused"
