"""Score scaling: the one place where probabilities become 0-100 scores and shares become points.

Definitions (``g`` is the fitted, monotone, continuous calibrator from a scorer's additive raw
value to probability; ``base`` is the raw value of the average lead, ``s_i`` the raw share of
feature or factor ``i`` for one lead, ``S = sum_i s_i``):

* ``score = floor(100 * g(base + S) + 0.5)``: the calibrated probability in percent, rounded half
  up, an integer 0-100.
* ``base_score = 100 * g(base)``: the score of a lead with no evidence either way.
* ``points_i = s_i * 100 * (g(base + S) - g(base)) / S``: the Aumann-Shapley value of ``g`` of a
  sum (each share moves along the straight path from ``base`` to ``base + S``). When ``|S|`` is
  tiny the quotient becomes the slope ``100 * g'(base)``.

Additivity rule this guarantees, for every lead: ``base_score + sum_i points_i`` equals
``100 * g(base + S)`` to floating-point precision, hence lies within 0.5 of ``score``. Points keep
the sign of their share, because ``g`` is monotone increasing.

Split by axis (:func:`split_points`, what explanations use): the shares fall into groups (the fit
and the engagement factors). Each group's shares are summed first, ``S_G``, and moved through
``g`` with every other group held at the base: ``points_i = s_i * 100 * (g(base + S_G) -
g(base)) / S_G`` for ``i`` in ``G``. A group's points then depend on its own shares only (the
same fit shares give the same fit points at any engagement), whatever order the groups come in.
What ``g`` adds for the groups together beyond their separate moves, ``interaction = 100 *
g(base + S) - base_score - sum_G 100 * (g(base + S_G) - g(base))``, is reported on its own, so
``base_score + sum_i points_i + interaction`` still equals ``100 * g(base + S)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Calibration = Callable[[np.ndarray], np.ndarray]

_TINY = 1e-9
_STEP = 1e-4


def score_from_proba(p: np.ndarray) -> np.ndarray:
    """Probability -> integer score 0-100 (percent, rounded half up)."""
    p = np.clip(np.asarray(p, dtype="float64"), 0.0, 1.0)
    return np.floor(100.0 * p + 0.5).astype("int64")


def slope(g: Calibration, x: float) -> float:
    """Numerical derivative of the calibrator at ``x`` (central difference)."""
    hi, lo = g(np.array([x + _STEP])), g(np.array([x - _STEP]))
    return float((hi[0] - lo[0]) / (2 * _STEP))


def shares_to_points(
    shares: np.ndarray, base: float, g: Calibration
) -> tuple[np.ndarray, float]:
    """Convert raw shares (n leads x k factors) into score points that add up exactly.

    Parameters
    ----------
    shares
        Per-lead raw contributions (log-odds or rule points), one column per feature or factor.
    base
        Raw value of the average lead (SHAP expected value, or rule points of no evidence).
    g
        Calibrator from raw value to probability (monotone, continuous).

    Returns
    -------
    points, base_score
        ``points`` has the shape of ``shares``; ``base_score + points.sum(1) == 100 * g(base+S)``.
    """
    shares = np.asarray(shares, dtype="float64")
    if shares.ndim != 2:
        raise ValueError("shares must be a 2-d array (leads x factors)")
    total_raw = shares.sum(axis=1)
    base_p = float(g(np.array([base]))[0])
    moved = 100.0 * (g(base + total_raw) - base_p)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.abs(total_raw) > _TINY, moved / total_raw, np.nan)
    flat = ~np.isfinite(ratio)
    if flat.any():
        ratio[flat] = 100.0 * slope(g, base)
    points = shares * ratio[:, None]
    # Where S is tiny the slope form is exact to O(S^2); put the remainder on the largest share so
    # the sum is exact whatever the path.
    if flat.any():
        gap = moved[flat] - points[flat].sum(axis=1)
        rows = np.flatnonzero(flat)
        cols = np.abs(shares[flat]).argmax(axis=1)
        points[rows, cols] += gap
    return points, 100.0 * base_p


def split_points(
    shares: np.ndarray, groups: np.ndarray | list[str], base: float, g: Calibration
) -> tuple[np.ndarray, np.ndarray, float]:
    """Score points per column, each group moved on its own, and what the groups add together.

    Parameters
    ----------
    shares
        Per-lead raw contributions, one column per factor (n leads x k factors).
    groups
        Group of each column (e.g. ``fit`` / ``engagement``), length k.
    base, g
        As for :func:`shares_to_points`.

    Returns
    -------
    points, interaction, base_score
        ``points`` has the shape of ``shares`` and a group's columns depend only on that group's
        shares; ``base_score + points.sum(1) + interaction == 100 * g(base + S)``.
    """
    shares = np.asarray(shares, dtype="float64")
    if shares.ndim != 2:
        raise ValueError("shares must be a 2-d array (leads x factors)")
    groups = np.asarray(groups)
    if groups.shape != (shares.shape[1],):
        raise ValueError(f"{groups.size} groups for {shares.shape[1]} columns of shares")
    points = np.zeros_like(shares)
    for group in dict.fromkeys(groups.tolist()):
        cols = np.flatnonzero(groups == group)
        points[:, cols], base_score = shares_to_points(shares[:, cols], base, g)
    if not len(groups):
        base_score = 100.0 * float(g(np.array([base]))[0])
    total = 100.0 * g(base + shares.sum(axis=1))
    interaction = total - base_score - points.sum(axis=1)
    return points, interaction, base_score


#: the displayed scales of ``scoring.scale`` (``auto`` resolves to one of them at train time)
SCALES = ("probability", "percentile", "odds")
#: auto keeps probability when at least this many displayed values cover the middle 80 %
MIN_DISTINCT = 10


def percentile_among(reference: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0-100) of each probability among sorted ``reference`` probabilities.

    Ties count half (``scipy.stats.percentileofscore(kind="mean")``), so a points table whose
    leads share one value gets the middle of that block, not its top.
    """
    reference = np.asarray(reference, dtype="float64")
    p = np.asarray(p, dtype="float64")
    if reference.size == 0:
        return np.full(len(p), np.nan)
    below = np.searchsorted(reference, p, side="left")
    upto = np.searchsorted(reference, p, side="right")
    return 100.0 * (below + upto) / (2.0 * reference.size)


def odds_points(p: np.ndarray, points: float, odds: float, pdo: float) -> np.ndarray:
    """Scorecard points: ``points`` at odds ``odds``, ``pdo`` more per doubling of the odds."""
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    return points + pdo * np.log2(p / (1.0 - p) / odds)


def distinct_in_middle(displayed: np.ndarray) -> int:
    """Distinct displayed values among the leads between the 10th and 90th percentile."""
    displayed = np.asarray(displayed)
    low, high = np.quantile(displayed, [0.1, 0.9])
    return int(np.unique(displayed[(displayed >= low) & (displayed <= high)]).size)


class ScoreScale:
    """What the displayed ``score`` is, fitted on the training leads' calibrated probabilities.

    ``unit`` is probability (``score_from_proba``), percentile (mid-rank among the training
    leads, whole numbers 0-100) or odds (scorecard points, :func:`odds_points`). Factor points
    stay on the probability scale whatever the unit: they add up to ``100 * p``.
    """

    def __init__(self, unit: str, reference: np.ndarray, odds: dict[str, float],
                 chosen: str = ""):
        if unit not in SCALES:
            raise ValueError(f"unknown score scale {unit!r}: use one of {', '.join(SCALES)}")
        self.unit = unit
        sample = np.sort(np.asarray(reference, dtype="float64"))
        # 2,001 evenly spaced order statistics: percentiles to 0.05 points, a small package
        self.reference = sample[np.linspace(0, len(sample) - 1, min(len(sample), 2001))
                                .astype(int)] if sample.size else sample
        self.odds = dict(odds)
        self.chosen = chosen

    @classmethod
    def fit(cls, unit: str, p_train: np.ndarray, odds: dict[str, float]) -> ScoreScale:
        """Resolve ``auto``: probability unless it shows too few values, then percentile."""
        if unit != "auto":
            return cls(unit, p_train, odds, f"scoring.scale: {unit}")
        shown = distinct_in_middle(score_from_proba(p_train))
        if shown >= MIN_DISTINCT:
            return cls("probability", p_train, odds,
                       f"scoring.scale auto kept probability ({shown} distinct scores over the "
                       "middle 80 % of training leads)")
        return cls("percentile", p_train, odds,
                   f"scoring.scale auto chose percentile: the probability in % shows only "
                   f"{shown} distinct scores over the middle 80 % of training leads (mean "
                   f"probability {np.mean(p_train):.1%}); set scoring.scale: probability to "
                   "keep it")

    def percentile(self, p: np.ndarray) -> np.ndarray:
        """Percentile (0-100, one decimal) among the training leads."""
        return np.round(percentile_among(self.reference, p), 1)

    def display(self, p: np.ndarray) -> np.ndarray:
        """The displayed score of each probability (whole numbers)."""
        if self.unit == "percentile":
            return np.floor(percentile_among(self.reference, p) + 0.5).astype("int64")
        if self.unit == "odds":
            raw = odds_points(p, self.odds["points"], self.odds["odds"], self.odds["pdo"])
            return np.floor(raw + 0.5).astype("int64")
        return score_from_proba(p)

    def explain(self) -> str:
        """One paragraph on what the displayed score means (report, ``leadscore`` output)."""
        if self.unit == "percentile":
            what = ("the score is the lead's percentile among the training leads: 90 means it "
                    "ranks above 90 % of them. It says where a lead stands, not how likely it "
                    "is to buy; that is the probability column")
        elif self.unit == "odds":
            o = self.odds
            what = (f"the score is in scorecard points: {o['points']:g} at odds of "
                    f"{o['odds']:g} to 1 of converting, {o['pdo']:g} more each time the odds "
                    "double; the probability column holds the calibrated probability")
        else:
            what = ("the score is the calibrated probability of conversion in percent: 30 means "
                    "about 30 of 100 such leads convert within the horizon")
        return (f"Score scale ({self.chosen}): {what}. Every output also carries probability "
                "(unrounded) and percentile (among the training leads); reason points are "
                "shares of the probability in percent, whatever the scale.")
