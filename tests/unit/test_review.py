"""The notebook's review helpers, on a hand-made test-scores table (no training)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pipeline.data.errors import DataError, ModelError
from pipeline.evaluation import review as review

FACTORS = ("Seniority", "Website visits", "Pricing page interest")


@pytest.fixture
def scores() -> pd.DataFrame:
    """Four test leads in the layout of test_scores.parquet (model + rules columns)."""
    frame = pd.DataFrame({
        "lead_id": ["L1", "L2", "L3", "L4"],
        "y": np.array([1, 0, 0, 1], dtype="int8"),
        "model_score": [80, 10, 35, 50],
        "model_band": ["hot", "cold", "warm", "hot"],
        "model_grade": ["A", "D", "B", "A"],
        "model_engagement_level": [1, 4, 3, 4],
        "model_reason_1": ["Seniority: vp: +40", "Seniority: student: -3",
                           "Visited PRICING 2x in 30 days: +20", "Seniority: director: +30"],
        "model_reason_2": ["Visited pricing 5x in 30 days: +30", "", None, ""],
        "model_reason_3": ["", "", "", ""],
        "model_base_score": 10.0,
        "rules_score": [40, 12, 30, 20],
        "rules_band": ["warm", "cold", "warm", "warm"],
        "rules_grade": ["B", "D", "A", "B"],
        "rules_engagement_level": [2, 4, 2, 3],
        "rules_reason_1": ["Seniority: vp: +20", "", "Pricing page: +15", "Seniority: +8"],
        "rules_reason_2": ["", "", "", ""],
        "rules_reason_3": ["", "", "", ""],
        "rules_base_score": 5.0,
    })
    model_points = {"Seniority": [40, -3, 5, 30], "Website visits": [0, 3, 0, 10],
                    "Pricing page interest": [30, 0, 20, 0]}
    rules_points = {"Seniority": [20, 0, 10, 8], "Website visits": [0, 7, 0, 7],
                    "Pricing page interest": [15, 0, 15, 0]}
    for factor in FACTORS:
        frame[f"model_points::{factor}"] = np.asarray(model_points[factor], dtype=float)
        frame[f"rules_points::{factor}"] = np.asarray(rules_points[factor], dtype=float)
    return frame


@pytest.fixture
def metrics() -> dict:
    return {
        "model": {"roc_auc": 0.85, "brier": 0.050, "capture_top_10": 0.5, "mql_precision": 0.4},
        "rules": {"roc_auc": 0.80, "brier": 0.060, "capture_top_10": 0.5,
                     "mql_precision": 0.6},
        "oracle": {"roc_auc": 0.9},
    }


def spec():
    """Stand-in for a FeatureSpec: factor_groups only reads .features[].factor/.group."""
    groups = {"Seniority": "fit", "Website visits": "engagement",
              "Pricing page interest": "engagement"}
    return SimpleNamespace(features=[SimpleNamespace(factor=f, group=g)
                                     for f, g in groups.items()])


def test_project_root_walks_up_to_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    assert review.project_root(tmp_path / "notebooks" / "deep") == tmp_path.resolve()


def test_resolve_run_relative_to_root_and_env_wins(tmp_path):
    artifacts, config = review.resolve_run("artifacts/demo", "configs/demo.yaml", environ={},
                                           root=tmp_path)
    assert artifacts == tmp_path / "artifacts" / "demo"
    assert config == tmp_path / "configs" / "demo.yaml"
    env = {review.ENV_ARTIFACTS: "/elsewhere/run", review.ENV_CONFIG: "/elsewhere/c.yaml"}
    assert review.resolve_run("artifacts/demo", "configs/demo.yaml", environ=env,
                              root=tmp_path) == (Path("/elsewhere/run"),
                                                 Path("/elsewhere/c.yaml"))
    # an empty variable (e.g. `LEADSCORE_CONFIG= jupyter ...`) does not blank the parameter
    artifacts, config = review.resolve_run("a", None, environ={review.ENV_ARTIFACTS: ""},
                                           root=tmp_path)
    assert artifacts == tmp_path / "a" and config is None


def test_load_run_without_evaluation_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="test_scores.parquet"):
        review.load_run(tmp_path)


def test_metrics_table_marks_the_better_scorer(metrics):
    table = review.metrics_table(metrics)
    assert list(table.columns) == ["model", "rules", "better"]
    assert table.loc["ROC-AUC", "model"] == "0.850" and table.loc["ROC-AUC", "rules"] == "0.800"
    assert table.loc["ROC-AUC", "better"] == "model"
    assert table.loc["Brier", "better"] == "model"  # lower is better
    assert table.loc["MQL precision", "better"] == "rules"
    assert table.loc["Conversions in top 10 %", "better"] == ""  # a tie
    assert table.loc["Conversions in top 10 %", "model"] == "50.0%"
    assert "Log-loss" not in table.index  # in neither scorer's metrics
    raw = review.metrics_table(metrics, formatted=False)
    assert raw.loc["Brier", "rules"] == pytest.approx(0.06)


def test_lead_row_unknown_lead(scores):
    with pytest.raises(DataError, match="L9"):
        review.lead_row(scores, "L9")


def test_lead_points_and_summary(scores):
    points = review.lead_points(scores, "L1")
    assert list(points.index) == list(FACTORS)
    assert points["Pricing page interest"] == 30
    rules = review.lead_points(scores, "L1", "rules")
    assert rules["Seniority"] == 20
    info = review.lead_summary(scores, "L3")
    assert info["score"] == 35 and info["grade"] == "B" and info["engagement_level"] == 3
    assert info["converted"] is False and info["base_score"] == 10.0
    # empty and missing reasons are left out, the rest keep their order
    assert info["reasons"] == ["Visited PRICING 2x in 30 days: +20"]
    assert review.lead_summary(scores, "L1", "rules")["band"] == "warm"


def test_unknown_scorer(scores):
    with pytest.raises(ValueError, match="rules"):
        review.lead_points(scores, "L1", "baseline_v2")


def test_pick_lead(scores):
    assert review.pick_lead(scores, "hot") == "L1"
    assert review.pick_lead(scores, "cold") == "L2"
    assert review.pick_lead(scores, "disagreement") == "L1"  # |80 - 40| is the largest gap
    with pytest.raises(ValueError):
        review.pick_lead(scores, "lukewarm")


def test_high_fit_low_engagement(scores):
    found = review.leads_by_pattern(scores, "high fit, low engagement")
    # A/B grade with engagement level 3/4, best score first
    assert list(found["lead_id"]) == ["L4", "L3"]
    assert list(found.columns) == ["lead_id", "score", "band", "grade", "engagement_level",
                                   "converted", "reason_1", "reason_2", "reason_3"]
    assert found["converted"].tolist() == [True, False]
    # the rules grade the same leads differently
    assert list(review.leads_by_pattern(scores, "high fit, low engagement", "rules")["lead_id"]) \
        == ["L4"]
    with pytest.raises(ValueError, match="high fit"):
        review.leads_by_pattern(scores, "lukewarm")


def test_find_leads_by_reason_text(scores):
    found = review.find_leads(scores, reason="pricing")
    assert list(found["lead_id"]) == ["L1", "L3"]  # case-insensitive, any of the reasons
    assert found.loc[1, "reason_2"] == ""  # missing reasons shown as blank
    assert list(review.find_leads(scores, grades=["A"], reason="seniority")["lead_id"]) == [
        "L1", "L4"]
    assert review.find_leads(scores, levels=[2]).empty
    assert len(review.find_leads(scores)) == 4


def test_pattern_summary(scores):
    summary = review.pattern_summary(scores)
    assert list(summary.index) == list(review.PATTERNS)
    assert summary.loc["high fit, low engagement", "leads"] == 2
    assert summary.loc["high fit, low engagement", "conversion_rate"] == 0.5
    assert summary["leads"].sum() == len(scores)  # the four corners cover every lead
    assert np.isnan(summary.loc["low fit, high engagement", "conversion_rate"])


def test_compare_points(scores):
    table = review.compare_points(scores, "L1", spec=spec())
    assert list(table.columns) == ["model", "rules", "difference", "group"]
    assert list(table.index) == ["Seniority", "Pricing page interest", "Website visits"]
    assert table.loc["Seniority", "difference"] == 20
    assert table.loc["Pricing page interest", "group"] == "engagement"
    assert len(review.compare_points(scores, "L1", top=1)) == 1


def test_figures(scores):
    fig = review.lead_waterfall(scores, "L1")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "base score" and labels[-1] == "score" and "Seniority" in labels
    assert "L1" in fig.axes[0].get_title()
    plt.close(fig)
    table = review.compare_points(scores, "L2")
    fig = review.comparison_figure(table, "L2")
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * len(table)  # one model and one rules bar per factor
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model", "rules"]
    plt.close(fig)
