"""Where the Spark engine reads and writes: locations, --spark-conf, the output guard, Delta."""

from __future__ import annotations

import pytest

from pipeline.batch import spark_io
from pipeline.batch.spark_io import check_output, delta_settings, locate, parse_spark_conf
from pipeline.data.errors import ConfigError, EnvironmentFault


def test_locations_keep_uris_and_resolve_paths(tmp_path):
    assert locate("s3a://bucket/leads/").uri == "s3a://bucket/leads/"
    assert locate("s3a://bucket/leads/").local is None
    assert locate("dbfs:/mnt/crm/leads").uri == "dbfs:/mnt/crm/leads"
    assert locate("delta:s3a://bucket/t").uri == "s3a://bucket/t"
    folder = tmp_path / "my leads"
    assert locate(folder.as_uri()).local == folder
    assert locate(str(folder)).uri == folder.as_uri()
    assert locate(folder.as_uri()).uri == locate(str(folder)).uri
    assert locate("data/leads.parquet").local is not None


def test_spark_conf_items_are_parsed_and_bad_ones_named():
    conf = parse_spark_conf(["spark.executor.memory=4g", "spark.hadoop.fs.s3a.endpoint=http://x:9000",
                             "spark.sql.shuffle.partitions = 8", "spark.executor.memory=8g"])
    assert conf == {"spark.executor.memory": "8g", "spark.hadoop.fs.s3a.endpoint": "http://x:9000",
                    "spark.sql.shuffle.partitions": "8"}
    assert parse_spark_conf(["spark.x.y="]) == {"spark.x.y": ""}
    assert parse_spark_conf(None) == {}
    for bad, says in [("spark.executor.memory", "expected KEY=VALUE"),
                      ("=4g", "expected KEY=VALUE"),
                      ("memory=4g", "not a Spark setting name"),
                      ("spark executor=1", "not a Spark setting name")]:
        with pytest.raises(ConfigError) as error:
            parse_spark_conf(["spark.ok=1", bad])
        assert says in str(error.value) and repr(bad) in str(error.value)
        assert "\n" not in str(error.value)


def test_output_never_is_holds_or_lies_in_an_input(tmp_path):
    leads = tmp_path / "data" / "leads"
    leads.mkdir(parents=True)
    inputs = {"--input": locate(str(leads)), "--activities": None}
    for output in (leads, leads.parent, leads / "scores", leads.as_uri()):
        with pytest.raises(ConfigError, match="an input is never overwritten"):
            check_output(None, locate(str(output)), inputs, "overwrite")
    (tmp_path / "done").mkdir()
    with pytest.raises(ConfigError, match="already exists.*--spark-write-mode overwrite"):
        check_output(None, locate(str(tmp_path / "done")), inputs, "errorifexists")
    check_output(None, locate(str(tmp_path / "done")), inputs, "overwrite")
    check_output(None, locate(str(tmp_path / "leads-scores")), inputs, "errorifexists")
    with pytest.raises(ConfigError, match="--spark-write-mode 'append'"):
        check_output(None, locate(str(tmp_path / "new")), inputs, "append")


def test_delta_is_detected_and_needs_delta_spark(tmp_path, monkeypatch):
    table = tmp_path / "leads"
    (table / "_delta_log").mkdir(parents=True)
    assert spark_io.wants_delta(str(table), "auto")
    assert spark_io.wants_delta("delta:s3a://b/t", "auto")
    assert spark_io.wants_delta(str(tmp_path), "delta")
    assert not spark_io.wants_delta(str(tmp_path), "auto")
    assert not spark_io.wants_delta(str(table), "parquet")
    monkeypatch.setattr(spark_io, "delta_installed", lambda: False)
    with pytest.raises(EnvironmentFault, match="need delta-spark: pip install 'delta-spark'"):
        delta_settings({})
    # A session the caller set up for Delta (Databricks, their own jars) is trusted.
    given = {"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension"}
    assert delta_settings(given) == {}
    monkeypatch.setattr(spark_io, "delta_installed", lambda: True)
    assert delta_settings({})["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
