"""Account roll-up on hand-made frames: keys, p_any, committee counts, top leads and factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.data.errors import DataError
from pipeline.explain.accounts import account_keys, roll_up
from tests.conftest import ROOT


def _config(**dataset):
    from pipeline.data.config import load_config

    return load_config(ROOT / "configs" / "demo.yaml", {"dataset": dataset})


def _leads() -> pd.DataFrame:
    return pd.DataFrame({
        "lead_id": ["a1", "a2", "a3", "b1", "c1"],
        "account": ["acme", "acme", "acme", "beta", "lead:c1"],
        "probability": [0.5, 0.2, 0.1, 0.3, 0.05],
        "engagement_level": pd.array([1, 3, 2, pd.NA, 4], dtype="Int64"),
        "seniority": ["vp", "individual", "c-level", "director", "student"],
    })


def _points() -> pd.DataFrame:
    return pd.DataFrame({"Job title": [5.0, -1.0, 6.0, 2.0, -3.0],
                         "Pricing page interest": [10.0, 4.0, 0.0, -1.0, 0.2],
                         "Email bounced": [0.0, -20.0, 0.0, 0.0, 0.0]})


def test_roll_up_by_hand():
    out = roll_up(_leads(), _points(), engaged_level=2, top_leads=2)
    assert list(out["account"]) == ["acme", "beta", "lead:c1"]  # by p_any, best first
    acme = out.iloc[0]
    assert acme["p_any"] == pytest.approx(1 - 0.5 * 0.8 * 0.9)  # 0.64
    assert acme["account_score"] == 64
    assert acme["p_max"] == pytest.approx(0.5)
    assert acme["p_mean"] == pytest.approx(0.8 / 3)
    assert (acme["leads"], acme["engaged_contacts"], acme["senior_contacts"]) == (3, 2, 2)
    assert acme["top_lead_ids"] == "a1; a2"
    # summed: Job title +10, Pricing +14, Email bounced -20: by size, with signs
    assert [acme["factor_1"], acme["factor_2"], acme["factor_3"]] == [
        "Email bounced: -20", "Pricing page interest: +14", "Job title: +10"]
    beta = out.iloc[1]
    # a missing engagement level is not engaged; a director is senior
    assert (beta["leads"], beta["engaged_contacts"], beta["senior_contacts"]) == (1, 0, 1)
    assert beta["p_any"] == pytest.approx(0.3) and beta["p_any"] == beta["p_max"]
    # a zero sum is no factor: only two factors of beta are non-zero
    assert [beta["factor_1"], beta["factor_2"], beta["factor_3"]] == [
        "Job title: +2", "Pricing page interest: -1", ""]


def test_roll_up_is_order_free_and_large_accounts_do_not_underflow():
    leads, points = _leads(), _points()
    shuffled = np.random.default_rng(0).permutation(len(leads))
    a = roll_up(leads, points)
    b = roll_up(leads.iloc[shuffled], points.iloc[shuffled])
    pd.testing.assert_frame_equal(a, b)
    many = pd.DataFrame({"lead_id": [f"x{i}" for i in range(5000)], "account": "big",
                         "probability": 0.001, "engagement_level": 1, "seniority": "vp"})
    out = roll_up(many, pd.DataFrame({"F": np.zeros(5000)}))
    assert out["p_any"].iloc[0] == pytest.approx(1 - 0.999 ** 5000)
    assert out["factor_1"].iloc[0] == ""


def test_account_keys_from_a_column_normalise_and_fall_back_to_the_lead():
    leads = pd.DataFrame({"lead_id": ["1", "2", "3", "4"],
                          "company": ["Acme  Inc", " acme inc", None, "  "]})
    keys = account_keys(leads, _config(account="company"), "leads.csv")
    assert list(keys) == ["acme inc", "acme inc", "lead:3", "lead:4"]


def test_account_keys_from_the_email_domain_leave_free_mail_alone():
    leads = pd.DataFrame({"lead_id": ["1", "2", "3", "4", "5"],
                          "email": ["Ann@Acme.com", "bob@acme.com ", "c@gmail.com",
                                    "d@mail.yahoo.com", "not an address"]})
    keys = account_keys(leads, _config(account="email_domain"), "leads.csv")
    assert list(keys) == ["acme.com", "acme.com", "lead:3", "lead:4", "lead:5"]
    assert not keys.str.contains("@").any()  # never an address, only its domain


def test_a_missing_account_column_is_one_line_naming_file_and_column():
    leads = pd.DataFrame({"lead_id": ["1"], "email": ["a@b.com"]})
    with pytest.raises(DataError, match=r"^leads\.csv: column 'Company' missing "
                                        r"\(dataset\.account: Company\)$"):
        account_keys(leads, _config(account="Company"), "leads.csv")


def test_an_account_key_is_never_a_feature():
    from pipeline.data.errors import ConfigError

    with pytest.raises(ConfigError, match="identifier, never a feature"):
        _config(account="industry")


def test_every_account_column_is_documented():
    from pipeline.explain.accounts import ACCOUNT_COLUMNS

    text = (ROOT / "docs" / "CONTRACTS.md").read_text()
    section = text[text.index("## Account file"):]
    missing = [c for c in ACCOUNT_COLUMNS if f"`{c}`" not in section
               and not (c.startswith("factor_") and "`factor_1`..`factor_3`" in section)]
    assert not missing
