"""The voice commands as data: loading, validation, matching heard text, recogniser grammars."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import assistant
from assistant.errors import GrammarError

COMMAND_NAMES: tuple[str, ...] = (
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
    "slower",
    "faster",
    "louder",
    "softer",
    "yes",
    "no",
    "easier",
)
"""Every command a grammar may define: session triggers, voice settings and the answers to
"Was that easy?" ("yes", "no") and "make it easier" (progression)."""

KIOSK_COMMAND_NAMES: tuple[str, ...] = ("start_exercises", "start_back", "start_spine", "profile")
"""Commands of a grammar's ``[kiosk.<name>]`` tables: what the kiosk listens for while it
waits. ``profile`` phrases are templates holding ``{number}`` or ``{name}``."""

PROFILE_FIELDS = ("{number}", "{name}")
"""The placeholders of ``[kiosk.profile]`` phrases."""

REQUIRED_COMMANDS: tuple[str, ...] = ("pain",)
"""Commands every grammar must define."""

MAX_FILE_BYTES = 1_000_000
"""Bytes; a real grammar file is a few kilobytes."""

_TOP_FIELDS = ("language", "commands", "kiosk")
_COMMAND_FIELDS = ("description", "phrases", "safety", "voice_phrases")
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2018\u2019\u02bc\u02b9\u2032`\u00b4", "'"))
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")

Key = tuple[str, ...]


def normalise(text: str) -> str:
    """Lowercase, unify apostrophes, turn punctuation into spaces and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    spaced = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text)
    words = (word.strip("'") for word in spaced.split())
    return " ".join(word for word in words if word)


def _key(text: str) -> Key:
    # Apostrophes dropped so typed "im done" matches "i'm done".
    return tuple(word.replace("'", "") for word in normalise(text).split())


def _contains(words: Key, phrase: Key) -> bool:
    size = len(phrase)
    return any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


@dataclass(frozen=True)
class Command:
    """One voice command: its trigger name, what people say, and its line in "help"."""

    name: str
    """Also the session state machine's trigger name."""
    phrases: tuple[str, ...]
    """Normalised phrases: lowercase words, single spaces, apostrophes kept."""
    description: str
    """Spoken in "help", e.g. "say pause to take a break"."""
    safety: bool = False
    """Safety-critical: a phrase anywhere in the heard text wins over every other command."""
    voice_phrases: tuple[str, ...] = ()
    """The phrases a speech recognizer listens for (distinct, not too short); empty: all."""


@dataclass(frozen=True)
class Grammar:
    """The commands of one language, with matching and recogniser grammars."""

    language: str
    commands: tuple[Command, ...]

    @cached_property
    def _exact(self) -> dict[Key, str]:
        return {_key(p): c.name for c in self.commands for p in c.phrases}

    @cached_property
    def _keys(self) -> tuple[tuple[Command, tuple[Key, ...]], ...]:
        return tuple((c, tuple(_key(p) for p in c.phrases)) for c in self.commands)

    def match(self, text: str) -> str | None:
        """The command name heard in ``text``, or None when none (or two equally) fit."""
        words = _key(text)
        if not words:
            return None
        # Safety first: "I think my back hurts" is pain even though it is no exact phrase.
        for command, keys in self._keys:
            if command.safety and any(_contains(words, key) for key in keys):
                return command.name
        exact = self._exact.get(words)
        if exact is not None:
            return exact
        best_size, best = 0, set[str]()
        for command, keys in self._keys:
            for key in keys:
                if len(key) >= best_size and _contains(words, key):
                    if len(key) > best_size:
                        best_size, best = len(key), set()
                    best.add(command.name)
        # A tie such as "no more rest" (done? longer rest?) is better asked again than guessed.
        return best.pop() if len(best) == 1 else None

    def command(self, name: str) -> Command:
        """The command with this name; KeyError if the grammar has none."""
        for command in self.commands:
            if command.name == name:
                return command
        raise KeyError(name)

    def phrases_for(self, name: str) -> tuple[str, ...]:
        """The phrases of one command."""
        return self.command(name).phrases

    def description(self, name: str) -> str:
        """The spoken help line of one command."""
        return self.command(name).description

    def command_names(self) -> tuple[str, ...]:
        """Command names in file order."""
        return tuple(command.name for command in self.commands)

    def vocabulary(self) -> set[str]:
        """Every word of every phrase."""
        return {word for c in self.commands for p in c.phrases for word in p.split()}

    def vosk_grammar(self) -> list[str]:
        """All phrases plus "[unk]", for ``KaldiRecognizer(model, rate, json.dumps(...))``."""
        return [p for c in self.commands for p in c.phrases] + ["[unk]"]

    def jsgf(self) -> str:
        """A JSGF grammar for pocketsphinx with one alternative per phrase."""
        alternatives = "\n    | ".join(p for c in self.commands for p in c.phrases)
        return f"#JSGF V1.0;\n\ngrammar commands;\n\npublic <command> = {alternatives};\n"


def default_grammar_path(language: str = "en") -> Path:
    """The bundled grammar file of a language: inside the installed package, or at the repo root."""
    if not _LANGUAGE_RE.fullmatch(language):
        raise GrammarError(f"language {language!r} is not a language code such as 'en'")
    package_dir = Path(assistant.__file__).parent
    candidates = (
        package_dir / "grammars" / f"{language}.toml",
        package_dir.parent / "grammars" / f"{language}.toml",
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise GrammarError(
        f"no grammar for language {language!r}: looked for {candidates[0]} and {candidates[1]}"
    )


def load_grammar(path: Path) -> Grammar:
    """Read and validate a grammar file; GrammarError names the file, command and field."""
    return _parse(path, _read_toml(path))


@dataclass(frozen=True)
class KioskGrammar:
    """A grammar file's ``[kiosk.<name>]`` tables: the start commands and profile templates."""

    language: str
    starts: tuple[Command, ...]
    profile: Command
    """Its phrases are templates holding one of ``PROFILE_FIELDS`` each."""

    def waiting(self, pain: Command, profiles: dict[str, dict[str, str]], where: Path) -> Grammar:
        """The grammar the kiosk waits with: the starts, pain, and a command per profile.

        ``profiles`` maps a command name to the words of its placeholders, e.g.
        ``{"profile_2": {"number": "two", "name": "mary"}}``; a clash names ``where``.
        """
        commands = [*self.starts, pain]
        for name, values in profiles.items():

            def fill(templates: tuple[str, ...], values: dict[str, str] = values) -> list[str]:
                return [normalise(t.format_map(values)) for t in templates]

            commands.append(
                Command(
                    name,
                    tuple(fill(self.profile.phrases)),
                    self.profile.description,
                    voice_phrases=tuple(fill(self.profile.voice_phrases)),
                )
            )
        _check_grammar(where, tuple(commands))
        return Grammar(language=self.language, commands=tuple(commands))


def load_kiosk_grammar(path: Path) -> KioskGrammar:
    """Read a grammar file's kiosk tables; GrammarError names the file, command and field."""
    data = _read_toml(path)
    table = data.get("kiosk")
    if not isinstance(table, dict) or not table:
        got = "an empty table" if isinstance(table, dict) else _kind(table)
        raise GrammarError(f"{path}: kiosk must be a table of [kiosk.<name>], got {got}")
    starts = tuple(
        _parse_command(path, name, fields, KIOSK_COMMAND_NAMES)
        for name, fields in table.items()
        if name != "profile"
    )
    if not starts:
        raise GrammarError(f"{path}: kiosk: no start command (such as [kiosk.start_exercises])")
    if "profile" not in table:
        raise GrammarError(f"{path}: kiosk: [kiosk.profile] is missing")
    language = str(data.get("language", ""))
    return KioskGrammar(language, starts, _parse_templates(path, table["profile"]))


def _parse_templates(path: Path, fields: object) -> Command:
    """``[kiosk.profile]``: checked with a word in each placeholder, kept as templates."""

    def sample(value: object) -> object:
        if not isinstance(value, list):
            return value
        return [_fill(v, "x") if isinstance(v, str) else v for v in value]

    sampled = {k: sample(v) for k, v in fields.items()} if isinstance(fields, dict) else fields
    command = _parse_command(path, "profile", sampled, ("profile",))
    assert isinstance(fields, dict)  # _parse_command said so otherwise
    templates: dict[str, tuple[str, ...]] = {}
    for key in ("phrases", "voice_phrases"):
        kept: list[str] = []
        for number, text in enumerate(fields.get(key, []), start=1):
            held = [f for f in PROFILE_FIELDS if f in text]
            if len(held) != 1 or text.count(held[0]) != 1:
                raise GrammarError(
                    f"{path}: command 'profile': {key}[{number}] {text!r} must hold one "
                    f"placeholder, {' or '.join(PROFILE_FIELDS)}"
                )
            before, after = text.split(held[0])
            kept.append(" ".join(p for p in (normalise(before), held[0], normalise(after)) if p))
        templates[key] = tuple(kept)
    return Command(
        "profile", templates["phrases"], command.description, False, templates["voice_phrases"]
    )


def _fill(template: str, word: str) -> str:
    for field in PROFILE_FIELDS:
        template = template.replace(field, word)
    return template


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise GrammarError(
            f"{path}: cannot read grammar file: {error.strerror or error}"
        ) from error
    if len(raw) > MAX_FILE_BYTES:
        raise GrammarError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not a grammar file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise GrammarError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise GrammarError(f"{path}: TOML syntax error: {error}") from error
    except (ValueError, RecursionError) as error:
        # tomllib lets a few errors through: integers over 4300 digits, very deep nesting.
        raise GrammarError(f"{path}: cannot parse TOML: {error}") from error


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _unknown(fields: Any, allowed: tuple[str, ...]) -> str | None:
    extra = [field for field in fields if field not in allowed]
    return f"unknown field {extra[0]!r} (expected {', '.join(allowed)})" if extra else None


def _parse(path: Path, data: dict[str, Any]) -> Grammar:
    if problem := _unknown(data, _TOP_FIELDS):
        raise GrammarError(f"{path}: {problem}")
    language = data.get("language")
    if not isinstance(language, str) or not _LANGUAGE_RE.fullmatch(language):
        got = repr(language) if isinstance(language, str) else _kind(language)
        raise GrammarError(f"{path}: language must be a code such as 'en', got {got}")
    table = data.get("commands")
    if not isinstance(table, dict) or not table:
        got = "an empty table" if isinstance(table, dict) else _kind(table)
        raise GrammarError(f"{path}: commands must be a table of [commands.<name>], got {got}")
    commands = tuple(_parse_command(path, name, fields) for name, fields in table.items())
    _check_grammar(path, commands)
    return Grammar(language=language, commands=commands)


def _parse_command(
    path: Path, name: str, fields: object, known: tuple[str, ...] = COMMAND_NAMES
) -> Command:
    where = f"{path}: command {name!r}"
    if name not in known:
        raise GrammarError(f"{where}: unknown command (known: {', '.join(known)})")
    if not isinstance(fields, dict):
        raise GrammarError(f"{where}: must be a table with phrases and description")
    if problem := _unknown(fields, _COMMAND_FIELDS):
        raise GrammarError(f"{where}: {problem}")
    description = fields.get("description")
    if not isinstance(description, str) or not description.strip():
        got = "an empty string" if isinstance(description, str) else _kind(description)
        raise GrammarError(f"{where}: description must be a non-empty string, got {got}")
    safety = fields.get("safety", False)
    if not isinstance(safety, bool):
        raise GrammarError(f"{where}: safety must be true or false, got {_kind(safety)}")
    phrases = fields.get("phrases")
    if not isinstance(phrases, list) or not phrases:
        got = "an empty array" if isinstance(phrases, list) else _kind(phrases)
        raise GrammarError(f"{where}: phrases must be a non-empty array of strings, got {got}")
    normalised: list[str] = []
    for number, phrase in enumerate(phrases, start=1):
        if not isinstance(phrase, str):
            raise GrammarError(f"{where}: phrases[{number}] must be a string, got {_kind(phrase)}")
        normalised.append(_check_phrase(f"{where}: phrases[{number}] {phrase!r}", phrase))
    spoken = fields.get("voice_phrases", [])
    if not isinstance(spoken, list):
        raise GrammarError(
            f"{where}: voice_phrases must be an array of strings, got {_kind(spoken)}"
        )
    voice: list[str] = []
    for number, phrase in enumerate(spoken, start=1):
        label = f"{where}: voice_phrases[{number}]"
        if not isinstance(phrase, str):
            raise GrammarError(f"{label} must be a string, got {_kind(phrase)}")
        checked = _check_phrase(f"{label} {phrase!r}", phrase)
        if checked not in normalised:
            raise GrammarError(f"{label} {phrase!r} must also be one of the command's phrases")
        voice.append(checked)
    return Command(name, tuple(normalised), description.strip(), safety, tuple(voice))


def _check_phrase(where: str, phrase: str) -> str:
    text = unicodedata.normalize("NFKC", phrase).lower().translate(_APOSTROPHES)
    bad = sorted({ch for ch in text if not (ch.isalpha() or ch == "'" or ch.isspace())})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad[:5])
        raise GrammarError(
            f"{where} has characters a recogniser cannot take: {shown} "
            "(only letters, spaces and apostrophes; write numbers as words)"
        )
    normalised = normalise(text)
    if not normalised:
        raise GrammarError(f"{where} is empty")
    return normalised


def _check_grammar(path: Path, commands: tuple[Command, ...]) -> None:
    names = {command.name for command in commands}
    for required in REQUIRED_COMMANDS:
        if required not in names:
            raise GrammarError(f"{path}: command {required!r} is missing; every grammar needs it")
    if not all(command.safety for command in commands if command.name == "pain"):
        raise GrammarError(f"{path}: command 'pain': safety must be true")
    owners: dict[Key, tuple[str, str]] = {}
    for command in commands:
        for phrase in command.phrases:
            key = _key(phrase)
            if key in owners:
                other, other_phrase = owners[key]
                raise GrammarError(
                    f"{path}: command {command.name!r}: phrases: {phrase!r} is also "
                    f"{other_phrase!r} of command {other!r}; a phrase may belong to one command"
                )
            owners[key] = (command.name, phrase)
    safety_keys = [(c.name, p, _key(p)) for c in commands if c.safety for p in c.phrases]
    for command in commands:
        if command.safety:
            continue
        for phrase in command.phrases:
            for owner, safety_phrase, key in safety_keys:
                if _contains(_key(phrase), key):
                    raise GrammarError(
                        f"{path}: command {command.name!r}: phrases: {phrase!r} contains "
                        f"{safety_phrase!r} of safety command {owner!r}, which always wins"
                    )
