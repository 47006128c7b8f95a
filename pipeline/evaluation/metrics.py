"""Metrics that decide whether the learned score beats the points, on the same test leads.

Pure functions from labels and probabilities to numbers and curve tables: ranking (ROC-AUC,
PR-AUC, conversions captured in the top 10/20/30 %, lift per decile), calibration (Brier,
log-loss, expected calibration error over 10 equal-width bins and over 10 equal-mass bins), the MQL
view (precision and recall of the leads each scorer would hand over) and the sales-capacity view
(with N leads a week worked, how many conversions each scorer puts in front of sales). Paired
bootstrap intervals compare scorers on exactly the same resampled rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from pipeline.explain.routing import handed_interval, handed_per_week
from pipeline.scorers.ranking import resample_counts, weighted_aucs

TOP_FRACTIONS = (0.1, 0.2, 0.3)
ECE_BINS = 10


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean |observed rate - mean probability| over equal-width probability bins."""
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=y, minlength=bins) - np.bincount(
        idx, weights=p, minlength=bins))
    return float(gap.sum() / max(count.sum(), 1))


def adaptive_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean |observed rate - mean probability| over equal-mass bins (sorted by ``p``).

    At an 8 % base rate nearly every lead falls in the first equal-width bin, where a large
    relative miscalibration is a small absolute gap; equal-mass bins split the low scores too,
    so a miscalibrated ranking of the bulk of the leads shows.
    """
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    if not len(y):
        return 0.0
    order = np.argsort(p, kind="stable")
    gap = sum(abs(y[part].sum() - p[part].sum())
              for part in np.array_split(order, min(bins, len(y))))
    return float(gap / len(y))


def bootstrap_calibration(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0
                          ) -> dict[str, float]:
    """95 % percentile intervals of the equal-mass ECE and of the Brier score (rows resampled).

    Keys ``ece_adaptive_ci_low``, ``ece_adaptive_ci_high``, ``brier_ci_low``, ``brier_ci_high``.
    An ECE resample also holds the noise of its own bins, so the interval sits a little above a
    perfectly calibrated score's zero: a limit on its lower bound needs enough leads to mean much.
    """
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    rng = np.random.default_rng(seed)
    eces, briers = [], []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        eces.append(adaptive_calibration_error(y[rows], p[rows]))
        briers.append(float(np.mean((p[rows] - y[rows]) ** 2)))
    return {"ece_adaptive_ci_low": float(np.percentile(eces, 2.5)),
            "ece_adaptive_ci_high": float(np.percentile(eces, 97.5)),
            "brier_ci_low": float(np.percentile(briers, 2.5)),
            "brier_ci_high": float(np.percentile(briers, 97.5))}


def _ranked(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    # Stable order on ties (-p then position) so equal scores are not ranked by luck.
    order = np.lexsort((np.arange(len(p)), -np.asarray(p)))
    return np.asarray(y)[order]


def capture_at(y: np.ndarray, p: np.ndarray, fraction: float) -> float:
    """Share of all conversions found in the top ``fraction`` of leads by probability."""
    ranked = _ranked(y, p)
    k = int(np.ceil(fraction * len(ranked)))
    total = ranked.sum()
    return float(ranked[:k].sum() / total) if total else float("nan")


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> list[float]:
    """Conversion rate of each decile (best first) divided by the overall rate."""
    ranked = _ranked(y, p)
    rate = ranked.mean()
    return [float(part.mean() / rate) if rate else float("nan")
            for part in np.array_split(ranked, 10)]


def ranking_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, log-loss, ECE (equal-width and equal-mass) and top-k capture."""
    y = np.asarray(y)
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    out = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "ece_adaptive": adaptive_calibration_error(y, p),
        "positive_rate": float(np.mean(y)),
        "mean_probability": float(np.mean(p)),
    }
    for fraction in TOP_FRACTIONS:
        out[f"capture_top_{int(fraction * 100)}"] = capture_at(y, p, fraction)
    out["lift_decile_1"] = lift_by_decile(y, p)[0]
    return out


def mql_metrics(y: np.ndarray, mql: np.ndarray) -> dict[str, float]:
    """Precision and recall of the leads flagged as marketing-qualified.

    Undefined figures are NaN (shown as n/a), never 0: precision when no lead is flagged (a
    precision target no line reached), recall when the leads hold no conversion.
    """
    y = np.asarray(y).astype(bool)
    mql = np.asarray(mql).astype(bool)
    flagged = int(mql.sum())
    hits = int((mql & y).sum())
    return {
        "mql_share": float(mql.mean()),
        "mql_precision": hits / flagged if flagged else float("nan"),
        "mql_recall": hits / int(y.sum()) if y.any() else float("nan"),
    }


def capacity_view(
    y: np.ndarray, p: np.ndarray, mql: np.ndarray, leads_per_week: float,
    capacity_per_week: int | None, eligible: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Conversions per week sales meets when it works each week's routing list.

    The list is the one ``leadscore score --route`` writes (:func:`pipeline.explain.routing.route`:
    the MQLs that are ``eligible``, best first, at most ``capacity_per_week`` a week; None: no
    cap). Assumes the weekly inflow looks like the test leads (same mix); ``leads_per_week`` is
    their observed rate.
    """
    return handed_per_week(y, p, mql, leads_per_week, capacity_per_week, eligible)


def _resample_counts(y: np.ndarray, n_boot: int, seed: int):
    """Blocks of bootstrap count matrices (resamples x rows), each resample with both outcomes.

    Blocks keep a count matrix near 160 MB; resamples with one outcome only are skipped.
    """
    for counts in resample_counts(len(y), n_boot, np.random.default_rng(seed)):
        both = ((counts @ y) > 0) & ((counts @ (1 - y)) > 0)
        yield counts[both]


def bootstrap_auc(
    y: np.ndarray,
    p: np.ndarray,
    p_reference: np.ndarray | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """95 % percentile intervals for AUC (and AUC minus a reference's, on the same resamples).

    Resamples with one outcome only are skipped. All resamples are scored together (see
    :func:`~pipeline.scorers.ranking.weighted_aucs`), in blocks that keep the count matrix near
    160 MB.
    """
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    aucs, diffs = [], []
    for counts in _resample_counts(y, n_boot, seed):
        auc = weighted_aucs(y, p, counts)
        aucs.append(auc)
        if p_reference is not None:
            diffs.append(auc - weighted_aucs(y, np.asarray(p_reference, dtype="float64"),
                                              counts))
    aucs = np.concatenate(aucs)
    out = {"auc_ci_low": float(np.percentile(aucs, 2.5)),
           "auc_ci_high": float(np.percentile(aucs, 97.5))}
    if p_reference is not None:
        diffs = np.concatenate(diffs)
        out.update(
            auc_diff=float(roc_auc_score(y, p) - roc_auc_score(y, p_reference)),
            auc_diff_ci_low=float(np.percentile(diffs, 2.5)),
            auc_diff_ci_high=float(np.percentile(diffs, 97.5)),
        )
    return out


def paired_differences(
    y: np.ndarray,
    p: np.ndarray,
    references: dict[str, np.ndarray],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """AUC and Brier of ``p`` minus each reference's, with paired 95 % percentile intervals.

    Every reference is measured on the same resampled rows as ``p`` (and as each other), so an
    interval holds only the noise of the difference, not of each score; a reference equal to ``p``
    gets a zero-width interval. Keys per reference: ``auc_diff``, ``auc_diff_ci_low``,
    ``auc_diff_ci_high``, ``brier_diff``, ``brier_diff_ci_low``, ``brier_diff_ci_high``.
    """
    y = np.asarray(y, dtype="float64")
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    refs = {name: np.clip(np.asarray(r, dtype="float64"), 1e-6, 1 - 1e-6)
            for name, r in references.items()}
    auc_d: dict[str, list[np.ndarray]] = {name: [] for name in refs}
    brier_d: dict[str, list[np.ndarray]] = {name: [] for name in refs}
    for counts in _resample_counts(y, n_boot, seed):
        auc = weighted_aucs(y, p, counts)
        sq = counts @ (p - y) ** 2
        for name, r in refs.items():
            auc_d[name].append(auc - weighted_aucs(y, r, counts))
            # both Brier scores share the resample's size, so the difference needs one division
            brier_d[name].append((sq - counts @ (r - y) ** 2) / counts.sum(axis=1))
    out: dict[str, dict[str, float]] = {}
    for name, r in refs.items():
        auc_all, brier_all = np.concatenate(auc_d[name]), np.concatenate(brier_d[name])
        out[name] = {
            "auc_diff": float(roc_auc_score(y, p) - roc_auc_score(y, r)),
            "auc_diff_ci_low": float(np.percentile(auc_all, 2.5)),
            "auc_diff_ci_high": float(np.percentile(auc_all, 97.5)),
            "brier_diff": float(np.mean((p - y) ** 2) - np.mean((r - y) ** 2)),
            "brier_diff_ci_low": float(np.percentile(brier_all, 2.5)),
            "brier_diff_ci_high": float(np.percentile(brier_all, 97.5)),
        }
    return out


@dataclass(frozen=True)
class Curves:
    """Plot-ready curve tables (also written as CSV for ``dvc plots``)."""

    roc: pd.DataFrame
    gains: pd.DataFrame
    calibration: pd.DataFrame


def curves(y: np.ndarray, probs: dict[str, np.ndarray]) -> Curves:
    """ROC, cumulative gains and reliability tables for each named scorer (long format)."""
    roc_parts, gain_parts, cal_parts = [], [], []
    y = np.asarray(y)
    for name, p in probs.items():
        fpr, tpr, _ = roc_curve(y, p)
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 400)).astype(int))
        roc_parts.append(pd.DataFrame({"scorer": name, "x": fpr[keep], "y": tpr[keep]}))
        ranked = _ranked(y, p)
        steps = np.linspace(0, 1, 101)
        found = np.concatenate([[0], np.cumsum(ranked)]) / max(ranked.sum(), 1)
        gain_parts.append(pd.DataFrame({
            "scorer": name, "x": steps,
            "y": found[np.ceil(steps * len(ranked)).astype(int)],
        }))
        idx = np.minimum((np.asarray(p) * ECE_BINS).astype(int), ECE_BINS - 1)
        table = pd.DataFrame({"bin": idx, "p": p, "y": y}).groupby("bin").agg(
            x=("p", "mean"), y=("y", "mean"), n=("y", "size")).reset_index(drop=True)
        table.insert(0, "scorer", name)
        cal_parts.append(table)
    return Curves(pd.concat(roc_parts, ignore_index=True), pd.concat(gain_parts, ignore_index=True),
                  pd.concat(cal_parts, ignore_index=True))


def compare_scorers(
    y: np.ndarray,
    probs: dict[str, np.ndarray],
    mql: dict[str, np.ndarray],
    reference: str,
    leads_per_week: float,
    capacity_per_week: int | None,
    n_boot: int = 500,
    seed: int = 0,
    eligible: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """All metrics for each scorer on the same rows; AUC differences against ``reference``.

    The capacity view (conversions/week handed to sales) needs a scorer's MQL flags, so a
    column without them (the oracle) has none; ``eligible``: per scorer, the rows that are not
    disqualified.
    """
    out: dict[str, dict[str, float]] = {}
    for name, p in probs.items():
        p = np.asarray(p, dtype="float64")
        metrics = ranking_metrics(y, p)
        if name in mql:
            metrics.update(mql_metrics(y, mql[name]))
            rows = (eligible or {}).get(name)
            metrics.update(capacity_view(y, p, mql[name], leads_per_week, capacity_per_week,
                                         rows))
            if n_boot:
                low, high = handed_interval(y, p, mql[name], leads_per_week, capacity_per_week,
                                            rows, n_boot=n_boot, seed=seed)
                metrics.update(conversions_handed_ci_low=low, conversions_handed_ci_high=high)
        other = None if name == reference else np.asarray(probs[reference], dtype="float64")
        if n_boot:
            metrics.update(bootstrap_auc(y, p, other, n_boot=n_boot, seed=seed))
        metrics["lift_by_decile"] = lift_by_decile(y, p)  # type: ignore[assignment]
        out[name] = metrics
    return out


def metrics_by_segment(
    y: np.ndarray, segment: np.ndarray, probs: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """ROC-AUC and top-20 % capture of every scorer within each segment (e.g. product line).

    A segment whose test leads all share one outcome gets counts only.
    """
    y = np.asarray(y)
    segment = np.asarray(segment).astype(str)
    out: dict[str, dict[str, float]] = {}
    for level in sorted(set(segment)):
        rows = segment == level
        entry: dict[str, float] = {"leads": int(rows.sum()), "conversions": int(y[rows].sum())}
        if 0 < entry["conversions"] < entry["leads"]:
            for name, p in probs.items():
                p = np.asarray(p, dtype="float64")[rows]
                entry[f"{name}_roc_auc"] = float(roc_auc_score(y[rows], p))
                entry[f"{name}_capture_top_20"] = capture_at(y[rows], p, 0.2)
        out[level] = entry
    return out
