"""Tests for the command grammar: the bundled file, matching, recogniser grammars, validation."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import GrammarError
from assistant.grammar import (
    COMMAND_NAMES,
    MAX_FILE_BYTES,
    Grammar,
    default_grammar_path,
    load_grammar,
    normalise,
)

EN_PATH = default_grammar_path("en")
EN = load_grammar(EN_PATH)

GOOD_HEADER = 'language = "en"\n\n'
PAIN_TABLE = '[commands.pain]\ndescription = "say pain"\nsafety = true\nphrases = ["pain"]\n\n'


def test_bundled_file_loads_with_every_command() -> None:
    assert EN.language == "en"
    assert set(EN.command_names()) == set(COMMAND_NAMES)
    assert EN_PATH.name == "en.toml"


def test_only_pain_is_safety_critical() -> None:
    assert [c.name for c in EN.commands if c.safety] == ["pain"]


def test_every_command_has_a_spoken_description() -> None:
    for name in EN.command_names():
        assert EN.description(name).startswith("say ")


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_phrase_matches_its_own_command(name: str) -> None:
    phrases = EN.phrases_for(name)
    assert phrases
    for phrase in phrases:
        assert EN.match(phrase) == name, phrase


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pause.", "pause"),
        ("hold on", "pause"),
        ("stop for a moment please", "pause"),
        ("stop", "stop"),
        ("Stop!", "stop"),
        ("I want to stop", "stop"),
        ("  CONTINUE  ", "resume"),
        ("I\u2019m ready to go on", "resume"),
        ("next one please thanks", "next"),
        ("can I have a longer rest, please?", "longer_rest"),
        ("im done", "done"),
        ("I'm tired", "done"),
        ("I'm in position", "ready"),
        ("pardon?", "repeat"),
        ("what can I say", "help"),
        ("help", "help"),
        ("please speak up", "louder"),
        ("slow down a bit", "slower"),
    ],
)
def test_match_typical_utterances(text: str, expected: str) -> None:
    assert EN.match(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I think my back hurts",
        "help me it hurts",
        "help it hurts",
        "ow",
        "Ouch!",
        "stop, that hurts",
        "next one please, my hip hurts",
        "I am in a lot of pain",
        "my knee hurt when I lifted",
        "can I have a longer rest my neck is painful",
    ],
)
def test_pain_wins_anywhere_in_a_sentence(text: str) -> None:
    assert EN.match(text) == "pain"


@pytest.mark.parametrize("word", ["pain", "hurts", "hurt", "ouch", "ow"])
def test_pain_words_are_pain_phrases(word: str) -> None:
    assert word in EN.phrases_for("pain")
    assert EN.match(f"well {word} I think") == "pain"


@pytest.mark.parametrize("text", ["help", "help me", "help please", "what can I do"])
def test_help_is_not_pain(text: str) -> None:
    assert EN.match(text) == "help"


@pytest.mark.parametrize("text", ["slow", "how are you", "showing", "painting"])
def test_pain_words_match_whole_words_only(text: str) -> None:
    assert EN.match(text) != "pain"


@pytest.mark.parametrize("text", ["", "   ", "?!", "the weather is nice", "no more rest"])
def test_unknown_or_ambiguous_text_is_none(text: str) -> None:
    assert EN.match(text) is None


def test_normalise() -> None:
    assert normalise("  I\u2019M   Ready,  NOW! ") == "i'm ready now"
    assert normalise("'quoted' carry-on") == "quoted carry on"


def test_vocabulary_holds_every_word() -> None:
    vocabulary = EN.vocabulary()
    assert {"pause", "i'm", "hurts", "longer", "rest"} <= vocabulary
    assert all(word == word.lower() and " " not in word for word in vocabulary)


def test_vosk_grammar_has_every_phrase_and_unk() -> None:
    phrases = EN.vosk_grammar()
    assert phrases[-1] == "[unk]"
    assert phrases.count("[unk]") == 1
    for name in EN.command_names():
        assert set(EN.phrases_for(name)) <= set(phrases)


JSGF_RE = re.compile(
    r"\A#JSGF V1\.0;\s+grammar commands;\s+public <command> = "
    r"(?P<body>[a-z' ]+(?:\s*\|\s*[a-z' ]+)*);\s*\Z"
)


def test_jsgf_is_well_formed() -> None:
    text = EN.jsgf()
    found = JSGF_RE.match(text)
    assert found is not None, text
    alternatives = [a.strip() for a in found["body"].split("|")]
    assert alternatives == EN.vosk_grammar()[:-1]


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None, reason="no pocketsphinx")
def test_jsgf_parses_with_pocketsphinx(tmp_path: Path) -> None:  # pragma: no cover
    import pocketsphinx  # type: ignore[import-not-found,unused-ignore]

    path = tmp_path / "commands.gram"
    path.write_text(EN.jsgf(), encoding="utf-8")
    pocketsphinx.Jsgf(str(path))


def test_default_grammar_path_rejects_odd_language() -> None:
    with pytest.raises(GrammarError, match="language"):
        default_grammar_path("../etc")
    with pytest.raises(GrammarError, match="no grammar for language 'xx'"):
        default_grammar_path("xx")


def test_command_lookup_of_unknown_name_is_key_error() -> None:
    with pytest.raises(KeyError):
        EN.phrases_for("dance")


def test_grammar_is_frozen_and_minimal_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "xx.toml"
    path.write_text(GOOD_HEADER + PAIN_TABLE, encoding="utf-8")
    grammar = load_grammar(path)
    assert isinstance(grammar, Grammar)
    assert grammar.command_names() == ("pain",)
    with pytest.raises(AttributeError):
        grammar.language = "de"  # type: ignore[misc]


# (file content, fragments the message must contain); the file name is checked in the test.
MALFORMED: list[tuple[str, tuple[str, ...]]] = [
    ("language = \n", ("TOML syntax error",)),
    ('colour = "red"\n' + GOOD_HEADER + PAIN_TABLE, ("unknown field 'colour'",)),
    (PAIN_TABLE, ("language",)),
    ("language = 5\n" + PAIN_TABLE, ("language", "got an integer")),
    (GOOD_HEADER, ("commands", "got nothing")),
    ('language = "en"\n[commands]\n', ("commands", "got an empty table")),
    ('language = "e n"\n' + PAIN_TABLE, ("language", "got 'e n'")),
    ('language = "en"\ncommands = 3\n', ("commands", "got an integer")),
    (
        GOOD_HEADER + '[commands.pause]\ndescription = "x"\nphrases = ["pause"]\n',
        ("command 'pain' is missing",),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.dance]\ndescription = "x"\nphrases = ["dance"]\n',
        ("command 'dance'", "unknown command"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = []\n',
        ("command 'pause'", "phrases", "empty array"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\n',
        ("command 'pause'", "phrases", "got nothing"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = "pause"\n',
        ("command 'pause'", "phrases", "got a string"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = ["a", 3]\n',
        ("command 'pause'", "phrases[2]", "got an integer"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = ["wait 2"]\n',
        ("command 'pause'", "phrases[1]", "'2'", "recogniser"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = ["wait!"]\n',
        ("command 'pause'", "phrases[1]", "'!'"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = ["  "]\n',
        ("command 'pause'", "phrases[1]", "empty"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\nphrases = ["pause"]\n',
        ("command 'pause'", "description", "got nothing"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = ""\nphrases = ["pause"]\n',
        ("command 'pause'", "description", "empty string"),
    ),
    (
        GOOD_HEADER
        + PAIN_TABLE
        + '[commands.pause]\ndescription = "x"\nphrases = ["pause"]\nsafety = "yes"\n',
        ("command 'pause'", "safety", "got a string"),
    ),
    (
        GOOD_HEADER
        + PAIN_TABLE
        + '[commands.pause]\ndescription = "x"\nphrases = ["pause"]\ncolour = 1\n',
        ("command 'pause'", "unknown field 'colour'"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + "[commands]\npause = 3\n",
        ("command 'pause'", "must be a table"),
    ),
    (
        'language = "en"\ncommands = { pain = 3 }\n',
        ("command 'pain'", "must be a table"),
    ),
    (
        GOOD_HEADER + '[commands.pain]\ndescription = "x"\nphrases = ["pain"]\n',
        ("command 'pain'", "safety must be true"),
    ),
    (
        GOOD_HEADER + PAIN_TABLE + '[commands.pause]\ndescription = "x"\nphrases = ["Pain"]\n',
        ("command 'pause'", "phrases", "'pain'", "command 'pain'", "one command"),
    ),
    (
        GOOD_HEADER
        + PAIN_TABLE
        + '[commands.pause]\ndescription = "x"\nphrases = ["wait", "wait"]\n',
        ("command 'pause'", "phrases", "'wait'"),
    ),
    (
        GOOD_HEADER
        + PAIN_TABLE
        + '[commands.help]\ndescription = "x"\nphrases = ["help with pain"]\n',
        ("command 'help'", "phrases", "contains 'pain'", "safety command 'pain'"),
    ),
]


@pytest.mark.parametrize(("content", "fragments"), MALFORMED)
def test_malformed_files_name_file_command_and_field(
    tmp_path: Path, content: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GrammarError) as caught:
        load_grammar(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "none.toml"
    with pytest.raises(GrammarError, match="cannot read"):
        load_grammar(path)


def test_directory_is_not_a_grammar(tmp_path: Path) -> None:
    with pytest.raises(GrammarError, match="cannot read"):
        load_grammar(tmp_path)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('language = "en"\n# caf\xe9\n'.encode("latin-1"))
    with pytest.raises(GrammarError, match=f"{re.escape(str(path))}: not UTF-8"):
        load_grammar(path)


def test_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(GrammarError, match="larger than"):
        load_grammar(path)


def test_utf8_bom_and_curly_apostrophes_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    content = GOOD_HEADER + PAIN_TABLE.replace('"pain"]', '"pain", "I\u2019m  Hurting"]')
    path.write_bytes(b"\xef\xbb\xbf" + content.encode("utf-8"))
    assert load_grammar(path).phrases_for("pain") == ("pain", "i'm hurting")


def test_tomllib_value_errors_become_grammar_errors(tmp_path: Path) -> None:
    path = tmp_path / "big_int.toml"
    path.write_text("x = " + "9" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(GrammarError, match=r"big_int\.toml"):
        load_grammar(path)


@given(st.text())
def test_match_never_raises_on_random_text(text: str) -> None:
    result = EN.match(text)
    assert result is None or result in COMMAND_NAMES


@given(st.lists(st.sampled_from([*sorted(EN.vocabulary()), "please", "um", "hurts"])))
def test_match_of_vocabulary_soup_never_raises(words: list[str]) -> None:
    result = EN.match(" ".join(words))
    assert result is None or result in COMMAND_NAMES
    if "hurts" in words:
        assert result == "pain"


EN_TEXT = EN_PATH.read_text(encoding="utf-8")


@st.composite
def _mutated_grammar(draw: st.DrawFn) -> bytes:
    """The bundled file with a random slice replaced by random text or bytes."""
    start = draw(st.integers(0, len(EN_TEXT)))
    end = draw(st.integers(start, min(len(EN_TEXT), start + 200)))
    filler = draw(st.text(max_size=20) | st.sampled_from(["", "[", "]", '"', "=", "\n", "3"]))
    return (EN_TEXT[:start] + filler + EN_TEXT[end:]).encode("utf-8", "surrogatepass")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.binary(max_size=500) | _mutated_grammar())
def test_random_files_raise_only_grammar_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "random.toml"
    path.write_bytes(content)
    try:
        grammar = load_grammar(path)
    except GrammarError as error:
        assert str(error).startswith(f"{path}: ")
    else:
        assert "pain" in grammar.command_names()
