"""The synthetic CRM world: deterministic, realistic in the ways the product relies on."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.monitor import psi
from pipeline.synth import AS_OF_DAYS, make_world, write_world

ACTIVITY_TYPES = {"web_visit", "email_sent", "email_open", "email_click", "email_bounce",
                  "email_unsubscribe", "content_download", "webinar_registered",
                  "webinar_attended", "form_submit", "demo_request", "offline_event",
                  "sales_call"}


@pytest.fixture(scope="module")
def world():
    return make_world(20_000, seed=7)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_and_equal_to_memory(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_world(a, 3_000, seed=3)
    write_world(b, 3_000, seed=3)
    for name in ("leads", "activities", "truth"):
        assert _digest(a / f"{name}.parquet") == _digest(b / f"{name}.parquet")
    memory = make_world(3_000, seed=3)
    pd.testing.assert_frame_equal(pd.read_parquet(a / "leads.parquet"), memory.leads,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(a / "activities.parquet"), memory.activities,
                                  check_dtype=False)
    other = make_world(3_000, seed=4)
    assert not other.truth["p_convert"].equals(memory.truth["p_convert"])


def test_schema_and_event_order(world):
    leads, acts = world.leads, world.activities
    assert leads["lead_id"].is_unique
    assert set(leads["outcome"]) == {"won", "lost", "open"}
    assert leads.loc[leads["outcome"] == "open", "outcome_at"].isna().all()
    assert leads.loc[leads["outcome"] != "open", "outcome_at"].notna().all()
    assert set(acts["activity_type"]) == ACTIVITY_TYPES
    created = acts["lead_id"].map(leads.set_index("lead_id")["created_at"])
    assert (acts["occurred_at"] > created).all()
    assert acts["occurred_at"].max() <= pd.Timestamp("2026-06-30 23:59:59")
    key = pd.MultiIndex.from_arrays([acts["lead_id"], acts["occurred_at"]])
    assert key.is_monotonic_increasing
    span = leads["created_at"].max() - leads["created_at"].min()
    assert span > pd.Timedelta(days=540)  # 18+ months


def test_positive_rate_near_eight_percent(world):
    won = (world.leads["outcome"] == "won").mean()
    assert 0.06 <= won <= 0.10
    assert world.truth["p_convert"].mean() == pytest.approx(0.08, abs=0.01)


def _first_two_weeks(world, kind, page=None):
    acts = world.activities
    created = acts["lead_id"].map(world.leads.set_index("lead_id")["created_at"])
    mask = (acts["occurred_at"] - created < pd.Timedelta(days=AS_OF_DAYS))
    mask &= acts["activity_type"] == kind
    if page:
        mask &= acts["detail"] == page
    counts = acts[mask].groupby("lead_id").size()
    return world.leads["lead_id"].map(counts).fillna(0).to_numpy()


def test_product_lines_respond_to_different_signals(world):
    y = (world.leads["outcome"] == "won").to_numpy()
    X = np.column_stack([np.log1p(_first_two_weeks(world, "web_visit", "pricing")),
                         np.log1p(_first_two_weeks(world, "webinar_attended"))])
    coef = {}
    for line in ("platform", "academy"):
        m = (world.leads["product_line"] == line).to_numpy()
        coef[line] = LogisticRegression().fit(X[m], y[m]).coef_[0]
    # pricing matters more for platform buyers, webinars more for academy buyers
    assert coef["platform"][0] > coef["academy"][0] + 0.2
    assert coef["academy"][1] > coef["platform"][1] + 0.2


def test_last_quarter_drifts(world):
    leads = world.leads
    recent = leads["created_at"] >= pd.Timestamp("2026-04-01")
    levels = sorted(leads["lead_source"].unique())
    def share(mask):
        counts = leads.loc[mask, "lead_source"].value_counts(normalize=True)
        return counts.reindex(levels, fill_value=0).to_numpy()

    old, new = share(~recent), share(recent)
    assert psi(old, new) > 0.1


def test_won_leads_have_deal_activity_after_as_of(world):
    acts = world.activities
    leads = world.leads.set_index("lead_id")
    age = acts["occurred_at"] - acts["lead_id"].map(leads["created_at"])
    late = acts[(age >= pd.Timedelta(days=AS_OF_DAYS))
                & acts["activity_type"].isin(["sales_call", "demo_request"])]
    per_lead = late.groupby("lead_id").size().reindex(leads.index, fill_value=0)
    outcome = leads["outcome"]
    assert per_lead[outcome == "won"].mean() > 3 * per_lead[outcome == "lost"].mean()


def test_oracle_is_informative(world):
    from sklearn.metrics import roc_auc_score

    y = (world.leads["outcome"] == "won").to_numpy()
    assert roc_auc_score(y, world.truth["p_convert"]) > 0.83
