"""The tuning search: its space proposes LightGBM parameters; its first trial is the untuned one."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd

from features.spec import FeatureInfo, FeatureSpec
from pipeline.data.schema import lightgbm_parameter_names
from pipeline.scorers.lightgbm import LeadScorer
from pipeline.stages.tune import tune_scorer

SPEC = FeatureSpec([
    FeatureInfo("visits", "Visits", "engagement", "engagement", "numeric", 0, "{value}"),
    FeatureInfo("size", "Company size", "fit", "fit", "numeric", 0, "{value}"),
])


def _rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"visits": rng.poisson(1.5, n).astype(float), "size": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.9 * X["visits"] - 2.5)))).astype(int)
    return X, y.to_numpy()


def test_every_proposal_is_a_lightgbm_parameter_within_flaml_shaped_ranges():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    known = lightgbm_parameter_names()
    for _ in range(50):
        params = LeadScorer.search_space(study.ask())
        assert set(params) <= known
        assert 4 <= params["num_leaves"] <= 256 and 2 <= params["min_child_samples"] <= 256
        assert 15 <= params["max_bin"] <= 1023 and 0.1 <= params["feature_fraction"] <= 1.0


def test_first_trial_is_the_config_defaults_with_the_search_start():
    X, y = _rows(1_500, 1)
    Xv, yv = _rows(600, 2)
    defaults = {"learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 40,
                "feature_fraction": 0.8, "bagging_fraction": 0.8, "lambda_l2": 1.0}
    scorer = LeadScorer(SPEC, params=defaults, n_estimators=60, early_stopping_rounds=10,
                        n_jobs=1)
    seen = []
    tune_scorer(scorer, X, y, Xv, yv, trials=2, timeout=None,
                trial_logger=lambda number, params, value, state: seen.append(params))
    first = seen[0]
    assert {k: first[k] for k in defaults} == defaults
    assert first["max_bin"] == LeadScorer.search_start["max_bin"] == 255
    assert first["lambda_l1"] == LeadScorer.search_start["lambda_l1"]
