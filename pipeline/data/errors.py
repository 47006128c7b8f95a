"""User-facing errors: the CLI prints them as one line on stderr with an exit code."""

from __future__ import annotations


class LeadScoreError(Exception):
    """Base class for errors caused by the user's input or configuration (exit code 2)."""

    exit_code = 2

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or [message]


class DataError(LeadScoreError):
    """An input file breaks the data contract (names the file, column and rows)."""


class ConfigError(LeadScoreError):
    """A configuration file is invalid (names the file and the key)."""


class ModelError(LeadScoreError):
    """A stored model cannot serve this request (wrong version, feature spec mismatch)."""


class DriftAlarm(LeadScoreError):
    """Drift crossed the alarm threshold; exit code 3 so schedulers can react."""

    exit_code = 3
