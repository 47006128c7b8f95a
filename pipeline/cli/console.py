"""One Rich console for the CLI: results to stdout, progress and errors to stderr.

Tables are printed three ways (``--format``): a Rich table for people, JSON or CSV for scripts.
In JSON and CSV the data alone goes to stdout and every other line to stderr, so a pipe gets
something a parser reads. A Rich table piped into a file is never cut to 80 columns: when stdout
is not a terminal the console is as wide as the widest row.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# wide enough for any table this CLI prints, so a pipe never sees a cell cut with "…"
PIPE_WIDTH = 10_000


class Format(StrEnum):
    """How a command prints its table."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[str, typer.Option(
    "--format", help="table (for people), json or csv (for scripts: the data alone on stdout, "
    "every other line on stderr).")]


def table_format(value: str | Format) -> Format:
    """``--format`` checked (one line, exit 2, like every user mistake) and typed."""
    from pipeline.data.errors import ConfigError

    if str(value).lower() not in {f.value for f in Format}:
        raise ConfigError(f"--format {value!r}: use table, json or csv")
    return Format(str(value).lower())


def fit_to_stdout() -> None:
    """A terminal gets its own width; a pipe or file gets the whole row."""
    out.width = None if out.is_terminal else PIPE_WIDTH  # type: ignore[assignment]


@contextlib.contextmanager
def results_as(fmt: Format | str | None) -> Iterator[None]:
    """While a JSON or CSV command runs, what the console prints goes to stderr."""
    if str(getattr(fmt, "value", fmt)) not in (Format.json.value, Format.csv.value):
        yield
        return
    out.file = sys.stderr
    try:
        yield
    finally:
        out.file = None  # type: ignore[assignment] - back to whatever stdout is then


def emit(fmt: Format | str, rows: Sequence[dict[str, Any]] | dict[str, Any],
         view: Callable[[], None], columns: Sequence[str] | None = None) -> None:
    """Print ``rows`` as JSON or CSV on stdout, or call ``view`` to print the Rich table.

    ``rows`` is a list of records, or (JSON only: commands that print several tables) a dict of
    such lists; CSV then holds the first of them.
    """
    fmt = Format(fmt)
    if fmt is Format.table:
        view()
        return
    rows = plain(rows)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(rows, indent=2, allow_nan=False) + "\n")
        return
    records = next(iter(rows.values()), []) if isinstance(rows, dict) else rows
    names = list(columns or (records[0].keys() if records else []))
    writer = csv.DictWriter(sys.stdout, fieldnames=names, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v
                         for k, v in record.items()})


def plain(value: Any) -> Any:
    """Numpy scalars, timestamps and NaN as JSON has them (NaN is null, never invalid JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def progress(rate_unit: str = "rows") -> Progress:
    """A progress bar on stderr with a rate column, quiet when stderr is not a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[rate]}} {rate_unit}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


class StageProgress:
    """What :func:`stage_progress` yields: call it with a stage name; ``advance`` counts steps.

    Calling it is the plain ``progress: Callable[[str], None]`` callback the core takes, so the
    stages never import Rich.
    """

    def __init__(self, bar: Progress, job: str, unit: str) -> None:
        self._bar, self._job, self._unit = bar, job, unit
        self._task = bar.add_task(job, total=None, unit=unit)

    def __call__(self, stage: str) -> None:
        self._bar.update(self._task, description=f"{self._job}: {stage}")

    def advance(self, steps: int = 1, total: int | None = None) -> None:
        """Count finished steps (trials, folds, buckets) out of ``total`` when known."""
        if total is not None:
            self._bar.update(self._task, total=total)
        self._bar.advance(self._task, steps)


@contextlib.contextmanager
def stage_progress(job: str, total: int | None = None, unit: str = "steps"
                   ) -> Iterator[StageProgress]:
    """A live line on stderr for a long job: its current stage, steps done, time taken.

    ``with stage_progress("tune", total=trials, unit="trials") as bar:`` then ``bar("fit")``
    names the stage and ``bar.advance()`` counts a step. Quiet when stderr is not a terminal
    (a pipe, a CI log), and never on stdout, so piped results stay clean.
    """
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with bar:
        stages = StageProgress(bar, job, unit)
        if total is not None:
            stages.advance(0, total)
        yield stages
