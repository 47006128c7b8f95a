"""Spark on real storage: folders, partitioned datasets, URIs, Spark's committer, drift, the API."""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from pipeline.batch.local import JobNotes, run_score_job
from pipeline.cli.app import app
from pipeline.evaluation.drift import DriftMonitor
from tests.conftest import write_demo_config
from tests.e2e.test_spark_engine import AS_OF, BATCH, MASTER, _job, pytestmark, scores_of

__all__ = ["pytestmark"]  # Spark and Java needed, slow: the engine tests' marks
runner = CliRunner()


def _partitioned(small_world, folder):
    """The world's leads as a hive-partitioned dataset and its activities as a folder of parts."""
    pq.write_to_dataset(pq.read_table(small_world / "leads.parquet"), folder / "leads",
                        partition_cols=["lead_source"])
    activities = pd.read_parquet(small_world / "activities.parquet")
    (folder / "activities").mkdir()
    for number, rows in enumerate(np.array_split(np.arange(len(activities)), 3)):
        activities.iloc[rows].to_parquet(folder / "activities" / f"part-{number}.parquet",
                                         index=False)
    assert len(list((folder / "leads").glob("lead_source=*"))) > 2
    return folder / "leads", folder / "activities"


def test_partitioned_folders_by_file_uri_score_and_drift_like_local(trained, small_world,
                                                                     tmp_path):
    from pipeline.batch.spark import run_spark_job

    cfg, result, _, _ = trained
    package = result.packages["model"]
    leads, activities = _partitioned(small_world, tmp_path)
    monitors = {engine: DriftMonitor(package.reference) for engine in ("local", "spark")}
    notes = {engine: JobNotes() for engine in ("local", "spark")}
    local = run_score_job(package, cfg, _job(small_world / "leads.parquet",
                                             small_world / "activities.parquet",
                                             tmp_path / "local.parquet"),
                          monitor=monitors["local"], notes=notes["local"])
    out = tmp_path / "scores"
    stages: list[str] = []
    spark = run_spark_job(package, cfg, _job(leads.as_uri(), activities.as_uri(), out.as_uri()),
                          master=MASTER, monitor=monitors["spark"], notes=notes["spark"],
                          progress=stages.append)
    # Progress names each stage, and the buckets as the tasks that score them.
    assert stages[:2] == [f"start Spark ({MASTER})", "read and number the leads"]
    assert f"score {12_000 // BATCH} buckets and write" in stages
    assert stages[-1] == "merge drift counts and warnings"

    assert (out / "_SUCCESS").is_file() and list(out.glob("part-*.parquet"))
    assert spark["input_rows"] == spark["output_rows"] == local["output_rows"] == 12_000
    pd.testing.assert_frame_equal(scores_of(tmp_path / "local.parquet"), scores_of(out),
                                  check_exact=True)
    # The same drift, count for count, merged in bucket order as the local engine does.
    assert monitors["spark"].rows == 12_000
    assert monitors["spark"].state() == monitors["local"].state()
    pd.testing.assert_frame_equal(monitors["spark"].result(), monitors["local"].result(),
                                  check_exact=True)
    assert notes["spark"].warnings == notes["local"].warnings
    assert notes["spark"].newest.state() == notes["local"].newest.state() == spark["newest"]


def test_cli_spark_conf_drift_report_and_refusals(trained, small_world, tmp_path):
    _, result, _, _ = trained
    model = tmp_path / "model.pkl"
    result.packages["model"].save(model)
    cfg = write_demo_config(tmp_path, small_world)
    leads, activities = _partitioned(small_world, tmp_path)

    def score(inputs, output, *extra):
        return runner.invoke(app, [
            "score", "--config", str(cfg), "--model", str(model), "--input", str(inputs[0]),
            "--activities", str(inputs[1]), "--output", str(output), "--as-of", AS_OF,
            "--batch-size", "3000", *extra])

    files = (small_world / "leads.parquet", small_world / "activities.parquet")
    local = score(files, tmp_path / "local.parquet")
    assert local.exit_code == 0, local.output
    spark_args = ("--engine", "spark", "--spark-master", MASTER)
    out = tmp_path / "spark-out"
    spark = score((leads, activities), out, *spark_args,
                  "--spark-conf", "spark.sql.files.maxPartitionBytes=256k",
                  "--spark-conf", "spark.driver.memory=1g")
    assert spark.exit_code == 0, spark.output
    assert "scored 12,000 leads" in spark.output and (out / "_SUCCESS").is_file()
    pd.testing.assert_frame_equal(scores_of(tmp_path / "local.parquet"), scores_of(out),
                                  check_exact=True)
    # The drift report beside the output, and the same warning line as the local engine's.
    assert json.loads((tmp_path / "spark-out.drift.json").read_text()) == \
        json.loads((tmp_path / "local.parquet.drift.json").read_text())
    assert [line for line in spark.output.splitlines() if line.startswith("drift:")] == \
        [line for line in local.output.splitlines() if line.startswith("drift:")]

    again = score((leads, activities), out, *spark_args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert "Traceback" not in again.output and (out / "_SUCCESS").is_file()
    onto_input = score((leads, activities), leads, *spark_args, "--spark-write-mode",
                       "overwrite")
    assert onto_input.exit_code == 2 and "an input is never overwritten" in onto_input.output
    assert pq.read_table(leads).num_rows == 12_000  # the input is untouched
    bad_conf = score((leads, activities), tmp_path / "x", *spark_args, "--spark-conf", "memory")
    assert bad_conf.exit_code == 2 and "--spark-conf 'memory': expected KEY=VALUE" in \
        bad_conf.output
    resumed = score((leads, activities), tmp_path / "z", *spark_args, "--resume")
    assert resumed.exit_code == 2 and "--resume is for --engine local" in resumed.output
    assert not (tmp_path / "z").exists()
    missing = score((tmp_path / "nowhere", activities), tmp_path / "y", *spark_args)
    assert missing.exit_code == 2 and "nowhere: not found" in missing.output
    assert not (tmp_path / "y").exists()


def test_score_dataframe_equals_local_scoring(trained, small_world, tmp_path, monkeypatch):
    from pyspark.sql import SparkSession

    from pipeline import score_dataframe

    cfg, result, _, _ = trained
    package = result.packages["model"]
    model = tmp_path / "model.pkl"
    package.save(model)
    version = f"file:{hashlib.sha256(model.read_bytes()).hexdigest()[:12]}"
    local = tmp_path / "local.parquet"
    run_score_job(package, cfg, _job(small_world / "leads.parquet",
                                     small_world / "activities.parquet", local,
                                     model_name="model", model_version=version))
    # Microsecond timestamps, as Spark itself writes them.
    for name in ("leads", "activities"):
        pd.read_parquet(small_world / f"{name}.parquet").to_parquet(
            tmp_path / f"{name}.parquet", coerce_timestamps="us")
    # A notebook's workers run the notebook's own Python, where LeadScore is installed.
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(MASTER).appName("score_dataframe test")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
    try:
        scores = score_dataframe(spark, spark.read.parquet(str(tmp_path / "leads.parquet")),
                                 spark.read.parquet(str(tmp_path / "activities.parquet")),
                                 str(model), AS_OF, config=cfg)
        scores.write.parquet(str(tmp_path / "api"))
    finally:
        spark.stop()
    pd.testing.assert_frame_equal(scores_of(local), scores_of(tmp_path / "api"), check_exact=True)
