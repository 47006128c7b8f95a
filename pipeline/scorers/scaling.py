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
