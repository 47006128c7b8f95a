"""Monitoring after launch: past scores judged on the outcomes that have matured since.

A score is the probability that a lead is won within ``horizon_days`` of its as_of. A scored lead
is judged only once that horizon has elapsed by the outcomes export's snapshot (it has *matured*),
and by the training label's own rule (:func:`pipeline.data.dataset.label_leads`): won with
as_of <= outcome_at < as_of + horizon. Younger scores are *pending*; leads already decided at
their as_of had nothing left to predict; scored leads the outcomes export does not hold are
*missing*. All of them are counted, none is judged. Judging only matured leads, decided or not,
is what keeps quick wins from flattering the newest months (the reason training drops them too).

Quality is reported per model version and per scoring month (the as_of's month), and over all
months of a version that has several: realised conversion by band and by decile beside the mean
probability (the reliability tables), the equal-mass ECE and the Brier score with bootstrap
intervals, AUC with its interval (undefined, and said so, when the matured leads share one
outcome), MQL precision and recall. The calibration alarm fires for a group with at least
``min_matured`` matured leads whose ECE interval lies wholly above ``ece_limit``.

Pure: frames in, frames and plain dicts out. :meth:`MonitorResult.to_dict` is the JSON summary;
more sections (the lifecycle funnel) go into :attr:`MonitorResult.sections` and appear there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.data.dataset import label_leads
from pipeline.evaluation.metrics import (
    adaptive_calibration_error,
    bootstrap_auc,
    bootstrap_calibration,
    mql_metrics,
)

#: What a scored lead is at the outcomes' snapshot; only ``matured`` leads are judged.
STATUSES = ("matured", "pending", "decided_before_as_of", "missing", "undated_outcome")
_FROM_LABEL = {"eligible": "matured", "horizon_not_elapsed": "pending",
               "as_of_after_snapshot": "pending", "decided_before_as_of": "decided_before_as_of"}
BAND_ORDER = ("hot", "warm", "cold")
ALL_MONTHS = "all"
KEY = ("model_name", "model_version")


@dataclass
class MonitorResult:
    """Per version and month: counts, reliability tables, calibration, AUC, MQL; the alarm.

    ``joined`` holds one row per scored lead (``status``, and ``y`` where matured); ``groups``
    one dict per version and month (see :func:`judge`); ``sections`` extra parts of the summary
    and page, by name (e.g. ``funnel``), which the JSON carries as they are.
    """

    joined: pd.DataFrame
    groups: list[dict[str, Any]]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)

    def alarms(self) -> list[dict[str, Any]]:
        """The groups whose ECE interval lies wholly above the limit."""
        return [g for g in self.groups if g["alarm"]]

    def table(self) -> pd.DataFrame:
        """One row per group, without the nested reliability tables."""
        return pd.DataFrame([{k: v for k, v in g.items() if not isinstance(v, list)}
                             for g in self.groups])

    def totals(self) -> dict[str, int]:
        """Scored rows by status, over every score file."""
        counts = self.joined["status"].value_counts()
        return {"scored": len(self.joined), **{s: int(counts.get(s, 0)) for s in STATUSES}}

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (NaN stays NaN here; the writers turn it into null)."""
        return {**self.settings, "totals": self.totals(), "groups": self.groups,
                "alarms": [_label(g) for g in self.alarms()], "notes": list(self.notes),
                **self.sections}


def _label(group: dict[str, Any]) -> str:
    return f"{group['model_name']} {group['model_version']} {group['month']}"


def join_outcomes(scores: pd.DataFrame, outcomes: pd.DataFrame, horizon_days: int,
                  snapshot: pd.Timestamp, missing_outcome_at: str = "error") -> pd.DataFrame:
    """Each scored lead's status at ``snapshot``, and its label where it has matured.

    Parameters
    ----------
    scores
        One row per scored lead: ``lead_id``, ``model_name``, ``model_version``, ``as_of``
        (timestamps), ``probability``, ``band``, ``mql`` (bool).
    outcomes
        Canonical leads (``lead_id``, ``outcome``, ``outcome_at``), one row per lead.
    horizon_days, snapshot
        The label's horizon and the moment the outcomes export knows about.
    missing_outcome_at
        ``dataset.missing_outcome_at`` for won/lost leads without a close date: ``horizon``
        dates them at the end of their horizon, as training does; otherwise they are counted as
        ``undated_outcome`` and not judged.

    Returns
    -------
    pandas.DataFrame
        ``scores`` with ``month`` (the as_of's ``YYYY-MM``), ``status`` (one of
        :data:`STATUSES`) and ``y`` (0/1 where matured, else NaN).
    """
    frame = scores.reset_index(drop=True).copy()
    frame["month"] = frame["as_of"].dt.strftime("%Y-%m")
    frame["status"] = "missing"
    frame["y"] = np.nan
    known = outcomes.set_index("lead_id")[["outcome", "outcome_at"]]
    present = frame["lead_id"].isin(known.index).to_numpy()
    for (_, _, as_of), rows in frame[present].groupby([*KEY, "as_of"], sort=False).groups.items():
        ids = frame.loc[rows, "lead_id"]
        leads = known.loc[ids.to_numpy()].reset_index()
        undated = np.array(leads["outcome"].isin(["won", "lost"]) & leads["outcome_at"].isna())
        if undated.any() and missing_outcome_at == "horizon":
            end = as_of + pd.Timedelta(days=horizon_days) - pd.Timedelta(seconds=1)
            leads.loc[undated, "outcome_at"] = end
            undated[:] = False
        y, status = label_leads(leads, pd.Series(as_of, index=pd.Index(ids.to_numpy())),
                                horizon_days, snapshot)
        status = status.map(_FROM_LABEL).to_numpy(dtype=object)
        status[undated] = "undated_outcome"
        frame.loc[rows, "status"] = status
        frame.loc[rows, "y"] = np.where(status == "matured", y.to_numpy(), np.nan)
    return frame


def reliability(y: np.ndarray, p: np.ndarray, groups: np.ndarray, order: list) -> list[dict]:
    """Per group (in ``order``): leads, conversions, observed rate, mean probability, gap."""
    rows = []
    for name in order:
        hit = groups == name
        n = int(hit.sum())
        if not n:
            continue
        observed, mean_p = float(y[hit].mean()), float(p[hit].mean())
        rows.append({"group": name, "leads": n, "conversions": int(y[hit].sum()),
                     "observed": observed, "mean_probability": mean_p,
                     "gap": observed - mean_p})
    return rows


def deciles(p: np.ndarray) -> np.ndarray:
    """Decile of each probability, 1 the highest, equal-mass (ties in row order, stable)."""
    order = np.lexsort((np.arange(len(p)), -np.asarray(p, dtype="float64")))
    out = np.zeros(len(p), dtype=int)
    for number, part in enumerate(np.array_split(order, min(10, len(p))), start=1):
        out[part] = number
    return out


def _auc(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    conversions = int(y.sum())
    if conversions in (0, len(y)):
        outcome = "won" if conversions else "not won"
        return {"roc_auc": None, "auc_ci_low": None, "auc_ci_high": None,
                "auc_note": f"AUC undefined: every matured lead {outcome}"}
    out: dict[str, Any] = {"roc_auc": float(roc_auc_score(y, p)), "auc_note": ""}
    out.update(bootstrap_auc(y, p, n_boot=n_boot, seed=seed))
    return out


def judge(rows: pd.DataFrame, ece_limit: float, min_matured: int, n_boot: int = 200,
          seed: int = 0) -> dict[str, Any]:
    """The figures of one version and month from its rows of :func:`join_outcomes`.

    Counts by status always; on the matured leads the observed rate and mean probability, the
    equal-mass ECE and Brier with 95 % bootstrap intervals, AUC with its interval (None and a
    note with one outcome only), MQL precision and recall, and the reliability tables
    ``by_band`` and ``by_decile``. ``judged``: enough matured leads for the alarm; ``alarm``:
    judged and the ECE interval's lower bound above ``ece_limit``.
    """
    counts = rows["status"].value_counts()
    entry: dict[str, Any] = {"scored": len(rows), **{s: int(counts.get(s, 0)) for s in STATUSES}}
    matured = rows[rows["status"] == "matured"]
    y = matured["y"].to_numpy(dtype="float64")
    p = matured["probability"].to_numpy(dtype="float64")
    n = len(matured)
    entry.update(conversions=int(y.sum()), observed=float(y.mean()) if n else float("nan"),
                 mean_probability=float(p.mean()) if n else float("nan"),
                 judged=n >= min_matured, alarm=False)
    if not n:
        entry.update(ece_adaptive=None, ece_adaptive_ci_low=None, ece_adaptive_ci_high=None,
                     brier=None, brier_ci_low=None, brier_ci_high=None, roc_auc=None,
                     auc_ci_low=None, auc_ci_high=None, auc_note="no matured lead yet",
                     mql_share=None, mql_precision=None, mql_recall=None,
                     by_band=[], by_decile=[])
        return entry
    entry["ece_adaptive"] = adaptive_calibration_error(y, p)
    entry["brier"] = float(np.mean((p - y) ** 2))
    entry.update(bootstrap_calibration(y, p, n_boot, seed))
    entry.update(_auc(y, p, n_boot, seed))
    entry.update(mql_metrics(y, matured["mql"].to_numpy(dtype=bool)))
    bands = matured["band"].astype(str).to_numpy()
    order = [b for b in BAND_ORDER if b in set(bands)] + sorted(set(bands) - set(BAND_ORDER))
    entry["by_band"] = reliability(y, p, bands, order)
    entry["by_decile"] = reliability(y, p, deciles(p), list(range(1, 11)))
    entry["alarm"] = bool(entry["judged"] and entry["ece_adaptive_ci_low"] > ece_limit)
    return entry


def monitor(scores: pd.DataFrame, outcomes: pd.DataFrame, *, horizon_days: int,
            snapshot: pd.Timestamp, ece_limit: float, min_matured: int, n_boot: int = 200,
            seed: int = 0, missing_outcome_at: str = "error") -> MonitorResult:
    """Join past scores with the outcomes matured since and judge every version and month.

    ``scores`` as :func:`join_outcomes` takes them (several files concatenated: the same lead
    scored by the same version at the same as_of twice is counted once, and a note says so).
    Groups are sorted by version, then month; a version scored in several months also gets an
    ``all`` group over them.
    """
    notes: list[str] = []
    deduped = scores.drop_duplicates(["lead_id", *KEY, "as_of"])
    if len(deduped) < len(scores):
        notes.append(f"{len(scores) - len(deduped):,} scores repeated (same lead, version and "
                     "as_of in several files) counted once")
    joined = join_outcomes(deduped, outcomes, horizon_days, snapshot, missing_outcome_at)
    groups: list[dict[str, Any]] = []
    for (name, version), rows in joined.groupby(list(KEY), sort=True):
        months = sorted(rows["month"].unique())
        parts = [(m, rows[rows["month"] == m]) for m in months]
        if len(months) > 1:
            parts.append((ALL_MONTHS, rows))
        for month, part in parts:
            groups.append({"model_name": name, "model_version": version, "month": month,
                           **judge(part, ece_limit, min_matured, n_boot, seed)})
    small = [g for g in groups if g["matured"] and not g["judged"]]
    if small:
        notes.append(f"{len(small)} version/month group(s) with fewer than {min_matured} matured "
                     "leads (monitor.min_matured): shown, never alarmed on")
    settings = {"snapshot": snapshot.isoformat(), "horizon_days": horizon_days,
                "ece_limit": ece_limit, "min_matured": min_matured, "n_boot": n_boot}
    return MonitorResult(joined, groups, settings, notes)
