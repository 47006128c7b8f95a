"""Rich tables the training commands print: every scorer kind side by side on the test split.

The headline texts (AUCs with intervals, skill against the oracle, the warnings, the scorer
choice) come from :mod:`pipeline.evaluation.headlines`, so the console and the report agree.
"""

from __future__ import annotations

from pipeline.cli.console import Format, emit, out
from pipeline.scorers import kinds

# ROC-AUC carries its interval in the same cell (key None: see headlines.scorer_auc).
METRIC_ROWS = (
    ("ROC-AUC (95% CI)", None, None),
    ("PR-AUC", "pr_auc", "{:.3f}"), ("Brier", "brier", "{:.4f}"),
    ("log-loss", "log_loss", "{:.4f}"), ("ECE equal-mass", "ece_adaptive", "{:.4f}"),
    ("ECE equal-width", "ece", "{:.4f}"),
    ("conversions in top 10%", "capture_top_10", "{:.1%}"),
    ("conversions in top 20%", "capture_top_20", "{:.1%}"),
    ("conversions in top 30%", "capture_top_30", "{:.1%}"),
    ("lift, top decile", "lift_decile_1", "{:.2f}x"),
    ("MQL share", "mql_share", "{:.1%}"),
    ("MQL precision", "mql_precision", "{:.1%}"), ("MQL recall", "mql_recall", "{:.1%}"),
    ("conversions/week to sales (95% CI)", "conversions_handed_per_week", "{:.1f}"),
)


def _scorers(metrics: dict) -> list[str]:
    return [n for n in (*kinds.names(), "oracle") if n in metrics]


def comparison_rows(metrics: dict) -> dict[str, list[dict]]:
    """The comparison as data (``--format json|csv``): one record per metric with every
    scorer's raw value, then the validation choice and the per-segment figures."""
    from pipeline.evaluation import headlines

    names = _scorers(metrics)
    keys = [("roc_auc", "ROC-AUC"), ("auc_ci_low", "ROC-AUC 95% CI low"),
            ("auc_ci_high", "ROC-AUC 95% CI high"), ("auc_diff", f"ROC-AUC - {kinds.REFERENCE}"),
            *((key, label) for label, key, _ in METRIC_ROWS if key is not None),
            ("conversions_handed_ci_low", "conversions/week to sales 95% CI low"),
            ("conversions_handed_ci_high", "conversions/week to sales 95% CI high")]
    rows = [{"metric": key, "label": label, **{n: (metrics[n] or {}).get(key) for n in names}}
            for key, label in keys]
    chosen = headlines.selection(metrics)
    return {"comparison": rows, "selection": [] if chosen is None else chosen["rows"],
            "segments": [{"segment": level, **entry}
                         for level, entry in (metrics.get("segments") or {}).items()],
            "warnings": [{"warning": w} for w in headlines.warnings(metrics)]}


def comparison_table(metrics: dict, fmt: Format = Format.table) -> None:
    """Every kind (and the oracle, when known) on the same test leads, then the differences,
    the warnings a reader must not miss, and which scorer the challenger chose."""
    if Format(fmt) is not Format.table:
        emit(fmt, comparison_rows(metrics), view=lambda: None)
        return
    from rich.table import Table

    # imported here: every command loads this module, most never print a comparison
    from pipeline.evaluation import headlines

    names = _scorers(metrics)
    table = Table(title=f"Test split: {kinds.REFERENCE} vs the learned scorers",
                  title_justify="left")
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    for label, key, fmt in METRIC_ROWS:
        cells = []
        for name in names:
            m = metrics[name]
            if key is None:
                cells.append(headlines.scorer_auc(metrics, name))
            elif key == "conversions_handed_per_week":
                cells.append(headlines.scorer_handed(metrics, name))
            elif key in m and m[key] is not None and m[key] == m[key]:
                cells.append(fmt.format(m[key]))
            elif key.startswith("mql_") and key in m:
                cells.append("n/a")  # undefined (nothing flagged, no conversion), never 0 %
            else:
                cells.append("")
        table.add_row(label, *cells)
    out.print(table)
    scale = metrics.get("scale") or {}
    if scale.get("text"):
        out.print(scale["text"], highlight=False)
    for name in kinds.names():
        if isinstance(metrics.get(name), dict) and metrics[name].get("mql_rule"):
            out.print(f"{name}: MQL {metrics[name]['mql_rule']}; bands {metrics[name]['bands']}",
                      highlight=False)
    for name in kinds.names():
        diff = headlines.scorer_diff(metrics, name)
        if diff:
            out.print(f"{name} - {kinds.REFERENCE} AUC: {diff}", highlight=False)
    oracle = headlines.oracle_line(metrics)
    if oracle:
        out.print(oracle, highlight=False)
    for warning in headlines.warnings(metrics):
        out.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    selection_table(metrics)
    if metrics.get("segments"):
        segment_table(metrics["segments"])


def selection_table(metrics: dict) -> None:
    """The candidates the challenger chose among on validation (nothing in older metrics)."""
    from rich.table import Table

    # imported here: every command loads this module, most never print a comparison
    from pipeline.evaluation import headlines

    chosen = headlines.selection(metrics)
    if chosen is None:
        return
    table = Table(title=f"Which scorer the {kinds.CHALLENGER} uses, chosen on validation",
                  title_justify="left", caption=chosen["reason"], caption_justify="left")
    for column in ("candidate", "validation AUC (95% CI)", "difference vs best (95% CI)",
                   "test AUC (95% CI)"):
        table.add_column(column, justify="left" if column == "candidate" else "right")
    for row in chosen["rows"]:
        mark = f"{row['name']} (chosen)" if row["chosen"] else row["name"]
        table.add_row(mark, row["valid_auc"], row["diff_vs_best"], row["test_auc"])
    out.print(table)


def segment_table(segments: dict) -> None:
    """Per segment: which model it uses and every scorer's ROC-AUC (top-20 % capture)."""
    from rich.table import Table

    table = Table(title="Test split per segment: ROC-AUC (top-20 % capture)",
                  title_justify="left")
    order = [n for n in kinds.names() if n != kinds.CHALLENGER]
    order += ["global_model", kinds.CHALLENGER]
    scorers = [n for n in order if any(f"{n}_roc_auc" in e for e in segments.values())]
    short = {"global_model": "global", kinds.CHALLENGER: "selected", "conversions": "conv."}
    for col in ("segment", "leads", "conversions", "uses", *scorers):
        table.add_column(short.get(col, col), no_wrap=col == "segment",
                         justify="left" if col in ("segment", "uses") else "right")
    for level, entry in segments.items():
        cells = [f"{entry[f'{n}_roc_auc']:.3f} ({entry[f'{n}_capture_top_20']:.0%})"
                 if f"{n}_roc_auc" in entry else "" for n in scorers]
        table.add_row(level, f"{entry['leads']:,}", f"{entry['conversions']:,}",
                      str(entry.get("choice", "")), *cells)
    out.print(table)
