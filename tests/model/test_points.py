"""The learned points table: golden steps, the MQL line, a file the RuleScorer runs unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.scorers.learned_points import place_mql_threshold, points_table
from pipeline.scorers.points_table import NICE_MANTISSAS, nice_edges, nice_number
from pipeline.scorers.rules import RulesBook, RuleScorer, Step, load_rules, write_rules
from tests.conftest import write_demo_config

runner = CliRunner()


def test_edges_are_whole_units_then_nice_numbers():
    counts = np.array([0.0] * 90 + [1, 1, 1, 2, 2, 3, 4, 6, 9, 15])
    # Steps among the leads that have any, in whole events; never below one event.
    edges = nice_edges(counts)
    assert edges[0] == 1.0 and edges == sorted(edges) and edges[-1] <= 15
    assert all(float(e).is_integer() for e in edges)
    assert [nice_number(v) for v in (0.00075, 2.6, 14, 92, 270, 175_882_113)] == [
        0.0, 3.0, 15.0, 100.0, 250.0, 200_000_000.0]


def test_a_missing_value_gets_its_own_step_and_big_edges_are_nice():
    values = np.array([np.nan, 10.0, 175_882_113.0, 3_123_456.0, 10.0, 52_000.0])
    edges = nice_edges(values)
    assert edges[0] == 10.0  # "has a value at all" separates known from missing
    assert 3_000_000.0 in edges and max(edges) <= 175_882_113.0
    # Wide ranges: a mantissa of 1, 1.5, 2, 2.5, 3, 4, 5 or 7.5 times a power of ten.
    assert all(e / 10 ** np.floor(np.log10(e)) in NICE_MANTISSAS for e in edges)


def test_a_field_spanning_less_than_a_whole_unit_gets_no_steps():
    # Seconds-long inactivity or a 0-1 rate: no step a person would type fits inside.
    assert nice_edges(np.array([0.0005, 0.001, 0.3, 0.2, 0.00075])) == []


def test_mql_line_by_capacity_and_by_precision():
    points = np.arange(100, dtype=float)  # one lead per whole point 0..99
    y = (points >= 70).astype(int)
    assert place_mql_threshold(points, y, capacity=0.2) == 80.0
    assert place_mql_threshold(points, y, precision=1.0) == 70.0
    assert place_mql_threshold(points, y, precision=0.5) == 40.0


def test_points_table_has_one_row_per_rule_with_the_start_and_the_mql_line():
    book = RulesBook(name="t", mql_threshold=100, base_points=40,
                     attributes={"industry": {"software": 12, "education": -8}},
                     flags={"is_free_mail": -10},
                     thresholds={"page_pricing_30d": [Step(min=1, points=8),
                                                      Step(min=3, points=6)]})
    table = points_table(book)
    assert len(table) == 1 + 2 + 1 + 2 + 1
    assert table.iloc[0].to_dict() == {"factor": "Start", "field": "every lead",
                                       "condition": "starts with", "points": 40,
                                       "rule": "base_points"}
    pricing = table[table["field"] == "page_pricing_30d"]
    assert pricing["condition"].tolist() == [">= 1", ">= 3"]
    assert table.iloc[-1]["condition"] == ">= 100"


@pytest.mark.slow
def test_learned_table_loads_unchanged_and_scores_the_same(trained, tmp_path):
    cfg, result, _, _ = trained
    scorer = result.packages["learned_points"].scorer
    path = tmp_path / "learned.yaml"
    write_rules(scorer.points_book(), path)
    book = load_rules(path)
    assert book == scorer.points_book()
    ts = result.training_set
    X = result.X
    train, valid, test = (ts.part(p) for p in ("train", "valid", "test"))
    again = RuleScorer(spec=scorer.spec, book=book, windows=scorer.windows,
                       dropped=scorer.dropped).fit(X.loc[train], ts.y.loc[train],
                                                   X.loc[valid], ts.y.loc[valid])
    np.testing.assert_array_equal(again.decision_function(X.loc[test]),
                                  scorer.decision_function(X.loc[test]))
    # Whole points, and the MQL line at 100 catches about the configured 20 % of leads.
    totals = scorer.decision_function(X.loc[valid])
    assert np.all(totals == np.round(totals))
    assert 0.1 <= np.mean(totals >= 100) <= 0.3


@pytest.mark.slow
def test_learned_points_beat_the_hand_made_rules_on_the_synthetic_world(trained):
    _, result, _, _ = trained
    learned, rules = result.metrics["learned_points"], result.metrics["rules"]
    assert learned["roc_auc"] > rules["roc_auc"]
    assert learned["capture_top_20"] > rules["capture_top_20"]


@pytest.mark.slow
@pytest.mark.realdata
def test_learned_points_beat_the_hand_made_rules_on_x_education(x_education_trained):
    _, result = x_education_trained
    learned, rules = result.metrics["learned_points"], result.metrics["rules"]
    assert learned["roc_auc"] > rules["roc_auc"]
    assert learned["capture_top_20"] > rules["capture_top_20"]


@pytest.mark.slow
def test_points_command_writes_the_rules_file_and_the_admin_csv(trained, small_world, tmp_path):
    cfg, result, _, _ = trained
    config = write_demo_config(tmp_path, small_world)
    from pipeline.data.config import load_config

    out_dir = load_config(config).out_dir
    result.packages["learned_points"].save(out_dir / "packages" / "learned_points.pkl")
    target = tmp_path / "demo-learned.yaml"
    run = runner.invoke(app, ["points", "--config", str(config), "--out", str(target)])
    assert run.exit_code == 0, run.output
    assert load_rules(target) == result.packages["learned_points"].scorer.points_book()
    table = pd.read_csv(target.with_suffix(".csv"))
    assert {"factor", "field", "condition", "points", "rule"} <= set(table.columns)
    assert "email" not in " ".join(table["field"].astype(str)).split()


def test_points_command_without_a_trained_table_is_one_clear_line(small_world, tmp_path):
    config = write_demo_config(tmp_path, small_world)
    run = runner.invoke(app, ["points", "--config", str(config)])
    assert run.exit_code == 2
    assert "no learned points table yet (run `leadscore train` first)" in run.output
    assert "Traceback" not in run.output
