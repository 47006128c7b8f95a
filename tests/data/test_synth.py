"""The synthetic CRM world: deterministic, canonical, realistic in the ways the product needs."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import pipeline.synth.world as synth
from pipeline.data.errors import ConfigError
from pipeline.data.io import read_truth
from pipeline.evaluation.drift import psi
from pipeline.synth.world import ACTIVITY_TYPES, AS_OF_DAYS, make_world, write_world

END = pd.Timestamp("2026-06-30 23:59:59")
AS_OF = pd.Timedelta(days=AS_OF_DAYS)


@pytest.fixture(scope="module")
def world():
    return make_world(20_000, seed=7)


@pytest.fixture(scope="module")
def age(world):
    """Age of each activity at the time it happened (occurred_at - created_at)."""
    created = world.activities["lead_id"].map(world.leads.set_index("lead_id")["created_at"])
    return world.activities["occurred_at"] - created


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_world(a, 2_000, seed=3)
    write_world(b, 2_000, seed=3)
    write_world(c, 2_000, seed=4)
    for name in ("leads", "activities", "truth"):
        assert _digest(a / f"{name}.parquet") == _digest(b / f"{name}.parquet")
        assert _digest(a / f"{name}.parquet") != _digest(c / f"{name}.parquet")
    assert sorted(p.name for p in a.iterdir()) == [
        "activities.parquet", "leads.parquet", "truth.parquet"]  # no temporary files left


def test_make_world_equals_the_files_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "CHUNK", 1_000)
    calls = []
    summary = write_world(tmp_path, 2_500, seed=5, progress=lambda d, t: calls.append((d, t)))
    memory = make_world(2_500, seed=5)
    for name in ("leads", "activities", "truth"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"),
                                      getattr(memory, name))
    assert pq.ParquetFile(tmp_path / "leads.parquet").num_row_groups == 3
    assert calls == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    assert summary["leads"] == 2_500
    assert summary["activities"] == len(memory.activities)
    assert summary["positives"] == int((memory.leads["outcome"] == "won").sum())
    assert summary["rate"] == pytest.approx(summary["positives"] / 2_500, abs=1e-4)
    # Chunks are independent streams: a chunk's leads do not depend on the chunk size.
    monkeypatch.setattr(synth, "CHUNK", 2_500)
    assert not make_world(2_500, seed=5).leads.equals(memory.leads)


def test_schema_and_dtypes(world):
    leads, acts, truth = world.leads, world.activities, world.truth
    assert list(leads.columns) == [
        "lead_id", "created_at", "outcome", "outcome_at", "name", "email", "phone", "job_title",
        "company", "industry", "employees", "annual_revenue", "country", "lead_source",
        "product_line"]
    assert list(acts.columns) == ["lead_id", "occurred_at", "activity_type", "detail", "channel"]
    assert list(truth.columns) == ["lead_id", "p_convert"]
    for frame, col in ((leads, "created_at"), (leads, "outcome_at"), (acts, "occurred_at")):
        assert frame[col].dtype == "datetime64[ns]"
    for col in ("lead_id", "outcome", "email", "job_title", "industry", "lead_source"):
        assert pd.api.types.is_string_dtype(leads[col])
    assert leads["employees"].dtype == "int64" and (leads["employees"] >= 1).all()
    assert leads["annual_revenue"].dtype == "float64"
    assert leads["lead_id"].is_unique and leads["lead_id"].str.fullmatch(r"L\d{7}").all()
    assert truth["lead_id"].equals(leads["lead_id"])
    assert truth["p_convert"].between(0, 1).all()
    assert set(leads["outcome"]) == {"won", "lost", "open"}
    assert leads.loc[leads["outcome"] == "open", "outcome_at"].isna().all()
    assert leads.loc[leads["outcome"] != "open", "outcome_at"].notna().all()
    assert set(acts["channel"]) == {"online", "offline"}
    offline = acts["activity_type"].isin(["offline_event", "sales_call"])
    assert (acts.loc[offline, "channel"] == "offline").all()
    assert set(acts.loc[acts["activity_type"] == "web_visit", "detail"]) == {
        "home", "blog", "pricing", "demo", "case_study", "careers", "product", "docs"}
    assert acts.loc[acts["activity_type"] == "content_download", "detail"].notna().all()
    assert leads["product_line"].nunique() >= 2 and leads["industry"].nunique() == 10


def test_time_bounds_and_order(world, age):
    leads, acts = world.leads, world.activities
    assert set(acts["activity_type"]) == set(ACTIVITY_TYPES)
    assert (age > pd.Timedelta(0)).all()
    assert acts["occurred_at"].max() <= END and leads["created_at"].max() <= END
    assert leads["outcome_at"].max() <= END
    decided = leads["outcome_at"].notna()
    assert (leads.loc[decided, "outcome_at"] > leads.loc[decided, "created_at"]).all()
    assert pd.MultiIndex.from_arrays([acts["lead_id"], acts["occurred_at"]]).is_monotonic_increasing
    assert acts["lead_id"].isin(leads["lead_id"]).all()
    assert leads["created_at"].is_monotonic_increasing  # CRM ids grow with time
    assert leads["created_at"].min() >= pd.Timestamp("2024-07-01")
    assert 15 <= len(acts) / len(leads) <= 25  # ~20 activities per lead over its life


def test_seasonality(world):
    month = world.leads["created_at"].dt.month.value_counts()
    assert month[[1, 2, 3, 9, 10]].mean() > 1.3 * month[[7, 8, 12]].mean()


def test_positive_rate_near_base_rate(world):
    won = (world.leads["outcome"] == "won").mean()
    assert 0.06 <= won <= 0.10
    assert world.truth["p_convert"].mean() == pytest.approx(0.08, abs=0.01)
    lower = make_world(5_000, seed=7, base_rate=0.03)
    assert lower.truth["p_convert"].mean() == pytest.approx(0.03, abs=0.006)


def test_oracle_is_informative_not_perfect(world):
    y = (world.leads["outcome"] == "won").to_numpy()
    assert 0.84 <= roc_auc_score(y, world.truth["p_convert"]) <= 0.93


def _first_fortnight(world, age, activity_type, page=None):
    acts = world.activities
    mask = (age < AS_OF) & (acts["activity_type"] == activity_type)
    if page:
        mask &= acts["detail"] == page
    counts = acts[mask].groupby("lead_id").size()
    return world.leads["lead_id"].map(counts).fillna(0).to_numpy()


def test_product_lines_respond_to_different_signals(world, age):
    y = (world.leads["outcome"] == "won").to_numpy()
    X = np.column_stack([np.log1p(_first_fortnight(world, age, "web_visit", "pricing")),
                         np.log1p(_first_fortnight(world, age, "webinar_attended"))])
    coef = {}
    for line in ("platform", "academy"):
        m = (world.leads["product_line"] == line).to_numpy()
        coef[line] = LogisticRegression().fit(X[m], y[m]).coef_[0]
    # Pricing visits weigh more than webinars for platform buyers; the reverse for academy.
    assert coef["platform"][0] > coef["platform"][1] + 0.4
    assert coef["academy"][1] > coef["academy"][0] + 0.2
    assert coef["academy"][1] > coef["platform"][1] + 0.5


def test_seniority_matters_for_platform_not_academy(world):
    leads = world.leads
    title = leads["job_title"].fillna("").str.lower()
    senior = title.str.contains(r"\b(?:vp|vice president|chief|cto|ceo|director|head)\b")
    won = leads["outcome"] == "won"
    lift = {line: won[senior & (leads["product_line"] == line)].mean()
            / won[~senior & (leads["product_line"] == line)].mean()
            for line in ("platform", "academy")}
    assert lift["platform"] > 2.0 and lift["platform"] > lift["academy"] + 1.0


def test_realistic_text_columns(world):
    leads = world.leads
    titles = set(leads["job_title"].dropna())
    for example in ("VP Sales", "Vice President, Operations", "Chief Technology Officer", "CTO",
                    "Dir. of IT", "Head of Marketing", "Sr. Software Eng.", "line supervisor",
                    "Marketing Manager", "mktg mgr", "Student", "MBA candidate", "intern"):
        assert example in titles, example
    assert 0.01 < leads["job_title"].isna().mean() < 0.06
    domain = leads["email"].str.split("@").str[1]
    assert domain.isin(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]).mean() > 0.15
    assert domain.isin(synth.COMPETITOR_DOMAINS).sum() > 50
    assert leads["company"].nunique() > 1_000
    assert leads["lead_source"].nunique() == 9
    assert leads.groupby("industry")["employees"].median().max() > 3 * leads.groupby(
        "industry")["employees"].median().min()
    known = leads["annual_revenue"].notna()
    assert np.corrcoef(np.log(leads.loc[known, "employees"]),
                       np.log(leads.loc[known, "annual_revenue"]))[0, 1] > 0.8


def test_last_quarter_drifts(world):
    leads = world.leads
    recent = leads["created_at"] >= pd.Timestamp("2026-04-01")

    def share(col, mask):
        levels = sorted(leads[col].unique())
        return leads.loc[mask, col].value_counts(normalize=True).reindex(levels, fill_value=0)

    assert psi(share("lead_source", ~recent), share("lead_source", recent)) > 0.1
    assert share("product_line", recent)["academy"] > share("product_line", ~recent)["academy"]
    free = leads["email"].str.contains("@(?:gmail|yahoo|hotmail|outlook)", regex=True)
    assert free[recent].mean() > free[~recent].mean() + 0.03


def test_won_leads_have_deal_activity_after_as_of(world, age):
    acts = world.activities
    late = acts[(age >= AS_OF) & acts["activity_type"].isin(["sales_call", "demo_request"])]
    per_lead = late.groupby("lead_id").size().reindex(world.leads["lead_id"], fill_value=0)
    outcome = world.leads["outcome"].to_numpy()
    assert per_lead[outcome == "won"].mean() > 3 * per_lead[outcome == "lost"].mean()
    # ...and before as_of nothing depends on the outcome beyond the true probability
    early = acts[(age < AS_OF) & acts["activity_type"].isin(["sales_call", "demo_request"])]
    before = early.groupby("lead_id").size().reindex(world.leads["lead_id"], fill_value=0)
    assert before[outcome == "won"].mean() < per_lead[outcome == "won"].mean()


@pytest.mark.parametrize("kwargs", [{"n_leads": 0}, {"base_rate": 1.5}, {"months": 3},
                                    {"end": "not a date"}, {"seed": -1}, {"signal": 0.0},
                                    {"signal": 1.5}, {"odds_age_days": 0},
                                    {"odds_age_days": 181}, {"odds_age_days": 30.0},
                                    {"odds_age_days": True}])
def test_bad_arguments_are_config_errors(kwargs):
    with pytest.raises(ConfigError, match="synth"):
        make_world(**{"n_leads": 10, **kwargs})


def test_an_older_odds_age_moves_as_of_and_what_is_timed_from_it(tmp_path):
    # odds_age_days=60: the true odds are at day 60, so what the default world times from day
    # 14 moves with them, and the truth file says at which age p holds
    default = make_world(2_000, seed=3)
    explicit = make_world(2_000, seed=3, odds_age_days=AS_OF_DAYS)
    for name in ("leads", "activities", "truth"):
        pd.testing.assert_frame_equal(getattr(default, name), getattr(explicit, name))
    write_world(tmp_path, 2_000, seed=3, odds_age_days=60)
    assert read_truth(tmp_path / "truth.parquet").attrs["as_of_days"] == 60.0
    leads, acts = (pd.read_parquet(tmp_path / f"{t}.parquet") for t in ("leads", "activities"))
    as_of = pd.Timedelta(days=60)
    age = acts["occurred_at"] - acts["lead_id"].map(leads.set_index("lead_id")["created_at"])
    won = leads["outcome"] == "won"
    assert won.sum() > 50
    assert ((leads["outcome_at"] - leads["created_at"])[won] >= as_of + pd.Timedelta(days=7)).all()
    # the leakage trap starts at the later as_of: deal-only calls never come before it
    deal = acts["detail"].isin(["proposal_review", "negotiation"])
    assert deal.sum() > 50 and (age[deal] >= as_of).all()
    # the rates stay counts of the first 14 days, so more happens before the later as_of
    default_age = default.activities["occurred_at"] - default.activities["lead_id"].map(
        default.leads.set_index("lead_id")["created_at"])
    assert (age < as_of).sum() > 1.5 * (default_age < AS_OF).sum()
    # the intercept is solved at that age: the base rate still holds
    assert read_truth(tmp_path / "truth.parquet").mean() == pytest.approx(0.08, abs=0.01)


def test_weak_signal_world_has_an_oracle_auc_near_0_6():
    # configs/weak.yaml's setting: the same mechanisms with flatter odds (issue 16).
    weak = make_world(5_000, seed=7, signal=0.17)
    y = (weak.leads["outcome"] == "won").to_numpy()
    assert 0.57 <= roc_auc_score(y, weak.truth["p_convert"]) <= 0.63
    # The intercept is solved again for the weaker signal, so the base rate still holds.
    assert weak.truth["p_convert"].mean() == pytest.approx(0.08, abs=0.01)


def test_default_signal_leaves_the_world_unchanged():
    default = make_world(2_000, seed=3)
    explicit = make_world(2_000, seed=3, signal=1.0)
    for name in ("leads", "activities", "truth"):
        pd.testing.assert_frame_equal(getattr(default, name), getattr(explicit, name))
    # Golden figures of this world from the generator before `signal` existed (commit f5776d7).
    assert default.truth["p_convert"].sum() == pytest.approx(148.64221756625085, rel=1e-12)
    assert default.leads["outcome"].value_counts().to_dict() == {
        "lost": 1370, "open": 488, "won": 142}
    assert len(default.activities) == 39_780


def test_the_synth_command_takes_the_signal_from_the_config(tmp_path):
    # A weak-world config must give a weak world: a CLI that dropped synth.signal would quietly
    # build the default one, and every weak-signal figure would be about the wrong world.
    from typer.testing import CliRunner

    from pipeline.cli.app import app
    from tests.conftest import ROOT

    runner = CliRunner()
    spreads = {}
    for name in ("demo", "weak"):
        out = tmp_path / name
        result = runner.invoke(app, ["synth", "--config", str(ROOT / "configs" / f"{name}.yaml"),
                                     "--out", str(out), "--leads", "2000", "--seed", "5"])
        assert result.exit_code == 0, result.output
        p = pd.read_parquet(out / "truth.parquet")["p_convert"]
        spreads[name] = float(np.log(p / (1 - p)).std())
    assert spreads["weak"] < 0.5 * spreads["demo"]
