"""The ``leadscore`` command line: the Typer app with every command group registered on it."""

# The OpenMP wait policy is left to the user (libgomp's default: spin a while, then sleep).
# Forcing PASSIVE made LightGBM's boosting 2x slower on an idle machine (5.0 s against 9.9 s for
# 300 rounds on 50k rows, 2 threads), because every round wakes sleeping threads. What a busy
# machine needs is fewer threads, not a different wait: `model.n_jobs: auto` gives LightGBM the
# cores other processes leave free (pipeline/scorers/lightgbm.py), and one thread never waits.

# Importing a group registers its commands; `leadscore --help` lists them in this order, the
# order of the work: data, training, explanations, the registry, scoring, monitoring.
from pipeline.cli import setup, data, train, explain, whatif, registry, score, monitor  # noqa: F401, I001
from pipeline.cli.app import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console script entry
    """Entry point for ``python -m pipeline``."""
    app(prog_name="leadscore")
