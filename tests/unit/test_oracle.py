"""The synthetic oracle of the true action gains (pipeline/synth/oracle.py)."""

from __future__ import annotations

import numpy as np

from pipeline.data.actions_schema import ActionsConfig, ActionSpec


def test_oracle_reproduces_the_world_truth_and_reads_only_true_signals():
    from pipeline.synth.oracle import signal_of, true_action_gains
    from pipeline.synth.world import make_world

    world = make_world(1_500, seed=3)
    actions = {**ActionsConfig().catalogue(),
               "register": ActionSpec(label="Register", activity_type="webinar_registered"),
               "blog": ActionSpec(label="Blog", activity_type="web_visit", detail="blog")}
    gains = true_action_gains(actions, 1_500, seed=3)
    truth = world.truth.set_index("lead_id")["p_convert"]
    np.testing.assert_array_equal(gains["p_convert"].reindex(truth.index).to_numpy(),
                                  truth.to_numpy())
    assert (gains["register"] == 0).all() and (gains["blog"] == 0).all()
    for name in ("demo_request", "pricing_page", "webinar", "sales_call", "content_download"):
        assert (gains[name] > 0).all(), name
    # attending a webinar is worth more to an academy buyer than a demo request (the weights)
    line = world.leads.set_index("lead_id").loc[gains.index, "product_line"]
    academy = gains[line.to_numpy() == "academy"]
    assert (academy["webinar"] > academy["demo_request"]).mean() > 0.9
    assert signal_of("web_visit", "/Pricing/") == signal_of("web_visit", "pricing") >= 0
    assert signal_of("chat_message", None) == -1


def test_the_oracle_follows_an_older_odds_age():
    from pipeline.synth.oracle import true_action_gains
    from pipeline.synth.world import make_world

    world = make_world(1_000, seed=3, odds_age_days=45)
    gains = true_action_gains(ActionsConfig().catalogue(), 1_000, seed=3, odds_age_days=45)
    truth = world.truth.set_index("lead_id")["p_convert"]
    np.testing.assert_array_equal(gains["p_convert"].reindex(truth.index).to_numpy(),
                                  truth.to_numpy())
    at_14 = true_action_gains(ActionsConfig().catalogue(), 1_000, seed=3)
    assert not np.allclose(at_14["p_convert"].to_numpy(), gains["p_convert"].to_numpy())
    assert (gains["demo_request"] > 0).all()
