"""The score means the same probability at any lead age (the as_of grid), checked per age bucket."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.ages import AGE_BUCKETS, age_bucket, metrics_by_age

# The bar for "a probability at every age", on the demo world
MAX_BUCKET_ECE = 0.03


def test_ages_fall_in_the_documented_buckets():
    ages = np.array([0, 3, 7, 7.9, 8, 30, 31, 90, 90.5, 91, 400])
    assert list(age_bucket(ages)) == ["0-7", "0-7", "0-7", "0-7", "8-30", "8-30", "31-90",
                                      "31-90", "31-90", "over 90", "over 90"]
    assert [label for label, *_ in AGE_BUCKETS] == ["0-7", "8-30", "31-90", "over 90"]


def test_a_model_calibrated_at_one_age_only_shows_up_in_the_other_buckets():
    rng = np.random.default_rng(0)
    age = np.repeat([3.0, 20.0, 60.0, 120.0], 5000)
    truth = np.where(age > 90, 0.01, 0.10)
    y = (rng.random(len(age)) < truth).astype(float)
    by_age = metrics_by_age(y, {"right": truth, "day_14": np.full(len(age), 0.10)}, age,
                            n_boot=50)
    assert by_age["over 90"]["day_14"]["ece_adaptive"] > 0.08
    assert by_age["0-7"]["day_14"]["ece_adaptive"] < 0.02
    assert all(by_age[b]["right"]["ece_adaptive"] < 0.02 for b in by_age)
    low, high = (by_age["over 90"]["right"][k] for k in ("ece_adaptive_ci_low",
                                                         "ece_adaptive_ci_high"))
    assert low <= by_age["over 90"]["right"]["ece_adaptive"] <= high


@pytest.mark.slow
def test_the_demo_model_is_calibrated_in_every_age_bucket(demo_trained):
    cfg, result, *_ = demo_trained
    by_age = result.metrics["by_age"]
    assert set(by_age) == {label for label, *_ in AGE_BUCKETS}
    for bucket, entry in by_age.items():
        model = entry["model"]
        assert model["ece_adaptive"] <= MAX_BUCKET_ECE, (bucket, model)
        assert abs(model["mean_p"] - entry["observed"]) <= MAX_BUCKET_ECE, (bucket, model)
    # the rows span every age of the grid, each test lead with one row per age it was open
    ts = result.training_set
    test = ts.part("test")
    assert ts.age.loc[test].nunique() == len(cfg.dataset.as_of.grid_days)
    assert ts.lead_of.loc[test].duplicated().any()
