"""Evaluation of fitted packages on the test leads of a prepared training set.

Every kind is scored on the same test leads with the same metrics, AUC differences against the
reference kind (the rules) on the same bootstrap resamples. :func:`evaluate_saved` is what
``leadscore evaluate`` runs: the split ``train`` saved, not one rebuilt from today's config.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.data.config import Config
from pipeline.evaluation.audit import check_model_leak, factor_aucs
from pipeline.evaluation.metrics import bootstrap_auc, compare_scorers, metrics_by_segment
from pipeline.explain.package import ScoringPackage
from pipeline.scorers import kinds
from pipeline.stages.prepare import Prepared, prepare_saved


def weekly_volume(prepared: Prepared, test_ids: pd.Index) -> float:
    """Test leads per week (a flat export without dates is assumed to span a year)."""
    leads = prepared.training_set.leads
    created = pd.to_datetime(leads.loc[test_ids, "created_at"]) if "created_at" in leads \
        else None
    if created is None or created.isna().all():
        return float(len(test_ids)) / 52.0
    weeks = max((created.max() - created.min()).days / 7.0, 1.0)
    return len(test_ids) / weeks


def evaluate_packages(
    config: Config,
    packages: dict[str, ScoringPackage],
    prepared: Prepared,
    truth: pd.Series | None = None,
    n_boot: int = 500,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every metric for every package (and the oracle when known) on the same test leads."""
    X_test, y_test = prepared.rows("test")
    test_ids = prepared.ids("test")
    probs = {name: pkg.scorer.predict_proba(X_test)[:, 1] for name, pkg in packages.items()}
    # one MQL rule, each scorer's own line on its own calibrated probability
    mql = {name: pkg.mql.flags(probs[name]) for name, pkg in packages.items()}
    if truth is not None:
        probs["oracle"] = truth.reindex(test_ids.astype(str)).to_numpy(dtype="float64")
    weekly = weekly_volume(prepared, test_ids)
    metrics: dict[str, Any] = compare_scorers(
        y_test, probs, mql, reference=kinds.REFERENCE, leads_per_week=weekly,
        capacity_per_week=max(1.0, round(0.2 * weekly)), n_boot=n_boot, seed=config.seed,
    )
    for name, pkg in packages.items():
        metrics[name].update(pkg.scorer.fit_metrics())
        view = pkg.scorer.segment_view(X_test)
        if view is None:
            continue
        keys, extra, chosen = view
        by_segment = metrics_by_segment(y_test, keys, {**probs, **extra})
        for level, entry in by_segment.items():
            entry["choice"] = chosen.get(level, "global")
        metrics["segments"] = by_segment
    if "oracle" in metrics:
        for name in packages:
            metrics[name]["auc_ratio_to_oracle"] = (
                metrics[name]["roc_auc"] / metrics["oracle"]["roc_auc"])
    if kinds.CHALLENGER in packages:
        # A model this good on leads it never saw is a leak the column audit could not see
        # (a combination, a renamed outcome): stop before anything is saved or registered.
        challenger = packages[kinds.CHALLENGER].scorer
        check_model_leak(metrics[kinds.CHALLENGER]["roc_auc"],
                         factor_aucs(challenger.factor_points(X_test), y_test), config)
    for pkg in packages.values():
        choice = _selection_on_test(pkg, X_test, y_test, config, n_boot)
        if choice is not None:
            metrics["selection"] = choice
    metrics["split"] = prepared.training_set.summary()
    for name, pkg in packages.items():
        metrics[name]["calibration"] = pkg.scorer.calibrator_.method_
        metrics[name]["mql_rule"] = pkg.mql.describe(pkg.scale)
        metrics[name]["bands"] = pkg.bands.describe(pkg.scale)
    metrics["scale"] = {"unit": packages[kinds.CHALLENGER].scale.unit,
                        "chosen": packages[kinds.CHALLENGER].scale.chosen,
                        "text": packages[kinds.CHALLENGER].scale.explain()} \
        if kinds.CHALLENGER in packages else {}
    return metrics, probs


def _selection_on_test(pkg: ScoringPackage, X_test: pd.DataFrame, y_test: np.ndarray,
                       config: Config, n_boot: int) -> dict[str, Any] | None:
    """The model choice (made on validation) with how each candidate then did on test."""
    choice = pkg.scorer.selection()
    if choice is None:
        return None
    for name, scorer in pkg.scorer.candidate_scorers().items():
        p = scorer.predict_proba(X_test)[:, 1]
        figures = choice["candidates"][name]
        figures["test_roc_auc"] = float(roc_auc_score(y_test, p))
        if n_boot:
            ci = bootstrap_auc(y_test, p, n_boot=n_boot, seed=config.seed)
            figures["test_auc_ci_low"] = ci["auc_ci_low"]
            figures["test_auc_ci_high"] = ci["auc_ci_high"]
    return choice


def evaluate_saved(
    config: Config,
    packages: dict[str, ScoringPackage],
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    split_table: pd.DataFrame,
    truth: pd.Series | None = None,
    n_boot: int = 500,
) -> tuple[Prepared, dict[str, Any], dict[str, np.ndarray]]:
    """Evaluate saved packages on the split their training saved."""
    builder = next(iter(packages.values())).builder
    prepared = prepare_saved(config, leads, activities, split_table, builder)
    metrics, probs = evaluate_packages(config, packages, prepared, truth, n_boot)
    return prepared, metrics, probs
