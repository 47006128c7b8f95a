"""Batch scoring of any size in bounded memory, atomic and resumable.

How it stays bounded: leads and activities are streamed once (pyarrow record batches) into
*buckets* on disk by a stable hash of ``lead_id``, so that each bucket holds a batch-sized set of
leads together with all of their events (the same co-partitioning the Spark engine does with
``cogroup``). Each bucket is then validated, turned into point-in-time features, scored and
explained by :meth:`pipeline.explain.package.ScoringPackage.score_leads` (the one per-batch
function of every engine) and appended to a part file. Peak memory is one bucket, whatever the
input size.

How it stays safe: parts and a checkpoint live in ``<output>.parts/``; the output file appears
only at the end, by an atomic rename. A killed job leaves no output file; ``--resume`` skips the
buckets the checkpoint records as complete, and the final file is the same as an uninterrupted
run's because buckets and their contents depend only on the input and the batch size.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.data.config import Config
from pipeline.data.contracts import ContractReport, canonical_activities, canonical_leads
from pipeline.data.errors import DataError, LeadScoreError
from pipeline.data.io import atomic_path
from pipeline.evaluation.drift import DriftMonitor
from pipeline.explain.package import ScoringPackage, lead_age_days

SCORE_COLUMNS = [
    "lead_id", "score", "probability", "band", "grade", "engagement_level", "percentile", "mql",
    "status", "status_reason", "reason_1", "reason_2", "reason_3", "model_name", "model_version",
    "scored_at",
]
CHECKPOINT = "checkpoint.json"


@dataclass
class ScoreJob:
    """One batch-scoring request."""

    leads_path: Path
    output_path: Path
    activities_path: Path | None = None
    as_of: pd.Timestamp | None = None
    explain: bool = True
    batch_size: int = 50_000
    resume: bool = False
    top: int | None = None
    min_score: int | None = None
    output_format: str | None = None
    model_name: str = "local"
    model_version: str = "file"
    open_only: bool = False


def _iter_batches(path: Path, config: Config, batch_size: int) -> Iterator[pd.DataFrame]:
    """Stream a CSV (all cells as text) or Parquet file as pandas batches."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield batch.to_pandas()
        return
    delimiter = config.dataset.read.delimiter
    header = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter),
                            read_options=pacsv.ReadOptions(block_size=1 << 20)).schema.names
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20, encoding=config.dataset.read.encoding),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )
    for batch in reader:
        yield batch.to_pandas()


def _bucket_of(ids: pd.Series, n_buckets: int) -> np.ndarray:
    # pandas' hash is stable across runs and platforms, unlike Python's salted hash().
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False).to_numpy()
    return (hashed % np.uint64(n_buckets)).astype(np.int64)


def _count_rows(path: Path, config: Config) -> int:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pq.ParquetFile(path).metadata.num_rows
    return sum(len(b) for b in _iter_batches(path, config, 200_000))


def _spill(path: Path, id_column: str, config: Config, n_buckets: int, out_dir: Path,
           batch_size: int, stem: str) -> int:
    """Split a file into bucket Parquet files by the hash of its lead id column."""
    writers: dict[int, pq.ParquetWriter] = {}
    rows = 0
    row_offset = 0
    try:
        for frame in _iter_batches(path, config, batch_size):
            if id_column not in frame.columns:
                from pipeline.data.contracts import suggest_column

                raise DataError(f"{path}: column '{id_column}': missing (lead id)"
                                f"{suggest_column(id_column, frame.columns)}")
            frame = frame.copy()
            # Remember each row's position in the source file, for error messages.
            frame["__row"] = np.arange(row_offset, row_offset + len(frame), dtype=np.int64)
            row_offset += len(frame)
            buckets = _bucket_of(frame[id_column].fillna(""), n_buckets)
            for bucket in np.unique(buckets):
                part = pa.Table.from_pandas(frame[buckets == bucket], preserve_index=False)
                writer = writers.get(int(bucket))
                if writer is None:
                    writer = pq.ParquetWriter(out_dir / f"{stem}-{bucket:05d}.parquet",
                                              part.schema)
                    writers[int(bucket)] = writer
                writer.write_table(part.cast(writer.schema, safe=False)
                                   if part.schema != writer.schema else part)
            rows += len(frame)
    finally:
        for writer in writers.values():
            writer.close()
    return rows


def _read_bucket(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


def _reindex_rows(report: ContractReport, rows: np.ndarray) -> ContractReport:
    """Map a bucket's positional row numbers back to the source file's row numbers."""
    fixed = ContractReport()
    for v in report.violations:
        original = tuple(int(rows[r - 1]) + 1 for r in v.rows)
        fixed.violations.append(type(v)(v.file, v.column, v.problem, tuple(sorted(original)),
                                        v.count))
    return fixed


def score_bucket(
    package: ScoringPackage, config: Config, leads_raw: pd.DataFrame,
    activities_raw: pd.DataFrame | None, job: ScoreJob, scored_at: str,
    monitor: DriftMonitor | None = None,
) -> pd.DataFrame:
    """Validate, build features, score and explain one bucket of leads (pure per-batch step)."""
    lead_rows = leads_raw.pop("__row").to_numpy() if "__row" in leads_raw else np.arange(
        len(leads_raw))
    report = ContractReport()
    leads = canonical_leads(leads_raw, config, str(job.leads_path), report, scoring=True)
    _reindex_rows(report, lead_rows).raise_if_failed()
    activities = None
    if package.mode == "events":
        if activities_raw is None:
            ac = config.dataset.activity_columns
            activities_raw = pd.DataFrame(columns=[ac.lead_id, ac.occurred_at, ac.activity_type])
        act_rows = activities_raw.pop("__row").to_numpy() if "__row" in activities_raw \
            else np.arange(len(activities_raw))
        report = ContractReport()
        activities = canonical_activities(activities_raw, leads, config,
                                          str(job.activities_path), report)
        _reindex_rows(report, act_rows).raise_if_failed()
    if job.open_only and "outcome" in leads:
        keep = (leads["outcome"] == "open").to_numpy()
        leads, lead_rows = leads[keep].reset_index(drop=True), lead_rows[keep]
    as_of = job.as_of if package.mode == "events" else None
    X = package.features(leads, activities, as_of)
    scored = package.score_features(X, explain_leads=job.explain,
                                    lead_age_days=lead_age_days(leads, as_of))
    if monitor is not None:
        monitor.update(X, scored["probability"].to_numpy())
    scored["percentile"] = percentile_of(package, scored["probability"].to_numpy())
    scored["model_name"] = job.model_name
    scored["model_version"] = job.model_version
    scored["scored_at"] = scored_at
    scored["__row"] = lead_rows
    return scored


def percentile_of(package: ScoringPackage, p: np.ndarray) -> np.ndarray:
    """Share (0-100) of the training reference leads scoring below each probability."""
    reference = np.asarray(package.reference.get("probabilities", []), dtype="float64")
    if reference.size == 0:
        return np.full(len(p), np.nan)
    return np.round(100.0 * np.searchsorted(np.sort(reference), p, side="right")
                    / reference.size, 1)


def _load_checkpoint(parts: Path, signature: dict) -> set[int]:
    path = parts / CHECKPOINT
    if not path.is_file():
        return set()
    state = json.loads(path.read_text())
    if state.get("signature") != signature:
        return set()
    return {int(b) for b in state.get("done", [])}


def _save_checkpoint(parts: Path, signature: dict, done: set[int]) -> None:
    with atomic_path(parts / CHECKPOINT) as tmp:
        tmp.write_text(json.dumps({"signature": signature, "done": sorted(done)}))


def run_score_job(
    package: ScoringPackage, config: Config, job: ScoreJob,
    progress: Callable[[int, int, int], None] | None = None,
    monitor: DriftMonitor | None = None,
) -> dict:
    """Score ``job.leads_path`` into ``job.output_path``; returns a summary.

    Raises
    ------
    DataError
        On any contract violation, before the output file exists.
    """
    started = time.perf_counter()
    n_leads = _count_rows(job.leads_path, config)
    if n_leads == 0:
        raise DataError(f"{job.leads_path}: no rows (header only)")
    n_buckets = max(1, math.ceil(n_leads / job.batch_size))
    parts = job.output_path.with_name(job.output_path.name + ".parts")
    scored_at = (job.as_of or pd.Timestamp.now(tz="UTC").tz_localize(None)).isoformat()
    signature = {
        "leads": str(job.leads_path), "leads_size": job.leads_path.stat().st_size,
        "activities": str(job.activities_path) if job.activities_path else None,
        "activities_size": job.activities_path.stat().st_size if job.activities_path and
        job.activities_path.is_file() else None,
        "n_buckets": n_buckets, "as_of": str(job.as_of), "explain": job.explain,
        "model": f"{job.model_name}:{job.model_version}",
    }
    if job.as_of is not None:
        signature["scored_at"] = scored_at
    done = _load_checkpoint(parts, signature) if job.resume else set()
    if not job.resume and parts.exists():
        shutil.rmtree(parts)
    if done:
        scored_at = json.loads((parts / CHECKPOINT).read_text())["signature"].get(
            "scored_at", scored_at)
    spill = parts / "spill"
    if not done or not spill.is_dir():
        if spill.exists():
            shutil.rmtree(spill)
        spill.mkdir(parents=True)
        done = set()
        _spill(job.leads_path, config.dataset.columns.lead_id, config, n_buckets, spill,
               job.batch_size, "leads")
        if job.activities_path is not None and package.mode == "events":
            _spill(job.activities_path, config.dataset.activity_columns.lead_id, config,
                   n_buckets, spill, 4 * job.batch_size, "activities")
        _save_checkpoint(parts, signature, done)
    scored_rows = 0
    try:
        for bucket in range(n_buckets):
            part_file = parts / f"part-{bucket:05d}.parquet"
            if bucket in done and part_file.is_file():
                scored_rows += pq.ParquetFile(part_file).metadata.num_rows
                if progress:
                    progress(bucket + 1, n_buckets, scored_rows)
                continue
            leads_raw = _read_bucket(spill / f"leads-{bucket:05d}.parquet")
            if leads_raw is None:
                done.add(bucket)
                continue
            activities_raw = _read_bucket(spill / f"activities-{bucket:05d}.parquet")
            scored = score_bucket(package, config, leads_raw, activities_raw, job, scored_at,
                                  monitor)
            scored = scored.sort_values("__row", kind="mergesort")
            with atomic_path(part_file, suffix=".parquet.tmp") as tmp:
                scored.to_parquet(tmp, index=False)
            done.add(bucket)
            _save_checkpoint(parts, signature, done)
            scored_rows += len(scored)
            if progress:
                progress(bucket + 1, n_buckets, scored_rows)
        written = _assemble(parts, n_buckets, job)
    except LeadScoreError:
        # A user error leaves nothing behind; an interrupt or a crash keeps the checkpoint so
        # that --resume can continue.
        shutil.rmtree(parts, ignore_errors=True)
        raise
    shutil.rmtree(parts, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"input_rows": n_leads, "output_rows": written, "buckets": n_buckets,
            "seconds": round(seconds, 2), "rows_per_second": round(n_leads / max(seconds, 1e-9))}


def _output_format(job: ScoreJob) -> str:
    if job.output_format:
        return job.output_format
    return "csv" if job.output_path.suffix.lower() == ".csv" else "parquet"


def _assemble(parts: Path, n_buckets: int, job: ScoreJob) -> int:
    """Concatenate part files in source-row order into the output (atomic rename at the end)."""
    files = [parts / f"part-{b:05d}.parquet" for b in range(n_buckets)]
    files = [f for f in files if f.is_file()]
    routing = job.top is not None or job.min_score is not None
    fmt = _output_format(job)
    if routing:
        # The routing list is small by construction: the best N or those above a score.
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        if job.min_score is not None:
            frame = frame[frame["score"] >= job.min_score]
        frame = frame.sort_values(["probability", "__row"], ascending=[False, True],
                                  kind="mergesort")
        if job.top is not None:
            frame = frame.head(job.top)
        frame = frame[SCORE_COLUMNS]
        with atomic_path(job.output_path, suffix=f".{fmt}.tmp") as tmp:
            _write_frame(frame, tmp, fmt)
        return len(frame)
    # Full output: stream the parts (bucket order, source-row order within a bucket) so memory
    # stays at one part however large the output.
    written = 0
    with atomic_path(job.output_path, suffix=f".{fmt}.tmp") as tmp:
        writer = None
        for number, part_file in enumerate(files):
            table = pq.read_table(part_file).select(SCORE_COLUMNS)
            written += table.num_rows
            if fmt == "csv":
                table.to_pandas().to_csv(tmp, index=False, mode="a", header=number == 0)
            else:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema) if table.schema != writer.schema
                                   else table)
        if writer is not None:
            writer.close()
        if not files:
            raise DataError(f"{job.leads_path}: no rows scored")
    return written


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
