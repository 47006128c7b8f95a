"""Score scales, learned bands and the one MQL rule, on hand-built probabilities.

Golden numbers for the percentile and the scorecard scale, the auto scale at low and high base
rates, cut-offs that follow the data, n/a where the MQL line is undefined, and the config's
refusal of the settings this replaced.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.data.schema import PointsConfig, ScoringConfig
from pipeline.evaluation.metrics import mql_metrics
from pipeline.explain.thresholds import (
    learn_bands,
    learn_mql,
    precision_cut,
    share_cut,
)
from pipeline.scorers.scaling import ScoreScale, odds_points, percentile_among

ODDS = {"points": 500.0, "odds": 1.0, "pdo": 20.0}


def _beta(a: float, b: float, n: int = 20_000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).beta(a, b, n)


def test_percentile_is_the_mid_rank_among_the_reference():
    reference = np.array([0.1, 0.2, 0.2, 0.3])
    got = percentile_among(reference, np.array([0.05, 0.1, 0.2, 0.25, 0.9]))
    assert got == pytest.approx([0.0, 12.5, 50.0, 75.0, 100.0])


def test_odds_scale_golden_numbers():
    # 500 at even odds, 20 points per doubling: odds 1:3 (p = 25 %) is two halvings down
    assert odds_points(np.array([0.5, 0.25, 0.8]), 500, 1.0, 20) == pytest.approx(
        [500.0, 500 - 20 * np.log2(3), 540.0])


def test_auto_scale_chooses_percentile_at_a_two_percent_base_rate():
    p = _beta(1.0, 49.0)  # mean 2 %
    scale = ScoreScale.fit("auto", p, ODDS)
    assert scale.unit == "percentile"
    assert "chose percentile" in scale.chosen and "scoring.scale: probability" in scale.chosen
    shown = scale.display(p)
    low, high = np.quantile(shown, [0.1, 0.9])
    assert np.unique(shown[(shown >= low) & (shown <= high)]).size >= 10


def test_auto_scale_keeps_probability_at_a_high_base_rate():
    p = _beta(4.7, 5.3)  # mean 47 %
    scale = ScoreScale.fit("auto", p, ODDS)
    assert scale.unit == "probability"
    assert (scale.display(np.array([0.123])) == [12]).all()
    assert "probability in percent" in scale.explain()


@pytest.mark.parametrize("unit", ["probability", "percentile", "odds"])
def test_a_chosen_scale_is_honoured_and_explained(unit):
    p = _beta(1.0, 49.0)
    scale = ScoreScale.fit(unit, p, ODDS)
    assert scale.unit == unit and f"scoring.scale: {unit}" in scale.explain()
    shown = scale.display(np.sort(p))
    assert (np.diff(shown) >= 0).all()  # every scale keeps the order of the probabilities


@pytest.mark.parametrize("a,b", [(1.0, 49.0), (4.7, 5.3)])
def test_learned_bands_take_their_shares_of_the_training_leads(a, b):
    p = _beta(a, b)
    cuts = learn_bands(ScoringConfig().bands, p)
    scale = ScoreScale.fit("auto", p, ODDS)
    bands = cuts.band(p, scale.display(p))
    shares = {name: float(np.mean(bands == name)) for name in ("hot", "warm", "cold")}
    assert shares == pytest.approx({"hot": 0.1, "warm": 0.2, "cold": 0.7}, abs=0.005)
    assert "hot >= " in cuts.describe(scale) and "learned on validation leads" in cuts.describe(
        scale)


def test_fixed_band_scores_are_honoured_in_displayed_units():
    config = ScoringConfig(bands={"scores": {"hot": 50, "warm": 20, "cold": 0}})
    cuts = learn_bands(config.bands, _beta(1.0, 49.0))
    shown = np.array([0, 19, 20, 49, 50, 99])
    assert list(cuts.band(shown / 100, shown)) == ["cold", "cold", "warm", "warm", "hot", "hot"]
    assert cuts.describe(ScoreScale("probability", shown / 100, ODDS)).endswith("(fixed cut-offs)")


def test_share_cut_on_tied_points_takes_the_nearest_reachable_share():
    # a points table: 50 % of leads at the lowest value, then blocks of 25 %
    p = np.repeat([0.01, 0.02, 0.05], [50, 25, 25])
    assert share_cut(p, 0.2) == 0.05  # 25 % is nearer 20 % than 50 %
    assert share_cut(p, 0.45) == 0.02  # 50 %


def test_capacity_per_week_uses_the_training_arrival_rate():
    p = _beta(1.0, 49.0)
    rule = learn_mql(ScoringConfig(mql={"per_week": 25}).mql, p, p, np.zeros(len(p)), 250.0)
    assert rule.share == pytest.approx(0.1)
    assert rule.flags(p).mean() == pytest.approx(0.1, abs=0.002)
    assert "25 leads a week" in rule.describe()


def test_precision_target_is_learned_on_validation_labels():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 1, 0, 1, 0, 0])
    assert precision_cut(p, y, 0.75) == 0.6  # top 4: 3 of 4 convert
    assert precision_cut(p, y, 1.0) == 0.8
    rule = learn_mql(ScoringConfig(mql={"precision": 0.75}).mql, p, p, y, 1.0)
    assert rule.learned_on == "validation" and rule.flags(p).sum() == 4


@pytest.mark.parametrize("y", [np.array([0, 0, 0, 0]), np.array([0, 1, 0, 0])])
def test_an_unreachable_precision_target_is_na_never_zero(y):
    p = np.array([0.4, 0.3, 0.2, 0.1])
    rule = learn_mql(ScoringConfig(mql={"precision": 0.99}).mql, p, p, y, 1.0)
    assert rule.threshold is None and "n/a" in rule.describe()
    figures = mql_metrics(np.array([1, 0, 0, 1]), rule.flags(p))
    assert figures["mql_share"] == 0.0
    assert np.isnan(figures["mql_precision"])


def test_recall_without_conversions_is_na():
    assert np.isnan(mql_metrics(np.zeros(4), np.array([1, 0, 0, 0]))["mql_recall"])


@pytest.mark.parametrize("section,tree,new", [
    (ScoringConfig, {"mql_score": 30}, "scoring.mql"),
    (PointsConfig, {"mql_capacity": 0.2}, "scoring.mql.share"),
    (PointsConfig, {"mql_precision": 0.3}, "scoring.mql.precision"),
    (ScoringConfig, {"bands": {"hot": 50, "warm": 20, "cold": 0}}, "scoring.bands.scores"),
])
def test_retired_settings_are_refused_with_the_new_field(section, tree, new):
    with pytest.raises(ValidationError, match=new.replace(".", r"\.")):
        section(**tree)


@pytest.mark.parametrize("mql", [{"share": 0.1, "precision": 0.3},
                                 {"per_week": 10, "precision": 0.3}])
def test_one_mql_rule_at_a_time(mql):
    with pytest.raises(ValidationError, match="set one of share, per_week, precision"):
        ScoringConfig(mql=mql)


def test_another_mql_rule_replaces_the_default_share():
    assert ScoringConfig().mql.rule() == ("share", 0.2)
    assert ScoringConfig(mql={"precision": 0.3}).mql.rule() == ("precision", 0.3)


def test_band_shares_must_add_up():
    with pytest.raises(ValidationError, match="add up to 1"):
        ScoringConfig(bands={"shares": {"hot": 0.1, "cold": 0.5}})


def test_a_package_of_the_previous_format_asks_for_a_retrain(tmp_path):
    import pickle

    from pipeline.data.errors import ModelError
    from pipeline.explain.package import PACKAGE_FORMAT, ScoringPackage, load_package

    old = object.__new__(ScoringPackage)
    old.__dict__.update({"dataset": "demo", "score_bands": {"hot": 50, "cold": 0}, "format": 3})
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(old))
    with pytest.raises(ModelError, match=f"model format 3, this LeadScore reads {PACKAGE_FORMAT}"
                       ".*retrain with `leadscore train`"):
        load_package(path)
