"""A regularised logistic model on the feature table: the middle candidate of the model choice.

Simpler than boosted trees and richer than a points table: one weight per category level and a
smooth weight per number. Numbers go through a signed ``log1p`` (activity counts and revenues are
heavy-tailed, and a straight line through raw counts lets the tenth visit weigh like the first
nine), get a missing-value indicator where they have missing values, and are standardised on the
training leads; categories are one-hot with missing as a level of its own, and levels rarer
than ``min_share`` of the training leads pooled into "other", so that a level seen five times
does not earn a weight of its own. The L2 strength is chosen on the validation leads' AUC.

Business directions: ``log1p`` keeps order, so a weight of the spec's sign keeps a number's
direction (more visits never lower the score). Where the unconstrained fit gives a directed
number the wrong sign, its weight is fixed at 0 and the rest refitted, until every directed
weight agrees: the fit under the constraint, by an active set.

The raw value is log-odds and it is additive by construction: a feature's share is the sum over
its design columns of ``weight * (value - training mean)``, and the base raw value is the log-odds
of the average training lead, so shares plus base equal ``decision_function`` exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from features.spec import FeatureSpec
from pipeline.scorers.base import BaseScorer, monotone_directions

if TYPE_CHECKING:
    from pipeline.scorers.kinds import ScorerContext

# Inverse L2 strengths tried on the validation leads, strongest penalty first.
STRENGTHS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
OTHER = "(other)"
MISSING = "(missing)"


class LogisticScorer(BaseScorer):
    """Calibrated L2 logistic regression on the feature table.

    Parameters
    ----------
    spec
        Feature spec of the table.
    min_share
        A category level needs this share of the training leads to get a weight of its own.
    calibration_methods, cv_folds, random_state
        As for every scorer (the calibrator is fitted on the validation leads).
    monotone, use_spec_monotone
        Direction overrides per feature, and whether the spec's directions apply (as for
        LightGBM: ``model.monotone``, ``model.use_spec_monotone``).
    """

    def __init__(self, spec: FeatureSpec, min_share: float = 0.005,
                 calibration_methods: tuple[str, ...] = ("isotonic", "sigmoid"),
                 cv_folds: int = 5, random_state: int = 42,
                 monotone: dict[str, int] | None = None, use_spec_monotone: bool = True):
        self.spec = spec
        self.min_share = min_share
        self.monotone = monotone
        self.use_spec_monotone = use_spec_monotone
        self.calibration_methods = calibration_methods
        self.cv_folds = cv_folds
        self.random_state = random_state

    # -- design matrix --------------------------------------------------------------------------
    def _learn_design(self, X: pd.DataFrame) -> None:
        min_rows = max(1, int(self.min_share * len(X)))
        self.levels_: dict[str, list[str]] = {}
        self.centre_: dict[str, tuple[float, float, float]] = {}  # median, mean, sd of log1p
        self.has_missing_: dict[str, bool] = {}
        for info in self.spec.features:
            column = X[info.name]
            if info.dtype == "categorical":
                counts = _text(column).value_counts()
                self.levels_[info.name] = [str(v) for v, n in counts.items() if n >= min_rows]
            else:
                values = _signed_log(column)
                known = values[np.isfinite(values)]
                median = float(np.median(known)) if known.size else 0.0
                filled = np.where(np.isfinite(values), values, median)
                sd = float(filled.std())
                self.centre_[info.name] = (median, float(filled.mean()), sd if sd > 0 else 1.0)
                self.has_missing_[info.name] = bool(known.size < values.size)

    def _design(self, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """Design matrix and, per design column, the feature it belongs to."""
        blocks, owners = [], []
        for info in self.spec.features:
            column = X[info.name]
            if info.dtype == "categorical":
                text = _text(column).to_numpy()
                levels = self.levels_[info.name]
                known = np.isin(text, levels)
                for level in [*levels, OTHER]:
                    hit = ~known if level == OTHER else text == level
                    blocks.append(hit.astype("float64"))
                    owners.append(info.name)
            else:
                median, mean, sd = self.centre_[info.name]
                values = _signed_log(column)
                missing = ~np.isfinite(values)
                blocks.append((np.where(missing, median, values) - mean) / sd)
                owners.append(info.name)
                if self.has_missing_[info.name]:
                    blocks.append(missing.astype("float64"))
                    owners.append(info.name)
        return np.column_stack(blocks) if blocks else np.zeros((len(X), 0)), owners

    # -- the scorer contract --------------------------------------------------------------------
    def _fit_raw(self, X, y, X_valid, y_valid, sample_weight=None, **_) -> None:
        self._learn_design(X)
        design, self.owners_ = self._design(X)
        design_valid, _ = self._design(X_valid)
        self.design_mean_ = design.mean(axis=0)
        self.valid_auc_by_strength_: dict[float, float] = {}
        signs = self._design_signs()
        best = None
        for strength in STRENGTHS:
            coef, intercept = _fit_directed(design, y, strength, signs, sample_weight)
            auc = float(roc_auc_score(y_valid, intercept + design_valid @ coef))
            self.valid_auc_by_strength_[strength] = auc
            # ties keep the stronger penalty: the simpler model
            if best is None or auc > best[0] + 1e-9:
                best = (auc, strength, coef, intercept)
        _, self.strength_, self.coef_, self.intercept_ = best
        self.base_raw_ = self.intercept_ + float(self.coef_ @ self.design_mean_)

    def _design_signs(self) -> np.ndarray:
        """Required sign of each design column's weight (0: free): a directed number's value
        column; its missing-value indicator and category levels stay free."""
        direction = dict(zip(self.spec.names, monotone_directions(
            self.spec, self.monotone, self.use_spec_monotone), strict=True))
        signs, previous = [], None
        for owner in self.owners_:
            signs.append(direction[owner] if owner != previous else 0)
            previous = owner
        return np.asarray(signs, dtype="float64")

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds per lead."""
        design, _ = self._design(X)
        # Summed column by column, not ``design @ coef_``: BLAS splits a matrix product by
        # position in the batch, so the same lead got a last-bit different score depending on
        # the leads beside it, and the Spark engine's partitions disagreed with the local run.
        total = np.full(len(design), self.intercept_, dtype="float64")
        for column in np.flatnonzero(self.coef_):
            total += design[:, column] * self.coef_[column]
        return total

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """Each feature's log-odds share against the average training lead, and its log-odds."""
        design, owners = self._design(X)
        parts = (design - self.design_mean_) * self.coef_
        shares = pd.DataFrame(parts, index=X.index).T.groupby(owners, sort=False).sum().T
        shares = shares.reindex(columns=list(self.spec.names), fill_value=0.0)
        return shares, self.base_raw_

    # -- hooks ----------------------------------------------------------------------------------
    def training_lines(self) -> list[str]:
        """The penalty chosen and its validation AUC."""
        return [f"logistic model: C={self.strength_:g} chosen on validation (AUC "
                f"{self.valid_auc_by_strength_[self.strength_]:.3f}), "
                f"{int(np.sum(np.abs(self.coef_) > 1e-6))} weights"]

    def tracking_params(self) -> dict[str, str]:
        """The chosen inverse L2 strength."""
        return {"logistic.C": str(self.strength_)}


def _fit_directed(design: np.ndarray, y: np.ndarray, strength: float, signs: np.ndarray,
                  sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """L2 logistic weights with every directed weight of its sign (``signs``: +1 / -1 / 0).

    An active set: weights of the wrong sign are fixed at 0 and the rest refitted, until none is
    wrong (each round drops at least one column, so it ends).
    """
    free = np.ones(design.shape[1], dtype=bool)
    coef = np.zeros(design.shape[1])
    while True:
        # Newton-Cholesky: exact in a few steps for this many columns (at most 1/min_share levels
        # per category); lbfgs took 15x longer on X Education for the same fit
        model = LogisticRegression(C=strength, solver="newton-cholesky",
                                   max_iter=200).fit(design[:, free], y,
                                                     sample_weight=sample_weight)
        coef = np.zeros(design.shape[1])
        coef[free] = model.coef_.ravel()
        wrong = coef * signs < 0
        if not wrong.any():
            return coef, float(model.intercept_[0])
        free &= ~wrong


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), MISSING).astype(str).str.casefold()


def _signed_log(column: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
    return np.sign(values) * np.log1p(np.abs(values))


def build(ctx: ScorerContext) -> LogisticScorer:
    """The logistic candidate, with the calibration and MQL settings every scorer shares."""
    config = ctx.config
    return LogisticScorer(spec=ctx.spec, min_share=config.points.min_share,
                          calibration_methods=tuple(config.calibration.methods),
                          cv_folds=config.calibration.cv_folds, random_state=config.seed,
                          monotone=dict(config.model.monotone),
                          use_spec_monotone=config.model.use_spec_monotone)
