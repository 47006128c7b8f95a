"""Reasons: each lead's per-factor score points and the sentences that voice the largest ones.

Any :class:`~pipeline.scorers.base.BaseScorer` goes through the same code: its per-feature raw
shares (TreeSHAP log-odds for the model, rule points for the rules) are summed per business factor
and moved into score points by :func:`pipeline.scorers.scaling.shares_to_points`, so that for every
lead ``base_score + sum(points) = score`` within the 0.5 of rounding. The fit factors' points make
the grade (A-D), the engagement factors' points the engagement level (1-4), with cut points learned
on the training leads and stored with the model. Reasons are sentences from the feature spec's
templates filled with the lead's own values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.spec import FeatureSpec
from pipeline.explain.grades import GradeCuts, group_points
from pipeline.scorers.base import BaseScorer


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
    grade_cuts: GradeCuts,
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
        grade=grade_cuts.grade(fit_pts),
        engagement_level=grade_cuts.level(eng_pts),
        reasons=reason_texts(points, shares, X, scorer.spec, top),
    )
