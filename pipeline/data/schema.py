"""The configuration schema: frozen pydantic models, one per config section.

:mod:`pipeline.data.config` reads the YAML layers and validates them into :class:`Config`; the
core receives these typed objects, never a dict to dig into. ``docs/CONFIG.md`` is generated from
this module (``python -m pipeline.data.reference``).
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from features.settings import FeatureSettings
from pipeline.data.actions_schema import ActionsConfig
from pipeline.data.dataset_schema import (  # noqa: F401 - re-exported with the schema
    ACCOUNT_FROM_EMAIL,
    REGEX_PREFIX,
    ActivityColumns,
    ActivityMapping,
    AsOfRule,
    DatasetConfig,
    LeadColumns,
    ReadOptions,
    SynthConfig,
    _Frozen,
    as_text,
)
from pipeline.data.scoring_schema import (  # noqa: F401 - re-exported with the schema
    BandsConfig,
    MqlConfig,
    OddsScale,
    RoutingConfig,
    ScoringConfig,
    refuse_retired,
)


class SplitConfig(_Frozen):
    """Train / valid / test split: by as_of time, or random stratified.

    A flat export has no as_of: a time split needs ``order_by`` (a date or number column) or
    ``row_order: true`` (the rows are in time order, oldest first).
    """

    method: Literal["time", "random"] = Field(
        "time", description="time: the newest leads are the test split; random: stratified")
    order_by: str | None = Field(
        None, description="flat mode, time split: column that orders the leads in time")
    row_order: bool = Field(
        False, description="flat mode, time split: the file's rows are in time order")
    valid_fraction: float = Field(
        0.15, gt=0, lt=0.5, description="share of eligible leads in the validation split (early "
        "stopping, calibration, segment choice); time split: just before test")
    test_fraction: float = Field(
        0.2, gt=0, lt=0.5, description="share of eligible leads held out as the test split every "
        "reported metric uses; time split: the newest leads")
    purge: Literal["horizon"] | int = Field(
        "horizon", description="time split of an events export: days between the newest "
        "training or validation as_of and the first test as_of (`horizon`: "
        "`dataset.horizon_days`, 0: none); leads in the gap are left out and counted, since "
        "their labels were only known after test leads were scored")
    purge_valid: bool = Field(
        False, description="time split of an events export: also leave the same gap between the "
        "training and the validation split (costs another gap of training leads)")

    @field_validator("purge", mode="before")
    @classmethod
    def _purge_value(cls, purge: Any, info: ValidationInfo) -> Any:
        # checked before the union so that a wrong value gets one plain message, not one per arm
        if purge != "horizon" and (isinstance(purge, bool) or not isinstance(purge, int)
                                   or purge < 0):
            raise ValueError(f"{purge!r}: use horizon (the label window), a whole number of days, "
                             "or 0 for no gap")
        # A purge in days has no meaning in a random split: refuse rather than ignore it.
        if info.data.get("method") == "random" and purge not in ("horizon", 0):
            raise ValueError(f"{purge} days needs split.method: time (a random split has no "
                             "boundary in time); set split.purge: 0")
        return purge

    def purge_days(self, horizon_days: int) -> int:
        """The gap in days before the test split (``horizon``: the label window)."""
        return horizon_days if self.purge == "horizon" else int(self.purge)


class ModelConfig(_Frozen):
    """LightGBM settings; tuned values from ``best_params.yaml`` override ``params``."""

    params: dict[str, float | int | str | bool] = {}
    n_estimators: int = Field(
        2000, gt=0, description="most boosting rounds; early stopping on the validation split "
        "picks how many are kept")
    early_stopping_rounds: int = Field(
        100, gt=0, description="stop boosting after this many rounds without a better "
        "validation metric (log-loss unless `params` sets `metric`)")
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="balanced: LightGBM `scale_pos_weight` = training negatives / "
        "positives; the calibrator maps scores back to probabilities")
    monotone: dict[str, Literal[-1, 0, 1]] = Field(
        {}, description="feature -> -1 / 0 / +1 monotone constraint, overriding the spec's "
        "direction; categoricals stay free, unknown names fail training")
    use_spec_monotone: bool = Field(
        True, description="constrain LightGBM and the logistic candidate by the feature spec's "
        "business directions (e.g. more website visits can only raise the score, bounces only "
        "lower it)")
    n_jobs: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto", description="threads for LightGBM training, prediction and TreeSHAP; auto: the "
        "usable cores minus what other processes keep busy, decided once per run, at least 1 "
        "(the trees do not depend on it: LightGBM runs deterministic); a number is used as is")
    segment_min_auc_gain: float = Field(
        0.0, ge=0, description="validation AUC a per-segment model must gain over the global one")

    @field_validator("params")
    @classmethod
    def _known_lightgbm_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """LightGBM ignores unknown names with a warning nobody reads; refuse them instead."""
        known = lightgbm_parameter_names()
        for name in params:
            if name not in known:
                canonical = sorted(lightgbm_parameter_names(aliases=False))
                close = difflib.get_close_matches(name, canonical, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(f"'{name}' is not a LightGBM parameter{hint}")
        return params


class CalibrationConfig(_Frozen):
    """Which calibrators compete on the validation split."""

    methods: list[Literal["isotonic", "sigmoid"]] = Field(
        ["isotonic", "sigmoid"], description="calibrators tried for every scorer, fitted on the "
        "validation split; the lower Brier score cross-validated within it wins")
    cv_folds: int = Field(
        5, ge=2, description="folds of that cross-validation within the validation split "
        "(capped at the rarer class's number of validation leads)")


class TuningConfig(_Frozen):
    """Optuna search."""

    objective: Literal["logloss", "auc"] = Field(
        "logloss", description="validation metric Optuna optimises on the raw model: logloss "
        "(minimised) or auc (maximised); also the trials' early-stopping metric")
    trials: int = Field(
        20, gt=0, description="number of Optuna trials (`--trials` wins); the first one tries "
        "the config's own `model.params`")
    timeout_seconds: float | None = Field(
        600, description="time budget of the search in seconds (`--timeout` wins); it stops at "
        "trials or timeout, whichever comes first; null: no limit")


class PromotionConfig(_Frozen):
    """The gate a challenger must pass to become champion.

    Every comparison is a paired bootstrap 95 % interval of the difference on one holdout, and
    the gate reads the interval's bound, not the point estimate: a challenger is promoted only
    when the data rule out the loss the tolerance allows.
    """

    auc_tolerance: float = Field(
        0.005, ge=0, description="the lower bound of the 95 % interval of challenger minus "
        "champion AUC, and of challenger minus learned points AUC, must be above minus this "
        "(AUC points)")
    rules_margin: float = Field(
        0.0, ge=0, description="the lower bound of the 95 % interval of challenger minus rules "
        "AUC must be above this (AUC points; 0: significantly better than the rules)")
    brier_tolerance: float = Field(
        0.002, gt=0, description="the upper bound of the 95 % interval of challenger minus "
        "champion Brier score must be below this")
    max_ece: float = Field(
        0.03, gt=0, description="highest adaptive expected calibration error (10 equal-mass "
        "bins, on the holdout) a challenger may have to be promoted")
    n_boot: int = Field(
        1000, ge=100, description="paired bootstrap resamples of the holdout behind every "
        "interval (seeded by `seed`)")


class AuditConfig(_Frozen):
    """Leakage audit of the columns, and the stop on a model too good to be true.

    A column is flagged when its value AUC or its missingness AUC alone passes ``max_auc``, or
    by the audit's other detectors (one-outcome groups, late dates, ids, target encodings).
    After training, a model whose test AUC reaches ``stop_auc``, or whose top factor alone
    reaches ``stop_factor_auc``, stops the run (exit 2): it has found a leak, not a buyer.
    """

    max_auc: float = Field(
        0.9, gt=0.5, le=1.0, description="a column whose value AUC or missingness AUC alone "
        "is above this is flagged (few honest pre-contact signals separate converters that "
        "well)")
    stop_auc: float = Field(
        0.98, gt=0.5, description="a model with a test ROC-AUC at or above this stops training "
        "as a label leak; above 1 (e.g. 1.01) turns the stop off")
    stop_factor_auc: float = Field(
        0.95, gt=0.5, description="a model whose top factor's points alone reach this test "
        "ROC-AUC stops training as a label leak; above 1 turns the stop off")


class MonitorConfig(_Frozen):
    """Population stability index thresholds; the calibration alarm of `leadscore monitor`."""

    psi_warn: float = Field(
        0.1, description="a feature's (or the score's) PSI against training above this is "
        "flagged warn by `leadscore score` and `leadscore drift`")
    psi_alarm: float = Field(
        0.25, description="a PSI above this is an alarm: `leadscore drift` exits 3; `leadscore "
        "score` only reports it")
    ece_limit: float = Field(
        0.03, gt=0, lt=1, description="`leadscore monitor` exits 3 when the 95 % bootstrap "
        "interval of a model version's (or one scoring month's) equal-mass ECE on matured leads "
        "lies wholly above this")
    min_matured: int = Field(
        200, ge=1, description="`leadscore monitor` judges calibration (the alarm) only for a "
        "version and month with at least this many matured leads; smaller ones are shown, "
        "never alarmed on")
    n_boot: int = Field(
        200, ge=20, description="bootstrap resamples of `leadscore monitor`'s intervals (ECE, "
        "Brier, AUC)")



class MlflowConfig(_Frozen):
    """Tracking and registry (``MLFLOW_TRACKING_URI`` in the environment wins)."""

    tracking_uri: str = Field(
        "sqlite:///artifacts/mlflow.db", description="tracking store URI "
        "(`MLFLOW_TRACKING_URI` in the environment wins); a sqlite:/// file's folder is created")
    artifact_root: str = Field(
        "artifacts/mlruns", description="folder for run artifacts, used only when the experiment "
        "is first created and the tracking URI comes from this config")
    experiment: str | None = Field(
        None, description="experiment name in MLflow; null: `leadscore-<dataset.name>`")
    registered_model: str | None = Field(
        None, description="stem of the registered names: the model registers as it, the rules as "
        "`<stem>-rules`; null: `leadscore-<dataset.name>`")


class GuardConfig(_Frozen):
    """Minimum data: with fewer conversions a model looks good by luck.

    Training refuses (exit 2) below ``min_train_conversions`` in the training split; a segment
    below ``min_segment_conversions`` training (or ``min_segment_valid_conversions`` validation)
    conversions keeps the global model; fewer than
    ``min_valid_conversions`` in the validation split gives a warning, as the calibrator and
    early stopping are then noisy.
    """

    min_train_conversions: int = Field(100, ge=1)
    min_segment_conversions: int = Field(30, ge=1)
    min_segment_valid_conversions: int = Field(25, ge=1)
    min_valid_conversions: int = Field(50, ge=1)


class PointsConfig(_Frozen):
    """The learned points table (:mod:`pipeline.scorers.learned_points`)."""

    pdo: float = Field(20.0, gt=0, description="points that double the odds of conversion")
    max_rules: int | None = Field(25, ge=1, description="most rules of the table (levels, flags, "
                                  "steps, per-event rules); null: no limit")
    max_steps: int = Field(4, ge=1, le=10, description="most threshold steps per numeric field")
    min_share: float = Field(0.005, ge=0, lt=0.5,
                             description="smallest share of training leads a rule must fire on")

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        # the table's MQL line follows scoring.mql, the one rule of every scorer
        return refuse_retired(data, "points")


class SelectionConfig(_Frozen):
    """Which scorer the ``model`` kind ships (:mod:`pipeline.scorers.selection`).

    The candidates are fitted on the same training and validation leads; the simplest one whose
    validation AUC is not significantly below the best (paired bootstrap) is chosen. With fewer
    validation conversions than ``min_valid_conversions`` the comparison also uses time-ordered
    folds inside train + valid.
    """

    candidates: list[Literal["learned_points", "logistic", "lightgbm"]] = Field(
        ["learned_points", "logistic", "lightgbm"], min_length=1,
        description="scorers the model is chosen from, simplest first (ties go to the first)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0,
                              description="level of the paired interval of AUC differences")
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples of the validation leads")
    min_valid_conversions: int = Field(
        100, ge=0, description="below this, the choice adds time-ordered folds inside "
        "train + valid (0: validation only)")
    cv_folds: int = Field(3, ge=2, le=10, description="folds added when validation is thin")

    @field_validator("candidates")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"selection.candidates lists a scorer twice: {value}")
        return value


class DisqualifyConfig(_Frozen):
    """When scoring marks a lead ``status = disqualified`` (its score is still shown).

    ``inactive_days``: no activity for longer (never-active leads: their age). ``hard_negatives``:
    features that disqualify when all of them are present (e.g. unsubscribed and bounced); those
    missing from the feature table are ignored.
    """

    inactive_days: float | None = Field(120.0, gt=0)
    hard_negatives: list[str] = ["unsubscribed", "email_bounce_ever"]



class Config(_Frozen):
    """The whole run configuration."""

    seed: int = Field(
        42, description="random seed of the random split, LightGBM, calibration folds, Optuna, "
        "the leakage audit and `leadscore synth`: same seed, same results")
    synth: SynthConfig = SynthConfig()
    artifacts_dir: Path = Field(
        Path("artifacts"), description="root of the outputs: each dataset writes packages, "
        "metrics, split and report to `<artifacts_dir>/<dataset.name>`")
    dataset: DatasetConfig
    features: FeatureSettings = FeatureSettings()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    scoring: ScoringConfig = ScoringConfig()
    rules: Path | None = Field(
        None, description="the team's points sheet; without one, the learned points table is "
        "the comparison (said in the output, evaluation.json and the report)")
    tuning: TuningConfig = TuningConfig()
    promotion: PromotionConfig = PromotionConfig()
    audit: AuditConfig = AuditConfig()
    monitor: MonitorConfig = MonitorConfig()
    guard: GuardConfig = GuardConfig()
    points: PointsConfig = PointsConfig()
    selection: SelectionConfig = SelectionConfig()
    disqualify: DisqualifyConfig = DisqualifyConfig()
    routing: RoutingConfig = RoutingConfig()
    actions: ActionsConfig = ActionsConfig()
    mlflow: MlflowConfig = MlflowConfig()
    source: Path | None = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _features_follow_the_dataset_mode(cls, data: Any) -> Any:
        """``features.mode`` defaults to ``dataset.mode``; two different modes are refused."""
        if not isinstance(data, dict) or not isinstance(data.get("dataset"), dict):
            return data
        mode = data["dataset"].get("mode", "events")
        features = data.get("features") if isinstance(data.get("features"), dict) else {}
        if "mode" in features and features["mode"] != mode:
            raise ValueError(f"features.mode ({features['mode']}) differs from dataset.mode "
                             f"({mode}): leave features.mode out, it follows dataset.mode")
        return {**data, "features": {**features, "mode": mode}}

    @model_validator(mode="after")
    def _as_of_rule_is_wired(self) -> Config:
        # refused here rather than in the middle of train: the pipeline does not yet compute
        # the moment a lead's rule points cross the line (assign_as_of takes it as a function)
        if self.dataset.as_of.rule == "points_threshold":
            raise ValueError("dataset.as_of.rule: 'points_threshold' is not available in the "
                             "pipeline yet: use days_after_created or snapshot")
        return self

    @model_validator(mode="after")
    def _pii_is_never_a_feature(self) -> Config:
        fs = self.features
        declared = {c for role in ("categorical", "numeric", "boolean", "engagement",
                                   "negative") for c in getattr(fs, role)}
        declared |= {fs.title_column, fs.size_column, fs.revenue_column} - {None}
        clash = sorted(declared & set(self.dataset.pii))
        if clash:
            raise ValueError(f"features: {clash} are listed under dataset.pii: personal data "
                             "never becomes a feature (features.email_column is the one "
                             "exception: only its domain type is used)")
        return self

    def _declared_columns(self) -> set[str]:
        """Every lead column the features read: declared roles, title, size, revenue, segment."""
        fs = self.features
        declared = {c for role in ("categorical", "numeric", "boolean", "engagement",
                                   "negative") for c in getattr(fs, role)}
        declared |= {fs.title_column, fs.size_column, fs.revenue_column, self.dataset.segment}
        return declared - {None}

    @model_validator(mode="after")
    def _stages_are_never_features(self) -> Config:
        clash = sorted(self._declared_columns() & set(self.dataset.stages.values()))
        if clash:
            raise ValueError(f"features: {clash} are lifecycle stage dates (dataset.stages): "
                             "written after contact, they are never a feature")
        return self

    @model_validator(mode="after")
    def _account_is_an_identifier(self) -> Config:
        fs, account = self.features, self.dataset.account
        if account == ACCOUNT_FROM_EMAIL and not fs.email_column:
            raise ValueError("dataset.account: email_domain needs features.email_column")
        if account in self._declared_columns():
            raise ValueError(f"dataset.account {account!r} is also declared under features: "
                             "an account key is an identifier, never a feature")
        return self

    @model_validator(mode="after")
    def _split_can_be_honoured(self) -> Config:
        """A time split the data cannot support is refused, never swapped for a random one."""
        split, flat = self.split, self.dataset.mode == "flat"
        if split.order_by and split.row_order:
            raise ValueError("split: set order_by or row_order, not both")
        if not flat and (split.order_by or split.row_order):
            raise ValueError("split.order_by / row_order are for flat exports: events mode "
                             "orders leads by their as_of")
        if flat and split.method == "time" and not (split.order_by or split.row_order):
            raise ValueError(
                "split.method: time needs an order, and a flat export has no as_of: set "
                "split.order_by: <date column>, split.row_order: true (rows oldest first) or "
                "split.method: random (metrics are then optimistic)")
        return self

    @model_validator(mode="after")
    def _actions_are_known_events(self) -> Config:
        """An action the user defines counts events the feature builder knows."""
        if self.dataset.mode != "flat":  # no activity log: what-if is refused where asked
            self.actions.check_defined(self.logged_activity_types())
        return self

    def logged_activity_types(self) -> set[str]:
        """The activity types this dataset's log can hold (its mapping, else the vocabulary)."""
        from features.activity import ACTIVITY_TYPES

        return set(self.dataset.activity_types or ACTIVITY_TYPES)

    def offered_actions(self) -> dict[str, Any]:
        """``actions.offer`` without the built-in actions this dataset never logs the events of
        (:meth:`ActionsConfig.offered`)."""
        return self.actions.offered(self.logged_activity_types())[0]
        from features.activity import ACTIVITY_TYPES

        declared = self.dataset.activity_types
        known = set(declared) if declared else set(ACTIVITY_TYPES)
        for name, spec in self.actions.catalogue().items():
            for kind_of_event in (spec.activity_type, *spec.requires):
                if kind_of_event not in known:
                    raise ValueError(f"actions.{name}: activity type {kind_of_event!r} is not one "
                                     f"this dataset logs (known: {', '.join(sorted(known))})")
        return self

    @property
    def out_dir(self) -> Path:
        """Where this dataset's outputs go: ``artifacts/<dataset>``."""
        return self.artifacts_dir / self.dataset.name

    @property
    def experiment_name(self) -> str:
        """MLflow experiment for this dataset."""
        return self.mlflow.experiment or f"leadscore-{self.dataset.name}"

    @property
    def model_name(self) -> str:
        """Stem of the registered model names (each kind adds its suffix, scorers/kinds.py)."""
        return self.mlflow.registered_model or f"leadscore-{self.dataset.name}"

    def flat_params(self) -> dict[str, str]:
        """The config flattened to ``section.key`` strings (for MLflow params)."""
        return {k: str(v) for k, v in _flatten(self.model_dump(mode="json")).items()}


@functools.cache
def lightgbm_parameter_names(aliases: bool = True) -> frozenset[str]:
    """Every LightGBM parameter name, and its aliases (from the library's own table)."""
    from lightgbm.basic import _ConfigAliases

    names: set[str] = set()
    for canonical, other_names in _ConfigAliases._get_all_param_aliases().items():
        names.add(canonical)
        if aliases:
            names.update(other_names)
    return frozenset(names)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
