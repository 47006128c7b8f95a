"""Scoring commands: ``score`` (batch, local or Spark) and ``drift`` (PSI against training)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.app import (
    ConfigOpt,
    SetOpt,
    app,
    as_of_option,
    load,
    paths_of,
    resolve_model,
    user_errors,
)
from pipeline.cli.console import Format, FormatOpt, emit, err, out

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.data.config import Config
    from pipeline.explain.package import ScoringPackage


@app.command()
@user_errors
def score(
    config: ConfigOpt,
    input_path: Annotated[str, typer.Option(
        "--input", help="Leads to score: a CSV/Parquet file; with --engine spark also a folder, "
        "a partitioned dataset, a Delta table or any Hadoop URI (file://, s3a://, hdfs://, "
        "dbfs:/).")],
    output: Annotated[str, typer.Option(
        "--output", help="Scores: a .parquet or .csv file; with --engine spark a folder (or "
        "URI) written by Spark, complete when it holds _SUCCESS.")],
    activities: Annotated[str | None, typer.Option(
        "--activities", help="Activity log (same kinds of location as --input).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="models:/NAME@ALIAS or a model.pkl (default: the champion).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Score as of (default: now, the wall clock in UTC; a warning says when "
        "the input looks older than the inactivity limit).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="local or spark.")] = "local",
    spark_master: Annotated[str, typer.Option(
        "--spark-master", help="Spark master URL for --engine spark: local[*] (all cores of "
        "this machine), local[N], spark://HOST:7077 (a standalone cluster), yarn, k8s://...")
    ] = "local[*]",
    spark_conf: Annotated[list[str] | None, typer.Option(
        "--spark-conf", metavar="KEY=VALUE",
        help="A Spark setting for --engine spark (repeatable), e.g. "
        "spark.executor.memory=4g or spark.hadoop.fs.s3a.aws.credentials.provider=...")] = None,
    spark_write_mode: Annotated[str, typer.Option(
        "--spark-write-mode", help="--engine spark: errorifexists (an existing --output is "
        "refused) or overwrite (it is replaced).")] = "errorifexists",
    input_format: Annotated[str, typer.Option(
        "--input-format", help="--engine spark: auto (Delta when a _delta_log folder or a "
        "delta: prefix says so, CSV by the .csv name, else Parquet), parquet, csv or delta.")
    ] = "auto",
    explain_leads: Annotated[bool, typer.Option(
        "--explain/--no-explain", help="Add grade, engagement level and the top reasons "
        "(--no-explain: score, band and MQL only, faster).")] = True,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=100, help="Leads per batch, which bounds memory (default: "
        "scoring.batch_size in the config).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted job.")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", help="Processes scoring batches in parallel on this machine, each with "
        "single-threaded kernels; the output is the same file whatever N (local engine; Spark "
        "scales with --spark-master).")] = 1,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Only the N best leads.")] = None,
    min_score: Annotated[int | None, typer.Option(
        "--min-score", min=0, max=100, help="Only leads scoring at least this (0-100; "
        "default: every lead).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Output file format, parquet or csv (default: from --output's "
        "suffix).")] = None,
    open_only: Annotated[bool, typer.Option("--open-only", help="Skip decided leads.")] = False,
    route_leads: Annotated[bool, typer.Option(
        "--route", help="Also write the routing file a CRM workflow imports: the MQLs, best "
        "first, capped at routing.capacity_per_week x --weeks, with a summary JSON beside it "
        "(local engine).")] = False,
    route_format: Annotated[str | None, typer.Option(
        "--route-format", help="generic, salesforce or hubspot (default: routing.format).")
    ] = None,
    route_output: Annotated[Path | None, typer.Option(
        "--route-output", help="Routing file (default: <output stem>.route.csv beside "
        "--output).")] = None,
    weeks: Annotated[float, typer.Option(
        "--weeks", help="Weeks of new leads this run covers: the routing list holds at most "
        "routing.capacity_per_week x weeks leads (default 1: a weekly run).")] = 1.0,
    next_action: Annotated[bool, typer.Option(
        "--next-action", help="Add next_action (the configured action the model predicts "
        "raises the score most), next_action_gain (its displayed score points) and "
        "next_action_probability_gain: one rescoring per action (docs/WHATIF.md).")] = False,
    by: Annotated[str, typer.Option(
        "--by", help="lead: one row per lead; account: one row per account (dataset.account), "
        "with the chance any of its leads converts (assuming independence), its engaged and "
        "senior contacts, top leads and top factors (local engine).")] = "lead",
    set_: SetOpt = None,
) -> None:
    """Score leads in bounded memory; atomic output; resumable; local or Spark engine."""
    from dataclasses import replace

    import pandas as pd

    from pipeline.batch.local import JobNotes, ScoreJob, run_score_job
    from pipeline.data.artifacts import write_json
    from pipeline.data.errors import ConfigError
    from pipeline.data.scoring_time import ScoringTime, inactivity_limit, staleness_warning
    from pipeline.evaluation.drift import DriftMonitor

    cfg = load(config, set_)
    if engine not in ("local", "spark"):
        raise ConfigError(f"--engine {engine!r}: use 'local' or 'spark'")
    if fmt not in (None, "csv", "parquet"):
        raise ConfigError(f"--format {fmt!r}: use 'csv' or 'parquet'")
    layout = _route_layout(cfg, engine, route_format, weeks, top, min_score, explain_leads) \
        if route_leads else None
    if next_action and engine == "spark":
        # refused rather than ignored: the Spark job writes the fixed score schema
        raise ConfigError("--next-action is for --engine local: the Spark job does not rescore "
                          "per action yet")
    if next_action:
        from pipeline.explain.whatif import require_events

        require_events(cfg.dataset.mode, str(cfg.source))
        if not cfg.offered_actions():
            raise ConfigError(f"{cfg.source}: --next-action: no action of actions.offer has "
                              "events this dataset logs: define some under actions.define")
    _check_by(by, cfg, engine, explain_leads, top, min_score)
    _check_workers(workers, engine)
    if route_leads and by == "account":
        raise ConfigError("--route hands sales leads, one row each: drop --by account (or run "
                          "the account roll-up as a second job)")
    package, model_name, model_version = resolve_model(cfg, model)
    package.check_settings(cfg.features, str(cfg.source))
    # Without --as-of a fresh job scores as of now and a resumed one as of its first run.
    given = as_of_option(as_of) if as_of else None
    job = ScoreJob(
        leads_path=input_path, output_path=output,
        activities_path=activities if activities else None, as_of=given,
        explain=explain_leads, batch_size=batch_size or cfg.scoring.batch_size, resume=resume,
        top=top, min_score=min_score, output_format=fmt, model_name=model_name,
        model_version=model_version, open_only=open_only, next_action=next_action,
        by_account=by == "account", workers=workers,
        # the routing file's account column, when the config names one
        account=route_leads and cfg.dataset.account is not None,
    )
    monitor = DriftMonitor(package.reference, cfg.monitor.psi_warn, cfg.monitor.psi_alarm) \
        if package.reference else None
    notes = JobNotes()
    drift_path: Path | None = Path(output)
    if engine == "spark":
        from pipeline.batch.spark import run_spark_job
        from pipeline.batch.spark_io import parse_spark_conf
        from pipeline.cli.console import stage_progress

        if input_format not in ("auto", "parquet", "csv", "delta"):
            raise ConfigError(f"--input-format {input_format!r}: use auto, parquet, csv or delta")
        if resume:
            # Not ignored in silence: Spark retries failed tasks itself, and an output without
            # _SUCCESS is discarded, so there is nothing to resume from.
            raise ConfigError("--resume is for --engine local; with --engine spark rerun the job "
                              "(add --spark-write-mode overwrite if a complete output exists)")
        with stage_progress("score (spark)") as bar:
            summary = run_spark_job(package, cfg, job, master=spark_master,
                                    conf=parse_spark_conf(spark_conf), input_format=input_format,
                                    write_mode=spark_write_mode, monitor=monitor, notes=notes,
                                    progress=bar)
        drift_path = _local_output(output)
    else:
        job = replace(job, leads_path=Path(input_path), output_path=Path(output),
                      activities_path=Path(activities) if activities else None)
        from pipeline.cli.console import progress

        with progress("leads") as bar:
            task = bar.add_task("score", total=None, rate="")

            def _advance(done: int, total: int, rows: int) -> None:
                elapsed = bar.tasks[task].elapsed or 1e-9
                bar.update(task, total=total, completed=done, rate=f"{rows / elapsed:,.0f}")

            summary = run_score_job(package, cfg, job, progress=_advance, monitor=monitor,
                                    notes=notes)
    when = ScoringTime(pd.Timestamp(summary["as_of"]), summary.get("as_of_source", "--as-of"))
    for notice in notes.notices:
        err.print(f"[cyan]note:[/] {notice}", highlight=False, soft_wrap=True)
    stale = staleness_warning(notes.newest, when, inactivity_limit(package, cfg), str(input_path),
                              str(activities) if activities else None)
    if stale and package.mode == "events":
        err.print(f"[yellow]warning:[/] {stale}", highlight=False, soft_wrap=True)
    for message, count in notes.warnings.items():
        err.print(f"[yellow]warning:[/] {message} ({count:,} rows)", highlight=False,
                  soft_wrap=True)
    if monitor is not None and monitor.rows:
        drift = monitor.result()
        if drift_path is not None:
            write_json(drift_path.with_name(drift_path.name + ".drift.json"),
                       {"rows": monitor.rows, "psi": drift.to_dict("records")})
        flagged = drift[drift["status"] != "ok"]
        if len(flagged):
            err.print(f"[yellow]drift:[/] {len(flagged)} feature(s) above PSI "
                      f"{cfg.monitor.psi_warn}: " + ", ".join(
                          f"{r.feature} {r.psi:.2f}" for r in flagged.head(5).itertuples()))
    out.print(f"[green]scored[/] {summary['input_rows']:,} leads -> {output} "
              f"({summary['output_rows']:,} {'accounts' if by == 'account' else 'rows'}, "
              f"{summary['rows_per_second']:,} leads/s, "
              f"model {model_name} {model_version}, as of {when})")
    if layout is not None:
        from pipeline.batch.route import default_route_path, write_route

        path = route_output or default_route_path(Path(output))
        routed = write_route(
            Path(output), path, layout, cfg.routing.capacity_per_week, weeks,
            {"--input": Path(input_path), "--output": Path(output),
             "--activities": Path(activities) if activities else None},
            {"mql_rule": package.mql.describe(package.scale), "model": f"{model_name} "
             f"{model_version}", "as_of": str(when.as_of)})
        _print_route(routed)


def _route_layout(cfg: Config, engine: str, name: str | None, weeks: float, top: int | None,
                  min_score: int | None, explain_leads: bool):
    """The routing file's layout, after refusing the options it cannot go with."""
    from pipeline.batch.route import route_format
    from pipeline.data.errors import ConfigError

    if engine != "local":
        # the list is one small file sorted across every lead; Spark writes part files
        raise ConfigError("--route: use --engine local (the routing list is one file sorted "
                          "across every lead; Spark writes a folder of parts)")
    if top is not None or min_score is not None:
        raise ConfigError("--route sizes its list by scoring.mql and routing.capacity_per_week: "
                          "drop --top / --min-score")
    if not explain_leads:
        raise ConfigError("--route hands sales the top reasons: drop --no-explain")
    if not weeks > 0:
        raise ConfigError(f"--weeks {weeks:g}: the weeks this run covers must be above 0")
    return route_format(name or cfg.routing.format)


def _print_route(summary: dict) -> None:
    """One line for the routing file: routed, held back, and why it may be empty."""
    cap = summary["capacity"]
    held = summary["held_back"]
    extra = f", {summary['disqualified_mqls']:,} disqualified MQLs left out" \
        if summary["disqualified_mqls"] else ""
    if summary["mqls"] == 0:
        err.print(f"[yellow]note:[/] no lead reached the MQL line ({summary['mql_rule']}): "
                  f"{summary['route']} holds the header only", highlight=False, soft_wrap=True)
    out.print(f"[green]routed[/] {summary['routed']:,} of {summary['mqls']:,} MQLs -> "
              f"{summary['route']} ({summary['format']}; capacity "
              f"{'none' if cap is None else f'{cap:,}'}; {held:,} held back{extra}; summary "
              f"{summary['route']}.json)", highlight=False, soft_wrap=True)


def _check_by(by: str, cfg: Config, engine: str, explain_leads: bool, top: int | None,
              min_score: int | None) -> None:
    """Refuse a ``--by`` the job cannot honour, with the reason, before anything is read."""
    from pipeline.data.errors import ConfigError

    if by not in ("lead", "account"):
        raise ConfigError(f"--by {by!r}: use 'lead' or 'account'")
    if by == "lead":
        return
    if not cfg.dataset.account:
        raise ConfigError(f"{cfg.source}: --by account needs dataset.account (the leads' account "
                          "column, or email_domain)")
    if engine != "local":
        raise ConfigError("--by account rolls every lead of an account up in one place: use "
                          "--engine local")
    if not explain_leads:
        raise ConfigError("--by account sums the leads' factor points, which --no-explain "
                          "skips: leave out --no-explain")
    if top is not None or min_score is not None:
        raise ConfigError("--top and --min-score pick leads; --by account writes every account")


def _check_workers(workers: int, engine: str) -> None:
    """Refuse a ``--workers`` the job cannot use; warn once when it exceeds the cores."""
    import os

    from pipeline.data.errors import ConfigError

    if workers < 1:
        raise ConfigError(f"--workers {workers}: use 1 (one process) or more")
    if workers > 1 and engine != "local":
        # refused rather than ignored: Spark's parallelism is its master's (local[N], a cluster)
        raise ConfigError(f"--workers {workers} is for --engine local; with --engine spark set "
                          "the cores with --spark-master local[N] or a cluster")
    cores = os.cpu_count() or 1
    if workers > cores:
        err.print(f"[yellow]warning:[/] --workers {workers} is more than the {cores} cores of "
                  "this machine: the extra processes share them and only add memory",
                  highlight=False, soft_wrap=True)


def _local_output(output: str) -> Path | None:
    """The local path of a Spark output (None for a remote URI: no drift file beside it)."""
    from pipeline.batch.spark_io import locate

    return locate(output).local


@app.command()
@user_errors
def drift(
    config: ConfigOpt,
    input_path: Annotated[Path, typer.Option("--input", help="New leads (CSV/Parquet).")],
    activities: Annotated[Path | None, typer.Option(
        "--activities", help="Activity log of the new leads.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="models:/NAME@ALIAS or a model.pkl (default: the champion).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Compute the new leads' features as of this time (default: now, the "
        "wall clock in UTC).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", help="JSON report path (default: artifacts/<dataset>/drift.json; a PNG is "
        "written beside it).")] = None,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """PSI of every feature and of the score against training; exit 3 on an alarm."""

    cfg = load(config, set_)
    package, _, _ = resolve_model(cfg, model)
    package.check_settings(cfg.features, str(cfg.source))
    drift_report(cfg, package, input_path, activities, as_of_option(as_of),
                 output or paths_of(cfg).root / "drift.json", table_format)


def drift_report(config: Config, package: ScoringPackage, leads_path: Path,
                 activities_path: Path | None, as_of: pd.Timestamp | None,
                 output: Path, table_format: Format = Format.table) -> pd.DataFrame:
    """Count the new leads into the training bins; write the report; raise on an alarm."""
    from rich.table import Table

    from pipeline.data.artifacts import write_bytes, write_json
    from pipeline.data.errors import DriftAlarm
    from pipeline.data.io import load_dataset
    from pipeline.data.scoring_time import check_created_by, wall_clock
    from pipeline.evaluation.drift import DriftMonitor
    from pipeline.evaluation.plots import importance_figure, to_png

    leads, activities, report = load_dataset(config, leads_path, activities_path, scoring=True)
    report.raise_if_failed()
    when = as_of if as_of is not None else wall_clock()
    if package.mode == "events":
        check_created_by(leads, when, str(leads_path), config.dataset.columns.created_at
                         or "created_at")
    X = package.features(leads, activities, when if package.mode == "events" else None)
    p = package.scorer.predict_proba(X)[:, 1]
    monitor = DriftMonitor(package.reference, config.monitor.psi_warn, config.monitor.psi_alarm)
    decided = leads["outcome"].isin(["won", "lost"]).to_numpy() if "outcome" in leads else None
    if decided is not None and decided.any():
        bands = package.shown(p)["band"].to_numpy()
        monitor.update(X, p, bands=bands, y=(leads["outcome"] == "won").to_numpy())
    else:
        monitor.update(X, p)
    table = monitor.result()
    by_band = monitor.conversion_by_band()
    write_json(output, {
        "rows": monitor.rows, "warn": config.monitor.psi_warn, "alarm": config.monitor.psi_alarm,
        "psi": table.to_dict("records"),
        "conversion_by_band": None if by_band is None else by_band.to_dict("records"),
    })
    top = table.head(20).set_index("feature")["psi"]
    write_bytes(output.with_suffix(".png"),
                to_png(importance_figure(top, "Population stability index (PSI)")))

    def show() -> None:
        view = Table(title=f"Drift of {monitor.rows:,} leads vs training", title_justify="left")
        for col in ("feature", "psi", "status"):
            view.add_column(col)
        for row in table.head(15).itertuples():
            color = {"alarm": "red", "warn": "yellow"}.get(row.status, "")
            view.add_row(row.feature, f"{row.psi:.3f}", f"[{color}]{row.status}[/]" if color
                         else row.status)
        out.print(view)
        if by_band is not None:
            out.print(by_band.to_string(index=False))

    # JSON and CSV carry every feature (conversion by band is in the report file)
    emit(table_format, table.to_dict("records"), show)
    out.print(f"wrote {output} and {output.with_suffix('.png')}")
    alarms = table[table["status"] == "alarm"]
    if len(alarms):
        raise DriftAlarm(f"{leads_path}: drift alarm (PSI > {config.monitor.psi_alarm}) in "
                         + ", ".join(alarms["feature"].head(5)))
    return table
