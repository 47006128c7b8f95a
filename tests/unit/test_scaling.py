"""Golden numbers for score scaling and the factor-point additivity rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.scorers.calibration import Calibrator
from pipeline.scorers.scaling import score_from_proba, shares_to_points


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype="float64")))


def test_score_rounds_half_up_and_clips():
    p = np.array([0.0, 0.004, 0.005, 0.125, 0.135, 0.994, 0.995, 1.0, 1.2, -0.1])
    assert score_from_proba(p).tolist() == [0, 0, 1, 13, 14, 99, 100, 100, 100, 0]


def test_golden_points_logistic():
    # base log-odds -2 (p=0.1192), shares +1.5 and -0.5: S=1, g(-1)=0.2689
    points, base_score = shares_to_points(np.array([[1.5, -0.5]]), -2.0, sigmoid)
    assert base_score == pytest.approx(11.920292, abs=1e-6)
    moved = 100 * (sigmoid(-1.0) - sigmoid(-2.0))  # 14.96556
    assert points[0] == pytest.approx([1.5 * moved, -0.5 * moved], abs=1e-9)
    assert base_score + points.sum() == pytest.approx(100 * sigmoid(-1.0), abs=1e-12)


def test_points_keep_sign_and_zero_sum_uses_slope():
    points, base_score = shares_to_points(np.array([[0.3, -0.3], [0.0, 0.0]]), 0.0, sigmoid)
    # S = 0: slope of 100*sigmoid at 0 is 25 points per unit of log-odds
    assert points[0] == pytest.approx([7.5, -7.5], abs=1e-6)
    assert points[1].tolist() == [0.0, 0.0]
    assert base_score == pytest.approx(50.0)


@settings(max_examples=200, deadline=None)
@given(
    arrays("float64", st.tuples(st.integers(1, 20), st.integers(1, 8)),
           elements=st.floats(-4, 4, allow_nan=False)),
    st.floats(-4, 2),
)
def test_additivity_property(shares, base):
    points, base_score = shares_to_points(shares, base, sigmoid)
    exact = 100 * sigmoid(base + shares.sum(axis=1))
    np.testing.assert_allclose(base_score + points.sum(axis=1), exact, atol=1e-9)
    score = score_from_proba(exact / 100)
    assert np.all(np.abs(base_score + points.sum(axis=1) - score) <= 0.5 + 1e-9)
    # shares of one sign never flip sign
    assert np.all(points * shares >= -1e-12)


def test_additivity_with_isotonic_calibrator():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=4000)
    y = (rng.random(4000) < sigmoid(2 * raw - 1)).astype(int)
    cal = Calibrator(methods=["isotonic"]).fit(raw, y)
    shares = rng.normal(scale=0.7, size=(500, 5))
    points, base_score = shares_to_points(shares, -0.2, cal)
    exact = 100 * cal(-0.2 + shares.sum(axis=1))
    np.testing.assert_allclose(base_score + points.sum(axis=1), exact, atol=1e-9)
