"""The purge gap of a time split: leads whose label window overlaps the next split are left out.

A hand-built world of 20 leads, one as_of every 10 days (L00 on 2025-01-01 ... L19 on
2025-07-09), so which window reaches into which split can be counted by hand: test is the newest
4 (L16-L19, first as_of 2025-06-10 = day 160), validation the 3 before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipeline.data.config import AsOfRule, SplitConfig
from pipeline.data.dataset import build_training_set, split_leads
from pipeline.data.errors import ConfigError

IDS = [f"L{i:02d}" for i in range(20)]
AS_OF = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(20) * 10, unit="D"),
                  index=pd.Index(IDS, name="lead_id"))
Y = pd.Series([1, 0, 0, 1] * 5, index=AS_OF.index, dtype="int8")
CFG = SplitConfig(valid_fraction=0.15, test_fraction=0.2)  # 3 valid, 4 test of 20


def _ids(split: pd.Series, part: str) -> list[str]:
    return sorted(split.index[split == part])


def test_no_gap_is_the_plain_time_split():
    split = split_leads(AS_OF, Y, CFG, seed=0, gap_days=0)
    assert _ids(split, "test") == IDS[16:]
    assert _ids(split, "valid") == IDS[13:16]
    assert _ids(split, "train") == IDS[:13]


def test_gap_before_test_leaves_out_exactly_the_overlapping_windows():
    # test starts on day 160: with a 35-day gap, as_of + 35 > day 160 means as_of after day
    # 125, i.e. L13 (130), L14 (140), L15 (150) are purged; L12 (120) ends its gap in time.
    split = split_leads(AS_OF.sample(frac=1, random_state=3), Y, CFG, seed=0, gap_days=35)
    assert _ids(split, "test") == IDS[16:]  # the test split does not move
    assert _ids(split, "purged_before_test") == ["L13", "L14", "L15"]
    assert _ids(split, "valid") == ["L10", "L11", "L12"]  # still 3: cut before the gap
    assert _ids(split, "train") == IDS[:10]


def test_a_window_ending_exactly_at_the_boundary_is_kept():
    # as_of + gap == first test as_of: the label is known when the first test lead is scored
    split = split_leads(AS_OF, Y, CFG, seed=0, gap_days=40)
    assert _ids(split, "valid") == ["L10", "L11", "L12"]
    assert _ids(split, "purged_before_test") == ["L13", "L14", "L15"]


def test_gap_before_validation_too():
    # valid starts on L10 (day 100): as_of + 35 > day 100 purges L07 (70), L08, L09
    split = split_leads(AS_OF, Y, CFG, seed=0, gap_days=35, valid_gap_days=35)
    assert _ids(split, "purged_before_valid") == ["L07", "L08", "L09"]
    assert _ids(split, "train") == IDS[:7]
    assert _ids(split, "valid") == ["L10", "L11", "L12"]


def test_gap_longer_than_the_history_leaves_training_empty():
    split = split_leads(AS_OF, Y, CFG, seed=0, gap_days=150, valid_gap_days=150)
    assert _ids(split, "test") == IDS[16:]
    assert _ids(split, "valid") == ["L00", "L01"]  # all there is before the gap
    assert _ids(split, "train") == []


def test_random_split_is_never_purged():
    cfg = SplitConfig(method="random", valid_fraction=0.15, test_fraction=0.2)
    split = split_leads(AS_OF, Y, cfg, seed=1, gap_days=35, valid_gap_days=35)
    assert split.value_counts().to_dict() == {"train": 13, "test": 4, "valid": 3}


def _leads() -> pd.DataFrame:
    """Leads created 14 days before the as_of above; L03 and L15 won 20 days after as_of."""
    created = AS_OF.to_numpy() - np.timedelta64(14, "D")
    won = np.isin(IDS, ["L03", "L15"])
    return pd.DataFrame({
        "lead_id": IDS, "created_at": created.astype("datetime64[ns]"),
        "outcome": np.where(won, "won", "lost"),
        "outcome_at": (AS_OF.to_numpy() + np.timedelta64(20, "D")).astype("datetime64[ns]"),
    })


def _training_set(**split):
    return build_training_set(_leads(), None, "events", AsOfRule(days=14), 30,
                              SplitConfig(**{"valid_fraction": 0.15, "test_fraction": 0.2,
                                             **split}),
                              seed=0, snapshot=pd.Timestamp("2026-01-01"))


def test_training_set_counts_and_explains_the_purge():
    ts = _training_set()  # purge: horizon = 30 days
    # gap 30: as_of + 30 > day 160 purges L14 (140 + 30 = 170) and L15; L13 ends at 160
    assert ts.excluded == {"purged_before_test": 2}
    assert sorted(ts.y.index) == sorted(set(IDS) - {"L14", "L15"})
    assert list(ts.part("valid")) == ["L11", "L12", "L13"]
    assert len(ts.part("test")) == 4 and len(ts.part("train")) == 11
    summary = ts.summary()
    assert summary["excluded_purged_before_test"] == 2
    assert summary["eligible"] == 18 == sum(summary[f"{p}_leads"] for p in
                                            ("train", "valid", "test"))
    assert ts.notes == ["purge gap 30 days (split.purge: horizon): 2 leads just before the test "
                        "split left out because their label window overlaps the next split; no "
                        "gap before the validation split (split.purge_valid: false)"]
    # the won lead in the gap is left out like the lost ones: no purge by outcome date
    assert "L15" not in ts.y.index


def test_purge_in_days_and_zero():
    ts = _training_set(purge=35, purge_valid=True)
    assert ts.excluded == {"purged_before_test": 3, "purged_before_valid": 3}
    assert "purge gap 35 days (split.purge: 35, purge_valid: true): 3 leads just before the " \
           "test split and 3 just before the validation split" in ts.notes[0]
    plain = _training_set(purge=0)
    assert plain.excluded == {} and plain.notes == []
    assert plain.split.equals(split_leads(plain.as_of, plain.y, SplitConfig(), seed=0))


def test_flat_export_is_not_purged_and_refuses_an_explicit_gap():
    leads = pd.DataFrame({"lead_id": IDS, "outcome": ["won", "lost", "lost", "lost"] * 5,
                          "outcome_at": pd.NaT})
    ts = build_training_set(leads, None, "flat", AsOfRule(), 180,
                            SplitConfig(method="time", row_order=True), seed=0)
    assert set(ts.split) == {"train", "valid", "test"} and len(ts.y) == 20
    assert not any("purge" in note for note in ts.notes)
    with pytest.raises(ConfigError, match=r"split.purge: 30 days cannot apply to a flat export"):
        build_training_set(leads, None, "flat", AsOfRule(), 180,
                           SplitConfig(method="time", row_order=True, purge=30), seed=0)


def test_config_accepts_horizon_days_or_zero_and_refuses_the_rest():
    assert SplitConfig().purge == "horizon" and SplitConfig().purge_days(180) == 180
    assert SplitConfig(purge=45).purge_days(180) == 45
    assert SplitConfig(purge=0).purge_days(180) == 0
    for bad in (-1, "quarter", 1.5, True):
        with pytest.raises(ValidationError):
            SplitConfig(purge=bad)
    with pytest.raises(ValidationError, match="needs split.method: time"):
        SplitConfig(method="random", purge=30)
    assert SplitConfig(method="random").purge == "horizon"  # the default is not a request
