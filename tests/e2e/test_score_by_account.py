"""`leadscore score --by account`: one row per account, rolled up from the leads' own scores.

Through the real CLI on the small world's newest leads: the account file agrees with the lead
file of the same job (p_any, counts, top leads), never carries an email, and the user's mistakes
are one line with exit 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()
LEADS = 1_500
AS_OF = "2026-06-30T23:59:59"


@pytest.fixture(scope="module")
def setup(trained, small_world, tmp_path_factory):
    """A saved model, a config keyed by company, and the world's newest leads with events."""
    _, result, _, _ = trained
    folder = tmp_path_factory.mktemp("by_account")
    model = folder / "model.pkl"
    result.packages["model"].save(model)
    cfg = write_demo_config(folder, small_world, account="company")
    leads = pd.read_parquet(small_world / "leads.parquet")
    leads = leads.sort_values("created_at", kind="mergesort").tail(LEADS).reset_index(drop=True)
    events = pd.read_parquet(small_world / "activities.parquet")
    events = events[events["lead_id"].isin(leads["lead_id"])].reset_index(drop=True)
    leads.to_parquet(folder / "new.parquet", index=False)
    events.to_parquet(folder / "events.parquet", index=False)
    return folder, cfg, model, leads, small_world


def _score(setup, output, *extra, cfg=None, leads=None):
    folder, default_cfg, model, _, _ = setup
    return runner.invoke(app, [
        "score", "--config", str(cfg or default_cfg), "--model", str(model),
        "--input", str(leads or folder / "new.parquet"),
        "--activities", str(folder / "events.parquet"), "--output", str(output),
        "--as-of", AS_OF, "--batch-size", "500", *extra])


def test_one_row_per_account_agreeing_with_the_lead_scores(setup, tmp_path):
    leads = setup[3]
    by_lead = _score(setup, tmp_path / "leads.parquet")
    assert by_lead.exit_code == 0, by_lead.output
    done = _score(setup, tmp_path / "accounts.csv", "--by", "account")
    assert done.exit_code == 0, done.output
    accounts = pd.read_csv(tmp_path / "accounts.csv", keep_default_na=False)
    scores = pd.read_parquet(tmp_path / "leads.parquet").merge(
        leads[["lead_id", "company", "email"]], on="lead_id")
    key = scores["company"].str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
    assert accounts["account"].is_unique
    assert set(accounts["account"]) == set(key)
    assert accounts["leads"].sum() == LEADS
    assert (accounts["leads"] >= 2).sum() > 20  # the premise: real buying committees
    expected = (1 - (1 - scores["probability"]).groupby(key).prod()).rename("p_any")
    got = accounts.set_index("account")["p_any"]
    np.testing.assert_allclose(got.loc[expected.index], expected, rtol=1e-9, atol=1e-12)
    assert (accounts["account_score"] == np.floor(100 * accounts["p_any"] + 0.5)).all()
    assert accounts["p_any"].is_monotonic_decreasing
    assert (accounts["p_any"] >= accounts["p_max"] - 1e-12).all()
    best = scores.sort_values("probability", ascending=False, kind="mergesort") \
        .groupby(key, sort=False)["lead_id"].first()
    firsts = accounts.set_index("account")["top_lead_ids"].str.split("; ").str[0]
    assert (firsts.loc[best.index] == best).all()
    engaged = (scores["engagement_level"] <= 2).groupby(key).sum()
    assert (accounts.set_index("account")["engaged_contacts"].loc[engaged.index]
            == engaged).all()
    factor = accounts["factor_1"]  # "" only when every summed factor rounds to 0
    assert (factor.str.match(r"^.+: [+-]\d+$") | (factor == "")).all()
    assert (factor != "").mean() > 0.9
    # an identifier of the account, never a person's address
    text = (tmp_path / "accounts.csv").read_text()
    assert "email" not in accounts.columns and "@" not in text
    assert "accounts" in done.stdout


def test_email_domain_keys_keep_free_mail_leads_apart(setup, tmp_path):
    leads, world = setup[3], setup[4]
    cfg = write_demo_config(tmp_path, world, account="email_domain")
    done = _score(setup, tmp_path / "accounts.parquet", "--by", "account", cfg=cfg)
    assert done.exit_code == 0, done.output
    accounts = pd.read_parquet(tmp_path / "accounts.parquet")
    assert not accounts["account"].str.contains("@").any()
    free = leads["email"].str.lower().str.endswith(("@gmail.com", "@yahoo.com", "@outlook.com"))
    solo = accounts["account"].str.startswith("lead:")
    assert solo.sum() >= free.sum() > 0
    assert (accounts.loc[solo, "leads"] == 1).all()
    assert "gmail.com" not in set(accounts["account"])


def test_a_missing_account_column_is_one_line_with_exit_2(setup, tmp_path):
    leads = setup[3]
    path = tmp_path / "no_company.parquet"
    leads.drop(columns=["company"]).to_parquet(path, index=False)
    done = _score(setup, tmp_path / "out.parquet", "--by", "account", leads=path)
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and "'company'" in lines[0] and "dataset.account" in lines[0]
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--no-explain"], "--no-explain skips"),
    (["--engine", "spark"], "use --engine local"),
    (["--top", "5"], "writes every account"),
    (["--by", "team"], "use 'lead' or 'account'"),
])
def test_refusals_say_why_in_one_line(setup, tmp_path, extra, message):
    by = [] if "--by" in extra else ["--by", "account"]
    done = _score(setup, tmp_path / "out.parquet", *by, *extra)
    assert done.exit_code == 2, done.output
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_without_dataset_account_by_account_is_refused(setup, tmp_path):
    cfg = write_demo_config(tmp_path, setup[4])
    done = _score(setup, tmp_path / "out.parquet", "--by", "account", cfg=cfg)
    assert done.exit_code == 2, done.output
    assert "needs dataset.account" in done.stderr

