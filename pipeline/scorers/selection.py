"""The model choice: the simplest candidate that is not significantly worse than the best.

On data nobody here wrote, the boosted model lost to simpler scorers more than once (a weak-signal
CRM world: learned points 0.593, LightGBM 0.551), and shipping it anyway means shipping a score
that is harder to read *and* worse. So the ``model`` kind fits every candidate of
``selection.candidates`` (simplest first: the learned points table, a regularised logistic model,
the tuned LightGBM) on the same training leads, compares their ranking on the validation leads,
and ships the first candidate whose AUC difference to the best has a paired bootstrap interval
reaching 0. A tie is not a reason to ship something harder to read; a significant gain is.

The test leads are never read here: the choice, like early stopping, the calibrator and the
points' penalty, is made on validation, and the test split only reports how it turned out.

When validation holds few conversions (``selection.min_valid_conversions``), one validation split
is a noisy judge, so the comparison adds time-ordered folds inside train + valid: the rows in
as_of order are cut into ``cv_folds + 1`` blocks and each candidate is refitted on the blocks
before each later block (its last 15 % serving as that fit's validation rows) and scored on that
block. The fold AUCs are averaged, per resample, with the validation split's; resamples are drawn
within each fold. Flat exports without as_of use a seeded shuffle instead of time order.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from pipeline.scorers.base import BaseScorer
from pipeline.scorers.ranking import resample_counts, weighted_aucs

INNER_VALID = 0.15  # share of a refit's rows that serve as its validation rows
MIN_FOLD_CONVERSIONS = 5  # a fold with fewer (in either part) says nothing and is skipped


def compare_candidates(
    folds: list[tuple[np.ndarray, dict[str, np.ndarray]]], order: list[str],
    confidence: float, n_boot: int, seed: int,
) -> pd.DataFrame:
    """Validation AUC of every candidate and its paired difference to the best, with intervals.

    Parameters
    ----------
    folds
        (labels, raw score by candidate) per judged fold; the same resamples score every
        candidate of a fold, so differences are paired.
    order
        Candidates, simplest first.
    """
    rng = np.random.default_rng(seed)
    point = {name: 0.0 for name in order}
    draws = {name: np.zeros(n_boot) for name in order}
    for y, raw in folds:
        y = np.asarray(y, dtype="float64")
        for name in order:
            point[name] += roc_auc_score(y, raw[name]) / len(folds)
        done = 0
        for counts in resample_counts(len(y), n_boot, rng):
            rows = slice(done, done + len(counts))
            for name in order:
                draws[name][rows] += weighted_aucs(y, np.asarray(raw[name], "float64"),
                                                   counts) / len(folds)
            done += len(counts)
    # a resample with one outcome in some fold has no AUC: dropped for every candidate alike
    valid = np.all([np.isfinite(d) for d in draws.values()], axis=0)
    best = max(order, key=lambda name: point[name])
    tail = 100 * (1 - confidence) / 2
    rows = []
    for name in order:
        diff = draws[name][valid] - draws[best][valid]
        rows.append({
            "candidate": name, "valid_auc": point[name],
            "valid_auc_ci_low": float(np.percentile(draws[name][valid], tail)),
            "valid_auc_ci_high": float(np.percentile(draws[name][valid], 100 - tail)),
            "diff_vs_best": point[name] - point[best],
            "diff_vs_best_ci_low": float(np.percentile(diff, tail)),
            "diff_vs_best_ci_high": float(np.percentile(diff, 100 - tail)),
            "best": name == best,
        })
    table = pd.DataFrame(rows)
    # not significantly worse: the interval of the difference to the best reaches 0
    table["eligible"] = table["diff_vs_best_ci_high"] >= 0
    chosen = table.index[table["eligible"]][0]
    table["chosen"] = table.index == chosen
    table.attrs["folds"] = len(folds)
    return table


def choice_reason(table: pd.DataFrame, confidence: float) -> str:
    """One sentence: which candidate was chosen and why (validation figures only)."""
    level = f"{confidence:.0%}"
    chosen = table[table["chosen"]].iloc[0]
    best = table[table["best"]].iloc[0]
    judged = "validation" if table.attrs.get("folds", 1) == 1 else \
        f"validation and {table.attrs['folds'] - 1} time-ordered folds"
    simpler = table.loc[: chosen.name - 1] if chosen.name else table.iloc[0:0]
    if chosen["candidate"] == best["candidate"]:
        if simpler.empty:
            return (f"{chosen['candidate']} has the best {judged} AUC, {chosen['valid_auc']:.3f}"
                    f" ({level} CI {chosen['valid_auc_ci_low']:.3f}-"
                    f"{chosen['valid_auc_ci_high']:.3f}), and is the simplest candidate")
        beaten = "; ".join(
            f"{r.candidate} {r.diff_vs_best:+.3f} ({level} CI {r.diff_vs_best_ci_low:+.3f} to "
            f"{r.diff_vs_best_ci_high:+.3f})" for r in simpler.itertuples())
        return (f"{chosen['candidate']} has the best {judged} AUC, {chosen['valid_auc']:.3f}, "
                f"and every simpler candidate is significantly worse: {beaten}")
    return (f"{chosen['candidate']} is the simplest candidate not significantly worse than the "
            f"best on {judged}: AUC {chosen['valid_auc']:.3f} vs {best['candidate']} "
            f"{best['valid_auc']:.3f}, difference {chosen['diff_vs_best']:+.3f} ({level} CI "
            f"{chosen['diff_vs_best_ci_low']:+.3f} to {chosen['diff_vs_best_ci_high']:+.3f})")


def reason_of(choice: dict[str, Any]) -> str:
    """:func:`choice_reason` from the figures :meth:`SelectedScorer.selection` gives (and
    ``evaluation.json`` keeps: numbers only, so the sentence is not stored as a metric)."""
    table = pd.DataFrame([{"candidate": name, **figures}
                          for name, figures in choice["candidates"].items()])
    table["best"] = table["diff_vs_best"] == 0
    table["chosen"] = table["candidate"] == choice["chosen"]
    table.attrs["folds"] = int(choice.get("folds", 1))
    return choice_reason(table, float(choice.get("confidence", 0.95)))


class SelectedScorer(BaseScorer):
    """Fits every candidate, ships the one :func:`compare_candidates` chooses.

    Every scorer call is the chosen candidate's, so explanations, scoring, tracking and the
    report follow it without knowing which it is.

    Parameters
    ----------
    candidates
        Unfitted scorers by name, simplest first.
    confidence, n_boot
        Level and resamples of the paired bootstrap intervals.
    min_valid_conversions, cv_folds
        Below this many validation conversions, add ``cv_folds`` time-ordered folds.
    row_time
        as_of by lead_id (the order of the added folds); ``None``: a seeded shuffle.
    random_state
        Seed of the resamples and the shuffle.
    """

    def __init__(self, candidates: dict[str, BaseScorer], confidence: float = 0.95,
                 n_boot: int = 1000, min_valid_conversions: int = 100, cv_folds: int = 3,
                 row_time: pd.Series | None = None, random_state: int = 42):
        self.candidates = candidates
        self.confidence = confidence
        self.n_boot = n_boot
        self.min_valid_conversions = min_valid_conversions
        self.cv_folds = cv_folds
        self.row_time = row_time
        self.random_state = random_state

    @property
    def spec(self):
        """Feature spec (every candidate reads the same table)."""
        return next(iter(self.candidates.values())).spec

    def fit(self, X: pd.DataFrame, y, X_valid: pd.DataFrame, y_valid, calibrator=None,
            sample_weight=None, **fit_params) -> SelectedScorer:
        """Fit every candidate on the same rows, compare them on validation, keep the choice."""
        y, y_valid = np.asarray(y), np.asarray(y_valid)
        self.fitted_ = {name: clone(c).fit(X, y, X_valid, y_valid, sample_weight=sample_weight)
                        for name, c in self.candidates.items()}
        folds = [(y_valid, {n: s.decision_function(X_valid) for n, s in self.fitted_.items()})]
        self.skipped_folds_ = 0
        if y_valid.sum() < self.min_valid_conversions:
            # validation rows weigh 1 in the folds, as they do in the comparison above
            weight = None if sample_weight is None else \
                np.r_[np.asarray(sample_weight), np.ones(len(y_valid))]
            folds += self._refit_folds(pd.concat([X, X_valid]), np.r_[y, y_valid], weight)
        self.selection_ = compare_candidates(folds, list(self.candidates), self.confidence,
                                             self.n_boot, self.random_state)
        self.chosen_ = str(self.selection_.loc[self.selection_["chosen"], "candidate"].iloc[0])
        self.reason_ = choice_reason(self.selection_, self.confidence)
        chosen = self.fitted_[self.chosen_]
        self.calibrator_ = chosen.calibrator_
        self.base_raw_ = chosen.base_raw_
        self.classes_ = np.array([0, 1])
        return self

    def _refit_folds(self, X: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None = None
                     ) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        if self.row_time is not None:
            time = self.row_time.reindex(X.index).to_numpy()
            order = np.lexsort((np.arange(len(X)), time))
        else:
            order = np.random.default_rng(self.random_state).permutation(len(X))
        blocks = np.array_split(order, self.cv_folds + 1)
        folds = []
        for k in range(1, len(blocks)):
            before = np.concatenate(blocks[:k])
            cut = int(round(len(before) * (1 - INNER_VALID)))
            fit_rows, inner, judged = before[:cut], before[cut:], blocks[k]
            if min(y[inner].sum(), y[judged].sum(), y[fit_rows].sum()) < MIN_FOLD_CONVERSIONS:
                self.skipped_folds_ += 1
                continue
            raw = {}
            for name, candidate in self.candidates.items():
                scorer = clone(candidate).fit(
                    X.iloc[fit_rows], y[fit_rows], X.iloc[inner], y[inner],
                    sample_weight=None if weight is None else weight[fit_rows])
                raw[name] = scorer.decision_function(X.iloc[judged])
            folds.append((y[judged], raw))
        return folds

    @property
    def chosen_scorer_(self) -> BaseScorer:
        """The fitted candidate every call goes to."""
        return self.fitted_[self.chosen_]

    # -- the scorer contract, delegated ---------------------------------------------------------
    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The chosen candidate's raw value."""
        return self.chosen_scorer_.decision_function(X)

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """The chosen candidate's per-feature shares."""
        return self.chosen_scorer_.contributions(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The chosen candidate's calibrated probability."""
        return self.chosen_scorer_.predict_proba(X)

    @property
    def base_score_(self) -> float:
        """The chosen candidate's base score."""
        return self.chosen_scorer_.base_score_

    def explain_points(self, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The chosen candidate's shares and factor points."""
        return self.chosen_scorer_.explain_points(X)

    def factor_points(self, X: pd.DataFrame, shares: pd.DataFrame | None = None) -> pd.DataFrame:
        """The chosen candidate's factor points."""
        return self.chosen_scorer_.factor_points(X, shares)

    def recalibrated(self, X: pd.DataFrame, y) -> SelectedScorer:
        """A copy whose chosen candidate alone has its calibrator refitted on these rows."""
        chosen = self.chosen_scorer_.recalibrated(X, y)
        new = copy.copy(self)
        new.fitted_ = {**self.fitted_, self.chosen_: chosen}
        new.calibrator_ = chosen.calibrator_
        return new

    # -- hooks ----------------------------------------------------------------------------------
    def training_lines(self) -> list[str]:
        """Every candidate's fit, then the choice."""
        lines = [line for scorer in self.fitted_.values() for line in scorer.training_lines()]
        return [*lines, f"model choice: {self.reason_}"]

    def notes(self) -> list[str]:
        """The chosen candidate's caveats, and how thin the judging was."""
        notes = list(self.chosen_scorer_.notes())
        if self.skipped_folds_:
            notes.append(f"model choice: {self.skipped_folds_} of {self.cv_folds} added folds "
                         f"had fewer than {MIN_FOLD_CONVERSIONS} conversions and were skipped")
        return notes

    def fit_metrics(self) -> dict[str, float]:
        """The chosen candidate's fit figures."""
        return self.chosen_scorer_.fit_metrics()

    def tracking_params(self) -> dict[str, str]:
        """The chosen candidate's parameters and its name."""
        return {**self.chosen_scorer_.tracking_params(), "selection.chosen": self.chosen_}

    def tracking_tables(self) -> dict[str, object]:
        """The chosen candidate's tables and the comparison."""
        return {**self.chosen_scorer_.tracking_tables(),
                "selection.json": self.selection_.to_dict("records")}

    def segment_view(self, X: pd.DataFrame):
        """The chosen candidate's segments, if any."""
        return self.chosen_scorer_.segment_view(X)

    def tuning_target(self) -> BaseScorer | None:
        """The first tunable candidate's target (the LightGBM model, in the default order)."""
        return next((t for t in (c.tuning_target() for c in self.candidates.values())
                     if t is not None), None)

    def points_book(self):
        """The chosen candidate's points table, if it is one."""
        return self.chosen_scorer_.points_book()

    def selection(self) -> dict[str, Any]:
        """Which candidate was chosen, why, and every candidate's validation figures."""
        table = self.selection_.set_index("candidate")
        figures = ["valid_auc", "valid_auc_ci_low", "valid_auc_ci_high", "diff_vs_best",
                   "diff_vs_best_ci_low", "diff_vs_best_ci_high"]
        return {"chosen": self.chosen_, "confidence": self.confidence,
                "folds": int(self.selection_.attrs.get("folds", 1)),
                "candidates": {name: {k: float(table.loc[name, k]) for k in figures}
                               for name in table.index}}

    def candidate_scorers(self) -> dict[str, BaseScorer]:
        """Every fitted candidate (the evaluation reports each one's test AUC)."""
        return dict(self.fitted_)


CANDIDATES = {"learned_points": "pipeline.scorers.learned_points",
              "logistic": "pipeline.scorers.logistic", "lightgbm": "pipeline.scorers.lightgbm"}


def build(ctx) -> SelectedScorer:
    """The ``model`` kind: the candidates of ``selection:`` built by their own modules."""
    import importlib

    sc = ctx.config.selection
    candidates = {name: importlib.import_module(CANDIDATES[name]).build(ctx)
                  for name in sc.candidates}
    return SelectedScorer(candidates, confidence=sc.confidence, n_boot=sc.n_boot,
                          min_valid_conversions=sc.min_valid_conversions, cv_folds=sc.cv_folds,
                          row_time=ctx.row_time, random_state=ctx.config.seed)
