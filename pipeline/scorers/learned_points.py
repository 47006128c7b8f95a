"""Learned points table: an additive scorecard fitted from data, in the rules format CRMs run.

Many teams can only run points rules inside their CRM's native scoring. This module learns such a
table from the training leads and writes it in exactly the format
:class:`~pipeline.scorers.rules.RuleScorer` reads, so it is evaluated on the same split as the
hand-made rules and the model, and loads unchanged.

How: every feature of the table becomes the indicators a points rule can express,

* a categorical fit feature: one indicator per level (``industry = software``) -> ``attributes``;
* a yes/no feature: ``is true`` -> ``flags``;
* a numeric feature (including activity counts per window): cumulative steps ``x >= edge`` at a
  few quantile edges of the training values -> ``thresholds``; the last step is the cap.

An L1-penalised logistic regression on those indicators (training leads only; the penalty chosen
by the validation AUC of the *rounded* table, which is what ships) gives log-odds per indicator.
They become whole points on the usual scorecard scale, ``points = coef * pdo / ln 2`` (``pdo``
points double the odds). Because the indicators are exactly what the RuleScorer computes, the
shipped table reproduces the fitted model up to the rounding. Missing values switch no indicator
on, as in the RuleScorer. The MQL line is placed where the chosen share of validation leads
(sales capacity) or the chosen precision is reached, and ``base_points`` (what every lead starts
with) is set so that this line is the familiar 100 points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from features.spec import FeatureSpec
from pipeline.scorers.rules import RulesBook, RuleScorer, Step

if TYPE_CHECKING:
    from pipeline.scorers.kinds import ScorerContext

PENALTIES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
MQL_POINTS = 100.0
# scikit-learn 1.8 spells an L1 penalty l1_ratio=1 and deprecates penalty="l1".
_L1 = {"l1_ratio": 1.0} if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8) \
    else {"penalty": "l1"}


@dataclass(frozen=True)
class _Indicator:
    section: str  # attributes | flags | thresholds
    feature: str
    level: str | None = None  # attributes
    edge: float | None = None  # thresholds


def _readable(value: float) -> float:
    """``value`` rounded to two significant digits (whole numbers stay whole below 100)."""
    if value == 0 or abs(value) < 100 and float(value).is_integer():
        return value
    return float(f"{value:.2g}")


def _edges(values: np.ndarray, max_steps: int) -> list[float]:
    """Step edges of a numeric feature: observed values at quantiles of those above the minimum.

    For counts (mostly zeros) this gives "at least 1", then steps among the leads that have any;
    for continuous columns plain quantiles. An edge at the minimum itself is kept only when some
    values are missing, since it then separates "known" from "missing".
    """
    known = values[np.isfinite(values)]
    if known.size == 0:
        return []
    low = float(known.min())
    above = np.unique(known[known > low])
    edges: list[float] = []
    if above.size:
        quantiles = np.quantile(known[known > low], np.linspace(0, 1, max_steps + 1)[:-1])
        # The smallest observed value at or above each quantile, to two significant digits,
        # keeps edges readable ("3", "180,000,000"; not 2.7 or 175,882,113).
        picked = above[np.minimum(np.searchsorted(above, quantiles), above.size - 1)]
        edges = sorted({_readable(float(v)) for v in picked} - {low})
    if known.size < values.size:
        edges = [low, *edges]
    return edges


def _indicators(X: pd.DataFrame, spec: FeatureSpec, max_steps: int,
                min_share: float) -> list[_Indicator]:
    out: list[_Indicator] = []
    min_rows = max(1, int(min_share * len(X)))
    for info in spec.features:
        column = X[info.name]
        if info.dtype == "categorical":
            counts = column.astype(object).astype(str).str.casefold().value_counts()
            out += [_Indicator("attributes", info.name, level=str(level))
                    for level, n in counts.items() if level != "nan" and n >= min_rows]
        elif info.dtype == "boolean":
            if (column.fillna(0).to_numpy(dtype="float64") > 0).sum() >= min_rows:
                out.append(_Indicator("flags", info.name))
        else:
            values = column.to_numpy(dtype="float64")
            for edge in _edges(values, max_steps):
                if (values >= edge).sum() >= min_rows:
                    out.append(_Indicator("thresholds", info.name, edge=edge))
    return out


def _design(X: pd.DataFrame, indicators: list[_Indicator]) -> np.ndarray:
    """0/1 matrix of the indicators, computed exactly as the RuleScorer computes its rules."""
    mat = np.zeros((len(X), len(indicators)), dtype="float64")
    text: dict[str, pd.Series] = {}
    for j, ind in enumerate(indicators):
        if ind.section == "attributes":
            if ind.feature not in text:
                text[ind.feature] = X[ind.feature].astype(object).astype(str).str.casefold()
            mat[:, j] = (text[ind.feature] == ind.level).to_numpy()
        elif ind.section == "flags":
            mat[:, j] = X[ind.feature].fillna(0).to_numpy(dtype="float64") > 0
        else:
            mat[:, j] = X[ind.feature].to_numpy(dtype="float64") >= ind.edge
    return mat


def _book(indicators: list[_Indicator], points: np.ndarray, name: str, description: str,
          base_points: float) -> RulesBook:
    attributes: dict[str, dict[str, float]] = {}
    flags: dict[str, float] = {}
    thresholds: dict[str, list[Step]] = {}
    for ind, pts in zip(indicators, points, strict=True):
        if pts == 0:
            continue
        if ind.section == "attributes":
            attributes.setdefault(ind.feature, {})[ind.level] = float(pts)
        elif ind.section == "flags":
            flags[ind.feature] = float(pts)
        else:
            thresholds.setdefault(ind.feature, []).append(Step(min=ind.edge, points=float(pts)))
    return RulesBook(name=name, description=description, mql_threshold=MQL_POINTS,
                     base_points=base_points, attributes=attributes, flags=flags,
                     thresholds=thresholds)


def place_mql_threshold(points: np.ndarray, y: np.ndarray, capacity: float | None = None,
                        precision: float | None = None) -> float:
    """Whole-point MQL threshold on validation leads.

    With ``precision``: the lowest threshold whose MQLs convert at least that often (the whole
    range's top score if none does). Otherwise the threshold that makes ``capacity`` (share of
    leads sales can work, default 0.2) marketing-qualified.
    """
    points = np.asarray(points, dtype="float64")
    if precision is not None:
        y = np.asarray(y)
        for threshold in np.unique(np.round(points)):
            chosen = points >= threshold
            if chosen.any() and y[chosen].mean() >= precision:
                return float(threshold)
        return float(np.round(points.max()))
    share = 0.2 if capacity is None else capacity
    return float(np.ceil(np.quantile(points, 1.0 - share)))


@dataclass
class LearnedPoints:
    """The learned table and how it was chosen."""

    book: RulesBook
    penalty: float
    valid_auc: float
    fitted_valid_auc: float
    n_rules: int


def learn_points(
    X: pd.DataFrame,
    y: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    spec: FeatureSpec,
    *,
    pdo: float = 20.0,
    max_steps: int = 4,
    min_share: float = 0.005,
    mql_capacity: float | None = 0.2,
    mql_precision: float | None = None,
    name: str = "Learned points",
    sample_weight: np.ndarray | None = None,
    random_state: int = 42,
) -> LearnedPoints:
    """Fit a whole-point scorecard on the training leads (see the module docstring).

    Parameters
    ----------
    X, y
        Training feature table (spec columns) and labels.
    X_valid, y_valid
        Validation leads: choose the penalty (AUC of the rounded table) and place the MQL line.
    spec
        Feature spec: which features are categorical, yes/no or numeric.
    pdo
        Points that double the odds of conversion (the scorecard scale).
    max_steps
        Most threshold steps per numeric feature.
    min_share
        Smallest share of training leads an indicator must switch on (rarer rules are noise).
    mql_capacity, mql_precision
        Where the MQL threshold goes (see :func:`place_mql_threshold`).
    name
        Name written into the table.
    random_state
        Seed of the solver.
    """
    y = np.asarray(y)
    y_valid = np.asarray(y_valid)
    indicators = _indicators(X, spec, max_steps, min_share)
    D, D_valid = _design(X, indicators), _design(X_valid, indicators)
    scale = pdo / math.log(2.0)
    best: tuple[float, float, float, np.ndarray] | None = None
    for penalty in PENALTIES:
        lr = LogisticRegression(C=penalty, solver="liblinear", max_iter=500,
                                random_state=random_state, **_L1).fit(
                                    D, y, sample_weight=sample_weight)
        points = np.round(lr.coef_[0] * scale)
        auc = roc_auc_score(y_valid, D_valid @ points) if points.any() else 0.5
        fitted = roc_auc_score(y_valid, lr.decision_function(D_valid))
        # Prefer the sparser table on a tie: fewer rules are easier to run and to read.
        if best is None or auc > best[1] + 1e-4:
            best = (penalty, auc, fitted, points)
    penalty, auc, fitted, points = best
    mql = place_mql_threshold(D_valid @ points, y_valid, mql_capacity, mql_precision)
    # Every lead starts with the points that put the MQL line at the familiar 100.
    where = (f"precision {mql_precision:.0%}" if mql_precision is not None
             else f"top {mql_capacity or 0.2:.0%} of validation leads")
    description = (f"Learned from {len(y):,} training leads ({int(y.sum()):,} conversions): "
                   f"L1 logistic scorecard, {pdo:g} points double the odds, MQL line at {where}.")
    book = _book(indicators, points, name, description, base_points=MQL_POINTS - mql)
    return LearnedPoints(book, penalty, float(auc), float(fitted), int(np.count_nonzero(points)))


class LearnedPointsScorer(RuleScorer):
    """A points table learned from the training leads (:func:`learn_points`), then run exactly
    as the hand-made rules are.

    Parameters
    ----------
    spec, windows, calibration_methods, cv_folds, random_state, dropped
        As for :class:`~pipeline.scorers.rules.RuleScorer`.
    pdo, max_steps, min_share, mql_capacity, mql_precision, name
        As for :func:`learn_points`.
    """

    source = "learned points"  # named in the rules' error messages

    def __init__(
        self,
        spec: FeatureSpec,
        windows: tuple[int, ...] = (7, 30, 90),
        calibration_methods: tuple[str, ...] = ("isotonic", "sigmoid"),
        cv_folds: int = 5,
        random_state: int = 42,
        dropped: tuple[str, ...] = (),
        pdo: float = 20.0,
        max_steps: int = 4,
        min_share: float = 0.005,
        mql_capacity: float | None = 0.2,
        mql_precision: float | None = None,
        name: str = "Learned points",
    ):
        # No call to RuleScorer.__init__: the book is learned in fit, not given.
        self.spec = spec
        self.windows = windows
        self.calibration_methods = calibration_methods
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.dropped = dropped
        self.pdo = pdo
        self.max_steps = max_steps
        self.min_share = min_share
        self.mql_capacity = mql_capacity
        self.mql_precision = mql_precision
        self.name = name

    def _fit_raw(self, X, y, X_valid, y_valid, sample_weight=None) -> None:
        self.learned_ = learn_points(
            X, y, X_valid, y_valid, self.spec, pdo=self.pdo, max_steps=self.max_steps,
            min_share=self.min_share, mql_capacity=self.mql_capacity,
            mql_precision=self.mql_precision, name=self.name, random_state=self.random_state,
            sample_weight=sample_weight)
        super()._fit_raw(X, y, X_valid, y_valid)

    def points_book(self) -> RulesBook:
        """The learned table (after fit)."""
        return self.learned_.book

    def training_lines(self) -> list[str]:
        """How big the table is and how it did on validation."""
        learned = self.learned_
        return [f"learned points: {learned.n_rules} rules, validation AUC "
                f"{learned.valid_auc:.3f} (unrounded {learned.fitted_valid_auc:.3f}), MQL at "
                f"{learned.book.mql_threshold:g}"]

    def tracking_tables(self) -> dict[str, object]:
        """The table itself (it ships as a rules file, ``leadscore points``)."""
        return {"learned_points.json": self.learned_.book.model_dump(mode="json")}


def build(ctx: ScorerContext) -> LearnedPointsScorer:
    """The ``learned_points`` kind, from the ``points:`` section."""
    config = ctx.config
    pc = config.points
    return LearnedPointsScorer(
        spec=ctx.spec, windows=ctx.windows, calibration_methods=tuple(config.calibration.methods),
        cv_folds=config.calibration.cv_folds, random_state=config.seed, dropped=ctx.dropped,
        pdo=pc.pdo, max_steps=pc.max_steps, min_share=pc.min_share,
        **_mql_line(ctx), name=f"Learned points ({config.dataset.name})")


def _mql_line(ctx: ScorerContext) -> dict[str, float | None]:
    """Where the table's 100-point line goes: the run's one MQL rule (``scoring.mql``)."""
    which, target = ctx.config.scoring.mql.rule()
    if which == "precision":
        return {"mql_capacity": None, "mql_precision": target}
    if which == "per_week":
        # leads a week over the prepared leads' as_of span; a flat export has no dates, and its
        # table keeps the 20 % line (its description says so; MQL flags follow scoring.mql)
        if ctx.row_time is None:
            return {"mql_capacity": None, "mql_precision": None}
        times = pd.to_datetime(ctx.row_time)
        weeks = max((times.max() - times.min()).days / 7.0, 1.0)
        target = min(0.99, target / (len(times) / weeks))
    return {"mql_capacity": target, "mql_precision": None}


def points_table(book: RulesBook, spec: FeatureSpec | None = None) -> pd.DataFrame:
    """The table as rows a marketing-automation admin copies field by field.

    Columns ``factor, field, condition, points, rule``: one row per rule, grouped by factor,
    biggest points first within a factor; ``rule`` is the section of the rules file it sits in.
    Activity rules (per event, capped) read ``per event (cap N)``.
    """
    rows = [{"factor": "Start", "field": "every lead", "condition": "starts with",
             "points": book.base_points, "rule": "base_points"}] if book.base_points else []

    def factor(feature: str) -> str:
        return spec.factor_of(feature) if spec is not None and feature in spec else feature

    for feature, table in book.attributes.items():
        rows += [{"factor": factor(feature), "field": feature, "condition": f"= {level}",
                  "points": pts, "rule": "attributes"} for level, pts in table.items()]
    for feature, pts in book.flags.items():
        rows.append({"factor": factor(feature), "field": feature, "condition": "is true",
                     "points": pts, "rule": "flags"})
    for feature, steps in book.thresholds.items():
        rows += [{"factor": factor(feature), "field": feature, "condition": f">= {s.min:,.10g}",
                  "points": s.points, "rule": "thresholds"} for s in steps]
    for signal, rule in book.activities.items():
        cap = "" if rule.cap is None else f" (cap {rule.cap:g})"
        rows.append({"factor": factor(signal), "field": signal,
                     "condition": f"per event{cap}", "points": rule.points,
                     "rule": "activities"})
    rows.append({"factor": "MQL", "field": "total points", "condition":
                 f">= {book.mql_threshold:g}", "points": None, "rule": "mql_threshold"})
    table = pd.DataFrame(rows, columns=["factor", "field", "condition", "points", "rule"])
    table["points"] = table["points"].astype("Int64")
    order = table["points"].abs().fillna(-1).to_numpy()
    table = table.assign(_o=-order)
    factor_order = {f: i for i, f in enumerate(dict.fromkeys(table["factor"]))}
    table["_f"] = table["factor"].map(factor_order)
    return table.sort_values(["_f", "_o"], kind="stable").drop(columns=["_o", "_f"]).reset_index(
        drop=True)
