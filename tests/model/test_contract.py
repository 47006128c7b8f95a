"""The scorer contract, for every kind in the kinds table (per-segment models included).

For every lead: ``base_raw_ + sum of factor shares == decision_function`` (the raw additive value
the explanations split), and the calibrated probability comes from that raw value. A scorer kind
added to the table, or a candidate added to the model choice, is checked here without writing a
test of its own: the chosen candidate ships today, another may ship after the next retrain.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.scorers import kinds
from pipeline.scorers.base import factor_sum
from pipeline.scorers.segmented import SegmentedScorer

ATOL = 1e-9
CANDIDATES = [f"{kinds.CHALLENGER}:{name}" for name in ("learned_points", "logistic", "lightgbm")]
SCORERS = [*kinds.names(), *CANDIDATES]


def _scorer(result, name: str):
    """A kind's scorer, or ``model:<candidate>``: one candidate of the model choice."""
    kind, _, candidate = name.partition(":")
    scorer = result.packages[kind].scorer
    return scorer.candidate_scorers()[candidate] if candidate else scorer


@pytest.mark.parametrize("kind", SCORERS)
def test_base_plus_factor_shares_is_the_raw_value_for_every_lead(trained, kind):
    _, result, _, _ = trained
    scorer = _scorer(result, kind)
    X = result.X  # every eligible lead: train, valid and test
    shares, base = scorer.contributions(X)
    assert base == pytest.approx(scorer.base_raw_, abs=ATOL)
    per_factor = factor_sum(shares, scorer.spec)
    gap = np.abs(base + per_factor.to_numpy().sum(axis=1) - scorer.decision_function(X))
    assert gap.max() < ATOL, f"{kind}: largest gap {gap.max():.3g}"


@pytest.mark.parametrize("kind", SCORERS)
def test_factor_points_add_up_to_the_unrounded_score(trained, kind):
    _, result, _, _ = trained
    scorer = _scorer(result, kind)
    X = result.X.loc[result.training_set.part("test")]
    points = scorer.factor_points(X)
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 100 * scorer.predict_proba(X)[:, 1], atol=1e-6)


def test_the_demo_lightgbm_candidate_is_per_segment_with_segment_models(trained):
    # The additivity above is only a per-segment result if segments really route leads.
    _, result, _, _ = trained
    scorer = _scorer(result, f"{kinds.CHALLENGER}:lightgbm")
    assert isinstance(scorer, SegmentedScorer)
    assert scorer.scorers_, "no segment kept its own model: the routed case is not exercised"


def test_every_kind_builds_from_a_prepared_training_set(trained):
    cfg, result, _, _ = trained
    rules = result.packages[kinds.REFERENCE].scorer.points_book()
    ctx = result.prepared.scorer_context(rules=rules)
    for kind in kinds.KINDS:
        scorer = kind.build(ctx)
        assert scorer.spec is ctx.spec
        assert not hasattr(scorer, "calibrator_"), f"{kind.name}: built fitted"
