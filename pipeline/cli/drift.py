"""``leadscore drift``: population stability of features and score, JSON + PNG, exit 3 on alarm."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.table import Table

from pipeline.data.artifacts import write_bytes, write_json
from pipeline.data.config import Config
from pipeline.cli.console import out
from pipeline.data.errors import DriftAlarm
from pipeline.evaluation.drift import DriftMonitor
from pipeline.explain.package import ScoringPackage
from pipeline.evaluation.plots import importance_figure, to_png


def drift_report(config: Config, package: ScoringPackage, leads_path: Path,
                 activities_path: Path | None, as_of: pd.Timestamp | None,
                 output: Path) -> pd.DataFrame:
    """Count the new leads into the training bins; write the report; raise on an alarm."""
    from pipeline.data.io import load_dataset

    leads, activities, report = load_dataset(config, leads_path, activities_path, scoring=True)
    report.raise_if_failed()
    when = as_of if as_of is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    X = package.features(leads, activities, when if package.mode == "events" else None)
    p = package.scorer.predict_proba(X)[:, 1]
    monitor = DriftMonitor(package.reference, config.monitor.psi_warn, config.monitor.psi_alarm)
    decided = leads["outcome"].isin(["won", "lost"]).to_numpy() if "outcome" in leads else None
    if decided is not None and decided.any():
        from pipeline.explain.reasons import band_of
        from pipeline.scorers.scaling import score_from_proba

        bands = band_of(score_from_proba(p), package.score_bands)
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
    out.print(f"wrote {output} and {output.with_suffix('.png')}")
    alarms = table[table["status"] == "alarm"]
    if len(alarms):
        raise DriftAlarm(f"{leads_path}: drift alarm (PSI > {config.monitor.psi_alarm}) in "
                         + ", ".join(alarms["feature"].head(5)))
    return table
