"""``leadscore explain``: one lead's score as points per factor, grade and reasons."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.app import ConfigOpt, SetOpt, app, as_of_option, load, paths_of, user_errors
from pipeline.cli.console import Format, FormatOpt, emit, out
from pipeline.data.errors import DataError
from pipeline.scorers import kinds

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.data.artifacts import Paths
    from pipeline.data.config import Config
    from pipeline.data.scoring_time import ScoringTime


@app.command()
@user_errors
def explain(
    config: ConfigOpt,
    lead_id: Annotated[str | None, typer.Option("--lead-id", help="Lead to explain.")] = None,
    best_open: Annotated[bool, typer.Option(
        "--best-open", help="Explain the highest-scored open lead.")] = False,
    scorer: Annotated[str, typer.Option(
        "--scorer", help=f"Scorer kind: {', '.join(kinds.names())}.")] = kinds.CHALLENGER,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of (default: "
                                              "dataset.snapshot, else the export's latest "
                                              "date).")] = None,
    set_: SetOpt = None,
    table_format: FormatOpt = Format.table,
) -> None:
    """Why a lead scores what it scores: points per factor, grade, reasons.

    --format json gives the whole explanation as one object, csv the points per factor."""
    cfg = load(config, set_)
    kind = kinds.get(scorer).name
    if as_of:
        as_of_option(as_of)  # a bad date is an error even where the mode would not use it
    explain_lead(cfg, paths_of(cfg), kind, lead_id, best_open, as_of, Format(table_format))


def _as_of(config: Config, leads: pd.DataFrame, activities, as_of: str | None
           ) -> ScoringTime | None:
    """The as_of of the explanation and where it came from (explain reads the training export,
    so its default is that export's own date, never the wall clock)."""
    import pandas as pd

    from pipeline.data.scoring_time import GIVEN, ScoringTime

    if config.dataset.mode != "events":
        return None
    if as_of:
        return ScoringTime(as_of_option(as_of), GIVEN)
    if config.dataset.snapshot is not None:
        return ScoringTime(pd.Timestamp(config.dataset.snapshot), "dataset.snapshot")
    from pipeline.data.dataset import data_snapshot

    return ScoringTime(data_snapshot(leads, activities), "the export's latest date")


def explain_lead(config: Config, paths: Paths, kind: str, lead_id: str | None, best_open: bool,
                 as_of: str | None, fmt: Format | str = Format.table) -> dict:
    """Print (table, JSON or CSV) and return the explanation of one lead."""
    import numpy as np
    from rich.table import Table

    from pipeline.data.io import load_dataset
    from pipeline.data.scoring_time import check_created_by
    from pipeline.explain.grades import group_points
    from pipeline.explain.package import load_package
    from pipeline.explain.reasons import explain as explain_leads

    package = load_package(paths.package(kind))
    package.check_settings(config.features, str(config.source))
    leads, activities, report = load_dataset(config)
    report.raise_if_failed()
    timing = _as_of(config, leads, activities, as_of)
    when = None if timing is None else timing.as_of
    created_column = config.dataset.columns.created_at or "created_at"
    if best_open:
        pool = leads[leads["outcome"] == "open"]
        if pool.empty:
            raise DataError(f"{config.dataset.leads}: no open leads to explain")
        if when is not None:
            check_created_by(pool, when, str(config.dataset.leads), created_column,
                             rows=np.flatnonzero((leads["outcome"] == "open").to_numpy()))
        scores = package.scorer.predict_proba(package.features(pool, activities, when))[:, 1]
        lead_id = str(pool["lead_id"].iloc[int(np.argmax(scores))])
    if lead_id is None:
        raise DataError("give --lead-id ID or --best-open")
    row = leads[leads["lead_id"].astype(str) == str(lead_id)]
    if row.empty:
        raise DataError(f"{config.dataset.leads}: column 'lead_id': no lead {lead_id!r}")
    if when is not None:
        check_created_by(row, when, str(config.dataset.leads), created_column,
                         rows=np.flatnonzero(leads["lead_id"].astype(str) == str(lead_id)))
    X = package.features(row, activities, when)
    expl = explain_leads(package.scorer, X, package.grade_cuts, top=3)
    points = expl.points.iloc[0]
    shown = package.shown(package.scorer.predict_proba(X)[:, 1]).iloc[0]
    score = int(shown["score"])
    shares = expl.shares
    values = {}
    for factor in points.index:
        members = [f.name for f in package.spec.features_of_factor(factor)]
        if not members:  # what fit and engagement add together: no value of its own
            values[factor] = None
            continue
        best = package.spec.display_of(factor)
        if best is None or _shown(X.iloc[0][best], "numeric") is None:
            best = max(members, key=lambda n: abs(shares.iloc[0][n]))
        values[factor] = _shown(X.iloc[0][best], package.spec[best].dtype)
    fit_pts, eng_pts = group_points(expl.points, package.spec)
    result = {
        "lead_id": str(lead_id), "scorer": kind,
        "as_of": None if when is None else str(when),
        "as_of_source": None if timing is None else timing.source, "score": score,
        "probability": round(float(shown["probability"]), 6),
        "percentile": float(shown["percentile"]), "scale": package.scale.unit,
        "band": str(shown["band"]), "mql": bool(shown["mql"]),
        "grade": str(expl.grade[0]), "engagement_level": int(expl.engagement_level[0]),
        "base_score": round(expl.base_score, 2),
        "fit_points": round(float(fit_pts[0]), 2), "engagement_points": round(float(eng_pts[0]), 2),
        "factors": [{"factor": f, "value": values[f], "points": round(float(p), 2)}
                    for f, p in points.sort_values(key=np.abs, ascending=False).items()],
        "reasons": {k: v for k, v in expl.reasons.iloc[0].items() if v},
    }
    if Format(fmt) is Format.json:
        print(json.dumps(result, indent=2))
        return result
    if Format(fmt) is Format.csv:
        emit(fmt, [{"lead_id": result["lead_id"], **f} for f in result["factors"]],
             lambda: None)
        return result
    title = (f"Lead {lead_id}: score {score} ({result['band']}), grade "
             f"{result['grade']}{result['engagement_level']}, "
             f"{result['scorer']} as of {timing or 'export'}")
    table = Table(title=title, title_justify="left")
    table.add_column("factor")
    table.add_column("value", justify="right")
    table.add_column("points", justify="right")
    table.add_column("")
    table.add_row("base score", "", f"{expl.base_score:.1f}", "")
    biggest = max(abs(points).max(), 1e-9)
    for item in result["factors"]:
        if abs(item["points"]) < 0.05:
            continue
        bar_len = int(round(20 * abs(item["points"]) / biggest))
        color = "green" if item["points"] >= 0 else "red"
        shown = item["value"]
        shown = f"{shown:,}" if isinstance(shown, int | float) else str(shown or "")
        table.add_row(item["factor"], shown, f"{item['points']:+.1f}",
                      f"[{color}]{'█' * max(bar_len, 1)}[/]")
    table.add_row("score", "", f"{score}", "", style="bold")
    out.print(table)
    for key in ("positive", "negative"):
        lines = [v for k, v in result["reasons"].items() if k.startswith(key)]
        if lines:
            out.print(f"[bold]{'Why it is high' if key == 'positive' else 'What holds it back'}:"
                      "[/] " + "; ".join(lines))
    return result


def _shown(value, dtype: str):
    import numpy as np

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if dtype == "boolean":
        return "yes" if float(value) >= 0.5 else "no"
    if isinstance(value, float | np.floating):
        return int(value) if float(value).is_integer() else round(float(value), 2)
    return str(value)
