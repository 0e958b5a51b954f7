"""Exceptions meant for the user: cli.py prints each as one readable line and exits non-zero."""

from __future__ import annotations


class CoachError(Exception):
    """An error the user can act on; its message is complete on its own."""

    exit_code = 2


class RoutineError(CoachError):
    """A routine file is missing, unreadable or invalid."""


class GrammarError(CoachError):
    """A grammar file is missing, unreadable or invalid."""


class ConfigError(CoachError):
    """The configuration file or an environment setting is invalid."""


class HistoryError(CoachError):
    """The history database cannot be opened or written."""


class RecognizerError(CoachError):
    """A speech recognizer cannot start: missing words, bad grammar, broken engine."""


class ModelError(CoachError):
    """A speech model folder is missing, partial or corrupt, or its download failed."""


class AudioError(CoachError):
    """No usable microphone or speaker, or an audio file that cannot be used."""


class ScreenError(CoachError):
    """The large-print screen cannot be served (its port is taken or invalid)."""


class ReportError(CoachError):
    """The carers' report cannot be written."""
