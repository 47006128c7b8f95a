"""Batch scoring: bounded, atomic, resumable, and strict about bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.batch.local import SCORE_COLUMNS
from pipeline.cli.app import app
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()
AS_OF = "2026-06-30T23:59:59"


@pytest.fixture(scope="module")
def scoring_setup(trained, small_world, tmp_path_factory):
    _, result, _, _ = trained
    folder = tmp_path_factory.mktemp("score")
    model = folder / "model.pkl"
    result.packages["model"].save(model)
    cfg = write_demo_config(folder, small_world)
    return folder, cfg, model, small_world


def _score(cfg, model, data, output, *extra):
    return runner.invoke(app, [
        "score", "--config", str(cfg), "--model", str(model),
        "--input", str(data / "leads.parquet"), "--activities", str(data / "activities.parquet"),
        "--output", str(output), "--as-of", AS_OF, *extra])


def test_scores_every_lead_with_model_version(scoring_setup, tmp_path):
    _, cfg, model, data = scoring_setup
    out = tmp_path / "scores.parquet"
    result = _score(cfg, model, data, out, "--batch-size", "3000")
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    leads = pd.read_parquet(data / "leads.parquet")
    assert list(scores.columns) == SCORE_COLUMNS
    assert len(scores) == len(leads) and scores["lead_id"].is_unique
    assert set(scores["lead_id"]) == set(leads["lead_id"])
    assert scores["model_version"].str.startswith("file:").all()
    assert (scores["as_of"] == AS_OF).all()  # what `monitor` matures each score from
    assert scores["score"].between(0, 100).all()
    assert set(scores["grade"]) <= set("ABCD")
    assert scores["reason_1"].str.len().gt(0).mean() > 0.9
    drift = json.loads((tmp_path / "scores.parquet.drift.json").read_text())
    assert drift["rows"] == len(leads)


def test_same_scores_whatever_the_batch_size(scoring_setup, tmp_path):
    _, cfg, model, data = scoring_setup
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert _score(cfg, model, data, a, "--batch-size", "5000").exit_code == 0
    assert _score(cfg, model, data, b, "--batch-size", "1100", "--no-explain").exit_code == 0
    left = pd.read_parquet(a).set_index("lead_id").sort_index()
    right = pd.read_parquet(b).set_index("lead_id").sort_index()
    pd.testing.assert_series_equal(left["score"], right["score"])


def test_routing_list_csv(scoring_setup, tmp_path):
    _, cfg, model, data = scoring_setup
    out = tmp_path / "top.csv"
    result = _score(cfg, model, data, out, "--top", "25", "--format", "csv", "--open-only")
    assert result.exit_code == 0, result.output
    top = pd.read_csv(out)
    assert len(top) == 25 and top["score"].is_monotonic_decreasing
    assert top["reason_1"].notna().all()


def _broken_copy(data, tmp_path, mutate_leads=None, mutate_acts=None):
    leads = pd.read_parquet(data / "leads.parquet")
    acts = pd.read_parquet(data / "activities.parquet")
    if mutate_leads:
        leads = mutate_leads(leads)
    if mutate_acts:
        acts = mutate_acts(acts)
    leads.to_parquet(tmp_path / "leads.parquet")
    acts.to_parquet(tmp_path / "activities.parquet")
    return tmp_path


@pytest.mark.parametrize(("case", "message"), [
    ("missing_column", "column 'industry': missing"),
    ("duplicate_id", "duplicate lead id"),
    ("future_event", "event in the future"),
])
def test_bad_input_fails_before_any_output(scoring_setup, tmp_path, case, message):
    _, cfg, model, data = scoring_setup

    def dup(frame):
        return pd.concat([frame, frame.iloc[[5]]], ignore_index=True)

    def future(frame):
        frame = frame.copy()
        frame.loc[3, "occurred_at"] = pd.Timestamp("2031-01-01")
        return frame

    mutations = {"missing_column": ({"mutate_leads": lambda f: f.drop(columns="industry")}),
                 "duplicate_id": {"mutate_leads": dup},
                 "future_event": {"mutate_acts": future}}
    broken = _broken_copy(data, tmp_path, **mutations[case])
    out = tmp_path / "out.parquet"
    result = _score(cfg, model, broken, out, "--batch-size", "4000")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(tmp_path.glob("out.parquet*"))


def test_model_trained_with_other_features_is_refused(scoring_setup, tmp_path):
    folder, _, model, data = scoring_setup
    other = write_demo_config(tmp_path, data)
    text = other.read_text().replace("half_life_days: 14", "half_life_days: 3")
    if "half_life_days" not in text:
        text = text.replace("features:\n", "features:\n  half_life_days: 3\n", 1)
    other.write_text(text)
    result = _score(other, model, data, tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert "features section differs" in result.output


def test_kill_then_resume_gives_identical_output(scoring_setup, tmp_path):
    _, cfg, model, data = scoring_setup
    reference = tmp_path / "reference.parquet"
    assert _score(cfg, model, data, reference, "--batch-size", "1000").exit_code == 0

    out = tmp_path / "killed.parquet"
    cmd = [sys.executable, "-m", "pipeline", "score", "--config", str(cfg),
           "--model", str(model), "--input", str(data / "leads.parquet"),
           "--activities", str(data / "activities.parquet"), "--output", str(out),
           "--as-of", AS_OF, "--batch-size", "1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = out.with_name(out.name + ".parts") / "checkpoint.json"
    deadline = time.monotonic() + 120
    done: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.is_file():
            try:
                done = json.loads(checkpoint.read_text())["done"]
            except (json.JSONDecodeError, KeyError):
                done = []
            if len(done) >= 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "scoring finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # a killed job leaves no output

    resumed = _score(cfg, model, data, out, "--batch-size", "1000", "--resume")
    assert resumed.exit_code == 0, resumed.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference))
    assert not out.with_name(out.name + ".parts").exists()


def test_inactive_or_unreachable_leads_are_disqualified_without_hiding_their_score(
        scoring_setup, tmp_path):
    _, cfg, model, data = scoring_setup
    out = tmp_path / "scores.parquet"
    assert _score(cfg, model, data, out).exit_code == 0
    scores = pd.read_parquet(out).set_index("lead_id")
    from pipeline.explain.package import load_package

    package = load_package(model)
    leads = pd.read_parquet(data / "leads.parquet")
    activities = pd.read_parquet(data / "activities.parquet")
    X = package.features(leads, activities, pd.Timestamp(AS_OF))
    unreachable = (X["unsubscribed"] > 0) & (X["email_bounce_ever"] > 0)
    age = (pd.Timestamp(AS_OF) - leads.set_index("lead_id")["created_at"]).dt.days
    idle = X["days_since_last_activity"].fillna(age.reindex(X.index))
    inactive = idle > package.disqualify["inactive_days"]
    assert unreachable.any() and inactive.any() and (~(unreachable | inactive)).any()
    expected = (unreachable | inactive).reindex(scores.index)
    assert (scores["status"] == "disqualified").equals(expected.rename("status"))
    assert scores.loc[expected, "score"].notna().all()
    assert scores.loc[unreachable[unreachable].index, "status_reason"].str.contains(
        "unsubscribed and email bounced").all()
    assert scores.loc[inactive[inactive].index, "status_reason"].str.startswith(
        "inactive for").all()
    assert (scores.loc[~expected, "status_reason"] == "").all()


def test_as_of_defaults_to_now_and_a_bad_one_is_one_line(scoring_setup, tmp_path):
    _, cfg, model, data = scoring_setup
    base = ["score", "--config", str(cfg), "--model", str(model),
            "--input", str(data / "leads.parquet"), "--activities",
            str(data / "activities.parquet"), "--no-explain", "--top", "5"]
    now = runner.invoke(app, [*base, "--output", str(tmp_path / "now.csv")])
    assert now.exit_code == 0, now.output
    assert len(pd.read_csv(tmp_path / "now.csv")) == 5
    bad = runner.invoke(app, [*base, "--output", str(tmp_path / "bad.csv"), "--as-of", "soon"])
    assert bad.exit_code == 2
    assert "--as-of 'soon': not a date" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "bad.csv").exists()
