"""Batch scoring of any size in bounded memory, atomic and resumable.

How it stays bounded: leads and activities are streamed once (pyarrow record batches) into
*buckets* on disk by a stable hash of ``lead_id``, so that each bucket holds a batch-sized set of
leads together with all of their events (the same co-partitioning the Spark engine does with
``cogroup``). Each bucket is then validated, turned into point-in-time features, scored and
explained by :meth:`pipeline.explain.package.ScoringPackage.score_leads` (the one per-batch
function of every engine) and appended to a part file. Peak memory is one bucket, whatever the
input size.

How it stays safe: parts and a checkpoint live in ``<output>.parts/``; the output file appears
only at the end, by an atomic rename. The output is locked for the whole job, and an output that
is an input is refused (:mod:`pipeline.batch.guard`). A killed job leaves no output file;
``--resume`` checks that the inputs' content, the model, the config and the options are those of
the interrupted run, reuses its as_of, skips the buckets the checkpoint records as complete, and
the final file is the same as an uninterrupted run's because buckets and their contents depend
only on the input and the batch size. Each part keeps its drift counts and warnings beside it,
so the drift report of a resumed job covers every row. A user error removes the parts; an
environment fault (disk full) keeps finished ones for ``--resume`` and says so.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.batch.accounts import add_account_columns, write_accounts
from pipeline.batch.domain import clip_absurd, domain_warnings, missing_sources
from pipeline.batch.guard import (
    CHECKPOINT,
    changes,
    config_hash,
    failpoint,
    fingerprint,
    output_lock,
    parts_dir,
    read_checkpoint,
    record_done,
    refuse_overwriting_inputs,
    write_checkpoint,
)
from pipeline.batch.spill import count_rows, read_bucket, release_memory, spill
from pipeline.data.config import Config
from pipeline.data.contracts import (
    MAX_EXAMPLES,
    ContractReport,
    canonical_activities,
    canonical_leads,
    parse_dates,
)
from pipeline.data.errors import DataError, EnvironmentFault, LeadScoreError, describe_os_error
from pipeline.data.io import atomic_path
from pipeline.data.scoring_time import (
    GIVEN,
    NewestDates,
    before_creation_error,
    check_created_by,
    resolve_as_of,
)
from pipeline.evaluation.drift import DriftMonitor
from pipeline.explain.accounts import account_keys
from pipeline.explain.package import ScoringPackage, lead_age_days

SCORE_COLUMNS = [
    "lead_id", "score", "probability", "band", "grade", "engagement_level", "percentile", "mql",
    "status", "status_reason", "reason_1", "reason_2", "reason_3", "model_name", "model_version",
    "as_of", "scored_at",
]
# with --next-action (pipeline/explain/whatif.py): the best action and what the model gives it
NEXT_ACTION_COLUMNS = ["next_action", "next_action_gain", "next_action_probability_gain"]


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
    next_action: bool = False
    by_account: bool = False  # the output is the account roll-up (pipeline/batch/accounts.py)
    account: bool = False  # lead rows carry their account key (dataset.account), for --route
    workers: int = 1  # processes scoring buckets (pipeline/batch/workers.py); not in the output

    @property
    def columns(self) -> list[str]:
        """The output's columns, in order."""
        return (SCORE_COLUMNS + (NEXT_ACTION_COLUMNS if self.next_action else [])
                + (["account"] if self.account and not self.by_account else []))


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
    monitor: DriftMonitor | None = None, notes: JobNotes | None = None,
) -> pd.DataFrame:
    """Validate, build features, score and explain one bucket of leads (pure per-batch step).

    ``notes`` collects the bucket's domain warnings (absurd magnitudes clipped to the training
    range, categories never seen in training).
    """
    lead_rows = leads_raw.pop("__row").to_numpy() if "__row" in leads_raw else np.arange(
        len(leads_raw))
    if "__row_id" in leads_raw:  # the spill's bucket key of a file without ids
        del leads_raw["__row_id"]
    file = str(job.leads_path)
    report = ContractReport()
    leads = canonical_leads(leads_raw, config, file, report, scoring=True)
    if config.dataset.columns.lead_id is None:
        # lead_id: null -> the row number in the whole file, not in this bucket
        leads["lead_id"] = (lead_rows + 1).astype(str).astype(object)
    as_of = job.as_of if package.mode == "events" else None
    if report.ok:
        for column, features in missing_sources(package, leads_raw.columns).items():
            report.add(file, column, f"missing (the model builds {', '.join(features)} from it)")
    _reindex_rows(report, lead_rows).raise_if_failed()
    if as_of is not None:
        # the local engine checks the whole file first (_check_created); Spark relies on this
        check_created_by(leads, as_of, file, config.dataset.columns.created_at or "created_at",
                         rows=lead_rows)
    activities = None
    if package.mode == "events":
        if activities_raw is None:
            ac = config.dataset.activity_columns
            activities_raw = pd.DataFrame(columns=[ac.lead_id, ac.occurred_at, ac.activity_type])
        act_rows = activities_raw.pop("__row").to_numpy() if "__row" in activities_raw \
            else np.arange(len(activities_raw))
        report = ContractReport()
        activities = canonical_activities(activities_raw, leads, config,
                                          str(job.activities_path), report, scoring=True)
        activities_raw = None  # the raw events are the bucket's largest frame: free them now
        _reindex_rows(report, act_rows).raise_if_failed()
    if notes is not None:
        notes.newest.update(leads, activities)
    if job.open_only and "outcome" in leads:
        keep = (leads["outcome"] == "open").to_numpy()
        leads, lead_rows = leads[keep].reset_index(drop=True), lead_rows[keep]
    unseen: dict[str, dict[str, int]] = {}
    X = package.features(leads, activities, as_of, unseen=unseen)
    clipped = clip_absurd(package, X)
    if notes is not None:
        for message, count in domain_warnings(package, file, clipped, unseen).items():
            notes.warn(message, count)
    scored = package.score_features(X, explain_leads=job.explain,
                                    lead_age_days=lead_age_days(leads, as_of),
                                    factor_points=job.by_account)
    if job.by_account:
        add_account_columns(scored, leads, config, file)
    elif job.account:
        scored["account"] = account_keys(leads, config, file).to_numpy()
    if monitor is not None:
        monitor.update(X, scored["probability"].to_numpy())
    if job.next_action:
        from pipeline.explain.whatif import what_if

        best = what_if(package, leads, activities, as_of, config.offered_actions(), X=X,
                       adjust=lambda table: clip_absurd(package, table)).best()
        for column in NEXT_ACTION_COLUMNS:
            scored[column] = best[column].to_numpy()
    scored["model_name"] = job.model_name
    scored["model_version"] = job.model_version
    # the moment the probability is for (its horizon starts here): what `monitor` matures
    # outcomes against; the same in both engines, since scored_at is the job's as_of too
    scored["as_of"] = scored_at
    scored["scored_at"] = scored_at
    scored["__row"] = lead_rows
    return scored


@dataclass
class JobNotes:
    """What a job tells the user besides its summary: warnings (with counts) and notices."""

    warnings: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    newest: NewestDates = field(default_factory=NewestDates)  # for the staleness warning

    def warn(self, message: str, count: int) -> None:
        """Add ``count`` rows to a warning (same message: counts add up across buckets)."""
        self.warnings[message] = self.warnings.get(message, 0) + int(count)


def run_score_job(
    package: ScoringPackage, config: Config, job: ScoreJob,
    progress: Callable[[int, int, int], None] | None = None,
    monitor: DriftMonitor | None = None,
    notes: JobNotes | None = None,
) -> dict:
    """Score ``job.leads_path`` into ``job.output_path``; returns a summary.

    The output is locked for the whole job (:func:`pipeline.batch.guard.output_lock`) and an
    output that is an input is refused. ``monitor`` receives every scored row, including those
    of buckets finished before a resume (their drift counts are kept with their parts).

    Raises
    ------
    DataError, ConfigError, OutputBusy
        User errors (exit 2), before the output file exists; the parts are removed.
    EnvironmentFault
        Permissions, disk full (exit 1). Parts holding finished buckets are kept for
        ``--resume``, and the message says so.
    """
    refuse_overwriting_inputs(job.output_path, {"--input": job.leads_path,
                                                "--activities": job.activities_path})
    notes = notes if notes is not None else JobNotes()
    with output_lock(job.output_path):
        return _run_locked(package, config, job, progress, monitor, notes)


def _signature(package: ScoringPackage, config: Config, job: ScoreJob) -> dict:
    with_events = job.activities_path is not None and package.mode == "events"
    return {
        "leads": fingerprint(job.leads_path),
        "activities": fingerprint(job.activities_path) if with_events else None,
        "model": f"{job.model_name}:{job.model_version}", "config": config_hash(config),
        "as_of": None if job.as_of is None else job.as_of.isoformat(),
        "batch_size": job.batch_size, "explain": job.explain, "open_only": job.open_only,
        **({"next_action": True} if job.next_action else {}),
        **({"account": True} if job.account else {}),
        "by_account": job.by_account,
    }


def _run_locked(package: ScoringPackage, config: Config, job: ScoreJob,
                progress: Callable[[int, int, int], None] | None,
                monitor: DriftMonitor | None, notes: JobNotes) -> dict:
    started = time.perf_counter()
    parts = parts_dir(job.output_path)
    _remove_stale_temporaries(job.output_path)
    signature = _signature(package, config, job)
    state = read_checkpoint(parts) if parts.exists() else None
    done: set[int] = set()
    if job.resume and state is not None:
        changed = changes(state["signature"], signature)
        if changed:
            raise DataError(f"--resume {job.output_path}: " + "; ".join(changed)
                            + " changed since the interrupted run; run without --resume to "
                            "start over")
        signature["as_of"] = state["signature"]["as_of"]
        signature["as_of_source"] = state["signature"].get("as_of_source", GIVEN)
        done = {int(b) for b in state.get("done", [])}
        notes.notices.append(f"resuming: {len(done)} finished batch(es) kept, as of "
                             f"{signature['as_of']}")
    elif job.resume:
        notes.notices.append(f"--resume: no interrupted run of {job.output_path} found; "
                             "scoring from the start")
    elif parts.exists():
        notes.notices.append(f"discarded the interrupted run in {parts} (--resume continues one)")
    if signature["as_of"] is None:
        when = resolve_as_of(None)
        signature.update(as_of=when.as_of.isoformat(), as_of_source=when.source)
    as_of = pd.Timestamp(signature["as_of"])
    resumed = job.resume and state is not None
    try:
        if not resumed:
            shutil.rmtree(parts, ignore_errors=True)
            parts.mkdir(parents=True)
            _spill_inputs(package, config, job, signature, parts, notes)
        else:
            signature.update(n_leads=state["signature"]["n_leads"],
                             n_buckets=state["signature"]["n_buckets"])
        n_leads, n_buckets = signature["n_leads"], signature["n_buckets"]
        if package.mode == "events":
            _check_created(config, job, parts, n_buckets, as_of)
        scored_rows = 0
        if job.workers > 1:  # then every bucket is done and the loop below only counts rows
            from pipeline.batch.workers import score_in_processes
            score_in_processes(package, config, job, parts, signature, done, as_of, progress)
        for bucket in range(n_buckets):
            if bucket not in done:
                _score_one(package, config, job, parts, bucket, as_of, notes)
                record_done(parts, signature, done, bucket)
            scored_rows += _part_rows(parts, bucket)
            if progress:
                progress(bucket + 1, n_buckets, scored_rows)
        _collect_bucket_notes(parts, n_buckets, monitor, notes)
        written = _assemble(parts, n_buckets, job, config)
    except LeadScoreError:
        shutil.rmtree(parts, ignore_errors=True)
        raise
    except OSError as exc:
        raise _environment_fault(exc, job.output_path, parts, done) from None
    shutil.rmtree(parts, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"input_rows": n_leads, "output_rows": written, "buckets": n_buckets,
            "seconds": round(seconds, 2), "rows_per_second": round(n_leads / max(seconds, 1e-9)),
            "as_of": signature["as_of"], "as_of_source": signature.get("as_of_source", GIVEN),
            "newest": notes.newest.state()}


def _spill_inputs(package: ScoringPackage, config: Config, job: ScoreJob, signature: dict,
                  parts: Path, notes: JobNotes) -> None:
    """Bucket the inputs; the checkpoint written at the end marks the spill complete."""
    n_leads = count_rows(job.leads_path, config)
    if n_leads == 0:
        raise DataError(f"{job.leads_path}: no rows (header only)")
    n_buckets = max(1, math.ceil(n_leads / job.batch_size))
    spill_dir = parts / "spill"
    spill_dir.mkdir()
    spill(job.leads_path, config.dataset.columns.lead_id, config, n_buckets, spill_dir,
          job.batch_size, "leads", ids_required=True)
    if package.mode == "events":
        events = 0
        if job.activities_path is not None:
            events = spill(job.activities_path, config.dataset.activity_columns.lead_id,
                           config, n_buckets, spill_dir, 4 * job.batch_size, "activities")
        if events == 0:
            what = f"{job.activities_path} holds no events" if job.activities_path else \
                "no --activities file given"
            notes.warn(f"{what}: every engagement count is 0 and scores rest on fit alone",
                       n_leads)
    signature.update(n_leads=n_leads, n_buckets=n_buckets)
    write_checkpoint(parts, signature, set())
    failpoint("spill")


def _score_one(package: ScoringPackage, config: Config, job: ScoreJob, parts: Path, bucket: int,
               as_of: pd.Timestamp, notes: JobNotes) -> None:
    """Score one bucket into its part file, with its drift counts and warnings beside it."""
    spill_dir = parts / "spill"
    leads_raw = read_bucket(spill_dir / f"leads-{bucket:05d}.parquet")
    if leads_raw is None:
        return
    monitor = DriftMonitor(package.reference) if package.reference else None
    bucket_notes = JobNotes()
    # the raw events are read inside the call, so that score_bucket holds their only reference
    scored = score_bucket(package, config, leads_raw,
                          read_bucket(spill_dir / f"activities-{bucket:05d}.parquet"),
                          replace(job, as_of=as_of), as_of.isoformat(), monitor, bucket_notes)
    del leads_raw
    if not scored["__row"].is_monotonic_increasing:  # the spill keeps source order: usually
        scored = scored.sort_values("__row", kind="mergesort")
    with atomic_path(parts / f"part-{bucket:05d}.parquet", suffix=".parquet.tmp") as tmp:
        scored.to_parquet(tmp, index=False)
    side = {"drift": monitor.state() if monitor else None, "warnings": bucket_notes.warnings,
            "newest": bucket_notes.newest.state()}
    with atomic_path(parts / f"notes-{bucket:05d}.json") as tmp:
        tmp.write_text(json.dumps(side))
    del scored
    release_memory()


def _check_created(config: Config, job: ScoreJob, parts: Path, n_buckets: int,
                   as_of: pd.Timestamp) -> None:
    """Refuse the whole file, before anything is scored, when a lead was created after as_of.

    One pass over the spilled created_at column, so the error counts every such lead of the
    file (a bucket's own check would count only its own).
    """
    column, id_column = config.dataset.columns.created_at, config.dataset.columns.lead_id
    if not column:
        return
    late: list[pd.DataFrame] = []
    count = 0
    for bucket in range(n_buckets):
        path = parts / "spill" / f"leads-{bucket:05d}.parquet"
        if not path.is_file():
            continue
        names = pq.ParquetFile(path).schema_arrow.names
        if column not in names:
            return  # reported as a missing column by the bucket's contract
        frame = pd.read_parquet(path, columns=[c for c in (column, id_column, "__row")
                                               if c and c in names])
        hit = (parse_dates(frame[column]) > as_of).to_numpy(dtype=bool)
        if hit.any():
            count += int(hit.sum())
            rows = frame.loc[hit, "__row"]
            ids = frame.loc[hit, id_column].astype("string").str.strip() if id_column \
                else rows + 1
            late.append(pd.DataFrame({"row": rows.to_numpy() + 1, "lead_id": ids.to_numpy()}
                                     ).head(MAX_EXAMPLES))
    if count:
        first = pd.concat(late).sort_values("row")
        raise before_creation_error(str(job.leads_path), column, as_of,
                                    first["row"].to_numpy(), first["lead_id"].to_numpy(), count)


def _part_rows(parts: Path, bucket: int) -> int:
    part = parts / f"part-{bucket:05d}.parquet"
    return pq.ParquetFile(part).metadata.num_rows if part.is_file() else 0


def _collect_bucket_notes(parts: Path, n_buckets: int, monitor: DriftMonitor | None,
                          notes: JobNotes) -> None:
    """Drift counts and warnings of every bucket, this run's and an interrupted run's."""
    for path in (parts / f"notes-{bucket:05d}.json" for bucket in range(n_buckets)):
        if path.is_file():
            add_bucket_notes(json.loads(path.read_text()), monitor, notes)


def add_bucket_notes(side: dict, monitor: DriftMonitor | None, notes: JobNotes) -> None:
    """Add one bucket's drift counts, warnings and newest dates (both engines, bucket order)."""
    if monitor is not None and side.get("drift"):
        monitor.merge(side["drift"])
    for message, count in side.get("warnings", {}).items():
        notes.warn(message, count)
    notes.newest.merge(side.get("newest"))


def _remove_stale_temporaries(output: Path) -> None:
    """Temporary files of an earlier, killed assembly of this output (we hold its lock)."""
    for stale in output.parent.glob(f".{output.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _environment_fault(exc: OSError, output: Path, parts: Path, done: set[int]
                       ) -> EnvironmentFault:
    message = describe_os_error(exc, output)
    if done and (parts / CHECKPOINT).is_file():
        return EnvironmentFault(f"{message}; {len(done)} finished batch(es) kept in {parts}: "
                                "fix it and rerun with --resume")
    shutil.rmtree(parts, ignore_errors=True)
    return EnvironmentFault(f"{message}; nothing was written")


def _output_format(job: ScoreJob) -> str:
    if job.output_format:
        return job.output_format
    return "csv" if job.output_path.suffix.lower() == ".csv" else "parquet"


def _assemble(parts: Path, n_buckets: int, job: ScoreJob, config: Config) -> int:
    """Concatenate part files in source-row order into the output (atomic rename at the end)."""
    files = [parts / f"part-{b:05d}.parquet" for b in range(n_buckets)]
    files = [f for f in files if f.is_file()]
    routing = job.top is not None or job.min_score is not None
    fmt = _output_format(job)
    if job.by_account:
        return write_accounts(files, job.output_path, fmt, config)
    if routing:
        # The routing list is small by construction: the best N or those above a score.
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        if job.min_score is not None:
            frame = frame[frame["score"] >= job.min_score]
        frame = frame.sort_values(["probability", "__row"], ascending=[False, True],
                                  kind="mergesort")
        if job.top is not None:
            frame = frame.head(job.top)
        frame = frame[job.columns]
        with atomic_path(job.output_path, suffix=f".{fmt}.tmp") as tmp:
            _write_frame(frame, tmp, fmt)
        return len(frame)
    # Full output: stream the parts (bucket order, source-row order within a bucket) so memory
    # stays at one part however large the output.
    written = 0
    with atomic_path(job.output_path, suffix=f".{fmt}.tmp") as tmp:
        writer = None
        for number, part_file in enumerate(files):
            if number == max(1, len(files) // 2):
                failpoint("assembly")
            table = pq.read_table(part_file).select(job.columns)
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
