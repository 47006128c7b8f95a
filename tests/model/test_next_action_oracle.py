"""Acceptance of the next best action on the demo world, where the generator knows the truth.

The model is trained as the oracle is defined: one row per lead at ``created_at + 14 days``
(``dataset.as_of: {days: 14}``) and the LightGBM candidate, whose trees can learn that each
product line answers to different actions. The leads judged are the ones training never saw
(neither its train nor its validation split) with activity before their as_of; for each, the
model's predicted probability gain of every configured action (:mod:`pipeline.explain.whatif`)
is compared with the true gain of the same events (:mod:`pipeline.synth.oracle`).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import demo_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judged(demo_world):
    from pipeline.data.io import load_dataset, read_truth
    from pipeline.explain.whatif import what_if
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers
    from pipeline.synth.oracle import true_action_gains

    cfg = demo_config(demo_world, split={"purge": 0},
                      dataset={"as_of": {"rule": "days_after_created", "days": 14}},
                      selection={"candidates": ["lightgbm"]})
    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    result = train_scorers(cfg, leads, activities, load_rules(cfg.rules),
                           truth=read_truth(demo_world / "truth.parquet"), n_boot=0)
    ts = result.training_set
    seen = set(ts.lead_of[ts.split.isin(["train", "valid"])].astype(str))
    as_of = pd.to_datetime(leads["created_at"]) + pd.Timedelta(days=14)
    keep = ~leads["lead_id"].astype(str).isin(seen) & (as_of <= pd.Timestamp(cfg.dataset.snapshot))
    pool = leads[keep.to_numpy()]
    when = pd.Series(as_of[keep].to_numpy(), index=pd.Index(pool["lead_id"].astype(str)))
    package = result.packages["model"]
    actions = cfg.actions.catalogue()
    X = package.features(pool, activities, when)
    active = X["activity_total"].to_numpy() > 0
    model = what_if(package, pool, activities, when, actions, X=X).probability_gain
    truth = true_action_gains(actions, 40_000, seed=42).loc[X.index, list(actions)]
    return model[active], truth[active], pool.set_index("lead_id").loc[X.index[active]]


def test_top1_agrees_with_the_oracle_and_gains_correlate(judged):
    from pipeline.evaluation.actions import action_agreement

    model, truth, pool = judged
    figures = action_agreement(model.to_numpy(), truth.to_numpy(), n_boot=200, seed=0)
    hit = model.to_numpy().argmax(1) == truth.to_numpy().argmax(1)
    by_line = pd.Series(hit, index=pool.index).groupby(pool["product_line"].to_numpy()).mean()
    print(f"\nnext best action vs the oracle on {figures['leads']:,} held-out leads with "
          f"activity: top-1 agreement {figures['top1']:.1%} [{figures['top1_low']:.1%}, "
          f"{figures['top1_high']:.1%}], Spearman {figures['spearman']:.3f} "
          f"[{figures['spearman_low']:.3f}, {figures['spearman_high']:.3f}], true near-ties "
          f"{figures['tie_share']:.1%}; by product line "
          + ", ".join(f"{k} {v:.1%}" for k, v in by_line.items()))
    assert figures["spearman_low"] > 0
    assert figures["top1"] >= 0.70


def test_action_gains_of_positive_events_are_almost_never_negative(judged):
    """Monotone constraints fix the sign of every count's effect; what is left (activity per
    active day, the days since the first activity) may move either way, but rarely does."""
    model, _, _ = judged
    assert (model.to_numpy() < -0.005).mean() < 0.01
