"""A real standalone Spark cluster on 127.0.0.1 scores a partitioned dataset like the local engine.

The master and one worker are Spark's own daemons (``bin/spark-class`` of the pyspark package),
started on free loopback ports and killed, with their process groups, at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.batch.local import run_score_job
from tests.e2e.test_spark_engine import _job, pytestmark, scores_of
from tests.e2e.test_spark_storage import _partitioned

__all__ = ["pytestmark"]
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120  # seconds for the master and the worker to come up on a loaded machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _daemon(log: Path, *args: str) -> subprocess.Popen:
    import pyspark

    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           # The executors' Python workers import LeadScore from this checkout.
           "PYSPARK_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([str(home / "bin" / "spark-class"), *args], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_for(log: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"Spark daemon did not say {text!r}:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def standalone(tmp_path):
    """spark://127.0.0.1:PORT with one 2-core worker; both stopped afterwards."""
    port = _free_port()
    daemons = []
    try:
        master_log = tmp_path / "master.log"
        daemons.append(_daemon(master_log, "org.apache.spark.deploy.master.Master", "--host",
                               "127.0.0.1", "--port", str(port), "--webui-port",
                               str(_free_port())))
        _wait_for(master_log, "I have been elected leader", daemons[0])
        worker_log = tmp_path / "worker.log"
        daemons.append(_daemon(worker_log, "org.apache.spark.deploy.worker.Worker",
                               f"spark://127.0.0.1:{port}", "--host", "127.0.0.1", "--cores", "2",
                               "--memory", "3g", "--webui-port", str(_free_port()),
                               "--work-dir", str(tmp_path / "work")))
        _wait_for(worker_log, "Successfully registered with master", daemons[1])
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in reversed(daemons):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def test_standalone_cluster_scores_a_partitioned_dataset_like_local(trained, small_world,
                                                                    tmp_path, standalone):
    from pipeline.batch.spark import run_spark_job

    cfg, result, _, _ = trained
    package = result.packages["model"]
    leads, activities = _partitioned(small_world, tmp_path)
    local = tmp_path / "local.parquet"
    run_score_job(package, cfg, _job(small_world / "leads.parquet",
                                     small_world / "activities.parquet", local))
    out = tmp_path / "cluster-scores"
    summary = run_spark_job(
        package, cfg, _job(leads, activities, out), master=standalone,
        conf={"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
              "spark.executor.memory": "2g", "spark.cores.max": "2"})

    assert summary["output_rows"] == 12_000 and (out / "_SUCCESS").is_file()
    a, b = scores_of(local), scores_of(out)
    assert len(b) == 12_000 and b["lead_id"].is_unique
    # Same rows, same scores bit for bit, same reasons.
    pd.testing.assert_frame_equal(a, b, check_exact=True)
