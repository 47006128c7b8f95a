"""Honest headlines: every AUC with its interval, skill above chance, the first-screen warnings
and the scorer choice, in the report and on the console, from hand-made metrics."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import headlines
from pipeline.evaluation.report import render_report
from pipeline.scorers import kinds

SELECTION = {
    "chosen": "lightgbm",
    "reason": "lightgbm had the best validation AUC and no candidate is within its interval.",
    "candidates": {
        "lightgbm": {"valid_auc": 0.812, "valid_auc_ci_low": 0.790, "valid_auc_ci_high": 0.834,
                     "diff_vs_best": 0.0, "diff_vs_best_ci_low": 0.0,
                     "diff_vs_best_ci_high": 0.0, "test_roc_auc": 0.801,
                     "test_auc_ci_low": 0.781, "test_auc_ci_high": 0.822},
        "logistic": {"valid_auc": 0.781, "valid_auc_ci_low": 0.757, "valid_auc_ci_high": 0.805,
                     "diff_vs_best": -0.031, "diff_vs_best_ci_low": -0.045,
                     "diff_vs_best_ci_high": -0.018, "test_roc_auc": 0.774,
                     "test_auc_ci_low": 0.752, "test_auc_ci_high": 0.796},
    },
}


def _metrics(model_auc=0.846, low=0.826, high=0.866, diff=(0.042, 0.021, 0.063),
             oracle=0.90, selection=None) -> dict:
    def entry(auc, lo, hi):
        return {"roc_auc": auc, "auc_ci_low": lo, "auc_ci_high": hi, "pr_auc": 0.3,
                "brier": 0.07, "log_loss": 0.25, "ece": 0.01}

    metrics = {name: entry(0.804, 0.781, 0.826) for name in kinds.names()}
    metrics[kinds.CHALLENGER] = entry(model_auc, low, high)
    for name in kinds.names():
        if name != kinds.REFERENCE:
            metrics[name].update(auc_diff=diff[0], auc_diff_ci_low=diff[1],
                                 auc_diff_ci_high=diff[2])
    if oracle is not None:
        metrics["oracle"] = entry(oracle, oracle - 0.02, oracle + 0.02)
    metrics["split"] = {"train_leads": 10, "valid_leads": 4, "test_leads": 6}
    if selection is not None:
        metrics["selection"] = selection
    return metrics


def _scores() -> pd.DataFrame:
    n = 6
    columns: dict[str, object] = {"lead_id": [f"L{i}" for i in range(n)], "y": [1, 0, 1, 0, 0, 1]}
    for offset, kind in enumerate(kinds.names()):
        columns[f"{kind}_score"] = [(90 - 13 * i + 7 * offset * (i == 2)) % 100 for i in range(n)]
        columns[f"{kind}_band"] = ["hot"] * n
        columns[f"{kind}_grade"] = ["A"] * n
        columns[f"{kind}_engagement_level"] = [1] * n
        for k in (1, 2, 3):
            columns[f"{kind}_reason_{k}"] = [None] * n
        columns[f"{kind}_points::Seniority"] = np.linspace(-3, 9, n)
        columns[f"{kind}_base_score"] = [20.0] * n
    return pd.DataFrame(columns)


class _Text(HTMLParser):
    """Page text before the first h2 (the first screen) and per h2 section."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2" and attrs.get("id"):
            self.section = attrs["id"]

    def handle_data(self, data):
        self.text.setdefault(self.section, []).append(data)

    def of(self, section: str) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text.get(section, [])))


def _page(metrics: dict) -> tuple[str, _Text]:
    html = render_report("demo", metrics, _scores(), None, {}, {}, [])
    parser = _Text()
    parser.feed(html)
    return html, parser


def test_auc_and_difference_texts():
    assert headlines.auc_text(0.8461, 0.8262, 0.8658) == "0.846 (0.826-0.866)"
    assert headlines.auc_text(0.8461) == "0.846" and headlines.auc_text(None) == ""
    assert headlines.diff_text(0.0104, -0.0157, 0.0312) == "+0.010 (95% CI -0.016 to +0.031)"


def test_skill_above_chance_is_zero_for_a_random_scorer():
    # the case of the issue: a random scorer reads 0.835 "of the oracle" on the plain ratio
    metrics = _metrics(model_auc=0.5, low=0.47, high=0.53, oracle=0.599)
    assert metrics[kinds.CHALLENGER]["roc_auc"] / 0.599 == pytest.approx(0.835, abs=1e-3)
    assert headlines.skill_vs_oracle(metrics, kinds.CHALLENGER) == pytest.approx(0.0)
    assert headlines.skill_vs_oracle(_metrics(model_auc=0.85, oracle=0.9),
                                     kinds.CHALLENGER) == pytest.approx(0.875)
    assert headlines.skill_vs_oracle(_metrics(oracle=None), kinds.CHALLENGER) is None
    assert headlines.skill_vs_oracle(_metrics(oracle=0.5), kinds.CHALLENGER) is None


def test_warnings_for_chance_and_for_not_beating_the_rules():
    assert headlines.warnings(_metrics()) == []
    chance = headlines.warnings(_metrics(model_auc=0.52, low=0.48, high=0.56,
                                         diff=(0.010, -0.016, 0.031)))
    assert chance == [
        "the model's ranking is not distinguishable from chance on these test leads: ROC-AUC "
        "0.520 (0.480-0.560)",
        "the model does not beat your rules on these test leads: AUC difference +0.010 (95% CI "
        "-0.016 to +0.031)"]
    worse = headlines.warnings(_metrics(model_auc=0.40, low=0.36, high=0.44,
                                        diff=(-0.2, -0.25, -0.15)))
    assert worse[0].startswith("the model ranks worse than chance")
    assert "does not beat your rules" in worse[1]
    # an interval touching zero is not a win either
    assert len(headlines.warnings(_metrics(diff=(0.02, 0.0, 0.04)))) == 1


def test_report_first_screen_warns_before_any_metric_table():
    html, page = _page(_metrics(model_auc=0.52, low=0.48, high=0.56,
                                diff=(0.010, -0.016, 0.031)))
    first = page.of("")
    assert "Warning: the model's ranking is not distinguishable from chance on these test " \
           "leads: ROC-AUC 0.520 (0.480-0.560)." in first
    assert "Warning: the model does not beat your rules on these test leads: AUC difference " \
           "+0.010 (95% CI -0.016 to +0.031)." in first
    assert html.index('class="warning"') < html.index("<table")
    healthy, _ = _page(_metrics())
    assert 'class="warning"' not in healthy


def test_report_shows_every_auc_with_its_interval_and_skill_beside_the_ratio():
    _, page = _page(_metrics(model_auc=0.846, low=0.826, high=0.866, oracle=0.90))
    first = page.of("")
    assert "0.846 (0.826-0.866)" in first  # the model's KPI
    assert "0.804 (0.781-0.826)" in first  # the rules' KPI
    assert "+0.042 (95% CI +0.021 to +0.063)" in first  # model minus rules
    assert "model / oracle AUC 0.940" in first
    assert "skill above chance, share of the oracle's 0.865" in first
    table = page.of("metrics")
    assert "ROC-AUC (95 % CI) 0.804 (0.781-0.826)" in table
    assert "0.846 (0.826-0.866)" in table and "0.900 (0.880-0.920)" in table


def test_report_renders_the_scorer_choice_only_when_there_is_one():
    html, page = _page(_metrics(selection=SELECTION))
    assert html.index('id="selection"') < html.index('id="metrics"')
    section = page.of("selection")
    assert "Which scorer was chosen, and why" in section
    assert "The model uses lightgbm : lightgbm had the best validation AUC" in section
    assert "lightgbm (chosen) 0.812 (0.790-0.834) +0.000 (95% CI +0.000 to +0.000) " \
           "0.801 (0.781-0.822)" in section
    assert "logistic 0.781 (0.757-0.805) -0.031 (95% CI -0.045 to -0.018) 0.774 (0.752-0.796)" \
        in section
    assert '<a href="#selection">' in html
    old, _ = _page(_metrics())
    assert 'id="selection"' not in old and "#selection" not in old


def test_console_prints_intervals_skill_warnings_and_the_choice(monkeypatch):
    from rich.console import Console

    from pipeline.cli import tables

    console = Console(width=200, record=True, color_system=None)
    monkeypatch.setattr(tables, "out", console)
    tables.comparison_table(_metrics(model_auc=0.52, low=0.48, high=0.56,
                                     diff=(0.010, -0.016, 0.031), oracle=0.60,
                                     selection=SELECTION))
    text = console.export_text()
    assert "0.520 (0.480-0.560)" in text and "0.600 (0.580-0.620)" in text
    assert f"{kinds.CHALLENGER} - {kinds.REFERENCE} AUC: +0.010 (95% CI -0.016 to +0.031)" in text
    assert "model / oracle AUC 0.867; skill above chance (AUC - 0.5) / (oracle - 0.5) 0.200" \
        in text
    assert "warning: the model's ranking is not distinguishable from chance" in text
    assert "warning: the model does not beat your rules on these test leads" in text
    assert "lightgbm (chosen)" in text and "-0.031 (95% CI -0.045 to -0.018)" in text
    assert text.index("warning:") > text.index("ROC-AUC (95% CI)")  # after the table


def test_console_without_selection_prints_no_choice(monkeypatch):
    from rich.console import Console

    from pipeline.cli import tables

    console = Console(width=200, record=True, color_system=None)
    monkeypatch.setattr(tables, "out", console)
    tables.comparison_table(_metrics())
    text = console.export_text()
    assert "chosen" not in text and "warning" not in text


def _leaves(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_headline_metrics_are_at_most_15_numbers_of_the_full_evaluation():
    """What `dvc metrics show` prints: every kind's AUC, PR-AUC, Brier and ECE, and the model
    minus the rules with its interval; strings, notes, segments and age buckets stay out."""
    metrics = _metrics(selection=SELECTION)
    metrics["notes"] = ["a random split"]
    metrics["by_age"] = {"0-7": {"ece": 0.02}}
    leaves = _leaves(headlines.headline_metrics(metrics))
    assert len(leaves) <= 15
    assert all(isinstance(v, float) for v in leaves.values())
    for name in kinds.names():
        for key in ("roc_auc", "pr_auc", "brier", "ece"):
            assert leaves.pop(f"{name}.{key}") == metrics[name][key]
    model = metrics[kinds.CHALLENGER]
    assert leaves == {"model_minus_rules.auc": model["auc_diff"],
                      "model_minus_rules.ci_low": model["auc_diff_ci_low"],
                      "model_minus_rules.ci_high": model["auc_diff_ci_high"]}
