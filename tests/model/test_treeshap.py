"""The fast TreeSHAP gives exactly LightGBM's pred_contrib, on random models and awkward rows."""

from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.scorers.treeshap import (
    K_ZERO_THRESHOLD,
    TreeEnsemble,
    TreeShapExplainer,
    UnsupportedModelError,
    explain_contributions,
)

ATOL = 1e-6


def assert_same_as_lightgbm(booster: lgb.Booster, X, **kwargs) -> np.ndarray:
    """Fast contributions equal pred_contrib on every row (and rows sum to the raw score)."""
    fast = TreeShapExplainer(booster, **kwargs).contributions(X)
    native = booster.predict(X, pred_contrib=True)
    assert fast.shape == native.shape
    bad = ~np.isclose(fast, native, atol=ATOL, rtol=0).all(axis=1)
    assert not bad.any(), (
        f"{bad.sum()} rows differ, first {np.flatnonzero(bad)[:5]}, "
        f"max diff {np.abs(fast - native).max():.3g}"
    )
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(fast.sum(axis=1), raw, atol=ATOL, rtol=0)
    return fast


def split_thresholds(booster: lgb.Booster) -> list[tuple[int, float]]:
    """(feature, threshold) of every numerical split, to probe values on the boundary."""
    found = []

    def walk(node):
        if "split_index" in node:
            if node["decision_type"] == "<=":
                found.append((int(node["split_feature"]), float(node["threshold"])))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return found


def awkward_rows(
    X: np.ndarray, cat_cols: list[int], booster: lgb.Booster, rng: np.random.Generator
) -> np.ndarray:
    """Rows LightGBM treats specially: NaN, zeros and near-zeros, infinities, split boundaries,
    unseen / negative / fractional / huge categories."""
    n, p = X.shape
    rows = [np.full(p, np.nan), np.zeros(p), np.full(p, -0.0), np.full(p, K_ZERO_THRESHOLD)]
    rows += [np.full(p, 1e-40), np.full(p, -1e-40), np.full(p, np.inf), np.full(p, -np.inf)]
    base = X[rng.integers(0, n, size=40)].copy()
    base[rng.random(base.shape) < 0.3] = np.nan
    base[rng.random(base.shape) < 0.15] = 0.0
    rows += list(base)
    for feature, threshold in split_thresholds(booster)[:30]:
        for value in (threshold, np.nextafter(threshold, np.inf), np.nextafter(threshold, -np.inf)):
            row = X[rng.integers(0, n)].copy()
            row[feature] = value
            rows.append(row)
    for col in cat_cols:
        for value in (np.nan, -1.0, -0.5, 0.0, 0.7, 31.0, 32.0, 64.0, 99.0, 1e6, 3e9, -3e9):
            row = X[rng.integers(0, n)].copy()
            row[col] = value
            rows.append(row)
    return np.vstack(rows)


@st.composite
def lightgbm_problems(draw):
    """A small random dataset and LightGBM parameters covering the decision types."""
    seed = draw(st.integers(0, 2**31 - 1))
    n_rows = draw(st.integers(30, 400))
    n_num = draw(st.integers(1, 5))
    n_cat = draw(st.integers(0, 2))
    nan_rate = draw(st.sampled_from([0.0, 0.05, 0.3]))
    zero_rate = draw(st.sampled_from([0.0, 0.2, 0.5]))
    params = {
        "objective": draw(st.sampled_from(["binary", "regression"])),
        "num_leaves": draw(st.integers(2, 63)),
        "max_depth": draw(st.sampled_from([-1, -1, 1, 2, 3, 5, 8])),
        "min_data_in_leaf": draw(st.integers(1, 10)),
        "learning_rate": draw(st.sampled_from([0.05, 0.3, 1.0])),
        "zero_as_missing": draw(st.booleans()),
        "use_missing": draw(st.booleans()),
        "max_cat_to_onehot": draw(st.sampled_from([1, 4, 32])),
        "min_data_per_group": 1,
        "cat_smooth": 1.0,
        "cat_l2": 1.0,
        "max_bin": draw(st.sampled_from([4, 15, 255])),
        "bagging_fraction": draw(st.sampled_from([1.0, 0.7])),
        "bagging_freq": 1,
        "verbosity": -1,
        "seed": seed,
        "num_threads": 1,
    }
    n_estimators = draw(st.integers(1, 50))
    return seed, n_rows, n_num, n_cat, nan_rate, zero_rate, params, n_estimators


def make_problem(seed, n_rows, n_num, n_cat, nan_rate, zero_rate):
    rng = np.random.default_rng(seed)
    X_num = rng.normal(size=(n_rows, n_num)) * rng.choice([1e-3, 1.0, 1e3])
    X_num[rng.random(X_num.shape) < zero_rate] = 0.0
    X_cat = rng.integers(0, rng.integers(2, 40), size=(n_rows, n_cat)).astype(float)
    X = np.hstack([X_cat, X_num])
    X[rng.random(X.shape) < nan_rate] = np.nan
    signal = np.nan_to_num(X).sum(axis=1) + np.sin(np.nan_to_num(X[:, -1]) * 3)
    if n_cat:
        signal += (X_cat[:, 0] % 3 == 1) * 2.0
    y = signal + rng.normal(size=n_rows)
    return X, y, list(range(n_cat)), rng


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lightgbm_problems())
def test_matches_pred_contrib_on_random_models(problem):
    seed, n_rows, n_num, n_cat, nan_rate, zero_rate, params, n_estimators = problem
    X, y, cat_cols, rng = make_problem(seed, n_rows, n_num, n_cat, nan_rate, zero_rate)
    if params["objective"] == "binary":
        y = (y > np.median(y)).astype(float)
    train = lgb.Dataset(X, y, categorical_feature=cat_cols or "auto", free_raw_data=False)
    booster = lgb.train(params, train, num_boost_round=n_estimators)
    X_test = np.vstack([X, awkward_rows(X, cat_cols, booster, rng)])
    assert_same_as_lightgbm(booster, X_test)


def test_deep_trees_with_repeated_features():
    # A chain-like 63-leaf tree on two features: depth far beyond the usual, so many Gauss
    # points, and the same feature split again and again on every path.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 2))
    y = np.sin(X[:, 0] * 4) + X[:, 1] ** 3
    params = {"num_leaves": 63, "min_data_in_leaf": 1, "verbosity": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=5)
    explainer = TreeShapExplainer(booster)
    assert explainer.ensemble.tree_m.max() >= 1
    assert_same_as_lightgbm(booster, np.vstack([X[:500], awkward_rows(X, [], booster, rng)]))


def test_single_leaf_trees_only_add_to_the_bias():
    X = np.random.default_rng(2).normal(size=(100, 3))
    booster = lgb.train(
        {"objective": "regression", "verbosity": -1, "min_data_in_leaf": 200},
        lgb.Dataset(X, np.full(100, 3.0)),
        num_boost_round=3,
    )
    fast = assert_same_as_lightgbm(booster, X)
    assert np.all(fast[:, :-1] == 0.0)


def test_pandas_categoricals_are_converted_like_lightgbm():
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(
        {
            "source": pd.Categorical(rng.choice(["ads", "web", "referral", "event"], n)),
            "visits": rng.poisson(3, n).astype(float),
            "stage": pd.Categorical(rng.choice(["a", "b", "c"], n), ordered=True),
            "score": rng.normal(size=n),
        }
    )
    df.loc[rng.random(n) < 0.1, "source"] = np.nan
    y = ((df["source"] == "referral") | (df["visits"] > 4)).astype(float)
    params = {"objective": "binary", "verbosity": -1, "min_data_per_group": 5, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(df, y), num_boost_round=20)

    # Unseen category, missing values, and a different category order than at training.
    new = df.head(50).copy()
    new["source"] = new["source"].cat.add_categories(["partner"])
    new.loc[new.index[:5], "source"] = "partner"
    new.loc[new.index[5:10], "source"] = np.nan
    new["source"] = new["source"].cat.reorder_categories(
        list(reversed(new["source"].cat.categories))
    )
    fast = assert_same_as_lightgbm(booster, new)
    assert fast.shape == (50, 5)
    # The numeric matrix LightGBM itself predicts on gives the same values.
    matrix = TreeShapExplainer(booster).to_matrix(new)
    np.testing.assert_array_equal(TreeShapExplainer(booster).contributions(matrix), fast)


def test_input_dtypes_and_layouts_match_lightgbm():
    rng = np.random.default_rng(4)
    X = rng.integers(-50, 50, size=(400, 4)) * 1000 + 1  # int64: LightGBM reads it as float32
    booster = lgb.train(
        {"verbosity": -1, "num_threads": 1}, lgb.Dataset(X.astype(float), X[:, 0] % 7)
    )
    assert_same_as_lightgbm(booster, X)
    assert_same_as_lightgbm(booster, X.astype(np.float32))
    assert_same_as_lightgbm(booster, np.asfortranarray(X.astype(float)))
    explainer = TreeShapExplainer(booster)
    assert explainer.contributions(X[:0]).shape == (0, 5)
    with pytest.raises(ValueError, match="3 columns but the model was trained on 4"):
        explainer.contributions(X[:, :3])
    with pytest.raises(ValueError, match="2-dimensional"):
        explainer.contributions(X[0])


def test_thread_count_does_not_change_the_values():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1000, 6))
    booster = lgb.train({"verbosity": -1, "num_threads": 1}, lgb.Dataset(X, X[:, 0] * X[:, 1]), 20)
    explainer = TreeShapExplainer(booster)
    one = explainer.contributions(X, n_jobs=1)
    np.testing.assert_array_equal(one, explainer.contributions(X, n_jobs=2))
    np.testing.assert_array_equal(one, TreeShapExplainer(booster, n_jobs=2).contributions(X))


def test_best_iteration_and_num_iteration_follow_predict():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(800, 5))
    y = (X[:, 0] + rng.normal(size=800) > 0).astype(float)
    train, valid = lgb.Dataset(X[:500], y[:500]), lgb.Dataset(X[500:], y[500:])
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "learning_rate": 0.3, "num_threads": 1},
        train,
        num_boost_round=200,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(3, verbose=False)],
        keep_training_booster=True,  # keeps the trees after the best iteration
    )
    assert 0 < booster.best_iteration < booster.current_iteration()
    assert_same_as_lightgbm(booster, X)  # predict's default: best iteration
    fast = TreeShapExplainer(booster, num_iteration=2).contributions(X)
    np.testing.assert_allclose(
        fast, booster.predict(X, pred_contrib=True, num_iteration=2), atol=ATOL, rtol=0
    )


def test_explain_contributions_uses_the_fast_path_and_caches_it(caplog):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4))
    booster = lgb.train({"verbosity": -1, "num_threads": 1}, lgb.Dataset(X, X[:, 0]), 10)
    with caplog.at_level(logging.WARNING, logger="pipeline.scorers.treeshap"):
        first = explain_contributions(booster, X, n_jobs=1)
        second = explain_contributions(booster, X)
    assert not caplog.records
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, booster.predict(X, pred_contrib=True), atol=ATOL, rtol=0)


def test_linear_trees_fall_back_to_pred_contrib_with_a_warning(caplog):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(500, 3))
    y = 2 * X[:, 0] + np.where(X[:, 1] > 0, X[:, 2], -X[:, 2])
    booster = lgb.train(
        {"linear_tree": True, "verbosity": -1, "num_threads": 1}, lgb.Dataset(X, y), 10
    )
    with pytest.raises(UnsupportedModelError, match="linear"):
        TreeShapExplainer(booster)
    # The fallback is LightGBM's own pred_contrib, whatever it does: LightGBM 4.x refuses
    # linear trees, so the caller gets LightGBM's error, after the warning that says why.
    try:
        native = booster.predict(X, pred_contrib=True)
    except lgb.basic.LightGBMError as exc:
        with (
            caplog.at_level(logging.WARNING, logger="pipeline.scorers.treeshap"),
            pytest.raises(lgb.basic.LightGBMError, match="linear trees"),
        ):
            explain_contributions(booster, X, n_jobs=1)
        assert str(exc)
    else:  # a LightGBM that explains linear trees: the fallback returns its values
        with caplog.at_level(logging.WARNING, logger="pipeline.scorers.treeshap"):
            np.testing.assert_array_equal(explain_contributions(booster, X, n_jobs=1), native)
    assert any("linear trees" in r.getMessage() for r in caplog.records)


def test_multiclass_falls_back_to_pred_contrib_with_a_warning(caplog):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_threads": 1},
        lgb.Dataset(X, y),
        5,
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.scorers.treeshap"):
        got = explain_contributions(booster, X)
    assert any("multiclass" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(got, booster.predict(X, pred_contrib=True))


def test_sparse_input_falls_back_to_pred_contrib(caplog):
    import scipy.sparse

    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 4)) * (rng.random((200, 4)) < 0.3)
    booster = lgb.train({"verbosity": -1, "num_threads": 1}, lgb.Dataset(X, X[:, 0]), 5)
    with pytest.raises(TypeError, match="sparse"):
        TreeShapExplainer(booster).contributions(scipy.sparse.csr_matrix(X))
    with caplog.at_level(logging.WARNING, logger="pipeline.scorers.treeshap"):
        got = explain_contributions(booster, scipy.sparse.csr_matrix(X))
    assert any("sparse input" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(
        got.toarray(), TreeShapExplainer(booster).contributions(X), atol=ATOL
    )


def test_unknown_decision_type_is_rejected():
    X = np.random.default_rng(10).normal(size=(200, 2))
    dump = lgb.train({"verbosity": -1}, lgb.Dataset(X, X[:, 0]), 2).dump_model()
    dump["tree_info"][0]["tree_structure"]["decision_type"] = "<"
    with pytest.raises(UnsupportedModelError, match="decision_type"):
        TreeEnsemble.from_dump(dump)


@pytest.mark.slow
def test_exact_on_the_demo_models_global_and_per_product_line(trained):
    _, result, _, _ = trained
    scorer = result.packages["model"].scorer.candidate_scorers()["lightgbm"]
    X = result.X.loc[result.training_set.part("test")]
    for model in [scorer.global_, *scorer.scorers_.values()]:
        assert_same_as_lightgbm(model.booster_, X)


@pytest.mark.slow
@pytest.mark.realdata
def test_exact_on_the_x_education_model(x_education_trained):
    _, result = x_education_trained
    booster = result.packages["model"].scorer.candidate_scorers()["lightgbm"].booster_
    assert booster.pandas_categorical, "X Education's model splits on native categoricals"
    assert_same_as_lightgbm(booster, result.X)
