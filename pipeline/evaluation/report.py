"""Self-contained HTML report for analysts: metrics, curves, factors, example leads, audit.

Everything is embedded (PNG as base64 data URIs, CSS inline), so the file can be mailed, attached
to an MLflow run or opened from a CRM ticket without a server.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from pipeline.evaluation.plots import (
    cohort_figure,
    dependence_figure,
    importance_figure,
    to_png,
    waterfall_figure,
)

METRIC_ROWS = [
    ("ROC-AUC", "roc_auc", "{:.3f}"), ("PR-AUC", "pr_auc", "{:.3f}"), ("Brier", "brier", "{:.4f}"),
    ("Log-loss", "log_loss", "{:.4f}"), ("ECE (10 bins)", "ece", "{:.4f}"),
    ("Conversions in top 10 %", "capture_top_10", "{:.1%}"),
    ("Conversions in top 20 %", "capture_top_20", "{:.1%}"),
    ("Conversions in top 30 %", "capture_top_30", "{:.1%}"),
    ("Lift, top decile", "lift_decile_1", "{:.2f}x"),
    ("MQL precision", "mql_precision", "{:.1%}"), ("MQL recall", "mql_recall", "{:.1%}"),
    ("Conversions/week handed to sales", "conversions_handed_per_week", "{:.1f}"),
]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#111827;
background:#f9fafb}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:8px 0 4px} h2{font-size:19px;margin:36px 0 10px;border-bottom:2px solid
#e5e7eb;padding-bottom:6px} h3{font-size:15px;margin:16px 0 6px}
.sub{color:#6b7280;font-size:13px} .grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px}
img{max-width:100%;height:auto} table{border-collapse:collapse;font-size:13px;background:#fff}
th,td{border:1px solid #e5e7eb;padding:5px 9px;text-align:right} th{background:#f3f4f6}
td:first-child,th:first-child{text-align:left} .good{color:#15803d;font-weight:600}
.bad{color:#b91c1c} .note{background:#fffbeb;border:1px solid #fde68a;padding:8px 12px;
border-radius:6px;font-size:13px;margin:8px 0} ul.reasons{margin:4px 0 0 16px;font-size:13px}
.kpi{display:flex;gap:14px;flex-wrap:wrap;margin:12px 0}.kpi div{background:#fff;border:1px solid
#e5e7eb;border-radius:8px;padding:10px 16px}.kpi b{display:block;font-size:22px}
nav.toc{font-size:13px;margin:10px 0 0} .wide{overflow-x:auto} h2{scroll-margin-top:12px}
nav.toc a{color:#1f6feb;text-decoration:none;margin-right:16px}
@media (max-width:800px){.grid{grid-template-columns:1fr}}
"""


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode()}">')


def _metrics_table(metrics: dict[str, Any]) -> str:
    names = [n for n in ("baseline", "learned_points", "model", "oracle") if n in metrics]
    labels = {"baseline": "rules (hand-made)", "learned_points": "learned points",
              "oracle": "oracle (true p)"}
    head = "".join(f"<th>{html.escape(labels.get(n, n))}</th>" for n in names)
    rows = []
    for label, key, fmt in METRIC_ROWS:
        cells = []
        values = {n: metrics[n].get(key) for n in names}
        scored = {n: v for n, v in values.items() if v is not None and n != "oracle"}
        lower_better = key in ("brier", "log_loss", "ece")
        best = (min if lower_better else max)(scored, key=scored.get) if scored else None
        for n in names:
            v = values[n]
            text = "" if v is None else fmt.format(v)
            cells.append(f'<td class="{"good" if n == best else ""}">{text}</td>')
        rows.append(f"<tr><td>{label}</td>{''.join(cells)}</tr>")
    ci = "".join(
        f"<td>{metrics[n]['auc_ci_low']:.3f} - {metrics[n]['auc_ci_high']:.3f}</td>"
        for n in names)
    rows.insert(1, f"<tr><td>ROC-AUC 95 % CI</td>{ci}</tr>")
    return f"<table><tr><th>metric (test split)</th>{head}</tr>{''.join(rows)}</table>"


def _segments_table(metrics: dict[str, Any]) -> str:
    """Per segment (product line): which model it uses and every scorer's test ROC-AUC."""
    segments = metrics.get("segments")
    if not segments:
        return ""
    names = [("baseline", "rules"), ("learned_points", "learned points"),
             ("global_model", "global model"), ("model", "selected model")]
    head = "".join(f"<th>{label} AUC (top-20 %)</th>" for _, label in names)
    rows = []
    for level, entry in segments.items():
        cells = "".join(
            f"<td>{entry[f'{n}_roc_auc']:.3f} ({entry[f'{n}_capture_top_20']:.0%})</td>"
            if f"{n}_roc_auc" in entry else "<td></td>" for n, _ in names)
        rows.append(f"<tr><td>{html.escape(level)}</td><td>{entry['leads']:,}</td>"
                    f"<td>{entry['conversions']:,}</td><td>{html.escape(entry['choice'])}</td>"
                    f"{cells}</tr>")
    return ("<h3>Per segment</h3><p class=\"sub\">Each segment uses its own refined model where "
            "it beat the global model on that segment's validation leads; the test split "
            "below saw neither choice.</p><div class=\"wide\"><table><tr><th>segment</th>"
            f"<th>test leads</th><th>conversions</th><th>uses</th>{head}</tr>"
            f"{''.join(rows)}</table></div>")


def _table(frame: pd.DataFrame, max_rows: int = 60) -> str:
    return frame.head(max_rows).to_html(index=False, escape=True, border=0, na_rep="")


def _lead_card(row: pd.Series, kind: str, points: pd.Series, base: float, title: str) -> str:
    reasons = [row.get(f"{kind}_reason_{k}") for k in (1, 2, 3)]
    items = "".join(f"<li>{html.escape(str(r))}</li>" for r in reasons if r)
    # the card's heading already names the lead: a second title on the figure only repeats it
    fig = waterfall_figure(points, base, int(row[f"{kind}_score"]), "")
    return (f'<div class="card"><h3>{html.escape(title)}</h3>'
            f'<div class="sub">lead {html.escape(str(row["lead_id"]))} · score '
            f'{int(row[f"{kind}_score"])} · grade {row[f"{kind}_grade"]}'
            f'{row[f"{kind}_engagement_level"]} · band {row[f"{kind}_band"]} · '
            f'{"converted" if row["y"] else "not converted"}</div>'
            f'{_img(to_png(fig), title)}<ul class="reasons">{items}</ul></div>')


# Reading order of the "What drives the score" figures: importance (model beside rules) first,
# then the cohorts, then how the top factors' points move with their values.
FIGURE_ORDER = ("factor_importance_model", "factor_importance_baseline", "cohort_won_vs_lost",
                "cohort_segments", "dependence_")
SECTIONS = (("metrics", "Model vs rules"), ("curves", "Ranking and calibration"),
            ("factors", "What drives the score"), ("examples", "Example leads"),
            ("audit", "Leakage audit"))


def _figure_rank(name: str) -> tuple[int, str]:
    for rank, prefix in enumerate(FIGURE_ORDER):
        if name.startswith(prefix):
            return rank, name
    return len(FIGURE_ORDER), name


def points_of(test_scores: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The per-factor points columns of one scorer, named by factor."""
    prefix = f"{kind}_points::"
    cols = [c for c in test_scores.columns if c.startswith(prefix)]
    return test_scores[cols].rename(columns=lambda c: c[len(prefix):])


def example_leads(test_scores: pd.DataFrame) -> dict[str, int]:
    """Row positions of a hot lead, a cold lead and the biggest model/rules disagreement."""
    score = test_scores["model_score"].to_numpy()
    gap = np.abs(score - test_scores["baseline_score"].to_numpy())
    return {"hot": int(np.argmax(score)), "cold": int(np.argmin(score)),
            "disagreement": int(np.argmax(gap))}


def global_figures(test_scores: pd.DataFrame, X_test: pd.DataFrame | None, spec,
                   segment: pd.Series | None = None) -> dict[str, bytes]:
    """Factor importance, dependence of the top factors, cohort comparisons (PNG bytes)."""
    figures: dict[str, bytes] = {}
    pts = points_of(test_scores, "model")
    importance = pts.abs().mean().sort_values(ascending=False)
    figures["factor_importance_model"] = to_png(importance_figure(importance,
                                                                  "Model: factor importance"))
    rules_pts = points_of(test_scores, "baseline")
    figures["factor_importance_baseline"] = to_png(importance_figure(
        rules_pts.abs().mean().sort_values(ascending=False), "Rules: factor importance"))
    y = test_scores["y"].to_numpy().astype(bool)
    figures["cohort_won_vs_lost"] = to_png(cohort_figure(
        pts[y].mean(), pts[~y].mean(), "converted", "not converted",
        "Mean factor points: converted vs not"))
    if segment is not None and segment.nunique() >= 2:
        top_two = segment.value_counts().index[:2]
        a, b = (segment == top_two[0]).to_numpy(), (segment == top_two[1]).to_numpy()
        figures["cohort_segments"] = to_png(cohort_figure(
            pts[a].mean(), pts[b].mean(), str(top_two[0]), str(top_two[1]),
            f"Mean factor points: {top_two[0]} vs {top_two[1]}"))
    if X_test is not None:
        for factor in importance.index[:4]:
            members = [f for f in spec.features if f.factor == factor and f.name in X_test]
            if not members:
                continue
            # the member whose value varies most with the points speaks for the factor
            feature = members[0].name
            figures[f"dependence_{len(figures)}"] = to_png(dependence_figure(
                X_test[feature].reset_index(drop=True), pts[factor].reset_index(drop=True),
                f"{factor} ({feature})"))
    return figures


def render_report(
    dataset: str,
    metrics: dict[str, Any],
    test_scores: pd.DataFrame,
    audit: pd.DataFrame | None,
    plots: dict[str, bytes],
    figures: dict[str, bytes],
    notes: list[str],
    model_label: str = "",
) -> str:
    """The report as one HTML string."""
    split = metrics.get("split", {})
    model = metrics.get("model", {})
    base = metrics.get("baseline", {})
    kpis = [
        ("model ROC-AUC", f"{model.get('roc_auc', float('nan')):.3f}"),
        ("rules ROC-AUC", f"{base.get('roc_auc', float('nan')):.3f}"),
        ("model ECE", f"{model.get('ece', float('nan')):.3f}"),
        ("test leads", f"{split.get('test_leads', len(test_scores)):,}"),
    ]
    if "auc_ratio_to_oracle" in model:
        kpis.append(("model / oracle AUC", f"{model['auc_ratio_to_oracle']:.3f}"))
    kpi_html = "".join(f"<div><span class='sub'>{k}</span><b>{v}</b></div>" for k, v in kpis)
    diff = ""
    if "auc_diff" in model:
        low, high = model["auc_diff_ci_low"], model["auc_diff_ci_high"]
        diff = (f"<p>Model minus rules ROC-AUC: <b>{model['auc_diff']:+.3f}</b> (paired bootstrap "
                f"95 % CI {low:+.3f} to {high:+.3f}).</p>")
    note_html = "".join(f'<div class="note">{html.escape(n)}</div>' for n in notes)
    curve_html = "".join(f'<div class="card">{_img(plots[k], k)}</div>' for k in
                         ("roc", "gains", "calibration", "score_histogram_model",
                          "score_histogram_baseline", "score_histogram_learned_points")
                         if k in plots)
    fig_html = "".join(f'<div class="card">{_img(figures[k], k)}</div>'
                       for k in sorted(figures, key=_figure_rank))
    toc = "".join(f'<a href="#{key}">{html.escape(label)}</a>' for key, label in SECTIONS)
    examples = example_leads(test_scores)
    titles = {"hot": "Hottest test lead (model)", "cold": "Coldest test lead (model)",
              "disagreement": "Where model and rules disagree most"}
    model_pts, rules_pts = points_of(test_scores, "model"), points_of(test_scores, "baseline")
    cards = []
    for key, pos in examples.items():
        row = test_scores.iloc[pos]
        cards.append(_lead_card(row, "model", model_pts.iloc[pos],
                                float(row["model_base_score"]), f"{titles[key]}: model"))
        if key == "disagreement":
            cards.append(_lead_card(row, "baseline", rules_pts.iloc[pos],
                                    float(row["baseline_base_score"]),
                                    f"{titles[key]}: rules"))
    audit_html = _table(audit) if audit is not None else "<p>No audit.</p>"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = " / ".join(f"{part} {split.get(f'{part}_leads', 0):,}" for part in
                       ("train", "valid", "test")) + " leads"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>LeadScore report: {html.escape(dataset)}</title><style>{CSS}</style></head><body><main>
<h1>LeadScore report: {html.escape(dataset)}</h1>
<div class="sub">{html.escape(model_label)} generated {generated} · {sizes}</div>
<nav class="toc">{toc}</nav>
<div class="kpi">{kpi_html}</div>{note_html}
<h2 id="metrics">Model vs rule baseline</h2>{diff}<div class="wide">{_metrics_table(metrics)}</div>
<p class="sub">Same test leads and metrics for all; the points (hand-made rules and the points
table learned from data) are calibrated on the validation split like the model's log-odds. Best
value per row in green.</p>{_segments_table(metrics)}
<h2 id="curves">Ranking and calibration</h2><div class="grid">{curve_html}</div>
<h2 id="factors">What drives the score</h2><div class="grid">{fig_html}</div>
<h2 id="examples">Example leads</h2><p class="sub">Bars go from the base score (a lead with no
evidence either way) to the lead's score; each bar is a business factor's points.</p>
<div class="grid">{''.join(cards)}</div>
<h2 id="audit">Leakage audit</h2><p class="sub">Single-column ROC-AUC on the training split;
flagged columns are excluded unless the config keeps them.</p><div class="wide">{audit_html}</div>
</main></body></html>"""
