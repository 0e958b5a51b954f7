"""Settings precedence and the messages for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings, load_settings
from assistant.errors import ConfigError


def test_defaults_file_env_flags_in_that_order(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('routine = "spine"\ntime_scale = 0.5\nposition_seconds = 20\n', "utf-8")
    env = {"EXERCISE_COACH_TIME_SCALE": "0.25", "EXERCISE_COACH_PROFILE": "ada"}
    settings = load_settings({"profile": "bob", "data_dir": str(tmp_path)}, env, config)
    assert settings.routine == "spine"  # file
    assert settings.position_seconds == 20.0  # file
    assert settings.time_scale == 0.25  # env beats file
    assert settings.profile == "bob"  # flag beats env
    assert settings.history_path == tmp_path / "history.sqlite3"
    assert settings.move_seconds == Settings().move_seconds  # default


def test_missing_config_file_means_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, {}, tmp_path / "absent.toml")
    assert settings.routine == "strong_back"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("time_scale = -1\n", ["time_scale", "> 0"]),
        ('time_scale = "fast"\n', ["time_scale", "'fast'"]),
        ("time_scale = true\n", ["time_scale"]),
        ("sessions_per_extra_set = 0\n", ["sessions_per_extra_set", ">= 1"]),
        ("sessions_per_extra_set = 1.5\n", ["sessions_per_extra_set"]),
        ("volume = 3\n", ["unknown setting 'volume'", "time_scale"]),
        ('routine = ""\n', ["routine"]),
        ("time_scale = \n", ["cannot read the config file"]),
    ],
)
def test_bad_config_values_name_the_file_and_setting(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings({}, {}, config)
    message = str(err.value)
    assert str(config) in message
    for word in words:
        assert word in message


def test_bad_environment_value_says_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment: position_seconds"):
        load_settings({}, {"EXERCISE_COACH_POSITION_SECONDS": "soon"}, tmp_path / "none.toml")


def test_non_utf8_config_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b"routine = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, {}, config)
