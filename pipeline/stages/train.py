"""Training: from canonical leads (+ activities) to two fitted, evaluated scoring packages.

Pure orchestration of the core (no files, no MLflow): build the training set, audit leakage,
fit the feature builder on training leads only, fit the LightGBM scorer and the rule baseline on
the same rows, calibrate both on the validation rows, learn grade bands on the training rows, and
evaluate both on the test rows with the same metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.build import FeatureBuilder
from pipeline.evaluation.audit import audit_columns
from pipeline.data.config import Config
from pipeline.data.dataset import TrainingSet, build_training_set
from pipeline.data.errors import DataError
from pipeline.evaluation.metrics import compare_scorers, curves, metrics_by_segment
from pipeline.explain.reasons import GradeBands, group_points
from pipeline.scorers.lightgbm import LeadScorer
from pipeline.evaluation.drift import build_reference
from pipeline.explain.package import ScoringPackage, settings_fingerprint
from pipeline.scorers.learned_points import learn_points
from pipeline.scorers.rules import RulesBook, RuleScorer
from pipeline.scorers.segmented import SegmentedScorer

SCORERS = ("model", "baseline", "learned_points")


@dataclass
class TrainingResult:
    """What one training run produced."""

    training_set: TrainingSet
    audit: pd.DataFrame
    packages: dict[str, ScoringPackage]
    X: pd.DataFrame
    metrics: dict[str, Any]
    test_probabilities: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def y_test(self) -> np.ndarray:
        """Labels of the test leads."""
        ts = self.training_set
        return ts.y.loc[ts.part("test")].to_numpy()


def candidate_columns(leads: pd.DataFrame, config: Config) -> list[str]:
    """Raw lead columns that could become features: everything but roles, ids and PII."""
    ds = config.dataset
    roles = {"lead_id", "created_at", "outcome", "outcome_at"}
    skip = roles | set(ds.pii) | set(ds.ignore)
    if config.features.email_column:
        skip.add(config.features.email_column)
    return [c for c in leads.columns if c not in skip]


def feature_settings(config: Config, excluded: list[str]):
    """The config's feature settings without the excluded (leaky) columns."""
    fs = config.features
    update = {
        key: [c for c in getattr(fs, key) if c not in excluded]
        for key in ("categorical", "numeric", "boolean", "engagement", "negative")
    }
    return fs.model_copy(update=update)


def run_audit(ts: TrainingSet, config: Config) -> pd.DataFrame:
    """Leakage audit of the raw candidate columns on the training leads."""
    train_ids = ts.part("train")
    columns = candidate_columns(ts.leads, config)
    candidates = ts.leads.loc[train_ids, columns]
    fs = config.features
    declared_numeric = set(fs.numeric) | set(fs.engagement)
    for column in columns:
        if column in declared_numeric:
            candidates[column] = pd.to_numeric(candidates[column], errors="coerce")
        elif candidates[column].dtype == object or str(candidates[column].dtype) == "str":
            missing = {m.casefold() for m in fs.missing_values}
            text = candidates[column].astype("string").str.strip()
            candidates[column] = text.where(~text.str.casefold().isin(missing)).astype(object)
    return audit_columns(
        candidates,
        ts.y.loc[train_ids].to_numpy(),
        post_contact=dict(config.dataset.leaky),
        keep=list(config.dataset.keep_leaky),
        max_auc=config.audit.max_auc,
        seed=config.seed,
    )


def excluded_by_audit(audit: pd.DataFrame) -> list[str]:
    """Columns the audit keeps out of the features."""
    return audit.loc[audit["action"] == "excluded", "column"].tolist()


def _weekly_volume(ts: TrainingSet, test_ids: pd.Index) -> float:
    created = pd.to_datetime(ts.leads.loc[test_ids, "created_at"]) if "created_at" in ts.leads \
        else None
    if created is None or created.isna().all():
        return float(len(test_ids)) / 52.0  # flat exports: assume a year of leads
    weeks = max((created.max() - created.min()).days / 7.0, 1.0)
    return len(test_ids) / weeks


def train_scorers(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    rules: RulesBook,
    best_params: dict[str, Any] | None = None,
    truth: pd.Series | None = None,
    rules_source: str = "rules",
    log: Any = None,
    split: pd.Series | None = None,
    n_boot: int = 500,
) -> TrainingResult:
    """Fit, calibrate and evaluate the model and the rule baseline on one split.

    Parameters
    ----------
    config
        Run configuration.
    leads, activities
        Canonical frames (validated).
    rules
        The hand-made points table.
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
    """
    say = log or (lambda *_: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ts = build_training_set(
        leads, activities, config.dataset.mode, config.dataset.as_of,
        config.dataset.horizon_days, config.split, config.seed,
        snapshot=pd.Timestamp(config.dataset.snapshot) if config.dataset.snapshot else None,
    )
    if split is not None:
        ts.split = split.reindex(ts.y.index)
    summary = ts.summary()
    notes = list(ts.notes)
    notes += check_minimum_data(summary, config)
    say(f"training set: {summary}")
    audit = run_audit(ts, config)
    excluded = excluded_by_audit(audit)
    if excluded:
        say(f"excluded by the leakage audit: {', '.join(excluded)}")
    settings = feature_settings(config, excluded)
    timings["dataset_s"] = time.perf_counter() - started

    train_ids, valid_ids, test_ids = (ts.part(p) for p in ("train", "valid", "test"))
    t0 = time.perf_counter()
    builder = FeatureBuilder(settings)
    train_leads = ts.leads.loc[train_ids].reset_index(drop=True)
    as_of = ts.as_of if config.dataset.mode == "events" else None
    builder.fit(train_leads, _activities_of(activities, train_ids),
                None if as_of is None else as_of.loc[train_ids])
    X = builder.transform(ts.leads.reset_index(drop=True), activities, as_of)
    X = X.loc[ts.y.index]
    timings["features_s"] = time.perf_counter() - t0
    spec = builder.spec_
    y = ts.y

    mc = config.model
    params = {**mc.params, **(best_params or {})}
    fit_rows = (X.loc[train_ids], y.loc[train_ids], X.loc[valid_ids], y.loc[valid_ids])
    t0 = time.perf_counter()
    model = LeadScorer(
        spec=spec, params=params, n_estimators=mc.n_estimators,
        early_stopping_rounds=mc.early_stopping_rounds, class_weight=mc.class_weight,
        monotone=dict(mc.monotone), use_spec_monotone=mc.use_spec_monotone,
        calibration_methods=tuple(config.calibration.methods), cv_folds=config.calibration.cv_folds,
        random_state=config.seed, n_jobs=mc.n_jobs, mql_score=config.scoring.mql_score,
    )
    segment = segment_feature(config, spec)
    if segment is not None:
        model = SegmentedScorer(model, segment, config.guard.min_segment_conversions,
                                config.guard.min_segment_valid_conversions,
                                mc.segment_min_auc_gain).fit(*fit_rows)
        for row in model.selection_.itertuples():
            say(f"segment {segment}={row.segment}: {row.choice} model ({row.reason})")
            if row.choice != "segment":
                notes.append(f"segment {segment}={row.segment} uses the global model: {row.reason}")
    else:
        model.fit(*fit_rows)
    timings["model_fit_s"] = time.perf_counter() - t0
    rule_args = dict(spec=spec, windows=tuple(settings.windows_days),
                     calibration_methods=tuple(config.calibration.methods),
                     cv_folds=config.calibration.cv_folds, random_state=config.seed,
                     dropped=tuple(builder.dropped_))
    baseline = RuleScorer(book=rules, source=rules_source, **rule_args).fit(*fit_rows)
    if baseline.skipped_:
        notes.append(f"{rules_source}: rules on features constant in the training leads were "
                     f"skipped: {', '.join(baseline.skipped_)}")
    t0 = time.perf_counter()
    pc = config.points
    learned = learn_points(
        *fit_rows, spec, pdo=pc.pdo, max_steps=pc.max_steps, min_share=pc.min_share,
        mql_capacity=pc.mql_capacity, mql_precision=pc.mql_precision,
        name=f"Learned points ({config.dataset.name})", random_state=config.seed)
    learned_points = RuleScorer(book=learned.book, source="learned points",
                                **rule_args).fit(*fit_rows)
    timings["points_fit_s"] = time.perf_counter() - t0
    say(f"learned points: {learned.n_rules} rules, validation AUC {learned.valid_auc:.3f} "
        f"(unrounded {learned.fitted_valid_auc:.3f}), MQL at {learned.book.mql_threshold:g}")

    packages = {}
    for name, scorer in (("model", model), ("baseline", baseline),
                         ("learned_points", learned_points)):
        fit_pts, eng_pts = group_points(scorer.factor_points(X.loc[train_ids]), spec)
        bands = GradeBands.fit(fit_pts, eng_pts, config.scoring.grade_quantiles,
                               config.scoring.engagement_quantiles)
        reference = build_reference(X.loc[train_ids],
                                    scorer.predict_proba(X.loc[train_ids])[:, 1])
        packages[name] = ScoringPackage(
            dataset=config.dataset.name, mode=config.dataset.mode, builder=builder, scorer=scorer,
            bands=bands, score_bands=dict(config.scoring.bands),
            top_reasons=config.scoring.top_reasons,
            settings_hash=settings_fingerprint(config.features), reference=reference,
            metadata={"kind": name, "excluded_columns": excluded,
                      "calibration": scorer.calibrator_.method_},
            disqualify=config.disqualify.model_dump(),
        )

    t0 = time.perf_counter()
    metrics, probs = evaluate_packages(config, packages, ts, X.loc[test_ids], truth, n_boot)
    metrics["model"]["best_iteration"] = getattr(model, "global_", model).best_iteration_
    timings["evaluate_s"] = time.perf_counter() - t0
    return TrainingResult(ts, audit, packages, X, metrics, probs, timings, notes)


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
        raise DataError(
            f"{where}: only {train} converted leads in the training split, fewer than the "
            f"minimum {guard.min_train_conversions} (guard.min_train_conversions): a model "
            "fitted on so few conversions looks good by luck; collect more history, widen "
            "dataset.horizon_days, or start with the rules")
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


def segment_feature(config: Config, spec) -> str | None:
    """Feature that routes leads to per-segment models (``dataset.segment``), if any."""
    column = config.dataset.segment
    if column is None:
        return None
    if column not in spec.names or spec[column].dtype != "categorical":
        from pipeline.data.errors import ConfigError

        raise ConfigError(f"{config.source}: dataset.segment: {column!r} must also be listed "
                          "under features.categorical (and not be constant)")
    return column


def cross_validate(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    rules: RulesBook,
    folds: int = 5,
    rules_source: str = "rules",
) -> pd.DataFrame:
    """Stratified k-fold test metrics of the model and the rules (flat exports).

    Each fold is the test split once; the other folds are split into train and valid with the
    configured valid fraction, so every fold repeats the whole training procedure (audit,
    features, early stopping, calibration). One random test split of a few thousand leads moves
    the AUC by about +-0.01; the fold mean is the figure to compare.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    base = build_training_set(leads, activities, config.dataset.mode, config.dataset.as_of,
                              config.dataset.horizon_days, config.split, config.seed)
    ids, y = base.y.index.to_numpy(), base.y.to_numpy()
    rows = []
    kfold = StratifiedKFold(folds, shuffle=True, random_state=config.seed)
    for k, (rest, test) in enumerate(kfold.split(ids, y), start=1):
        share = config.split.valid_fraction / (1.0 - 1.0 / folds)
        train, valid = train_test_split(rest, test_size=share, stratify=y[rest],
                                        random_state=config.seed + k)
        split = pd.Series("train", index=base.y.index, dtype=object)
        split.iloc[valid] = "valid"
        split.iloc[test] = "test"
        result = train_scorers(config, leads, activities, rules, rules_source=rules_source,
                               split=split, n_boot=0)
        for name in SCORERS:
            m = result.metrics[name]
            rows.append({"fold": k, "scorer": name, "roc_auc": m["roc_auc"],
                         "pr_auc": m["pr_auc"], "brier": m["brier"], "ece": m["ece"],
                         "capture_top_20": m["capture_top_20"]})
    return pd.DataFrame(rows)


def evaluate_packages(
    config: Config,
    packages: dict[str, ScoringPackage],
    ts: TrainingSet,
    X_test: pd.DataFrame,
    truth: pd.Series | None = None,
    n_boot: int = 500,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every metric for every package (and the oracle when known) on the same test leads."""
    test_ids = ts.part("test")
    y_test = ts.y.loc[test_ids].to_numpy()
    X_test = X_test.loc[test_ids]
    probs = {name: pkg.scorer.predict_proba(X_test)[:, 1] for name, pkg in packages.items()}
    mql = {name: pkg.scorer.is_mql(X_test) for name, pkg in packages.items()}
    if truth is not None:
        probs["oracle"] = truth.reindex(test_ids.astype(str)).to_numpy(dtype="float64")
    weekly = _weekly_volume(ts, test_ids)
    metrics: dict[str, Any] = compare_scorers(
        y_test, probs, mql, reference="baseline", leads_per_week=weekly,
        capacity_per_week=max(1.0, round(0.2 * weekly)), n_boot=n_boot, seed=config.seed,
    )
    segmented = getattr(packages["model"].scorer, "global_", None) if "model" in packages \
        else None
    if segmented is not None:
        model = packages["model"].scorer
        by_segment = metrics_by_segment(
            y_test, X_test[model.segment].astype(object).astype(str).to_numpy(),
            {**probs, "global_model": segmented.predict_proba(X_test)[:, 1]})
        chosen = dict(zip(model.selection_["segment"], model.selection_["choice"], strict=True))
        for level, entry in by_segment.items():
            entry["choice"] = chosen.get(level, "global")
        metrics["segments"] = by_segment
    if "oracle" in metrics:
        metrics["model"]["auc_ratio_to_oracle"] = (
            metrics["model"]["roc_auc"] / metrics["oracle"]["roc_auc"]
        )
    metrics["split"] = ts.summary()
    for name, pkg in packages.items():
        metrics[name]["calibration"] = pkg.scorer.calibrator_.method_
    return metrics, probs


def training_set_from_split(leads: pd.DataFrame, split: pd.DataFrame) -> TrainingSet:
    """Rebuild the training set a run used from its saved split (lead_id, as_of, y, split)."""
    split = split.set_index(split["lead_id"].astype(str))
    kept = leads.assign(lead_id=leads["lead_id"].astype(str)).set_index("lead_id", drop=False)
    missing = split.index.difference(kept.index)
    if len(missing):
        raise DataError(f"{len(missing)} leads of the saved split are not in the data any more "
                        f"(e.g. {missing[0]}); retrain")
    return TrainingSet(kept.loc[split.index], split["as_of"], split["y"].astype("int8"),
                       split["split"])


def _activities_of(activities: pd.DataFrame | None, ids: pd.Index) -> pd.DataFrame | None:
    if activities is None:
        return None
    return activities[activities["lead_id"].isin(ids)]


def evaluation_curves(result: TrainingResult):
    """Curve tables (ROC, gains, calibration) of every scorer on the test leads."""
    return curves(result.y_test, result.test_probabilities)
