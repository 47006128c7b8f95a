"""Per-segment scorers: chosen on validation, routed by segment, additive on one base score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.spec import FeatureInfo, FeatureSpec
from pipeline.explain.grades import GradeCuts
from pipeline.explain.reasons import explain
from pipeline.scorers.lightgbm import LeadScorer
from pipeline.scorers.segmented import SegmentedScorer

SPEC = FeatureSpec([
    FeatureInfo("line", "Product line", "fit", "fit", "categorical", 0, "Product line: {value}"),
    FeatureInfo("webinars", "Webinars", "engagement", "engagement", "numeric", 0,
                "Attended {value:.0f} webinars"),
    FeatureInfo("pricing", "Pricing page interest", "engagement", "engagement", "numeric", 0,
                "Visited pricing {value:.0f}x"),
    FeatureInfo("noise", "Company size", "fit", "fit", "numeric", 0, "{value}"),
])


def _world(n: int, seed: int, shares=(0.48, 0.48, 0.04)) -> tuple[pd.DataFrame, pd.Series]:
    """Line 'a' buys on pricing visits, line 'b' on webinars (opposite signs), 'c' is tiny."""
    rng = np.random.default_rng(seed)
    line = rng.choice(["a", "b", "c"], size=n, p=shares)
    webinars = rng.poisson(1.0, n).astype(float)
    pricing = rng.poisson(1.0, n).astype(float)
    logit = np.where(line == "a", 1.6 * pricing - 0.8 * webinars,
                     np.where(line == "b", 1.6 * webinars - 0.8 * pricing, 0.3 * pricing)) - 3.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"line": pd.Categorical(line, categories=["a", "b", "c"]),
                      "webinars": webinars, "pricing": pricing, "noise": rng.normal(size=n)},
                     index=[f"L{seed}-{i}" for i in range(n)])
    return X, pd.Series(y, index=X.index)


def _template() -> LeadScorer:
    # Very shallow trees, so the global model cannot spend its few splits on every interaction.
    return LeadScorer(spec=SPEC, params={"num_leaves": 3, "learning_rate": 0.1,
                                         "min_child_samples": 20},
                      n_estimators=40, early_stopping_rounds=20, use_spec_monotone=False,
                      n_jobs=1, random_state=7)


@pytest.fixture(scope="module")
def fitted():
    X, y = _world(12_000, 1)
    Xv, yv = _world(4_000, 2)
    scorer = SegmentedScorer(_template(), "line", min_conversions=60).fit(X, y, Xv, yv)
    return scorer, X, y


def test_segments_with_enough_data_get_their_own_model_when_it_wins(fitted):
    scorer, _, y = fitted
    table = scorer.selection_.set_index("segment")
    assert set(scorer.scorers_) == {"a", "b"}
    for level in ("a", "b"):
        assert table.loc[level, "choice"] == "segment"
        assert table.loc[level, "valid_auc_segment"] > table.loc[level, "valid_auc_global"]


def test_small_segment_falls_back_to_the_global_model_with_the_reason(fitted):
    scorer, X, y = fitted
    row = scorer.selection_.set_index("segment").loc["c"]
    assert row["choice"] == "global"
    assert row["train_conversions"] < 60
    assert f"{row['train_conversions']} training conversions, fewer than the minimum 60" \
        in row["reason"]
    c_rows = X[X["line"] == "c"].head(50)
    np.testing.assert_allclose(scorer.predict_proba(c_rows),
                               scorer.global_.predict_proba(c_rows))


def test_each_lead_is_routed_to_its_segments_scorer(fitted):
    scorer, _, _ = fitted
    X, _ = _world(600, 3)
    p = scorer.predict_proba(X)[:, 1]
    for level, own in scorer.scorers_.items():
        rows = (X["line"] == level).to_numpy()
        np.testing.assert_allclose(p[rows], own.predict_proba(X[rows])[:, 1])
    assert set(scorer.scorer_names(X)) == {"a", "b", "global"}


def test_unseen_segment_values_go_to_the_global_model(fitted):
    scorer, _, _ = fitted
    X, _ = _world(100, 4)
    X["line"] = pd.Categorical(["z"] * len(X))
    np.testing.assert_allclose(scorer.predict_proba(X), scorer.global_.predict_proba(X))


def test_factor_points_add_up_on_one_base_score_across_segments(fitted):
    scorer, _, _ = fitted
    X, _ = _world(900, 5)
    points = scorer.factor_points(X)
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 100 * scorer.predict_proba(X)[:, 1], atol=1e-6)
    assert np.all(np.abs(total - scorer.score(X)) <= 0.5 + 1e-9)
    # The segment's own base score shows up as what the product line is worth.
    a = (X["line"] == "a").to_numpy()
    offset = scorer.scorers_["a"].base_score_ - scorer.global_.base_score_
    own = scorer.scorers_["a"].factor_points(X[a])
    np.testing.assert_allclose(points.loc[a, "Product line"],
                               own["Product line"] + offset, atol=1e-9)


def test_explanations_and_reasons_work_through_the_router(fitted):
    scorer, X, _ = fitted
    fit_pts = scorer.factor_points(X.head(2000))
    grade_cuts = GradeCuts.fit(fit_pts[["Product line", "Company size"]].sum(axis=1),
                           fit_pts[["Webinars", "Pricing page interest"]].sum(axis=1),
                           [0.8, 0.5, 0.2], [0.8, 0.5, 0.2])
    sample, _ = _world(200, 6)
    expl = explain(scorer, sample, grade_cuts, top=3)
    np.testing.assert_array_equal(expl.score, scorer.score(sample))
    b_lead = sample.index[(sample["line"] == "b") & (sample["webinars"] >= 3)][0]
    assert "webinars" in " ".join(expl.reasons.loc[b_lead].astype(str)).lower()


def test_segment_with_too_few_validation_conversions_keeps_the_global_model():
    X, y = _world(6_000, 8)
    Xv, yv = _world(1_500, 9)
    scorer = SegmentedScorer(_template(), "line", min_conversions=10,
                             min_valid_conversions=10_000).fit(X, y, Xv, yv)
    assert scorer.scorers_ == {}
    assert scorer.selection_["reason"].str.contains(
        "validation conversions, fewer than the minimum 10000").all()


def test_the_validation_figures_are_those_of_predicting_the_valid_leads_again(fitted):
    # The fit predicts the validation leads once and reuses those raw values for the calibrator
    # choice and both AUCs: they must be exactly what predicting those leads again gives.
    from sklearn.metrics import roc_auc_score

    scorer, _, _ = fitted
    Xv, yv = _world(4_000, 2)
    for row in scorer.selection_.itertuples():
        if row.segment not in scorer.scorers_:
            continue
        mask = (Xv["line"] == row.segment).to_numpy()
        own = scorer.scorers_[row.segment]
        assert row.valid_auc_global == roc_auc_score(
            yv[mask], scorer.global_.predict_proba(Xv[mask])[:, 1])
        assert row.valid_auc_segment == roc_auc_score(yv[mask], own.predict_proba(Xv[mask])[:, 1])
