"""Quality by lead age: is the score the same probability for a lead of 3 days and of 120 days?

A model trained at one age can rank well overall and still be miscalibrated for every age but its
own; one overall ECE averages that away. Each scorer's test rows are cut into the age buckets
below (age = days from creation to the row's as_of) and each bucket gets its observed rate, mean
probability, ECE (equal-width and equal-mass, with a bootstrap interval) and AUC.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from pipeline.evaluation.metrics import (
    adaptive_calibration_error,
    bootstrap_calibration,
    expected_calibration_error,
)

#: (label, lowest age in days, highest age in days), inclusive of whole days
AGE_BUCKETS = (("0-7", 0.0, 7.0), ("8-30", 8.0, 30.0), ("31-90", 31.0, 90.0),
               ("over 90", 91.0, np.inf))
MIN_BUCKET_ROWS = 50


def age_bucket(age_days: np.ndarray) -> np.ndarray:
    """The bucket label of each age (fractional days round down: 7.6 days old is 0-7)."""
    days = np.floor(np.asarray(age_days, dtype="float64"))
    out = np.full(len(days), "", dtype=object)
    for label, low, high in AGE_BUCKETS:
        out[(days >= low) & (days <= high)] = label
    return out


def _ece_interval(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    bounds = bootstrap_calibration(y, p, n_boot, seed)
    return bounds["ece_adaptive_ci_low"], bounds["ece_adaptive_ci_high"]


def metrics_by_age(y: np.ndarray, probs: dict[str, np.ndarray], age_days: np.ndarray,
                   n_boot: int = 200, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per age bucket: rows, conversions, observed rate and, per scorer, calibration and AUC.

    Buckets with fewer than ``MIN_BUCKET_ROWS`` rows get counts only.
    """
    y = np.asarray(y, dtype="float64")
    buckets = age_bucket(age_days)
    out: dict[str, dict[str, Any]] = {}
    for label, _, _ in AGE_BUCKETS:
        rows = buckets == label
        if not rows.any():
            continue
        entry: dict[str, Any] = {"rows": int(rows.sum()), "conversions": int(y[rows].sum()),
                                 "observed": float(y[rows].mean())}
        if entry["rows"] >= MIN_BUCKET_ROWS:
            for name, p in probs.items():
                p = np.asarray(p, dtype="float64")[rows]
                low, high = _ece_interval(y[rows], p, n_boot, seed) if n_boot else (None, None)
                entry[name] = {
                    "mean_p": float(p.mean()),
                    "ece": expected_calibration_error(y[rows], p),
                    "ece_adaptive": adaptive_calibration_error(y[rows], p),
                    "ece_adaptive_ci_low": low, "ece_adaptive_ci_high": high,
                    "roc_auc": (float(roc_auc_score(y[rows], p))
                                if 0 < entry["conversions"] < entry["rows"] else None),
                }
        out[label] = entry
    return out


def ages_table(metrics: dict[str, Any], scorers: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The report's table: per age bucket, rows, observed rate and each scorer's mean p / ECE.

    ``scorers``: (metrics key, label) of the columns. None when the metrics have no ages.
    """
    by_age = metrics.get("by_age")
    if not by_age:
        return None
    rows = []
    for label, entry in by_age.items():
        cells = []
        for name, _ in scorers:
            e = entry.get(name)
            if not e:
                cells.append("n/a")
                continue
            interval = ("" if e.get("ece_adaptive_ci_low") is None else
                        f" ({e['ece_adaptive_ci_low']:.3f}-{e['ece_adaptive_ci_high']:.3f})")
            cells.append(f"{e['mean_p']:.1%} · ECE {e['ece_adaptive']:.3f}{interval}")
        rows.append({"bucket": label, "rows": f"{entry['rows']:,}",
                     "observed": f"{entry['observed']:.1%}", "cells": cells})
    return {"columns": [label for _, label in scorers], "rows": rows}
