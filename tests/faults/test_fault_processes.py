"""Faults that need real processes: kill -9, two writers, a full disk, a read-only folder.

Plus the warnings that are not failures (absurd magnitudes, unknown categories, an empty
activity log) and the resume rules (changed input, changed as_of, nothing to resume).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import ROOT
from tests.faults.conftest import AS_OF, FaultWorld, cli_subprocess

pytestmark = pytest.mark.slow
runner = CliRunner()
BATCH = "400"  # 2,000 leads -> 5 buckets


def _args(world: FaultWorld, output: Path, leads: Path | None = None, *extra: str) -> list[str]:
    return ["score", "--config", str(world.config), "--model", str(world.model),
            "--input", str(leads or world.config.parents[1] / "data" / "leads.parquet"),
            "--activities", str(world.config.parents[1] / "data" / "activities.parquet"),
            "--output", str(output), "--batch-size", BATCH, *extra]


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name not in keep)


@pytest.fixture(scope="module")
def reference(fault_world, tmp_path_factory) -> pd.DataFrame:
    """An uninterrupted run: what every interrupted-and-resumed run must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "scores.parquet"
    result = runner.invoke(app, _args(fault_world, out, None, "--as-of", AS_OF))
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


@pytest.mark.parametrize("point", ["spill", "parts", "assembly"])
def test_kill_then_resume_gives_the_same_file_and_no_leftovers(point, fault_world, reference,
                                                               tmp_path):
    out = tmp_path / "scores.parquet"
    killed = cli_subprocess(_args(fault_world, out, None, "--as-of", AS_OF),
                            env={"LEADSCORE_FAILPOINT": point})
    assert killed.returncode == -9, killed.stderr
    assert not out.exists()
    assert (tmp_path / "scores.parquet.parts" / "checkpoint.json").is_file()
    if point == "assembly":
        assert list(tmp_path.glob(".scores.parquet.*.tmp")), "the kill came before assembly"
    # --resume without --as-of takes the interrupted run's as_of
    resumed = runner.invoke(app, _args(fault_world, out, None, "--resume"))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming:" in resumed.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), reference)
    assert _leftovers(tmp_path, {"scores.parquet", "scores.parquet.drift.json"}) == []
    drift = json.loads((tmp_path / "scores.parquet.drift.json").read_text())
    assert drift["rows"] == len(reference)  # the drift report covers every row after a resume


def test_resume_refuses_changed_input_of_the_same_size(fault_world, tmp_path):
    leads = tmp_path / "leads.csv"
    fault_world.leads.to_csv(leads, index=False)
    out = tmp_path / "out" / "scores.parquet"
    killed = cli_subprocess(_args(fault_world, out, leads, "--as-of", AS_OF),
                            env={"LEADSCORE_FAILPOINT": "parts"})
    assert killed.returncode == -9
    text = leads.read_text()
    first = fault_world.leads.loc[0, "industry"]
    changed = text.replace(f",{first},", f",{first[::-1]},", 1)
    assert len(changed) == len(text) and changed != text
    leads.write_text(changed)
    resumed = runner.invoke(app, _args(fault_world, out, leads, "--resume"))
    assert resumed.exit_code == 2, resumed.output
    assert "the --input file's content" in resumed.output
    assert "changed since the interrupted run" in resumed.output
    assert not out.exists()


def test_resume_refuses_another_as_of_and_says_when_there_is_nothing_to_resume(
        fault_world, tmp_path):
    out = tmp_path / "scores.parquet"
    killed = cli_subprocess(_args(fault_world, out, None, "--as-of", AS_OF),
                            env={"LEADSCORE_FAILPOINT": "parts"})
    assert killed.returncode == -9
    other = runner.invoke(app, _args(fault_world, out, None, "--resume", "--as-of", "2026-06-01"))
    assert other.exit_code == 2 and "--as-of (2026-06-30T23:59:59 -> 2026-06-01T00:00:00)" \
        in other.output
    fresh = tmp_path / "fresh.parquet"
    nothing = runner.invoke(app, _args(fault_world, fresh, None, "--resume", "--as-of", AS_OF))
    assert nothing.exit_code == 0, nothing.output
    assert "no interrupted run" in nothing.output and fresh.is_file()


def test_a_held_output_is_refused_at_once_naming_the_holder(fault_world, tmp_path):
    from pipeline.batch.guard import output_lock

    out = tmp_path / "scores.parquet"
    with output_lock(out):
        refused = cli_subprocess(_args(fault_world, out, None, "--as-of", AS_OF))
    assert refused.returncode == 2, refused.stderr
    assert f"another run (PID {os.getpid()} on" in refused.stderr
    assert "Traceback" not in refused.stderr and not out.exists()
    assert not (tmp_path / "scores.parquet.parts").exists()  # the refused run touched nothing


def test_two_writers_on_one_output_one_wins_and_the_file_is_complete(fault_world, tmp_path):
    out = tmp_path / "scores.parquet"
    env = {**os.environ, "LEADSCORE_NO_TRACKING": "1"}
    # 20 buckets keep the first run busy for seconds after its spill, longer than the second
    # needs to start and reach the lock
    args = _args(fault_world, out, None, "--as-of", AS_OF, "--batch-size", "100")
    first = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "scores.parquet.parts" / "checkpoint.json"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.poll() is None, "the first run ended before the second could start"
    second = cli_subprocess(args)
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert second.returncode == 2, second.stderr
    assert f"another run (PID {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    assert len(pd.read_parquet(out)) == len(fault_world.leads)
    assert _leftovers(tmp_path, {"scores.parquet", "scores.parquet.drift.json"}) == []


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_while_spilling_is_one_line_and_leaves_nothing(fault_world, tmp_path):
    out = tmp_path / "out" / "scores.parquet"
    done = cli_subprocess(_args(fault_world, out, None, "--as-of", AS_OF),
                          preexec_fn=_limit_file_size(20_000))
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "file size limit" in errors[0] and "nothing was written" \
        in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert _leftovers(tmp_path / "out", set()) == []


def test_disk_full_while_assembling_keeps_the_parts_and_resume_finishes(fault_world, reference,
                                                                        tmp_path):
    out = tmp_path / "scores.csv"
    # 20 buckets: every spill and part file stays under 250 kB, the ~450 kB CSV output does not
    args = _args(fault_world, out, None, "--as-of", AS_OF, "--batch-size", "100")
    done = cli_subprocess(args, preexec_fn=_limit_file_size(250_000))
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "file size limit" in errors[0], done.stderr
    assert "20 finished batch(es) kept in" in errors[0] and "--resume" in errors[0]
    assert not out.exists() and not list(tmp_path.glob(".scores.csv.*.tmp"))
    resumed = runner.invoke(app, _args(fault_world, out, None, "--resume", "--batch-size", "100"))
    assert resumed.exit_code == 0, resumed.output
    scores = pd.read_csv(out).sort_values("lead_id", ignore_index=True)
    expected = reference.sort_values("lead_id", ignore_index=True)
    assert scores["lead_id"].tolist() == expected["lead_id"].tolist()
    assert scores["score"].tolist() == expected["score"].tolist()
    assert _leftovers(tmp_path, {"scores.csv", "scores.csv.drift.json"}) == []


def test_read_only_output_folder_is_one_line_exit_1(fault_world, tmp_path):
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root ignores folder modes; without the DAC capabilities it obeys them
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and util-linux's setpriv is not installed")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    args = _args(fault_world, locked / "scores.parquet", None, "--as-of", AS_OF)
    done = cli_subprocess(args, prefix=prefix)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "permission denied" in errors[0], done.stderr
    assert str(locked) in errors[0]
    assert "Traceback" not in done.stderr
    assert list(locked.iterdir()) == []


def _score_frame(world: FaultWorld, tmp_path: Path, leads: pd.DataFrame, acts=None):
    (tmp_path / "in").mkdir(exist_ok=True)
    leads_path = tmp_path / "in" / "leads.parquet"
    leads.to_parquet(leads_path, index=False)
    acts_path = tmp_path / "in" / "activities.parquet"
    (world.activities if acts is None else acts).to_parquet(acts_path, index=False)
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["score", "--config", str(world.config), "--model",
                                 str(world.model), "--input", str(leads_path), "--activities",
                                 str(acts_path), "--output", str(out), "--as-of", AS_OF])
    return result, out


def test_absurd_magnitude_is_clipped_with_a_warning(fault_world, tmp_path):
    leads = fault_world.leads.astype({"employees": "float64"})
    leads.loc[[3, 11], "employees"] = 1e308
    result, out = _score_frame(fault_world, tmp_path, leads)
    assert result.exit_code == 0, result.output
    assert "column 'employees': values far beyond the training range" in result.output
    assert "(2 rows)" in result.output
    scores = pd.read_parquet(out)
    reasons = scores[[f"reason_{k}" for k in (1, 2, 3)]].astype(str)
    assert not reasons.apply(lambda c: c.str.contains("e+308")).any().any()


def test_unknown_category_and_empty_activity_log_warn_with_counts(fault_world, tmp_path):
    leads = fault_world.leads.copy()
    leads.loc[[0, 1, 2], "industry"] = "Quantum Basket Weaving"
    result, out = _score_frame(fault_world, tmp_path, leads, fault_world.activities.head(0))
    assert result.exit_code == 0, result.output
    assert "column 'industry': values never seen in training score as 'other' (3 rows)" \
        in result.output
    assert "holds no events: every engagement count is 0" in result.output
    assert len(pd.read_parquet(out)) == len(leads)
