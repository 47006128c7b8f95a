"""As-of, labels, exclusions and the split: the point-in-time rules of the training set."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pipeline.data.config import AsOfRule, SplitConfig
from pipeline.data.dataset import (
    FlatSplitWarning,
    assign_as_of,
    build_training_set,
    label_leads,
    split_leads,
)

SNAP = pd.Timestamp("2025-12-31")


def _leads(rows):
    frame = pd.DataFrame(rows, columns=["lead_id", "created_at", "outcome", "outcome_at"])
    frame["created_at"] = pd.to_datetime(frame["created_at"]).astype("datetime64[ns]")
    frame["outcome_at"] = pd.to_datetime(frame["outcome_at"]).astype("datetime64[ns]")
    return frame


LEADS = _leads([
    ("won_in_horizon", "2025-01-01", "won", "2025-03-01"),
    ("won_after_horizon", "2025-01-01", "won", "2025-09-01"),
    ("won_before_as_of", "2025-01-01", "won", "2025-01-10"),
    ("lost_before_as_of", "2025-01-01", "lost", "2025-01-03"),
    ("lost_later", "2025-01-01", "lost", "2025-02-01"),
    ("open_old", "2025-01-01", "open", None),
    ("open_recent", "2025-11-01", "open", None),
    ("too_young", "2025-12-25", "open", None),
    ("won_recent", "2025-10-01", "won", "2025-11-01"),
])


def test_as_of_rules():
    rule = AsOfRule(rule="days_after_created", days=14)
    as_of = assign_as_of(LEADS, rule)
    assert as_of["won_in_horizon"] == pd.Timestamp("2025-01-15")
    snap = assign_as_of(LEADS, AsOfRule(rule="snapshot", date="2025-06-01"))
    assert (snap == pd.Timestamp("2025-06-01")).all()

    def crossing(leads, points):
        assert points == 50
        return pd.Series({"lost_later": pd.Timestamp("2025-01-05")})

    pts = assign_as_of(LEADS, AsOfRule(rule="points_threshold", points=50, days=10), crossing)
    assert pts["lost_later"] == pd.Timestamp("2025-01-05")
    assert pts["open_old"] == pd.Timestamp("2025-01-11")  # never crossed: created + days


def test_labels_and_exclusions():
    as_of = assign_as_of(LEADS, AsOfRule(days=14))
    y, status = label_leads(LEADS, as_of, horizon_days=180, snapshot=SNAP)
    assert status.to_dict() == {
        "won_in_horizon": "eligible",
        "won_after_horizon": "eligible",
        "won_before_as_of": "decided_before_as_of",
        "lost_before_as_of": "decided_before_as_of",
        "lost_later": "eligible",
        "open_old": "eligible",
        "open_recent": "horizon_not_elapsed",
        "too_young": "as_of_after_snapshot",
        "won_recent": "horizon_not_elapsed",  # decided, but its peers are not yet: left out
    }
    assert y["won_in_horizon"] == 1
    assert y["won_after_horizon"] == 0  # won, but not within the horizon
    assert y["lost_later"] == 0 and y["open_old"] == 0


def test_changing_outcome_after_as_of_only_changes_label():
    as_of = assign_as_of(LEADS, AsOfRule(days=14))
    flipped = LEADS.copy()
    flipped.loc[flipped["lead_id"] == "lost_later", "outcome"] = "won"
    y, _ = label_leads(flipped, as_of, 180, SNAP)
    assert y["lost_later"] == 1
    assert as_of.equals(assign_as_of(flipped, AsOfRule(days=14)))


def test_time_split_puts_latest_leads_in_test():
    ids = [f"L{i:03d}" for i in range(100)]
    as_of = pd.Series(pd.date_range("2025-01-01", periods=100, freq="D"), index=ids)
    y = pd.Series(np.arange(100) % 5 == 0, index=ids).astype(int)
    split = split_leads(as_of.sample(frac=1, random_state=1), y, SplitConfig(), seed=0)
    assert (split == "test").sum() == 20 and (split == "valid").sum() == 15
    assert as_of[split == "train"].max() < as_of[split == "valid"].min()
    assert as_of[split == "valid"].max() < as_of[split == "test"].min()


def test_random_split_is_stratified_and_seeded():
    ids = [f"L{i:04d}" for i in range(1000)]
    y = pd.Series((np.arange(1000) % 10 == 0).astype(int), index=ids)
    cfg = SplitConfig(method="random")
    a = split_leads(None, y, cfg, seed=3)
    assert a.equals(split_leads(None, y, cfg, seed=3))
    assert not a.equals(split_leads(None, y, cfg, seed=4))
    for part in ("train", "valid", "test"):
        assert y[a == part].mean() == pytest.approx(0.1, abs=0.01)


def test_flat_mode_random_split_warns():
    leads = pd.DataFrame({"lead_id": [f"x{i}" for i in range(200)],
                          "outcome": ["won" if i % 4 == 0 else "lost" for i in range(200)],
                          "outcome_at": pd.NaT})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ts = build_training_set(leads, None, "flat", AsOfRule(), 180,
                                SplitConfig(method="random"), seed=1)
    assert any(issubclass(w.category, FlatSplitWarning) for w in caught)
    assert "split at random" in ts.notes[0] and "optimistic" in ts.notes[0]
    assert ts.y.sum() == 50 and set(ts.split) == {"train", "valid", "test"}


def test_summary_counts_exclusions():
    leads = _leads([(f"L{i}", "2025-01-01", "won" if i % 3 == 0 else "lost", "2025-03-01")
                    for i in range(60)] + [("young", "2025-12-30", "open", None)])
    ts = build_training_set(leads, None, "events", AsOfRule(days=14), 180, SplitConfig(purge=0),
                            seed=0, snapshot=SNAP)
    summary = ts.summary()
    assert summary["eligible"] == 60
    assert summary["excluded_as_of_after_snapshot"] == 1
    assert summary["train_leads"] + summary["valid_leads"] + summary["test_leads"] == 60
    # with the default gap, every lead sharing the test's as_of day is purged, and counted
    purged = build_training_set(leads, None, "events", AsOfRule(days=14), 180, SplitConfig(),
                                seed=0, snapshot=SNAP).summary()
    assert purged["eligible"] == purged["test_leads"] == 12
    assert purged["excluded_purged_before_test"] == 48
