"""Shared fixtures: every test keeps its data and config in its own temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Temporary files of the tests and of the coaches they start go under pytest's own
    folder: the tests that kill a coach (SIGKILL) leave its voice's scratch folder behind."""
    scratch = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(scratch))
        patch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
        yield scratch
    tempfile.tempdir = None


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the data dir and config file at tmp_path so no test touches the user's files."""
    data = tmp_path / "data"
    monkeypatch.setenv("EXERCISE_COACH_DATA_DIR", str(data))
    monkeypatch.setenv("EXERCISE_COACH_CONFIG", str(tmp_path / "config.toml"))
    yield data
