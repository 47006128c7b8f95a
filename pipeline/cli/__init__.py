"""The ``leadscore`` command line: the Typer app with every command group registered on it."""

# Importing a group registers its commands; `leadscore --help` lists them in this order, the
# order of the work: data, training, explanations, the registry, scoring, monitoring.
from pipeline.cli import setup, data, train, explain, whatif, registry, score, monitor  # noqa: F401, I001
from pipeline.cli.app import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console script entry
    """Entry point for ``python -m pipeline``."""
    app(prog_name="leadscore")
