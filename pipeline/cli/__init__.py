"""The ``leadscore`` command line: the Typer app with every command group registered on it."""

import os

# OpenMP threads that wait for work by spinning hold their core between LightGBM's boosting
# rounds: next to another busy job each round then waits for a thread descheduled for a whole
# time slice (57-250 ms a round instead of 5 ms on two shared cores). Passive waiting costs
# next to nothing on an idle machine. libgomp reads it once, when it loads (with LightGBM or
# scikit-learn), so it is set here, before any command imports them; a user's own value stays.
OMP_WAIT_POLICY_DEFAULTED = "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Importing a group registers its commands; `leadscore --help` lists them in this order, the
# order of the work: data, training, explanations, the registry, scoring, monitoring.
from pipeline.cli import setup, data, train, explain, whatif, registry, score, monitor  # noqa: E402, F401, I001
from pipeline.cli.app import app  # noqa: E402

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console script entry
    """Entry point for ``python -m pipeline``."""
    app(prog_name="leadscore")
