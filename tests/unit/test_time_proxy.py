"""Time-period proxies: a column that is a noisy function of created_at is flagged, others not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.spec import FeatureInfo, FeatureSpec
from pipeline.evaluation.time_proxy import (
    PROXY_SHARE,
    creation_periods,
    flagged_proxies,
    period_share,
    time_proxies,
)


def _leads(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 540, n), unit="D")
    months = (created - created.min()).days.to_numpy() / 30.4
    X = pd.DataFrame({
        # a macro-economic rate: a smooth function of the date plus a little noise
        "euribor": 4.0 - 0.15 * months + 0.3 * np.sin(months) + rng.normal(0, 0.2, n),
        "visits": rng.poisson(3, n).astype(float),
        "industry": rng.choice(["retail", "software", "finance"], n),
        # a campaign name that changes with the quarter: a categorical proxy
        "campaign": np.asarray([f"q{(m // 3) % 6}" for m in months.astype(int)]),
        "company_size": rng.lognormal(4, 1, n),
    })
    X.loc[rng.random(n) < 0.1, "company_size"] = np.nan
    spec = FeatureSpec([
        FeatureInfo("euribor", "Euribor", "fit", "fit", "numeric"),
        FeatureInfo("visits", "Website visits", "engagement", "engagement", "numeric"),
        FeatureInfo("industry", "Industry", "fit", "fit", "categorical"),
        FeatureInfo("campaign", "Campaign", "fit", "fit", "categorical"),
        FeatureInfo("company_size", "Company size", "fit", "fit", "numeric"),
    ])
    return X, pd.Series(created), spec


def test_a_noisy_function_of_created_at_is_flagged_and_the_others_are_not():
    X, created, spec = _leads()
    table = time_proxies(X, created, spec).set_index("factor")
    assert table.loc["Euribor", "period_share"] > 0.8
    assert table.loc["Campaign", "period_share"] > 0.8
    for factor in ("Website visits", "Industry", "Company size"):
        assert table.loc[factor, "period_share"] < 0.01, factor
    assert sorted(table.index[table["flagged"]]) == ["Campaign", "Euribor"]
    assert list(table["period_share"]) == sorted(table["period_share"], reverse=True)
    flagged = flagged_proxies(X, created, spec)
    assert {f["factor"] for f in flagged} == {"Euribor", "Campaign"}
    assert all(f["period_share"] > PROXY_SHARE for f in flagged)


def test_the_factor_figure_is_its_most_period_bound_feature():
    X, created, spec = _leads()
    merged = FeatureSpec([FeatureInfo(i.name, "Market", i.measure, "fit", i.dtype)
                          if i.name in ("euribor", "company_size") else i for i in spec])
    row = time_proxies(X, created, merged).set_index("factor").loc["Market"]
    assert row["feature"] == "euribor" and row["flagged"]


def test_period_share_golden_numbers():
    periods = pd.Series(["a", "a", "b", "b"])
    # the period explains everything; adjusted for two periods on four leads it stays 1
    assert period_share(pd.Series([1.0, 1.0, 3.0, 3.0]), periods) == pytest.approx(1.0)
    # within SS 1, total SS 2: eta^2 0.5, epsilon^2 = 1 - (1 / 2) / (2 / 3) = 0.25
    assert period_share(pd.Series([1.0, 2.0, 2.0, 3.0]), periods) == pytest.approx(0.25)
    # within SS 6.5 of 6.75: epsilon^2 = 1 - (6.5 / 2) / (6.75 / 3) < 0, clipped to 0
    assert period_share(pd.Series([1.0, 3.0, 1.0, 4.0]), periods) == 0.0
    assert period_share(pd.Series([5.0, 5.0, 5.0, 5.0]), periods) == 0.0
    cats = pd.Series(["x", "x", "y", "y"])
    assert period_share(cats, periods) == pytest.approx(1.0)


def test_noise_over_many_small_periods_does_not_read_as_a_trend():
    rng = np.random.default_rng(1)
    values = pd.Series(rng.normal(size=600))
    periods = pd.Series(rng.integers(0, 60, 600).astype(str))
    assert period_share(values, periods) < 0.05  # raw eta^2 would be about 0.1


def test_too_short_a_span_flags_nothing_and_weeks_stand_in_for_months():
    X, created, spec = _leads(n=300)
    short = pd.Series(pd.Timestamp("2024-03-01") + pd.to_timedelta(np.arange(300) % 10, unit="D"))
    assert time_proxies(X, short, spec).empty
    weeks = pd.Series(pd.Timestamp("2024-03-04") + pd.to_timedelta(np.arange(300) % 40, unit="D"))
    assert creation_periods(weeks).nunique() == 6
    with pytest.raises(ValueError, match="creation times for"):
        time_proxies(X, created.head(10), spec)
