"""Property tests: a lead's features never see events at or after its as_of, nor its outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import FeatureBuilder
from features.settings import FeatureSettings

T0 = pd.Timestamp("2025-01-01")
TYPES = ["web_visit", "email_open", "email_click", "email_sent", "email_bounce",
         "email_unsubscribe", "webinar_attended", "demo_request"]
PAGES = ["pricing", "demo", "careers", "home", "blog"]
SETTINGS = FeatureSettings(categorical=["industry"], rare_level_min_count=1,
                           size_column="employees", revenue_column=None)


def _world(seed: int, n_leads: int, n_events: int):
    rng = np.random.default_rng(seed)
    ids = [f"L{i}" for i in range(n_leads)]
    created = T0 + pd.to_timedelta(rng.integers(0, 60, n_leads), unit="D")
    leads = pd.DataFrame({
        "lead_id": ids, "created_at": created.astype("datetime64[ns]"),
        "outcome": rng.choice(["won", "lost", "open"], n_leads),
        "outcome_at": pd.NaT,
        "job_title": rng.choice(["VP Sales", "Student", "CTO", "analyst", None], n_leads),
        "email": rng.choice(["x@gmail.com", "y@acme.com"], n_leads),
        "industry": rng.choice(["software", "retail", "finance"], n_leads),
        "employees": rng.integers(1, 5000, n_leads).astype(float),
    })
    lead_of = rng.integers(0, n_leads, n_events)
    offsets = pd.to_timedelta(rng.uniform(0, 40, n_events), unit="D")
    activities = pd.DataFrame({
        "lead_id": np.asarray(ids)[lead_of],
        "occurred_at": (leads["created_at"].to_numpy()[lead_of] + offsets).astype(
            "datetime64[ns]"),
        "activity_type": rng.choice(TYPES, n_events),
        "detail": rng.choice(PAGES, n_events),
        "channel": "online",
    })
    as_of = pd.Series((leads["created_at"] + pd.Timedelta(days=14)).to_numpy(), index=ids)
    return leads, activities, as_of


def _builder(leads, activities, as_of):
    return FeatureBuilder(SETTINGS).fit(leads, activities, as_of)


worlds = st.tuples(st.integers(0, 10_000), st.integers(3, 25), st.integers(0, 300))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds, st.integers(1, 50), st.floats(0, 30))
def test_events_at_or_after_as_of_never_change_features(world, n_new, delay):
    leads, activities, as_of = _world(*world)
    builder = _builder(leads, activities, as_of)
    before = builder.transform(leads, activities, as_of)
    rng = np.random.default_rng(world[0] + 1)
    target = leads["lead_id"].iloc[rng.integers(0, len(leads), n_new)].to_numpy()
    late = pd.DataFrame({
        "lead_id": target,
        "occurred_at": (as_of.loc[target] + pd.to_timedelta(delay, unit="D")).to_numpy(),
        "activity_type": rng.choice(TYPES, n_new),
        "detail": rng.choice(PAGES, n_new),
        "channel": "online",
    })
    after = builder.transform(leads, pd.concat([activities, late], ignore_index=True), as_of)
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=30, deadline=None)
@given(worlds)
def test_outcome_never_changes_features(world):
    leads, activities, as_of = _world(*world)
    builder = _builder(leads, activities, as_of)
    flipped = leads.assign(outcome="won", outcome_at=leads["created_at"] + pd.Timedelta(days=30))
    pd.testing.assert_frame_equal(builder.transform(leads, activities, as_of),
                                  builder.transform(flipped, activities, as_of))


@settings(max_examples=30, deadline=None)
@given(worlds, st.integers(0, 1000))
def test_row_order_and_partition_never_change_features(world, shuffle_seed):
    leads, activities, as_of = _world(*world)
    builder = _builder(leads, activities, as_of)
    full = builder.transform(leads, activities, as_of)
    shuffled = builder.transform(leads.sample(frac=1, random_state=shuffle_seed),
                                 activities.sample(frac=1, random_state=shuffle_seed), as_of)
    pd.testing.assert_frame_equal(full, shuffled.loc[full.index])
    half = leads.iloc[: len(leads) // 2 + 1]
    part = builder.transform(half, activities, as_of)
    pd.testing.assert_frame_equal(part, full.loc[part.index])
