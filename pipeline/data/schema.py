"""The configuration schema: frozen pydantic models, one per config section.

:mod:`pipeline.data.config` reads the YAML layers and validates them into :class:`Config`; the
core receives these typed objects, never a dict to dig into. ``docs/CONFIG.md`` is generated from
this module (``python -m pipeline.data.reference``).
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.settings import FeatureSettings

REGEX_PREFIX = "re:"


def as_text(value: Any) -> Any:
    """A YAML scalar as the text it stands for (``true`` -> ``'true'``, ``1`` -> ``'1'``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


@dataclass(frozen=True)
class ActivityMapping:
    """Export activity values -> canonical types (exact values casefolded, then patterns)."""

    exact: dict[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]
    unknown: str

    def canonical(self, value: str) -> str | None:
        """The canonical type of one export value, or None when nothing covers it."""
        hit = self.exact.get(value.strip().casefold())
        if hit is not None:
            return hit
        for pattern, canonical in self.patterns:
            if pattern.fullmatch(value.strip()):
                return canonical
        return None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadColumns(_Frozen):
    """Where each contract role lives in the leads export (export column names)."""

    lead_id: str | None = Field(
        "lead_id", description="unique lead id; null: the data row number (1 = first data row)")
    created_at: str | None = Field("created_at", description="when the lead was created")
    outcome: str | None = Field(
        "outcome", description="won / lost / open status, mapped by dataset.outcome_values")
    outcome_at: str | None = Field(
        "outcome_at", description="when the lead was won or lost (close date)")
    target: str | None = Field(
        None, description="flat mode: a 0/1 (or yes/no, true/false) converted column")


class ActivityColumns(_Frozen):
    """Where each contract role lives in the activity export."""

    lead_id: str = "lead_id"
    occurred_at: str = "occurred_at"
    activity_type: str = "activity_type"
    detail: str | None = Field("detail", description="page URL, campaign or subject")
    channel: str | None = "channel"
    quantity: str | None = Field(
        None, description="count or weight of the event (page views in a session); "
        "an event counts this many times, empty means 1")


class AsOfRule(_Frozen):
    """When a training lead is scored: the moment its features are frozen.

    ``days_after_created``: ``created_at + days``. ``snapshot``: one fixed ``date`` for every lead.
    ``points_threshold``: the first moment the lead's rule points reach ``points`` (leads that never
    reach it use ``created_at + days``).
    """

    rule: Literal["days_after_created", "snapshot", "points_threshold"] = "days_after_created"
    days: float = Field(14.0, ge=0, description="days after creation (0: at first contact)")
    date: datetime | None = None
    points: float | None = None

    @model_validator(mode="after")
    def _check_rule_inputs(self) -> AsOfRule:
        if self.rule == "snapshot" and self.date is None:
            raise ValueError("rule 'snapshot' needs a 'date'")
        if self.rule == "points_threshold" and self.points is None:
            raise ValueError("rule 'points_threshold' needs 'points'")
        return self


class ReadOptions(_Frozen):
    """How to parse a CSV export."""

    delimiter: str = ","
    encoding: str = "utf-8"


class DatasetConfig(_Frozen):
    """The dataset: files, column roles, and what must never become a feature."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    mode: Literal["events", "flat"] = "events"
    leads: Path
    activities: Path | None = None
    truth: Path | None = None
    columns: LeadColumns = LeadColumns()
    activity_columns: ActivityColumns = ActivityColumns()
    outcome_values: dict[Literal["won", "lost", "open"], list[str]] = {
        "won": ["won"],
        "lost": ["lost"],
        "open": ["open"],
    }
    pii: list[str] = ["name", "email", "phone"]
    leaky: dict[str, str] = {}
    keep_leaky: list[str] = []
    ignore: list[str] = []
    activity_types: list[str] | dict[str, list[str]] = Field(
        [], description="allowed activity types (a list), or canonical type -> the export's "
        "own values; a value 're:PATTERN' is a case-insensitive regular expression")
    unknown_activity: Literal["error", "other", "drop"] = Field(
        "error", description="activity types activity_types does not cover: error lists them; "
        "other counts them as type 'other'; drop leaves them out (counted)")
    missing_outcome_at: Literal["error", "drop", "horizon"] = Field(
        "error", description="won/lost leads without a close date: error; drop them (counted); "
        "horizon: taken as decided at the end of their horizon")
    segment: str | None = None
    as_of: AsOfRule = AsOfRule()
    horizon_days: int = Field(180, gt=0)
    snapshot: datetime | None = None
    read: ReadOptions = ReadOptions()

    @field_validator("outcome_values", mode="before")
    @classmethod
    def _outcome_values_as_text(cls, value: Any) -> Any:
        """``won: [1]``, ``won: true`` and ``won: yes`` all mean the text the user wrote."""
        if not isinstance(value, dict):
            return value
        return {k: [as_text(v) for v in (vs if isinstance(vs, list) else [vs])]
                for k, vs in value.items()}

    @field_validator("activity_types", mode="before")
    @classmethod
    def _activity_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): [as_text(v) for v in (vs if isinstance(vs, list) else [vs])]
                    for k, vs in value.items()}
        if isinstance(value, list):
            return [as_text(v) for v in value]
        return value

    @field_validator("activity_types")
    @classmethod
    def _patterns_compile(cls, value: list[str] | dict[str, list[str]]) -> Any:
        sources = value.values() if isinstance(value, dict) else [value]
        for values in sources:
            for text in values:
                if text.startswith(REGEX_PREFIX):
                    try:
                        re.compile(text[len(REGEX_PREFIX):])
                    except re.error as exc:
                        raise ValueError(f"{text!r} is not a valid regular expression: {exc}")\
                            from None
        return value

    def activity_mapping(self) -> ActivityMapping | None:
        """How the export's activity types become canonical ones (None: taken as they are)."""
        if not self.activity_types:
            return None
        if isinstance(self.activity_types, list):
            table = {t: [t] for t in self.activity_types}
        else:
            table = {k: [k, *v] for k, v in self.activity_types.items()}
        exact: dict[str, str] = {}
        patterns: list[tuple[re.Pattern[str], str]] = []
        for canonical, values in table.items():
            for text in values:
                if text.startswith(REGEX_PREFIX):
                    patterns.append((re.compile(text[len(REGEX_PREFIX):], re.IGNORECASE),
                                     canonical))
                else:
                    exact.setdefault(text.strip().casefold(), canonical)
        return ActivityMapping(exact, tuple(patterns), self.unknown_activity)

    @model_validator(mode="after")
    def _check_mode(self) -> DatasetConfig:
        if self.mode == "flat" and self.columns.target is None and self.columns.outcome is None:
            raise ValueError("flat mode needs columns.target (a 0/1 column) or columns.outcome")
        if self.mode == "events" and self.columns.created_at is None:
            raise ValueError("events mode needs columns.created_at")
        if self.columns.lead_id is None and self.activities is not None:
            raise ValueError("columns.lead_id: null (row numbers) cannot join an activity log; "
                             "name the id column both files share")
        unknown = sorted(set(self.keep_leaky) - set(self.leaky))
        if unknown:
            raise ValueError(f"keep_leaky names columns not listed under leaky: {unknown}")
        return self

    @property
    def excluded_leaky(self) -> list[str]:
        """Leaky columns that stay out of the features."""
        return [c for c in self.leaky if c not in self.keep_leaky]


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
    valid_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, gt=0, lt=0.5)


class ModelConfig(_Frozen):
    """LightGBM settings; tuned values from ``best_params.yaml`` override ``params``."""

    params: dict[str, float | int | str | bool] = {}
    n_estimators: int = Field(2000, gt=0)
    early_stopping_rounds: int = Field(100, gt=0)
    class_weight: Literal["none", "balanced"] = "none"
    monotone: dict[str, Literal[-1, 0, 1]] = {}
    use_spec_monotone: bool = True
    n_jobs: int = 2
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

    methods: list[Literal["isotonic", "sigmoid"]] = ["isotonic", "sigmoid"]
    cv_folds: int = Field(5, ge=2)


class ScoringConfig(_Frozen):
    """Score bands and the fit/engagement grade cut points (quantiles of training leads)."""

    bands: dict[str, int] = {"hot": 50, "warm": 20, "cold": 0}
    grade_quantiles: list[float] = [0.8, 0.5, 0.2]
    engagement_quantiles: list[float] = [0.8, 0.5, 0.2]
    mql_score: int = Field(30, ge=0, le=100)
    batch_size: int = Field(50_000, gt=0)
    top_reasons: int = Field(3, ge=1, le=10)

    @field_validator("bands")
    @classmethod
    def _bands_descending(cls, bands: dict[str, int]) -> dict[str, int]:
        if not bands or min(bands.values()) != 0:
            raise ValueError("bands need a lowest band starting at 0")
        return dict(sorted(bands.items(), key=lambda kv: -kv[1]))


class TuningConfig(_Frozen):
    """Optuna search."""

    objective: Literal["logloss", "auc"] = "logloss"
    trials: int = Field(20, gt=0)
    timeout_seconds: float | None = 600


class PromotionConfig(_Frozen):
    """The gate a challenger must pass to become champion."""

    auc_tolerance: float = Field(0.005, ge=0)
    rules_margin: float = Field(0.01, ge=0)
    max_ece: float = Field(0.03, gt=0)


class AuditConfig(_Frozen):
    """Leakage audit: single-feature AUC above ``max_auc`` is flagged."""

    max_auc: float = Field(0.9, gt=0.5, le=1.0)


class MonitorConfig(_Frozen):
    """Population stability index thresholds."""

    psi_warn: float = 0.1
    psi_alarm: float = 0.25


class MlflowConfig(_Frozen):
    """Tracking and registry (``MLFLOW_TRACKING_URI`` in the environment wins)."""

    tracking_uri: str = "sqlite:///artifacts/mlflow.db"
    artifact_root: str = "artifacts/mlruns"
    experiment: str | None = None
    registered_model: str | None = None


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
    max_steps: int = Field(4, ge=1, le=10, description="most threshold steps per numeric field")
    min_share: float = Field(0.005, ge=0, lt=0.5,
                             description="smallest share of training leads a rule must fire on")
    mql_capacity: float | None = Field(0.2, gt=0, lt=1,
                                       description="share of leads sales can work (MQL line)")
    mql_precision: float | None = Field(None, gt=0, le=1,
                                        description="or: MQL line where precision reaches this")


class DisqualifyConfig(_Frozen):
    """When scoring marks a lead ``status = disqualified`` (its score is still shown).

    ``inactive_days``: no activity for longer (never-active leads: their age). ``hard_negatives``:
    features that disqualify when all of them are present (e.g. unsubscribed and bounced); those
    missing from the feature table are ignored.
    """

    inactive_days: float | None = Field(120.0, gt=0)
    hard_negatives: list[str] = ["unsubscribed", "email_bounce_ever"]


class SynthConfig(_Frozen):
    """Size of the synthetic world ``leadscore synth --config`` generates."""

    leads: int = Field(40_000, ge=100)
    base_rate: float = Field(0.08, gt=0, lt=0.5)


class Config(_Frozen):
    """The whole run configuration."""

    seed: int = 42
    synth: SynthConfig = SynthConfig()
    artifacts_dir: Path = Path("artifacts")
    dataset: DatasetConfig
    features: FeatureSettings = FeatureSettings()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    scoring: ScoringConfig = ScoringConfig()
    rules: Path | None = Field(
        None, description="the team's points sheet; without one, the learned points table is "
        "the comparison (said in the output, metrics.json and the report)")
    tuning: TuningConfig = TuningConfig()
    promotion: PromotionConfig = PromotionConfig()
    audit: AuditConfig = AuditConfig()
    monitor: MonitorConfig = MonitorConfig()
    guard: GuardConfig = GuardConfig()
    points: PointsConfig = PointsConfig()
    disqualify: DisqualifyConfig = DisqualifyConfig()
    mlflow: MlflowConfig = MlflowConfig()
    source: Path | None = Field(None, exclude=True)

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
