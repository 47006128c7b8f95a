"""Training at every age: the as_of grid's rows, labels, split, weights and features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.build import FeatureBuilder
from features.settings import FeatureSettings
from pipeline.data.config import AsOfRule, SplitConfig
from pipeline.data.grid import BEFORE_TEST, build_grid_training_set, grid_rows

SNAP = pd.Timestamp("2025-12-31")
GRID = AsOfRule(rule="grid", grid_days=[0, 7, 30, 90])


def _leads(rows):
    frame = pd.DataFrame(rows, columns=["lead_id", "created_at", "outcome", "outcome_at"])
    for column in ("created_at", "outcome_at"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def test_a_lead_has_a_row_at_every_age_while_undecided_each_with_its_own_label():
    leads = _leads([("won_day_20", "2025-01-01", "won", "2025-01-21"),
                    ("open", "2025-01-01", "open", None),
                    ("lost_day_5", "2025-01-01", "lost", "2025-01-06")])
    rows, *_ = grid_rows(leads, GRID, horizon_days=30, snapshot=SNAP, missing_outcome_at="error")
    by_lead = rows.groupby("lead_id")["age"].apply(list).to_dict()
    # won on day 20: undecided at 0 and 7, decided before 30 and 90
    assert by_lead["won_day_20"] == [0.0, 7.0]
    assert by_lead["open"] == [0.0, 7.0, 30.0, 90.0]
    assert by_lead["lost_day_5"] == [0.0]
    won = rows[rows["lead_id"] == "won_day_20"].set_index("age")["y"]
    # a 30-day horizon from day 0 ends on day 30: the day-20 win counts at age 0 and at age 7
    assert won.to_dict() == {0.0: 1, 7.0: 1}
    assert rows.loc["won_day_20@7d", "as_of"] == pd.Timestamp("2025-01-08")
    assert (rows[rows["lead_id"] == "open"]["y"] == 0).all()


def test_a_row_whose_horizon_has_not_elapsed_is_left_out_and_a_lead_without_rows_counted():
    leads = _leads([("young", "2025-12-20", "open", None), ("old", "2025-01-01", "open", None)])
    rows, _, excluded, _ = grid_rows(leads, GRID, horizon_days=30, snapshot=SNAP,
                                     missing_outcome_at="error")
    assert "young" not in set(rows["lead_id"])
    assert excluded == {"horizon_not_elapsed": 1}
    # "old" at 90 days: 2025-04-01 + 30 days is before the snapshot
    assert "old@90d" in rows.index


def test_days_alone_keeps_its_old_meaning_and_mixed_settings_are_refused():
    assert AsOfRule().rule == "grid"
    assert AsOfRule(days=14).rule == "days_after_created"
    assert AsOfRule(days=14).ages == (14.0,)
    with pytest.raises(ValidationError, match="grid_days, not days"):
        AsOfRule(rule="grid", days=14)
    with pytest.raises(ValidationError, match="grid_days needs rule: grid"):
        AsOfRule(rule="days_after_created", grid_days=[0, 14])
    with pytest.raises(ValidationError, match="distinct ages"):
        AsOfRule(rule="grid", grid_days=[0, 14, 14])


def _world(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.uniform(0, 900, n), unit="D")
    decided = rng.uniform(1, 250, n)
    outcome = np.where(rng.random(n) < 0.15, "won", np.where(rng.random(n) < 0.5, "lost", "open"))
    outcome_at = pd.Series(created + pd.to_timedelta(decided, unit="D"))
    outcome_at[outcome == "open"] = pd.NaT
    return pd.DataFrame({"lead_id": [f"L{i}" for i in range(n)], "created_at": created,
                         "outcome": outcome, "outcome_at": outcome_at.to_numpy()})


def test_the_split_keeps_a_lead_together_in_time_order_with_per_lead_weights():
    leads = _world()
    split_config = SplitConfig(method="time", test_fraction=0.2, valid_fraction=0.2, purge=0)
    ts = build_grid_training_set(leads, None, GRID, 60, split_config, seed=0, snapshot=SNAP)
    parts = ts.split.groupby(ts.lead_of).nunique()
    assert (parts == 1).all(), "a lead's rows are in more than one split"
    test_rows, train_rows = ts.part("test"), ts.part("train")
    # every test row is scored after every training row: the past predicts the future
    assert ts.as_of.loc[test_rows].min() >= ts.as_of.loc[train_rows].max()
    assert ts.excluded.get(f"rows_{BEFORE_TEST}", 0) > 0
    assert abs(len(ts.part("valid")) / (len(ts.y) + sum(
        v for k, v in ts.excluded.items() if k.startswith("rows_"))) - 0.2) < 0.03
    weight = ts.weight.loc[train_rows]
    per_lead = weight.groupby(ts.lead_of.loc[train_rows]).sum()
    # every training lead weighs the same in total, however many ages it stayed open
    assert np.allclose(per_lead, per_lead.iloc[0])
    assert np.isclose(weight.mean(), 1.0)
    assert ts.summary()["train_rows"] == len(train_rows)


def _activities():
    return pd.DataFrame({
        "lead_id": ["A", "A", "A", "B"],
        "occurred_at": pd.to_datetime(["2025-01-02", "2025-01-20", "2025-03-15", "2025-01-03"]),
        "activity_type": ["web_visit", "web_visit", "web_visit", "web_visit"],
        "detail": ["/", "/", "/", "/"],
    })


def test_grid_rows_see_only_events_before_their_own_as_of_and_know_their_age():
    leads = pd.DataFrame({"lead_id": ["A", "B"],
                          "created_at": pd.to_datetime(["2025-01-01", "2025-01-01"])})
    ages = [0, 7, 30, 90]
    rows = pd.concat([leads.assign(age=a) for a in ages], ignore_index=True)
    rows.index = [f"{i}@{a}d" for i, a in zip(rows["lead_id"], rows["age"], strict=True)]
    as_of = pd.Series((rows["created_at"] + pd.to_timedelta(rows["age"], unit="D")).to_numpy(),
                      index=rows.index)
    settings = FeatureSettings(mode="events", title_column=None, email_column=None,
                               size_column=None, revenue_column=None, windows_days=[7, 30, 90])
    builder = FeatureBuilder(settings).fit(rows.drop(columns="age"), _activities(), as_of)
    X = builder.transform(rows.drop(columns="age"), _activities(), as_of)
    assert list(X.index) == list(rows.index)
    assert X.loc["A@90d", "lead_age_days"] == 90
    assert X.loc["A@0d", "web_visit_90d"] == 0
    assert X.loc["A@7d", "web_visit_90d"] == 1
    assert X.loc["A@30d", "web_visit_90d"] == 2
    assert X.loc["A@90d", "web_visit_90d"] == 3  # the March visit is before day 90 only
    assert X.loc["A@30d", "days_since_last_activity"] == 11  # Jan 20 -> Jan 31


def test_a_window_identical_to_another_on_every_training_row_is_dropped_once_with_a_note():
    leads = pd.DataFrame({"lead_id": ["A", "B", "C"],
                          "created_at": pd.to_datetime(["2025-01-01"] * 3)})
    as_of = pd.Series(pd.Timestamp("2025-01-15"), index=leads["lead_id"])
    acts = _activities().iloc[[0, 3]]
    settings = FeatureSettings(mode="events", title_column=None, email_column=None,
                               size_column=None, revenue_column=None, windows_days=[7, 30, 90])
    builder = FeatureBuilder(settings).fit(leads, acts, as_of)
    # 14 days after creation nothing is older than 30 days: the 30- and 90-day counts agree
    assert builder.dropped_["web_visit_90d"] == "identical to web_visit_30d in the training leads"
    assert "web_visit_30d" in builder.spec_.names
    assert "web_visit_90d" not in builder.spec_.names
