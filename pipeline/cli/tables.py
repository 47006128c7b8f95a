"""Rich tables the training commands print: every scorer kind side by side on the test split."""

from __future__ import annotations

from pipeline.cli.console import out
from pipeline.scorers import kinds

METRIC_ROWS = (
    ("ROC-AUC", "roc_auc", "{:.3f}"), ("AUC 95% CI", None, None),
    ("PR-AUC", "pr_auc", "{:.3f}"), ("Brier", "brier", "{:.4f}"),
    ("log-loss", "log_loss", "{:.4f}"), ("ECE", "ece", "{:.4f}"),
    ("conversions in top 10%", "capture_top_10", "{:.1%}"),
    ("conversions in top 20%", "capture_top_20", "{:.1%}"),
    ("conversions in top 30%", "capture_top_30", "{:.1%}"),
    ("lift, top decile", "lift_decile_1", "{:.2f}x"),
    ("MQL precision", "mql_precision", "{:.1%}"), ("MQL recall", "mql_recall", "{:.1%}"),
    ("conversions/week to sales", "conversions_handed_per_week", "{:.1f}"),
)


def comparison_table(metrics: dict) -> None:
    """Every kind (and the oracle, when known) on the same test leads, then the differences."""
    from rich.table import Table

    names = [n for n in (*kinds.names(), "oracle") if n in metrics]
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
                cells.append(f"{m['auc_ci_low']:.3f}-{m['auc_ci_high']:.3f}")
            elif key in m and m[key] is not None:
                cells.append(fmt.format(m[key]))
            else:
                cells.append("")
        table.add_row(label, *cells)
    out.print(table)
    for name in kinds.names():
        m = metrics.get(name, {})
        if "auc_diff" in m:
            out.print(f"{name} - {kinds.REFERENCE} AUC: {m['auc_diff']:+.3f} "
                      f"(95% CI {m['auc_diff_ci_low']:+.3f} to {m['auc_diff_ci_high']:+.3f})")
    challenger = metrics.get(kinds.CHALLENGER, {})
    if "auc_ratio_to_oracle" in challenger:
        out.print(f"{kinds.CHALLENGER} / oracle AUC: {challenger['auc_ratio_to_oracle']:.3f}")
    if metrics.get("segments"):
        segment_table(metrics["segments"])


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
