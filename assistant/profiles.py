"""The staff's list of people who use a kiosk, and the kiosk's waiting grammar built from it.

``profiles.toml`` (in the config folder, or ``exercise-coach kiosk --profiles FILE``)::

    [[profiles]]
    number = 1
    name = "Mary"
    # id = "mary-smith"  # the name kept in the history; default: the name in lower case

A person says their number ("number one") or their name ("I'm Mary") before "start
exercises"; the phrases are the grammar file's ``[kiosk.profile]`` templates.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant import phrases
from assistant.errors import ConfigError
from assistant.grammar import Grammar, load_kiosk_grammar
from assistant.progress import GUEST

PROFILES_FILE = "profiles.toml"
MAX_PROFILE_NUMBER = 99

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z' ]*")


@dataclass(frozen=True)
class Profile:
    """A person on the staff's list."""

    number: int
    name: str
    id: str
    """The profile their sessions are kept under in the history."""

    @property
    def command(self) -> str:
        """The waiting grammar's command for this person."""
        return f"profile_{self.number}"


def default_profiles_path(settings_config: Path | None = None) -> Path:
    """``profiles.toml`` beside the config file."""
    from assistant.config import default_config_path

    return (settings_config or default_config_path()).parent / PROFILES_FILE


def load_profiles(path: Path) -> tuple[Profile, ...]:
    """Read and check the staff's list; ConfigError names the file, the entry and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such profiles file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the profiles file: {err}") from None
    extra = sorted(set(data) - {"profiles"})
    if extra:
        raise ConfigError(f"{path}: unknown field {extra[0]!r} (expected [[profiles]])")
    entries = data.get("profiles", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: profiles must be [[profiles]] tables")
    profiles = [_profile(path, n, entry) for n, entry in enumerate(entries, start=1)]
    for field in ("number", "name", "id"):
        seen: dict[object, int] = {}
        for n, profile in enumerate(profiles, start=1):
            value = getattr(profile, field)
            key = value.lower() if isinstance(value, str) else value
            if key in seen:
                raise ConfigError(
                    f"{path}: profiles[{n}]: {field} {value!r} is also profiles[{seen[key]}]'s"
                )
            seen[key] = n
    return tuple(profiles)


def _profile(path: Path, n: int, entry: object) -> Profile:
    where = f"{path}: profiles[{n}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table with number and name")
    extra = sorted(set(entry) - {"number", "name", "id"})
    if extra:
        raise ConfigError(f"{where}: unknown field {extra[0]!r} (expected number, name, id)")
    number = entry.get("number")
    if isinstance(number, bool) or not isinstance(number, int):
        raise ConfigError(f"{where}: number must be a whole number, got {number!r}")
    if not 1 <= number <= MAX_PROFILE_NUMBER:
        raise ConfigError(f"{where}: number must be from 1 to {MAX_PROFILE_NUMBER}, got {number}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name.strip()):
        raise ConfigError(
            f"{where}: name must be letters and spaces, as it is said (write numbers as "
            f"words), got {name!r}"
        )
    name = " ".join(name.split())
    profile_id = entry.get("id", name.lower())
    if not isinstance(profile_id, str) or not profile_id.strip():
        raise ConfigError(f"{where}: id must be a non-empty string, got {profile_id!r}")
    if profile_id.strip().lower() == GUEST:
        raise ConfigError(f"{where}: {GUEST!r} is kept for people not on the list")
    return Profile(number, name, profile_id.strip())


def waiting_grammar(
    grammar_path: Path,
    session_grammar: Grammar,
    profiles_path: Path | None,
    profiles: tuple[Profile, ...],
) -> Grammar:
    """The small grammar the kiosk waits with: start phrases, pain, each person's phrases."""
    kiosk = load_kiosk_grammar(grammar_path)
    values = {
        p.command: {"number": phrases.number(p.number), "name": p.name.lower()} for p in profiles
    }
    return kiosk.waiting(session_grammar.command("pain"), values, profiles_path or grammar_path)
