"""Learned points table: a short scorecard fitted from data, in the rules format CRMs run.

Many teams can only run points rules inside their CRM's native scoring. This module learns such a
table from the training leads and writes it in exactly the format
:class:`~pipeline.scorers.rules.RuleScorer` reads, so it is evaluated on the same split as the
hand-made rules and the model, and loads unchanged.

What a rule may be is :mod:`pipeline.scorers.points_table`'s business: levels of categorical
fields, yes/no flags, steps at nice edges of numeric fields, and per-event points of an activity
in one recency window with a cap, each CRM field encoded one way only. This module chooses among
those candidates by **greedy forward selection** on the training leads:

1. start from the base rate; at each step add the candidate with the largest Rao score statistic
   (the gain in log-likelihood a one-step Newton move would give it, given the rules already in
   the table: the squared gradient over the candidate's information left after the chosen
   columns are projected out), among candidates still allowed: its field is free or already
   encoded by the same feature, a numeric field has fewer than ``max_steps`` steps, an activity
   signal has no rule yet, and its gradient has the sign the spec's business direction asks;
2. refit an L2-logistic regression on the chosen columns (scikit-learn); a column whose weight
   came out against its direction leaves the table for good;
3. round the weights to whole points on the scorecard scale ``points = coef * pdo / ln 2``
   (``pdo`` points double the odds) and note the validation AUC of the rounded table.

It stops at ``max_rules`` rules with non-zero points, when no candidate's score passes the
5 % chi-square entry level, or when ``patience`` steps brought no better validation AUC; the
table shipped is the step with the best validation AUC of the *rounded* table (the shorter on a
tie). Because the candidates' columns are what the RuleScorer computes, the shipped table
reproduces the fitted model up to the rounding. The MQL line is placed where the chosen share of
validation leads (sales capacity) or the chosen precision is reached, and ``base_points`` (what
every lead starts with) is set so that this line is the familiar 100 points.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import chi2
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from features.spec import FeatureSpec
from pipeline.scorers import points_table as table_mod
from pipeline.scorers.points_table import Candidate, book_of, candidates, design
from pipeline.scorers.rules import RulesBook, RuleScorer

if TYPE_CHECKING:
    from pipeline.scorers.kinds import ScorerContext

MQL_POINTS = 100.0
#: Entry level of the score test: a rule whose evidence is weaker than this does not join.
ENTRY_P = 0.05
#: L2 strength of the refits (scikit-learn's C): mild, keeps rare rules from running away.
REFIT_C = 1.0
points_table = table_mod.points_table  # `leadscore points` prints it


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
    valid_auc: float
    fitted_valid_auc: float
    n_rules: int
    #: (rules with points, validation AUC of the rounded table) after every selection step
    path: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class _Step:
    chosen: list[int]
    points: np.ndarray
    valid_auc: float
    fitted_valid_auc: float

    @property
    def n_rules(self) -> int:
        return int(np.count_nonzero(self.points))


def _allowed(rules: list[Candidate], chosen: list[int], refused: set[int],
             max_steps: int) -> np.ndarray:
    """Candidates that may join: one feature per field, ``max_steps`` steps, one rule a signal."""
    owner = {rules[j].field: rules[j].feature for j in chosen}
    steps = Counter(rules[j].feature for j in chosen if rules[j].section == "thresholds")
    ok = np.ones(len(rules), dtype=bool)
    for j, rule in enumerate(rules):
        taken = owner.get(rule.field)
        ok[j] = (j not in refused and j not in chosen
                 and (taken is None or taken == rule.feature and rule.section != "activities")
                 and (rule.section != "thresholds" or steps[rule.feature] < max_steps))
    return ok


def _scores(D: np.ndarray, D2: np.ndarray, y: np.ndarray, p: np.ndarray,
            chosen: list[int], sw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Rao score statistic of every candidate at the current (weighted) fit."""
    w = sw * p * (1.0 - p)
    gradient = D.T @ (sw * (y - p))
    fitted = np.column_stack([np.ones(len(y)), D[:, chosen]])
    # Information left in each candidate once the chosen columns (and the intercept) explain
    # what they can: a near-copy of a chosen rule scores nothing.
    cross = (fitted * w[:, None]).T @ D
    gram = (fitted * w[:, None]).T @ fitted
    explained = np.einsum("ij,ij->j", cross, np.linalg.lstsq(gram, cross, rcond=None)[0])
    left = w @ D2 - explained
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(left > 1e-9 * len(y), gradient ** 2 / left, 0.0)
    return gradient, score


def _refit(D: np.ndarray, y: np.ndarray, chosen: list[int], random_state: int,
           sw: np.ndarray):
    # Newton-Cholesky: exact in a few steps for a table's few dozen columns.
    return LogisticRegression(C=REFIT_C, solver="newton-cholesky", max_iter=100,
                              random_state=random_state).fit(D[:, chosen], y, sample_weight=sw)


def _forward_select(D, y, D_valid, y_valid, rules: list[Candidate], *, scale: float,
                    max_rules: int | None, max_steps: int, patience: int,
                    random_state: int, sample_weight: np.ndarray | None = None) -> list[_Step]:
    """The selection path (module docstring): one :class:`_Step` per rule added.

    ``sample_weight``: the training rows' fit weights (an as_of grid's per-lead weights)."""
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, "float64")
    base = float(np.average(y, weights=sw))
    entry = float(chi2.ppf(1.0 - ENTRY_P, df=1))
    direction = np.array([r.direction for r in rules])
    chosen: list[int] = []
    refused: set[int] = set()
    path: list[_Step] = []
    p = np.full(len(y), base)
    best_auc, since_best = -np.inf, 0
    limit = max_rules if max_rules is not None else len(rules)
    D2 = D * D
    while True:
        gradient, score = _scores(D, D2, y, p, chosen, sw)
        ok = _allowed(rules, chosen, refused, max_steps) & (direction * gradient >= 0)
        score = np.where(ok, score, 0.0)
        j = int(np.argmax(score))
        if score[j] < entry:
            break
        chosen.append(j)
        while True:
            model = _refit(D, y, chosen, random_state, sw)
            coef = model.coef_[0]
            against = [c for c, b in zip(chosen, coef, strict=True) if direction[c] * b < 0]
            if not against:
                break
            refused.update(against)
            chosen = [c for c in chosen if c not in against]
            if not chosen:
                break
        if not chosen:
            p = np.full(len(y), base)
            continue
        p = model.predict_proba(D[:, chosen])[:, 1]
        points = np.round(coef * scale)
        total = D_valid[:, chosen] @ points
        auc = roc_auc_score(y_valid, total) if points.any() else 0.5
        fitted = roc_auc_score(y_valid, model.decision_function(D_valid[:, chosen]))
        step = _Step(list(chosen), points, float(auc), float(fitted))
        if step.n_rules > limit:
            break
        path.append(step)
        best_auc, since_best = (auc, 0) if auc > best_auc + 1e-4 else (best_auc, since_best + 1)
        if step.n_rules >= limit or since_best >= patience:
            break
    return path


def learn_points(
    X: pd.DataFrame,
    y: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    spec: FeatureSpec,
    *,
    windows: tuple[int, ...] = (7, 30, 90),
    pdo: float = 20.0,
    max_rules: int | None = 25,
    max_steps: int = 4,
    min_share: float = 0.005,
    patience: int = 10,
    mql_capacity: float | None = 0.2,
    mql_precision: float | None = None,
    name: str = "Learned points",
    sample_weight: np.ndarray | None = None,
    random_state: int = 42,
    half_lives: dict[str, float] | None = None,
) -> LearnedPoints:
    """Choose a short whole-point table on the training leads (see the module docstring).

    Parameters
    ----------
    X, y
        Training feature table (spec columns) and labels.
    X_valid, y_valid
        Validation leads: decide where the selection stops (AUC of the rounded table) and place
        the MQL line.
    spec
        Feature spec: dtypes, business directions and the fields features come from.
    windows
        Activity windows of the feature table (days): the recency windows per-event rules use.
    pdo
        Points that double the odds of conversion (the scorecard scale).
    max_rules
        Most rules with points (levels, flags, steps, per-event rules); None: no limit.
    max_steps
        Most threshold steps per numeric field.
    min_share
        Smallest share of training leads a rule must fire on (rarer rules are noise).
    patience
        Selection steps without a better validation AUC after which the selection stops.
    mql_capacity, mql_precision
        Where the MQL threshold goes (see :func:`place_mql_threshold`).
    name
        Name written into the table.
    random_state
        Seed of the solver.
    half_lives
        Signal -> half-life of its ``decayed_<signal>`` column (the feature builder's): those
        signals' per-event rules decay with the model's half-life instead of using a window.
    """
    y = np.asarray(y, dtype="float64")
    y_valid = np.asarray(y_valid)
    rules = candidates(X, spec, tuple(windows), min_share, half_lives)
    D, D_valid = design(X, rules), design(X_valid, rules)
    scale = pdo / math.log(2.0)
    path = _forward_select(D, y, D_valid, y_valid, rules, scale=scale, max_rules=max_rules,
                           max_steps=max_steps, patience=patience, random_state=random_state,
                           sample_weight=sample_weight)
    # The best rounded table on validation; the shorter one on a tie (easier to run and read).
    best = max(path, key=lambda s: (round(s.valid_auc, 4), -s.n_rules), default=None)
    chosen = [] if best is None else best.chosen
    points = np.zeros(0) if best is None else best.points
    kept = [rules[j] for j in chosen]
    valid_points = (design(X_valid, kept) @ points if kept
                    else np.zeros(len(y_valid)))
    mql = place_mql_threshold(valid_points, y_valid, mql_capacity, mql_precision)
    where = (f"precision {mql_precision:.0%}" if mql_precision is not None
             else f"top {mql_capacity or 0.2:.0%} of validation leads")
    description = (f"Learned from {len(y):,} training leads ({int(y.sum()):,} conversions): "
                   f"greedy forward selection of at most "
                   f"{'unlimited' if max_rules is None else max_rules} rules, {pdo:g} points "
                   f"double the odds, MQL line at {where}.")
    # Every lead starts with the points that put the MQL line at the familiar 100.
    book = book_of(kept, points, name=name, description=description, mql_threshold=MQL_POINTS,
                   base_points=MQL_POINTS - mql)
    return LearnedPoints(book, 0.5 if best is None else best.valid_auc,
                         0.5 if best is None else best.fitted_valid_auc,
                         table_mod.n_rules(book), [(s.n_rules, s.valid_auc) for s in path])


class LearnedPointsScorer(RuleScorer):
    """A points table learned from the training leads (:func:`learn_points`), then run exactly
    as the hand-made rules are.

    Parameters
    ----------
    spec, windows, calibration_methods, cv_folds, random_state, dropped
        As for :class:`~pipeline.scorers.rules.RuleScorer`.
    pdo, max_rules, max_steps, min_share, mql_capacity, mql_precision, name, half_lives
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
        max_rules: int | None = 25,
        max_steps: int = 4,
        min_share: float = 0.005,
        mql_capacity: float | None = 0.2,
        mql_precision: float | None = None,
        name: str = "Learned points",
        half_lives: dict[str, float] | None = None,
    ):
        # No call to RuleScorer.__init__: the book is learned in fit, not given.
        self.spec = spec
        self.windows = windows
        self.calibration_methods = calibration_methods
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.dropped = dropped
        self.pdo = pdo
        self.max_rules = max_rules
        self.max_steps = max_steps
        self.min_share = min_share
        self.mql_capacity = mql_capacity
        self.mql_precision = mql_precision
        self.name = name
        self.half_lives = half_lives

    def _fit_raw(self, X, y, X_valid, y_valid, sample_weight=None) -> None:
        self.learned_ = learn_points(
            X, y, X_valid, y_valid, self.spec, windows=tuple(self.windows), pdo=self.pdo,
            max_rules=self.max_rules, max_steps=self.max_steps,
            min_share=self.min_share, mql_capacity=self.mql_capacity,
            mql_precision=self.mql_precision, name=self.name, random_state=self.random_state,
            sample_weight=sample_weight, half_lives=self.half_lives)
        super()._fit_raw(X, y, X_valid, y_valid)

    def points_book(self) -> RulesBook:
        """The learned table (after fit)."""
        return self.learned_.book

    def training_lines(self) -> list[str]:
        """How big the table is and how it did on validation."""
        learned = self.learned_
        limit = "no limit" if self.max_rules is None else f"at most {self.max_rules}"
        return [f"learned points: {learned.n_rules} rules ({limit}), validation AUC "
                f"{learned.valid_auc:.3f} (unrounded {learned.fitted_valid_auc:.3f}), MQL at "
                f"{learned.book.mql_threshold:g}"]

    def tracking_tables(self) -> dict[str, object]:
        """The table itself (it ships as a rules file, ``leadscore points``) and the selection
        path that chose its length."""
        path = [{"rules": n, "valid_auc": auc} for n, auc in self.learned_.path]
        return {"learned_points.json": self.learned_.book.model_dump(mode="json"),
                "learned_points_path.json": {"max_rules": self.max_rules, "steps": path}}


def build(ctx: ScorerContext) -> LearnedPointsScorer:
    """The ``learned_points`` kind, from the ``points:`` section."""
    config = ctx.config
    pc = config.points
    return LearnedPointsScorer(
        spec=ctx.spec, windows=ctx.windows, calibration_methods=tuple(config.calibration.methods),
        cv_folds=config.calibration.cv_folds, random_state=config.seed, dropped=ctx.dropped,
        pdo=pc.pdo, max_rules=pc.max_rules, max_steps=pc.max_steps, min_share=pc.min_share,
        **_mql_line(ctx), name=f"Learned points ({config.dataset.name})",
        half_lives=dict(ctx.half_lives) or None)


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
