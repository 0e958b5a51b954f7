"""Shared fixtures: every test keeps its data and config in its own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the data dir and config file at tmp_path so no test touches the user's files."""
    data = tmp_path / "data"
    monkeypatch.setenv("EXERCISE_COACH_DATA_DIR", str(data))
    monkeypatch.setenv("EXERCISE_COACH_CONFIG", str(tmp_path / "config.toml"))
    yield data
