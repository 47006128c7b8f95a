"""Time-period proxies: factors whose value is mostly the period a lead was created in.

A column such as an interest rate or a consumer-confidence index takes one value per month for
every lead of that month. A model that leans on it learns when a lead arrived (the period's base
rate), not who the lead is, and its reasons ("Euribor 4.96: +12") explain nothing a sales team
can act on; on leads of a new period the effect is gone.

The figure, per feature: the share of its variance that the creation period explains, measured
on the training leads. For a number that is the between-period share of its variance (eta
squared); for a category the same share of its Gini variance ``1 - sum_l p_l**2``, which is
Goodman and Kruskal's tau of the category given the period. Both are adjusted for the number of
periods as epsilon squared, ``1 - (within / (n - k)) / (total / (n - 1))``, so that noise over
many small periods does not read as a trend. The period is the calendar month of ``created_at``,
or the week where the leads span fewer than :data:`MIN_PERIODS` months; with fewer periods
than that nothing can be told and nothing is flagged.

A factor's figure is that of its feature most explained by the period. A factor is flagged when
the period explains more than half of the variance (:data:`PROXY_SHARE`): its value is then
*mostly* the time period, the issue's own words, and whatever it adds to a score is mostly when
the lead came in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.spec import FeatureSpec

#: A factor is a time-period proxy when the creation period explains more than this share of
#: its variance ("mostly": more than half).
PROXY_SHARE = 0.5
#: Fewest creation periods on which a share of variance by period means anything.
MIN_PERIODS = 3

COLUMNS = ["factor", "feature", "period_share", "flagged"]


def creation_periods(created_at: pd.Series) -> pd.Series | None:
    """Creation month of each lead, or week if the leads span too few months (``None``: too
    few weeks as well)."""
    created = pd.to_datetime(created_at)
    for freq in ("M", "W"):
        periods = created.dt.to_period(freq)
        if periods.nunique() >= MIN_PERIODS:
            return periods.astype(str)
    return None


def period_share(values: pd.Series, periods: pd.Series) -> float:
    """Share of the variance of ``values`` explained by ``periods`` (epsilon squared, 0-1).

    Numbers: between-period share of the variance, missing values left out. Categories (and
    text): the same share of the Gini variance, missing values a level of their own.
    """
    values = values.reset_index(drop=True)
    periods = periods.reset_index(drop=True)
    if _is_number(values):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        known = numbers.notna()
        numbers, groups = numbers[known], periods[known]
        n, k = len(numbers), groups.nunique()
        if n <= k or k < 2:
            return 0.0
        total = float(((numbers - numbers.mean()) ** 2).sum())
        within = float(((numbers - numbers.groupby(groups).transform("mean")) ** 2).sum())
    else:
        levels = values.astype(object).where(values.notna(), "(missing)").astype(str)
        counts = pd.crosstab(periods, levels).to_numpy(dtype="float64")
        n, k = counts.sum(), counts.shape[0]
        if n <= k or k < 2:
            return 0.0
        per_period = counts.sum(axis=1)
        total = n * (1.0 - float(((counts.sum(axis=0) / n) ** 2).sum()))
        within = float((per_period * (1.0 - ((counts / per_period[:, None]) ** 2).sum(axis=1)))
                       .sum())
    if total <= 0:
        return 0.0  # a constant says nothing about the period
    return float(np.clip(1.0 - (within / (n - k)) / (total / (n - 1)), 0.0, 1.0))


def time_proxies(X: pd.DataFrame, created_at: pd.Series, spec: FeatureSpec,
                 threshold: float = PROXY_SHARE) -> pd.DataFrame:
    """Every factor's share of variance explained by the creation period, largest first.

    Parameters
    ----------
    X
        The training leads' feature table (spec columns).
    created_at
        Those leads' creation times, aligned with ``X``'s rows.
    spec
        The feature spec (factor of each column).
    threshold
        Flag a factor above this share (:data:`PROXY_SHARE`).

    Returns
    -------
    pd.DataFrame
        ``factor, feature, period_share, flagged``: one row per factor, the feature being the one
        most explained by the period. Empty when the leads span fewer than :data:`MIN_PERIODS`
        weeks.
    """
    if len(created_at) != len(X):
        raise ValueError(f"{len(created_at)} creation times for {len(X)} leads")
    created = pd.to_datetime(pd.Series(np.asarray(created_at)))
    known = created.notna().to_numpy()  # a lead without a creation date tells nothing here
    X, created = X.iloc[known], created[known].reset_index(drop=True)
    periods = creation_periods(created)
    if periods is None:
        return pd.DataFrame(columns=COLUMNS)
    best: dict[str, tuple[str, float]] = {}
    for info in spec.features:
        if info.name not in X.columns:
            continue
        share = period_share(X[info.name], periods)
        if info.factor not in best or share > best[info.factor][1]:
            best[info.factor] = (info.name, share)
    rows = [(factor, name, share, share > threshold) for factor, (name, share) in best.items()]
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values("period_share", ascending=False, kind="stable").reset_index(
        drop=True)


def flagged_proxies(X: pd.DataFrame, created_at: pd.Series, spec: FeatureSpec,
                    threshold: float = PROXY_SHARE) -> list[dict[str, object]]:
    """The flagged factors with their figure, JSON-able (kept in evaluation.json and the report)."""
    table = time_proxies(X, created_at, spec, threshold)
    return [{"factor": str(r.factor), "feature": str(r.feature),
             "period_share": round(float(r.period_share), 4)}
            for r in table[table["flagged"]].itertuples()]


def _is_number(values: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)) \
        and not isinstance(values.dtype, pd.CategoricalDtype)
