"""Writes what an evaluation produced: metrics, test scores, curves, plots and the report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.data.artifacts import Paths, write_bytes, write_json, write_table
from pipeline.data.config import Config
from pipeline.data.io import atomic_path
from pipeline.evaluation.headlines import headline_metrics
from pipeline.evaluation.metrics import curves
from pipeline.evaluation.plots import (
    calibration_by_age_figure,
    calibration_figure,
    gains_figure,
    roc_figure,
    score_histogram_figure,
    to_png,
)
from pipeline.evaluation.report import example_leads, global_figures, render_report
from pipeline.explain.reasons import explain
from pipeline.scorers import kinds
from pipeline.scorers.scaling import score_from_proba
from pipeline.stages.evaluate import test_ages
from pipeline.stages.train import TrainingResult

PERFECT = "perfect"  # the perfect calibration line's series in dvc plots
CURVE_PLOTS = ("roc", "gains", "calibration", "calibration_by_age",
               *(f"score_histogram_{k}" for k in kinds.names()))


def test_scores_frame(result: TrainingResult, activities: pd.DataFrame | None = None,
                     actions: dict | None = None) -> pd.DataFrame:
    """Per test lead: label, and every scorer's score, grade, reasons and factor points.

    With ``activities`` and ``actions`` (event mode), the report's example leads also get the
    challenger's next best action (``<kind>_next_action`` and its ``_text`` line).
    """
    ts = result.training_set
    test_ids = ts.part("test")
    X_test = result.X.loc[test_ids]
    columns = {"lead_id": ts.lead_of.loc[test_ids].astype(str).to_numpy(),
               "y": ts.y.loc[test_ids].to_numpy()}
    if ts.grid:
        columns = {"row": test_ids.astype(str), **columns}
    if "lead_age_days" in X_test:
        columns["lead_age_days"] = X_test["lead_age_days"].to_numpy()
    for name, package in result.packages.items():
        # one TreeSHAP pass per scorer gives the grades, the reasons and the points alike
        scored = package.score_features(X_test, explain_leads=False)
        expl = explain(package.scorer, X_test, package.grade_cuts, top=package.top_reasons)
        # the same columns and types as score_features(explain_leads=True) gives
        scored["grade"] = expl.grade
        scored["engagement_level"] = pd.array(expl.engagement_level, dtype="Int64")
        for col in ("reason_1", "reason_2", "reason_3"):
            scored[col] = expl.reasons[col].to_numpy() if col in expl.reasons else ""
        for col in ("score", "probability", "percentile", "band", "grade", "engagement_level",
                    "mql", "status", "reason_1", "reason_2", "reason_3"):
            columns[f"{name}_{col}"] = scored[col].to_numpy()
        points = expl.points
        for factor in points.columns:
            columns[f"{name}_points::{factor}"] = points[factor].to_numpy()
        columns[f"{name}_base_score"] = np.full(len(X_test), points.attrs["base_score"])
    frame = pd.DataFrame(columns)
    package = result.packages.get(kinds.CHALLENGER)
    if activities is not None and actions and package is not None and package.mode == "events":
        _example_next_actions(frame, result, package, activities, actions)
    return frame


def _example_next_actions(frame: pd.DataFrame, result: TrainingResult, package,
                          activities: pd.DataFrame, actions: dict) -> None:
    """The challenger's next best action for the report's example leads, in place."""
    from pipeline.explain.whatif import action_line, what_if

    ts = result.training_set
    rows = ts.part("test")
    name, text = (f"{kinds.CHALLENGER}_next_action", f"{kinds.CHALLENGER}_next_action_text")
    frame[name], frame[text] = "", ""
    for pos in sorted(set(example_leads(frame).values())):
        key = rows[pos]
        lead_id = str(ts.lead_of.loc[key])
        lead = ts.leads[ts.leads["lead_id"].astype(str) == lead_id].head(1).reset_index(drop=True)
        when = pd.Series([ts.as_of.loc[key]], index=pd.Index([lead_id]))
        own = activities[activities["lead_id"].astype(str) == lead_id]
        best = what_if(package, lead, own, when, actions, factors=True).describe(0)[0]
        if best["probability_gain"] > 0:
            frame.loc[pos, name], frame.loc[pos, text] = best["action"], action_line(best)


def save_evaluation(config: Config, result: TrainingResult,
                    progress: Callable[[str], None] | None = None,
                    activities: pd.DataFrame | None = None) -> Paths:
    """Write evaluation.json and the headline metrics, test scores, curves (CSV) and plots
    (PNG); ``progress`` is called with the name of each stage as it starts. ``activities``:
    the training activity log, for the example leads' next best action in the report."""
    stage = progress or (lambda _: None)
    paths = Paths(config.out_dir)
    builder = next(iter(result.packages.values())).builder
    gate = getattr(builder, "decay_gate_", None)
    write_json(paths.metrics, {**result.metrics, "timings": result.timings,
                               "notes": result.notes,
                               "decay": [c.as_row() for c in getattr(builder, "decay_", [])],
                               "decay_gate": gate.as_row() if gate is not None else None})
    write_json(paths.headline, headline_metrics(result.metrics))
    stage("test scores, grades and reasons")
    actions = config.offered_actions()  # read always: one set of DVC params per stage
    actions = actions if config.dataset.mode == "events" else None
    scores = test_scores_frame(result, activities, actions)
    write_table(paths.test_scores, scores)
    stage("curves and plots")
    write_plots(paths, result)
    ts = result.training_set
    segment = None
    segment_column = config.dataset.segment or (
        "product_line" if "product_line" in ts.leads.columns else None)
    if segment_column and segment_column in ts.leads.columns:
        segment = ts.leads.loc[ts.part("test"), segment_column].astype(str).reset_index(drop=True)
    spec = next(iter(result.packages.values())).spec
    stage("factor figures")
    figures = global_figures(scores, result.X.loc[ts.part("test")], spec, segment)
    for name, png in figures.items():
        write_bytes(paths.plots / f"{name}.png", png)
    return paths


def build_report(config: Config, paths: Paths) -> Path:
    """Render report.html from the saved evaluation (metrics, test scores, audit, plots)."""
    import json

    from pipeline.data.errors import ModelError

    if not paths.metrics.is_file() or not paths.test_scores.is_file():
        raise ModelError(f"{paths.metrics}: no evaluation yet (run `leadscore evaluate`)")
    metrics = json.loads(paths.metrics.read_text())
    scores = pd.read_parquet(paths.test_scores)
    audit = pd.read_csv(paths.audit) if paths.audit.is_file() else None
    plots = {p.stem: p.read_bytes() for p in sorted(paths.plots.glob("*.png"))}
    curve_plots = {k: v for k, v in plots.items() if k in CURVE_PLOTS}
    figures = {k: v for k, v in plots.items() if k not in CURVE_PLOTS}
    html = render_report(config.dataset.name, metrics, scores, audit, curve_plots, figures,
                         metrics.get("notes", []))
    with atomic_path(paths.report) as tmp:
        tmp.write_text(html)
    return paths.report


def write_plots(paths: Paths, result: TrainingResult) -> None:
    """ROC, gains, calibration (PNG + CSV for ``dvc plots``) and score histograms."""
    tables = curves(result.y_test, result.test_probabilities)
    aucs = {name: m["roc_auc"] for name, m in result.metrics.items()
            if isinstance(m, dict) and "roc_auc" in m}
    for name, table in (("roc", tables.roc), ("gains", tables.gains),
                        ("calibration", tables.calibration)):
        write_table(paths.plots / f"{name}.csv", table)
        # one file per scorer too: `dvc plots` draws one line per file
        for scorer, part in table.groupby("scorer", sort=False):
            write_table(paths.plots / f"{name}_{scorer}.csv", part.drop(columns="scorer"))
    # the diagonal as a series of its own: DVC's templates draw no reference line
    write_table(paths.plots / f"calibration_{PERFECT}.csv", pd.DataFrame({"x": [0.0, 1.0],
                                                                         "y": [0.0, 1.0]}))
    write_bytes(paths.plots / "roc.png", to_png(roc_figure(tables.roc, aucs)))
    write_bytes(paths.plots / "gains.png", to_png(gains_figure(tables.gains)))
    write_bytes(paths.plots / "calibration.png", to_png(calibration_figure(tables.calibration)))
    y = result.y_test
    ages = test_ages(result.prepared)
    if ages is not None and kinds.CHALLENGER in result.test_probabilities:
        write_bytes(paths.plots / "calibration_by_age.png", to_png(calibration_by_age_figure(
            np.asarray(y), result.test_probabilities[kinds.CHALLENGER], ages,
            title=f"{kinds.display(kinds.CHALLENGER)}: calibration by lead age")))
    for name in result.packages:
        scores = score_from_proba(result.test_probabilities[name])
        write_bytes(paths.plots / f"score_histogram_{name}.png",
                    to_png(score_histogram_figure(scores, y,
                                                  title=f"{kinds.display(name)} score")))
