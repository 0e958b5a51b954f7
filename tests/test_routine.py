"""The built-in routines encode their seeds faithfully, and bad routine files fail clearly."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.errors import RoutineError
from assistant.routine import (
    Routine,
    builtin_routines,
    load_routine,
    resolve_routine,
)
from assistant.routine_file import MAX_FILE_BYTES

# ---------------------------------------------------------------- the built-in routines


def test_builtin_routines_are_found_by_id() -> None:
    builtins = builtin_routines()
    assert set(builtins) == {"strong_back", "spine"}
    for routine_id, path in builtins.items():
        assert load_routine(path).id == routine_id == path.stem


def test_strong_back_has_the_seven_exercises_in_order() -> None:
    routine = resolve_routine("strong_back")
    assert routine.title == "Exercises for Strong Back and Hips"
    assert [e.name for e in routine.exercises] == [
        "Pelvic Tilt",
        "Leg and Arm Lift",
        "Chest Lift One",
        "Chest Lift Two",
        "Chest Lift Three",
        "Diagonal Lift",
        "Head Press",
    ]


def test_spine_has_the_three_exercises_in_order() -> None:
    routine = resolve_routine("spine")
    assert [e.name for e in routine.exercises] == [
        "Neck Press Against Resistance",
        "Strengthening Extensor Muscles",
        "Chest Raises from Prone",
    ]


def test_sources_are_cited() -> None:
    nof = resolve_routine("strong_back").source
    assert "Christine Snow Harter" in nof
    assert "National Osteoporosis Foundation" in nof
    assert "1989" in nof
    bhof = resolve_routine("spine").source
    assert "Bone Health and Osteoporosis Foundation" in bhof
    assert "Richard Baldwin" in bhof


def test_strong_back_values_follow_the_seed() -> None:
    routine = resolve_routine("strong_back")
    pelvic = routine.exercise("pelvic_tilt")
    assert pelvic.hold.seconds == 10
    assert (pelvic.hold.counts, pelvic.hold.count_seconds) == (10, 1.0)
    assert not pelvic.hold.slow_count
    assert (pelvic.sets_goal, pelvic.rest_between_sets_seconds) == (3, 30)

    leg_arm = routine.exercise("leg_arm_lift")
    assert leg_arm.hold.seconds == 5
    assert [side.name for side in leg_arm.sides] == ["left leg", "right leg"]
    assert (leg_arm.sets_goal, leg_arm.reps.count, leg_arm.rest_between_sets_seconds) == (3, 8, 30)
    assert "left leg" in leg_arm.sides[0].steps[0]
    assert "right leg" in leg_arm.sides[1].steps[0]

    diagonal = routine.exercise("diagonal_lift")
    assert diagonal.hold.seconds == 10
    right, left = diagonal.sides
    assert right.position is not None and right.position.startswith("Lie on your right side")
    assert "left arm and left leg" in right.steps[0]
    assert left.position is not None and left.position.startswith("Lie on your left side")
    assert "right arm and right leg" in left.steps[0]

    head = routine.exercise("head_press")
    assert (head.sets_goal, head.reps.count, head.hold.seconds) == (1, 8, 5)
    assert head.equipment == ("chair",)

    for exercise_id in ("chest_lift_1", "chest_lift_2", "chest_lift_3"):
        chest = routine.exercise(exercise_id)
        assert (chest.hold.seconds, chest.sets_goal, chest.reps.count) == (5, 3, 8)
    for exercise in routine.exercises:
        assert not exercise.reps.until_tired
        assert exercise.frequency is None
        assert any("light weights" in way for way in exercise.progression.harder)
        assert exercise.equipment == (("chair",) if exercise.id == "head_press" else ("mat",))
    assert routine.frequency.days_per_week == (3, 6)
    assert routine.frequency.times_per_day == 1
    assert routine.longer_rest_seconds == (60, 120)


def test_strong_back_general_cautions_are_read_first() -> None:
    cautions = " ".join(resolve_routine("strong_back").general_cautions)
    assert "Check with your doctor or physical therapist" in cautions
    assert "one set" in cautions
    assert "slowly" in cautions
    assert "If at any time you feel pain, stop, and call your doctor." in cautions


def test_spine_values_follow_the_seed() -> None:
    routine = resolve_routine("spine")
    for exercise in routine.exercises:
        assert exercise.hold.slow_count
        assert (exercise.hold.counts, exercise.hold.count_seconds) == (5, 1.5)
        assert exercise.hold.seconds == 7.5
        assert exercise.reps.until_tired
        assert exercise.sets_goal == 1
        assert exercise.rest_between_reps_seconds == 2
        assert exercise.frequency is not None
        assert exercise.frequency.days_per_week == (7, 7)
        assert not exercise.sides

    neck = routine.exercise("neck_press")
    assert neck.reps.count == 10 and neck.reps.goal is None
    assert neck.frequency is not None and neck.frequency.times_per_day == 2
    assert neck.equipment == ("pillow", "bed or floor")
    assert any("rolled towel" in way for way in neck.progression.harder)

    extensor = routine.exercise("extensor_strengthening")
    assert extensor.reps.goal == (15, 20)
    assert extensor.reps.count == 20
    assert extensor.equipment == ("ball", "wall")
    assert any("further away from the wall" in way for way in extensor.progression.harder)
    assert extensor.frequency is not None and extensor.frequency.times_per_day == 1

    raises = routine.exercise("chest_raises")
    assert raises.reps.count == 10
    assert raises.equipment == ("bed or floor", "pillow")
    assert any("more advanced" in caution for caution in raises.cautions)

    assert "Never flex or bend your spine forward." in " ".join(routine.general_cautions)


def test_no_stray_web_words_in_spoken_text() -> None:
    for routine_id in builtin_routines():
        routine = resolve_routine(routine_id)
        spoken = [*routine.general_cautions]
        for e in routine.exercises:
            spoken += [e.name, e.position, *e.steps, e.purpose, *e.cautions, *e.suggestions]
            for side in e.sides:
                spoken += [side.name, side.position or "", *side.steps]
        text = " ".join(spoken)
        assert "Exercise6" not in text and "Acrobat" not in text
        assert not re.search(r"\bExercise\d", text)


def test_session_picks_one_chest_lift_stage() -> None:
    routine = resolve_routine("strong_back")
    assert routine.series_stages() == {"chest_lift": 3}
    first = [e.id for e in routine.session_exercises()]
    assert first == ["pelvic_tilt", "leg_arm_lift", "chest_lift_1", "diagonal_lift", "head_press"]
    later = [e.id for e in routine.session_exercises({"chest_lift": 2})]
    assert "chest_lift_2" in later and "chest_lift_1" not in later and "chest_lift_3" not in later
    stages = [e.progression.stage for e in routine.exercises if e.progression.series]
    assert stages == [1, 2, 3]
    assert routine.exercise("chest_lift_1").progression.advance_when


# ---------------------------------------------------------------- the choices are noted


def _notes(routine: Routine, exercise_id: str) -> str:
    return " ".join(routine.exercise(exercise_id).notes)


def test_every_ambiguous_choice_has_a_note() -> None:
    nof = resolve_routine("strong_back")
    assert "no count" in _notes(nof, "pelvic_tilt") and "8" in _notes(nof, "pelvic_tilt")
    assert "no hold" in _notes(nof, "chest_lift_3") and "5 seconds" in _notes(nof, "chest_lift_3")
    for exercise in nof.exercises:
        assert "rest between repetitions" in " ".join(exercise.notes)
    for exercise_id in ("leg_arm_lift", "diagonal_lift"):
        assert "on each side" in _notes(nof, exercise_id)
    assert "arms keep their position" in _notes(nof, "leg_arm_lift")
    assert "mat" in " ".join(nof.notes)

    bhof = resolve_routine("spine")
    for exercise in bhof.exercises:
        notes = " ".join(exercise.notes)
        assert "1.5 seconds" in notes
        assert "no number of sets" in notes
    assert "no ceiling" in _notes(bhof, "chest_raises")
    assert "2 seconds" in _notes(bhof, "neck_press")
    assert "no date" in " ".join(bhof.notes)


def test_every_choice_comment_is_repeated_in_notes() -> None:
    for routine_id, path in builtin_routines().items():
        routine = resolve_routine(routine_id)
        top, *blocks = path.read_text(encoding="utf-8").split("\n[[exercises]]\n")
        if "CHOICE:" in top.split('# "CHOICE:"')[-1]:
            assert routine.notes, routine_id
        for block in blocks:
            match = re.search(r'^id = "(\w+)"', block, re.MULTILINE)
            assert match is not None
            if "CHOICE:" in block:
                assert routine.exercise(match.group(1)).notes, match.group(1)


# ---------------------------------------------------------------- resolving names


def test_resolve_routine_reads_a_users_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(_toml(), encoding="utf-8")
    routine = resolve_routine(str(path))
    assert routine.id == "test_routine"
    assert routine.exercise("pelvic_tilt").hold.seconds == 10
    assert routine.longer_rest_seconds == (60.0, 120.0)


@pytest.mark.parametrize("name", ["strong_bak", "", "   "])
def test_resolve_routine_names_the_builtins_for_an_unknown_name(name: str) -> None:
    with pytest.raises(RoutineError, match="built-in routines are spine, strong_back"):
        resolve_routine(name)


# ---------------------------------------------------------------- files that cannot be read


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RoutineError, match=r"nothere\.toml: no such routine file"):
        load_routine(tmp_path / "nothere.toml")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(RoutineError, match="is a folder"):
        load_routine(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(_toml().replace("Lie on", "Lie \xe9 on").encode("latin-1"))
    with pytest.raises(RoutineError, match=r"latin\.toml: is not UTF-8 text \(bad byte"):
        load_routine(path)


def test_utf8_with_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(_toml().encode("utf-8-sig"))
    assert load_routine(path).id == "test_routine"


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(_toml() + "#" * MAX_FILE_BYTES, encoding="utf-8")
    with pytest.raises(RoutineError, match=r"huge\.toml: is larger than 1 MB"):
        load_routine(path)


def test_deeply_dotted_key_is_refused_before_parsing(tmp_path: Path) -> None:
    # tomllib would need gigabytes for this 200 kB line.
    path = tmp_path / "deep.toml"
    path.write_text("a." * 100_000 + "b = 1\n", encoding="utf-8")
    with pytest.raises(RoutineError, match=r"deep\.toml: has 20 or more names joined by dots"):
        load_routine(path)


def test_deeply_nested_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nested.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(RoutineError, match=r"nested\.toml: is not valid TOML: nested too deeply"):
        load_routine(path)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('id = "x"\ntitle = "unclosed\n', encoding="utf-8")
    with pytest.raises(RoutineError, match=r"broken\.toml: is not valid TOML: .*line 2"):
        load_routine(path)


# ---------------------------------------------------------------- malformed routines

_TOP: dict[str, str] = {
    "id": '"test_routine"',
    "title": '"Test"',
    "general_cautions": '["Check with your doctor first."]',
    "source": '{ title = "T", organisation = "O" }',
    "frequency": "{ days_per_week = [3, 6] }",
}
_EXERCISE: dict[str, str] = {
    "id": '"pelvic_tilt"',
    "name": '"Pelvic Tilt"',
    "position": '"Lie on your back."',
    "steps": '["Lift.", "Hold.", "Roll down."]',
    "hold_seconds": "10",
    "reps": "8",
    "sets_goal": "3",
    "rest_between_sets_seconds": "30",
    "rest_between_reps_seconds": "5",
}


def _toml(
    top: dict[str, str | None] | None = None,
    exercise: dict[str, str | None] | None = None,
    extra: str = "",
) -> str:
    """A small valid routine, with fields replaced (None drops one) and text appended."""
    lines = [f"{k} = {v}" for k, v in {**_TOP, **(top or {})}.items() if v is not None]
    fields = [f"{k} = {v}" for k, v in {**_EXERCISE, **(exercise or {})}.items() if v is not None]
    if fields:
        lines += ["", "[[exercises]]", *fields]
    return "\n".join(lines) + "\n" + extra


_SECOND = '\n[[exercises]]\nid = "chest_lift_{n}"\nname = "C"\nposition = "P."\nsteps = ["S."]\n'
_SECOND += "hold_seconds = 5\nreps = 8\nsets_goal = 3\n"
_SECOND += "rest_between_sets_seconds = 30\nrest_between_reps_seconds = 3\n"
_SIDE = '\n[[exercises.sides]]\nname = "left leg"\n'

_NO_EXERCISE: dict[str, str | None] = dict.fromkeys(_EXERCISE)

Case = tuple[dict[str, str | None], dict[str, str | None], str, list[str]]
PT = "bad.toml: exercise 'pelvic_tilt': "
CASES: dict[str, Case] = {
    "negative hold": ({}, {"hold_seconds": "-5"}, "", [PT + "hold_seconds must be > 0, got -5"]),
    "zero hold": ({}, {"hold_seconds": "0"}, "", [PT + "hold_seconds must be > 0, got 0"]),
    "absurd hold": ({}, {"hold_seconds": "121"}, "", [PT + "hold_seconds must be at most 120"]),
    "fractional hold": ({}, {"hold_seconds": "7.5"}, "", [PT + "hold_seconds must be a whole"]),
    "hold as text": ({}, {"hold_seconds": '"10"'}, "", [PT + "hold_seconds must be a whole"]),
    "typo": (
        {},
        {"hold_seconds": None, "hold_secnds": "10"},
        "",
        [PT + "unknown field 'hold_secnds' (did you mean 'hold_seconds'?)", "allowed: id, name"],
    ),
    "no hold": ({}, {"hold_seconds": None}, "", [PT + "hold_seconds (or hold_counts"]),
    "two holds": ({}, {"hold_counts": "5"}, "", [PT + "hold_counts cannot be given with"]),
    "count alone": ({}, {"count_seconds": "1.5"}, "", [PT + "count_seconds cannot be given"]),
    "zero count": (
        {},
        {"hold_seconds": None, "hold_counts": "5", "count_seconds": "0"},
        "",
        [PT + "count_seconds must be > 0, got 0"],
    ),
    "nan count": (
        {},
        {"hold_seconds": None, "hold_counts": "5", "count_seconds": "nan"},
        "",
        [PT + "count_seconds must be a finite number"],
    ),
    "long counted hold": (
        {},
        {"hold_seconds": None, "hold_counts": "100", "count_seconds": "2"},
        "",
        [PT + "hold_counts times count_seconds must be at most 120 seconds, got 100 x 2.0"],
    ),
    "slow count not bool": (
        {},
        {"hold_seconds": None, "hold_counts": "5", "slow_count": '"yes"'},
        "",
        [PT + "slow_count must be true or false, got text 'yes'"],
    ),
    "bool reps": ({}, {"reps": "true"}, "", [PT + "reps must be a whole number, got true"]),
    "too many reps": ({}, {"reps": "101"}, "", [PT + "reps must be at most 100, got 101"]),
    "too many sets": ({}, {"sets_goal": "21"}, "", [PT + "sets_goal must be at most 20, got 21"]),
    "long rest": (
        {},
        {"rest_between_sets_seconds": "901"},
        "",
        [PT + "rest_between_sets_seconds must be at most 900, got 901"],
    ),
    "negative rest": (
        {},
        {"rest_between_reps_seconds": "-1"},
        "",
        [PT + "rest_between_reps_seconds must be >= 0, got -1"],
    ),
    "bool rest": (
        {},
        {"rest_between_reps_seconds": "false"},
        "",
        [PT + "rest_between_reps_seconds must be a number, got false"],
    ),
    "missing name": ({}, {"name": None}, "", [PT + "name is required"]),
    "empty position": ({}, {"position": '"  "'}, "", [PT + "position must not be empty"]),
    "empty steps": ({}, {"steps": "[]"}, "", [PT + "steps must not be empty"]),
    "empty step": ({}, {"steps": '["Lift.", ""]'}, "", [PT + "steps item 2 must not be empty"]),
    "steps as text": ({}, {"steps": '"Lift."'}, "", [PT + "steps must be a list of texts"]),
    "bad exercise id": (
        {},
        {"id": '"Pelvic Tilt"'},
        "",
        ["bad.toml: exercise #1: id must be lowercase snake_case", "'Pelvic Tilt'"],
    ),
    "bad routine id": ({"id": '"Strong-Back"'}, {}, "", ["bad.toml: id must be lowercase"]),
    "duplicate id": (
        {},
        {"id": '"chest_lift_1"'},
        _SECOND.format(n=1),
        ["bad.toml: exercise 'chest_lift_1': id is used twice (exercises #1 and #2)"],
    ),
    "unknown top field": ({"titel": '"T"'}, {}, "", ["bad.toml: unknown field 'titel'", "'title'"]),
    "no cautions": ({"general_cautions": None}, {}, "", ["bad.toml: general_cautions is required"]),
    "no source": ({"source": None}, {}, "", ["bad.toml: source is required"]),
    "source without title": (
        {"source": '{ organisation = "O" }'},
        {},
        "",
        ["bad.toml: source: title is required"],
    ),
    "no frequency": ({"frequency": None}, {}, "", ["bad.toml: frequency is required"]),
    "eight days a week": (
        {"frequency": "{ days_per_week = [3, 8] }"},
        {},
        "",
        ["bad.toml: frequency: days_per_week high must be at most 7, got 8"],
    ),
    "days reversed": (
        {"frequency": "{ days_per_week = [6, 3] }"},
        {},
        "",
        ["bad.toml: frequency: days_per_week must be [low, high] with low <= high, got [6, 3]"],
    ),
    "exercise frequency typo": (
        {},
        {"frequency": "{ days_per_week = [7, 7], times_a_day = 2 }"},
        "",
        [PT + "frequency: unknown field 'times_a_day'", "'times_per_day'"],
    ),
    "empty routine": (
        {"exercises": "[]"},
        _NO_EXERCISE,
        "",
        ["bad.toml: exercises must list at least one exercise"],
    ),
    "exercises not tables": (
        {"exercises": "5"},
        _NO_EXERCISE,
        "",
        ["bad.toml: exercises must be written as [[exercises]] tables, got 5"],
    ),
    "one side": ({}, {}, _SIDE, [PT + "sides must have 0 or 2 entries (one per side), got 1"]),
    "three sides": ({}, {}, _SIDE * 3, [PT + "sides must have 0 or 2 entries", "got 3"]),
    "same side twice": ({}, {}, _SIDE * 2, [PT + "sides must have two different names"]),
    "side typo": (
        {},
        {},
        _SIDE + 'positon = "Lie down."\n' + _SIDE,
        [PT + "side 1: unknown field 'positon' (did you mean 'position'?)"],
    ),
    "stage gap": (
        {},
        {"id": '"chest_lift_1"', "progression": '{ series = "chest_lift", stage = 1 }'},
        _SECOND.format(n=3) + 'progression = { series = "chest_lift", stage = 3 }\n',
        ["bad.toml: series 'chest_lift': stages must run 1, 2, 3", "got [1, 3]"],
    ),
    "stage repeated": (
        {},
        {"id": '"chest_lift_1"', "progression": '{ series = "chest_lift" }'},
        _SECOND.format(n=2) + 'progression = { series = "chest_lift" }\n',
        ["bad.toml: series 'chest_lift': stages must run", "got [1, 1]"],
    ),
    "stage without series": (
        {},
        {"progression": "{ stage = 2 }"},
        "",
        [PT + "progression: stage needs a series"],
    ),
    "ceiling under goal": (
        {},
        {"until_tired": "true", "reps_goal": "[15, 20]", "reps": "12"},
        "",
        [PT + "reps is the most repetitions of an until_tired set", "(20), got 12"],
    ),
    "reps outside goal": (
        {},
        {"reps_goal": "[15, 20]", "reps": "8"},
        "",
        [PT + "reps must lie within reps_goal [15, 20], got 8"],
    ),
    "goal reversed": (
        {},
        {"until_tired": "true", "reps_goal": "[20, 15]"},
        "",
        [PT + "reps_goal must be [low, high] with low <= high, got [20, 15]"],
    ),
    "goal of three": ({}, {"reps_goal": "[1, 2, 3]"}, "", [PT + "reps_goal must be a list of two"]),
    "unknown equipment": (
        {},
        {"equipment": '["chiar"]'},
        "",
        [PT + "equipment has unknown item 'chiar'; known items: ball, bed or floor, chair"],
    ),
    "equipment twice": ({}, {"equipment": '["mat", "mat"]'}, "", [PT + "equipment lists"]),
    "empty purpose": ({}, {"purpose": '""'}, "", [PT + "purpose must not be empty"]),
    "zero longer rest": (
        {"longer_rest_seconds": "[0]"},
        {},
        "",
        ["bad.toml: longer_rest_seconds item 1 must be > 0, got 0"],
    ),
    "date as title": ({"title": "1979-05-27"}, {}, "", ["bad.toml: title must be text"]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_malformed_routine_is_reported_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    top, exercise, extra, expected = case
    (tmp_path / "bad.toml").write_text(_toml(top, exercise, extra), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RoutineError) as raised:
        load_routine(Path("bad.toml"))
    for part in expected:
        assert part in str(raised.value)


def test_base_of_the_malformed_cases_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(_toml(), encoding="utf-8")
    assert load_routine(path).exercises[0].id == "pelvic_tilt"


# ---------------------------------------------------------------- nothing but RoutineError

_SCALARS = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
)
_KEYS = st.sampled_from([*_EXERCISE, "sides", "progression", "frequency", "reps_goal", "x"])
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    items = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
    return "{ " + ", ".join(items) + " }"


def _load_text(directory: Path, text: str | bytes) -> None:
    path = directory / "fuzz.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(text)
    try:
        load_routine(path)
    except RoutineError as error:
        assert str(error).startswith(str(path))


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_random_text_only_raises_routine_error(
    tmp_path_factory: pytest.TempPathFactory, text: str | bytes
) -> None:
    _load_text(tmp_path_factory.getbasetemp(), text)


@settings(max_examples=300, deadline=None)
@given(
    top=st.dictionaries(st.sampled_from([*_TOP, "exercises", "notes", "x"]), _VALUES, max_size=3),
    exercise=st.dictionaries(_KEYS, _VALUES, max_size=4),
    dropped=st.sets(st.sampled_from(list(_EXERCISE)), max_size=2),
)
def test_random_structures_only_raise_routine_error(
    tmp_path_factory: pytest.TempPathFactory,
    top: dict[str, object],
    exercise: dict[str, object],
    dropped: set[str],
) -> None:
    exercise_fields: dict[str, str | None] = {k: _toml_value(v) for k, v in exercise.items()}
    exercise_fields |= dict.fromkeys(dropped)
    top_fields: dict[str, str | None] = {k: _toml_value(v) for k, v in top.items()}
    _load_text(tmp_path_factory.getbasetemp(), _toml(top_fields, exercise_fields))
