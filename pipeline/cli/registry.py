"""Registry commands: ``promote`` (the champion/challenger gate), ``recalibrate`` and ``models``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import ConfigOpt, SetOpt, app, load, load_clean, tracking, user_errors
from pipeline.cli.console import Format, FormatOpt, emit, out

VERSION_COLUMNS = ("model", "version", "aliases", "roc_auc", "ece", "ece_adaptive", "created",
                   "gate")


@app.command()
@user_errors
def promote(
    config: ConfigOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide but change nothing.")] = False,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """Gate: promote @challenger to @champion only if, on one holdout, the 95 % intervals show
    it no worse than the champion and the learned points and better than the rules."""
    from pipeline.mlops.registry import promote_challenger

    cfg = load(config, set_)
    tracking(cfg)
    decision = promote_challenger(cfg, load_clean(cfg), dry_run=dry_run)
    rows = [{"against": c.against, "metric": c.metric, "difference": c.diff, "ci_low": c.low,
             "ci_high": c.high, "rule": c.rule(), "passed": c.passed}
            for c in decision.comparisons]
    emit(table_format, {"gate": rows, "challenger": [decision.figures],
                        "decision": [{"promote": decision.promote, "dry_run": dry_run,
                                      "summary": decision.summary()}]},
         lambda: gate_table(decision))
    color = "green" if decision.promote else "yellow"
    out.print(f"[{color}]{decision.summary()}[/]" + (" (dry run)" if dry_run else ""),
              highlight=False)


def gate_table(decision) -> None:
    """The gate's comparisons (difference, 95 % interval, rule, pass/fail), the challenger's
    calibration and the holdout they were measured on."""
    from rich.table import Table

    table = Table(title=f"Promotion gate on the {decision.holdout}", title_justify="left")
    for col, justify in (("challenger vs", "left"), ("metric", "left"), ("difference", "right"),
                         ("95% CI", "right"), ("rule", "left"), ("result", "left")):
        table.add_column(col, justify=justify)
    for c in decision.comparisons:
        table.add_row(c.against, c.metric, f"{c.diff:+.4f}", f"{c.low:+.4f} to {c.high:+.4f}",
                      c.rule(), "pass" if c.passed else "[bold red]FAIL[/]")
    out.print(table)
    f = decision.figures
    out.print(f"challenger: AUC {f['challenger_auc']:.4f}, adaptive ECE "
              f"{f['challenger_ece_adaptive']:.4f} (the gated one), equal-width ECE "
              f"{f['challenger_ece']:.4f}, Brier {f['challenger_brier']:.4f}", highlight=False)


@app.command()
@user_errors
def models(config: ConfigOpt, set_: SetOpt = None,
           table_format: FormatOpt = Format.table) -> None:
    """Registered versions with their aliases and key metrics."""
    from pipeline.mlops.registry import list_versions
    from pipeline.scorers import kinds

    cfg = load(config, set_)
    tracking(cfg)
    names = ", ".join(k.registered_name(cfg) for k in kinds.registered())
    rows = list_versions(cfg)
    for row in rows:
        row["gate_detail"] = row.get("gate", "")
        row["gate"] = str(row.get("gate", "")).split(":")[0]

    def view() -> None:
        from rich.table import Table

        table = Table(title=f"Registered models ({names})", title_justify="left")
        for col in VERSION_COLUMNS:
            table.add_column(col)
        for row in rows:
            table.add_row(*[str(row.get(c, "")) for c in VERSION_COLUMNS])
        out.print(table)

    emit(table_format, rows, view, columns=[*VERSION_COLUMNS, "gate_detail"])


@app.command()
@user_errors
def recalibrate(
    config: ConfigOpt,
    leads: Annotated[Path | None, typer.Option(
        "--leads", help="Leads export with the recent outcomes, read with the config's mapping "
        "and contracts (default: dataset.leads).")] = None,
    activities: Annotated[Path | None, typer.Option(
        "--activities", help="Its activity log (default: dataset.activities).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only leads created after this date (default: after the champion's "
        "training data, the newest as_of of its saved split).")] = None,
    holdout: Annotated[float, typer.Option(
        "--holdout", help="Share of the recent matured rows, the newest, held out from the "
        "calibrator for the promotion gate.")] = 0.3,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Fit and gate, but register and change nothing.")] = False,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """Refit only the champion's calibrator on recent matured leads (same trees, same
    explanations); register it as @challenger and run the promotion gate on the newest ones."""
    from pipeline.data.config import Config
    from pipeline.data.errors import ConfigError
    from pipeline.data.scoring_time import parse_as_of
    from pipeline.mlops.recalibration import recalibrate_champion

    cfg: Config = load(config, set_)
    inputs = {k: v for k, v in (("leads", leads), ("activities", activities)) if v is not None}
    if inputs:
        cfg = cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update=inputs)})
    start = parse_as_of(since, "--since", ConfigError) if since else None
    tracking(cfg)
    result = recalibrate_champion(cfg, *load_clean(cfg), since=start, holdout_share=holdout,
                                  dry_run=dry_run)
    decision = result.decision
    rows = [{"model": label, **figures} for label, figures in result.holdout.items()]
    emit(table_format, {"calibration": rows, "lineage": [result.tags],
                        "gate": [{"against": c.against, "metric": c.metric,
                                  "difference": c.diff, "ci_low": c.low, "ci_high": c.high,
                                  "rule": c.rule(), "passed": c.passed}
                                 for c in decision.comparisons],
                        "decision": [{"promote": decision.promote, "dry_run": dry_run,
                                      "version": result.version or "",
                                      "summary": decision.summary()}]},
         lambda: _recalibration_view(result))
    if result.version:
        out.print(f"registered {result.name} v{result.version} as @challenger "
                  f"({result.method} calibrator, recalibrated from v{result.champion_version})"
                  + (", promoted to @champion" if decision.promote else ""), highlight=False)
    color = "green" if decision.promote else "yellow"
    out.print(f"[{color}]{decision.summary()}[/]" + (" (dry run)" if dry_run else ""),
              highlight=False)


def _recalibration_view(result) -> None:
    """The recent leads, the calibration before and after on the holdout, the gate."""
    from rich.table import Table

    from pipeline.stages.recalibrate import FIT, HOLDOUT

    recent = result.recent
    for part, label in ((FIT, "calibrator fit"), (HOLDOUT, "holdout")):
        n, won = recent.count(part)
        first, last = recent.as_of_range(part)
        out.print(f"{label}: {n} leads, {won} conversions, as_of {first:%Y-%m-%d} to "
                  f"{last:%Y-%m-%d}", highlight=False)
    table = Table(title=f"Calibration on the holdout (observed rate {result.observed:.3f})",
                  title_justify="left")
    for col in ("model", "calibrator", "mean probability", "adaptive ECE (95% CI)", "AUC"):
        table.add_column(col, justify="left" if col in ("model", "calibrator") else "right")
    methods = {"champion": result.champion_method, "recalibrated": result.method}
    for label, f in result.holdout.items():
        table.add_row(f"{label}" + (f" v{result.champion_version}" if label == "champion"
                                    else ""), methods[label], f"{f['mean_probability']:.3f}",
                      f"{f['ece_adaptive']:.4f} ({f['ece_adaptive_ci_low']:.4f}-"
                      f"{f['ece_adaptive_ci_high']:.4f})", f"{f['roc_auc']:.4f}")
    out.print(table)
    gate_table(result.decision)
