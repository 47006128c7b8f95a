"""PSI bins that survive ties and near-constant features, the age matching, and merged counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.drift import AGE, MIN_SHARE, DriftMonitor, build_reference


def _frame(rng, n: int, ages=None) -> pd.DataFrame:
    ages = rng.choice([0.0, 7.0, 30.0, 90.0, 180.0], n) if ages is None else ages
    return pd.DataFrame({
        AGE: ages,
        # mostly zero, a long tail: deciles fall inside the run of zeros
        "form_submit_30d": np.where(rng.random(n) < 0.9, 0.0, rng.integers(1, 6, n)),
        # near-constant: the case of training edges 13.136-14.0 that gave PSI 5.7
        "days_to_first_touch": 13.0 + rng.random(n) ** 8,
        "is_student": (rng.random(n) < 0.05).astype(float),
        # grows with age: ~ age minus a fixed moment of the lead's life
        "days_since_first_activity": np.maximum(ages - rng.exponential(2.0, n), 0.0),
        "country": rng.choice(["US", "DE", "FR", "BR"], n, p=[0.5, 0.3, 0.19, 0.01]),
    })


def _result(train: pd.DataFrame, new: pd.DataFrame, rng) -> pd.DataFrame:
    monitor = DriftMonitor(build_reference(train, rng.random(len(train))))
    monitor.update(new, rng.random(len(new)))
    return monitor.result().set_index("feature")


def test_bins_keep_a_minimum_mass_and_give_few_values_one_bin_each():
    rng = np.random.default_rng(0)
    train = _frame(rng, 20_000)
    ref = build_reference(train, rng.random(len(train)))["features"]
    assert len(ref["is_student"]["edges"]) == 1  # two values, one edge between them
    assert len(ref["form_submit_30d"]["edges"]) == 5  # six values
    for name in ("days_to_first_touch",):
        counts = np.sum(ref[name]["counts"], axis=0)[:-1]  # the last bin: missing values
        assert (counts / counts.sum() >= MIN_SHARE).all(), counts
    assert "BR" not in ref["country"]["levels"]  # a 1 % level joins the unseen ones


def test_same_population_at_other_ages_raises_nothing():
    rng = np.random.default_rng(1)
    train = _frame(rng, 20_000)
    # scored leads of any age, mostly young: not the training grid's ages nor its age mix
    new = _frame(rng, 3_000, ages=rng.exponential(40.0, 3_000).clip(0, 180))
    table = _result(train, new, rng)
    assert (table["status"] == "ok").all(), table
    assert table.loc[AGE, "basis"] == "matched on" and table.loc[AGE, "psi"] > 0.25
    assert table.loc["days_since_first_activity", "basis"] == "age-matched, as age minus value"


def test_a_shift_of_one_feature_alarms_on_it_alone():
    rng = np.random.default_rng(2)
    train, new = _frame(rng, 20_000), _frame(rng, 3_000)
    new["is_student"] = (rng.random(len(new)) < 0.4).astype(float)
    table = _result(train, new, rng)
    assert set(table.index[table["status"] != "ok"]) == {"is_student"}
    assert table.loc["is_student", "status"] == "alarm"


@pytest.mark.parametrize("parts", [2, 5])
def test_merged_counts_give_the_one_pass_result(parts):
    rng = np.random.default_rng(3)
    train, new = _frame(rng, 5_000), _frame(rng, 2_000)
    reference = build_reference(train, rng.random(len(train)))
    p = rng.random(len(new))
    whole = DriftMonitor(reference)
    whole.update(new, p)
    merged = DriftMonitor(reference)
    for rows in np.array_split(np.arange(len(new)), parts):
        part = DriftMonitor(reference)
        part.update(new.iloc[rows], p[rows])
        merged.merge(part.state())
    pd.testing.assert_frame_equal(merged.result(), whole.result())
