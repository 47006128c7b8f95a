"""Scoring-time checks of the values a model is asked about, beyond the input contract.

The contract (:mod:`pipeline.data.contracts`) refuses what no model could read: text, inf or
negative counts. This module handles values a model *can* read but should not be trusted on:

- **Absurd magnitudes.** A number beyond the training range by orders of magnitude (1e308 in
  a session length) is clipped to the training range, so the model and the reasons see the
  largest value training knew, and a warning counts the rows. Trees would treat 1e308 like the
  training maximum anyway; the clip makes the reason honest ("1e+308: +31" was shown before).
- **Unknown categories.** Values never seen in training score as ``other``: a warning counts
  them, so a renamed picklist value does not go unnoticed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.explain.package import ScoringPackage

# How far beyond the training range a value must lie to count as absurd, in multiples of the
# range's scale (the largest of its width, its bounds' magnitudes and 1).
ABSURD_FACTOR = 100.0
_DERIVED_FROM = {
    "company_employees": "size_column", "company_size_band": "size_column",
    "company_revenue": "revenue_column", "company_revenue_band": "revenue_column",
    "seniority": "title_column", "department": "title_column", "is_student": "title_column",
}


def user_column(package: ScoringPackage, feature: str) -> str:
    """The input column a feature comes from, as the user named it (else the feature name)."""
    from features.firmographic import declared_columns

    settings = package.builder._settings()
    declared = declared_columns(settings)
    if feature in declared:
        return declared[feature][0]
    attribute = _DERIVED_FROM.get(feature)
    return getattr(settings, attribute, None) or feature if attribute else feature


def missing_sources(package: ScoringPackage, columns: pd.Index) -> dict[str, list[str]]:
    """Input columns the model's features are derived from that these leads lack."""
    missing: dict[str, list[str]] = {}
    for name in package.spec.names:
        if name not in _DERIVED_FROM:
            continue
        column = user_column(package, name)
        if column not in columns:
            missing.setdefault(column, []).append(name)
    return missing


def clip_absurd(package: ScoringPackage, X: pd.DataFrame) -> dict[str, tuple[int, float, float]]:
    """Clip absurd numbers to the training range, in place; ``{feature: (rows, lo, hi)}``."""
    clipped: dict[str, tuple[int, float, float]] = {}
    for name, ref in package.reference.get("features", {}).items():
        if ref.get("dtype") != "numeric" or "min" not in ref or name not in X.columns:
            continue
        lo, hi = float(ref["min"]), float(ref["max"])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            continue
        values = X[name].to_numpy(dtype="float64")
        scale = ABSURD_FACTOR * max(hi - lo, abs(lo), abs(hi), 1.0)
        absurd = np.isfinite(values) & ((values > hi + scale) | (values < lo - scale))
        if absurd.any():
            X[name] = np.where(absurd, np.clip(values, lo, hi), values)
            clipped[name] = (int(absurd.sum()), lo, hi)
    return clipped


def domain_warnings(package: ScoringPackage, file: str, clipped: dict,
                    unseen: dict[str, dict[str, int]]) -> dict[str, int]:
    """One message per problem, with its row count (counts add up across batches)."""
    out: dict[str, int] = {}
    for name, (rows, lo, hi) in clipped.items():
        column = user_column(package, name)
        out[f"{file}: column '{column}': values far beyond the training range "
            f"[{lo:g}, {hi:g}], clipped to it for the model"] = rows
    for name, values in unseen.items():
        column = user_column(package, name)
        out[f"{file}: column '{column}': values never seen in training score as 'other'"] = \
            sum(values.values())
    return out
