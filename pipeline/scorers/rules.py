"""RuleScorer: the points table sales teams run today, on the same feature table as the model.

A rules file (``configs/rules/<dataset>.yaml``) is written the way a marketing-operations team
writes its scoring sheet:

* ``attributes``: points per value of a categorical fit feature (seniority, industry, size band,
  lead source...); values not listed score 0;
* ``flags``: points when a yes/no feature is true (free-mail address, competitor, opted out);
* ``thresholds``: points for a numeric feature at or above each step (visits >= 5: +5, >= 10: +5);
* ``activities``: points per event with a cap, for an activity signal counted in the feature
  table's 7/30/90-day windows, with *step decay* (events in the last 7 days count fully, older
  ones by ``0.5 ** (age / half_life_days)`` at the middle of their window, none after 90 days):
  the decay CRMs implement with "in the last N days" filters; or, with ``window: 30``, only the
  events of the last 30 days, each fully; or, with ``half_life_days: 3``, every event weighed
  ``0.5 ** (age / 3)`` (the feature table's ``decayed_<signal>`` column, whose half-life is the
  feature builder's: the form the learned table writes when the decay is learned);
* ``mql_threshold``: points at which a lead becomes marketing-qualified (default 100);
* ``base_points``: points every lead starts with (default 0; an "all contacts" rule in a CRM).

Its additive raw space is points, its base is ``base_points`` (no evidence), and each rule's
points are its own share, attributed to the features it reads; a calibrator fitted on the
validation split maps points to a probability so both scorers are compared on calibrated
probabilities.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from features.activity import DECAYED
from features.firmographic import feature_name
from features.spec import FeatureSpec
from pipeline.data.config import as_text, read_yaml_text
from pipeline.data.errors import ConfigError
from pipeline.scorers.base import BaseScorer

if TYPE_CHECKING:
    from pipeline.scorers.kinds import ScorerContext

WINDOW_MIDPOINTS = {7: 3.5, 30: 18.5, 90: 60.0}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActivityRule(_Frozen):
    """Points per event of one activity signal, capped.

    Without ``window`` the events of every window count, with the book's step decay; with
    ``window`` only the events of the last ``window`` days count, each fully (the "in the last
    30 days" filter of a CRM's scoring rule, and the form the learned table writes); with
    ``half_life_days`` each event counts ``0.5 ** (age / half_life_days)``: the rule reads the
    ``decayed_<signal>`` feature, so the half-life must be the feature builder's (the learned
    table writes it from there).
    """

    points: float
    cap: float | None = None
    window: int | None = Field(None, gt=0)
    half_life_days: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_recency(self) -> ActivityRule:
        """A rule counts events in a window or decays them, not both."""
        if self.window is not None and self.half_life_days is not None:
            raise ValueError("window and half_life_days: give one of them")
        return self


class Step(_Frozen):
    """Points added when a numeric feature is at least ``min``."""

    min: float
    points: float


class Decay(_Frozen):
    """Step decay of activity points by window."""

    half_life_days: float | None = Field(30.0, gt=0)


class RulesBook(_Frozen):
    """A complete points table."""

    name: str = "rules"
    description: str = ""
    mql_threshold: float = 100.0
    base_points: float = 0.0
    decay: Decay = Decay()
    attributes: dict[str, dict[str, float]] = {}
    flags: dict[str, float] = {}

    @field_validator("attributes", mode="before")
    @classmethod
    def _values_as_text(cls, value: object) -> object:
        """``{true: 5}`` or ``{1: 5}`` keys mean the text written (a value of the field)."""
        if not isinstance(value, dict):
            return value
        return {str(field): {as_text(k): v for k, v in levels.items()}
                if isinstance(levels, dict) else levels for field, levels in value.items()}
    thresholds: dict[str, list[Step]] = {}
    activities: dict[str, ActivityRule] = {}

    def window_weights(self, windows: list[int]) -> dict[int, float]:
        """Weight of an event in each window band (7d band, 7-30d band, 30-90d band...)."""
        if self.decay.half_life_days is None:
            return dict.fromkeys(windows, 1.0)
        out = {}
        previous = 0
        for window in sorted(windows):
            middle = WINDOW_MIDPOINTS.get(window, (previous + window) / 2)
            out[window] = float(0.5 ** (middle / self.decay.half_life_days))
            previous = window
        return out


def load_rules(path: str | Path) -> RulesBook:
    """Read and validate a rules file; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: rules file not found")
    try:
        data = read_yaml_text(path.read_text()) or {}
        return RulesBook.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = "unknown key (misspelled?)" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{path}: {key}: {msg}") from None


def check_sheet(book: RulesBook, ctx: ScorerContext, source: str) -> tuple[list[str], list[str]]:
    """Problems (fields that are not features) and notes (rules skipped) of a sheet, as train
    would find them, without fitting anything."""
    scorer = RuleScorer(spec=ctx.spec, book=book, windows=ctx.windows, source=source,
                        dropped=ctx.dropped)
    problems = scorer.check_book()
    return problems, scorer.notes()


def _suggest(field: str, names: set[str]) -> str:
    """' (did you mean 'origin'?)': the closest feature, also via the normalised column name."""
    normalised = feature_name(field)
    if normalised != field and normalised in names:
        return f" (rule fields are feature names: write '{normalised}')"
    close = difflib.get_close_matches(normalised, sorted(names), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def write_rules(book: RulesBook, path: str | Path, header: str = "") -> None:
    """Write a rules file (atomic) in the format :func:`load_rules` reads."""
    from pipeline.data.io import atomic_path

    data = book.model_dump(mode="json", exclude_defaults=False)
    text = (header + "\n" if header else "") + yaml.safe_dump(data, sort_keys=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def activity_columns(signal: str, names: list[str], windows: list[int]) -> dict[int, str]:
    """Window -> feature column counting ``signal`` events (``<signal>_<w>d``)."""
    return {w: f"{signal}_{w}d" for w in windows if f"{signal}_{w}d" in names}


class RuleScorer(BaseScorer):
    """Points-table scorer with the same interface as the model.

    Parameters
    ----------
    spec
        Feature spec of the table it scores.
    book
        The points table.
    windows
        Activity windows of the feature table (days).
    calibration_methods, cv_folds, random_state
        Calibrator fitted on the validation split.
    source
        Where the rules came from (named in errors).
    dropped
        Features the builder dropped as constant in the training leads: rules on them give every
        lead the same points, so they are skipped (listed in ``skipped_``) rather than refused.
    """


    def __init__(
        self,
        spec: FeatureSpec,
        book: RulesBook,
        windows: tuple[int, ...] = (7, 30, 90),
        calibration_methods: tuple[str, ...] = ("isotonic", "sigmoid"),
        cv_folds: int = 5,
        random_state: int = 42,
        source: str = "rules",
        dropped: tuple[str, ...] = (),
    ):
        self.spec = spec
        self.book = book
        self.windows = windows
        self.calibration_methods = calibration_methods
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.source = source
        self.dropped = dropped

    def check_book(self) -> list[str]:
        """Rules that name features the table does not have (one message each)."""
        names = set(self.spec.names)
        dropped = set(self.dropped)
        problems = []
        self.skipped_: list[str] = []
        for section in ("attributes", "flags", "thresholds"):
            for feature in getattr(self.points_book(), section):
                if feature in dropped:
                    self.skipped_.append(f"{section}.{feature}")
                elif feature not in names:
                    problems.append(f"{self.source}: {section}.{feature}: no such feature"
                                    + _suggest(feature, names | dropped))
        for signal, rule in self.points_book().activities.items():
            if rule.half_life_days is not None:
                column = DECAYED + signal
                if column in dropped:
                    self.skipped_.append(f"activities.{signal}")
                elif column not in names:
                    problems.append(f"{self.source}: activities.{signal}.half_life_days: no "
                                    f"'{column}' feature (features.decay: learn or fixed)")
                continue
            # A windowed rule reads its one window column; the others read every window.
            windows = list(self.windows) if rule.window is None else [rule.window]
            if rule.window is not None and rule.window not in self.windows:
                problems.append(f"{self.source}: activities.{signal}.window: {rule.window} is not "
                                f"a feature window ({', '.join(map(str, self.windows))} days)")
            elif not activity_columns(signal, list(names), windows):
                if activity_columns(signal, list(dropped), windows):
                    self.skipped_.append(f"activities.{signal}")
                else:
                    signals = {n.rsplit("_", 1)[0] for n in names if re.search(r"_\d+d$", n)}
                    problems.append(
                        f"{self.source}: activities.{signal}: no '{signal}_<N>d' window features"
                        + _suggest(signal, signals))
        return problems

    def _fit_raw(self, X, y, X_valid, y_valid, sample_weight=None) -> None:
        # a points sheet is written by people, not fitted: the weights have nothing to move
        problems = self.check_book()
        if problems:
            raise ConfigError(problems[0], details=problems)
        self.base_raw_ = float(self.points_book().base_points)

    # -- hooks ----------------------------------------------------------------------------------
    def points_book(self) -> RulesBook:
        """The points table it runs."""
        return self.book

    def notes(self) -> list[str]:
        """Rules skipped because their feature is constant in the training leads."""
        if not self.skipped_:
            return []
        return [f"{self.source}: rules on features constant in the training leads were skipped: "
                f"{', '.join(self.skipped_)}"]

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """Each rule's points, attributed to the feature (window) it reads."""
        shares = pd.DataFrame(0.0, index=X.index, columns=list(self.spec.names))
        book = self.points_book()
        names = set(X.columns)
        for feature, table in book.attributes.items():
            if feature not in names:
                continue
            values = X[feature].astype(object).astype(str).str.casefold()
            lookup = {str(k).casefold(): v for k, v in table.items()}
            shares[feature] += values.map(lookup).fillna(0.0).astype("float64").to_numpy()
        for feature, points in book.flags.items():
            if feature not in names:
                continue
            shares[feature] += np.where(X[feature].fillna(0).to_numpy(dtype="float64") > 0,
                                        points, 0.0)
        for feature, steps in book.thresholds.items():
            if feature not in names:
                continue
            values = X[feature].to_numpy(dtype="float64")
            for step in steps:
                shares[feature] += np.where(values >= step.min, step.points, 0.0)
        weights = book.window_weights(list(self.windows))
        for signal, rule in book.activities.items():
            if rule.half_life_days is not None:
                if DECAYED + signal in names:
                    total = X[DECAYED + signal].fillna(0).to_numpy(dtype="float64") * rule.points
                    shares[DECAYED + signal] += total if rule.cap is None else np.clip(
                        total, -abs(rule.cap), abs(rule.cap))
                continue
            cols = activity_columns(signal, list(X.columns), list(self.windows))
            if rule.window is not None:
                cols = {w: c for w, c in cols.items() if w == rule.window}
            previous = np.zeros(len(X))
            parts = {}
            for window in sorted(cols):
                count = X[cols[window]].fillna(0).to_numpy(dtype="float64")
                weight = 1.0 if rule.window is not None else weights[window]
                parts[window] = np.maximum(count - previous, 0.0) * weight * rule.points
                previous = np.maximum(previous, count)
            total = sum(parts.values())
            capped = total if rule.cap is None else np.clip(total, -abs(rule.cap), abs(rule.cap))
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(total != 0, capped / total, 0.0)
            for window, part in parts.items():
                shares[cols[window]] += part * scale
        return shares, float(book.base_points)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Total rule points per lead."""
        shares, base = self.contributions(X)
        return base + shares.to_numpy().sum(axis=1)


def build(ctx: ScorerContext) -> RuleScorer:
    """The ``rules`` kind: the team's own points sheet (``rules:`` in the config)."""
    config = ctx.config
    return RuleScorer(spec=ctx.spec, book=ctx.rules, source=ctx.rules_source,
                      windows=ctx.windows, calibration_methods=tuple(config.calibration.methods),
                      cv_folds=config.calibration.cv_folds, random_state=config.seed,
                      dropped=ctx.dropped)
