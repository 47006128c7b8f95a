"""Calibrators from a scorer's additive raw value to a conversion probability.

Both candidates are fitted on the validation split only (never train, never test) and are monotone
and continuous in the raw value, which the factor-point rule in :mod:`pipeline.scorers.scaling`
needs: *centred* isotonic regression (scikit-learn's pool-adjacent-violators fit, then linear
interpolation between the centres of its constant blocks, Oron & Flournoy 2017: scikit-learn's own
interpolation runs between block *edges*, which turns each block boundary into a near-vertical
step) and sigmoid (Platt) scaling. The winner is the lower Brier score *cross-validated within the
valid split*: judged on the rows it was fitted on, isotonic would always win by overfitting.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

# Keeps log-loss finite and every score strictly inside 0..100 percent.
P_MIN, P_MAX = 1e-4, 1.0 - 1e-4


class Calibrator:
    """A fitted map raw value -> probability (callable on arrays).

    Parameters
    ----------
    methods
        Candidates, any of ``"isotonic"``, ``"sigmoid"``.
    cv_folds
        Folds of the within-valid cross-validation that picks the method.
    random_state
        Seed of the fold assignment.
    """

    def __init__(self, methods=("isotonic", "sigmoid"), cv_folds: int = 5, random_state: int = 0):
        self.methods = tuple(methods)
        self.cv_folds = cv_folds
        self.random_state = random_state

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Choose the method by cross-validated Brier on these rows, then refit on all of them."""
        raw = np.asarray(raw, dtype="float64").ravel()
        y = np.asarray(y, dtype="int64").ravel()
        if len(np.unique(y)) < 2:
            raise ValueError("calibration needs both converted and not converted leads")
        if not self.methods:
            raise ValueError("no calibration method given")
        self.cv_brier_ = {m: self._cv_brier(m, raw, y) for m in self.methods}
        self.method_ = min(self.cv_brier_, key=self.cv_brier_.get)
        self.model_ = _fit_one(self.method_, raw, y)
        self.raw_range_ = (float(raw.min()), float(raw.max()))
        return self

    def _cv_brier(self, method: str, raw: np.ndarray, y: np.ndarray) -> float:
        folds = min(self.cv_folds, int(np.bincount(y).min()))
        if folds < 2:
            return float("inf") if method == "isotonic" else 0.0
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        pred = np.empty_like(raw)
        for fit_idx, held_idx in cv.split(raw.reshape(-1, 1), y):
            pred[held_idx] = _predict(_fit_one(method, raw[fit_idx], y[fit_idx]), raw[held_idx])
        return float(brier_score_loss(y, pred))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Probability for each raw value."""
        return _predict(self.model_, np.asarray(raw, dtype="float64").ravel())


class _CentredIsotonic:
    """Piecewise-linear map through the (mean raw, rate) centre of each isotonic block."""

    def __init__(self, raw: np.ndarray, y: np.ndarray):
        fitted = IsotonicRegression(out_of_bounds="clip", increasing=True).fit_transform(raw, y)
        order = np.argsort(raw, kind="mergesort")
        values = fitted[order]
        block = np.concatenate([[0], np.cumsum(np.diff(values) != 0)])
        counts = np.bincount(block)
        self.x_ = np.bincount(block, weights=raw[order]) / counts
        self.y_ = np.bincount(block, weights=values) / counts

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Interpolate between block centres; flat beyond the first and last centre."""
        return np.interp(raw, self.x_, self.y_)


def _fit_one(method: str, raw: np.ndarray, y: np.ndarray):
    if method == "isotonic":
        return _CentredIsotonic(raw, y)
    if method == "sigmoid":
        return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
    raise ValueError(f"unknown calibration method {method!r}")


def _predict(model, raw: np.ndarray) -> np.ndarray:
    if isinstance(model, _CentredIsotonic):
        p = model.predict(raw)
    else:
        p = model.predict_proba(raw.reshape(-1, 1))[:, 1]
    return np.clip(p, P_MIN, P_MAX)
