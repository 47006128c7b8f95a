"""Drift against training on leads of the same synthetic world, and on a deliberately shifted one.

The model of the ``trained`` fixture (world seed 11) is the reference. A fresh world from the same
generator (seed 12) is scored the way production scores: open leads, each at its own as_of, of
any age from 0 to 180 days (not the training grid's ages). Nothing may warn. Then two inputs are
shifted: every company is 8 times larger and every webinar attendance is logged three times. The
shifted features are the ones measuring those two things (the company size features, the webinar
attendance counts): they, and only they, alarm. A feature "derives from the shift" when its value
changes for some lead (the activity totals, say); it may warn, and no other feature may.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.drift import AGE, DriftMonitor


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """Open leads of a seed-12 world from the training period, each at a random age."""
    from pipeline.data.io import read_table
    from pipeline.synth.world import write_world

    data = tmp_path_factory.mktemp("fresh") / "data"
    write_world(data, 8_000, seed=12)
    leads, activities = read_table(data / "leads.parquet"), read_table(data / "activities.parquet")
    created = pd.to_datetime(leads["created_at"])
    leads = leads[created <= created.quantile(0.5)]  # before the generator's drift quarter
    rng = np.random.default_rng(0)
    as_of = leads["created_at"] + pd.to_timedelta(rng.uniform(0, 180, len(leads)), unit="D")
    still_open = leads["outcome_at"].isna() | (leads["outcome_at"] > as_of)
    leads, as_of = leads[still_open].reset_index(drop=True), as_of[still_open]
    return leads, activities, pd.Series(as_of.to_numpy(), index=leads["lead_id"].astype(str))


def _drift(package, X: pd.DataFrame) -> pd.DataFrame:
    monitor = DriftMonitor(package.reference)
    monitor.update(X, package.scorer.predict_proba(X)[:, 1])
    return monitor.result().set_index("feature")


def test_a_fresh_sample_of_the_same_world_raises_nothing(trained, fresh):
    _, result, _, _ = trained
    package = result.packages["model"]
    leads, activities, as_of = fresh
    X = package.features(leads, activities, as_of)
    assert X[AGE].nunique() > 100  # ages of every kind, not the training grid's
    table = _drift(package, X)
    assert len(table) == X.shape[1] + 1
    assert (table["status"] == "ok").all(), table[table["status"] != "ok"]
    assert table.loc[AGE, "basis"] == "matched on"
    assert table.loc["days_since_first_activity", "basis"] == "age-matched, as age minus value"


def test_a_shifted_sample_alarms_on_exactly_the_shifted_features(trained, fresh):
    _, result, _, _ = trained
    package = result.packages["model"]
    leads, activities, as_of = fresh
    shifted_leads = leads.assign(employees=leads["employees"] * 8)
    webinars = activities[activities["activity_type"] == "webinar_attended"]
    shifted_activities = pd.concat(
        [activities] + [webinars.assign(occurred_at=webinars["occurred_at"]
                                        + pd.Timedelta(minutes=k)) for k in (1, 2)],
        ignore_index=True)
    before = package.features(leads, activities, as_of)
    X = package.features(shifted_leads, shifted_activities, as_of)
    moved = {c: float((~np.isclose(X[c].to_numpy(float), before[c].to_numpy(float),
                                   equal_nan=True)).mean())
             for c in X.columns if X[c].dtype.kind in "fiub"}
    moved |= {c: float((X[c].astype(str) != before[c].astype(str)).mean())
              for c in X.columns if c not in moved}
    derived = {c for c, share in moved.items() if share > 0}
    assert {"company_employees", "webinar_attended_90d"} <= derived
    table = _drift(package, X)
    flagged = set(table.index[table["status"] != "ok"])
    alarms = set(table.index[table["status"] == "alarm"])
    assert flagged <= derived | {"score"}, flagged - derived
    shifted = {c for c in X.columns
               if c.startswith(("company_employees", "company_size", "webinar_attended_"))}
    assert len(shifted) >= 3 and shifted <= derived
    assert alarms == shifted, (alarms, shifted)
