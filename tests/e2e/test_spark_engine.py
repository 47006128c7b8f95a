"""The Spark engine scores exactly like the local engine and refuses bad input the same way."""

from __future__ import annotations

import importlib.util
import shutil

import pandas as pd
import pytest

from pipeline.batch.local import SCORE_COLUMNS, ScoreJob, run_score_job
from pipeline.data.errors import DataError

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="pyspark is not installed (pip install -e '.[spark]')"),
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="java is not on PATH (the Spark engine needs Java 17+)"),
]
AS_OF = pd.Timestamp("2026-06-30T23:59:59")
# 12,000 leads in 4 buckets: several Spark groups on 2 cores, as on a real job.
BATCH = 3_000
MASTER = "local[2]"


def _job(leads, activities, output, **extra) -> ScoreJob:
    return ScoreJob(leads_path=leads, activities_path=activities, output_path=output,
                    as_of=AS_OF, batch_size=BATCH, **extra)


def _both(package, cfg, leads, activities, folder, suffix=".parquet", **extra):
    """Score the same input with both engines; returns both summaries and output paths."""
    from pipeline.batch.spark import run_spark_job

    local_out, spark_out = folder / f"local{suffix}", folder / f"spark{suffix}"
    local = run_score_job(package, cfg, _job(leads, activities, local_out, **extra))
    spark = run_spark_job(package, cfg, _job(leads, activities, spark_out, **extra),
                          master=MASTER)
    return local, spark, local_out, spark_out


def _csv(path) -> pd.DataFrame:
    # round_trip: the parse that gives back every double exactly, whoever spelled it.
    return pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")


def scores_of(path) -> pd.DataFrame:
    """A scores file or Spark output folder (CSV or Parquet parts), sorted by lead id."""
    if path.is_dir():
        parts = sorted(path.glob("part-*"))
        if parts and parts[0].name.endswith(".csv"):
            frame = pd.concat([_csv(p) for p in parts], ignore_index=True)
        else:
            frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
    elif path.suffix == ".csv":
        frame = _csv(path)
    else:
        frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
    return frame.sort_values("lead_id", ignore_index=True)


def test_spark_scores_like_the_local_engine(trained, small_world, tmp_path):
    from pipeline.batch.spark import OUTPUT_TYPES

    cfg, result, _, _ = trained
    package = result.packages["model"]
    local, spark, local_out, spark_out = _both(
        package, cfg, small_world / "leads.parquet", small_world / "activities.parquet",
        tmp_path)

    assert {k: spark[k] for k in ("input_rows", "output_rows", "buckets")} == \
        {k: local[k] for k in ("input_rows", "output_rows", "buckets")} == \
        {"input_rows": 12_000, "output_rows": 12_000, "buckets": 4}
    assert set(spark) == set(local)
    assert list(OUTPUT_TYPES)[:len(SCORE_COLUMNS)] == SCORE_COLUMNS
    # Written by Spark's committer: a folder of parts, complete with _SUCCESS.
    assert spark_out.is_dir() and (spark_out / "_SUCCESS").is_file()
    a, b = scores_of(local_out), scores_of(spark_out)
    assert list(b.columns) == SCORE_COLUMNS
    assert len(a) == len(b) == 12_000 and b["lead_id"].is_unique
    assert b["reason_1"].str.len().gt(0).mean() > 0.9
    # Same rows, same scores to the last bit, same reasons.
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_spark_reads_csv_and_writes_a_routing_list(trained, small_world, tmp_path):
    """CSV input (every cell text, empty cells as ""), --top/--open-only, CSV output."""
    cfg, result, leads, _ = trained
    package = result.packages["model"]
    for name in ("leads", "activities"):
        pd.read_parquet(small_world / f"{name}.parquet").to_csv(tmp_path / f"{name}.csv",
                                                                 index=False)
    _, spark, local_out, spark_out = _both(
        package, cfg, tmp_path / "leads.csv", tmp_path / "activities.csv", tmp_path,
        suffix=".csv", top=40, open_only=True)

    assert spark["output_rows"] == 40
    parts = sorted(spark_out.glob("part-*.csv"))
    assert len(parts) == 1 and (spark_out / "_SUCCESS").is_file()
    top = _csv(parts[0])
    assert list(top.columns) == SCORE_COLUMNS and top["probability"].is_monotonic_decreasing
    # The local engine's list, in the same order, with the same values.
    pd.testing.assert_frame_equal(top, _csv(local_out), check_exact=True)
    assert set(top["lead_id"]) <= set(leads.loc[leads["outcome"] == "open", "lead_id"])


def test_bad_input_is_the_local_engines_one_line_error_and_no_output(trained, small_world,
                                                                    tmp_path):
    from pipeline.batch.spark import run_spark_job

    cfg, result, _, _ = trained
    package = result.packages["model"]
    leads = pd.read_parquet(small_world / "leads.parquet")
    # Small row groups and splits: the two copies are read by different Spark tasks, so the
    # row numbers in the message must be numbered across input partitions.
    pd.concat([leads, leads.iloc[[5]]], ignore_index=True).to_parquet(
        tmp_path / "leads.parquet", row_group_size=1_000)
    activities = small_world / "activities.parquet"

    with pytest.raises(DataError) as local:
        run_score_job(package, cfg, _job(tmp_path / "leads.parquet", activities,
                                         tmp_path / "local.parquet"))
    out = tmp_path / "out.parquet"
    with pytest.raises(DataError) as spark:
        run_spark_job(package, cfg, _job(tmp_path / "leads.parquet", activities, out),
                      master=MASTER, conf={"spark.sql.files.maxPartitionBytes": "64k"})

    message = str(spark.value)
    assert "\n" not in message and "Traceback" not in message
    assert "column 'lead_id': duplicate lead id (2 rows: 6, 12001)" in message
    assert message == str(local.value)
    assert spark.value.details == local.value.details
    assert spark.value.__cause__ is None
    assert not out.exists()
    assert not list(tmp_path.glob("out.parquet*"))
    assert not list(tmp_path.glob(".out.parquet*"))  # no lock file left either
