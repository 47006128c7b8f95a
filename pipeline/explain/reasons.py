"""Reasons: each lead's per-factor score points and the sentences that voice the largest ones.

Any :class:`~pipeline.scorers.base.BaseScorer` goes through the same code: its per-feature raw
shares (TreeSHAP log-odds for the model, rule points for the rules) are summed per business factor
and moved into score points by :func:`pipeline.scorers.scaling.split_points`, the fit factors with
engagement at the base and the engagement factors with fit at the base, plus what the two add
together; for every lead ``base_score + sum(points) = score`` within the 0.5 of rounding. The fit
factors' points make the grade (A-D), the engagement factors' points the engagement level (1-4),
with cut points learned on the training leads and stored with the model, so a lead's grade never
moves with its engagement. Reasons are the feature spec's sentences for the lead's own values: an
absence ("No sales calls in the last 30 days") only ever as a reason against the lead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.spec import FeatureSpec
from pipeline.explain.grades import GradeCuts, group_points
from pipeline.scorers.base import BaseScorer
from pipeline.scorers.scaling import score_from_proba


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


def _voices(points: pd.DataFrame, shares: pd.DataFrame, X: pd.DataFrame, spec: FeatureSpec
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per lead and factor: the column of ``X`` that voices it (-1: none) and whether it may.

    A factor speaks through its display feature whenever that value is known (the value a person
    recognises), else through its feature pushing hardest in the direction of its points. A count
    of 0, or an unknown value read as "none yet", is an absence: it may only be a reason against
    the lead, never for it.
    """
    pts = points.to_numpy(dtype="float64")
    share_values = shares.to_numpy(dtype="float64")
    share_col = {name: j for j, name in enumerate(shares.columns)}
    x_col = {name: j for j, name in enumerate(X.columns)}
    voice = np.full(pts.shape, -1, dtype="int64")
    speakable = np.ones(pts.shape, dtype=bool)
    for j, factor in enumerate(points.columns):
        infos = [i for i in spec.features
                 if i.factor == factor and i.name in share_col and i.name in x_col]
        if not infos:
            continue
        s = share_values[:, [share_col[i.name] for i in infos]]
        aligned = np.where(np.sign(s) == np.sign(pts[:, [j]]), np.abs(s), -1.0)
        pick = np.where(aligned.max(axis=1) > 0, aligned.argmax(axis=1),
                        np.abs(s).argmax(axis=1))
        chosen = np.asarray([x_col[i.name] for i in infos])[pick]
        shown = spec.display_of(factor)
        if shown in x_col:
            chosen = np.where(X[shown].notna().to_numpy(), x_col[shown], chosen)
        voice[:, j] = chosen
        absent = np.zeros(len(X), dtype=bool)
        for info in infos:
            if info.count or info.missing:
                values = pd.to_numeric(X[info.name], errors="coerce").to_numpy(dtype="float64")
                none = (np.abs(values) < 0.5) if info.count else np.zeros(len(X), dtype=bool)
                if info.missing:
                    none |= np.isnan(values)
                absent |= (chosen == x_col[info.name]) & none
        speakable[:, j] = ~absent | (pts[:, j] < -0.5)
    return voice, speakable


REASON_KINDS = ("reason", "positive", "negative")  # the column families of reason_texts


def reason_texts(
    points: pd.DataFrame,
    shares: pd.DataFrame,
    X: pd.DataFrame,
    spec: FeatureSpec,
    top: int = 3,
    kinds: tuple[str, ...] = REASON_KINDS,
) -> pd.DataFrame:
    """Top reasons per lead as sentences with the lead's own values and their points.

    Columns ``reason_1..top`` (largest effects of either sign), ``positive_1..top`` and
    ``negative_1..top`` (``kinds`` names which of the three to build). Each factor is voiced by
    one feature (see :func:`_voices`) through that feature's sentence for the lead's value
    (``"Visited pricing 4 times in 30 days: +14"``, ``"No sales calls in the last 30 days: -3"``).
    A column of ``points`` that is no factor (what fit and engagement add together) is never a
    reason: it says nothing about the lead a person could check or act on, and for an inactive
    lead it is about minus its fit points, so voicing it would crowd out the reasons that are
    (explanations and the points columns still show it).
    """
    points = points[[f for f in points.columns if f in set(spec.factors)]]
    factors = np.asarray(list(points.columns), dtype=object)
    voice, speakable = _voices(points, shares, X, spec)
    pts = points.to_numpy(dtype="float64")
    # what rounds to +0 / -0 is no reason, nor is what may not speak
    shown = speakable & (np.abs(pts) > 0.5)
    wanted = {"reason": shown, "positive": shown & (pts > 0), "negative": shown & (pts < 0)}
    keys = {"reason": -np.abs(pts), "positive": -pts, "negative": pts}
    rows = np.arange(len(pts))
    orders = {prefix: np.argsort(np.where(wanted[prefix], keys[prefix], np.inf), axis=1,
                                 kind="stable") for prefix in REASON_KINDS if prefix in kinds}
    picked: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # column: rows, factor, pts
    for k in range(top):
        for prefix, order in orders.items():
            hit, j = np.zeros(len(pts), dtype=bool), np.zeros(len(pts), dtype="int64")
            if k < order.shape[1]:
                j = order[:, k]
                hit = wanted[prefix][rows, j]
            picked[f"{prefix}_{k + 1}"] = (rows[hit], j[hit], pts[rows[hit], j[hit]])
    if not picked:
        return pd.DataFrame(index=points.index)
    # one sentence per distinct (voicing column, value) among the rows that need one
    at_rows = np.concatenate([r for r, _, _ in picked.values()])
    at_factor = np.concatenate([j for _, j, _ in picked.values()])
    texts = _sentences(X, spec, voice[at_rows, at_factor], at_rows, factors[at_factor]) \
        + _signed_points(np.concatenate([v for _, _, v in picked.values()]))
    columns: dict[str, np.ndarray] = {}
    start = 0
    for name, (hit_rows, _, _) in picked.items():
        out = np.full(len(pts), "", dtype=object)
        out[hit_rows] = texts[start:start + len(hit_rows)]
        start += len(hit_rows)
        columns[name] = out
    return pd.DataFrame(columns, index=points.index)



def _sentences(X: pd.DataFrame, spec: FeatureSpec, cols: np.ndarray, rows: np.ndarray,
               factor_names: np.ndarray) -> np.ndarray:
    """The sentence of each (voicing column of ``X``, row), built once per distinct value; a
    factor none of whose features is in X (column -1) says its name."""
    out = factor_names.astype(object)
    for col in np.unique(cols).tolist():
        if col < 0:
            continue
        at = cols == col
        info = spec[X.columns[col]]
        # the values as X.to_numpy(dtype=object) gives them, so the sentences read the same
        values = X.iloc[:, col].to_numpy(dtype=object)[rows[at]]
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        out[at] = np.asarray([info.reason(v) for v in uniques], dtype=object)[codes]
    return out


def _signed_points(pts: np.ndarray) -> np.ndarray:
    """``": +14"`` per value: ``f"{pts:+.0f}"`` (both round half to even), one format per
    distinct integer."""
    whole = np.rint(pts).astype("int64")
    uniques, inverse = np.unique(whole, return_inverse=True)
    return np.asarray([f": {v:+d}" for v in uniques.tolist()], dtype=object)[inverse]


def explain(
    scorer: BaseScorer,
    X: pd.DataFrame,
    grade_cuts: GradeCuts,
    top: int = 3,
    proba: np.ndarray | None = None,
    kinds: tuple[str, ...] = REASON_KINDS,
) -> Explanation:
    """Factor points, grade, engagement level and reasons for each lead of ``X``.

    ``proba``: the scorer's calibrated probabilities of ``X`` when the caller has them already
    (saves a second prediction); ``kinds``: which reason columns to build (see
    :func:`reason_texts`).
    """
    shares, points = scorer.explain_points(X)
    base_score = float(points.attrs["base_score"])
    score = scorer.score(X) if proba is None else score_from_proba(proba)
    fit_pts, eng_pts = group_points(points, scorer.spec)
    return Explanation(
        points=points,
        shares=shares,
        base_score=base_score,
        score=score,
        grade=grade_cuts.grade(fit_pts),
        engagement_level=grade_cuts.level(eng_pts),
        reasons=reason_texts(points, shares, X, scorer.spec, top, kinds),
    )
