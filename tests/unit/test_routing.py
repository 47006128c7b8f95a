"""The routing list: one rule for `score --route` and the report's conversions/week to sales."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.batch.route import default_route_path, route_format, write_route
from pipeline.evaluation.metrics import capacity_view, compare_scorers
from pipeline.explain.routing import FORMATS, ROUTE_COLUMNS, handed_per_week, route, run_capacity

P = np.array([0.9, 0.8, 0.7, 0.7, 0.5, 0.3, 0.2])
MQL = P >= 0.5


def test_route_takes_the_best_mqls_up_to_the_capacity():
    r = route(P, MQL, capacity=3)
    assert r.order.tolist() == [0, 1, 2]
    assert (r.mqls, r.held_back, r.disqualified, r.capacity) == (5, 2, 0, 3)
    everyone = route(P, MQL, capacity=None)
    assert everyone.order.tolist() == [0, 1, 2, 3, 4] and everyone.held_back == 0


def test_route_leaves_out_disqualified_mqls_and_breaks_ties_by_the_tiebreak():
    eligible = np.array([False, True, True, True, True, True, True])
    r = route(P, MQL, capacity=2, eligible=eligible, tiebreak=np.array([0, 0, 9, 1, 0, 0, 0]))
    # rows 2 and 3 tie at 0.7: the smaller tiebreak (row 3) goes first
    assert r.order.tolist() == [1, 3]
    assert (r.mqls, r.held_back, r.disqualified) == (4, 2, 1)


def test_run_capacity_is_the_weekly_cap_times_the_weeks():
    assert run_capacity(None, 3) is None
    assert run_capacity(30, 1) == 30
    assert run_capacity(30, 2.5) == 75
    assert run_capacity(10, 0.25) == 2
    assert run_capacity(30, 1000 / (1000 / 30)) == 30 * 30


def test_capacity_view_golden_with_and_without_a_cap():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.01])
    # 10 rows at 100 leads a week: 0.1 week; 3 MQLs (2 conversions)
    free = capacity_view(y, p, p >= 0.5, leads_per_week=100, capacity_per_week=None)
    assert free["conversions_per_week"] == pytest.approx(30.0)
    assert free["conversions_handed_per_week"] == pytest.approx(20.0)
    assert free["routed_per_week"] == pytest.approx(30.0) and free["held_back_per_week"] == 0
    assert free["capacity_per_week"] is None
    # 20 a week -> 2 leads this 0.1 week: rows 0 and 1, one conversion
    capped = capacity_view(y, p, p >= 0.5, leads_per_week=100, capacity_per_week=20)
    assert capped["conversions_handed_per_week"] == pytest.approx(10.0)
    assert capped["routed_per_week"] == pytest.approx(20.0)
    assert capped["held_back_per_week"] == pytest.approx(10.0)


def test_compare_scorers_hands_over_the_mqls_only_where_there_is_a_rule():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    p = np.linspace(0.9, 0.1, 10)
    out = compare_scorers(y, {"model": p, "oracle": p}, {"model": p >= 0.5}, "model",
                          leads_per_week=10, capacity_per_week=None, n_boot=0)
    assert out["model"]["conversions_handed_per_week"] == pytest.approx(2.0)
    assert "conversions_handed_per_week" not in out["oracle"]


def _scores(p: np.ndarray, mql: np.ndarray, status=None, **extra) -> pd.DataFrame:
    n = len(p)
    frame = pd.DataFrame({
        "lead_id": [f"L{i:03d}" for i in range(n)], "score": np.round(p * 100).astype(int),
        "probability": p, "band": np.where(p >= 0.7, "hot", np.where(p >= 0.4, "warm", "cold")),
        "grade": "A", "engagement_level": pd.array([1] * n, dtype="Int64"),
        "percentile": 50.0, "mql": mql,
        "status": status if status is not None else ["active"] * n, "status_reason": "",
        "reason_1": "Pricing page interest (+12)", "reason_2": "Senior title (+8)",
        "reason_3": None, "model_name": "local", "model_version": "file:abc",
        "scored_at": "2026-03-31T18:00:00",
    })
    for name, values in extra.items():
        frame[name] = values
    return frame


def test_the_route_file_and_the_report_figure_agree(tmp_path):
    """The report's routed leads per week are the leads a route file of the same rows holds."""
    rng = np.random.default_rng(3)
    n, leads_per_week, cap = 2000, 400.0, 60
    p = rng.beta(1, 6, n)
    y = (rng.random(n) < p).astype(int)
    mql = p >= np.quantile(p, 0.8)
    disq = rng.random(n) < 0.05
    figure = handed_per_week(y, p, mql, leads_per_week, cap, eligible=~disq)
    scores = _scores(p, mql, status=np.where(disq, "disqualified", "active"))
    scores.to_parquet(tmp_path / "scores.parquet", index=False)
    weeks = n / leads_per_week
    summary = write_route(tmp_path / "scores.parquet", tmp_path / "route.csv",
                          route_format("generic"), cap, weeks, {}, {})
    routed = pd.read_csv(tmp_path / "route.csv", dtype={"lead_id": str})
    assert summary["routed"] == len(routed) == round(figure["routed_per_week"] * weeks) == 300
    assert summary["held_back"] == round(figure["held_back_per_week"] * weeks)
    won = set(scores["lead_id"][y == 1])
    assert routed["lead_id"].isin(won).sum() == round(figure["conversions_handed_per_week"]
                                                      * weeks)


def test_route_file_best_first_with_held_back_counted(tmp_path):
    p = np.array([0.2, 0.9, 0.6, 0.75, 0.75, 0.3])
    mql = p >= 0.5
    _scores(p, mql).to_parquet(tmp_path / "scores.parquet", index=False)
    path = tmp_path / "route.csv"
    summary = write_route(tmp_path / "scores.parquet", path, route_format("generic"), 3, 1.0,
                          {}, {"mql_rule": "top 20 %"})
    routed = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(routed.columns) == list(ROUTE_COLUMNS)
    assert routed["lead_id"].tolist() == ["L001", "L003", "L004"]  # tie 0.75: id order
    assert routed["rank"].tolist() == ["1", "2", "3"]
    assert (routed["next_action"] == "").all() and (routed["account"] == "").all()
    side = json.loads(path.with_name("route.csv.json").read_text())
    assert side == summary
    assert (side["mqls"], side["routed"], side["held_back"], side["capacity"]) == (4, 3, 1, 3)
    assert side["blank_columns"] == ["next_action", "next_action_gain", "account"]
    assert side["mql_rule"] == "top 20 %"


def test_route_file_picks_up_next_action_and_account_by_name(tmp_path):
    p = np.array([0.9, 0.1])
    frame = _scores(p, p > 0.5, next_action=["Book a demo", "Webinar"],
                    next_action_gain=[12.0, 3.0], account=["acme.com", "beta.io"])
    frame.to_csv(tmp_path / "scores.csv", index=False)
    summary = write_route(tmp_path / "scores.csv", tmp_path / "r.csv", route_format("salesforce"),
                          None, 1.0, {}, {})
    routed = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert routed.loc[0, "LeadScore_Next_Action__c"] == "Book a demo"
    assert routed.loc[0, "LeadScore_Account__c"] == "acme.com"
    assert routed.loc[0, "Rating"] == "Hot" and routed.loc[0, "Id"] == "L000"
    assert len(routed) == 1 and summary["blank_columns"] == []


def test_no_mql_gives_a_header_only_file(tmp_path):
    p = np.array([0.2, 0.3])
    _scores(p, np.zeros(2, dtype=bool)).to_parquet(tmp_path / "s.parquet", index=False)
    summary = write_route(tmp_path / "s.parquet", tmp_path / "r.csv", route_format("hubspot"),
                          10, 1.0, {}, {})
    text = (tmp_path / "r.csv").read_text().splitlines()
    assert len(text) == 1 and text[0].startswith("Record ID,Lifecycle Stage,")
    assert (summary["mqls"], summary["routed"], summary["held_back"]) == (0, 0, 0)


def test_formats_use_the_presets_lead_id_columns():
    from pipeline.stages.profile import load_preset

    for name in ("salesforce", "hubspot"):
        layout = route_format(name)
        assert layout.headers["lead_id"] == load_preset(name)["dataset"]["columns"]["lead_id"]
    assert route_format("salesforce").headers["band"] == "Rating"
    custom = [h for c, h in FORMATS["salesforce"].headers.items() if c not in ("lead_id", "band")]
    assert all(h.endswith("__c") for h in custom)


def test_route_path_and_inputs_refused(tmp_path):
    from pipeline.data.errors import ConfigError

    assert default_route_path(tmp_path / "scores.parquet") == tmp_path / "scores.route.csv"
    _scores(np.array([0.9]), np.array([True])).to_parquet(tmp_path / "s.parquet", index=False)
    with pytest.raises(ConfigError, match="is the --output file"):
        write_route(tmp_path / "s.parquet", tmp_path / "s.parquet", route_format("generic"),
                    None, 1.0, {"--output": tmp_path / "s.parquet"}, {})
    with pytest.raises(ConfigError, match="--route-format 'pipedrive'"):
        route_format("pipedrive")


@pytest.mark.parametrize("value", ["0", "-5"])
def test_capacity_zero_or_negative_is_refused(value, tmp_path):
    from pipeline.data.config import load_config
    from pipeline.data.errors import ConfigError
    from tests.conftest import ROOT

    with pytest.raises(ConfigError, match="routing.capacity_per_week"):
        load_config(ROOT / "configs" / "demo.yaml",
                    {"routing": {"capacity_per_week": int(value)}})


def test_conversions_handed_carry_a_bootstrap_interval():
    from pipeline.evaluation.headlines import scorer_handed

    rng = np.random.default_rng(8)
    p = rng.beta(1, 6, 1500)
    y = (rng.random(1500) < p).astype(int)
    mql = p >= np.quantile(p, 0.8)
    out = compare_scorers(y, {"model": p}, {"model": mql}, "model", leads_per_week=150,
                          capacity_per_week=20, n_boot=200, seed=1)["model"]
    low, value, high = (out["conversions_handed_ci_low"], out["conversions_handed_per_week"],
                        out["conversions_handed_ci_high"])
    assert low < value < high
    again = compare_scorers(y, {"model": p}, {"model": mql}, "model", leads_per_week=150,
                            capacity_per_week=20, n_boot=200, seed=1)["model"]
    assert again["conversions_handed_ci_low"] == low  # seeded
    assert scorer_handed({"model": out}, "model") == f"{value:.1f} ({low:.1f}-{high:.1f})"


def test_the_readme_names_every_column_of_every_format():
    from tests.conftest import ROOT

    section = (ROOT / "README.md").read_text().split("## For sales operations", 1)[1]
    section = section.split("\n## ", 1)[0]
    for layout in FORMATS.values():
        for header in (*layout.headers.values(), *layout.constants, *layout.constants.values()):
            assert f"`{header}`" in section, f"{layout.name}: {header} not in the README"
