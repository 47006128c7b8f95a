"""The synthetic world's opt-in lifecycle stage dates, and the funnel on them end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.data.config import load_config
from pipeline.data.io import load_dataset
from pipeline.data.lifecycle import funnel_stages
from pipeline.evaluation.funnel import lifecycle_funnel
from pipeline.synth import make_world, write_world
from pipeline.synth.lifecycle import STAGE_FIELDS

END = pd.Timestamp("2026-06-30 23:59:59")


@pytest.fixture(scope="module")
def worlds():
    return make_world(3_000, seed=11), make_world(3_000, seed=11, stages=True)


def test_stages_leave_every_other_column_unchanged(worlds):
    default, staged = worlds
    assert list(staged.leads.columns) == [*default.leads.columns, *STAGE_FIELDS]
    pd.testing.assert_frame_equal(staged.leads[list(default.leads.columns)], default.leads)
    pd.testing.assert_frame_equal(staged.activities, default.activities)
    pd.testing.assert_frame_equal(staged.truth, default.truth)
    assert not set(STAGE_FIELDS) & set(default.leads.columns)


def test_stage_dates_are_ordered_and_bounded(worlds):
    leads = worlds[1].leads
    mql, sql, opp = (leads[c] for c in STAGE_FIELDS)
    created, closed = leads["created_at"], leads["outcome_at"]
    # a stage is only reached after every earlier one, never before creation or after the end
    assert not (sql.notna() & mql.isna()).any() and not (opp.notna() & sql.isna()).any()
    assert ((mql >= created) | mql.isna()).all()
    assert ((sql >= mql) | sql.isna()).all() and ((opp >= sql) | opp.isna()).all()
    assert (leads[list(STAGE_FIELDS)].max() <= END).all()
    won = leads["outcome"] == "won"
    assert leads.loc[won, list(STAGE_FIELDS)].notna().all().all()
    assert (opp[won] < closed[won]).all()
    lost = leads["outcome"] == "lost"
    for stage in (mql, sql, opp):
        assert ((stage[lost] <= closed[lost]) | stage[lost].isna()).all()
    # lost leads stop at some stage: every stage has lost leads that got there and did not go on
    assert (mql[lost].notna() & sql[lost].isna()).any()
    assert (sql[lost].notna() & opp[lost].isna()).any()


def test_better_leads_reach_mql_more_often(worlds):
    leads, truth = worlds[1].leads, worlds[1].truth
    p = truth.set_index("lead_id")["p_convert"].reindex(leads["lead_id"]).to_numpy()
    not_won = (leads["outcome"] != "won").to_numpy()
    top, bottom = p >= np.quantile(p, 0.8), p <= np.quantile(p, 0.2)
    reached = leads["mql_date"].notna().to_numpy()
    assert reached[top & not_won].mean() > 2 * reached[bottom & not_won].mean()
    assert 0.2 < reached.mean() < 0.5


def test_write_world_files_hold_the_stage_frames(tmp_path, worlds):
    write_world(tmp_path, 3_000, seed=11, stages=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "leads.parquet"), worlds[1].leads)


def test_the_synth_command_adds_stages_only_when_asked(tmp_path):
    runner = CliRunner()
    for flag, expected in (([], False), (["--stages"], True)):
        out = tmp_path / str(expected)
        result = runner.invoke(app, ["synth", "--out", str(out), "--leads", "500", "--seed", "2",
                                     *flag])
        assert result.exit_code == 0, result.output
        columns = pd.read_parquet(out / "leads.parquet").columns
        assert ("mql_date" in columns) is expected
    # or from the config's synth.stages
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"synth": {"leads": 500, "stages": True}, "dataset": {
        "name": "s", "leads": str(tmp_path / "cfg_world" / "leads.parquet")}}))
    result = runner.invoke(app, ["synth", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "mql_date" in pd.read_parquet(tmp_path / "cfg_world" / "leads.parquet").columns


def test_funnel_end_to_end_on_the_synthetic_world(tmp_path):
    # the export with stage dates -> the contract's canonical stage columns -> the funnel, with
    # the true probability standing in for a score file (bands and MQL flag by its quantiles)
    write_world(tmp_path, 3_000, seed=11, stages=True)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": {
        "name": "s", "mode": "events", "leads": str(tmp_path / "leads.parquet"),
        "activities": str(tmp_path / "activities.parquet"), "snapshot": "2026-06-30 23:59:59",
        "horizon_days": 90,
        "stages": {"mql": "mql_date", "sql": "sql_date", "opportunity": "opportunity_date"}}}))
    config = load_config(cfg)
    leads, _, report = load_dataset(config)
    assert report.ok, report.violations
    stages = funnel_stages(config.dataset)
    assert stages == {"mql": "mql_at", "sql": "sql_at", "opportunity": "opportunity_at",
                      "won": "won_at"}
    truth = pd.read_parquet(tmp_path / "truth.parquet").set_index("lead_id")["p_convert"]
    p = truth.reindex(leads["lead_id"]).to_numpy()
    as_of = leads["created_at"] + pd.Timedelta(days=14)
    band = np.where(p >= np.quantile(p, 0.9), "hot", np.where(p >= np.quantile(p, 0.7), "warm",
                                                              "cold"))
    training = leads[(leads["created_at"] < pd.Timestamp("2025-06-30")) & leads["mql_at"].notna()]

    def funnel(mql_share: float):
        scores = pd.DataFrame({"lead_id": leads["lead_id"], "as_of": as_of, "band": band,
                               "mql": p >= np.quantile(p, 1 - mql_share)})
        return lifecycle_funnel(leads, scores, stages, 90, pd.Timestamp("2026-06-30 23:59:59"),
                                training_leads=training)

    report = funnel(0.2)
    steps = report.steps.set_index(["step", "band"])
    for step in ("mql->sql", "sql->opportunity", "opportunity->won"):
        assert steps.loc[(step, "hot"), "share"] > steps.loc[(step, "cold"), "share"]
        # the bands add up to the whole
        bands = steps.loc[step].drop("all")
        assert bands["reached_from"].sum() == steps.loc[(step, "all"), "reached_from"]
        assert bands["reached_to"].sum() == steps.loc[(step, "all"), "reached_to"]
    assert report.counts["matured"] + report.counts["pending"] == len(leads)
    assert report.generous["training"]["n"] > 100
    # an MQL line let down to most leads hands sales many that go nowhere: too generous; a
    # tight one (the top 5 % by the true odds) is not
    assert funnel(0.6).generous["verdict"] == "too_generous"
    assert funnel(0.05).generous["verdict"] == "stricter"
