"""Self-contained HTML report for analysts: metrics, curves, factors, example leads, audit.

Everything is embedded (PNG as base64 data URIs, CSS inline), so the file can be mailed, attached
to an MLflow run or opened from a CRM ticket without a server.

The page is ``templates/report.html.j2`` (with ``templates/report.css`` inlined). This module
prepares plain data for it: every number formatted here, every picture a data URI, so the
template only lays things out. Scorers are never named here: the columns, KPIs, figures and
example leads follow :data:`pipeline.scorers.kinds.KINDS` and its two roles, the challenger and
the reference.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from pipeline.evaluation import headlines
from pipeline.evaluation.ages import ages_table
from pipeline.evaluation.plots import (
    cohort_figure,
    dependence_figure,
    importance_figure,
    to_png,
    waterfall_figure,
)
from pipeline.scorers import kinds

TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE = "report.html.j2"

METRIC_ROWS = [
    ("ROC-AUC", "roc_auc", "{:.3f}"),
    ("PR-AUC", "pr_auc", "{:.3f}"),
    ("Brier", "brier", "{:.4f}"),
    ("Log-loss", "log_loss", "{:.4f}"),
    ("ECE, 10 equal-mass bins (the gate's)", "ece_adaptive", "{:.4f}"),
    ("ECE, 10 equal-width bins", "ece", "{:.4f}"),
    ("Conversions in top 10 %", "capture_top_10", "{:.1%}"),
    ("Conversions in top 20 %", "capture_top_20", "{:.1%}"),
    ("Conversions in top 30 %", "capture_top_30", "{:.1%}"),
    ("Lift, top decile", "lift_decile_1", "{:.2f}x"),
    ("MQL share", "mql_share", "{:.1%}"),
    ("MQL precision", "mql_precision", "{:.1%}"),
    ("MQL recall", "mql_recall", "{:.1%}"),
    ("Conversions/week handed to sales (95 % CI)", "conversions_handed_per_week", "{:.1f}"),
]
HANDED = "conversions_handed_per_week"  # shown with its interval (headlines.scorer_handed)
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})

# The true probability of a synthetic world: a column of the metrics table, not a scorer (it
# never wins a row) and absent for real data.
ORACLE, ORACLE_LABEL = "oracle", "oracle (true p)"
# Per-segment metrics also hold the global model under the per-segment models: its column goes
# just before the challenger's, which there is the model each segment selected.
GLOBAL_MODEL, GLOBAL_MODEL_LABEL = "global_model", "global model"
SELECTED_MODEL_LABEL = "selected model"


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _challenger_first() -> tuple[str, ...]:
    """Kind names in table order, the challenger first (figure and histogram order)."""
    return (kinds.CHALLENGER, *(name for name in kinds.names() if name != kinds.CHALLENGER))


_CHALLENGER = kinds.display(kinds.CHALLENGER)
_REFERENCE = kinds.display(kinds.REFERENCE)

# Reading order of the "Ranking and calibration" cards: the curves, then one score histogram
# per kind.
CURVE_ORDER = (
    "roc",
    "gains",
    "calibration",
    "calibration_by_age",
    *(f"score_histogram_{name}" for name in _challenger_first()),
)
# Reading order of the "What drives the score" figures: importance (the challenger, then every
# other kind) first, then the cohorts, then how the top factors' points move with their values.
FIGURE_ORDER = (
    *(f"factor_importance_{name}" for name in _challenger_first()),
    "cohort_won_vs_lost",
    "cohort_segments",
    "dependence_",
)
# Shown only when evaluation.json says how the challenger chose its scorer (newer runs).
SELECTION = ("selection", "Which scorer was chosen, and why")
SECTIONS = (
    ("metrics", f"{_capitalized(_CHALLENGER)} vs {_REFERENCE}"),
    ("curves", "Ranking and calibration"),
    ("factors", "What drives the score"),
    ("examples", "Example leads"),
    ("audit", "Leakage audit"),
)


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates (built on first use)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _format(value: Any, fmt: str) -> str:
    """``value`` in ``fmt``; a value that is not there is an empty string."""
    return "" if value is None else fmt.format(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _image(png: bytes, alt: str) -> dict[str, str]:
    return {"alt": alt, "src": "data:image/png;base64," + base64.b64encode(png).decode()}


def _images(pictures: dict[str, bytes], names: Iterable[str]) -> list[dict[str, str]]:
    return [_image(pictures[name], name) for name in names if name in pictures]


def _scorer_columns(metrics: dict[str, Any]) -> list[str]:
    """The metrics table's columns: every kind with metrics, in table order, then the oracle."""
    return [name for name in (*kinds.names(), ORACLE) if isinstance(metrics.get(name), dict)]


def _metrics_table(metrics: dict[str, Any]) -> dict[str, Any]:
    """Column labels and rows of formatted cells; the best scorer of each row is marked good."""
    names = _scorer_columns(metrics)
    rows = []
    for label, key, fmt in METRIC_ROWS:
        values = {name: metrics[name].get(key) for name in names}
        scored = {n: v for n, v in values.items() if n != ORACLE and _is_number(v)}
        pick = min if key in LOWER_IS_BETTER else max
        best = pick(scored, key=scored.get) if scored else None
        # an AUC is never shown without its interval
        texts = {n: headlines.scorer_auc(metrics, n) if key == "roc_auc"
                 else headlines.scorer_handed(metrics, n) if key == HANDED
                 else _format(values[n], fmt) for n in names}
        for n in names:  # computed but undefined (nothing flagged, no conversion): n/a
            if key.startswith("mql_") and key in metrics[n] and not _is_number(values[n]):
                texts[n] = "n/a"
        cells = [{"text": texts[n], "good": n == best} for n in names]
        rows.append({"label": f"{label} (95 % CI)" if key == "roc_auc" else label,
                     "cells": cells})
    labels = [ORACLE_LABEL if name == ORACLE else kinds.display(name) for name in names]
    return {"columns": labels, "rows": rows}


def _routing_note(metrics: dict[str, Any]) -> str:
    """How "conversions/week handed to sales" is counted: the list ``score --route`` writes."""
    view = metrics.get(kinds.CHALLENGER) or {}
    if "routed_per_week" not in view:
        return ""  # an evaluation.json from before the routing list
    cap = view.get("capacity_per_week")
    limit = "no cap beyond the MQL rule" if cap is None else f"at most {cap:,.0f} a week"
    held = view.get("held_back_per_week") or 0.0
    return (f"Conversions/week handed to sales: the week's MQLs that are not disqualified, best "
            f"first, {limit} (routing.capacity_per_week), the list `leadscore score --route` "
            f"writes; {_capitalized(_CHALLENGER)}: {view['routed_per_week']:.1f} leads a week "
            f"of {view.get('leads_per_week', 0.0):.1f}, {held:.1f} held back.")


def _segment_columns() -> list[tuple[str, str]]:
    """(metrics key prefix, label) of the per-segment table's scorer columns."""
    columns = [
        (k.name, SELECTED_MODEL_LABEL if k.name == kinds.CHALLENGER else k.display)
        for k in kinds.KINDS
    ]
    at = next(i for i, (name, _) in enumerate(columns) if name == kinds.CHALLENGER)
    columns.insert(at, (GLOBAL_MODEL, GLOBAL_MODEL_LABEL))
    return columns


def _segments_table(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """Per segment (product line): which model it uses and every scorer's test ROC-AUC."""
    segments = metrics.get("segments")
    if not segments:
        return None
    columns = _segment_columns()
    rows = []
    for level, entry in segments.items():
        cells = []
        for name, _ in columns:
            auc, top = entry.get(f"{name}_roc_auc"), entry.get(f"{name}_capture_top_20")
            text = _format(auc, "{:.3f}")
            cells.append(text if top is None or not text else f"{text} ({top:.0%})")
        rows.append(
            {
                "level": str(level),
                "leads": _format(entry.get("leads"), "{:,}"),
                "conversions": _format(entry.get("conversions"), "{:,}"),
                "choice": str(entry.get("choice", "")),
                "cells": cells,
            }
        )
    return {"columns": [label for _, label in columns], "rows": rows}


def _column_texts(column: pd.Series) -> list[str]:
    """A table column as text, floats with the fewest decimals (up to 6) that show every value."""
    missing = column.isna().to_numpy()
    if pd.api.types.is_float_dtype(column):
        finite = [v for v in column.to_numpy() if math.isfinite(v)]
        decimals = max((len(f"{v:.6f}".rstrip("0").split(".")[1]) for v in finite), default=1)
        fmt = f"{{:.{max(decimals, 1)}f}}"
        return ["" if gone else fmt.format(v) for v, gone in zip(column, missing, strict=True)]
    return ["" if gone else str(v) for v, gone in zip(column, missing, strict=True)]


def _table(frame: pd.DataFrame, max_rows: int = 60) -> dict[str, Any]:
    """Header and text rows of a data frame (the first ``max_rows`` rows)."""
    head = frame.head(max_rows)
    texts = [_column_texts(head[column]) for column in head.columns]
    return {
        "columns": [str(c) for c in head.columns],
        "rows": [list(r) for r in zip(*texts, strict=True)],
    }


def _lead_card(row: pd.Series, kind: str, points: pd.Series, base: float, title: str) -> dict:
    reasons = [row.get(f"{kind}_reason_{k}") for k in (1, 2, 3)]
    score = int(row[f"{kind}_score"])
    # the card's heading already names the lead: a second title on the figure only repeats it
    fig = waterfall_figure(points, base, score, "")
    return {
        "title": title,
        "lead_id": str(row["lead_id"]),
        "score": str(score),
        "grade": f"{row[f'{kind}_grade']}{row[f'{kind}_engagement_level']}",
        "band": str(row[f"{kind}_band"]),
        "outcome": "converted" if row["y"] else "not converted",
        "image": _image(to_png(fig), title),
        "reasons": [str(r) for r in reasons if isinstance(r, str) and r],
        # what the model predicts one more event would add (pipeline/explain/whatif.py)
        "next_action": str(row.get(f"{kind}_next_action_text") or ""),
    }


def _example_cards(test_scores: pd.DataFrame) -> list[dict]:
    """Challenger cards of the hot, cold and disagreement leads, plus the reference's view."""
    titles = {
        "hot": f"Hottest test lead ({_CHALLENGER})",
        "cold": f"Coldest test lead ({_CHALLENGER})",
        "disagreement": f"Where {_CHALLENGER} and {_REFERENCE} disagree most",
    }
    views = {
        "hot": (kinds.CHALLENGER,),
        "cold": (kinds.CHALLENGER,),
        "disagreement": (kinds.CHALLENGER, kinds.REFERENCE),
    }
    points = {name: points_of(test_scores, name) for name in views["disagreement"]}
    cards = []
    for key, pos in example_leads(test_scores).items():
        row = test_scores.iloc[pos]
        for name in views[key]:
            cards.append(
                _lead_card(
                    row,
                    name,
                    points[name].iloc[pos],
                    float(row[f"{name}_base_score"]),
                    f"{titles[key]}: {kinds.display(name)}",
                )
            )
    return cards


def _figure_rank(name: str) -> tuple[int, str]:
    for rank, prefix in enumerate(FIGURE_ORDER):
        if name.startswith(prefix):
            return rank, name
    return len(FIGURE_ORDER), name


def points_of(test_scores: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The per-factor points columns of one scorer, named by factor."""
    prefix = f"{kind}_points::"
    cols = [c for c in test_scores.columns if c.startswith(prefix)]
    return test_scores[cols].rename(columns=lambda c: c[len(prefix) :])


def example_leads(test_scores: pd.DataFrame) -> dict[str, int]:
    """Row positions of a hot lead, a cold lead and the biggest challenger/reference gap."""
    score = test_scores[f"{kinds.CHALLENGER}_score"].to_numpy()
    gap = np.abs(score - test_scores[f"{kinds.REFERENCE}_score"].to_numpy())
    return {
        "hot": int(np.argmax(score)),
        "cold": int(np.argmin(score)),
        "disagreement": int(np.argmax(gap)),
    }


def global_figures(
    test_scores: pd.DataFrame, X_test: pd.DataFrame | None, spec, segment: pd.Series | None = None
) -> dict[str, bytes]:
    """Factor importance, dependence of the top factors, cohort comparisons (PNG bytes).

    Importance is drawn for every kind with points in ``test_scores`` (challenger first); the
    cohorts and dependence plots show the challenger's points.
    """
    figures: dict[str, bytes] = {}
    for name in _challenger_first():
        kind_points = points_of(test_scores, name)
        if kind_points.empty:
            continue
        figures[f"factor_importance_{name}"] = to_png(
            importance_figure(
                kind_points.abs().mean().sort_values(ascending=False),
                f"{_capitalized(kinds.display(name))}: factor importance",
            )
        )
    pts = points_of(test_scores, kinds.CHALLENGER)
    importance = pts.abs().mean().sort_values(ascending=False)
    y = test_scores["y"].to_numpy().astype(bool)
    figures["cohort_won_vs_lost"] = to_png(
        cohort_figure(
            pts[y].mean(),
            pts[~y].mean(),
            "converted",
            "not converted",
            "Mean factor points: converted vs not",
        )
    )
    if segment is not None and segment.nunique() >= 2:
        top_two = segment.value_counts().index[:2]
        a, b = (segment == top_two[0]).to_numpy(), (segment == top_two[1]).to_numpy()
        figures["cohort_segments"] = to_png(
            cohort_figure(
                pts[a].mean(),
                pts[b].mean(),
                str(top_two[0]),
                str(top_two[1]),
                f"Mean factor points: {top_two[0]} vs {top_two[1]}",
            )
        )
    if X_test is not None:
        for factor in importance.index[:4]:
            members = [f for f in spec.features if f.factor == factor and f.name in X_test]
            if not members:
                continue
            # the member whose value varies most with the points speaks for the factor
            feature = members[0].name
            figures[f"dependence_{len(figures)}"] = to_png(
                dependence_figure(
                    X_test[feature].reset_index(drop=True),
                    pts[factor].reset_index(drop=True),
                    f"{factor} ({feature})",
                )
            )
    return figures


def _kpis(metrics: dict[str, Any], test_leads: int) -> list[dict[str, str]]:
    """The headline numbers: the challenger's and the reference's AUC, calibration, size."""
    challenger = metrics.get(kinds.CHALLENGER, {})

    def kpi(label: str, value: Any, fmt: str = "{:.3f}") -> dict[str, str]:
        return {"label": label, "value": _format(value, fmt) or "n/a"}

    def auc(label: str, name: str) -> dict[str, str]:
        return {"label": f"{label} (95 % CI)",
                "value": headlines.scorer_auc(metrics, name) or "n/a"}

    kpis = [
        auc(f"{_CHALLENGER} ROC-AUC", kinds.CHALLENGER),
        auc(f"{_REFERENCE} ROC-AUC", kinds.REFERENCE),
        {"label": f"{_CHALLENGER} minus {_REFERENCE} ROC-AUC",
         "value": headlines.scorer_diff(metrics, kinds.CHALLENGER) or "n/a"},
        kpi(f"{_CHALLENGER} ECE (equal-mass bins)", challenger.get("ece_adaptive")),
        kpi("test leads", test_leads, "{:,}"),
    ]
    skill = headlines.skill_vs_oracle(metrics, kinds.CHALLENGER)
    if skill is not None:
        # the plain ratio flatters (a random scorer gets 0.5 / oracle): skill beside it
        oracle = metrics["oracle"]["roc_auc"]
        kpis.append(kpi(f"{_CHALLENGER} / oracle AUC", challenger["roc_auc"] / oracle))
        kpis.append(kpi(f"{_CHALLENGER} skill above chance, share of the oracle's", skill))
    return kpis


def _auc_difference(metrics: dict[str, Any]) -> dict[str, str] | None:
    """Challenger minus reference ROC-AUC with its paired bootstrap CI, when computed."""
    challenger = metrics.get(kinds.CHALLENGER, {})
    values = [challenger.get(k) for k in ("auc_diff", "auc_diff_ci_low", "auc_diff_ci_high")]
    if any(v is None for v in values):
        return None
    value, low, high = (f"{v:+.3f}" for v in values)
    return {
        "label": f"{_capitalized(_CHALLENGER)} minus {_REFERENCE}",
        "value": value,
        "low": low,
        "high": high,
    }


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
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = (
        " / ".join(
            f"{part} {split.get(f'{part}_leads', 0):,}" for part in ("train", "valid", "test")
        )
        + " leads"
    )
    subtitle = " ".join(part for part in (model_label, f"generated {generated} · {sizes}") if part)
    page = _environment().get_template(TEMPLATE)
    selection = headlines.selection(metrics)
    sections = (SELECTION, *SECTIONS) if selection else SECTIONS
    accounts = None
    if metrics.get("accounts"):
        # only with dataset.account: the default report stage never loads the module
        from pipeline.evaluation.accounts import account_lines

        accounts = account_lines(metrics["accounts"])
        sections = (*sections[:-2], ("accounts", "Accounts"), *sections[-2:])
    return page.render(
        dataset=dataset,
        subtitle=subtitle,
        sections=[{"id": key, "title": title} for key, title in sections],
        titles=dict(sections),
        warnings=headlines.warnings(metrics),
        selection=selection,
        selection_kind=_CHALLENGER,
        kpis=_kpis(metrics, split.get("test_leads", len(test_scores))),
        notes=[str(note) for note in notes],
        diff=_auc_difference(metrics),
        scale=(metrics.get("scale") or {}).get("text", ""),
        mql_rules=[{"scorer": kinds.display(n), "mql": metrics[n]["mql_rule"],
                    "bands": metrics[n].get("bands", "")}
                   for n in kinds.names() if metrics.get(n, {}).get("mql_rule")],
        routing=_routing_note(metrics),
        metrics=_metrics_table(metrics),
        segments=_segments_table(metrics),
        ages=ages_table(metrics, [(k.name, k.display) for k in kinds.KINDS
                                  if k.name in metrics]),
        curves=_images(plots, CURVE_ORDER),
        figures=_images(figures, sorted(figures, key=_figure_rank)),
        cards=_example_cards(test_scores),
        audit=None if audit is None else _table(audit),
        time_proxies=metrics.get("time_proxies") or [],
        decay=decay_rows(metrics),
        decay_gate=decay_gate_text(metrics),
        accounts=accounts,
    )


def decay_gate_text(metrics: dict[str, Any]) -> str:
    """The decay gate's verdict (``decay_gate`` of evaluation.json), or "" without one."""
    gate = metrics.get("decay_gate")
    if not gate:
        return ""
    verdict = "kept" if gate["kept"] else "dropped from the feature table: the gain's interval " \
        "does not exclude 0"
    return (f"Decay gate: the decayed counts save {1000 * gate['gain']:+.2f} x 1e-3 validation "
            f"log-loss per lead (95 % bootstrap interval {1000 * gate['low']:+.2f} to "
            f"{1000 * gate['high']:+.2f}), so they are {verdict}")


def decay_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """The "Half-life learned per activity" table: each decay signal's half-life with its 95 %
    profile interval (``3 days [2, 5]``, or "not identified ...: fallback 14 days"), how it was
    chosen and its validation log-loss gain against the fallback half-life."""
    rows = []
    for row in metrics.get("decay") or []:
        gain = row.get("gain")
        half_life = row.get("label") or f"{row['half_life_days']:g} days"
        rows.append({"signal": str(row["signal"]), "half_life": str(half_life),
                     "source": str(row["source"]), "events": f"{row.get('events', 0):,}",
                     "gain": "" if gain is None else f"{1000 * gain:+.2f}"})
    return rows
