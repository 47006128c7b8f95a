"""report.html of a fresh run: self-contained, every section there, the metrics as computed.

The report is mailed around and attached to CRM tickets, so it must render with no network:
no external scripts, stylesheets, fonts or images, every picture embedded as a data URI.
"""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from pipeline.data.artifacts import Paths, write_table
from pipeline.data.config import load_config
from pipeline.evaluation.report import METRIC_ROWS, render_report
from pipeline.scorers import kinds
from pipeline.stages.outputs import build_report, save_evaluation
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow

SECTIONS = ("metrics", "curves", "factors", "examples", "audit")
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text per section (by the last h2 id)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.section = ""
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if tag == "h2" and attrs.get("id"):
            self.section = attrs["id"]

    def handle_data(self, data):
        self.text.setdefault(self.section, []).append(data)


@pytest.fixture(scope="module")
def report(trained, small_world, tmp_path_factory):
    """report.html (text), evaluation.json and the run folder of the small world's training."""
    _, result, _, activities = trained
    folder = tmp_path_factory.mktemp("report_run")
    cfg = load_config(write_demo_config(folder, small_world))
    paths = Paths(cfg.out_dir)
    write_table(paths.audit, result.audit)  # train writes it before the evaluation
    save_evaluation(cfg, result, activities=activities)  # as `train` and `evaluate` call it
    path = build_report(cfg, paths)
    return path.read_text(), json.loads(paths.metrics.read_text()), paths


def test_example_cards_show_the_next_best_action(report):
    from pipeline.data.actions_schema import BUILTIN_ACTIONS

    html, _, paths = report
    parser = _Tags()
    parser.feed(html)
    text = " ".join(" ".join(parser.text.get("examples", [])).split())
    assert "Next best action" in text and "not a causal effect" in text
    labels = [spec.label for spec in BUILTIN_ACTIONS.values()]
    assert any(f"{label}: +" in text for label in labels), text[:2000]
    scores = pd.read_parquet(paths.test_scores)
    named = scores[f"{kinds.CHALLENGER}_next_action"]
    assert 1 <= (named != "").sum() <= 3  # the example leads only, not every test lead


def test_report_is_self_contained(report):
    html, _, _ = report
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        for name in ("src", "href", "srcset", "data", "poster", "action"):
            assert not EXTERNAL.match(attrs.get(name, "")), f"<{tag} {name}={attrs[name]!r}>"
        assert not (tag == "link" and attrs.get("rel", "").lower() == "stylesheet"), attrs
        assert not (tag == "script" and attrs.get("src")), attrs
    # CSS can fetch too: @import and url(...) must not leave the file
    assert "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.IGNORECASE)
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert len(images) >= 8  # curves, factor figures and example waterfalls
    for attrs in images:
        src = attrs.get("src", "")
        assert src.startswith("data:image/png;base64,"), src[:80]
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
        assert attrs.get("alt"), "every image has alt text"
    # in-page links only point at sections that exist
    ids = {attrs["id"] for _, attrs in parser.tags if "id" in attrs}
    for _, attrs in parser.tags:
        if attrs.get("href", "").startswith("#"):
            assert attrs["href"][1:] in ids


def test_report_has_every_section_and_the_metrics(report):
    html, metrics, _ = report
    parser = _Tags()
    parser.feed(html)
    ids = [attrs["id"] for tag, attrs in parser.tags if tag == "h2" and "id" in attrs]
    # the scorer choice comes first when evaluation.json has one
    assert [i for i in ids if i != "selection"] == list(SECTIONS)
    table = "".join(parser.text["metrics"])
    for scorer in ("model", "rules"):
        for label, key, fmt in METRIC_ROWS:
            value = metrics[scorer].get(key)
            if value is not None:
                assert fmt.format(value) in table, (scorer, label, fmt.format(value))
        m = metrics[scorer]  # every AUC carries its interval
        assert f"{m['roc_auc']:.3f} ({m['auc_ci_low']:.3f}-{m['auc_ci_high']:.3f})" in table
    assert f"{metrics['model']['auc_diff']:+.3f}" in table
    kpis = "".join(parser.text[""])  # the headline numbers above the first section
    assert f"{metrics['model']['roc_auc']:.3f}" in kpis
    assert f"{metrics['split']['test_leads']:,}" in kpis
    # example leads name real test leads and the audit lists audited columns
    examples = "".join(parser.text["examples"])
    assert re.search(r"lead \S+ · score \d+ · grade [ABCD][1-4]", examples)
    assert "column" in "".join(parser.text["audit"])


def test_report_screenshot(request, tmp_path):
    from bench.render_report import find_chromium, screenshot

    if find_chromium() is None:
        pytest.skip("chromium not installed (apt-get install -y chromium); the screenshot is "
                    "a layout check only, the report itself is tested above")
    from PIL import Image

    # requested only now, so that a skip does not first train and render for nothing
    _, _, paths = request.getfixturevalue("report")
    png = screenshot(paths.report, tmp_path / "report.png", height=9000)
    with Image.open(png) as image:
        width, height = image.size
        colours = len(image.convert("RGB").getcolors(maxcolors=width * height))
    assert width == 1280
    assert 3000 < height < 9000  # trimmed to the content, not cut by the window
    assert colours > 50  # rendered charts, not a blank or error page


# --- the template on hand-made inputs (no training): escaping, missing metrics, kind columns ---

HOSTILE = "<script>alert(1)</script>"


class _Tables(HTMLParser):
    """Every table's rows (cell texts), keyed by the section (last h2 id) it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.tables: dict[str, list[list[list[str]]]] = {}
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2" and attrs.get("id"):
            self.section = attrs["id"]
        elif tag == "table":
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.tables[self.section][-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self.section][-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _png() -> bytes:
    from pipeline.evaluation.plots import importance_figure, to_png

    return to_png(importance_figure(pd.Series({"Seniority": 1.0}), "tiny"))


def _inputs(reason: str = "Requested a demo: +18", lead_id: str = "L1"):
    """Metrics, test scores and pictures of a tiny run with every kind (and the oracle)."""
    n = 6
    columns: dict[str, object] = {"lead_id": [lead_id, *(f"L{i}" for i in range(2, n + 1))],
                                  "y": [1, 0, 1, 0, 0, 1]}
    for offset, kind in enumerate(kinds.names()):
        columns[f"{kind}_score"] = [(97 - 15 * i + 40 * offset * (i == 2)) % 100
                                    for i in range(n)]
        columns[f"{kind}_band"] = ["hot"] * n
        columns[f"{kind}_grade"] = ["A"] * n
        columns[f"{kind}_engagement_level"] = [1] * n
        columns[f"{kind}_reason_1"] = [reason] * n
        columns[f"{kind}_reason_2"] = [None] * n
        columns[f"{kind}_reason_3"] = [None] * n
        columns[f"{kind}_points::Seniority"] = np.linspace(-3, 9, n)
        columns[f"{kind}_points::Demo requests"] = np.linspace(5, -1, n)
        columns[f"{kind}_base_score"] = [20.0] * n
    scores = pd.DataFrame(columns)
    metrics: dict[str, object] = {"split": {"train_leads": 10, "valid_leads": 4, "test_leads": n}}
    for offset, name in enumerate((*kinds.names(), "oracle")):
        entry = {key: 0.5 + 0.01 * offset for _, key, _ in METRIC_ROWS}
        entry.update(auc_ci_low=0.4, auc_ci_high=0.6)
        if name != kinds.REFERENCE:
            entry.update(auc_diff=0.02, auc_diff_ci_low=0.01, auc_diff_ci_high=0.03)
        metrics[name] = entry
    png = _png()
    plots = {name: png for name in ("roc", "gains", "calibration",
                                    *(f"score_histogram_{k}" for k in kinds.names()))}
    figures = {f"factor_importance_{k}": png for k in kinds.names()}
    return metrics, scores, plots, figures


def _render(metrics, scores, plots, figures, notes=(), dataset="demo", audit=None) -> str:
    return render_report(dataset, metrics, scores, audit, plots, figures, list(notes))


def test_report_escapes_text_from_the_data():
    metrics, scores, plots, figures = _inputs(reason=HOSTILE, lead_id=HOSTILE)
    audit = pd.DataFrame({"column": [HOSTILE], "auc": [0.61], "flagged": [True],
                          "reason": [HOSTILE], "action": ["excluded"]})
    metrics["segments"] = {HOSTILE: {"leads": 3, "conversions": 1, "choice": HOSTILE}}
    html = _render(metrics, scores, plots, figures, notes=[HOSTILE], dataset=HOSTILE,
                   audit=audit)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    parser = _Tags()
    parser.feed(html)
    assert HOSTILE in "".join(parser.text["examples"])  # shown as text, not run


def test_report_has_one_column_per_kind_and_empty_cells_for_missing_metrics():
    metrics, scores, plots, figures = _inputs()
    missing = kinds.names()[1]
    del metrics[missing]["mql_precision"]
    del metrics[missing]["auc_ci_high"]
    metrics["segments"] = {"academy": {
        "leads": 1897, "conversions": 175, "choice": "segment",
        **{f"{k}_roc_auc": 0.7 for k in kinds.names()},
        **{f"{k}_capture_top_20": 0.5 for k in kinds.names()}}}
    html = _render(metrics, scores, plots, figures)
    text = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", html)
    assert "None" not in text and "nan" not in text
    parser = _Tables()
    parser.feed(html)
    table, segments = parser.tables["metrics"]
    displays = [k.display for k in kinds.KINDS]
    assert table[0] == ["metric (test split)", *displays, "oracle (true p)"]
    rows = {row[0]: row[1:] for row in table[1:]}
    column = kinds.names().index(missing)
    assert rows["MQL precision"][column] == ""
    # half an interval is no interval: the AUC alone
    assert rows["ROC-AUC (95 % CI)"][column] == f"{metrics[missing]['roc_auc']:.3f}"
    assert rows["MQL recall"][column] == f"{metrics[missing]['mql_recall']:.1%}"
    # the best value is in green, never the oracle's (the highest here)
    roc_row = re.search(r"<tr><td>ROC-AUC \(95 % CI\)</td>(.*?)</tr>", html,
                        re.DOTALL).group(1)
    good = [bool(c) for c in re.findall(r"<td( class=\"good\")?>", roc_row)]
    assert good == [*(k == kinds.names()[-1] for k in kinds.names()), False]
    # per segment: every kind, the global model just before the challenger ("selected model")
    expected = [("selected model" if k.name == kinds.CHALLENGER else k.display)
                for k in kinds.KINDS]
    expected.insert(kinds.names().index(kinds.CHALLENGER), "global model")
    assert segments[1] == expected
    global_at = expected.index("global model")
    assert segments[2][4 + global_at] == ""  # no global_model metrics: an empty cell
    assert segments[2][4 + global_at + 1] == "0.700 (50%)"
    # the challenger-minus-reference difference with its CI, and a figure for every kind
    assert "+0.020" in "".join(_tags(html).text["metrics"])
    for kind in kinds.names():
        assert f'alt="factor_importance_{kind}"' in html
        assert f'alt="score_histogram_{kind}"' in html


def test_report_without_a_metric_kind_or_segments_still_renders():
    metrics, scores, plots, figures = _inputs()
    del metrics["oracle"]
    del metrics[kinds.REFERENCE]["ece"]
    html = _render(metrics, scores, plots, figures)
    parser = _Tables()
    parser.feed(html)
    assert len(parser.tables["metrics"]) == 1  # no segments table
    assert parser.tables["metrics"][0][0][1:] == [k.display for k in kinds.KINDS]
    assert [a["id"] for t, a in _tags(html).tags if t == "h2"] == list(SECTIONS)


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_report_flags_time_period_proxies_only_when_there_are_some():
    metrics, scores, plots, figures = _inputs()
    assert "Time-period proxies" not in _render(metrics, scores, plots, figures)
    metrics["time_proxies"] = [{"factor": "Euribor 3m", "feature": "euribor3m",
                                "period_share": 0.934}]
    html = _render(metrics, scores, plots, figures)
    assert "Time-period proxies" in html
    assert "Euribor 3m (euribor3m): 93 % of" in html


def test_report_says_how_conversions_handed_to_sales_are_counted():
    metrics, scores, plots, figures = _inputs()
    assert "routing.capacity_per_week" not in _render(metrics, scores, plots, figures)
    metrics[kinds.CHALLENGER].update(capacity_per_week=40.0, routed_per_week=40.0,
                                     leads_per_week=250.0, held_back_per_week=10.0)
    text = " ".join("".join(_tags(_render(metrics, scores, plots, figures)).text["metrics"])
                    .split())
    assert "best first, at most 40 a week (routing.capacity_per_week)" in text
    assert "40.0 leads a week of 250.0, 10.0 held back" in text
    metrics[kinds.CHALLENGER]["capacity_per_week"] = None
    assert "no cap beyond the MQL rule" in _render(metrics, scores, plots, figures)


def test_report_lists_the_half_life_learned_per_activity():
    metrics, scores, plots, figures = _inputs()
    assert "Half-life learned per activity" not in _render(metrics, scores, plots, figures)
    metrics["decay"] = [
        {"signal": "page_pricing", "half_life_days": 2.0, "source": "learned", "events": 7299,
         "valid_logloss": 0.25, "logloss_at_fallback": 0.25041, "gain": 0.00041,
         "interval_days": [1.0, 3.0], "identified": True, "label": "2 days [1, 3]"},
        {"signal": "webinar_attended", "half_life_days": 14.0, "source": "not identified",
         "events": 3208, "valid_logloss": 0.25, "logloss_at_fallback": 0.25, "gain": 0.0,
         "interval_days": [21.0, 180.0], "identified": False,
         "label": "not identified (21-180 all fit): fallback 14 days"},
        {"signal": "sales_call", "half_life_days": 14.0, "source": "too few events",
         "events": 12, "valid_logloss": None, "logloss_at_fallback": None, "gain": None}]
    metrics["decay_gate"] = {"gain": 0.0000852, "low": -0.000497, "high": 0.000595,
                             "kept": False, "boot": 1000}
    html = _render(metrics, scores, plots, figures)
    assert "Half-life learned per activity" in html
    assert re.search(r"<td>page_pricing</td><td>2 days \[1, 3\]</td><td>learned</td>\s*"
                     r"<td>7,299</td><td>\+0.41</td>", html)
    assert re.search(r"<td>webinar_attended</td><td>not identified \(21-180 all fit\): "
                     r"fallback 14 days</td><td>not identified</td>", html)
    assert re.search(r"<td>sales_call</td><td>14 days</td><td>too few events</td>\s*<td>12</td>"
                     r"<td></td>", html)
    text = " ".join(html.split())
    assert ("Decay gate: the decayed counts save +0.09 x 1e-3 validation log-loss per lead (95 % "
            "bootstrap interval -0.50 to +0.60), so they are dropped from the feature table: "
            "the gain&#39;s interval does not exclude 0.") in text
