"""``leadscore score --workers N``: the same file as one process, resumable, failing as one.

Buckets of the 2,000-lead fault world (batch 400: 5 buckets) scored by two processes must give
the very bytes one process writes; a run killed at the ``parts`` failpoint leaves no worker
behind and resumes, with either worker count, to those bytes; a user error raised inside a
worker is still one line, exit 2, with nothing left on disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.faults.conftest import AS_OF, FaultWorld, cli_subprocess

pytestmark = pytest.mark.slow
runner = CliRunner()
BATCH = "400"  # 2,000 leads -> 5 buckets


def _args(world: FaultWorld, output: Path, *extra: str, activities: Path | None = None
          ) -> list[str]:
    data = world.config.parents[1] / "data"
    return ["score", "--config", str(world.config), "--model", str(world.model),
            "--input", str(data / "leads.parquet"),
            "--activities", str(activities or data / "activities.parquet"),
            "--output", str(output), "--batch-size", BATCH, *extra]


@pytest.fixture(scope="module")
def one_worker(fault_world, tmp_path_factory) -> Path:
    """The file of an uninterrupted one-process run."""
    out = tmp_path_factory.mktemp("one") / "scores.parquet"
    result = runner.invoke(app, _args(fault_world, out, "--as-of", AS_OF))
    assert result.exit_code == 0, result.output
    return out


def _workers_of(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``marker`` (a killed run's workers)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("LEADSCORE_TEST_RUN") == marker:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_two_workers_write_the_bytes_of_one_and_warn_beyond_the_cores(
        fault_world, one_worker, tmp_path, monkeypatch):
    out = tmp_path / "scores.parquet"
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    result = runner.invoke(app, _args(fault_world, out, "--as-of", AS_OF, "--workers", "2"))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == one_worker.read_bytes()
    drift = out.with_name(out.name + ".drift.json")
    assert drift.read_bytes() == one_worker.with_name(one_worker.name + ".drift.json").read_bytes()
    assert result.output.count("more than the 1 cores") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet",
                                                          "scores.parquet.drift.json"]


@pytest.mark.parametrize(("killed_with", "resumed_with"), [("2", "1"), ("1", "2")])
def test_a_killed_run_leaves_no_worker_and_resumes_with_any_count(
        fault_world, one_worker, tmp_path, killed_with, resumed_with):
    out = tmp_path / "scores.parquet"
    marker = str(tmp_path)
    killed = cli_subprocess(_args(fault_world, out, "--as-of", AS_OF, "--workers", killed_with),
                            env={"LEADSCORE_FAILPOINT": "parts", "LEADSCORE_TEST_RUN": marker})
    assert killed.returncode == -9, killed.stderr
    assert not out.exists()
    deadline = time.monotonic() + 10
    while _workers_of(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _workers_of(marker) == []  # orphaned workers noticed the parent is gone and left
    # the worker count is not part of the resume signature: it changes no byte of the output
    resumed = runner.invoke(app, _args(fault_world, out, "--resume", "--workers", resumed_with))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 2 finished batch(es) kept" in resumed.output
    assert out.read_bytes() == one_worker.read_bytes()
    assert not out.with_name(out.name + ".parts").exists()


def test_a_user_error_inside_a_worker_is_one_line_and_leaves_nothing(fault_world, tmp_path):
    acts = fault_world.activities.copy()
    acts.loc[len(acts) // 2, "occurred_at"] = pd.Timestamp("2031-01-01")  # one bucket's event
    (tmp_path / "in").mkdir()
    broken = tmp_path / "in" / "activities.parquet"
    acts.to_parquet(broken, index=False)
    out = tmp_path / "out" / "scores.parquet"
    result = runner.invoke(app, _args(fault_world, out, "--as-of", AS_OF, "--workers", "2",
                                      activities=broken))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "event in the future" in errors[0], result.output
    assert str(broken) in errors[0]
    assert "Traceback" not in result.output
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(("extra", "message"), [
    (("--workers", "0"), "--workers 0: use 1"),
    (("--workers", "-3"), "--workers -3: use 1"),
    (("--workers", "2", "--engine", "spark"), "--workers 2 is for --engine local"),
])
def test_a_worker_count_the_job_cannot_use_is_one_line_exit_2(fault_world, tmp_path, extra,
                                                              message):
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, _args(fault_world, out, "--as-of", AS_OF, *extra))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []
