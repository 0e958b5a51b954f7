"""Settings: defaults < config file < EXERCISE_COACH_* environment < command-line flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

ENV_PREFIX = "EXERCISE_COACH_"


def default_data_dir() -> Path:
    """Where history is kept: the platform's user data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("exercise-coach", appauthor=False))


def default_config_path() -> Path:
    """Where the optional config file is looked for."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("exercise-coach", appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class Settings:
    """Everything a user or carer may set."""

    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    """Folder for the history database (and, later, speech models)."""
    routine: str = "strong_back"
    """A built-in routine id or the path of a routine file."""
    profile: str = "default"
    """Whose history and progress this session belongs to."""
    language: str = "en"
    """Language of the command grammar in grammars/."""
    grammar: str = ""
    """A command grammar file to use instead of the bundled one of ``language``."""
    time_scale: float = 1.0
    """Real seconds per session second: 0.01 makes holds and rests pass 100 times faster."""
    position_seconds: float = 15.0
    """Seconds to get into a starting position unless the user says ready."""
    move_seconds: float = 2.0
    """Seconds between "lift" and the start of the hold count."""
    words_per_minute: float = 160.0
    """Speaking pace the coach waits for before moving on."""
    sessions_per_extra_set: int = 2
    """Finished sessions without pain before one more set is added, up to the goal."""
    reprompt_seconds: float = 15.0
    """Seconds of silence after a question before the coach says the words again (doubling)."""
    check_in_seconds: float = 300.0
    """Seconds of a session under way without hearing the user before "Are you all right?"."""
    check_in_answer_seconds: float = 30.0
    """Seconds to answer "Are you all right?" before the coach pauses and records it."""

    @property
    def history_path(self) -> Path:
        """The SQLite history file."""
        return self.data_dir / "history.sqlite3"


_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}


def _convert(name: str, value: Any, where: str) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "Path":
            if not isinstance(value, str | Path) or not str(value):
                raise TypeError
            return Path(value).expanduser()
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
            if not number > 0 or number != number or number == float("inf"):
                raise ConfigError(f"{where}: {name} must be a number > 0, got {value!r}")
            return number
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            whole = int(value)
            if whole < 1:
                raise ConfigError(f"{where}: {name} must be a whole number >= 1, got {value!r}")
            return whole
        if not isinstance(value, str) or not value.strip():
            raise TypeError
        return value.strip()
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} must be a {kind}, got {value!r}") from None


def _apply(settings: Settings, values: Mapping[str, Any], where: str) -> Settings:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {known})")
        changes[key] = _convert(key, value, where)
    return dataclasses.replace(settings, **changes)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Build settings from defaults, the config file, the environment and flags, in that order."""
    env = os.environ if env is None else env
    settings = Settings()
    path = config_path or Path(env.get(ENV_PREFIX + "CONFIG", "") or default_config_path())
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: cannot read the config file: {err}") from None
        settings = _apply(settings, values, str(path))
    from_env = {
        name: env[ENV_PREFIX + name.upper()]
        for name in _FIELDS
        if env.get(ENV_PREFIX + name.upper())
    }
    settings = _apply(settings, from_env, "environment")
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    return _apply(settings, given, "command line")
