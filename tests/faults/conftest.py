"""The fault suite's shared world: a 2,000-lead slice of the small world and a model file.

Every case writes its inputs under ``in/`` and its output under ``out/`` of its own tmp folder,
so "no leftover file" is simply "``out/`` is empty" after a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, write_demo_config

AS_OF = "2026-06-30T23:59:59"
_OUTCOMES: dict[str, str] = {}  # nodeid -> outcome of every fault case, for the summary


@dataclass
class FaultWorld:
    """Clean inputs (Parquet and CSV), a config pointing at them and a trained model file."""

    folder: Path
    config: Path
    model: Path
    leads: pd.DataFrame
    activities: pd.DataFrame


@pytest.fixture(scope="session")
def fault_world(trained, small_world, tmp_path_factory) -> FaultWorld:
    _, result, _, _ = trained
    folder = tmp_path_factory.mktemp("faults")
    leads = pd.read_parquet(small_world / "leads.parquet")
    leads = leads.sort_values("lead_id", kind="mergesort").head(2_000).reset_index(drop=True)
    acts = pd.read_parquet(small_world / "activities.parquet")
    acts = acts[acts["lead_id"].isin(leads["lead_id"])].reset_index(drop=True)
    data = folder / "data"
    data.mkdir()
    leads.to_parquet(data / "leads.parquet", index=False)
    acts.to_parquet(data / "activities.parquet", index=False)
    model = folder / "model.pkl"
    result.packages["model"].save(model)
    config = write_demo_config(folder, data)
    return FaultWorld(folder, config, model, leads, acts)


def cli_subprocess(args: list[str], env: dict[str, str] | None = None, preexec_fn=None,
                   timeout: float = 300, prefix: list[str] | None = None
                   ) -> subprocess.CompletedProcess:
    """``python -m pipeline ARGS`` in a child process (for kills, locks and resource limits)."""
    full_env = {**os.environ, "LEADSCORE_NO_TRACKING": "1", **(env or {})}
    full_env.pop("LEADSCORE_DEBUG", None)
    return subprocess.run([*(prefix or []), sys.executable, "-m", "pipeline", *args], cwd=ROOT,
                          env=full_env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)


def pytest_runtest_logreport(report):
    if report.when == "call" and "tests/faults/" in report.nodeid:
        _OUTCOMES[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    passed = sum(1 for o in _OUTCOMES.values() if o == "passed")
    terminalreporter.write_line(f"fault suite: {len(_OUTCOMES)} cases run, {passed} passed")
