"""Leakage audit: which candidate columns look too good, or are known to be written after as_of.

Each candidate column is scored alone on the training leads: numeric columns by the ROC-AUC of
their value (in whichever direction is better), categorical columns by the ROC-AUC of their
out-of-fold target rate (5 folds, so a many-level column cannot score by memorising its own rows).
A column is flagged when its AUC passes the configured limit (default 0.9: few honest pre-contact
signals separate converters that well on their own) or when the config lists it as recorded after
contact. Flagged columns are excluded unless the config keeps them explicitly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold


def _oof_target_rate(values: pd.Series, y: np.ndarray, seed: int) -> np.ndarray:
    keys = values.astype(str).fillna("<missing>").to_numpy()
    out = np.empty(len(keys), dtype="float64")
    prior = float(y.mean())
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for fit_idx, held_idx in folds.split(keys, y):
        rates = pd.Series(y[fit_idx]).groupby(keys[fit_idx]).agg(["sum", "count"])
        # light smoothing towards the prior: a level seen twice is not a 100 % signal
        smoothed = (rates["sum"] + 10 * prior) / (rates["count"] + 10)
        out[held_idx] = pd.Series(keys[held_idx]).map(smoothed).fillna(prior).to_numpy()
    return out


def single_feature_auc(values: pd.Series, y: np.ndarray, seed: int = 0) -> float:
    """ROC-AUC of one column alone, oriented so that 0.5 is useless and 1.0 is a perfect leak."""
    y = np.asarray(y)
    if values.nunique(dropna=False) <= 1 or y.min() == y.max():
        return 0.5
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        filled = values.astype("float64")
        filled = filled.fillna(filled.median() if filled.notna().any() else 0.0)
        auc = roc_auc_score(y, filled.to_numpy())
        return float(max(auc, 1.0 - auc))
    return float(roc_auc_score(y, _oof_target_rate(values, y, seed)))


def audit_columns(
    candidates: pd.DataFrame,
    y: np.ndarray,
    post_contact: dict[str, str],
    keep: list[str],
    max_auc: float,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per candidate column: AUC alone, why it is suspect, and what happens to it.

    Parameters
    ----------
    candidates
        Training leads' candidate columns (raw export columns and built features).
    y
        Their labels.
    post_contact
        Columns known to be recorded after contact, with the reason (config ``dataset.leaky``).
    keep
        Columns the config keeps despite a flag (``dataset.keep_leaky``).
    max_auc
        Single-column AUC above which a column is flagged.
    """
    rows = []
    for column in candidates.columns:
        auc = single_feature_auc(candidates[column], y, seed)
        reasons = []
        if column in post_contact:
            reasons.append(f"recorded after contact: {post_contact[column]}")
        if auc > max_auc:
            reasons.append(f"AUC alone {auc:.3f} > {max_auc:.2f}")
        flagged = bool(reasons)
        action = ("kept (config keep_leaky)" if column in keep else "excluded") if flagged else "ok"
        rows.append({"column": column, "auc": round(auc, 4), "flagged": flagged,
                     "reason": "; ".join(reasons), "action": action})
    table = pd.DataFrame(rows, columns=["column", "auc", "flagged", "reason", "action"])
    return table.sort_values(["flagged", "auc"], ascending=[False, False], ignore_index=True)
