"""Calibrators: monotone, continuous, chosen by cross-validated Brier on the valid rows only."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.scorers.calibration import P_MAX, P_MIN, Calibrator


def _data(n=6000, seed=1, slope=1.5, shift=-2.0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(slope * raw + shift)))
    return raw, (rng.random(n) < p).astype(int), p


def test_sigmoid_recovers_a_logistic_truth():
    raw, y, p = _data()
    cal = Calibrator(methods=["sigmoid"]).fit(raw, y)
    assert np.abs(cal(raw) - p).max() < 0.03


def test_isotonic_is_continuous_and_monotone():
    raw, y, _ = _data()
    cal = Calibrator(methods=["isotonic"]).fit(raw, y)
    grid = np.linspace(-4, 4, 20001)
    out = cal(grid)
    assert np.all(np.diff(out) >= 0)
    # piecewise linear: a tiny step in raw never jumps the probability
    assert np.abs(np.diff(out)).max() < 0.02
    assert out.min() >= P_MIN and out.max() <= P_MAX


def test_choice_uses_held_out_brier_not_in_sample_fit():
    raw, y, _ = _data(n=1500, seed=3)
    cal = Calibrator().fit(raw, y)
    assert set(cal.cv_brier_) == {"isotonic", "sigmoid"}
    assert cal.method_ == min(cal.cv_brier_, key=cal.cv_brier_.get)
    # judged on its own fitting rows isotonic looks better than it is held out
    in_sample = np.mean((Calibrator(methods=["isotonic"]).fit(raw, y)(raw) - y) ** 2)
    assert in_sample < cal.cv_brier_["isotonic"]


def test_step_shaped_truth_picks_isotonic():
    rng = np.random.default_rng(5)
    raw = rng.uniform(-3, 3, size=8000)
    p = np.where(raw > 0.5, 0.6, 0.05)
    y = (rng.random(8000) < p).astype(int)
    cal = Calibrator().fit(raw, y)
    assert cal.method_ == "isotonic"


def test_needs_both_classes():
    with pytest.raises(ValueError, match="both converted and not converted"):
        Calibrator().fit(np.arange(10.0), np.zeros(10))
