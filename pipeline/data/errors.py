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


class OutputBusy(LeadScoreError):
    """Another run holds the lock of this output (exit 2: the user asked for two writers)."""


class EnvironmentFault(LeadScoreError):
    """The machine, not the user's input: permissions, disk full, an unreachable store (exit 1)."""

    exit_code = 1


def describe_os_error(exc: OSError, path: object = None, action: str = "writing") -> str:
    """One line for an OS-level failure, naming the file and what to do about it.

    ``path`` names the file when the error does not (pyarrow's I/O errors carry an errno only).
    """
    import errno

    where = exc.filename or path or "a file"
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: permission denied {action} it (check the folder's owner and mode)"
    if exc.errno == errno.ENOSPC:
        return f"{where}: disk full while {action} it (free space and run again)"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return f"{where}: is a file where a folder is needed (choose another output path)"
    if exc.errno == errno.EFBIG:
        return f"{where}: file size limit reached while {action} it (ulimit -f)"
    text = exc.strerror or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return f"{where}: {text} while {action} it"
