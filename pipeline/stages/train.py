"""Training: from a prepared training set to one fitted, evaluated scoring package per kind.

Pure orchestration of the core (no files, no MLflow): prepare (:mod:`pipeline.stages.prepare`),
build every scorer kind from the kinds table and fit it on the same training and validation rows,
learn grade cuts and the drift reference on the training rows, and evaluate every package on the
test rows with the same metrics (:mod:`pipeline.stages.evaluate`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data.config import Config
from pipeline.data.dataset import TrainingSet
from pipeline.data.errors import DataError
from pipeline.evaluation.drift import build_reference
from pipeline.evaluation.time_proxy import flagged_proxies
from pipeline.explain.grades import GradeCuts, group_points
from pipeline.explain.package import ScoringPackage, settings_fingerprint
from pipeline.explain.thresholds import learn_bands, learn_mql
from pipeline.scorers import kinds
from pipeline.scorers.rules import RulesBook
from pipeline.scorers.scaling import ScoreScale
from pipeline.stages.evaluate import evaluate_packages, weekly_volume
from pipeline.stages.prepare import Prepared, prepare


@dataclass
class TrainingResult:
    """What one training (or evaluation) run produced."""

    training_set: TrainingSet
    audit: pd.DataFrame
    packages: dict[str, ScoringPackage]
    X: pd.DataFrame
    metrics: dict[str, Any]
    test_probabilities: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    prepared: Prepared | None = None

    @property
    def y_test(self) -> np.ndarray:
        """Labels of the test leads."""
        ts = self.training_set
        return ts.y.loc[ts.part("test")].to_numpy()


def check_minimum_data(summary: dict[str, Any], config: Config) -> list[str]:
    """Refuse too few conversions to learn from; warn when validation is thin.

    Returns the warnings (the caller prints them); raises :class:`DataError` (exit 2) when the
    training split has fewer conversions than ``guard.min_train_conversions`` or a split has
    fewer than 5 (no metric or calibrator can be computed).
    """
    guard = config.guard
    where = config.dataset.leads
    train = summary["train_positives"]
    if train < guard.min_train_conversions:
        purged = sum(v for k, v in summary.items() if k.startswith("excluded_purged"))
        # a longer horizon widens the purge gap, so it is no way out when the gap took the leads
        way_out = (f"; the purge gap left out {purged:,} leads whose label window reaches into "
                   "a later split (split.purge): training leads must be a horizon older than "
                   "the test split, so collect more history or start with the rules") \
            if purged else ("; collect more history, widen dataset.horizon_days, or start with "
                            "the rules")
        raise DataError(
            f"{where}: only {train} converted leads in the training split, fewer than the "
            f"minimum {guard.min_train_conversions} (guard.min_train_conversions): a model "
            f"fitted on so few conversions looks good by luck{way_out}")
    for part in ("valid", "test"):
        if summary[f"{part}_positives"] < 5:
            raise DataError(f"{where}: only {summary[f'{part}_positives']} converted leads in the "
                            f"{part} split; need more history to train")
    valid = summary["valid_positives"]
    if valid < guard.min_valid_conversions:
        return [f"only {valid} conversions in the validation split (fewer than "
                f"guard.min_valid_conversions = {guard.min_valid_conversions}): the calibrator "
                "and early stopping are noisy; treat calibration figures with care"]
    return []


def _stand_in_rules(prepared: Prepared, fit_rows: tuple) -> tuple[RulesBook, str]:
    """A points table learned from the training split, standing in for a missing rules sheet."""
    ctx = prepared.scorer_context(RulesBook(), "rules")
    book = kinds.get(kinds.POINTS_TABLE).build(ctx).fit(
        *fit_rows, sample_weight=prepared.weights()).points_book()
    name = "a learned points table (stand-in)"
    return book.model_copy(update={"name": name}), name


def train_scorers(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    rules: RulesBook | None,
    best_params: dict[str, Any] | None = None,
    truth: pd.Series | None = None,
    rules_source: str = "rules",
    log: Any = None,
    split: pd.Series | None = None,
    n_boot: int = 500,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fit, calibrate and evaluate every scorer kind on one split.

    Parameters
    ----------
    config
        Run configuration.
    leads, activities
        Canonical frames (validated).
    rules
        The hand-made points table; None: a learned points table stands in (said in the notes).
    best_params
        Tuned LightGBM parameters overriding ``config.model.params``.
    truth
        True conversion probabilities by lead_id (synthetic data only): adds the oracle.
    rules_source
        Name of the rules file in errors.
    log
        Callable receiving progress lines.
    split
        Train/valid/test assignment by lead_id replacing the configured split (cross-validation).
    n_boot
        Bootstrap resamples for the confidence intervals.
    progress
        Called with the name of each stage as it starts (the CLI's progress line).
    """
    say = log or (lambda *_: None)
    stage = progress or (lambda _: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    stage("features and leakage audit")
    prepared = prepare(config, leads, activities, split=split)
    ts = prepared.training_set
    summary = ts.summary()
    notes = list(prepared.notes) + check_minimum_data(summary, config)
    say(f"training set: {summary}")
    if prepared.excluded:
        say(f"excluded by the leakage audit: {', '.join(prepared.excluded)}")
    timings["prepare_s"] = time.perf_counter() - t0

    fit_rows = prepared.fit_rows()
    if rules is None:
        rules, rules_source = _stand_in_rules(prepared, fit_rows)
        notes.append(f"no rules file (rules: null): the rules comparison is {rules.name}, "
                     "learned from the training split; set rules: to compare with your own sheet")
    ctx = prepared.scorer_context(rules, rules_source, best_params)
    X_train, _, X_valid, y_valid = fit_rows
    scorers = {}
    for kind in kinds.KINDS:
        t0 = time.perf_counter()
        stage(f"fit {kind.name}")
        scorers[kind.name] = scorer = kind.build(ctx).fit(*fit_rows,
                                                          sample_weight=prepared.weights())
        for line in scorer.training_lines():
            say(line)
        notes += scorer.notes()
        timings[f"{kind.name}_fit_s"] = time.perf_counter() - t0
    p_train = {name: s.predict_proba(X_train)[:, 1] for name, s in scorers.items()}
    # one displayed scale for the run, resolved on the model's training probabilities
    scale = ScoreScale.fit(config.scoring.scale, p_train[kinds.CHALLENGER],
                           {name: getattr(config.scoring.odds, name)
                            for name in type(config.scoring.odds).model_fields})
    say(scale.chosen)
    if config.scoring.scale == "auto" and scale.unit != "probability":
        notes.append(scale.chosen)
    weekly = weekly_volume(prepared, prepared.ids("train"))
    stage("grades, bands and MQL lines")
    packages: dict[str, ScoringPackage] = {}
    for name, scorer in scorers.items():
        fit_pts, eng_pts = group_points(scorer.factor_points(X_train), ctx.spec)
        grade_cuts = GradeCuts.fit(fit_pts, eng_pts, config.scoring.grade_quantiles,
                                   config.scoring.engagement_quantiles)
        own_scale = ScoreScale(scale.unit, p_train[name], scale.odds, scale.chosen)
        p_valid = scorer.predict_proba(X_valid)[:, 1]
        mql = learn_mql(config.scoring.mql, p_train[name], p_valid, np.asarray(y_valid), weekly)
        if mql.threshold is None:
            notes.append(f"{name}: no MQL line reaches scoring.mql.precision "
                         f"{mql.target:.0%} on the validation leads: no lead is MQL (n/a)")
        packages[name] = ScoringPackage(
            dataset=config.dataset.name, mode=config.dataset.mode, builder=prepared.builder,
            scorer=scorer, grade_cuts=grade_cuts, scale=own_scale,
            bands=learn_bands(config.scoring.bands, p_valid), mql=mql,
            top_reasons=config.scoring.top_reasons,
            settings_hash=settings_fingerprint(config.features),
            reference=build_reference(X_train, p_train[name]),
            metadata={"kind": name, "excluded_columns": prepared.excluded,
                      "calibration": scorer.calibrator_.method_},
            disqualify=config.disqualify.model_dump(),
        )

    t0 = time.perf_counter()
    metrics, probs = evaluate_packages(config, packages, prepared, truth, n_boot, progress)
    # factors whose value is mostly the creation period: the report flags them (a flat export
    # may have no creation dates: nothing to tell)
    if "created_at" in ts.leads.columns:
        metrics["time_proxies"] = flagged_proxies(
            X_train, ts.leads["created_at"].reindex(X_train.index), ctx.spec)
    timings["evaluate_s"] = time.perf_counter() - t0
    return TrainingResult(ts, prepared.audit, packages, prepared.X, metrics, probs, timings,
                          notes, prepared)
