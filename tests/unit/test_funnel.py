"""The lifecycle funnel against a hand count on a small fixture where every branch occurs.

Horizon 30 days, export of 2025-06-30: a score row has matured when as_of + 30 days is on or
before the snapshot (as_of up to 2025-05-31). The comment on each row says what it reaches within
its window; the expected tables below were counted by hand from those comments.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from pipeline.evaluation.funnel import lifecycle_funnel, wilson_interval

NaT = None
STAGES = {"mql": "mql_at", "sql": "sql_at", "opportunity": "opportunity_at", "won": "won_at"}
SNAPSHOT = pd.Timestamp("2025-06-30")

# lead, mql_at, sql_at, opportunity_at, won_at
LEADS = [
    ("L1", "2025-01-02", "2025-01-10", "2025-01-20", "2025-01-25"),
    ("L2", "2025-01-05", "2025-01-20", "2025-02-15", NaT),  # opportunity after its window
    ("L3", "2025-02-02", NaT, NaT, NaT),                    # an MQL that goes nowhere
    ("L4", "2025-06-16", "2025-06-20", NaT, NaT),           # pending
    ("L5", "2025-03-03", "2025-03-05", NaT, NaT),
    ("L6", "2025-03-10", "2025-04-15", NaT, NaT),           # SQL after its window
    ("L7", NaT, "2025-03-15", "2025-03-20", NaT),           # skipped MQL: not in mql->sql
    ("L8", NaT, NaT, NaT, NaT),                             # pending
    ("L9", NaT, NaT, NaT, NaT),                             # reaches nothing
    ("L10", "2025-04-02", "2025-04-03", "2025-04-04", "2025-04-30"),
    ("L11", "2025-03-01", "2025-03-15", NaT, NaT),          # both before its as_of: reached
    ("L12", "2025-06-21", NaT, NaT, NaT),                   # pending
    ("L13", "2025-06-01", "2025-06-30", NaT, NaT),          # window ends on the snapshot day
]
# lead, as_of, band, LeadScore MQL
SCORES = [
    ("L1", "2025-01-01", "hot", True),      # mql sql opp won
    ("L2", "2025-01-01", "hot", True),      # mql sql
    ("L3", "2025-02-01", "hot", True),      # mql
    ("L4", "2025-06-15", "hot", True),      # pending
    ("L13", "2025-05-31", "hot", True),     # mql sql (SQL on the window's last day)
    ("L5", "2025-03-01", "warm", True),     # mql sql
    ("L6", "2025-03-01", "warm", False),    # mql
    ("L7", "2025-03-01", "warm", False),    # sql opp
    ("L1", "2025-01-20", "warm", False),    # L1 scored again: mql sql opp won
    ("L8", "2025-06-10", "warm", False),    # pending
    ("L9", "2025-04-01", "cold", False),    # nothing
    ("L10", "2025-04-01", "cold", False),   # mql sql opp won
    ("L11", "2025-04-01", "cold", False),   # mql sql
    ("L12", "2025-06-20", "cold", False),   # pending
    ("L99", "2025-01-01", "cold", True),    # not in the export: left out
]
# CRM MQLs of the training period, each judged 30 days after its own MQL date
TRAINING = [
    ("T1", "2024-01-01", "2024-01-10"),  # reached
    ("T2", "2024-01-01", NaT),           # never
    ("T3", "2024-02-01", "2024-04-01"),  # too late: never
    ("T4", "2024-03-01", "2024-03-31"),  # exactly 30 days: reached
    ("T5", NaT, "2024-03-31"),           # not a CRM MQL
    ("T6", "2025-06-15", NaT),           # window not over: not judged
    *((f"T{i}", "2024-05-01", "2024-05-02") for i in range(7, 11)),  # reached
]

# step -> band -> (reached the first stage, then the second), counted from the comments above
EXPECTED_STEPS = {
    "mql->sql": {"hot": (4, 3), "warm": (3, 2), "cold": (2, 2), "all": (9, 7)},
    "sql->opportunity": {"hot": (3, 1), "warm": (3, 2), "cold": (2, 1), "all": (8, 4)},
    "opportunity->won": {"hot": (1, 1), "warm": (2, 1), "cold": (1, 1), "all": (4, 3)},
}
# mql->sql days: hot L1 8, L2 15, L13 29; warm L5 2, L1 8; cold L10 1, L11 14
EXPECTED_MQL_SQL_DAYS = {
    "hot": (3, 11.5, 15.0, 22.0), "warm": (2, 3.5, 5.0, 6.5), "cold": (2, 4.25, 7.5, 10.75),
    "all": (7, 5.0, 8.0, 14.5),
}


def _leads(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["lead_id", *STAGES.values()])
    for column in STAGES.values():
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _scores(rows=SCORES) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["lead_id", "as_of", "band", "mql"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


def _training() -> pd.DataFrame:
    frame = pd.DataFrame(TRAINING, columns=["lead_id", "mql_at", "sql_at"])
    return frame.assign(mql_at=pd.to_datetime(frame["mql_at"]),
                        sql_at=pd.to_datetime(frame["sql_at"]))


@pytest.fixture(scope="module")
def report():
    return lifecycle_funnel(_leads(LEADS), _scores(), STAGES, 30, SNAPSHOT, _training())


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The textbook formula, independent of scipy."""
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


def test_step_counts_match_the_hand_count(report):
    steps = report.steps
    assert list(dict.fromkeys(steps["step"])) == list(EXPECTED_STEPS)
    assert list(dict.fromkeys(steps["band"])) == ["hot", "warm", "cold", "all"]
    for row in steps.itertuples():
        entered, reached = EXPECTED_STEPS[row.step][row.band]
        assert (row.reached_from, row.reached_to) == (entered, reached), (row.step, row.band)
        assert row.share == pytest.approx(reached / entered)
        assert (row.low, row.high) == pytest.approx(_wilson(reached, entered))
        assert row.low <= row.share <= row.high
        assert row.pending == (3 if row.band == "all" else 1)


def test_counts_say_what_was_judged(report):
    assert report.counts == {"rows": 15, "matured": 11, "pending": 3, "unknown_leads": 1}


def test_mql_to_sql_days_match_the_hand_count(report):
    timing = report.timing[report.timing["step"] == "mql->sql"].set_index("band")
    for band, (n, q1, median, q3) in EXPECTED_MQL_SQL_DAYS.items():
        row = timing.loc[band]
        assert (row["n"], row["q1_days"], row["median_days"], row["q3_days"]) == \
            pytest.approx((n, q1, median, q3)), band


def test_too_generous_against_the_training_period(report):
    g = report.generous
    assert g["next_stage"] == "sql"
    # LeadScore MQLs matured: L1, L2, L3, L13, L5; only L3 never reached SQL; L4 pending
    assert {k: g["leadscore"][k] for k in ("n", "never", "pending")} == \
        {"n": 5, "never": 1, "pending": 1}
    assert (g["leadscore"]["low"], g["leadscore"]["high"]) == pytest.approx(_wilson(1, 5))
    # training: 8 judged (T1-T4, T7-T10), T2 and T3 never
    assert (g["training"]["n"], g["training"]["never"]) == (8, 2)
    assert g["training"]["share"] == pytest.approx(0.25)
    assert g["verdict"] == "in_line"
    assert g["sentence"].startswith(
        "The model is not too generous: 20% (95% CI 4%-62%) of 5 matured")


def test_a_generous_model_is_called_too_generous():
    # 40 LeadScore MQLs, 30 of which never reach SQL in 30 days, against 25 % in training
    leads = _leads([(f"G{i}", "2025-01-02", "2025-01-05" if i < 10 else NaT, NaT, NaT)
                    for i in range(40)])
    scores = _scores([(f"G{i}", "2025-01-01", "hot", True) for i in range(40)])
    g = lifecycle_funnel(leads, scores, STAGES, 30, SNAPSHOT, _training()).generous
    assert (g["leadscore"]["n"], g["leadscore"]["never"]) == (40, 30)
    assert g["leadscore"]["low"] > 0.25
    assert g["verdict"] == "too_generous"
    assert g["sentence"].startswith("The model is too generous: 75% (95% CI 60%-86%) of 40")


def test_nothing_matured_is_not_judged():
    scores = _scores([("L4", "2025-06-15", "hot", True)])
    report = lifecycle_funnel(_leads(LEADS), scores, STAGES, 30, SNAPSHOT, _training())
    assert report.generous["verdict"] is None
    assert report.generous["sentence"].startswith("Not judged yet")
    assert report.steps["reached_from"].eq(0).all() and report.steps["share"].isna().all()


def test_to_dict_is_json_and_tables_are_frames(report):
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["stages"] == ["mql", "sql", "opportunity", "won"]
    assert data["steps"][0] == {**data["steps"][0], "step": "mql->sql", "band": "hot",
                                "reached_from": 4, "reached_to": 3}
    tables = report.tables()
    assert set(tables) == {"steps", "timing", "generous"}
    assert tables["generous"]["group"].tolist() == ["leadscore_mql", "training_crm_mql"]


def test_html_fragment_shows_the_counts_and_the_sentence(report):
    html = report.to_html()
    assert html.lstrip().startswith("<section id=\"funnel\">")
    assert "75% (3/4; 30%-95%)" in html  # hot mql->sql
    assert report.generous["sentence"] in html
    assert "<td>hot</td><td>3</td><td>12</td><td>15</td><td>22</td>" in html


def test_a_score_file_scored_at_is_its_as_of(report):
    # batch score files carry the as_of they were scored at as ISO text, `scored_at`
    scores = _scores().rename(columns={"as_of": "scored_at"})
    scores["scored_at"] = scores["scored_at"].map(pd.Timestamp.isoformat)
    again = lifecycle_funnel(_leads(LEADS), scores, STAGES, 30, SNAPSHOT, _training())
    pd.testing.assert_frame_equal(again.steps, report.steps)
    assert again.generous == report.generous


def test_fewer_stages_make_fewer_steps():
    stages = {"sql": "sql_at", "opportunity": "opportunity_at"}
    report = lifecycle_funnel(_leads(LEADS), _scores(), stages, 30, SNAPSHOT)
    assert report.steps["step"].unique().tolist() == ["sql->opportunity"]
    # no mql stage: "too generous" asks about the first stage, and has no reference
    assert report.generous["next_stage"] == "sql"
    assert report.generous["verdict"] is None


def test_one_stage_judges_mqls_without_steps():
    # Salesforce's Lead export: ConvertedDate (the step to an opportunity) is the only stage
    report = lifecycle_funnel(_leads(LEADS), _scores(), {"opportunity": "opportunity_at"}, 30,
                              SNAPSHOT, _training())
    assert report.steps.empty and report.timing.empty
    g = report.generous
    # matured LeadScore MQLs L1, L2, L3, L13, L5: only L1 reached an opportunity in its window
    assert (g["next_stage"], g["leadscore"]["n"], g["leadscore"]["never"]) == \
        ("opportunity", 5, 4)
    assert g["training"] is None and g["verdict"] is None  # no CRM MQL date: no reference
    assert "no training-period reference" in g["sentence"]
    html = report.to_html()
    assert g["sentence"] in html and "<table>" not in html
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["steps"] == []


def test_bad_stages_are_refused():
    with pytest.raises(ValueError, match="unknown stage"):
        lifecycle_funnel(_leads(LEADS), _scores(), {"demo": "mql_at", "sql": "sql_at"}, 30,
                         SNAPSHOT)
    with pytest.raises(ValueError, match="at least one stage"):
        lifecycle_funnel(_leads(LEADS), _scores(), {}, 30, SNAPSHOT)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['sql_at'\]"):
        lifecycle_funnel(_leads(LEADS).drop(columns="sql_at"), _scores(), STAGES, 30, SNAPSHOT)


def test_wilson_interval_edges():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(_wilson(0, 10)[1])
