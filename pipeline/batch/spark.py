"""Batch scoring under PySpark: the local engine's per-bucket function, run per Spark group.

The plan mirrors :func:`pipeline.batch.local.run_score_job` step by step so that both engines give
the same scores for the same input:

1. Spark reads the leads and the activity log with its own readers (:mod:`pipeline.batch.spark_io`:
   Parquet or CSV files and folders, partitioned datasets, Delta tables, any Hadoop URI) and
   numbers the rows of each input densely in Spark's read order (``__row``; for one file, its
   file order), so that contract messages name the same rows.
2. Each row gets ``__bucket`` = the local engine's stable hash of the lead id modulo
   ``ceil(n_leads / batch_size)``; leads and activities are co-partitioned by it with
   ``cogroup``, so one group is exactly one bucket of the local engine.
3. A worker function turns each group back into the pandas frames the local engine would have
   read (same dtypes, source-row order) and calls :func:`pipeline.batch.local.score_bucket`. The
   scoring package travels once as a broadcast of its pickle and is unpickled once per Python
   worker process. Each group sends its drift counts, warnings and newest dates back through an
   accumulator; the driver merges them in bucket order, as the local engine does.
4. Spark writes the scores itself (its committer; ``_SUCCESS`` marks a complete output): nothing
   is assembled on the driver. ``--top`` / ``--min-score`` are a filter, a sort and a limit.

A contract violation inside a worker reaches the caller as the same one-line
:class:`~pipeline.data.errors.DataError` the local engine raises, and no output is left.
:func:`pipeline.batch.spark_api.score_dataframe` is the same plan on DataFrames, for notebooks.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from pipeline.batch.guard import output_lock
from pipeline.batch.local import SCORE_COLUMNS, JobNotes, ScoreJob, add_bucket_notes
from pipeline.batch.spark_io import (
    Location,
    check_output,
    delta_settings,
    locate,
    read_input,
    wants_delta,
    write_output,
)
from pipeline.batch.spark_plan import (
    BUCKET,
    OUTPUT_TYPES,
    ROW,
    USER_ERROR_MARKER,
    BucketNotes,
    Source,
    number_rows,
    scored_frame,
    worker_context,
)
from pipeline.data import errors as errors
from pipeline.data.config import Config
from pipeline.data.errors import DataError, LeadScoreError
from pipeline.data.scoring_time import resolve_as_of
from pipeline.evaluation.drift import DriftMonitor
from pipeline.explain.package import ScoringPackage

APP_NAME = "leadscore-score"


def user_error_in(exc: BaseException, inputs: list[Location | None]) -> LeadScoreError | None:
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
        named = [w for w in inputs if w is not None and w.uri in text]
        where = named[0].text if named else " / ".join(w.text for w in inputs if w is not None)
        record = re.search(r"Malformed CSV record: (.*?)(?: SQLSTATE|\n|$)", text)
        shown = f": {record.group(1)[:120]}" if record else ""
        return DataError(f"{where}: cannot be read as a table: a row has more or fewer cells "
                         f"than the header{shown} (check dataset.read.delimiter and quoting)")
    if "PATH_NOT_FOUND" in text:
        missing = re.search(r"Path does not exist: (\S+?)\.? SQLSTATE", text)
        return DataError(f"{missing.group(1) if missing else 'input'}: not found")
    return None


def run_spark_job(
    package: ScoringPackage, config: Config, job: ScoreJob, master: str = "local[*]",
    conf: dict[str, str] | None = None, *, input_format: str = "auto",
    write_mode: str = "errorifexists", monitor: DriftMonitor | None = None,
    notes: JobNotes | None = None, progress: Callable[[str], None] | None = None,
) -> dict:
    """Score ``job.leads_path`` into the folder ``job.output_path`` with PySpark; a summary.

    Parameters
    ----------
    package
        The scoring package (pickled once and broadcast to the executors).
    config
        The dataset/scoring configuration (column names, CSV delimiter and encoding).
    job
        The local engine's request; its paths may be any location :func:`spark_io.locate`
        takes (paths, ``file://``, ``s3a://``, ``hdfs://``, ``dbfs:/``, ``delta:...``).
        ``resume`` must be False (the caller refuses it): Spark retries failed tasks itself
        and an output without ``_SUCCESS`` is discarded.
    master
        Spark master URL (``local[*]``, ``local[2]``, ``spark://host:7077``, ...). With a cluster
        master the inputs and the output must be visible to the driver and the executors.
    conf
        Extra Spark settings (``--spark-conf``), applied last.
    input_format
        auto (by ``_delta_log`` or the file names), parquet, csv or delta.
    write_mode
        errorifexists (an existing output is refused) or overwrite.
    monitor, notes
        Receive every bucket's drift counts and warnings, merged in bucket order.
    progress
        Called with the name of each stage, and while the buckets run with their tasks done.

    Returns
    -------
    dict
        ``input_rows, output_rows, buckets, seconds, rows_per_second, as_of, as_of_source,
        newest`` like :func:`pipeline.batch.local.run_score_job`.

    Raises
    ------
    DataError
        On any contract violation (the same one-line message as the local engine); no output
        is left behind.
    """
    conf = dict(conf or {})
    given = [job.leads_path] + ([job.activities_path] if job.activities_path else [])
    if any(wants_delta(str(text), input_format) for text in given):
        conf = {**delta_settings(conf), **conf}
    output = locate(job.output_path)
    locked = output_lock(output.local) if output.local is not None else contextlib.nullcontext()
    with locked:
        return _run_locked(package, config, job, master, conf, input_format, write_mode,
                           monitor, notes if notes is not None else JobNotes(),
                           progress or (lambda _: None))


def _run_locked(package: ScoringPackage, config: Config, job: ScoreJob, master: str,
                conf: dict[str, str], input_format: str, write_mode: str,
                monitor: DriftMonitor | None, notes: JobNotes,
                progress: Callable[[str], None]) -> dict:
    started = time.perf_counter()
    when = resolve_as_of(job.as_of)
    job = replace(job, as_of=when.as_of)
    with_activities = job.activities_path is not None and package.mode == "events"
    leads_at = locate(job.leads_path)
    activities_at = locate(job.activities_path) if with_activities else None
    output = locate(job.output_path)
    inputs = {"--input": leads_at, "--activities": activities_at}
    if output.local is not None:  # refused before paying for a Spark start
        check_output(None, output, inputs, write_mode)
    progress(f"start Spark ({master})")
    spark = _session(master, conf)
    created = False
    try:
        if output.local is None:
            check_output(spark, output, inputs, write_mode)
        created = True  # from here on a failure may leave a partial output behind
        n_leads, n_buckets, sides = _run(spark, package, config, job, leads_at, activities_at,
                                         output, input_format, write_mode, monitor is not None,
                                         progress)
    except LeadScoreError:
        _discard(spark, output, created)
        raise
    except Exception as exc:  # noqa: BLE001 - Py4J/Spark wrap the errors of workers and readers
        _discard(spark, output, created)
        user_error = user_error_in(exc, [leads_at, activities_at])
        if user_error is None:
            raise
        raise user_error from None
    finally:
        spark.stop()
    progress("merge drift counts and warnings")
    kept = 0
    for _, side in sides:
        add_bucket_notes(side, monitor, notes)
        kept += side["kept"]
    written = min(kept, job.top) if job.top is not None else kept
    seconds = time.perf_counter() - started
    return {"input_rows": n_leads, "output_rows": written, "buckets": n_buckets,
            "seconds": round(seconds, 2), "rows_per_second": round(n_leads / max(seconds, 1e-9)),
            "as_of": job.as_of.isoformat(), "as_of_source": when.source,
            "newest": notes.newest.state()}


def _discard(spark, output: Location, created: bool) -> None:
    """Remove what a failed job wrote (an output without ``_SUCCESS`` is no output)."""
    if not created or spark.sparkContext._jsc is None:
        return
    with contextlib.suppress(Exception):  # best effort: the job's own error matters more
        jvm = spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(output.uri)
        fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        marks = [fs.exists(jvm.org.apache.hadoop.fs.Path(path, name))
                 for name in ("_SUCCESS", "_delta_log")]  # a Delta table rolls back itself
        if fs.exists(path) and not any(marks):
            fs.delete(path, True)


def _run(spark, package: ScoringPackage, config: Config, job: ScoreJob, leads_at: Location,
         activities_at: Location | None, output: Location, input_format: str, write_mode: str,
         drift: bool, progress: Callable[[str], None]) -> tuple[int, int, list]:
    """The Spark plan of :func:`run_spark_job`; returns (input rows, buckets, bucket notes)."""
    progress("read and number the leads")
    leads_source, leads = _read(spark, leads_at, config, input_format)
    leads, n_leads = number_rows(leads)
    if n_leads == 0:
        raise DataError(f"{leads_at.text}: no rows (header only)")
    n_buckets = max(1, math.ceil(n_leads / job.batch_size))
    # One shuffle partition per bucket; no coalescing, which would serialise the buckets of a
    # small job into one task and lose the parallelism the buckets exist for.
    spark.conf.set("spark.sql.shuffle.partitions", str(n_buckets))
    activities_source = activities = None
    if activities_at is not None:
        activities_source, activities = _read(spark, activities_at, config, input_format)
        activities, _ = number_rows(activities)
    accumulator = spark.sparkContext.accumulator([], BucketNotes())
    context = worker_context(spark, package, config, job, leads_source, activities_source,
                       accumulator, drift)
    scored = scored_frame(leads, activities, context, n_buckets)
    fmt = "csv" if (job.output_format or output.name.lower().rsplit(".", 1)[-1]) == "csv" \
        else "delta" if str(job.output_path).startswith("delta:") else "parquet"
    if job.min_score is not None:
        scored = scored.filter(scored["score"] >= job.min_score)
    if job.top is not None or job.min_score is not None:
        # A routing list, small by construction: the best first, ties in source-row order.
        scored = scored.orderBy(scored["probability"].desc(), scored[ROW].asc())
        if job.top is not None:
            scored = scored.limit(job.top)
        scored = scored.coalesce(1)
    else:
        scored = scored.sortWithinPartitions(BUCKET, ROW)
    with _task_progress(spark, progress, f"score {n_buckets:,} buckets and write"):
        write_output(_for_output(scored, fmt), output, fmt, write_mode)
    sides = {bucket: side for bucket, side in accumulator.value}  # a retried task counts once
    return n_leads, n_buckets, sorted(sides.items())


@contextlib.contextmanager
def _task_progress(spark, progress: Callable[[str], None], stage: str, every: float = 0.5):
    """Report the running stages' finished tasks (a bucket is a task) while the body runs."""
    tracker = spark.sparkContext.statusTracker()
    done = threading.Event()

    def poll() -> None:
        while not done.wait(every):
            infos = [tracker.getStageInfo(i) for i in tracker.getActiveStageIds()]
            infos = [info for info in infos if info is not None]
            finished = sum(info.numCompletedTasks for info in infos)
            total = sum(info.numTasks for info in infos)
            progress(f"{stage}: {finished:,}/{total:,} tasks" if total else stage)

    progress(stage)
    watcher = threading.Thread(target=poll, name="spark-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _for_output(scored, fmt: str):
    """The score columns as the output holds them (CSV: booleans spelled as pandas does)."""
    from pyspark.sql import functions as F

    columns = [F.col(name) for name in SCORE_COLUMNS]
    if fmt == "csv":
        columns = [F.when(F.col(c), "True").otherwise("False").alias(c)
                   if OUTPUT_TYPES[c] == "boolean" else F.col(c) for c in SCORE_COLUMNS]
    return scored.select(*columns)


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
        # Partition keys (region=emea/) stay text, as the contract types them, not guessed ints.
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
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


def _read(spark, where: Location, config: Config, input_format: str):
    """Read one input; returns its :class:`Source` and the Spark DataFrame."""
    dates = {config.dataset.columns.created_at or "created_at",
             config.dataset.activity_columns.occurred_at}
    frame, schema, is_csv = read_input(spark, where, config, input_format, dates)
    return Source(where.text, schema, is_csv), frame
