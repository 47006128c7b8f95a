"""`recalibrated`: only the calibrator is refitted; raw values, shares and routes stay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.scorers.lightgbm import LeadScorer
from pipeline.scorers.segmented import SegmentedScorer
from pipeline.scorers.selection import SelectedScorer
from tests.model.test_segments import SPEC  # line, webinars, pricing, noise


def _world(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Line 'a' buys on pricing, 'b' on webinars; ``shift`` moves every lead's log-odds."""
    rng = np.random.default_rng(seed)
    line = rng.choice(["a", "b"], size=n)
    webinars = rng.poisson(1.0, n).astype(float)
    pricing = rng.poisson(1.0, n).astype(float)
    logit = np.where(line == "a", 1.4 * pricing, 1.4 * webinars) - 3.0 + shift
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"line": pd.Categorical(line, categories=["a", "b"]),
                      "webinars": webinars, "pricing": pricing, "noise": rng.normal(size=n)},
                     index=[f"L{seed}-{i}" for i in range(n)])
    return X, y


def _lgbm(methods=("isotonic", "sigmoid")) -> LeadScorer:
    return LeadScorer(spec=SPEC, params={"num_leaves": 4, "learning_rate": 0.1,
                                         "min_child_samples": 20},
                      n_estimators=40, early_stopping_rounds=20, use_spec_monotone=False,
                      calibration_methods=methods, n_jobs=1, random_state=7)


@pytest.fixture(scope="module")
def data():
    return {"train": _world(6_000, 1), "valid": _world(2_000, 2),
            "recent": _world(3_000, 3, shift=1.0), "later": _world(3_000, 4, shift=1.0)}


@pytest.fixture(scope="module")
def segmented(data):
    return SegmentedScorer(_lgbm(), "line", min_conversions=40, min_valid_conversions=20).fit(
        *data["train"], *data["valid"])


def _mean_error(scorer, data) -> float:
    X, y = data["later"]
    return abs(float(scorer.predict_proba(X)[:, 1].mean() - y.mean()))


def test_segmented_keeps_raw_values_and_shares_and_shares_one_new_calibrator(segmented, data):
    assert segmented.scorers_, "the fixture should route some leads to a segment model"
    X, y = data["recent"]
    before = segmented.predict_proba(X)[:, 1].copy()
    new = segmented.recalibrated(X, y)
    Xl, _ = data["later"]
    np.testing.assert_array_equal(new.decision_function(Xl), segmented.decision_function(Xl))
    pd.testing.assert_frame_equal(new.explain_points(Xl)[0], segmented.explain_points(Xl)[0])
    routes = [new.global_, *new.scorers_.values()]
    assert all(s.calibrator_ is new.calibrator_ for s in routes)
    assert new.calibrator_ is not segmented.calibrator_
    np.testing.assert_array_equal(segmented.predict_proba(X)[:, 1], before)  # untouched
    assert _mean_error(new, data) < 0.5 * _mean_error(segmented, data)
    points = new.factor_points(Xl)
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 100 * new.predict_proba(Xl)[:, 1], atol=1e-6)


def test_selected_refits_the_chosen_candidates_calibrator_only(data):
    scorer = SelectedScorer({"lightgbm": _lgbm()}, n_boot=50, min_valid_conversions=1,
                            random_state=3).fit(*data["train"], *data["valid"])
    X, y = data["recent"]
    new = scorer.recalibrated(X, y)
    assert new.calibrator_ is new.chosen_scorer_.calibrator_
    assert new.chosen_scorer_.calibrator_ is not scorer.chosen_scorer_.calibrator_
    assert scorer.calibrator_ is scorer.chosen_scorer_.calibrator_  # the original keeps its own
    assert _mean_error(new, data) < 0.5 * _mean_error(scorer, data)


def test_isotonic_may_tie_but_never_reverses_the_raw_order(data):
    scorer = _lgbm(methods=("isotonic",)).fit(*data["train"], *data["valid"])
    new = scorer.recalibrated(*data["recent"])
    assert new.calibrator_.method_ == "isotonic"
    X, _ = data["later"]
    raw = new.decision_function(X)
    p = new.predict_proba(X)[:, 1][np.argsort(raw, kind="mergesort")]
    assert np.all(np.diff(p) >= 0)
