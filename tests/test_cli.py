"""The command line, run as a user runs it: real processes, real files, typed commands."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

from assistant.cli import main
from assistant.history import History
from assistant.ports import Outcome
from assistant.runner import EXIT_PAIN

FAST = "0.0005"
COACH = (sys.executable, "-m", "assistant")


def _coach(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _history(data_dir: Path) -> History:
    return History(data_dir / "history.sqlite3")


def test_list_names_both_routines_and_their_exercises() -> None:
    out = io.StringIO()
    assert main(["list"], stdout=out) == 0
    text = out.getvalue()
    for name in (
        "strong_back",
        "spine",
        "Pelvic Tilt",
        "Diagonal Lift",
        "Head Press",
        "Neck Press",
        "Chest Raises",
    ):
        assert name in text


def test_full_text_session_of_each_routine_runs_to_the_end(_private_dirs: Path) -> None:
    for routine in ("strong_back", "spine"):
        done = _coach("run", "--text", "--routine", routine, "--time-scale", FAST)
        assert done.returncode == 0, done.stderr
        assert "That's all for today." in done.stdout
        assert "Traceback" not in done.stderr
    with _history(_private_dirs) as history:
        sessions = history.recent_sessions()
    assert [s.outcome for s in sessions] == [Outcome.FINISHED, Outcome.FINISHED]
    assert {s.routine_id for s in sessions} == {"strong_back", "spine"}
    strong = next(s for s in sessions if s.routine_id == "strong_back")
    # First session: one set of each of the five exercises a session does (one chest lift stage);
    # two-sided exercises count a set per side.
    assert strong.sets_done == 7
    assert strong.reps_done == 7 * 8


def test_typed_pain_ends_the_session_with_doctor_advice_and_exit_status(
    _private_dirs: Path,
) -> None:
    done = _coach("run", "--text", "--routine", "spine", "--time-scale", FAST, stdin="ouch\n")
    assert done.returncode == EXIT_PAIN, done.stderr
    assert "call your doctor or physical therapist" in done.stdout
    assert "That's all for today." not in done.stdout
    with _history(_private_dirs) as history:
        (session,) = history.recent_sessions()
    assert session.outcome is Outcome.PAIN


def test_stop_ends_normally() -> None:
    done = _coach(
        "run", "--text", "--routine", "strong_back", "--time-scale", FAST, stdin="end session\n"
    )
    assert done.returncode == 0
    assert "Ending the session." in done.stdout


def test_malformed_routine_gets_one_line_naming_file_exercise_and_field(tmp_path: Path) -> None:
    good = Path(__file__).parent.parent / "assistant" / "routines" / "strong_back.toml"
    text = good.read_text(encoding="utf-8").replace("hold_seconds = 10", "hold_seconds = -5", 1)
    bad = tmp_path / "my_routine.toml"
    bad.write_text(text, encoding="utf-8")
    done = _coach("run", "--text", "--routine", str(bad))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "my_routine.toml" in done.stderr
    assert "pelvic_tilt" in done.stderr
    assert "hold_seconds" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_routine_file_is_a_clear_error(tmp_path: Path) -> None:
    done = _coach("run", "--text", "--routine", str(tmp_path / "nope.toml"))
    assert done.returncode == 2
    assert "nope.toml" in done.stderr
    assert "Traceback" not in done.stderr


def test_history_lists_sessions_as_they_ended(_private_dirs: Path) -> None:
    _coach("run", "--text", "--routine", "spine", "--time-scale", FAST, stdin="pain\n")
    _coach("run", "--text", "--routine", "spine", "--time-scale", FAST)
    done = _coach("history")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert "finished" in lines[1]
    assert "pain" in lines[2]


def test_bad_config_value_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("time_scale = -1\n", encoding="utf-8")
    done = _coach("run", "--text", env={"EXERCISE_COACH_CONFIG": str(config)})
    assert done.returncode == 2
    assert "time_scale" in done.stderr
    assert "Traceback" not in done.stderr


def test_kill_9_mid_session_loses_at_most_the_current_repetition(_private_dirs: Path) -> None:
    coach = subprocess.Popen(
        [*COACH, "run", "--text", "--routine", "spine", "--time-scale", "0.01"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert coach.stdout is not None
    said: list[str] = []
    for line in coach.stdout:
        said.append(line)
        if "Repetition four." in line:
            break
    os.kill(coach.pid, signal.SIGKILL)
    coach.wait(timeout=10)
    coach.stdout.close()
    assert coach.stdin is not None
    coach.stdin.close()
    # Three repetitions were released before "Repetition four" was said: all three are kept.
    assert sum("And release." in line for line in said) == 3
    done = _coach("history")
    assert "crashed at neck_press set 1" in done.stdout
    with _history(_private_dirs) as history:
        (session,) = history.recent_sessions()
        (first_set,) = history.sets_of(session.id)
    assert session.outcome is Outcome.CRASHED
    assert first_set.reps_done == 3


def test_spoken_run_without_a_sound_card_says_what_to_do(tmp_path: Path) -> None:
    # No PulseAudio here: PortAudio finds no output device, as on a machine with no speaker.
    env = {"PULSE_SERVER": f"unix:{tmp_path}/no-such-socket", "AUDIODEV": "none"}
    done = _coach("run", "--engine", "pocketsphinx", env=env)
    assert done.returncode == 2
    assert "cannot open the speaker" in done.stderr
    assert "--text" in done.stderr
    assert "Traceback" not in done.stderr
