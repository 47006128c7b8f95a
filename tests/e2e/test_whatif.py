"""What-if and next best action (issue 22): the engine, its point-in-time stamp, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import ROOT, write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()
AS_OF = pd.Timestamp("2026-06-30T23:59:59")
LEADS = 400


@pytest.fixture(scope="module")
def setup(trained, small_world, tmp_path_factory):
    """The trained model's package on disk, a demo config, and the world's newest leads."""
    cfg, result, _, _ = trained
    folder = tmp_path_factory.mktemp("whatif")
    package = result.packages["model"]
    model = folder / "model.pkl"
    package.save(model)
    config = write_demo_config(folder, small_world)
    leads = pd.read_parquet(small_world / "leads.parquet")
    leads = leads.sort_values("created_at", kind="mergesort").tail(LEADS).reset_index(drop=True)
    events = pd.read_parquet(small_world / "activities.parquet")
    events = events[events["lead_id"].isin(leads["lead_id"])].reset_index(drop=True)
    (folder / "in").mkdir()
    leads.to_parquet(folder / "in" / "leads.parquet", index=False)
    events.to_parquet(folder / "in" / "activities.parquet", index=False)
    return cfg, folder, config, model, package, leads, events


def test_the_appended_event_is_seen_one_second_before_as_of(setup):
    from pipeline.explain.whatif import action_events

    cfg, _, _, _, package, leads, events = setup
    actions = cfg.actions.catalogue()
    ids = pd.Index(leads["lead_id"].astype(str))
    extra = action_events(ids, AS_OF, actions["demo_request"], list(events.columns))
    assert (extra["occurred_at"] == AS_OF - pd.Timedelta(seconds=1)).all()
    before = package.features(leads, events, AS_OF)
    after = package.features(leads, pd.concat([events, extra], ignore_index=True), AS_OF)
    for window in cfg.features.windows_days:
        np.testing.assert_array_equal(after[f"demo_request_{window}d"],
                                      before[f"demo_request_{window}d"] + 1)
    assert (after["days_since_last_activity"] < 1e-4).all()
    # the same event at exactly as_of is not before it: the features would not move
    at = extra.assign(occurred_at=AS_OF)
    same = package.features(leads, pd.concat([events, at], ignore_index=True), AS_OF)
    pd.testing.assert_frame_equal(same, before)
    webinar = action_events(ids, AS_OF, actions["webinar"], list(events.columns))
    assert list(webinar["activity_type"].unique()) == ["webinar_attended", "webinar_registered"]
    assert (webinar.loc[webinar["activity_type"] == "webinar_registered", "occurred_at"]
            == AS_OF - pd.Timedelta(seconds=2)).all()


def test_one_pass_per_action_equals_lead_by_lead(setup):
    from pipeline.explain.whatif import what_if

    cfg, _, _, _, package, leads, events = setup
    actions = cfg.actions.catalogue()
    batch = what_if(package, leads, events, AS_OF, actions, factors=True)
    assert list(batch.probability_gain.columns) == list(actions)
    for row in (0, 17, LEADS - 1):
        alone = what_if(package, leads.iloc[[row]], events, AS_OF, actions, factors=True)
        np.testing.assert_allclose(alone.probability_gain.to_numpy()[0],
                                   batch.probability_gain.to_numpy()[row], atol=1e-12)
        np.testing.assert_array_equal(alone.score_gain.to_numpy()[0],
                                      batch.score_gain.to_numpy()[row])
        for name in actions:  # TreeSHAP sums in another order per batch: float noise only
            np.testing.assert_allclose(alone.factor_gain[name].to_numpy()[0],
                                       batch.factor_gain[name].to_numpy()[row], atol=1e-9)
        assert [a["action"] for a in alone.describe(0)] == \
            [a["action"] for a in batch.describe(row)]
    # the factor points that move add up to the score change (the points' additivity)
    for name in actions:
        moved = batch.factor_gain[name].sum(axis=1).to_numpy()
        shown = batch.score_gain[name].to_numpy()
        if package.scale.unit == "probability":
            assert np.abs(moved - shown).max() <= 1.0 + 1e-9
    best = batch.best()
    assert set(best["next_action"]) <= {"", *actions}
    gains = batch.probability_gain.to_numpy()
    useful = best["next_action"].to_numpy() != ""
    np.testing.assert_allclose(best["next_action_probability_gain"].to_numpy()[useful],
                               gains.max(axis=1)[useful])


def test_best_breaks_ties_by_offer_order_and_skips_useless_actions():
    from pipeline.explain.whatif import WhatIf

    index = pd.Index(["a", "b", "c"])
    gains = pd.DataFrame({"x": [0.1, 0.2, -0.1], "y": [0.1, 0.3, -0.2]}, index=index)
    result = WhatIf(index, {"x": "X", "y": "Y"}, np.zeros(3), np.zeros(3), gains, gains * 100)
    best = result.best()
    assert best["next_action"].tolist() == ["x", "y", ""]
    assert best["next_action_gain"].tolist() == pytest.approx([10.0, 30.0, 0.0])
    assert result.ranked(1) == ["y", "x"]


def test_config_refuses_unknown_activity_types_and_actions(tmp_path):
    from pipeline.data.config import load_config
    from pipeline.data.errors import ConfigError

    demo = ROOT / "configs" / "demo.yaml"
    with pytest.raises(ConfigError, match=r"actions\.define\.chat: activity type 'chat_message'"):
        load_config(demo, {"actions": {"offer": ["chat"], "define": {
            "chat": {"label": "Chat with us", "activity_type": "chat_message"}}}})
    with pytest.raises(ConfigError, match=r"actions\.offer: unknown action 'nope'"):
        load_config(demo, {"actions": {"offer": ["nope"]}})
    cfg = load_config(demo, {"actions": {"offer": ["case_study", "demo_request"], "define": {
        "case_study": {"label": "Read a case study", "activity_type": "web_visit",
                       "detail": "case_study"}}}})
    assert list(cfg.actions.catalogue()) == ["case_study", "demo_request"]


def test_whatif_prints_the_actions_ranked_and_json(setup):
    _, _, config, model, _, leads, _ = setup
    lead = str(leads["lead_id"].iloc[-1])
    args = ["whatif", "--config", str(config), "--lead-id", lead, "--model", str(model),
            "--as-of", str(AS_OF)]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.stdout.splitlines() if line[:2] in {f"{k}." for k in
                                                                           range(1, 6)}]
    assert len(lines) == 5 and any("Book a demo: " in line for line in lines)
    as_json = runner.invoke(app, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    gains = [a["probability_gain"] for a in payload["actions"]]
    assert gains == sorted(gains, reverse=True)
    assert "not a causal effect" in payload["note"]
    missing = runner.invoke(app, [*args[:4], "nobody", *args[5:]])
    assert missing.exit_code == 2 and "no lead 'nobody'" in missing.stderr


def test_score_next_action_local_and_refusals(setup, tmp_path):
    _, folder, config, model, _, _, _ = setup
    base = ["score", "--config", str(config), "--model", str(model), "--as-of", str(AS_OF),
            "--input", str(folder / "in" / "leads.parquet"),
            "--activities", str(folder / "in" / "activities.parquet")]
    plain = runner.invoke(app, [*base, "--output", str(tmp_path / "plain.parquet")])
    best = runner.invoke(app, [*base, "--output", str(tmp_path / "best.parquet"),
                               "--next-action"])
    assert plain.exit_code == 0 and best.exit_code == 0, best.output
    without = pd.read_parquet(tmp_path / "plain.parquet")
    with_best = pd.read_parquet(tmp_path / "best.parquet")
    assert "next_action" not in without.columns
    pd.testing.assert_frame_equal(with_best[without.columns].drop(columns="scored_at"),
                                  without.drop(columns="scored_at"))
    assert with_best["next_action"].ne("").mean() > 0.5
    assert (with_best["next_action_probability_gain"] >= 0).all()
    spark = runner.invoke(app, [*base, "--output", str(tmp_path / "s"), "--next-action",
                                "--engine", "spark"])
    assert spark.exit_code == 2 and "--next-action is for --engine local" in spark.stderr
    flat = runner.invoke(app, ["whatif", "--config", str(ROOT / "configs" / "x_education.yaml"),
                               "--lead-id", "1"])
    assert flat.exit_code == 2 and "flat" in flat.stderr
    assert len(flat.stderr.strip().splitlines()) == 1
