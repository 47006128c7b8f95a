"""Matplotlib figures for the report, MLflow and analysts (pure: tables in, Figure out)."""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # headless: CI, batch jobs and notebooks all render to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pipeline.scorers import kinds  # noqa: E402

# one colour per scorer kind in every plot, the oracle grey; anything else from the tab10 cycle
COLORS = {**{k.name: k.color for k in kinds.KINDS}, "oracle": kinds.ORACLE_COLOR}
POSITIVE, NEGATIVE = "#16a34a", "#dc2626"


def _color(name: str, i: int) -> str:
    return COLORS.get(name, plt.get_cmap("tab10")(i))


def _figure(width: float = 6.0, height: float = 4.2) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.grid(alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def roc_figure(roc: pd.DataFrame, aucs: Mapping[str, float]) -> Figure:
    """ROC curve per scorer with its AUC in the legend."""
    fig, ax = _figure()
    for i, (name, part) in enumerate(roc.groupby("scorer", sort=False)):
        label = f"{kinds.display(name)} (AUC {aucs.get(name, float('nan')):.3f})"
        ax.plot(part["x"], part["y"], label=label, color=_color(name, i), lw=2)
    ax.plot([0, 1], [0, 1], ls="--", color="#9ca3af", lw=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def gains_figure(gains: pd.DataFrame) -> Figure:
    """Cumulative share of conversions found when working leads best-first."""
    fig, ax = _figure()
    for i, (name, part) in enumerate(gains.groupby("scorer", sort=False)):
        ax.plot(100 * part["x"], 100 * part["y"], label=kinds.display(name), color=_color(name, i),
                lw=2)
    ax.plot([0, 100], [0, 100], ls="--", color="#9ca3af", lw=1, label="random")
    for cut in (10, 20, 30):
        ax.axvline(cut, color="#e5e7eb", lw=1, zorder=0)
    ax.set(xlabel="% of leads worked (best score first)", ylabel="% of conversions found",
           title="Cumulative gains", xlim=(0, 100), ylim=(0, 101))
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def calibration_figure(calibration: pd.DataFrame) -> Figure:
    """Reliability diagram: observed conversion rate against mean predicted probability."""
    fig, ax = _figure()
    for i, (name, part) in enumerate(calibration.groupby("scorer", sort=False)):
        ax.plot(100 * part["x"], 100 * part["y"], marker="o", label=kinds.display(name),
                color=_color(name, i), lw=1.5)
    ax.plot([0, 100], [0, 100], ls="--", color="#9ca3af", lw=1, label="perfect")
    ax.set(xlabel="Score (predicted conversion %)", ylabel="Observed conversion %",
           title="Calibration", xlim=(0, 100), ylim=(0, 100))
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def calibration_by_age_figure(y: np.ndarray, p: np.ndarray, age_days: np.ndarray,
                              title: str = "Calibration by lead age") -> Figure:
    """One reliability line per age bucket (equal-mass bins): a score that is a probability at
    every age keeps every line on the diagonal."""
    from pipeline.evaluation.ages import AGE_BUCKETS, age_bucket

    fig, ax = _figure()
    buckets = age_bucket(age_days)
    top = 0.0
    for i, (label, _, _) in enumerate(AGE_BUCKETS):
        rows = np.flatnonzero(buckets == label)
        if len(rows) < 100:
            continue
        parts = np.array_split(rows[np.argsort(p[rows], kind="stable")], 10)
        x = [100 * p[part].mean() for part in parts]
        observed = [100 * y[part].mean() for part in parts]
        top = max(top, *x, *observed)
        ax.plot(x, observed, marker="o", lw=1.5, color=plt.cm.viridis(i / len(AGE_BUCKETS)),
                label=f"{label} days ({len(rows):,} rows)")
    top = min(100.0, 1.05 * top or 100.0)
    ax.plot([0, top], [0, top], ls="--", color="#9ca3af", lw=1, label="perfect")
    ax.set(xlabel="Score (predicted conversion %)", ylabel="Observed conversion %", title=title,
           xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def score_histogram_figure(scores: np.ndarray, y: np.ndarray, title: str = "Score") -> Figure:
    """Score distribution of converted vs not converted leads (densities)."""
    fig, ax = _figure()
    bins = np.arange(0, 102, 2)
    y = np.asarray(y).astype(bool)
    ax.hist(scores[~y], bins=bins, alpha=0.6, density=True, label="not converted",
            color="#9ca3af")
    ax.hist(scores[y], bins=bins, alpha=0.6, density=True, label="converted", color=POSITIVE)
    ax.set(xlabel="Score", ylabel="Density", title=f"{title} by outcome")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, title: str = "Factor importance") -> Figure:
    """Mean |points| per factor, largest on top."""
    importance = importance.sort_values()
    fig, ax = _figure(6.5, max(2.5, 0.32 * len(importance) + 1))
    ax.barh(importance.index, importance.to_numpy(), color="#1f6feb")
    ax.set(xlabel="Mean |score points| per lead", title=title)
    fig.tight_layout()
    return fig


def dependence_figure(values: pd.Series, points: pd.Series, factor: str) -> Figure:
    """How a factor's points move with its value (one dot per lead)."""
    fig, ax = _figure(5.0, 3.6)
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object:
        table = pd.DataFrame({"v": values.astype(str), "p": points}).groupby("v")["p"].mean()
        table = table.sort_values()
        ax.barh(table.index, table.to_numpy(),
                color=[POSITIVE if v >= 0 else NEGATIVE for v in table.to_numpy()])
        ax.set(xlabel="Mean points", title=factor)
    else:
        ax.scatter(values, points, s=6, alpha=0.35, color="#1f6feb")
        ax.axhline(0, color="#9ca3af", lw=1)
        ax.set(xlabel=str(values.name), ylabel="Points", title=factor)
    fig.tight_layout()
    return fig


def cohort_figure(points_a: pd.Series, points_b: pd.Series, label_a: str, label_b: str,
                  title: str) -> Figure:
    """Mean factor points of two cohorts side by side (e.g. won vs lost)."""
    order = (points_a.abs() + points_b.abs()).sort_values().index
    fig, ax = _figure(6.5, max(2.5, 0.32 * len(order) + 1))
    pos = np.arange(len(order))
    ax.barh(pos - 0.2, points_a.loc[order], height=0.4, label=label_a, color=POSITIVE)
    ax.barh(pos + 0.2, points_b.loc[order], height=0.4, label=label_b, color="#9ca3af")
    ax.set_yticks(pos, order)
    ax.axvline(0, color="#6b7280", lw=1)
    ax.set(xlabel="Mean score points", title=title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def waterfall_figure(points: pd.Series, base_score: float, score: int, title: str,
                     max_factors: int = 10) -> Figure:
    """From the base score to this lead's score, one bar per factor (largest effects)."""
    points = points[points.abs() > 0.05]
    top = points.reindex(points.abs().sort_values(ascending=False).index)
    if len(top) > max_factors:
        rest = top.iloc[max_factors:].sum()
        top = pd.concat([top.iloc[:max_factors], pd.Series({"other factors": rest})])
    fig, ax = _figure(6.5, max(2.8, 0.38 * (len(top) + 2) + 0.8))
    labels = ["base score", *top.index, "score"]
    running = base_score
    for i, (_name, value) in enumerate(top.items(), start=1):
        ax.barh(i, value, left=running, color=POSITIVE if value >= 0 else NEGATIVE)
        ax.text(running + value + (0.6 if value >= 0 else -0.6), i, f"{value:+.1f}",
                va="center", ha="left" if value >= 0 else "right", fontsize=8)
        running += value
    ax.barh(0, base_score, color="#9ca3af")
    ax.barh(len(labels) - 1, score, color="#1f6feb")
    ax.text(score + 0.6, len(labels) - 1, f"{score}", va="center", fontsize=9, weight="bold")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set(xlabel="Score points", title=title)
    fig.tight_layout()
    return fig


def to_png(fig: Figure) -> bytes:
    """PNG bytes of a figure (closes it)."""
    buffer = io.BytesIO()
    # the figures lay themselves out (tight_layout): no layout engine asks savefig for a
    # second, throw-away draw
    fig.set_layout_engine("none")
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def comparison_figure(table: pd.DataFrame, title: str = "Model vs rules points",
                      names: tuple[str, str] = (kinds.CHALLENGER, kinds.REFERENCE)) -> Figure:
    """Grouped horizontal bars of a ``review.compare_points`` table (two scorers per factor).

    Parameters
    ----------
    table
        Output of :func:`compare_points` (columns ``model`` and ``rules``).
    title
        Figure title.
    names
        The two scorer columns, drawn in their kinds' colours.

    Returns
    -------
    matplotlib.figure.Figure
        Largest effect on top; model in the report's model colour, rules in its rules colour.
    """
    pos = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.36 * len(table) + 1.2)), dpi=110)
    for offset, name in zip((-0.2, 0.2), names, strict=True):
        ax.barh(pos + offset, table[name].to_numpy(), height=0.4, label=name,
                color=COLORS[name])
    ax.set_yticks(pos, [str(i) for i in table.index])
    ax.invert_yaxis()
    ax.axvline(0, color="#6b7280", lw=1)
    ax.grid(axis="x", alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set(xlabel="Score points", title=title)
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig


def reliability_figure(groups: list[dict]) -> Figure:
    """Observed conversion against mean probability by decile, one line per version and month.

    ``groups`` as :func:`pipeline.evaluation.monitor.judge` makes them (``by_decile``); groups
    without matured leads are left out, and a version's ``all`` line is drawn dashed where
    more than one of its months has matured leads (else it is that month's line again).
    """
    judged: dict[tuple, int] = {}
    for g in groups:
        if g.get("by_decile") and g["month"] != "all":
            key = (g["model_name"], g["model_version"])
            judged[key] = judged.get(key, 0) + 1
    shown = [g for g in groups if g.get("by_decile") and (
        g["month"] != "all" or judged.get((g["model_name"], g["model_version"]), 0) > 1)]
    fig, ax = _figure(6.4, 4.6)
    top = 0.0
    for i, group in enumerate(shown):
        table = pd.DataFrame(group["by_decile"])
        top = max(top, table["mean_probability"].max(), table["observed"].max())
        label = f"{group['model_name']} {group['model_version']} {group['month']}".strip()
        ax.plot(100 * table["mean_probability"], 100 * table["observed"], marker="o", lw=1.5,
                ls="--" if group["month"] == "all" else "-", color=_color(label, i),
                label=f"{label} ({group['matured']:,} matured)")
    limit = 100 * min(1.0, top * 1.1) if top else 100.0
    ax.plot([0, limit], [0, limit], ls=":", color="#9ca3af", lw=1, label="perfect")
    ax.set(xlabel="Mean predicted conversion % (decile)", ylabel="Realised conversion %",
           title="Reliability on matured leads", xlim=(0, limit), ylim=(0, limit))
    ax.legend(loc="upper left", frameon=False, fontsize=7)
    fig.tight_layout()
    return fig
