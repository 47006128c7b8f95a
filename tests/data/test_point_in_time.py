"""Property tests: a lead's features see nothing at or after its as_of, nor its outcome, nor
the row order, nor which other leads share its batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import FeatureBuilder
from features.settings import FeatureSettings

T0 = pd.Timestamp("2025-01-01")
TYPES = ["web_visit", "email_open", "email_click", "email_sent", "email_bounce",
         "email_unsubscribe", "webinar_registered", "webinar_attended", "demo_request",
         "sales_call"]
PAGES = ["pricing", "demo", "careers", "home", "blog", "case_study"]
SETTINGS = FeatureSettings(categorical=["industry"], rare_level_min_count=1,
                           competitor_domains=["rivalscore.com"], revenue_column=None,
                           decay="learn")
PROFILE = settings(max_examples=25, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


def _world(seed: int, n_leads: int, n_events: int):
    """Leads created over 60 days, as_of 14 days after creation, events over 40 days."""
    rng = np.random.default_rng(seed)
    ids = [f"L{i}" for i in range(n_leads)]
    created = T0 + pd.to_timedelta(rng.integers(0, 60 * 24, n_leads), unit="h")
    decided = rng.choice(["won", "lost", "open"], n_leads)
    leads = pd.DataFrame({
        "lead_id": ids,
        "created_at": created.astype("datetime64[ns]"),
        "outcome": decided,
        "outcome_at": np.where(decided == "open", pd.NaT,
                               created + pd.to_timedelta(rng.integers(1, 90, n_leads), unit="D")),
        "job_title": rng.choice(["VP Sales", "Student", "CTO", "analyst", None], n_leads),
        "email": rng.choice(["x@gmail.com", "y@acme.com", "z@rivalscore.com", None], n_leads),
        "industry": rng.choice(["software", "Retail", "finance", None], n_leads),
        "employees": rng.choice([5.0, 40.0, 900.0, 12000.0, np.nan], n_leads),
    })
    leads["outcome_at"] = pd.to_datetime(leads["outcome_at"])
    lead_of = rng.integers(0, n_leads, n_events)
    # Whole hours, so that some events land exactly on as_of and on the window edges.
    offsets = pd.to_timedelta(rng.integers(0, 40 * 24, n_events), unit="h")
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


def _fitted(leads, activities, as_of):
    return FeatureBuilder(SETTINGS).fit(leads, activities, as_of)


worlds = st.tuples(st.integers(0, 2**32 - 1), st.integers(3, 25), st.integers(0, 400))
late_events = st.lists(
    st.tuples(st.integers(0, 10**6),  # which lead (modulo the number of leads)
              st.one_of(st.just(0), st.integers(0, 90 * 86_400)),  # seconds at/after as_of
              st.sampled_from([*TYPES, "form_submit"]),  # includes a type unseen at fit
              st.sampled_from(PAGES)),
    min_size=1, max_size=40)


@PROFILE
@given(worlds, late_events)
def test_events_at_or_after_as_of_never_change_features(world, late):
    leads, activities, as_of = _world(*world)
    builder = _fitted(leads, activities, as_of)
    before = builder.transform(leads, activities, as_of)
    after = builder.transform(leads, _with_late(leads, activities, as_of, late), as_of)
    pd.testing.assert_frame_equal(before, after)


def _with_late(leads, activities, as_of, late):
    """The activities plus the ``late`` events, each at or after its lead's as_of."""
    ids = leads["lead_id"].to_numpy()
    target = ids[[i % len(ids) for i, _, _, _ in late]]
    extra = pd.DataFrame({
        "lead_id": target,
        "occurred_at": as_of.loc[target].to_numpy()
        + pd.to_timedelta([s for _, s, _, _ in late], unit="s").to_numpy(),
        "activity_type": [t for _, _, t, _ in late],
        "detail": [p for _, _, _, p in late],
        "channel": "online",
    })
    return pd.concat([activities, extra], ignore_index=True)


DECAY = SETTINGS.model_copy(update={"half_lives": {"page_pricing": 2.0, "demo_request": 45.0,
                                                   "web_visit": 1.0}})


@PROFILE
@given(worlds, late_events)
def test_late_events_never_change_the_per_signal_decayed_counts(world, late):
    leads, activities, as_of = _world(*world)
    builder = FeatureBuilder(DECAY).fit(leads, activities, as_of)
    decayed = [c for c in builder.spec_.names
               if c.startswith("decayed_") and c[8:] in builder.half_lives_]
    before = builder.transform(leads, activities, as_of)[decayed]
    after = builder.transform(leads, _with_late(leads, activities, as_of, late), as_of)
    pd.testing.assert_frame_equal(before, after[decayed])
    # the user's half-lives are the builder's, and the columns recomputed alone agree
    assert {s: builder.half_lives_[s] for s in DECAY.half_lives if s in builder.half_lives_} == {
        s: h for s, h in DECAY.half_lives.items() if s in builder.half_lives_}
    alone = builder.decayed_columns(leads, activities, as_of)
    names = ["decayed_" + s for s in builder.half_lives_]
    kept = [names.index(c) for c in decayed]
    np.testing.assert_array_equal(alone[:, kept], before.to_numpy())


@PROFILE
@given(worlds, st.integers(0, 2**32 - 1))
def test_outcome_never_changes_features(world, seed):
    leads, activities, as_of = _world(*world)
    builder = _fitted(leads, activities, as_of)
    rng = np.random.default_rng(seed)
    flipped = leads.assign(
        outcome=rng.choice(["won", "lost", "open"], len(leads)),
        outcome_at=leads["created_at"] + pd.to_timedelta(rng.integers(-5, 200, len(leads)),
                                                         unit="D"))
    pd.testing.assert_frame_equal(builder.transform(leads, activities, as_of),
                                  builder.transform(flipped, activities, as_of))
    # nor does dropping the outcome columns altogether (scoring has none)
    pd.testing.assert_frame_equal(
        builder.transform(leads, activities, as_of),
        builder.transform(leads.drop(columns=["outcome", "outcome_at"]), activities, as_of))


@PROFILE
@given(worlds, st.integers(0, 2**32 - 1))
def test_row_order_never_changes_features(world, seed):
    leads, activities, as_of = _world(*world)
    builder = _fitted(leads, activities, as_of)
    full = builder.transform(leads, activities, as_of)
    shuffled = builder.transform(leads.sample(frac=1, random_state=seed % 2**31),
                                 activities.sample(frac=1, random_state=(seed + 1) % 2**31),
                                 as_of.sample(frac=1, random_state=(seed + 2) % 2**31))
    pd.testing.assert_frame_equal(full, shuffled.loc[full.index])


@PROFILE
@given(worlds, st.integers(0, 2**32 - 1))
def test_a_lead_does_not_depend_on_its_batch(world, seed):
    leads, activities, as_of = _world(*world)
    builder = _fitted(leads, activities, as_of)
    full = builder.transform(leads, activities, as_of)
    rng = np.random.default_rng(seed)
    batch = leads[rng.random(len(leads)) < 0.5]
    if batch.empty:
        batch = leads.head(1)
    ids = batch["lead_id"]
    own = activities[activities["lead_id"].isin(ids)]  # as a per-partition scorer sees them
    # other leads' as_of moved: irrelevant to this batch
    moved = as_of + pd.to_timedelta(rng.integers(-30, 30, len(as_of)), unit="D")
    moved.loc[ids] = as_of.loc[ids]
    for acts, times in ((activities, as_of), (own, as_of), (own, as_of.loc[ids]),
                        (activities, moved)):
        part = builder.transform(batch, acts, times)
        pd.testing.assert_frame_equal(part, full.loc[part.index])


@PROFILE
@given(worlds, st.integers(1, 5))
def test_partitions_reassemble_the_full_table(world, n_parts):
    leads, activities, as_of = _world(*world)
    builder = _fitted(leads, activities, as_of)
    full = builder.transform(leads, activities, as_of)
    parts = [builder.transform(chunk, activities[activities["lead_id"].isin(chunk["lead_id"])],
                               as_of)
             for chunk in (leads.iloc[i::n_parts] for i in range(n_parts)) if len(chunk)]
    pd.testing.assert_frame_equal(pd.concat(parts).loc[full.index], full)
