"""Data commands: ``validate``, ``synth``, ``audit``, ``features``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import ConfigOpt, SetOpt, app, load, load_clean, paths_of, user_errors
from pipeline.cli.console import Format, FormatOpt, emit, err, out


@app.command()
@user_errors
def validate(
    config: ConfigOpt,
    report_path: Annotated[Path | None, typer.Option(
        "--report", help="Also write the result as JSON (for pipelines).")] = None,
    set_: SetOpt = None,
) -> None:
    """Check config, data and rules the way train would; list every problem (exit 2 if any).

    Runs the input contract on both files (all structural and row-level problems in one pass),
    builds the training set the config defines (split, minimum conversions, feature
    declarations) and checks every field of the rules sheet against the real feature names.
    """
    from pipeline.data.errors import ConfigError
    from pipeline.stages.check import check_training_inputs

    try:
        cfg = load(config, set_)
    except ConfigError as exc:
        _print_problems(exc.details)
        raise typer.Exit(2) from None
    with err.status("checking data, training set and rules"):
        result = check_training_inputs(cfg)
    for warning in result.warnings:
        err.print(f"[yellow]note:[/] {warning}", highlight=False, soft_wrap=True)
    n_act = result.counts.get("activity_rows", 0)
    files = f"{cfg.dataset.leads}: {result.counts.get('lead_rows', 0):,} leads" + (
        f", {cfg.dataset.activities}: {n_act:,} activities" if cfg.dataset.activities
        and cfg.dataset.mode == "events" else "")
    if not result.ok:
        if result.contract_ok:
            err.print(f"input contract ok ({files}); training would refuse:", highlight=False)
        _print_problems(result.problems)
        raise typer.Exit(2)
    if report_path is not None:
        from pipeline.data.artifacts import write_json

        counts = result.counts
        write_json(report_path, {
            "leads": str(cfg.dataset.leads), "lead_rows": counts["lead_rows"],
            "activity_rows": counts["activity_rows"], "positives": counts["positives"],
            "violations": []})
    ts = result.counts["training_set"]
    out.print(f"[green]ok[/] {files}; training set {ts['eligible']:,} leads, "
              f"{ts['train_positives']:,} conversions in the training split", highlight=False)


def _print_problems(problems: list[str]) -> None:
    for problem in problems:
        err.print(problem, highlight=False, soft_wrap=True, markup=False)
    err.print(f"[bold red]{len(problems)} problem(s) found[/] (row numbers count data rows: "
              "row 1 is the first line after the header)")


@app.command()
@user_errors
def synth(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Take size, seed and folder from here.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the files.")] = None,
    leads: Annotated[int | None, typer.Option("--leads", min=100, help="Number of leads.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same bytes).")] = None,
    base_rate: Annotated[float | None, typer.Option(
        min=0.005, max=0.5, help="Share of leads that convert (default 0.08).")] = None,
    stages: Annotated[bool | None, typer.Option(
        "--stages/--no-stages", help="Add lifecycle stage dates (mql_date, sql_date, "
        "opportunity_date) to the leads; default synth.stages.")] = None,
) -> None:
    """Generate the synthetic B2B CRM world: leads, activities and the true probabilities."""
    from pipeline.cli.console import progress
    from pipeline.synth import write_world

    if config is not None:
        cfg = load(config)
        out_dir = out_dir or Path(cfg.dataset.leads).parent
        leads = leads or cfg.synth.leads
        seed = cfg.seed if seed is None else seed
        base_rate = base_rate or cfg.synth.base_rate
        signal, companies = cfg.synth.signal, cfg.synth.companies
        stages = cfg.synth.stages if stages is None else stages
    else:
        signal, companies = 1.0, None
    out_dir = out_dir or Path("artifacts/demo/data")
    leads = leads or 40_000
    seed = 42 if seed is None else seed
    base_rate = base_rate or 0.08
    with progress("leads") as bar:
        task = bar.add_task("synth", total=leads, rate="")

        def _advance(done: int, total: int) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f}" if elapsed else "")

        summary = write_world(out_dir, n_leads=leads, seed=seed, base_rate=base_rate,
                              progress=_advance, signal=signal, stages=bool(stages),
                              **({"companies": companies} if companies else {}))
    out.print(
        f"[green]wrote[/] {out_dir}: "
        + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in summary.items())
    )


@app.command()
@user_errors
def audit(config: ConfigOpt, set_: SetOpt = None,
          table_format: FormatOpt = Format.table) -> None:
    """Leakage audit: value and missingness AUC, one-outcome groups, late dates, ids."""
    from pipeline.data.artifacts import write_table
    from pipeline.stages.prepare import prepare, stop_on_suspects

    cfg = load(config, set_)
    leads, activities = load_clean(cfg)
    # the table first, then the stop: the user sees every suspect, not only the first
    prepared = prepare(cfg, leads, activities, parts=(), stop=False)
    table = prepared.audit
    write_table(paths_of(cfg).audit, table)
    emit(table_format, table.to_dict("records"),
         lambda: _audit_view(table, len(prepared.ids("train"))))
    out.print(f"wrote {paths_of(cfg).audit}")
    stop_on_suspects(cfg, table)


def _audit_view(table, n_train: int) -> None:
    from rich.table import Table

    view = Table(title=f"Leakage audit ({n_train:,} training leads)", title_justify="left")
    for col in ("column", "auc", "action", "reason"):
        view.add_column(col, justify="right" if col == "auc" else "left")
    for row in table.itertuples():
        style = "red" if row.action == "excluded" else ("yellow" if row.flagged else "")
        view.add_row(str(row.column), f"{row.auc:.3f}", row.action, row.reason, style=style)
    out.print(view)


@app.command()
@user_errors
def features(
    config: ConfigOpt,
    out_path: Annotated[Path | None, typer.Option("--out", help="Parquet file.")] = None,
    set_: SetOpt = None,
) -> None:
    """Write the feature table of the eligible training leads (spec in the file metadata)."""
    from pipeline.stages.feature_table import write_feature_table

    cfg = load(config, set_)
    path = write_feature_table(cfg, load_clean(cfg), out_path or paths_of(cfg).features)
    out.print(f"wrote {path}")
