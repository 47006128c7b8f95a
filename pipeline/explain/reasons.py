"""Explanations in score points: per-factor points, fit grade, engagement level and reasons.

Any :class:`~pipeline.scorers.base.BaseScorer` goes through the same code: its per-feature raw shares
(TreeSHAP log-odds for the model, rule points for the baseline) are summed per business factor
and moved into score points by :func:`pipeline.scorers.scaling.shares_to_points`, so that for every lead
``base_score + sum(points) = score`` within the 0.5 of rounding. The fit factors' points make the
grade (A-D), the engagement factors' points the engagement level (1-4), with cut points learned on
the training leads and stored with the model. Reasons are sentences from the feature spec's
templates filled with the lead's own values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.spec import FeatureSpec
from pipeline.scorers.base import BaseScorer

GRADES = ("A", "B", "C", "D")
LEVELS = (1, 2, 3, 4)


def factor_groups(spec: FeatureSpec) -> dict[str, str]:
    """Group (fit / engagement) of each factor: the group of its first feature."""
    groups: dict[str, str] = {}
    for info in spec.features:
        groups.setdefault(info.factor, info.group)
    return groups


@dataclass(frozen=True)
class GradeBands:
    """Cut points on fit points (grade A-D) and engagement points (level 1-4), best first."""

    fit_cuts: tuple[float, ...]
    engagement_cuts: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        fit_points: np.ndarray,
        engagement_points: np.ndarray,
        grade_quantiles: list[float],
        engagement_quantiles: list[float],
    ) -> GradeBands:
        """Learn the cut points as quantiles of the training leads' points."""
        return cls(
            tuple(float(np.quantile(fit_points, q)) for q in sorted(grade_quantiles, reverse=True)),
            tuple(float(np.quantile(engagement_points, q))
                  for q in sorted(engagement_quantiles, reverse=True)),
        )

    def grade(self, fit_points: np.ndarray) -> np.ndarray:
        """A (best) .. D for each lead."""
        index = np.searchsorted(-np.asarray(self.fit_cuts), -np.asarray(fit_points), side="right")
        return np.asarray(GRADES)[index]

    def level(self, engagement_points: np.ndarray) -> np.ndarray:
        """1 (most engaged) .. 4 for each lead."""
        index = np.searchsorted(-np.asarray(self.engagement_cuts), -np.asarray(engagement_points),
                                side="right")
        return np.asarray(LEVELS)[index]

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-able form (stored with the model)."""
        return {"fit_cuts": list(self.fit_cuts), "engagement_cuts": list(self.engagement_cuts)}


def group_points(points: pd.DataFrame, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sum of fit-factor points and of engagement-factor points per lead."""
    groups = factor_groups(spec)
    fit_cols = [c for c in points.columns if groups.get(c) == "fit"]
    eng_cols = [c for c in points.columns if groups.get(c) == "engagement"]
    return points[fit_cols].sum(axis=1).to_numpy(), points[eng_cols].sum(axis=1).to_numpy()


def band_of(scores: np.ndarray, bands: dict[str, int]) -> np.ndarray:
    """Band name (e.g. hot / warm / cold) of each score; ``bands`` maps name -> lowest score."""
    ordered = sorted(bands.items(), key=lambda kv: -kv[1])
    out = np.full(len(scores), ordered[-1][0], dtype=object)
    for name, low in reversed(ordered):
        out[np.asarray(scores) >= low] = name
    return out


def _format(template: str, value: object) -> str:
    try:
        return template.format(value=value)
    except (ValueError, TypeError, KeyError, IndexError):
        return template.replace("{value}", str(value)).split("{")[0].strip() or str(value)


def _display_value(value: object, dtype: str = "numeric") -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unknown"
    if dtype == "boolean":
        return "yes" if float(value) >= 0.5 else "no"
    return value


@dataclass
class Explanation:
    """Per-lead explanation tables for a batch."""

    points: pd.DataFrame  # leads x factors, score points
    shares: pd.DataFrame  # leads x features, the scorer's raw shares
    base_score: float
    score: np.ndarray
    grade: np.ndarray
    engagement_level: np.ndarray
    reasons: pd.DataFrame  # leads x [reason_1.., positive_1.., negative_1..]


def reason_texts(
    points: pd.DataFrame,
    shares: pd.DataFrame,
    X: pd.DataFrame,
    spec: FeatureSpec,
    top: int = 3,
) -> pd.DataFrame:
    """Top reasons per lead as sentences with the lead's own values and their points.

    Columns ``reason_1..top`` (largest effects of either sign), ``positive_1..top`` and
    ``negative_1..top``. Each factor is voiced by its feature with the largest |share| for that
    lead, through that feature's template (e.g. ``"Visited pricing 4x in 30 days: +14"``).
    """
    factors = list(points.columns)
    features_of = {f: [i for i in spec.features if i.factor == f] for f in factors}
    share_values = shares.to_numpy()
    col_of = {name: j for j, name in enumerate(shares.columns)}
    # For each factor, which of its features speaks for it on each row.
    voice: dict[str, np.ndarray] = {}
    for factor, infos in features_of.items():
        cols = [col_of[i.name] for i in infos if i.name in col_of]
        if not cols:
            continue
        pick = np.abs(share_values[:, cols]).argmax(axis=1)
        voice[factor] = np.asarray(cols)[pick]
    infos_by_col = {col_of[i.name]: i for i in spec.features if i.name in col_of}
    values = X.to_numpy(dtype=object)
    cache: dict[tuple[str, object], str] = {}

    def sentence(row: int, factor: str, pts: float) -> str:
        col = int(voice[factor][row]) if factor in voice else -1
        if col < 0:
            text = factor
        else:
            info = infos_by_col[col]
            value = _display_value(values[row, col], info.dtype)
            key = (info.template, value)
            text = cache.get(key)
            if text is None:
                text = cache[key] = _format(info.template, value)
        return f"{text}: {pts:+.0f}"

    pts = points.to_numpy()
    order_abs = np.argsort(-np.abs(pts), axis=1, kind="stable")[:, :top]
    order_pos = np.argsort(-pts, axis=1, kind="stable")[:, :top]
    order_neg = np.argsort(pts, axis=1, kind="stable")[:, :top]
    columns: dict[str, list[str]] = {}
    for k in range(top):
        for prefix, order, keep in (
            ("reason", order_abs, lambda v: abs(v) >= 0.5),
            ("positive", order_pos, lambda v: v >= 0.5),
            ("negative", order_neg, lambda v: v <= -0.5),
        ):
            col_values = []
            for row in range(len(pts)):
                j = order[row, k] if k < order.shape[1] else -1
                value = pts[row, j] if j >= 0 else 0.0
                col_values.append(sentence(row, factors[j], value) if j >= 0 and keep(value)
                                  else "")
            columns[f"{prefix}_{k + 1}"] = col_values
    return pd.DataFrame(columns, index=points.index)


def explain(
    scorer: BaseScorer,
    X: pd.DataFrame,
    bands: GradeBands,
    top: int = 3,
) -> Explanation:
    """Factor points, grade, engagement level and reasons for each lead of ``X``."""
    shares, points = scorer.explain_points(X)
    base_score = float(points.attrs["base_score"])
    score = scorer.score(X)
    fit_pts, eng_pts = group_points(points, scorer.spec)
    return Explanation(
        points=points,
        shares=shares,
        base_score=base_score,
        score=score,
        grade=bands.grade(fit_pts),
        engagement_level=bands.level(eng_pts),
        reasons=reason_texts(points, shares, X, scorer.spec, top),
    )
