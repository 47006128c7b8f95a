"""Drift monitoring: population stability index (PSI) of every feature and of the score.

The training reference (stored with the model) holds, per feature, the bins of the training leads
(deciles for numeric features, levels for categorical ones, plus a bin for missing values) and
their shares, and the same for the predicted probability. A new batch is counted into the same
bins, incrementally, so batch scoring can monitor drift in bounded memory.
PSI = sum over bins of (new share - reference share) * ln(new share / reference share);
above 0.1 is worth a look, above 0.25 is an alarm (conventional thresholds, configurable).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-4
N_BINS = 10
MISSING = "<missing>"


def _numeric_edges(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1]))
    return [float(e) for e in edges]


def _numeric_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    values = np.asarray(values, dtype="float64")
    missing = ~np.isfinite(values)
    idx = np.searchsorted(np.asarray(edges), values[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype("float64")
    return np.append(counts, float(missing.sum()))


def _categorical_counts(values: pd.Series, levels: list[str]) -> np.ndarray:
    text = values.astype(object).where(values.notna(), MISSING).astype(str)
    known = {level: i for i, level in enumerate(levels)}
    idx = text.map(known).fillna(len(levels)).astype(int).to_numpy()  # last bin: unseen level
    return np.bincount(idx, minlength=len(levels) + 1).astype("float64")


def build_reference(X: pd.DataFrame, probabilities: np.ndarray) -> dict[str, Any]:
    """Bins and shares of the training leads (features and probability)."""
    features: dict[str, Any] = {}
    for column in X.columns:
        series = X[column]
        if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
            levels = [str(v) for v in series.astype(object).where(series.notna(), MISSING)
                      .astype(str).value_counts().index]
            counts = _categorical_counts(series, levels)
            features[column] = {"dtype": "categorical", "levels": levels,
                                "expected": (counts / counts.sum()).tolist()}
        else:
            values = series.to_numpy(dtype="float64")
            edges = _numeric_edges(values)
            counts = _numeric_counts(values, edges)
            finite = values[np.isfinite(values)]
            # The training range: scoring clips values absurdly far beyond it.
            bounds = ({"min": float(finite.min()), "max": float(finite.max())} if finite.size
                      else {})
            features[column] = {"dtype": "numeric", "edges": edges,
                                "expected": (counts / counts.sum()).tolist(), **bounds}
    p = np.asarray(probabilities, dtype="float64")
    edges = _numeric_edges(p)
    counts = _numeric_counts(p, edges)
    sample = np.sort(p)[np.linspace(0, len(p) - 1, min(len(p), 2001)).astype(int)]
    return {"features": features,
            "score": {"dtype": "numeric", "edges": edges, "expected": (counts / counts.sum())
                      .tolist()},
            "probabilities": sample.tolist()}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype="float64"), EPS, None)
    a = np.clip(np.asarray(actual, dtype="float64"), EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


class DriftMonitor:
    """Counts new leads into the reference bins, batch after batch."""

    def __init__(self, reference: dict[str, Any], warn: float = 0.1, alarm: float = 0.25):
        self.reference = reference
        self.warn = warn
        self.alarm = alarm
        self.counts: dict[str, np.ndarray] = {}
        self.rows = 0
        self.outcomes: list[pd.DataFrame] = []

    def _count(self, name: str, ref: dict[str, Any], values) -> None:
        if ref["dtype"] == "categorical":
            counts = _categorical_counts(pd.Series(values), ref["levels"])
        else:
            counts = _numeric_counts(np.asarray(values, dtype="float64"), ref["edges"])
        self.counts[name] = self.counts.get(name, 0) + counts

    def update(self, X: pd.DataFrame, probabilities: np.ndarray,
               bands: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
        """Add one batch (its feature table and probabilities; outcomes when known)."""
        for name, ref in self.reference["features"].items():
            if name in X.columns:
                self._count(name, ref, X[name])
        self._count("__score__", self.reference["score"], probabilities)
        self.rows += len(X)
        if y is not None and bands is not None:
            self.outcomes.append(pd.DataFrame({"band": bands, "y": y}))

    def state(self) -> dict[str, Any]:
        """The counts so far, as JSON-ready lists (kept with a batch's part for resumes)."""
        return {"rows": self.rows, "counts": {k: v.tolist() for k, v in self.counts.items()}}

    def merge(self, state: dict[str, Any]) -> None:
        """Add the counts of another monitor's :meth:`state`."""
        for name, counts in state["counts"].items():
            self.counts[name] = self.counts.get(name, 0) + np.asarray(counts, dtype="float64")
        self.rows += int(state["rows"])

    def result(self) -> pd.DataFrame:
        """PSI per feature and for the score, with a status (ok / warn / alarm)."""
        rows = []
        items = [*self.reference["features"].items(), ("__score__", self.reference["score"])]
        for name, ref in items:
            if name not in self.counts:
                continue
            expected = np.asarray(ref["expected"])
            actual = self.counts[name]
            if ref["dtype"] == "categorical" and len(actual) > len(expected):
                expected = np.append(expected, 0.0)
            value = psi(expected, actual / max(actual.sum(), 1))
            status = "alarm" if value > self.alarm else "warn" if value > self.warn else "ok"
            rows.append({"feature": "score" if name == "__score__" else name,
                         "psi": round(value, 4), "status": status})
        table = pd.DataFrame(rows, columns=["feature", "psi", "status"])
        return table.sort_values("psi", ascending=False, ignore_index=True)

    def conversion_by_band(self) -> pd.DataFrame | None:
        """Observed conversion per score band when outcomes were given."""
        if not self.outcomes:
            return None
        frame = pd.concat(self.outcomes, ignore_index=True)
        return frame.groupby("band")["y"].agg(leads="size", conversion_rate="mean").reset_index()

    @property
    def alarmed(self) -> bool:
        """True when any PSI crossed the alarm threshold."""
        table = self.result()
        return bool((table["status"] == "alarm").any())
