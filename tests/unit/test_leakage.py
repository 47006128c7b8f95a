"""The leakage detectors, one at a time, on small frames whose truth the test built (issue 16).

Every expected figure is counted from the frame the test made, never read back from the code
under test; each detector also gets the honest column it must leave alone.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.data.config import load_config
from pipeline.data.errors import ConfigError, DataError
from pipeline.evaluation.audit import (
    audit_columns,
    check_model_leak,
    declared_suspects,
    factor_aucs,
    kept_notes,
)
from pipeline.evaluation.leakage import (
    id_like,
    later_dates,
    missingness_auc,
    one_outcome_group,
    target_encoding_like,
    value_auc,
)

ROOT = Path(__file__).resolve().parents[2]


def _labels(n: int = 2000, rate: float = 0.2, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(int)


# one-outcome groups ------------------------------------------------------------------------------

def test_numeric_filled_only_for_won_leads_is_flagged_by_its_missingness():
    y = _labels()
    rng = np.random.default_rng(1)
    mrr = pd.Series(np.where(y == 1, rng.lognormal(8, 1, len(y)).round(), np.nan))
    won = int(y.sum())
    reason = one_outcome_group(mrr, y)
    assert reason == f"filled only for converted leads: {won:,} rows, 100 % converted"
    assert missingness_auc(mrr, y) == pytest.approx(1.0)
    # among the rows that have it, every lead is won: the value itself says nothing
    assert value_auc(mrr, y) == 0.5


def test_partly_filled_leak_below_the_auc_limit_is_still_caught():
    y = _labels(seed=2)
    rng = np.random.default_rng(3)
    filled = (y == 1) & (rng.random(len(y)) < 0.6)  # the CRM fills it for 60 % of wins
    column = pd.Series(np.where(filled, 1200.0, np.nan))
    assert missingness_auc(column, y) < 0.9  # the old single AUC would pass it
    assert one_outcome_group(column, y) == \
        f"filled only for converted leads: {int(filled.sum()):,} rows, 100 % converted"


def test_text_filled_only_for_lost_leads_and_a_changing_numeric():
    y = _labels(seed=4)
    lost_reason = pd.Series(np.where(y == 0, "no budget", None), dtype=object)
    # most leads are lost, so "filled" is the dominant group: the empty rows are the tell
    assert one_outcome_group(lost_reason, y) == \
        f"empty only for converted leads: {int(y.sum()):,} rows, 100 % converted"
    y_mostly_won = 1 - y
    lost_reason = pd.Series(np.where(y_mostly_won == 0, "no budget", None), dtype=object)
    assert one_outcome_group(lost_reason, y_mostly_won) == \
        f"filled only for not converted leads: {int((y_mostly_won == 0).sum()):,} rows, " \
        "100 % not converted"
    days_to_close = pd.Series(np.where(y == 1, 30.0 + np.arange(len(y)) % 40, 0.0))
    reason = one_outcome_group(days_to_close, y)
    assert reason.startswith("different from its most common value (0) only for converted")


def test_honest_columns_and_small_or_impure_groups_pass():
    y = _labels(seed=5)
    rng = np.random.default_rng(6)
    visits = pd.Series(rng.poisson(3 + 2 * y))  # informative, never one outcome
    assert one_outcome_group(visits, y) is None
    # eight won leads of their own: pure, but that happens by chance at a 20 % base rate
    small = pd.Series(np.where(np.arange(len(y)) < 8, "rare", "common"))
    assert one_outcome_group(small, np.where(np.arange(len(y)) < 8, 1, y)) is None
    # 97 % converted: a strong segment, not a leak
    mixed = np.where(np.arange(len(y)) < 300, 1, y)
    mixed[:9] = 0
    assert one_outcome_group(pd.Series(np.where(np.arange(len(y)) < 300, "a", "b")),
                             mixed) is None


def test_a_near_pure_level_needs_evidence_a_filled_pattern_does_not():
    # X Education's 'Welingak Website' source: ~92 training leads, nearly all converted
    n = 3000
    y = _labels(n, 0.38, seed=7)
    level = np.arange(n) < 92
    y = np.where(level, 1, y)
    source = pd.Series(np.where(level, "Welingak Website", np.where(np.arange(n) % 2, "Google",
                                                                      "Direct")))
    assert one_outcome_group(source, y) is None  # 92 of 92 is not proof of "always"
    big = np.arange(n) < 400
    y2 = np.where(big, 1, y)
    tags = pd.Series(np.where(big, "Closed by Horizzon", "Ringing"))
    assert one_outcome_group(tags, y2) == \
        "'Closed by Horizzon' only for converted leads: 400 rows, 100 % converted"
    filled = pd.Series(np.where(level, 5.0, np.nan))  # the same 92 rows as a fill pattern
    assert one_outcome_group(filled, y) == \
        "filled only for converted leads: 92 rows, 100 % converted"


# dates -------------------------------------------------------------------------------------------

def _times(n: int, seed: int = 8):
    rng = np.random.default_rng(seed)
    created = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"))
    as_of = created + pd.Timedelta(days=14)
    outcome_at = created + pd.to_timedelta(rng.integers(20, 120, n), "D")
    return created, as_of, outcome_at


def test_dates_after_as_of_or_on_the_outcome_are_flagged():
    n = 400
    created, as_of, outcome_at = _times(n)
    modified = (outcome_at + pd.Timedelta(days=2)).dt.strftime("%Y-%m-%d %H:%M")
    reason = later_dates(modified, created, as_of, outcome_at)
    assert reason is not None and f"for {n:,} of {n:,}" in reason
    converted_on = outcome_at.dt.strftime("%m/%d/%Y")  # kept to the day, as CRMs do
    assert "on or after the outcome" in later_dates(converted_on, created, None, outcome_at)


def test_honest_dates_and_a_few_typos_pass():
    n = 400
    created, as_of, outcome_at = _times(n)
    signup = (created - pd.Timedelta(days=3)).dt.strftime("%Y-%m-%d")
    assert later_dates(signup, created, as_of, outcome_at) is None
    typos = signup.copy()
    typos.iloc[:5] = "2030-01-01"  # 5 of 400: noise, not a pattern
    assert later_dates(typos, created, as_of, outcome_at) is None
    # the creation day itself, for deals won that same day (flat mode, no as_of)
    same_day = created.dt.strftime("%Y-%m-%d")
    assert later_dates(same_day, created, None, created + pd.Timedelta(hours=5)) is None
    assert later_dates(pd.Series(np.arange(n) * 7), created, as_of, outcome_at) is None


# ids ---------------------------------------------------------------------------------------------

def test_ids_are_flagged_measures_and_levels_are_not():
    n = 500
    rng = np.random.default_rng(9)
    uuids = pd.Series([f"{rng.integers(16**8):08x}-{i:04d}" for i in range(n)])
    assert id_like(uuids).startswith(f"id-like: {n:,} distinct values in {n:,} rows")
    lead_number = pd.Series(660_000 - np.arange(n) * 9)  # handed out in order, with gaps
    assert id_like(lead_number) is not None
    revenue = pd.Series(rng.integers(100_000, 900_000_000, n))  # all distinct, but an amount
    assert id_like(revenue) is None
    assert id_like(pd.Series(rng.choice(["a", "b", "c"], n))) is None
    assert id_like(pd.Series(rng.normal(0, 1, n))) is None  # continuous, not an integer key


# target encodings --------------------------------------------------------------------------------

def test_a_conversion_rate_in_disguise_is_flagged():
    n = 4000
    rng = np.random.default_rng(10)
    level = rng.choice(6, n)
    truth = np.array([0.05, 0.15, 0.3, 0.45, 0.6, 0.8])
    y = (rng.random(n) < truth[level]).astype(int)
    rates = pd.Series(y).groupby(level).transform("mean").round(3)  # computed on all leads
    assert target_encoding_like(rates, y).startswith("target-encoding-like: its 6 values")
    assert target_encoding_like((rates * 100).round(1), y) is not None  # a 0-100 percentage


def test_small_counts_at_a_low_base_rate_are_not_an_encoding():
    n = 4000
    rng = np.random.default_rng(11)
    visits = rng.poisson(2, n).clip(0, 6)
    y = (rng.random(n) < 0.02 + 0.01 * visits).astype(int)  # rates near visits/100 by luck
    assert target_encoding_like(pd.Series(visits), y) is None
    assert target_encoding_like(pd.Series(rng.random(n)), y) is None  # many values


# the audit table, the stop and the notes ---------------------------------------------------------

def _suspect_frame():
    y = _labels(1500, 0.2, seed=12)
    rng = np.random.default_rng(13)
    frame = pd.DataFrame({
        "Declared MRR": np.where(y == 1, rng.lognormal(7, 1, len(y)), np.nan),
        "Stage Note": np.where(y == 1, "signed", None),
        "Visits": rng.poisson(3 + y),
        "Tags": rng.choice(["x", "y"], len(y)),
    })
    return frame, y


def test_audit_table_actions_follow_the_users_settings():
    frame, y = _suspect_frame()
    table = audit_columns(frame, y, post_contact={"Tags": "set by sales"},
                          keep={"Stage Note": "written by marketing at sign-up"}, max_auc=0.9)
    rows = table.set_index("column")
    assert {"column", "auc", "value_auc", "missing_auc", "flagged", "reason",
            "action"} <= set(table.columns)
    assert rows.loc["Declared MRR", "action"] == "excluded"
    assert rows.loc["Declared MRR", "missing_auc"] == pytest.approx(1.0)
    assert rows.loc["Declared MRR", "auc"] == max(rows.loc["Declared MRR", "value_auc"],
                                                 rows.loc["Declared MRR", "missing_auc"])
    assert "filled only for converted leads" in rows.loc["Declared MRR", "reason"]
    assert rows.loc["Stage Note", "action"] == "kept: written by marketing at sign-up"
    assert rows.loc["Tags", "action"] == "excluded"
    assert rows.loc["Tags", "reason"].startswith("recorded after contact: set by sales")
    assert rows.loc["Visits", "action"] == "ok" and not rows.loc["Visits", "flagged"]
    notes = kept_notes(table, {"Stage Note": "written by marketing at sign-up"})
    assert len(notes) == 1
    assert notes[0].startswith("kept despite the leakage audit: Stage Note (filled only for ")
    assert notes[0].endswith("): written by marketing at sign-up")


def test_declared_suspect_stops_with_one_line_and_both_ways_out():
    frame, y = _suspect_frame()
    table = audit_columns(frame, y, {}, {}, max_auc=0.9)
    declared = {"Declared MRR": "features.numeric", "Visits": "features.engagement"}
    with pytest.raises(DataError) as raised:
        declared_suspects(table, declared, {}, {}, "leads.csv")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("leads.csv: column 'Declared MRR' looks like a label leak "
                              f"(filled only for converted leads: {int(y.sum()):,} rows, "
                              "100 % converted; missingness AUC 1.000 > 0.90)")
    assert "remove it from features.numeric, list it under dataset.leaky, or keep it with " \
           "dataset.keep: {Declared MRR: \"why it is known before contact\"}" in message
    # listed or kept: the user has decided, nothing stops
    declared_suspects(table, declared, {"Declared MRR": "after the deal"}, {}, "leads.csv")
    declared_suspects(table, declared, {}, {"Declared MRR": "known"}, "leads.csv")


def test_several_suspects_are_named_in_the_one_line():
    frame, y = _suspect_frame()
    table = audit_columns(frame, y, {}, {}, max_auc=0.9)
    declared = {"Declared MRR": "features.numeric", "Stage Note": "features.categorical"}
    with pytest.raises(DataError) as raised:
        declared_suspects(table, declared, {}, {}, "leads.csv")
    message = str(raised.value)
    assert "\n" not in message and "and 1 more:" in message
    assert "'Declared MRR'" in message and "'Stage Note'" in message
    assert len(raised.value.details) == 2


# the stop on the trained model -------------------------------------------------------------------

def _audit_config(**audit):
    config = load_config(ROOT / "configs" / "demo.yaml")
    return SimpleNamespace(audit=config.audit.model_copy(update=audit), dataset=config.dataset)


def test_model_stop_defaults_and_messages():
    config = _audit_config()
    assert (config.audit.stop_auc, config.audit.stop_factor_auc) == (0.98, 0.95)
    check_model_leak(0.85, {"Pricing page interest": 0.71, "Seniority": 0.62}, config)
    with pytest.raises(DataError) as raised:
        check_model_leak(0.995, {"Declared mrr": 0.999, "Seniority": 0.6}, config)
    message = str(raised.value)
    assert "'Declared mrr'" in message and "0.999" in message
    assert "--set audit.stop_auc=1.01" in message and "dataset.leaky" in message
    with pytest.raises(DataError, match=r"'Days to close' alone gives AUC 0\.960.*"
                                        r"audit\.stop_factor_auc=1\.01"):
        check_model_leak(0.90, {"Days to close": 0.96}, config)
    check_model_leak(0.995, {"Declared mrr": 0.999}, _audit_config(stop_auc=1.01,
                                                                   stop_factor_auc=1.01))


def test_factor_aucs_are_oriented_per_factor():
    y = np.array([0, 0, 0, 1, 1, 1])
    points = pd.DataFrame({"up": [1, 2, 3, 4, 5, 6], "down": [6, 5, 4, 3, 2, 1],
                           "flat": [0, 0, 0, 0, 0, 0], "half": [0, 1, 0, 1, 0, 1]})
    aucs = factor_aucs(points, y)
    # half, counted by hand over the 9 (won, lost) pairs: 4 right, 4 tied, 1 wrong
    assert aucs == pytest.approx({"up": 1.0, "down": 1.0, "flat": 0.5, "half": 6 / 9})
    assert list(aucs)[:2] == ["up", "down"]


# config ------------------------------------------------------------------------------------------

def _config_file(tmp_path: Path, dataset: dict) -> Path:
    tree = {"dataset": {"name": "own", "mode": "flat", "leads": "leads.csv",
                        "columns": {"lead_id": "id", "target": "won"}, **dataset},
            "features": {"mode": "flat"}, "split": {"method": "random"}}
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_keep_leaky_is_refused_with_the_new_key(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(_config_file(tmp_path, {"leaky": {"Tags": "sales"}, "keep_leaky": ["Tags"]}))
    message = str(raised.value)
    assert "\n" not in message
    assert "dataset.keep_leaky" in message and "dataset.keep: {column: why}" in message


def test_keep_needs_a_why(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset\.keep: say why .*\['Tags'\]"):
        load_config(_config_file(tmp_path, {"keep": {"Tags": ""}}))
    with pytest.raises(ConfigError, match=r"dataset\.keep: .*mapping"):
        load_config(_config_file(tmp_path, {"keep": ["Tags"]}))
    config = load_config(_config_file(tmp_path, {"keep": {"Tags": "typed in by the lead"}}))
    assert config.dataset.keep == {"Tags": "typed in by the lead"}
