"""Scoring inside a running Spark application: notebooks, Databricks jobs, spark-submit scripts.

::

    from pipeline import score_dataframe

    leads = spark.read.table("crm.leads")              # or spark.read.parquet("s3a://...")
    activities = spark.read.table("crm.activities")
    scores = score_dataframe(spark, leads, activities, "models:/leadscore@champion",
                             as_of="2026-06-30T23:59:59", config="configs/demo.yaml")
    scores.write.mode("overwrite").saveAsTable("crm.lead_scores")

The result is a lazy DataFrame with the columns and values of ``leadscore score`` (the same
per-bucket function: :func:`pipeline.batch.local.score_bucket`), computed when an action runs.
A contract violation surfaces at that action as a Spark error whose message carries the same
one line as the CLI's; :func:`pipeline.batch.spark.user_error_in` turns it back into the
:class:`~pipeline.data.errors.LeadScoreError`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from pipeline.batch.local import SCORE_COLUMNS, ScoreJob
from pipeline.batch.spark_io import arrow_schema
from pipeline.batch.spark_plan import Source, number_rows, scored_frame, worker_context
from pipeline.data.config import Config, load_config
from pipeline.data.errors import DataError, ModelError
from pipeline.data.scoring_time import resolve_as_of
from pipeline.explain.package import ScoringPackage, load_package


def score_dataframe(
    spark, leads_df, activities_df=None, model_uri: str | Path | ScoringPackage | None = None,
    as_of: str | pd.Timestamp | None = None, *, config: str | Path | Config,
    explain: bool = True, batch_size: int | None = None,
):
    """Score a Spark DataFrame of leads (and of their activities) with a LeadScore model.

    Parameters
    ----------
    spark
        The running SparkSession (Databricks' ``spark``, or ``SparkSession.builder...``). Its
        ``spark.sql.session.timeZone`` decides how timestamps reach pandas: UTC, as the CLI sets
        it, gives the local engine's values.
    leads_df, activities_df
        DataFrames with the columns the config names (``dataset.columns`` and
        ``dataset.activity_columns``); ``activities_df`` may be None (engagement counts 0).
    model_uri
        ``models:/NAME@ALIAS`` / ``models:/NAME/VERSION`` / ``runs:/...`` (the MLflow tracking
        URI set as usual, e.g. by Databricks), a ``model.pkl`` path, or a loaded package.
    as_of
        The scoring time (default: now, UTC).
    config
        The dataset config (a YAML path or a loaded :class:`~pipeline.data.config.Config`).
    explain
        Add grade, engagement level and reasons (default True).
    batch_size
        Leads per group handed to one worker call (default ``scoring.batch_size``).

    Returns
    -------
    pyspark.sql.DataFrame
        The columns of ``pipeline.batch.local.SCORE_COLUMNS``, one row per lead.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    package, name, version = load_model(model_uri)
    package.check_settings(cfg.features, str(cfg.source))
    when = resolve_as_of(None if as_of is None else pd.Timestamp(as_of)).as_of
    with_activities = activities_df is not None and package.mode == "events"
    job = ScoreJob(leads_path="leads_df", output_path="DataFrame",
                   activities_path="activities_df" if with_activities else None, as_of=when,
                   explain=explain, batch_size=batch_size or cfg.scoring.batch_size,
                   model_name=name, model_version=version)
    dates = {cfg.dataset.columns.created_at or "created_at",
             cfg.dataset.activity_columns.occurred_at}
    leads, n_leads = number_rows(leads_df)
    if n_leads == 0:
        raise DataError("leads_df: no rows")
    leads_source = Source("leads_df", arrow_schema(leads_df.schema, {}, dates), False)
    activities = activities_source = None
    if with_activities:
        activities, _ = number_rows(activities_df)
        activities_source = Source("activities_df", arrow_schema(activities_df.schema, {}, dates),
                                   False)
    context = worker_context(spark, package, cfg, job, leads_source, activities_source)
    scored = scored_frame(leads, activities, context, max(1, math.ceil(n_leads / job.batch_size)))
    return scored.select(*SCORE_COLUMNS)


def load_model(model_uri: str | Path | ScoringPackage | None) -> tuple[ScoringPackage, str, str]:
    """(package, model name, model version) of a registry URI, a model file or a package."""
    if isinstance(model_uri, ScoringPackage):
        return model_uri, "local", "package"
    if model_uri is None:
        raise ModelError("score_dataframe: model_uri is required (models:/NAME@ALIAS or a "
                         "model.pkl path)")
    uri = str(model_uri)
    if not uri.startswith(("models:/", "runs:/")):
        import hashlib

        package = load_package(uri)
        digest = hashlib.sha256(Path(uri).read_bytes()).hexdigest()[:12]
        return package, Path(uri).stem, f"file:{digest}"
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except (MlflowException, OSError) as exc:
        raise ModelError(f"{uri}: cannot load model ({str(exc).splitlines()[0]})") from None
    found = sorted(local.rglob("package.pkl"))
    if not found:
        raise ModelError(f"{uri}: not a LeadScore model (no package.pkl among its artifacts)")
    name, _, ref = uri.removeprefix("models:/").partition("@")
    version = ref or name.rpartition("/")[2]
    if ref:
        with_alias = mlflow.MlflowClient().get_model_version_by_alias(name, ref)
        version = str(with_alias.version)
    return load_package(found[0]), name.partition("/")[0], version
