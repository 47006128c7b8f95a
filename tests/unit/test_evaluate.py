"""Golden numbers for the evaluation metrics on hand-built labels and probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.metrics import (
    bootstrap_auc,
    capacity_view,
    capture_at,
    compare_scorers,
    curves,
    expected_calibration_error,
    lift_by_decile,
    mql_metrics,
    ranking_metrics,
)

Y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
P = np.array([0.9, 0.8, 0.7, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.01])


def test_capture_and_lift_golden():
    assert capture_at(Y, P, 0.1) == pytest.approx(1 / 3)
    assert capture_at(Y, P, 0.3) == pytest.approx(2 / 3)
    assert capture_at(Y, P, 0.7) == pytest.approx(1.0)
    lift = lift_by_decile(Y, P)
    assert lift[0] == pytest.approx(1 / 0.3)
    assert lift[1] == 0.0 and len(lift) == 10


def test_ece_golden():
    # bins: 0.9 -> [0.9,1): y=1 gap .1 ; 0.8 -> gap .8 ; 0.7 -> gap .3 ; 0.3 -> .3 ;
    # [0.2,0.3): 0.25,0.2 -> mean .225 rate 0 -> gap .45 ; [0.1,0.2): .15,.1 -> |1-.25| = .75;
    # [0,0.1): .05,.01 -> .06
    expected = (0.1 + 0.8 + 0.3 + 0.3 + 0.45 + 0.75 + 0.06) / 10
    assert expected_calibration_error(Y, P) == pytest.approx(expected)


def test_perfectly_calibrated_has_small_ece():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    y = (rng.random(p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.005


def test_ranking_metrics_golden_auc():
    m = ranking_metrics(Y, P)
    # positives at ranks 1, 3, 7 of 10: pairs won = 7 + 6 + 3 = 16 of 21
    assert m["roc_auc"] == pytest.approx(16 / 21)
    assert m["brier"] == pytest.approx(np.mean((P - Y) ** 2))
    assert m["capture_top_10"] == pytest.approx(1 / 3)


def test_mql_and_capacity():
    m = mql_metrics(Y, P >= 0.5)
    assert m["mql_precision"] == pytest.approx(2 / 3)
    assert m["mql_recall"] == pytest.approx(2 / 3)
    c = capacity_view(Y, P, P >= 0.5, leads_per_week=100, capacity_per_week=30)
    assert c["conversions_per_week"] == pytest.approx(30.0)
    assert c["conversions_handed_per_week"] == pytest.approx(20.0)


def test_paired_bootstrap_sees_a_real_difference():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    good = y + rng.normal(scale=0.6, size=y.size)
    bad = y + rng.normal(scale=2.0, size=y.size)
    out = bootstrap_auc(y, good, bad, n_boot=200, seed=0)
    assert out["auc_diff_ci_low"] > 0
    assert out["auc_ci_low"] < ranking_metrics(y, 1 / (1 + np.exp(-good)))["roc_auc"]
    same = bootstrap_auc(y, good, good, n_boot=50)
    assert same["auc_diff"] == 0 and same["auc_diff_ci_low"] == 0


def test_compare_and_curves_shapes():
    out = compare_scorers(Y, {"model": P, "rules": P[::-1]}, {"model": P > 0.5}, "rules",
                          10, 3, n_boot=20)
    assert out["model"]["roc_auc"] > out["rules"]["roc_auc"]
    assert "auc_diff" in out["model"] and "auc_diff" not in out["rules"]
    c = curves(Y, {"model": P})
    assert c.gains["y"].iloc[-1] == pytest.approx(1.0)
    assert c.roc["y"].max() == pytest.approx(1.0)
    assert set(c.calibration.columns) == {"scorer", "x", "y", "n"}


def test_weighted_aucs_equal_roc_auc_score_on_each_resample_with_ties():
    from sklearn.metrics import roc_auc_score

    from pipeline.scorers.ranking import weighted_aucs

    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.3).astype(float)
    p = np.round(rng.random(300) * 0.6 + 0.3 * y, 1)  # few levels: many ties
    resamples = [rng.integers(0, 300, 300) for _ in range(25)]
    counts = np.stack([np.bincount(i, minlength=300) for i in resamples]).astype(float)
    expected = [roc_auc_score(y[i], p[i]) for i in resamples]
    np.testing.assert_allclose(weighted_aucs(y, p, counts), expected, atol=1e-12)
