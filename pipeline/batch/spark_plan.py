"""The Spark plan shared by the scoring job and :func:`~pipeline.batch.spark_api.score_dataframe`.

Rows are numbered in read order, bucketed by the local engine's hash of the lead id, and each
bucket (leads cogrouped with their activities) is scored in a worker by
:func:`pipeline.batch.local.score_bucket` on the very frames the local engine would read.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.batch.local import JobNotes, ScoreJob, score_bucket
from pipeline.batch.spill import bucket_of
from pipeline.data.config import Config
from pipeline.data.contracts import suggest_column
from pipeline.data.errors import DataError, LeadScoreError
from pipeline.evaluation.drift import DriftMonitor
from pipeline.explain.package import ScoringPackage

ROW = "__row"
BUCKET = "__bucket"
# Spark output: the score columns (typed as the local engine writes them) + ordering keys.
OUTPUT_TYPES = {
    "lead_id": "string", "score": "bigint", "probability": "double", "band": "string",
    "grade": "string", "engagement_level": "bigint", "percentile": "double", "mql": "boolean",
    "status": "string", "status_reason": "string", "reason_1": "string", "reason_2": "string",
    "reason_3": "string", "model_name": "string", "model_version": "string",
    "as_of": "string", "scored_at": "string", ROW: "bigint", BUCKET: "int",
}
# The pandas dtypes of those Spark types (for an empty group's frame).
_PANDAS_TYPES = {"string": "object", "bigint": "int64", "double": "float64", "boolean": "bool",
                 "int": "int32"}
# A worker raises user errors as this marker + JSON so that the driver can rebuild the exact
# exception (class, message, details) from whatever Spark wraps around it.
USER_ERROR_MARKER = "LEADSCORE_USER_ERROR:"
# monotonically_increasing_id() = partition index << 33 | position within the partition.
_PARTITION_SHIFT = 33

# Per Python worker process: unpickled scoring packages by the digest of their pickle.
_PACKAGES: dict[str, ScoringPackage] = {}


class WorkerUserError(Exception):
    """A :class:`~pipeline.data.errors.LeadScoreError` raised in a Spark worker, in transit."""

    @classmethod
    def wrap(cls, exc: LeadScoreError) -> WorkerUserError:
        """Encode ``exc`` as one line that survives Spark's exception wrapping."""
        payload = {"error_class": type(exc).__name__, "message": str(exc), "details": exc.details}
        return cls(USER_ERROR_MARKER + json.dumps(payload))


@dataclass(frozen=True)
class Source:
    """One input as the workers need to rebuild the local engine's frames."""

    name: str
    schema: pa.Schema  # the Arrow types the local engine reads (CSV: all strings)
    is_csv: bool


@dataclass(frozen=True)
class WorkerContext:
    """What every task needs (pickled into the task closure; the package is broadcast)."""

    package_digest: str
    package_bytes: Any  # pyspark Broadcast[bytes]
    config: Config
    job: ScoreJob
    scored_at: str
    leads: Source
    activities: Source | None
    notes: Any = None  # pyspark Accumulator[list[(bucket, notes)]], or None: not collected
    drift: bool = False


class BucketNotes:
    """Accumulator param: a list of (bucket, its notes) from the workers (pyspark API)."""

    def zero(self, value: list) -> list:
        return []

    def addInPlace(self, value1: list, value2: list) -> list:  # noqa: N802 - pyspark's name
        value1.extend(value2)
        return value1


def worker_context(spark, package: ScoringPackage, config: Config, job: ScoreJob, leads: Source,
                   activities: Source | None, accumulator=None, drift: bool = False
                   ) -> WorkerContext:
    """The workers' context: the package broadcast once, as_of fixed for every task."""
    payload = pickle.dumps(package, protocol=pickle.HIGHEST_PROTOCOL)
    return WorkerContext(
        package_digest=hashlib.sha256(payload).hexdigest(),
        package_bytes=spark.sparkContext.broadcast(payload), config=config, job=job,
        scored_at=job.as_of.isoformat(), leads=leads, activities=activities,
        notes=accumulator, drift=drift and package.reference is not None,
    )


def scored_frame(leads, activities, context: WorkerContext, n_buckets: int):
    """Rows bucketed like the local engine's spill, then scored one bucket per group."""
    columns = context.config.dataset
    leads = _with_bucket(leads, context.leads, columns.columns.lead_id, n_buckets)
    if activities is not None:
        activities = _with_bucket(activities, context.activities,
                                  columns.activity_columns.lead_id, n_buckets)
    return _score(leads, activities, context)


def number_rows(frame):
    """Add ``__row``, the 0-based position of each row in its file; returns (frame, rows).

    ``monotonically_increasing_id`` is unique but not dense. Its high bits are the input
    partition, its low bits the position within it; a single file's partitions are its splits in
    file order, so a partition's offset is the row count of the partitions before it.
    """
    from pyspark.sql import functions as F

    mid = F.monotonically_increasing_id()
    frame = frame.withColumn("__mid", mid)
    partition = F.shiftright(F.col("__mid"), _PARTITION_SHIFT)
    counts = sorted((int(r[0]), int(r[1]))
                    for r in frame.groupBy(partition.alias("p")).count().collect())
    offsets, total = [], 0
    for part, rows in counts:
        offsets += [F.lit(part), F.lit(total)]
        total += rows
    if not counts:
        return frame.drop("__mid").withColumn(ROW, F.lit(0).cast("bigint")), 0
    position = F.col("__mid").bitwiseAND(F.lit((1 << _PARTITION_SHIFT) - 1))
    row = (F.create_map(*offsets)[partition] + position).cast("bigint")
    return frame.withColumn(ROW, row).drop("__mid"), total


def _with_bucket(frame, source: Source, id_column: str | None, n_buckets: int):
    """Add ``__bucket``: the local engine's hash of the lead id modulo ``n_buckets``."""
    from pyspark.sql import functions as F

    if id_column is None:  # lead_id: null: the row number is the id, as in the local spill

        @F.pandas_udf("int")
        def row_bucket_udf(rows: pd.Series) -> pd.Series:
            return pd.Series(bucket_of(rows + 1, n_buckets), dtype="int32")

        return frame.withColumn(BUCKET, row_bucket_udf(F.col(ROW)))
    if id_column not in frame.columns:
        raise DataError(f"{source.name}: column '{id_column}': missing (lead id)"
                        f"{suggest_column(id_column, frame.columns)}")
    field = source.schema.field(id_column)

    @F.pandas_udf("int")
    def bucket_udf(ids: pd.Series) -> pd.Series:
        ids = _as_local(ids.to_frame(id_column), pa.schema([field]), source.is_csv)[id_column]
        return pd.Series(bucket_of(ids.fillna(""), n_buckets), dtype="int32")

    return frame.withColumn(BUCKET, bucket_udf(F.col(f"`{id_column}`")))


def _as_local(frame: pd.DataFrame, schema: pa.Schema, is_csv: bool) -> pd.DataFrame:
    """The frame the local engine reads for these rows (its Arrow types, then ``to_pandas``).

    Spark's conversion to pandas differs in places that the contract can see: nanosecond
    timestamps arrive as int64, nullable ints as float64, strings as objects, and an empty CSV
    cell as a null where pyarrow reads ``""``.
    """
    if is_csv:
        frame = frame.fillna("")
    table = pa.Table.from_pandas(frame[schema.names], preserve_index=False)
    columns = []
    for col, field in zip(table.columns, schema, strict=True):
        if col.type != field.type:
            if pa.types.is_timestamp(field.type) and (pa.types.is_string(col.type)
                                                    or pa.types.is_large_string(col.type)):
                col = col.cast(pa.int64())  # nanoseconds as text, see _read
            col = col.cast(field.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema).to_pandas()


def _package(digest: str, broadcast) -> ScoringPackage:
    """The scoring package, unpickled once per Python worker (workers are reused by tasks)."""
    package = _PACKAGES.get(digest)
    if package is None:
        package = _PACKAGES[digest] = pickle.loads(broadcast.value)
    return package


def _score(leads, activities, context: WorkerContext):
    """The scored DataFrame: one Spark group per bucket, through ``score_bucket``."""
    schema = ", ".join(f"`{name}` {dtype}" for name, dtype in OUTPUT_TYPES.items())
    if activities is None:
        def score_leads(key, leads_pdf: pd.DataFrame) -> pd.DataFrame:
            return _score_group(key, leads_pdf, None, context)

        return leads.groupBy(BUCKET).applyInPandas(score_leads, schema)

    def score_with_events(key, leads_pdf: pd.DataFrame,
                          activities_pdf: pd.DataFrame) -> pd.DataFrame:
        return _score_group(key, leads_pdf, activities_pdf, context)

    return (leads.groupBy(BUCKET).cogroup(activities.groupBy(BUCKET))
            .applyInPandas(score_with_events, schema))


def _score_group(key: tuple, leads_pdf: pd.DataFrame, activities_pdf: pd.DataFrame | None,
                 context: WorkerContext) -> pd.DataFrame:
    """Score one bucket in a Spark worker (the local engine's loop body)."""
    if leads_pdf.empty:
        # Activities whose bucket holds no lead: the local engine skips such a bucket too.
        return pd.DataFrame({name: pd.Series(dtype=_PANDAS_TYPES[dtype])
                             for name, dtype in OUTPUT_TYPES.items()})
    leads_raw = _source_frame(leads_pdf, context.leads)
    activities_raw = None
    if activities_pdf is not None and len(activities_pdf) and context.activities is not None:
        activities_raw = _source_frame(activities_pdf, context.activities)
    package = _package(context.package_digest, context.package_bytes)
    monitor = DriftMonitor(package.reference) if context.drift else None
    notes = JobNotes()
    try:
        scored = score_bucket(package, context.config, leads_raw, activities_raw, context.job,
                              context.scored_at, monitor, notes)
    except LeadScoreError as exc:
        raise WorkerUserError.wrap(exc) from None
    if context.notes is not None:
        kept = len(scored) if context.job.min_score is None else \
            int((scored["score"] >= context.job.min_score).sum())
        context.notes.add([(int(key[0]), {
            "drift": monitor.state() if monitor else None, "warnings": notes.warnings,
            "newest": notes.newest.state(), "kept": kept})])
    scored[BUCKET] = np.int32(key[0])
    return scored[list(OUTPUT_TYPES)]


def _source_frame(pdf: pd.DataFrame, source: Source) -> pd.DataFrame:
    """A group's rows as the local engine's bucket frame: file order, its dtypes, ``__row``."""
    pdf = pdf.sort_values(ROW, kind="mergesort")
    frame = _as_local(pdf, source.schema, source.is_csv)
    frame[ROW] = pdf[ROW].to_numpy(dtype=np.int64)
    return frame
