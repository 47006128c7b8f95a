"""Leakage audit: which candidate columns look too good, or are known only after as_of.

Every candidate column is judged on the training leads by the detectors of
:mod:`pipeline.evaluation.leakage`: the AUC of its value (on the rows where it is present) and,
separately, of its missingness; groups of rows that are all one outcome; dates after as_of or on
or after the outcome; ids; conversion rates in disguise. A column is also a suspect when the
config lists it as recorded after contact (``dataset.leaky``).

What happens to a suspect is the user's call, never made silently: a column listed under
``dataset.leaky`` is excluded; one kept with ``dataset.keep: {column: why}`` is kept, with a note;
one that is not a declared feature is excluded (it was never going to be one); a declared feature
neither listed nor kept stops the preparation (:func:`declared_suspects`, raised by
:mod:`pipeline.stages.prepare`). After training, :func:`check_model_leak` stops a model that is
too good to be true.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.data.errors import DataError
from pipeline.evaluation.leakage import (
    id_like,
    later_dates,
    missingness_auc,
    one_outcome_group,
    parse_dates,
    target_encoding_like,
    value_auc,
)

COLUMNS = ["column", "auc", "value_auc", "missing_auc", "flagged", "reason", "action"]


def single_feature_auc(values: pd.Series, y: np.ndarray, seed: int = 0) -> float:
    """ROC-AUC of one column alone: the larger of its value AUC and its missingness AUC."""
    return max(value_auc(values, y, seed), missingness_auc(values, y))


def column_suspicions(
    values: pd.Series,
    y: np.ndarray,
    max_auc: float,
    seed: int = 0,
    times: pd.DataFrame | None = None,
    ids: bool = True,
) -> tuple[float, float, list[str]]:
    """(value AUC, missingness AUC, why the column is a suspect) of one column.

    Parameters
    ----------
    values
        The column on the training leads (missing values as NaN).
    y
        Their labels.
    max_auc
        AUC alone (value or missingness) above which a column is a suspect.
    times
        Optional ``created_at``, ``as_of``, ``outcome_at`` of the same rows, for date columns.
    ids
        Run the id detector (``init`` skips it for columns it already leaves out as ids/text).
    """
    values = values.reset_index(drop=True)
    y = np.asarray(y).astype(int)
    v_auc, m_auc = value_auc(values, y, seed), missingness_auc(values, y)
    reasons = []
    group = one_outcome_group(values, y)
    if group:
        reasons.append(group)
    if m_auc > max_auc:
        reasons.append(f"missingness AUC {m_auc:.3f} > {max_auc:.2f}")
    if v_auc > max_auc:
        reasons.append(f"value AUC {v_auc:.3f} > {max_auc:.2f}")
    is_date = parse_dates(values) is not None
    if is_date and times is not None:
        t = times.reset_index(drop=True)
        late = later_dates(values, t.get("created_at"), t.get("as_of"), t.get("outcome_at"))
        if late:
            reasons.append(late)
    if not is_date:  # dates are distinct by nature; later_dates judges them
        for detector in (id_like(values) if ids else None, target_encoding_like(values, y)):
            if detector:
                reasons.append(detector)
    return v_auc, m_auc, reasons


def audit_columns(
    candidates: pd.DataFrame,
    y: np.ndarray,
    post_contact: Mapping[str, str],
    keep: Mapping[str, str],
    max_auc: float,
    seed: int = 0,
    times: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per candidate column: its AUCs, why it is suspect, and what happens to it.

    Parameters
    ----------
    candidates
        Training leads' candidate columns (raw export columns).
    y
        Their labels.
    post_contact
        Columns known to be recorded after contact, with the reason (config ``dataset.leaky``).
    keep
        Columns the config keeps despite the audit, with why (config ``dataset.keep``).
    max_auc
        Single-column AUC (value or missingness) above which a column is flagged.
    times
        ``created_at``, ``as_of``, ``outcome_at`` of the same rows (date columns are judged
        against them; without them dates are judged by the other detectors only).

    Returns
    -------
    DataFrame
        ``column``, ``auc`` (the larger of the two), ``value_auc``, ``missing_auc``,
        ``flagged``, ``reason`` (``; ``-joined) and ``action`` (``ok``, ``excluded`` or
        ``kept: <why>``), flagged columns first.
    """
    rows = []
    for column in candidates.columns:
        v_auc, m_auc, reasons = column_suspicions(candidates[column], y, max_auc, seed, times)
        if column in post_contact:
            reasons.insert(0, f"recorded after contact: {post_contact[column]}")
        flagged = bool(reasons)
        action = "ok"
        if flagged:
            action = f"kept: {keep[column]}" if column in keep else "excluded"
        rows.append({"column": column, "auc": round(max(v_auc, m_auc), 4),
                     "value_auc": round(v_auc, 4), "missing_auc": round(m_auc, 4),
                     "flagged": flagged, "reason": "; ".join(reasons), "action": action})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["flagged", "auc"], ascending=[False, False], ignore_index=True)


def _evidence(row: pd.Series) -> str:
    """The reason with its strongest AUC, as one parenthesis of the stop message."""
    which, auc = ("missingness", row["missing_auc"]) if row["missing_auc"] >= row["value_auc"] \
        else ("value", row["value_auc"])
    figure = f"{which} AUC {auc:.3f}"
    return row["reason"] if figure in row["reason"] else f"{row['reason']}; {figure}"


def declared_suspects(
    audit: pd.DataFrame,
    declared: Mapping[str, str],
    leaky: Mapping[str, str],
    keep: Mapping[str, str],
    leads_file: object,
) -> None:
    """Stop when a declared feature is a suspect the config neither excludes nor keeps.

    Parameters
    ----------
    audit
        The table of :func:`audit_columns`.
    declared
        Declared feature column -> the ``features`` key declaring it (``features.numeric``).
    leaky, keep
        ``dataset.leaky`` and ``dataset.keep``: the user's two ways of deciding.
    leads_file
        The leads export, named in the message.

    Raises
    ------
    DataError
        One line naming the first column with its reason and figure, how many more there are,
        and the ways out; ``details`` has one line per column.
    """
    suspects = audit[audit["flagged"] & audit["column"].isin(list(declared))
                     & ~audit["column"].isin(list(leaky)) & ~audit["column"].isin(list(keep))]
    if suspects.empty:
        return
    lines = [f"{leads_file}: column '{row.column}' looks like a label leak ({_evidence(row)}): "
             f"remove it from {declared[row.column]}, list it under dataset.leaky, or keep it "
             f"with dataset.keep: {{{row.column}: \"why it is known before contact\"}}"
             for _, row in suspects.iterrows()]
    if len(lines) == 1:
        raise DataError(lines[0], details=lines)
    first = suspects.iloc[0]
    more = ", ".join(f"'{c}'" for c in suspects["column"].iloc[1:])
    raise DataError(
        f"{leads_file}: column '{first['column']}' looks like a label leak ({_evidence(first)}), "
        f"and {len(suspects) - 1} more: {more}: remove them from the features, list them under "
        f"dataset.leaky, or keep each with dataset.keep: {{{first['column']}: \"why it is known "
        "before contact\"}", details=lines)


def kept_notes(audit: pd.DataFrame, keep: Mapping[str, str]) -> list[str]:
    """One note per suspect the config keeps: it travels with the run's metrics and report."""
    kept = audit[audit["flagged"] & audit["column"].isin(list(keep))]
    return [f"kept despite the leakage audit: {row.column} ({row.reason}): {keep[row.column]}"
            for row in kept.itertuples()]


def factor_aucs(factor_points: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """ROC-AUC of each factor's score points alone, oriented (0.5: useless), highest first.

    Parameters
    ----------
    factor_points
        One column per factor, one row per lead (e.g. the test leads' factor points).
    y
        Those leads' labels.
    """
    y = np.asarray(y).astype(int)
    out: dict[str, float] = {}
    for factor in factor_points.columns:
        points = factor_points[factor].astype("float64").fillna(0.0).to_numpy()
        if y.min() == y.max() or np.unique(points).size <= 1:
            out[str(factor)] = 0.5
            continue
        auc = float(roc_auc_score(y, points))
        out[str(factor)] = max(auc, 1.0 - auc)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def check_model_leak(test_auc: float, factor_aucs: Mapping[str, float], config) -> None:
    """Stop a model too good to be true: a lead score this sharp is a label leak, not skill.

    Parameters
    ----------
    test_auc
        The model's ROC-AUC on the test leads.
    factor_aucs
        Factor -> AUC of its points alone (:func:`factor_aucs`).
    config
        The run config: ``audit.stop_auc`` and ``audit.stop_factor_auc``.

    Raises
    ------
    DataError
        One line naming the top factor and its AUC, and how to exclude or override.
    """
    audit = config.audit
    top, top_auc = max(factor_aucs.items(), key=lambda kv: kv[1], default=(None, 0.5))
    factor = f"top factor '{top}' alone gives AUC {top_auc:.3f}" if top else "no factor"
    if test_auc >= audit.stop_auc:
        raise DataError(
            f"{config.dataset.leads}: model test ROC-AUC {test_auc:.3f} >= audit.stop_auc "
            f"{audit.stop_auc:g}: too good to be true, a label leak ({factor}); list the "
            "columns behind it under dataset.leaky, or override with --set audit.stop_auc=1.01")
    if top is not None and top_auc >= audit.stop_factor_auc:
        raise DataError(
            f"{config.dataset.leads}: {factor} >= audit.stop_factor_auc "
            f"{audit.stop_factor_auc:g} (model test ROC-AUC {test_auc:.3f}): one factor this "
            "sharp is a label leak; list the columns behind it under dataset.leaky, or override "
            "with --set audit.stop_factor_auc=1.01")
