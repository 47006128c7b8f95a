"""Typed configuration: YAML in ``configs/`` parsed once, at the edge, into frozen pydantic models.

``configs/base.yaml`` holds the project defaults; a dataset config (``configs/demo.yaml``,
``configs/x_education.yaml``) is deep-merged over it. The core receives these typed objects, never
a dict to dig into. A bad config raises :class:`~pipeline.data.errors.ConfigError` naming the file
and the dotted key, e.g. ``configs/demo.yaml: split.valid_fraction: Input should be less than
0.5``.
"""

from __future__ import annotations

import copy
import difflib
import functools
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.settings import FeatureSettings
from pipeline.data.errors import ConfigError

BASE_CONFIG_NAME = "base.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadColumns(_Frozen):
    """Where each contract role lives in the leads export (export column names)."""

    lead_id: str = "lead_id"
    created_at: str | None = "created_at"
    outcome: str | None = "outcome"
    outcome_at: str | None = "outcome_at"
    target: str | None = None


class ActivityColumns(_Frozen):
    """Where each contract role lives in the activity export."""

    lead_id: str = "lead_id"
    occurred_at: str = "occurred_at"
    activity_type: str = "activity_type"
    detail: str | None = "detail"
    channel: str | None = "channel"


class AsOfRule(_Frozen):
    """When a training lead is scored: the moment its features are frozen.

    ``days_after_created``: ``created_at + days``. ``snapshot``: one fixed ``date`` for every lead.
    ``points_threshold``: the first moment the lead's rule points reach ``points`` (leads that never
    reach it use ``created_at + days``).
    """

    rule: Literal["days_after_created", "snapshot", "points_threshold"] = "days_after_created"
    days: float = Field(14.0, gt=0)
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
    activity_types: list[str] = []
    segment: str | None = None
    as_of: AsOfRule = AsOfRule()
    horizon_days: int = Field(180, gt=0)
    snapshot: datetime | None = None
    read: ReadOptions = ReadOptions()

    @model_validator(mode="after")
    def _check_mode(self) -> DatasetConfig:
        if self.mode == "flat" and self.columns.target is None and self.columns.outcome is None:
            raise ValueError("flat mode needs columns.target (a 0/1 column) or columns.outcome")
        if self.mode == "events" and self.columns.created_at is None:
            raise ValueError("events mode needs columns.created_at")
        unknown = sorted(set(self.keep_leaky) - set(self.leaky))
        if unknown:
            raise ValueError(f"keep_leaky names columns not listed under leaky: {unknown}")
        return self

    @property
    def excluded_leaky(self) -> list[str]:
        """Leaky columns that stay out of the features."""
        return [c for c in self.leaky if c not in self.keep_leaky]


class SplitConfig(_Frozen):
    """Train / valid / test split: by as_of time, or random stratified for flat exports."""

    method: Literal["time", "random"] = "time"
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
    rules: Path | None = None
    tuning: TuningConfig = TuningConfig()
    promotion: PromotionConfig = PromotionConfig()
    audit: AuditConfig = AuditConfig()
    monitor: MonitorConfig = MonitorConfig()
    guard: GuardConfig = GuardConfig()
    points: PointsConfig = PointsConfig()
    disqualify: DisqualifyConfig = DisqualifyConfig()
    mlflow: MlflowConfig = MlflowConfig()
    source: Path | None = Field(None, exclude=True)

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


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    return data


def _has_key(tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Load a dataset config merged over ``base.yaml`` from the same folder.

    Parameters
    ----------
    path
        The dataset config, e.g. ``configs/demo.yaml``.
    overrides
        Nested mapping applied last (tests and the CLI's ``--set``).

    Raises
    ------
    ConfigError
        Naming the file and the dotted key at fault.
    """
    path = Path(path)
    data = _read_yaml(path)
    base_path = path.parent / BASE_CONFIG_NAME
    base = _read_yaml(base_path) if base_path.is_file() and base_path != path else {}
    merged = _deep_merge(base, data)
    if overrides:
        merged = _deep_merge(merged, overrides)
    try:
        return Config.model_validate({**merged, "source": path})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not isinstance(p, int) or True)
        key = ".".join(str(p) for p in loc) or "(top level)"
        if overrides and _has_key(overrides, loc):
            origin = "--set"
        else:
            origin = path if _has_key(data, loc[:1]) or not base else base_path
        message = "unknown key (misspelled?)" if err["type"] == "extra_forbidden" else \
            err["msg"].removeprefix("Value error, ")
        more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        where = f"--set {key}" if origin == "--set" else f"{origin}: {key}"
        raise ConfigError(f"{where}: {message}{more}") from None


def parse_assignment(items: list[str]) -> dict[str, Any]:
    """Turn ``["model.n_estimators=50", "seed=1"]`` into a nested override mapping."""
    tree: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. model.n_estimators=50")
        key, raw = item.split("=", 1)
        node = tree
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw  # "," or "a: b" are not YAML scalars; the user meant the text
        node[parts[-1]] = value
    return tree
