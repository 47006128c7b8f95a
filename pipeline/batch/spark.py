"""Batch scoring under PySpark: the local engine's per-bucket function, run per Spark group.

The plan mirrors :func:`pipeline.batch.local.run_score_job` step by step so that both engines give
the same file for the same input:

1. Spark reads the leads and the activity log (Parquet as stored; CSV with every cell as text,
   empty cells as ``""``, like the local engine's pyarrow reader) and numbers the rows of each
   file densely in file order (``__row``), so that contract messages name the same rows.
2. Each row gets ``__bucket`` = the local engine's stable hash of the lead id modulo
   ``ceil(n_leads / batch_size)``; leads and activities are co-partitioned by it with
   ``cogroup``, so one group is exactly one bucket of the local engine.
3. A worker function turns each group back into the pandas frames the local engine would have
   read (same dtypes, source-row order) and calls :func:`pipeline.batch.local.score_bucket`. The
   scoring package travels once as a broadcast of its pickle and is unpickled once per Python
   worker process.
4. Spark writes the scores under ``<output>.parts/``; the driver rewrites them as the local
   engine's part files, one bucket at a time, and :func:`pipeline.batch.local._assemble` renames the
   output into place atomically (``--top`` / ``--min-score`` included). Nothing is left behind on
   success or failure.

A contract violation inside a worker reaches the caller as the same one-line
:class:`~pipeline.data.errors.DataError` the local engine raises, and no output file is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.batch.guard import output_lock, refuse_overwriting_inputs
from pipeline.batch.local import ScoreJob, _assemble, score_bucket
from pipeline.batch.spill import bucket_of
from pipeline.data import errors as errors
from pipeline.data.config import Config
from pipeline.data.contracts import suggest_column
from pipeline.data.errors import DataError, LeadScoreError
from pipeline.data.scoring_time import resolve_as_of
from pipeline.explain.package import ScoringPackage

APP_NAME = "leadscore-score"
ROW = "__row"
BUCKET = "__bucket"
# Spark output: the score columns (typed as the local engine writes them) + ordering keys.
OUTPUT_TYPES = {
    "lead_id": "string", "score": "bigint", "probability": "double", "band": "string",
    "grade": "string", "engagement_level": "bigint", "percentile": "double", "mql": "boolean",
    "status": "string", "status_reason": "string", "reason_1": "string", "reason_2": "string",
    "reason_3": "string", "model_name": "string", "model_version": "string",
    "scored_at": "string", ROW: "bigint", BUCKET: "int",
}
# The pandas dtypes of those Spark types (for an empty group's frame).
_PANDAS_TYPES = {"string": "object", "bigint": "int64", "double": "float64", "boolean": "bool",
                 "int": "int32"}
# Columns whose pandas dtype does not survive a trip through Spark (nullable ints come back as
# float64 when a bucket has a missing value).
LOCAL_DTYPES = {"engagement_level": "Int64"}
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


def user_error_in(exc: BaseException, inputs: list[Path | None]) -> LeadScoreError | None:
    """The user error behind a Spark/Py4J exception, or None for anything else.

    Either a LeadScoreError a worker raised (see :class:`WorkerUserError`), or a CSV row that
    does not split into the header's cells (Spark's FAILFAST parse error, naming the file).
    """
    text = str(exc)
    start = text.rfind(USER_ERROR_MARKER)
    if start >= 0:
        try:
            payload, _ = json.JSONDecoder().raw_decode(text[start + len(USER_ERROR_MARKER):])
        except json.JSONDecodeError:
            return None
        error_class = getattr(errors, str(payload.get("error_class")), None)
        if not (isinstance(error_class, type) and issubclass(error_class, LeadScoreError)):
            error_class = DataError
        return error_class(payload["message"], details=payload.get("details"))
    if "MALFORMED_CSV_RECORD" in text or "MALFORMED_RECORD_IN_PARSING" in text:
        named = [p for p in inputs if p is not None and p.resolve().as_uri() in text]
        where = named[0] if named else " / ".join(str(p) for p in inputs if p is not None)
        record = re.search(r"Malformed CSV record: (.*?)(?: SQLSTATE|\n|$)", text)
        shown = f": {record.group(1)[:120]}" if record else ""
        return DataError(f"{where}: cannot be read as a table: a row has more or fewer cells "
                         f"than the header{shown} (check dataset.read.delimiter and quoting)")
    return None


@dataclass(frozen=True)
class _Source:
    """One input file as the workers need to rebuild the local engine's frames."""

    path: Path
    schema: pa.Schema  # the Arrow types the local engine reads (CSV: all strings)
    is_csv: bool


@dataclass(frozen=True)
class _WorkerContext:
    """What every task needs (pickled into the task closure; the package is broadcast)."""

    package_digest: str
    package_bytes: Any  # pyspark Broadcast[bytes]
    config: Config
    job: ScoreJob
    scored_at: str
    leads: _Source
    activities: _Source | None


def run_spark_job(
    package: ScoringPackage, config: Config, job: ScoreJob, master: str = "local[*]",
    conf: dict[str, str] | None = None,
) -> dict:
    """Score ``job.leads_path`` into ``job.output_path`` with PySpark; returns a summary.

    Parameters
    ----------
    package
        The scoring package (pickled once and broadcast to the executors).
    config
        The dataset/scoring configuration (column names, CSV delimiter and encoding).
    job
        The same request the local engine takes, under the same output lock and input guard.
        ``resume`` is ignored: Spark retries failed tasks itself, and a failed job leaves
        nothing to resume from.
    master
        Spark master URL (``local[*]``, ``local[2]``, ``spark://host:7077``, ...). With a cluster
        master the input and output paths must be visible to the driver and the executors.
    conf
        Extra Spark settings, applied last (e.g. executor memory on a cluster).

    Returns
    -------
    dict
        ``input_rows, output_rows, buckets, seconds, rows_per_second`` like
        :func:`pipeline.batch.local.run_score_job`.

    Raises
    ------
    DataError
        On any contract violation (the same one-line message as the local engine), before the
        output file exists.
    """
    refuse_overwriting_inputs(job.output_path, {"--input": job.leads_path,
                                                "--activities": job.activities_path})
    with output_lock(job.output_path):
        return _run_locked(package, config, job, master, conf)


def _run_locked(package: ScoringPackage, config: Config, job: ScoreJob, master: str,
                conf: dict[str, str] | None) -> dict:
    started = time.perf_counter()
    when = resolve_as_of(job.as_of)
    job = replace(job, as_of=when.as_of)
    _check_file(job.leads_path)
    with_activities = job.activities_path is not None and package.mode == "events"
    if with_activities:
        _check_file(job.activities_path)
    parts = job.output_path.with_name(job.output_path.name + ".parts")
    if parts.exists():
        shutil.rmtree(parts)
    spark = _session(master, conf)
    try:
        n_leads, n_buckets, written = _run(spark, package, config, job, with_activities, parts)
    except LeadScoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - Py4J/Spark wrap the errors of workers and readers
        user_error = user_error_in(exc, [job.leads_path, job.activities_path])
        if user_error is None:
            raise
        raise user_error from None
    finally:
        # Stop first: after a failed job, tasks still running could write into parts/ again.
        spark.stop()
        shutil.rmtree(parts, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"input_rows": n_leads, "output_rows": written, "buckets": n_buckets,
            "seconds": round(seconds, 2), "rows_per_second": round(n_leads / max(seconds, 1e-9)),
            "as_of": job.as_of.isoformat(), "as_of_source": when.source,
            "newest": _newest(config, job, with_activities) if when.defaulted else None}


def _newest(config: Config, job: ScoreJob, with_activities: bool) -> dict:
    """The newest lead creation and event of the inputs, for the staleness warning."""
    from pipeline.batch.spill import newest_date
    from pipeline.data.scoring_time import NewestDates

    newest = NewestDates()
    if config.dataset.columns.created_at:
        newest.created = newest_date(job.leads_path, config.dataset.columns.created_at, config)
    if with_activities:
        newest.event = newest_date(job.activities_path,
                                   config.dataset.activity_columns.occurred_at, config)
    return newest.state()


def _run(spark, package: ScoringPackage, config: Config, job: ScoreJob, with_activities: bool,
         parts: Path) -> tuple[int, int, int]:
    """The Spark plan of :func:`run_spark_job`; returns (input rows, buckets, output rows)."""
    scored_at = (job.as_of or pd.Timestamp.now(tz="UTC").tz_localize(None)).isoformat()
    payload = pickle.dumps(package, protocol=pickle.HIGHEST_PROTOCOL)
    leads_source, leads = _read(spark, job.leads_path, config)
    leads, n_leads = _number_rows(leads)
    if n_leads == 0:
        raise DataError(f"{job.leads_path}: no rows (header only)")
    n_buckets = max(1, math.ceil(n_leads / job.batch_size))
    # One shuffle partition per bucket; no coalescing, which would serialise the buckets of a
    # small job into one task and lose the parallelism the buckets exist for.
    spark.conf.set("spark.sql.shuffle.partitions", str(n_buckets))
    leads = _with_bucket(leads, leads_source, config.dataset.columns.lead_id, n_buckets)
    activities_source = activities = None
    if with_activities:
        activities_source, activities = _read(spark, job.activities_path, config)
        activities, _ = _number_rows(activities)
        activities = _with_bucket(activities, activities_source,
                                  config.dataset.activity_columns.lead_id, n_buckets)
    context = _WorkerContext(
        package_digest=hashlib.sha256(payload).hexdigest(),
        package_bytes=spark.sparkContext.broadcast(payload), config=config, job=job,
        scored_at=scored_at, leads=leads_source, activities=activities_source,
    )
    spark_dir = parts / "spark"
    # Sorted within partitions by the partitionBy key first, so Spark's writer needs no sort of
    # its own and each bucket's file comes out in source-row order.
    (_score(leads, activities, context).sortWithinPartitions(BUCKET, ROW)
     .write.mode("overwrite").partitionBy(BUCKET).parquet(spark_dir.resolve().as_uri()))
    _local_parts(spark_dir, parts, n_buckets)
    return n_leads, n_buckets, _assemble(parts, n_buckets, job)


def _check_file(path: Path) -> None:
    """The local engine's checks, before paying for a Spark start."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")


def _session(master: str, conf: dict[str, str] | None):
    """A SparkSession for one scoring job (stopped by the caller)."""
    from pyspark.sql import SparkSession

    local = master.startswith("local")
    debug = bool(os.environ.get("LEADSCORE_DEBUG"))
    settings = {
        "spark.ui.enabled": "false",
        # Spark's console progress bar is left half-drawn by a failed job, and the error line
        # would be printed after it; the CLI prints a summary at the end instead.
        "spark.ui.showConsoleProgress": str(debug).lower(),
        # A failed task logs its whole traceback at ERROR from half a dozen loggers; the same
        # text reaches the caller in the exception (a user error as one line), so the console
        # stays quiet unless LEADSCORE_DEBUG is set.
        "spark.log.level": "WARN" if debug else "OFF",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Small until the bucket count is known (row counting shuffles a handful of rows).
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        # Timestamps reach pandas as the same wall-clock values the local engine reads.
        "spark.sql.session.timeZone": "UTC",
        # pandas writes nanosecond timestamps, which Spark can only read as int64; the workers
        # cast them back (see _as_local).
        "spark.sql.legacy.parquet.nanosAsLong": "true",
        # Column names are matched exactly, as pandas does ('Id' and 'id' are two columns).
        "spark.sql.caseSensitive": "true",
        # pandera probes pyspark.pandas in every worker, which warns about pandas 3 (the CLI
        # silences the same warning in the driver).
        "spark.executorEnv.PYTHONWARNINGS":
            "ignore:PySpark does not yet fully support pandas:FutureWarning",
    }
    if local:
        # Nothing listens beyond this machine for a local job.
        settings.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(APP_NAME)
    for key, value in settings.items():
        builder = builder.config(key, value)
    # PySpark reads PYSPARK_PYTHON when the context starts. A local job's workers run on this
    # machine, so they use this interpreter (the venv with LeadScore installed) whatever the
    # shell says; on a cluster an explicit PYSPARK_PYTHON (the executors' Python) is kept.
    saved = {name: os.environ.get(name) for name in ("PYSPARK_PYTHON", "SPARK_LOCAL_IP")}
    if local or not saved["PYSPARK_PYTHON"]:
        os.environ["PYSPARK_PYTHON"] = sys.executable
    if local:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # no "hostname resolves to loopback" warning
    try:
        return builder.getOrCreate()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _read(spark, path: Path, config: Config):
    """Read one input file; returns its :class:`_Source` and the Spark DataFrame."""
    if path.suffix.lower() in (".parquet", ".pq"):
        from pyspark.sql import functions as F

        schema = pq.read_schema(path).remove_metadata()
        frame = spark.read.parquet(path.resolve().as_uri())
        # Nanosecond timestamps arrive as int64 (nanosAsLong), and pandas would turn a nullable
        # int64 into float64, which cannot hold nanoseconds: they travel as decimal text instead.
        for field in schema:
            if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
                frame = frame.withColumn(field.name, F.col(f"`{field.name}`").cast("string"))
        return _Source(path, schema, False), frame
    read = config.dataset.read
    # The same header parse as the local engine's reader (which also parses the first block).
    try:
        names = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=read.delimiter),
                               read_options=pacsv.ReadOptions(block_size=1 << 20)).schema.names
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as a table: {first}") from None
    frame = (spark.read.option("header", True).option("sep", read.delimiter)
             .option("encoding", read.encoding).option("quote", '"').option("escape", '"')
             .option("mode", "FAILFAST").option("inferSchema", False)
             .csv(path.resolve().as_uri()))
    frame = frame.toDF(*names)
    schema = pa.schema([(name, pa.string()) for name in names])
    return _Source(path, schema, True), frame


def _number_rows(frame):
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


def _with_bucket(frame, source: _Source, id_column: str | None, n_buckets: int):
    """Add ``__bucket``: the local engine's hash of the lead id modulo ``n_buckets``."""
    from pyspark.sql import functions as F

    if id_column is None:  # lead_id: null: the row number is the id, as in the local spill

        @F.pandas_udf("int")
        def row_bucket_udf(rows: pd.Series) -> pd.Series:
            return pd.Series(bucket_of(rows + 1, n_buckets), dtype="int32")

        return frame.withColumn(BUCKET, row_bucket_udf(F.col(ROW)))
    if id_column not in frame.columns:
        raise DataError(f"{source.path}: column '{id_column}': missing (lead id)"
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


def _score(leads, activities, context: _WorkerContext):
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
                 context: _WorkerContext) -> pd.DataFrame:
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
    try:
        scored = score_bucket(package, context.config, leads_raw, activities_raw, context.job,
                              context.scored_at)
    except LeadScoreError as exc:
        raise WorkerUserError.wrap(exc) from None
    scored[BUCKET] = np.int32(key[0])
    return scored[list(OUTPUT_TYPES)]


def _source_frame(pdf: pd.DataFrame, source: _Source) -> pd.DataFrame:
    """A group's rows as the local engine's bucket frame: file order, its dtypes, ``__row``."""
    pdf = pdf.sort_values(ROW, kind="mergesort")
    frame = _as_local(pdf, source.schema, source.is_csv)
    frame[ROW] = pdf[ROW].to_numpy(dtype=np.int64)
    return frame


def _local_parts(spark_dir: Path, parts: Path, n_buckets: int) -> None:
    """Rewrite Spark's ``__bucket=B/`` output as the local engine's ``part-B.parquet`` files.

    One bucket in memory at a time; dtypes restored to the local engine's, so the assembled file
    is the one the local engine writes.
    """
    for bucket in range(n_buckets):
        files = sorted((spark_dir / f"{BUCKET}={bucket}").glob("*.parquet"))
        if not files:
            continue
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        frame = frame.sort_values(ROW, kind="mergesort").astype(LOCAL_DTYPES)
        for name in frame.columns[frame.isna().all().to_numpy()]:
            if OUTPUT_TYPES.get(name) == "string":
                # score_bucket's all-None text columns (no explanations) are object columns,
                # which pandas writes as Parquet nulls, not as strings.
                frame[name] = pd.Series([None] * len(frame), dtype=object, index=frame.index)
        frame.to_parquet(parts / f"part-{bucket:05d}.parquet", index=False)
    shutil.rmtree(spark_dir)
