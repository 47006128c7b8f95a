"""Writes what a training run produced: packages, split, metrics, curves and plots."""

from __future__ import annotations

import pandas as pd

from pipeline.artifacts import Paths, write_bytes, write_json, write_table
from pipeline.config import Config
from pipeline.plots import (
    calibration_figure,
    gains_figure,
    roc_figure,
    score_histogram_figure,
    to_png,
)
from pipeline.scaling import score_from_proba
from pipeline.training import TrainingResult, evaluation_curves


def test_scores_frame(result: TrainingResult) -> pd.DataFrame:
    """Per test lead: label, both scores, grades and per-factor points of both scorers."""
    ts = result.training_set
    test_ids = ts.part("test")
    X_test = result.X.loc[test_ids]
    frame = pd.DataFrame({"lead_id": test_ids.astype(str), "y": ts.y.loc[test_ids].to_numpy()})
    for name, package in result.packages.items():
        scored = package.score_features(X_test, explain_leads=True)
        for col in ("score", "band", "grade", "engagement_level", "mql", "reason_1",
                    "reason_2", "reason_3"):
            frame[f"{name}_{col}"] = scored[col].to_numpy()
        points = package.scorer.factor_points(X_test)
        for factor in points.columns:
            frame[f"{name}_points::{factor}"] = points[factor].to_numpy()
        frame[f"{name}_base_score"] = points.attrs["base_score"]
    return frame


def save_training_outputs(config: Config, result: TrainingResult) -> Paths:
    """Write packages, split, audit, metrics.json, curves (CSV) and plots (PNG)."""
    paths = Paths(config.out_dir)
    for name, package in result.packages.items():
        package.save(paths.package(name))
    ts = result.training_set
    split = pd.DataFrame({
        "lead_id": ts.y.index.astype(str), "as_of": ts.as_of.reindex(ts.y.index).to_numpy(),
        "y": ts.y.to_numpy(), "split": ts.split.reindex(ts.y.index).to_numpy(),
    })
    write_table(paths.split, split)
    write_table(paths.audit, result.audit)
    write_json(paths.metrics, {**result.metrics, "timings": result.timings,
                               "notes": result.notes})
    write_table(paths.test_scores, test_scores_frame(result))
    write_plots(paths, result)
    return paths


def write_plots(paths: Paths, result: TrainingResult) -> None:
    """ROC, gains, calibration (PNG + CSV for ``dvc plots``) and score histograms."""
    curves = evaluation_curves(result)
    aucs = {name: m["roc_auc"] for name, m in result.metrics.items()
            if isinstance(m, dict) and "roc_auc" in m}
    for name, table in (("roc", curves.roc), ("gains", curves.gains),
                        ("calibration", curves.calibration)):
        write_table(paths.plots / f"{name}.csv", table)
    write_bytes(paths.plots / "roc.png", to_png(roc_figure(curves.roc, aucs)))
    write_bytes(paths.plots / "gains.png", to_png(gains_figure(curves.gains)))
    write_bytes(paths.plots / "calibration.png", to_png(calibration_figure(curves.calibration)))
    y = result.y_test
    for name in result.packages:
        scores = score_from_proba(result.test_probabilities[name])
        write_bytes(paths.plots / f"score_histogram_{name}.png",
                    to_png(score_histogram_figure(scores, y, title=f"{name} score")))
