"""The monitor's pure core on a hand-made frame: statuses, labels, counts, tables, the alarm."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.monitor import deciles, join_outcomes, judge, monitor
from pipeline.evaluation.monitor_report import render_monitor

T = pd.Timestamp
SNAPSHOT = T("2025-07-01")
HORIZON = 90
JAN, MAY = T("2025-01-01"), T("2025-05-01")

# L1 won inside the horizon, L2 lost, L3 still open, L4 won before the January as_of, L5 won
# after the January horizon ended (2025-04-01), L6 undated win; L9 is not in the outcomes.
OUTCOMES = pd.DataFrame({
    "lead_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
    "outcome": ["won", "lost", "open", "won", "won", "won"],
    "outcome_at": [T("2025-02-10"), T("2025-03-01"), pd.NaT, T("2024-12-20"), T("2025-06-01"),
                   pd.NaT],
})


def _scores(version: str, as_of: pd.Timestamp, probs: dict[str, float], mql=()) -> pd.DataFrame:
    ids = list(probs)
    return pd.DataFrame({
        "lead_id": ids, "model_name": "m", "model_version": version, "as_of": as_of,
        "probability": [probs[i] for i in ids],
        "band": ["hot" if probs[i] >= 0.5 else "cold" for i in ids],
        "mql": [i in mql for i in ids],
    })


JANUARY = _scores("1", JAN, {"L1": 0.6, "L2": 0.2, "L3": 0.1, "L4": 0.5, "L5": 0.3, "L6": 0.4,
                             "L9": 0.4}, mql=("L1", "L2"))
MAY_SCORES = _scores("1", MAY, {"L3": 0.1, "L5": 0.3})


def test_statuses_and_labels_follow_the_training_rule():
    joined = join_outcomes(pd.concat([JANUARY, MAY_SCORES]), OUTCOMES, HORIZON, SNAPSHOT)
    status = dict(zip(joined["lead_id"] + "@" + joined["month"], joined["status"], strict=True))
    assert status == {
        "L1@2025-01": "matured", "L2@2025-01": "matured", "L3@2025-01": "matured",
        "L4@2025-01": "decided_before_as_of", "L5@2025-01": "matured",
        "L6@2025-01": "undated_outcome", "L9@2025-01": "missing",
        # May + 90 days = 2025-07-30, after the snapshot: not judged, even L5 which was won
        "L3@2025-05": "pending", "L5@2025-05": "pending",
    }
    y = joined.set_index(joined["lead_id"] + "@" + joined["month"])["y"]
    # L5 was won, but after its January horizon: a 0, as training labels it
    assert y[["L1@2025-01", "L2@2025-01", "L3@2025-01", "L5@2025-01"]].tolist() == [1, 0, 0, 0]
    assert y[["L4@2025-01", "L9@2025-01", "L3@2025-05"]].isna().all()


def test_undated_outcomes_dated_at_the_horizon_when_configured():
    joined = join_outcomes(JANUARY, OUTCOMES, HORIZON, SNAPSHOT, missing_outcome_at="horizon")
    row = joined.set_index("lead_id").loc["L6"]
    assert row["status"] == "matured" and row["y"] == 1


def test_group_counts_tables_and_metrics_by_hand():
    result = monitor(pd.concat([JANUARY, MAY_SCORES]), OUTCOMES, horizon_days=HORIZON,
                     snapshot=SNAPSHOT, ece_limit=0.05, min_matured=1, n_boot=50)
    groups = {g["month"]: g for g in result.groups}
    assert list(groups) == ["2025-01", "2025-05", "all"]
    jan = groups["2025-01"]
    assert (jan["scored"], jan["matured"], jan["pending"], jan["decided_before_as_of"],
            jan["missing"], jan["undated_outcome"], jan["conversions"]) == (7, 4, 0, 1, 1, 1, 1)
    assert jan["observed"] == pytest.approx(0.25)
    assert jan["mean_probability"] == pytest.approx((0.6 + 0.2 + 0.1 + 0.3) / 4)
    # Brier by hand: (0.4^2 + 0.2^2 + 0.1^2 + 0.3^2) / 4
    assert jan["brier"] == pytest.approx((0.16 + 0.04 + 0.01 + 0.09) / 4)
    assert jan["ece_adaptive_ci_low"] <= jan["ece_adaptive"] <= jan["ece_adaptive_ci_high"]
    assert jan["roc_auc"] == pytest.approx(1.0)  # the one win has the highest probability
    # MQL: L1 (won) and L2 (lost) flagged among the matured: precision 1/2, recall 1/1
    assert (jan["mql_precision"], jan["mql_recall"]) == (0.5, 1.0)
    bands = {r["group"]: (r["leads"], r["conversions"]) for r in jan["by_band"]}
    assert bands == {"hot": (1, 1), "cold": (3, 0)}
    assert [r["leads"] for r in jan["by_decile"]] == [1, 1, 1, 1]
    assert sum(r["leads"] for r in jan["by_band"]) == jan["matured"]
    may = groups["2025-05"]
    assert (may["scored"], may["pending"], may["matured"]) == (2, 2, 0)
    assert may["ece_adaptive"] is None and not may["alarm"] and may["auc_note"]
    assert groups["all"]["matured"] == 4 and groups["all"]["pending"] == 2
    assert result.totals() == {"scored": 9, "matured": 4, "pending": 2,
                               "decided_before_as_of": 1, "missing": 1, "undated_outcome": 1}


def test_one_outcome_only_gives_no_auc_and_no_crash():
    rows = join_outcomes(_scores("1", JAN, {"L2": 0.2, "L3": 0.1}), OUTCOMES, HORIZON, SNAPSHOT)
    entry = judge(rows, ece_limit=0.05, min_matured=1, n_boot=20)
    assert entry["roc_auc"] is None and "undefined" in entry["auc_note"]
    assert entry["ece_adaptive"] == pytest.approx(0.15)  # |0 - 0.3| / 2 in one equal-mass bin
    assert np.isnan(entry["mql_precision"])  # nothing flagged: n/a, never 0


def test_alarm_needs_the_whole_interval_above_the_limit_and_enough_leads():
    rng = np.random.default_rng(0)
    n = 4000
    p = rng.uniform(0.02, 0.3, n)
    won = rng.random(n) < p
    ids = [f"X{i}" for i in range(n)]
    outcomes = pd.DataFrame({"lead_id": ids, "outcome": np.where(won, "won", "lost"),
                             "outcome_at": JAN + pd.Timedelta(days=10)})

    def run(probs, min_matured=200):
        scores = pd.DataFrame({"lead_id": ids, "model_name": "m", "model_version": "2",
                               "as_of": JAN, "probability": probs, "band": "warm",
                               "mql": probs > 0.2})
        return monitor(scores, outcomes, horizon_days=HORIZON, snapshot=SNAPSHOT,
                       ece_limit=0.03, min_matured=min_matured, n_boot=100).groups[0]

    calibrated, halved = run(p), run(p / 2)
    assert not calibrated["alarm"] and calibrated["ece_adaptive_ci_low"] < 0.03
    assert halved["alarm"] and halved["ece_adaptive_ci_low"] > 0.03
    assert not run(p / 2, min_matured=n + 1)["alarm"]  # too few to judge: shown, not alarmed


def test_repeated_scores_count_once_with_a_note():
    result = monitor(pd.concat([JANUARY, JANUARY]), OUTCOMES, horizon_days=HORIZON,
                     snapshot=SNAPSHOT, ece_limit=0.05, min_matured=1, n_boot=20)
    assert result.groups[0]["scored"] == 7
    assert any("7 scores repeated" in note for note in result.notes)


def test_deciles_are_equal_mass_best_first():
    assert deciles(np.array([0.1, 0.9, 0.5])).tolist() == [3, 1, 2]
    assert np.bincount(deciles(np.linspace(0, 1, 95)))[1:].tolist() == [10] * 5 + [9] * 5


def test_page_and_json_carry_an_extra_funnel_section():
    result = monitor(JANUARY, OUTCOMES, horizon_days=HORIZON, snapshot=SNAPSHOT,
                     ece_limit=0.05, min_matured=1, n_boot=20)
    result.sections["funnel"] = {"title": "Lifecycle funnel", "tables": [
        {"title": "by band", "columns": ["band", "MQL -> SQL"], "rows": [["hot", "40%"]]}]}
    summary = result.to_dict()
    assert summary["funnel"]["title"] == "Lifecycle funnel"
    json.dumps(summary, default=str)
    page = render_monitor(summary, None, "demo")
    assert "Lifecycle funnel" in page and "MQL -&gt; SQL" in page and "2025-01" in page


def test_reliability_plot_draws_one_line_per_month_with_matured_leads():
    from pipeline.evaluation.plots import reliability_figure

    result = monitor(pd.concat([JANUARY, MAY_SCORES]), OUTCOMES, horizon_days=HORIZON,
                     snapshot=SNAPSHOT, ece_limit=0.05, min_matured=1, n_boot=20)
    # January only: May has no matured lead, and "all" would repeat January
    labels = [line.get_label() for line in reliability_figure(result.groups).axes[0].lines]
    assert labels == ["m 1 2025-01 (4 matured)", "perfect"]
