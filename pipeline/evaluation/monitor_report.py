"""The ``monitor`` page and the text of its figures (console table and HTML share them).

:func:`group_cells` formats one version/month group of :mod:`pipeline.evaluation.monitor`'s
summary (every figure with its interval, "n/a" where undefined); :func:`render_monitor` lays the
summary out as a small self-contained page (``templates/monitor.html.j2``, the report's CSS
inlined, the reliability plot embedded). A ``funnel`` part of the summary (or any other extra
section with ``title`` and ``tables``) is rendered after the calibration tables.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from pipeline.evaluation.report import _environment, _image

TEMPLATE = "monitor.html.j2"
#: (label, group key) of the summary table, console and page alike
COLUMNS = (
    ("version", "version"), ("month", "month"), ("scored", "scored"), ("matured", "matured"),
    ("pending", "pending"), ("decided before as_of", "decided_before_as_of"),
    ("missing", "missing"), ("conversions", "conversions"), ("observed", "observed"),
    ("mean p", "mean_probability"), ("ECE, equal-mass (95 % CI)", "ece"),
    ("Brier (95 % CI)", "brier"), ("AUC (95 % CI)", "auc"), ("MQL precision", "mql_precision"),
    ("MQL recall", "mql_recall"), ("alarm", "alarm"),
)
#: summary parts that are not extra sections
_CORE = frozenset({"snapshot", "horizon_days", "ece_limit", "min_matured", "n_boot", "totals",
                   "groups", "alarms", "notes", "score_files", "outcomes_file"})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _interval(value: Any, low: Any, high: Any, fmt: str) -> str:
    if not _number(value):
        return "n/a"
    if not (_number(low) and _number(high)):
        return fmt.format(value)
    return f"{fmt.format(value)} ({fmt.format(low)}-{fmt.format(high)})"


def _share(value: Any) -> str:
    return f"{value:.1%}" if _number(value) else "n/a"


def group_cells(group: dict[str, Any], ece_limit: float) -> dict[str, str]:
    """One group's cells by :data:`COLUMNS` key, as text."""
    if group["alarm"]:
        alarm = f"ALARM: ECE lower bound above {ece_limit:g}"
    elif not group["matured"]:
        alarm = "pending"
    elif not group["judged"]:
        alarm = "too few to judge"
    else:
        alarm = "ok"
    auc = _interval(group.get("roc_auc"), group.get("auc_ci_low"), group.get("auc_ci_high"),
                    "{:.3f}")
    if group.get("auc_note") and group.get("roc_auc") is None:
        auc = group["auc_note"]
    return {
        "version": f"{group['model_name']} {group['model_version']}".strip(),
        "month": str(group["month"]),
        **{k: f"{group[k]:,}" for k in ("scored", "matured", "pending", "decided_before_as_of",
                                        "missing", "conversions")},
        "observed": _share(group["observed"]), "mean_probability": _share(
            group["mean_probability"]),
        "ece": _interval(group.get("ece_adaptive"), group.get("ece_adaptive_ci_low"),
                         group.get("ece_adaptive_ci_high"), "{:.3f}"),
        "brier": _interval(group.get("brier"), group.get("brier_ci_low"),
                           group.get("brier_ci_high"), "{:.4f}"),
        "auc": auc, "mql_precision": _share(group.get("mql_precision")),
        "mql_recall": _share(group.get("mql_recall")), "alarm": alarm,
    }


def _reliability(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return {"name": name, "rows": [
        [str(r["group"]), f"{r['leads']:,}", f"{r['conversions']:,}", _share(r["observed"]),
         _share(r["mean_probability"]), f"{100 * r['gap']:+.1f} pts"] for r in rows]}


def _extra_sections(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Extra parts (``funnel``, ...): their tables when they have them, else their JSON."""
    out = []
    for key, part in summary.items():
        if key in _CORE or part is None:
            continue
        if isinstance(part, dict) and "tables" in part:
            out.append({"id": key, "title": part.get("title", key), "text": part.get("text", ""),
                        "tables": part["tables"], "raw": None})
        else:
            out.append({"id": key, "title": key, "text": "", "tables": [],
                        "raw": json.dumps(part, indent=2, default=str)})
    return out


def render_monitor(summary: dict[str, Any], plot_png: bytes | None = None,
                   dataset: str = "") -> str:
    """The self-contained monitor page of a summary (:meth:`MonitorResult.to_dict`)."""
    limit = summary["ece_limit"]
    groups = []
    for group in summary["groups"]:
        cells = group_cells(group, limit)
        groups.append({
            "label": f"{cells['version']} · {cells['month']}", "alarm": group["alarm"],
            "cells": [cells[key] for _, key in COLUMNS],
            "tables": [t for t in (_reliability(group.get("by_band", []), "band"),
                                   _reliability(group.get("by_decile", []), "decile"))
                       if t["rows"]],
        })
    return _environment().get_template(TEMPLATE).render(
        dataset=dataset, summary=summary, columns=[label for label, _ in COLUMNS],
        groups=groups, alarms=summary.get("alarms", []), notes=summary.get("notes", []),
        plot=_image(plot_png, "reliability") if plot_png else None,
        extras=_extra_sections(summary),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
