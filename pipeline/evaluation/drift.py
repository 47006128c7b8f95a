"""Drift monitoring: population stability index (PSI) of every feature and of the score.

The training reference (stored with the model) holds, per feature, bins of the training rows and
their counts; a new batch is counted into the same bins, incrementally, so batch scoring monitors
drift in bounded memory. PSI = sum over bins of (new share - reference share) * ln(new / reference);
above 0.1 is worth a look, above 0.25 is an alarm (conventional thresholds, configurable).

Two things made the plain decile PSI alarm on leads from the very same population:

- Ties. A feature with a few distinct values (flags, counts that are mostly 0, the grid's lead
  ages) gets one bin per value; otherwise decile edges, with bins under :data:`MIN_SHARE` of the
  rows merged into a neighbour, so a quantile that falls inside a run of equal values cannot leave
  a sliver of a bin. Shares are smoothed (:data:`SMOOTHING` of a lead per bin), never clipped to a
  tiny epsilon whose logarithm turns one stray lead into an alarm.
- Lead age. Training rows sit on a grid of lead ages (``pipeline/data/grid.py``), scored leads are
  as old as they are, and most engagement features (days since the first activity, counts over
  the lead's lifetime) grow with age. When the reference has ``lead_age_days``, every bin is
  counted per age bucket and the expected shares are the training shares reweighted to the age
  mix of the scored leads: the question is "do leads of this age look like training leads of
  this age". A feature that is the age minus a moment of the lead's life (days since the first
  activity: correlation with age of at least :data:`TRACKS_AGE`, slope 1) spreads with the ages
  inside a bucket, so it is compared as ``age - value``, the day of its life the moment came.
  The age column itself is what is matched on, and its PSI is shown as information, never as a
  warning (the as_of chooses the ages, the population does not). Leads older than the oldest
  training age are compared with the oldest training rows: a model trained to 180 days says
  nothing about year-old leads, and their drift is real.

Why not a library (measured on this project's stack, Python 3.11, pandas 3): evidently 0.7.23
adds 31 packages and 285 MB to this environment (plotly, statsmodels, nltk, a litestar web
server) and does not import under pandas 3 (``infer_dtype_from_object`` is gone); nannyml 0.13.1
resolves to 92 packages, pinning lightgbm < 4.6 and plotly < 6 and pulling FLAML[automl] with
xgboost and a CUDA NCCL wheel. Neither keeps counts that a resumed batch job or a Spark job can
merge, and neither matches on lead age; scipy has no PSI. This module imports in 8 ms over numpy
and pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

N_BINS = 10
MAX_DISTINCT = 12  # at most this many distinct training values: one bin per value
MIN_SHARE = 0.02  # numeric bins and categorical levels below this share of the rows are merged
SMOOTHING = 0.5  # leads added to every bin's count before taking shares (Jeffreys)
MISSING = "<missing>"
OTHER = "<other>"
AGE = "lead_age_days"
SCORE = "__score__"
MATCHED_ON = "matched on"
TRACKS_AGE = 0.95  # correlation with lead age above which a feature is compared as age - value


def _numeric_edges(values: np.ndarray) -> list[float]:
    """Bin edges (a value equal to an edge falls in the bin above it), tie-aware."""
    finite = np.sort(values[np.isfinite(values)])
    if finite.size == 0:
        return []
    distinct = np.unique(finite)
    if distinct.size <= MAX_DISTINCT:
        return [float(e) for e in (distinct[:-1] + distinct[1:]) / 2]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1]))
    edges = edges[edges > finite[0]]  # an edge at the minimum leaves an empty first bin
    floor = MIN_SHARE * finite.size
    kept: list[float] = []
    start = 0  # rows below the last kept edge
    for edge in edges:
        below = int(np.searchsorted(finite, edge, side="left"))
        if below - start >= floor:
            kept.append(float(edge))
            start = below
    if kept and finite.size - start < floor:  # the top bin is a sliver: merge it down
        kept.pop()
    return kept


def _numeric_bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin index of each value; missing values in the last bin (``len(edges) + 1``)."""
    values = np.asarray(values, dtype="float64")
    idx = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="right")
    return np.where(np.isfinite(values), idx, len(edges) + 1)


def _levels(series: pd.Series) -> list[str]:
    """The training levels holding at least :data:`MIN_SHARE` of the rows, most frequent first."""
    shares = _text(series).value_counts(normalize=True)
    return [str(v) for v, share in shares.items() if share >= MIN_SHARE]


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), MISSING).astype(str)


def _categorical_bins(values: pd.Series, levels: list[str]) -> np.ndarray:
    """Level index of each value; rare and unseen levels share the last bin."""
    known = {level: i for i, level in enumerate(levels)}
    values = pd.Series(values)
    codes = None
    if isinstance(values.dtype, pd.CategoricalDtype | pd.StringDtype):
        # one lookup per distinct value (equal values give equal text in these dtypes)
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        values = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    bins = _text(values).map(known).fillna(len(levels)).astype(int).to_numpy()
    return bins if codes is None else bins[codes]


def _bins(ref: dict[str, Any], values) -> np.ndarray:
    if ref["dtype"] == "categorical":
        return _categorical_bins(pd.Series(values), ref["levels"])
    return _numeric_bins(np.asarray(values, dtype="float64"), ref["edges"])


def _n_bins(ref: dict[str, Any]) -> int:
    return len(ref["levels"]) + 1 if ref["dtype"] == "categorical" else len(ref["edges"]) + 2


def _counts(ref: dict[str, Any], values, buckets: np.ndarray, n_buckets: int) -> np.ndarray:
    """(age bucket x bin) counts of ``values``."""
    flat = buckets * _n_bins(ref) + _bins(ref, values)
    return np.bincount(flat, minlength=n_buckets * _n_bins(ref)).reshape(
        n_buckets, _n_bins(ref)).astype("float64")


def _age_buckets(ages: dict[str, Any] | None, X: pd.DataFrame) -> tuple[np.ndarray, int]:
    """The age bucket of each row (all in bucket 0 without age matching), and the bucket count."""
    if ages is None or AGE not in X.columns:
        return np.zeros(len(X), dtype="int64"), 1 if ages is None else len(ages["edges"]) + 1
    values = X[AGE].to_numpy(dtype="float64")
    # a lead without an age (none is expected) counts as the youngest
    idx = np.searchsorted(np.asarray(ages["edges"]), np.nan_to_num(values, nan=-np.inf),
                          side="right")
    return idx, len(ages["edges"]) + 1


def _tracks_age(values: np.ndarray, ages: np.ndarray | None) -> bool:
    """Whether a feature is lead age minus a fixed moment of the lead's life (days since its
    first activity): within an age bucket it spreads with the bucket's ages, so it is compared
    as ``age - value``, the day of its life the moment came, which does not grow with age."""
    if ages is None:
        return False
    ok = np.isfinite(values) & np.isfinite(ages)
    if ok.sum() < 10 or np.std(values[ok]) == 0 or np.std(ages[ok]) == 0:
        return False
    slope = np.polyfit(ages[ok], values[ok], 1)[0]
    return bool(np.corrcoef(ages[ok], values[ok])[0, 1] >= TRACKS_AGE and abs(slope - 1) <= 0.1)


def _values(ref: dict[str, Any], X: pd.DataFrame, column: str):
    if ref.get("versus_age"):
        return X[AGE].to_numpy(dtype="float64") - X[column].to_numpy(dtype="float64")
    return X[column]


def _describe(X: pd.DataFrame, column: str) -> dict[str, Any]:
    series = X[column]
    # strings of any dtype (object, pandas' str) and categoricals are levels; numbers and flags bins
    if isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series):
        return {"dtype": "categorical", "levels": _levels(series)}
    values = series.to_numpy(dtype="float64")
    finite = values[np.isfinite(values)]
    # The training range: scoring clips values absurdly far beyond it.
    bounds = {"min": float(finite.min()), "max": float(finite.max())} if finite.size else {}
    ages = X[AGE].to_numpy(dtype="float64") if AGE in X.columns and column != AGE else None
    if _tracks_age(values, ages):
        return {"dtype": "numeric", "versus_age": True, "edges": _numeric_edges(ages - values),
                **bounds}
    return {"dtype": "numeric", "edges": _numeric_edges(values), **bounds}


def build_reference(X: pd.DataFrame, probabilities: np.ndarray) -> dict[str, Any]:
    """Bins and per-age-bucket counts of the training rows (features and probability)."""
    ages = ({"edges": _numeric_edges(X[AGE].to_numpy(dtype="float64"))} if AGE in X.columns
            else None)
    buckets, n_buckets = _age_buckets(ages, X)
    features: dict[str, Any] = {}
    for column in X.columns:
        ref = _describe(X, column)
        counts = _counts(ref, _values(ref, X, column), buckets, n_buckets)
        features[column] = {**ref, "counts": counts.tolist(),
                            "expected": (counts.sum(axis=0) / max(counts.sum(), 1)).tolist()}
    p = np.asarray(probabilities, dtype="float64")
    score = {"dtype": "numeric", "edges": _numeric_edges(p)}
    counts = _counts(score, p, buckets, n_buckets)
    score.update(counts=counts.tolist(), expected=(counts.sum(axis=0) / counts.sum()).tolist())
    sample = np.sort(p)[np.linspace(0, len(p) - 1, min(len(p), 2001)).astype(int)]
    return {"features": features, "ages": ages, "score": score, "probabilities": sample.tolist()}


def _shares(counts: np.ndarray) -> np.ndarray:
    """Smoothed shares per row of ``counts`` (an empty bin is not an infinite surprise)."""
    counts = np.atleast_2d(np.asarray(counts, dtype="float64")) + SMOOTHING
    return counts / counts.sum(axis=1, keepdims=True)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    e, a = np.asarray(expected, dtype="float64"), np.asarray(actual, dtype="float64")
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def _expected(ref: dict[str, Any], actual: np.ndarray) -> np.ndarray:
    """The training shares reweighted to the age mix of ``actual`` ((bucket x bin) counts)."""
    if "counts" not in ref:  # a reference stored before age matching: shares, no counts
        return np.asarray(ref["expected"], dtype="float64")
    per_bucket = np.asarray(ref["counts"], dtype="float64")
    weights = actual.sum(axis=1)
    weights = weights / max(weights.sum(), 1)
    return weights @ _shares(per_bucket)


def _basis(ref: dict[str, Any], matched: bool) -> str:
    if not matched or "counts" not in ref:
        return "overall"
    return "age-matched, as age minus value" if ref.get("versus_age") else "age-matched"


class DriftMonitor:
    """Counts new leads into the reference bins (per age bucket), batch after batch."""

    def __init__(self, reference: dict[str, Any], warn: float = 0.1, alarm: float = 0.25):
        self.reference = reference
        self.warn = warn
        self.alarm = alarm
        self.counts: dict[str, np.ndarray] = {}
        self.rows = 0
        self.outcomes: list[pd.DataFrame] = []

    def _count(self, name: str, ref: dict[str, Any], values, buckets: np.ndarray,
               n_buckets: int) -> None:
        if "counts" not in ref:  # old reference: one bucket, old bin layout
            buckets, n_buckets = np.zeros(len(buckets), dtype="int64"), 1
        counts = _counts(ref, values, buckets, n_buckets)
        self.counts[name] = self.counts.get(name, 0) + counts

    def update(self, X: pd.DataFrame, probabilities: np.ndarray,
               bands: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
        """Add one batch (its feature table and probabilities; outcomes when known)."""
        buckets, n_buckets = _age_buckets(self.reference.get("ages"), X)
        for name, ref in self.reference["features"].items():
            if name in X.columns and (AGE in X.columns or not ref.get("versus_age")):
                self._count(name, ref, _values(ref, X, name), buckets, n_buckets)
        self._count(SCORE, self.reference["score"], probabilities, buckets, n_buckets)
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
        """PSI per feature and for the score, with a status (ok / warn / alarm) and its basis."""
        rows = []
        matched = self.reference.get("ages") is not None
        items = [*self.reference["features"].items(), (SCORE, self.reference["score"])]
        for name, ref in items:
            if name not in self.counts:
                continue
            actual = np.atleast_2d(self.counts[name])
            if name == AGE and matched:  # the age mix is the scored as_of's choice, not drift
                trained = np.sum(ref["counts"], axis=0)
                value = psi(_shares(trained)[0], _shares(actual.sum(axis=0))[0])
                rows.append({"feature": name, "psi": round(value, 4), "status": "ok",
                             "basis": MATCHED_ON})
                continue
            value = psi(_expected(ref, actual), _shares(actual.sum(axis=0))[0])
            status = "alarm" if value > self.alarm else "warn" if value > self.warn else "ok"
            rows.append({"feature": "score" if name == SCORE else name,
                         "psi": round(value, 4), "status": status,
                         "basis": _basis(ref, matched)})
        table = pd.DataFrame(rows, columns=["feature", "psi", "status", "basis"])
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
