"""``monitor``: past scores against the outcomes that have matured since; exit 3 on an alarm."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import (
    ConfigOpt,
    SetOpt,
    app,
    load,
    paths_of,
    tracking,
    tracking_on,
    user_errors,
)
from pipeline.cli.console import Format, FormatOpt, emit, err, out


@app.command()
@user_errors
def monitor(
    config: ConfigOpt,
    scores: Annotated[list[Path], typer.Option(
        "--scores", help="A score file `leadscore score` wrote (repeatable: several months, "
        "several model versions).")],
    outcomes: Annotated[Path, typer.Option(
        "--outcomes", help="A later leads export with outcomes (won/lost/open and the close "
        "date), read through the config's column mapping.")],
    output: Annotated[Path | None, typer.Option(
        "--output", help="Folder for monitor.json, monitor.html and reliability.png (default: "
        "artifacts/<dataset>/monitor/).")] = None,
    snapshot: Annotated[str | None, typer.Option(
        "--snapshot", help="When the outcomes export was taken (default: its latest date); "
        "a score matures when its as_of + dataset.horizon_days is at or before it.")] = None,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """Judge past scores on matured outcomes per model version and month; exit 3 on an alarm."""
    from pipeline.data.errors import ConfigError, DriftAlarm
    from pipeline.data.scoring_time import parse_as_of
    from pipeline.stages.monitor import run_monitor, write_monitor

    cfg = load(config, set_)
    when = parse_as_of(snapshot, "--snapshot", ConfigError) if snapshot else None
    run = run_monitor(cfg, scores, outcomes, when)
    for warning in run.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    result = run.result
    for note in result.notes:
        err.print(f"[cyan]note:[/] {note}", highlight=False, soft_wrap=True)
    folder = output or paths_of(cfg).root / "monitor"
    files = write_monitor(result, folder, cfg.dataset.name)
    summary = result.to_dict()
    # JSON: the whole summary; CSV: one row per version and month (no nested tables)
    rows = summary if table_format is Format.json else result.table().to_dict("records")
    emit(table_format, rows, lambda: _show(summary))
    out.print(f"wrote {files['json']}, {files['html']} and {files['plot']}")
    _log(cfg, summary, files)
    alarms = result.alarms()
    if alarms:
        for group in alarms:
            err.print(f"[bold red]calibration alarm:[/] {group['model_name']} "
                      f"{group['model_version']}, month {group['month']}: ECE "
                      f"{group['ece_adaptive']:.3f} (95 % CI {group['ece_adaptive_ci_low']:.3f}-"
                      f"{group['ece_adaptive_ci_high']:.3f}) above monitor.ece_limit "
                      f"{cfg.monitor.ece_limit:g}, on {group['matured']:,} matured leads",
                      highlight=False, soft_wrap=True)
        fired = ", ".join(f"{g['model_name']} {g['model_version']} {g['month']}" for g in alarms)
        raise DriftAlarm(f"{', '.join(map(str, scores))}: calibration alarm in {fired} "
                         "(recalibrate or retrain)")
    if not summary["totals"]["matured"]:
        err.print("[yellow]note:[/] no scored lead has matured yet: counts only",
                  highlight=False)


def _show(summary: dict) -> None:
    """The per version and month table on stdout."""
    from rich.table import Table

    from pipeline.evaluation.monitor_report import COLUMNS, group_cells

    totals = summary["totals"]
    view = Table(title=f"Scores judged on outcomes up to {summary['snapshot'][:10]} "
                 f"({totals['matured']:,} of {totals['scored']:,} matured, "
                 f"{totals['pending']:,} pending)", title_justify="left")
    for label, _ in COLUMNS:
        view.add_column(label)
    for group in summary["groups"]:
        cells = group_cells(group, summary["ece_limit"])
        row = [cells[key] for _, key in COLUMNS]
        if group["alarm"]:
            row[-1] = f"[bold red]{row[-1]}[/]"
        view.add_row(*row)
    out.print(view)


def _log(cfg, summary: dict, files: dict[str, Path]) -> None:
    """The monitor on each registered version's training run; package files get a note."""
    import pandas as pd

    versions = {(g["model_name"], g["model_version"]) for g in summary["groups"]}
    if not tracking_on():
        return
    if all(not v.isdigit() for _, v in versions):
        err.print("[cyan]note:[/] no registered model version among the scores (package "
                  "files): nothing logged to MLflow", highlight=False)
        return
    from pipeline.mlops.monitoring import log_monitor

    tracking(cfg)
    step = int((pd.Timestamp(summary["snapshot"]) - pd.Timestamp(0)) // pd.Timedelta(days=1))
    logged = log_monitor(summary, files, step)
    for label, run_id in logged.runs.items():
        out.print(f"logged to MLflow run {run_id} ({label})")
    for label, why in logged.skipped.items():
        err.print(f"[cyan]note:[/] {label}: {why}: not logged to MLflow", highlight=False)
