"""Registry commands: ``promote`` (the champion/challenger gate) and ``models``."""

from __future__ import annotations

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
