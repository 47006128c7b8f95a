"""Registry commands: ``promote`` (the champion/challenger gate) and ``models``."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.app import ConfigOpt, SetOpt, app, load, load_clean, tracking, user_errors
from pipeline.cli.console import out

VERSION_COLUMNS = ("model", "version", "aliases", "roc_auc", "ece", "created", "gate")


@app.command()
@user_errors
def promote(
    config: ConfigOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide but change nothing.")] = False,
    set_: SetOpt = None,
) -> None:
    """Gate: promote @challenger to @champion only if it beats the champion and the rules."""
    from pipeline.mlops.registry import promote_challenger

    cfg = load(config, set_)
    tracking(cfg)
    decision = promote_challenger(cfg, load_clean(cfg), dry_run=dry_run)
    color = "green" if decision.promote else "yellow"
    out.print(f"[{color}]{decision.summary()}[/]" + (" (dry run)" if dry_run else ""))


@app.command()
@user_errors
def models(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Registered versions with their aliases and key metrics."""
    from rich.table import Table

    from pipeline.mlops.registry import list_versions
    from pipeline.scorers import kinds

    cfg = load(config, set_)
    tracking(cfg)
    names = ", ".join(k.registered_name(cfg) for k in kinds.registered())
    table = Table(title=f"Registered models ({names})", title_justify="left")
    for col in VERSION_COLUMNS:
        table.add_column(col)
    for row in list_versions(cfg):
        row["gate"] = str(row.get("gate", "")).split(":")[0]
        table.add_row(*[str(row.get(c, "")) for c in VERSION_COLUMNS])
    out.print(table)
