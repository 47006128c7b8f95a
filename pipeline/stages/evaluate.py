"""Evaluation of fitted packages on the test leads of a prepared training set.

Every kind is scored on the same test leads with the same metrics, AUC differences against the
reference kind (the rules) on the same bootstrap resamples. :func:`evaluate_saved` is what
``leadscore evaluate`` runs: the split ``train`` saved, not one rebuilt from today's config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.data.config import Config
from pipeline.evaluation.ages import metrics_by_age
from pipeline.evaluation.audit import check_model_leak, factor_aucs
from pipeline.evaluation.metrics import (
    bootstrap_auc,
    compare_scorers,
    metrics_by_segment,
    ranking_metrics,
)
from pipeline.explain.package import ScoringPackage
from pipeline.scorers import kinds
from pipeline.stages.prepare import Prepared, prepare_saved


def weekly_volume(prepared: Prepared, test_ids: pd.Index) -> float:
    """Leads per week among these rows (a flat export without dates is assumed to span a
    year); on the as_of grid a lead counts once, however many ages it has rows at."""
    ts = prepared.training_set
    leads = ts.leads
    n_leads = float(ts.lead_of.loc[test_ids].nunique())
    created = pd.to_datetime(leads.loc[test_ids, "created_at"]) if "created_at" in leads \
        else None
    if created is None or created.isna().all():
        return n_leads / 52.0
    weeks = max((created.max() - created.min()).days / 7.0, 1.0)
    return n_leads / weeks


def test_ages(prepared: Prepared) -> np.ndarray | None:
    """Days from creation to as_of of each test row (None for a flat export)."""
    ts = prepared.training_set
    if prepared.config.dataset.mode != "events" or "created_at" not in ts.leads:
        return None
    rows = prepared.ids("test")
    age = ts.as_of.loc[rows] - ts.leads.loc[rows, "created_at"]
    return (age.dt.total_seconds() / 86_400.0).to_numpy()


def _oracle_rows(truth: pd.Series | None, ages: np.ndarray | None) -> np.ndarray | None:
    """On an as_of grid, the test rows at the age the oracle's probability is defined for (the
    synthetic world's ``as_of_days``); None when every row is at that age or there is no oracle.
    """
    at = None if truth is None else truth.attrs.get("as_of_days")
    if at is None or ages is None:
        # an oracle of unknown age is not compared with grid rows (evaluate_packages)
        return None
    rows = np.isclose(ages, float(at), atol=0.5)
    return None if rows.all() else rows


def _oracle_at_its_age(metrics: dict[str, Any], probs: dict[str, np.ndarray], truth: pd.Series,
                       prepared: Prepared, rows: np.ndarray, y_test: np.ndarray) -> None:
    """The oracle and every scorer judged on the rows the oracle knows (one age of the grid)."""
    lead_of = prepared.training_set.lead_of.loc[prepared.ids("test")].to_numpy()[rows]
    oracle = truth.reindex(lead_of.astype(str)).to_numpy(dtype="float64")
    y = y_test[rows]
    metrics["oracle"] = {**ranking_metrics(y, oracle), "rows": int(rows.sum()),
                         "as_of_days": float(truth.attrs["as_of_days"])}
    for name, p in probs.items():
        metrics[name]["oracle_rows_roc_auc"] = float(roc_auc_score(y, p[rows]))


def evaluate_packages(
    config: Config,
    packages: dict[str, ScoringPackage],
    prepared: Prepared,
    truth: pd.Series | None = None,
    n_boot: int = 500,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every metric for every package (and the oracle when known) on the same test leads;
    ``progress`` is called with the name of each stage as it starts."""
    stage = progress or (lambda _: None)
    stage("score the test leads")
    X_test, y_test = prepared.rows("test")
    test_ids = prepared.ids("test")
    probs = {name: pkg.scorer.predict_proba(X_test)[:, 1] for name, pkg in packages.items()}
    # one MQL rule, each scorer's own line on its own calibrated probability
    mql = {name: pkg.mql.flags(probs[name]) for name, pkg in packages.items()}
    ages = test_ages(prepared)
    oracle_rows = _oracle_rows(truth, ages)
    grid = prepared.training_set.grid
    if truth is not None and oracle_rows is None and not grid:
        probs["oracle"] = truth.reindex(test_ids.astype(str)).to_numpy(dtype="float64")
    weekly = weekly_volume(prepared, test_ids)
    # the leads score --route would hand over: MQLs not disqualified, capped per week
    eligible = {name: pkg.disqualified(X_test, ages) == "" for name, pkg in packages.items()}
    stage(f"metrics and {n_boot} bootstrap resamples" if n_boot else "metrics")
    metrics: dict[str, Any] = compare_scorers(
        y_test, probs, mql, reference=kinds.REFERENCE, leads_per_week=weekly,
        capacity_per_week=config.routing.capacity_per_week, n_boot=n_boot, seed=config.seed,
        eligible=eligible,
    )
    if oracle_rows is not None and oracle_rows.any():
        _oracle_at_its_age(metrics, probs, truth, prepared, oracle_rows, y_test)
    if ages is not None:
        stage("metrics by lead age")
        metrics["by_age"] = metrics_by_age(y_test, probs, ages, n_boot=min(n_boot, 200),
                                           seed=config.seed)
    stage("segments, leak check and model choice")
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
                metrics[name].get("oracle_rows_roc_auc", metrics[name]["roc_auc"])
                / metrics["oracle"]["roc_auc"])
    if kinds.CHALLENGER in packages:
        # A model this good on leads it never saw is a leak the column audit could not see
        # (a combination, a renamed outcome): stop before anything is saved or registered.
        challenger = packages[kinds.CHALLENGER].scorer
        check_model_leak(metrics[kinds.CHALLENGER]["roc_auc"],
                         factor_aucs(challenger.factor_points(X_test)[challenger.spec.factors],
                                     y_test), config)
    for pkg in packages.values():
        choice = _selection_on_test(pkg, X_test, y_test, config, n_boot)
        if choice is not None:
            metrics["selection"] = choice
    if config.dataset.account and kinds.CHALLENGER in packages:
        stage("accounts")
        metrics["accounts"] = _accounts(prepared, packages[kinds.CHALLENGER],
                                        probs[kinds.CHALLENGER], n_boot, config.seed)
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


def _accounts(prepared: Prepared, pkg: ScoringPackage, p_test: np.ndarray, n_boot: int,
              seed: int) -> dict[str, Any]:
    """The model's account scores on the test accounts (:mod:`pipeline.evaluation.accounts`)."""
    from pipeline.evaluation.accounts import account_metrics

    valid = prepared.ids("valid")
    has_valid = prepared.X is not None and len(valid) and valid.isin(prepared.X.index).all()
    p_valid = pkg.scorer.predict_proba(prepared.X.loc[valid])[:, 1] if has_valid else None
    return account_metrics(prepared, p_test, p_valid, n_boot=n_boot, seed=seed)


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
    progress: Callable[[str], None] | None = None,
) -> tuple[Prepared, dict[str, Any], dict[str, np.ndarray]]:
    """Evaluate saved packages on the split their training saved."""
    builder = next(iter(packages.values())).builder
    if progress is not None:
        progress("features of the saved split")
    # the calibrated account score is fitted on the validation accounts
    parts = ("valid", "test") if config.dataset.account else ("test",)
    prepared = prepare_saved(config, leads, activities, split_table, builder, parts=parts)
    metrics, probs = evaluate_packages(config, packages, prepared, truth, n_boot, progress)
    return prepared, metrics, probs
