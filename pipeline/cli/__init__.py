"""The ``leadscore`` command line: the Typer app with every command group registered on it."""

from pipeline.cli import data, explain, registry, score, train  # noqa: F401  (registers commands)
from pipeline.cli.app import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console script entry
    """Entry point for ``python -m pipeline``."""
    app(prog_name="leadscore")
