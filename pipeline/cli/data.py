"""Data commands: ``validate``, ``synth``, ``audit``, ``features``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import ConfigOpt, SetOpt, app, load, load_clean, paths_of, user_errors
from pipeline.cli.console import err, out


@app.command()
@user_errors
def validate(
    config: ConfigOpt,
    report_path: Annotated[Path | None, typer.Option(
        "--report", help="Also write the result as JSON (for pipelines).")] = None,
    set_: SetOpt = None,
) -> None:
    """Check the dataset against the input contract; list every violation (exit 2 if any)."""
    from pipeline.data.io import load_dataset

    cfg = load(config, set_)
    leads, activities, report = load_dataset(cfg)
    if report_path is not None and report.ok:
        from pipeline.data.artifacts import write_json

        write_json(report_path, {
            "leads": str(cfg.dataset.leads), "lead_rows": len(leads),
            "activity_rows": 0 if activities is None else len(activities),
            "positives": int((leads["outcome"] == "won").sum()),
            "violations": [str(v) for v in report.violations]})
    if not report.ok:
        for violation in report.violations:
            err.print(str(violation), highlight=False, soft_wrap=True, markup=False)
        err.print(f"[bold red]{len(report.violations)} problem(s) found[/]")
        raise typer.Exit(2)
    n_act = 0 if activities is None else len(activities)
    out.print(
        f"[green]ok[/] {cfg.dataset.leads}: {len(leads):,} leads"
        + (f", {cfg.dataset.activities}: {n_act:,} activities" if activities is not None else "")
    )


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
                              progress=_advance)
    out.print(
        f"[green]wrote[/] {out_dir}: "
        + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in summary.items())
    )


@app.command()
@user_errors
def audit(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Leakage audit: single-column AUC on the training split and post-contact columns."""
    from rich.table import Table

    from pipeline.data.artifacts import write_table
    from pipeline.stages.prepare import prepare

    cfg = load(config, set_)
    leads, activities = load_clean(cfg)
    prepared = prepare(cfg, leads, activities, parts=())
    table = prepared.audit
    write_table(paths_of(cfg).audit, table)
    view = Table(title=f"Leakage audit ({len(prepared.ids('train')):,} training leads)",
                 title_justify="left")
    for col in ("column", "auc", "action", "reason"):
        view.add_column(col, justify="right" if col == "auc" else "left")
    for row in table.itertuples():
        style = "red" if row.action == "excluded" else ("yellow" if row.flagged else "")
        view.add_row(str(row.column), f"{row.auc:.3f}", row.action, row.reason, style=style)
    out.print(view)
    out.print(f"wrote {paths_of(cfg).audit}")


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
