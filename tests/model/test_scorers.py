"""Behaviour of both scorers: additivity, monotonicity, determinism, honest calibration."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import shap

from pipeline.scorers.base import INTERACTION
from pipeline.scorers.calibration import Calibrator
from pipeline.scorers.rules import RulesBook, RuleScorer
from pipeline.stages.train import train_scorers

pytestmark = pytest.mark.slow


def _test_rows(result):
    return result.X.loc[result.training_set.part("test")]


@pytest.mark.parametrize("kind", ["model", "rules"])
def test_factor_points_add_up_for_every_test_lead(trained, kind):
    _, result, _, _ = trained
    X = _test_rows(result)
    scorer = result.packages[kind].scorer
    points = scorer.factor_points(X)
    p = scorer.predict_proba(X)[:, 1]
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 100 * p, atol=1e-6)
    assert np.all(np.abs(total - scorer.score(X)) <= 0.5 + 1e-9)
    assert list(points.columns) == [*scorer.spec.factors, INTERACTION]


def _lightgbm_scorers(scorer):
    """The LightGBM models inside a scorer: itself, or the global and per-segment ones (the
    model kind holds them as its ``lightgbm`` candidate, whichever candidate it ships)."""
    scorer = scorer.candidate_scorers().get("lightgbm", scorer)
    if hasattr(scorer, "global_"):
        return [scorer.global_, *scorer.scorers_.values()]
    return [scorer]


def test_treeshap_equals_shap_tree_explainer(trained):
    _, result, _, _ = trained
    X = _test_rows(result).head(300)
    models = _lightgbm_scorers(result.packages["model"].scorer)
    assert len(models) >= 2, "the demo config routes product lines to refined models"
    for scorer in models:
        ours, base = scorer.contributions(X)
        theirs = shap.TreeExplainer(scorer.booster_).shap_values(X)
        theirs = theirs[1] if isinstance(theirs, list) else theirs
        np.testing.assert_allclose(ours.to_numpy(), theirs, atol=1e-9)
        np.testing.assert_allclose(base + ours.sum(axis=1), scorer.decision_function(X),
                                   atol=1e-9)


@pytest.mark.parametrize(("feature", "direction"),
                         [("page_pricing_30d", 1), ("demo_request_30d", 1),
                          ("email_bounce_30d", -1), ("page_careers_90d", -1)])
def test_monotone_features_behave_monotonically(trained, feature, direction):
    _, result, _, _ = trained
    scorer = result.packages["model"].scorer
    if feature not in scorer.spec.names:
        pytest.skip(f"{feature} not in this world's features")
    assert scorer.spec[feature].monotone == direction
    X = _test_rows(result).head(200)
    previous = None
    for value in range(0, 8):
        raw = scorer.decision_function(X.assign(**{feature: float(value)}))
        if previous is not None:
            assert np.all(direction * (raw - previous) >= -1e-12)
        previous = raw


def test_same_seed_same_model_and_scores(trained):
    cfg, result, leads, activities = trained
    from pipeline.scorers.rules import load_rules

    again = train_scorers(cfg, leads, activities, load_rules(cfg.rules))
    a, b = result.packages["model"].scorer, again.packages["model"].scorer
    pairs = list(zip(_lightgbm_scorers(a), _lightgbm_scorers(b), strict=True))
    for one, other in pairs:
        assert one.booster_.model_to_string() == other.booster_.model_to_string()
    X = _test_rows(result)
    np.testing.assert_array_equal(a.score(X), b.score(X))


def test_permuting_rows_or_renaming_ids_changes_nothing(trained):
    _, result, _, _ = trained
    scorer = result.packages["model"].scorer
    X = _test_rows(result).head(500)
    base = pd.Series(scorer.score(X), index=X.index)
    shuffled = X.sample(frac=1, random_state=3)
    assert pd.Series(scorer.score(shuffled), index=shuffled.index).loc[X.index].equals(base)
    renamed = X.set_axis([f"new-{i}" for i in range(len(X))])
    np.testing.assert_array_equal(scorer.score(renamed), base.to_numpy())


def _every_scorer(result):
    """Each package's scorer and, inside a selection, every candidate it fitted."""
    for kind, package in result.packages.items():
        yield kind, package.scorer
        for name, candidate in package.scorer.candidate_scorers().items():
            yield f"{kind}/{name}", candidate


def test_a_leads_log_odds_do_not_depend_on_the_leads_batched_beside_it(trained):
    # Bit-exact, not allclose: the Spark engine scores partitions of any composition and must
    # agree with the local engine to the last digit.
    _, result, _, _ = trained
    X = _test_rows(result).head(700)
    order = np.random.default_rng(11).permutation(len(X))
    for name, scorer in _every_scorer(result):
        whole = scorer.decision_function(X)
        shuffled = scorer.decision_function(X.iloc[order])
        alone = np.concatenate([scorer.decision_function(X.iloc[i:i + 1]) for i in range(25)])
        np.testing.assert_array_equal(shuffled, whole[order], err_msg=name)
        np.testing.assert_array_equal(alone, whole[:25], err_msg=name)


def test_calibrator_only_sees_validation_rows(trained, monkeypatch):
    cfg, result, leads, activities = trained
    from pipeline.scorers.rules import load_rules

    seen: list[int] = []
    original = Calibrator.fit

    def spy(self, raw, y):
        # the model choice's refits on folds inside train + valid are judged on those folds
        # only and never shipped; every calibrator that ships is counted
        if not any(frame.function == "_refit_folds" for frame in inspect.stack()):
            seen.append(len(raw))
        return original(self, raw, y)

    monkeypatch.setattr(Calibrator, "fit", spy)
    again = train_scorers(cfg, leads, activities, load_rules(cfg.rules))
    n_valid = len(again.training_set.part("valid"))
    model = again.packages["model"].scorer
    # rules, learned points and every candidate of the model: all the validation rows...
    assert seen.count(n_valid) == 2 + len(model.candidate_scorers())
    # ...and a refined segment model its segment's validation rows, nothing else
    segments = model.candidate_scorers()["lightgbm"].selection_
    assert set(seen) <= {n_valid, *segments["valid_leads"].astype(int)}


def test_small_world_model_is_near_the_oracle_and_calibrated(trained):
    # 12,000 leads only: the full acceptance figures are checked on the demo world (tests/e2e)
    _, result, _, _ = trained
    m = result.metrics
    assert m["model"]["auc_ratio_to_oracle"] >= 0.95
    assert m["model"]["ece"] <= 0.03


def test_rule_points_golden():
    from features.spec import FeatureInfo, FeatureSpec

    spec = FeatureSpec([
        FeatureInfo("seniority", "Seniority", "fit", "fit", "categorical"),
        FeatureInfo("is_free_mail", "Free-mail", "negative", "fit", "boolean"),
        FeatureInfo("page_pricing_7d", "Pricing", "engagement", "engagement", "numeric"),
        FeatureInfo("page_pricing_30d", "Pricing", "engagement", "engagement", "numeric"),
        FeatureInfo("page_pricing_90d", "Pricing", "engagement", "engagement", "numeric"),
        FeatureInfo("visits", "Visits", "engagement", "engagement", "numeric"),
    ])
    book = RulesBook(
        attributes={"seniority": {"VP": 20, "student": -25}},
        flags={"is_free_mail": -10},
        thresholds={"visits": [{"min": 5, "points": 5}, {"min": 10, "points": 5}]},
        activities={"page_pricing": {"points": 10, "cap": 25}},
        decay={"half_life_days": None},
    )
    X = pd.DataFrame({
        "seniority": pd.Categorical(["vp", "student", "manager"]),
        "is_free_mail": [0.0, 1.0, 0.0],
        "page_pricing_7d": [1.0, 0.0, 3.0],
        "page_pricing_30d": [2.0, 0.0, 3.0],
        "page_pricing_90d": [2.0, 1.0, 4.0],
        "visits": [12.0, 5.0, 0.0],
    })
    scorer = RuleScorer(spec, book, windows=(7, 30, 90))
    assert scorer.decision_function(X).tolist() == [20 + 20 + 10, -25 - 10 + 10 + 5, 25]
    shares, base = scorer.contributions(X)
    assert base == 0
    # the capped 40 -> 25 points are split over the windows in proportion
    assert shares.loc[2, ["page_pricing_7d", "page_pricing_30d", "page_pricing_90d"]].sum() == 25
    weighted = RulesBook(activities={"page_pricing": {"points": 10}},
                         decay={"half_life_days": 30})
    w = weighted.window_weights([7, 30, 90])
    assert w[7] == pytest.approx(0.5 ** (3.5 / 30))
    assert RuleScorer(spec, weighted).decision_function(X)[0] == pytest.approx(
        10 * w[7] + 10 * w[30])


def test_rules_naming_unknown_features_fail_clearly():
    from features.spec import FeatureInfo, FeatureSpec
    from pipeline.data.errors import ConfigError

    spec = FeatureSpec([FeatureInfo("seniority", "Seniority", "fit", "fit", "categorical")])
    scorer = RuleScorer(spec, RulesBook(flags={"is_studnet": -5}), source="rules.yaml")
    X = pd.DataFrame({"seniority": pd.Categorical(["vp", "cto"] * 20)})
    y = np.array([0, 1] * 20)
    with pytest.raises(ConfigError, match="rules.yaml: flags.is_studnet: no such feature"):
        scorer.fit(X, y, X, y)
