"""LeadScoreClassifier keeps scikit-learn's conventions and delegates to the project's scorers.

Fitted on a slice of the small world's feature table as ``leadscore features`` writes it: a dozen
feature columns and 3,000 rows, with few small trees, so every fit takes a second or two.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibrationDisplay
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from tests.conftest import ROOT, demo_config

FEATURES = ["seniority", "department", "is_free_mail", "company_employees", "company_revenue",
            "days_since_last_activity", "days_since_first_activity", "page_pricing_30d",
            "demo_request_90d", "email_click_30d", "email_bounce_ever", "industry"]
#: few, small trees and one candidate: a fit in about a second
FAST = {"model": {"n_estimators": 20, "early_stopping_rounds": 10, "params": {"num_leaves": 7}},
        "selection": {"candidates": ["lightgbm"], "n_boot": 100, "min_valid_conversions": 0}}


@pytest.fixture(scope="module")
def feature_file(small_world, tmp_path_factory):
    from pipeline.data.io import load_dataset
    from pipeline.stages.feature_table import write_feature_table

    cfg = demo_config(small_world, split={"purge": 0})
    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    return write_feature_table(cfg, (leads, activities),
                               tmp_path_factory.mktemp("features") / "features.parquet")


@pytest.fixture(scope="module")
def table(feature_file):
    """(X, y): the dozen features plus as_of of 3,000 random rows, the spec in ``X.attrs``."""
    from pipeline import read_feature_table

    X, y = read_feature_table(feature_file)
    rows = np.sort(np.random.default_rng(0).choice(len(X), 3000, replace=False))
    return X[[*FEATURES, "as_of"]].iloc[rows], y.iloc[rows]


@pytest.fixture(scope="module")
def fitted(table):
    from pipeline import LeadScoreClassifier

    X, y = table
    return LeadScoreClassifier(config=FAST, time_column="as_of").fit(X, y)


def test_it_is_a_scikit_learn_classifier_whose_init_only_stores_params():
    from pipeline import LeadScoreClassifier

    clf = LeadScoreClassifier(config=FAST, validation_fraction=0.3, random_state=7)
    assert is_classifier(clf)
    params = clf.get_params()
    assert params == {"kind": "model", "config": FAST, "spec": None, "time_column": None,
                      "validation_fraction": 0.3, "random_state": 7}
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == params
    assert twin.set_params(validation_fraction=0.25).validation_fraction == 0.25
    # nothing is checked or derived before fit: a bad value fails there, not in __init__
    bad = LeadScoreClassifier(validation_fraction=2.0)
    assert bad.validation_fraction == 2.0


def test_import_pipeline_stays_cheap():
    code = ("import sys, pipeline; "
            "print(sorted(m for m in ('sklearn', 'pandas', 'mlflow', 'matplotlib', 'lightgbm') "
            "if m in sys.modules)); pipeline.LeadScoreClassifier")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_fitted_attributes_and_the_spec_of_the_file(fitted, table):
    X, _ = table
    assert list(fitted.classes_) == [0, 1]
    assert fitted.n_features_in_ == len(FEATURES) + 1
    assert list(fitted.feature_names_in_) == [*FEATURES, "as_of"]
    # the spec of the file, not one guessed from the names: the builder's own factor names
    stored = {f["name"]: f for f in json.loads(X.attrs["leadscore.spec"])["features"]}
    assert sorted(fitted.spec_.names) == sorted(FEATURES)
    assert [f.factor for f in fitted.spec_] == [stored[c]["factor"] for c in fitted.spec_.names]
    assert fitted.spec_["industry"].dtype == "categorical"


def test_validation_rows_are_the_newest_by_time(fitted, table):
    X, _ = table
    valid = fitted.validation_rows_
    assert len(valid) == int(np.ceil(0.2 * len(X)))
    as_of = X["as_of"].to_numpy()
    train = np.setdiff1d(np.arange(len(X)), valid)
    assert as_of[valid].min() >= as_of[train].max()


def test_without_time_the_validation_rows_are_stratified(table):
    from pipeline import LeadScoreClassifier

    X, y = table
    clf = LeadScoreClassifier(config=FAST, validation_fraction=0.25).fit(X[FEATURES], y)
    valid = clf.validation_rows_
    assert len(valid) == 750
    labels = y.to_numpy()
    assert abs(labels[valid].sum() - 0.25 * labels.sum()) <= 1


def test_eval_set_is_what_the_model_kind_is_validated_on(table):
    """fit(X, y, eval_set=...) gives the very scorer the kinds table fits on the same parts."""
    from pipeline import LeadScoreClassifier
    from pipeline.scorers import kinds
    from pipeline.scorers.rules import RulesBook
    from pipeline.stages.estimator import _config

    X, y = table
    X, y = X[FEATURES], y.to_numpy()
    clf = LeadScoreClassifier(config=FAST).fit(X[:2000], y[:2000], eval_set=(X[2000:], y[2000:]))
    assert len(clf.validation_rows_) == 0
    config = _config(FAST)
    ctx = kinds.ScorerContext(config=config, spec=clf.spec_, rules=RulesBook())
    X = X[clf.spec_.names]  # the scorer contract: the spec's columns in the spec's order
    scorer = kinds.get("model").build(ctx).fit(
        X[:2000].reset_index(drop=True), y[:2000], X[2000:].reset_index(drop=True), y[2000:])
    np.testing.assert_array_equal(clf.predict_proba(X[2000:]), scorer.predict_proba(X[2000:]))


def test_predictions_follow_the_scikit_learn_contract(fitted, table):
    X, y = table
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    predicted = fitted.predict(X)
    np.testing.assert_array_equal(predicted, (proba[:, 1] >= 0.5).astype(int))
    assert set(np.unique(predicted)) == {0, 1}
    # score is mean accuracy, one number; the 0-100 lead score has its own name
    assert fitted.score(X, y) == pytest.approx(accuracy_score(y, predicted))
    lead = fitted.lead_score(X)
    assert lead.dtype.kind == "i" and lead.min() >= 0 and lead.max() <= 100
    np.testing.assert_array_equal(lead, fitted.scale_.display(proba[:, 1]))
    # the calibrator is monotone: a higher raw value never gets a lower probability
    raw = fitted.decision_function(X)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(proba[order, 1]) >= -1e-12)
    assert roc_auc_score(y, proba[:, 1]) > 0.7


def test_column_order_and_index_do_not_matter(fitted, table):
    X, _ = table
    shuffled = X[X.columns[::-1]].set_axis(np.arange(len(X))[::-1] * 3)
    np.testing.assert_array_equal(fitted.predict_proba(shuffled), fitted.predict_proba(X))


def test_text_labels_and_a_plain_frame(table):
    from pipeline import LeadScoreClassifier

    X, y = table
    plain = X[FEATURES].copy()
    plain.attrs = {}  # no spec: tags from the feature catalogue by name
    plain["industry"] = plain["industry"].astype(str)
    labels = np.where(y.to_numpy() == 1, "won", "lost")
    clf = LeadScoreClassifier(config=FAST).fit(plain, labels)
    assert list(clf.classes_) == ["lost", "won"]
    assert set(clf.predict(plain)) <= {"lost", "won"}
    assert clf.spec_["industry"].dtype == "categorical"
    assert clf.spec_["page_pricing_30d"].monotone == 1  # the catalogue's business direction


def test_sample_weight_reaches_the_scorer(fitted, table):
    from pipeline import LeadScoreClassifier

    X, y = table
    weight = np.where(y.to_numpy() == 1, 3.0, 1.0)
    weighted = LeadScoreClassifier(config=FAST, time_column="as_of").fit(X, y, sample_weight=weight)
    assert not np.allclose(weighted.decision_function(X), fitted.decision_function(X))
    with pytest.raises(ValueError, match="sample_weight"):
        LeadScoreClassifier(config=FAST).fit(X[FEATURES], y, sample_weight=weight[:10])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"validation_fraction": 1.5, "time_column": "as_of"}, "validation_fraction 1.5"),
    ({"time_column": "created"}, "time_column 'created' is not a column of X"),
])
def test_bad_parameters_fail_at_fit(table, kwargs, message):
    from pipeline import LeadScoreClassifier

    X, y = table
    with pytest.raises(ValueError, match=message):
        LeadScoreClassifier(config=FAST, **kwargs).fit(X, y)


def test_one_class_or_a_missing_column_is_refused(fitted, table):
    from pipeline import LeadScoreClassifier

    X, y = table
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        LeadScoreClassifier(config=FAST).fit(X[FEATURES], np.zeros(len(X)))
    with pytest.raises(ValueError, match=r"X lacks feature columns: \['industry'\]"):
        fitted.predict_proba(X.drop(columns="industry"))


@pytest.mark.slow
def test_cross_val_score(table):
    from pipeline import LeadScoreClassifier

    X, y = table
    clf = LeadScoreClassifier(config=FAST, time_column="as_of")
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    aucs = cross_val_score(clf, X, y, cv=folds, scoring="roc_auc")
    assert aucs.shape == (3,) and np.all(aucs > 0.65)
    accuracy = cross_val_score(clf, X, y, cv=folds)  # the default: the estimator's own score
    assert np.all((accuracy > 0.85) & (accuracy <= 1.0))


def test_calibration_display(fitted, table):
    import matplotlib

    matplotlib.use("Agg")
    X, y = table
    display = CalibrationDisplay.from_estimator(fitted, X, y, n_bins=5, strategy="quantile")
    np.testing.assert_array_equal(display.y_prob, fitted.predict_proba(X)[:, 1])
    # calibrated on held-out rows: each fifth of the leads converts at about its mean probability
    assert np.max(np.abs(display.prob_true - display.prob_pred)) < 0.05


def test_permutation_importance(fitted, table):
    X, y = table
    rows = slice(0, 1500)
    result = permutation_importance(fitted, X.iloc[rows], y.iloc[rows], scoring="roc_auc",
                                    n_repeats=3, random_state=0)
    importance = pd.Series(result.importances_mean, index=X.columns)
    assert importance["as_of"] == 0.0  # the time column is no feature: permuting it is nothing
    assert importance.max() > 0.01
    assert importance.idxmax() in FEATURES


#: check_estimator's data sets are 20-odd rows: too few to hold out validation rows holding both
#: classes, which early stopping and the calibrator need; and a doubled row is not a weight of 2
#: once the held-out rows are drawn from the rows.
TOO_FEW_ROWS = "validation rows of a 20-row data set hold one class only"
EXPECTED_FAILURES = {
    **{name: TOO_FEW_ROWS for name in (
        "check_dont_overwrite_parameters", "check_f_contiguous_array_estimator",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_dict_unchanged", "check_fit2d_predict1d")},
    "check_sample_weight_equivalence_on_dense_data": "repeated rows change the held-out draw",
}


@pytest.mark.slow
def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    from pipeline import LeadScoreClassifier

    tiny = {"model": {"n_estimators": 10, "early_stopping_rounds": 5,
                      "params": {"num_leaves": 4, "min_child_samples": 2}},
            "selection": FAST["selection"], "calibration": {"cv_folds": 2}}
    results = check_estimator(LeadScoreClassifier(config=tiny),
                              expected_failed_checks=EXPECTED_FAILURES, on_fail=None)
    status = {r["check_name"]: r["status"] for r in results}
    failed = sorted(name for name, s in status.items() if s == "failed")
    assert failed == [], failed
    assert sum(s == "passed" for s in status.values()) >= 50
