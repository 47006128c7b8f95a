"""The lifecycle funnel: how scored leads move through the CRM's stages, by score band.

"Map scores against how often people enter lifecycle stages: if they reach sales not ready to
buy, the model is too generous." This module does that mapping on past score files and a later
leads export carrying the stage dates (``dataset.stages``, canonical columns of
:mod:`pipeline.data.lifecycle`). It is pure: frames in, a :class:`FunnelReport` out.

Each score row (a lead scored at its ``as_of``) is judged on its own window, ``as_of`` to
``as_of + horizon_days``, as ``monitor`` judges outcomes. A row has **matured** when its window
ended by the ``snapshot`` of the export; younger rows are **pending** and counted, never judged.
A stage is **reached** when its date is set and on or before the window's end (a stage reached
before the as_of counts: the band is judged against where the lead got, not against when).

- **Steps**: for each pair of consecutive configured stages (``mql -> sql``, ``sql ->
  opportunity``, ``opportunity -> won``), the matured rows that reached the first stage, how many
  of them reached the second, and that share with its Wilson interval, per band and overall. A
  lead that skipped the first stage (a contact imported as a customer) is not in that step.
- **Timing**: for the rows that reached both stages of a step, the days between the two dates
  (median and quartiles).
- **Too generous**: of LeadScore's MQLs (the score file's ``mql`` flag) whose window matured, the
  share that never reached the stage after MQL within it, against the same share among the CRM
  MQLs of the training period (each judged ``horizon_days`` after its own MQL date). The model is
  called too generous when the interval of its share lies wholly above the training share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from scipy.stats import binomtest

from pipeline.data.dataset_schema import STAGES

TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE = "funnel.html.j2"
ALL = "all"
STEP_COLUMNS = ["step", "from_stage", "to_stage", "band", "reached_from", "reached_to", "share",
                "low", "high", "pending"]
TIMING_COLUMNS = ["step", "band", "n", "q1_days", "median_days", "q3_days"]
CONFIDENCE = 0.95
_DAY = pd.Timedelta(days=1)


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of the share ``k / n`` (NaN, NaN when ``n`` is 0)."""
    if n == 0:
        return math.nan, math.nan
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class FunnelReport:
    """The funnel tables of one set of score rows.

    Attributes
    ----------
    stages
        The configured stages in funnel order.
    horizon_days, snapshot
        Each row's window length and the export's date (rows whose window ends later: pending).
    steps
        One row per step and band: ``step``, ``from_stage``, ``to_stage``, ``band``,
        ``reached_from``, ``reached_to``, ``share``, ``low``, ``high``, ``pending``.
    timing
        One row per step and band: ``step``, ``band``, ``n``, ``q1_days``, ``median_days``,
        ``q3_days``.
    generous
        The "too generous" check (:func:`too_generous`), JSON-able.
    counts
        ``rows`` (score rows), ``matured``, ``pending``, ``unknown_leads`` (score rows whose lead
        is not in the export, left out).
    """

    stages: tuple[str, ...]
    horizon_days: int
    snapshot: pd.Timestamp
    steps: pd.DataFrame
    timing: pd.DataFrame
    generous: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report as frames: ``steps`` and ``timing``, and ``generous`` as one-row-per-group."""
        g = self.generous
        rows = [{"group": "leadscore_mql", **g["leadscore"]}] if g["leadscore"] else []
        if g["training"] is not None:
            rows.append({"group": "training_crm_mql", **g["training"]})
        return {"steps": self.steps.copy(), "timing": self.timing.copy(),
                "generous": pd.DataFrame(rows)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (NaN as None, timestamps as ISO text)."""
        return {
            "stages": list(self.stages),
            "horizon_days": int(self.horizon_days),
            "snapshot": self.snapshot.isoformat(),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "steps": _records(self.steps),
            "timing": _records(self.timing),
            "generous": _clean(self.generous),
        }

    def to_html(self) -> str:
        """A self-contained HTML fragment (a ``<section>``) in the report's style."""
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                 autoescape=jinja2.select_autoescape(["html", "j2"]),
                                 undefined=jinja2.StrictUndefined)
        return env.get_template(TEMPLATE).render(funnel=_view(self))


def lifecycle_funnel(
    leads: pd.DataFrame,
    scores: pd.DataFrame,
    stages: dict[str, str],
    horizon_days: int,
    snapshot: pd.Timestamp,
    training_leads: pd.DataFrame | None = None,
    confidence: float = CONFIDENCE,
) -> FunnelReport:
    """Conversion at each lifecycle step by score band, MQL-to-next timing, "too generous".

    Parameters
    ----------
    leads
        Canonical leads of a later export: ``lead_id`` and the stage date columns.
    scores
        Score rows: ``lead_id``, ``as_of`` (or a score file's ``scored_at``, the as_of it was
        scored at, as ISO text), ``band``, ``mql``; a lead may have several rows (scored in
        several months), each judged on its own window.
    stages
        Stage -> its date column in ``leads`` (and ``training_leads``), e.g.
        :func:`pipeline.data.lifecycle.funnel_stages`; any subset of ``mql``, ``sql``,
        ``opportunity``, ``won`` (one stage alone gives no step, only the "too generous"
        check).
    horizon_days
        Window length after each as_of (and after each training MQL date).
    snapshot
        When ``leads`` was exported: windows ending later are pending.
    training_leads
        Leads of the training period with the same stage columns: those that reached the CRM
        MQL stage are the "too generous" reference. ``None``: no comparison.
    confidence
        Level of the Wilson intervals.

    Returns
    -------
    FunnelReport

    Raises
    ------
    ValueError
        Unknown stage names, no stage, or missing columns.
    """
    order = _check(leads, scores, stages)
    snapshot = pd.Timestamp(snapshot)
    horizon = pd.Timedelta(days=horizon_days)
    rows = scores.rename(columns={} if "as_of" in scores else {"scored_at": "as_of"})
    rows = rows[["lead_id", "as_of", "band", "mql"]].copy()
    rows["lead_id"] = rows["lead_id"].astype(str)
    rows["as_of"] = pd.to_datetime(rows["as_of"])
    rows["band"] = rows["band"].astype(str)
    dates = leads.assign(lead_id=leads["lead_id"].astype(str)).drop_duplicates("lead_id")
    dates = dates.set_index("lead_id")[[stages[s] for s in order]]
    known = rows["lead_id"].isin(dates.index)
    rows = rows[known].reset_index(drop=True)
    rows["window_end"] = rows["as_of"] + horizon
    rows["matured"] = rows["window_end"] <= snapshot
    reached = {s: _reached(dates[stages[s]].reindex(rows["lead_id"]).to_numpy(),
                           rows["window_end"].to_numpy()) for s in order}
    stamp = {s: pd.Series(dates[stages[s]].reindex(rows["lead_id"]).to_numpy()) for s in order}
    bands = _band_order(rows["band"])
    steps, timing = [], []
    for a, b in zip(order, order[1:], strict=False):
        for band in [*bands, ALL]:
            in_band = np.ones(len(rows), bool) if band == ALL else (rows["band"] == band).to_numpy()
            judged = in_band & rows["matured"].to_numpy()
            entered = judged & reached[a]
            both = entered & reached[b]
            k, n = int(both.sum()), int(entered.sum())
            low, high = wilson_interval(k, n, confidence)
            steps.append({"step": f"{a}->{b}", "from_stage": a, "to_stage": b, "band": band,
                          "reached_from": n, "reached_to": k, "share": k / n if n else math.nan,
                          "low": low, "high": high,
                          "pending": int((in_band & ~rows["matured"].to_numpy()).sum())})
            days = ((stamp[b] - stamp[a]) / _DAY)[both]
            q = days.quantile([0.25, 0.5, 0.75]) if len(days) else pd.Series([math.nan] * 3)
            timing.append({"step": f"{a}->{b}", "band": band, "n": int(len(days)),
                           "q1_days": float(q.iloc[0]), "median_days": float(q.iloc[1]),
                           "q3_days": float(q.iloc[2])})
    generous = too_generous(rows, reached, order, stages, horizon_days, snapshot,
                            training_leads, confidence)
    counts = {"rows": int(len(scores)), "matured": int(rows["matured"].sum()),
              "pending": int((~rows["matured"]).sum()), "unknown_leads": int((~known).sum())}
    return FunnelReport(tuple(order), int(horizon_days), snapshot,
                        pd.DataFrame(steps, columns=STEP_COLUMNS),
                        pd.DataFrame(timing, columns=TIMING_COLUMNS), generous, counts)


def too_generous(
    rows: pd.DataFrame, reached: dict[str, np.ndarray], order: list[str], stages: dict[str, str],
    horizon_days: int, snapshot: pd.Timestamp, training_leads: pd.DataFrame | None,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """LeadScore MQLs that never reach the next stage in their window, against the training
    period's CRM MQLs; with intervals, a verdict and a sentence.

    The next stage is the one after ``mql`` (the first configured stage when ``mql`` is not
    configured: Salesforce's Lead export has no MQL date). The training reference needs the CRM's
    own MQL date; without it there is no comparison.
    """
    if order == ["mql"]:
        return {"next_stage": None, "horizon_days": int(horizon_days), "leadscore": None,
                "training": None, "verdict": None,
                "sentence": "No stage after MQL is configured: nothing to judge MQLs by."}
    after = order[order.index("mql") + 1] if "mql" in order else order[0]
    mql = rows["mql"].astype(bool).to_numpy()
    judged = mql & rows["matured"].to_numpy()
    never = int((judged & ~reached[after]).sum())
    ours = _share(never, int(judged.sum()), confidence)
    ours["pending"] = int((mql & ~rows["matured"].to_numpy()).sum())
    training = None
    if training_leads is not None and "mql" in order:
        entry = pd.to_datetime(training_leads[stages["mql"]])
        nxt = pd.to_datetime(training_leads[stages[after]])
        end = entry + pd.Timedelta(days=horizon_days)
        judged_t = (entry.notna() & (end <= snapshot)).to_numpy()
        never_t = judged_t & ~_reached(nxt.to_numpy(), end.to_numpy())
        training = _share(int(never_t.sum()), int(judged_t.sum()), confidence)
    verdict = _verdict(ours, training)
    return {"next_stage": after, "horizon_days": int(horizon_days), "leadscore": ours,
            "training": training, "verdict": verdict,
            "sentence": _sentence(verdict, ours, training, after, horizon_days)}


def _check(leads: pd.DataFrame, scores: pd.DataFrame, stages: dict[str, str]) -> list[str]:
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}: stages are {', '.join(STAGES)}")
    order = [s for s in STAGES if s in stages]
    if not order:
        raise ValueError("a funnel needs at least one stage")
    missing = [c for c in ("lead_id", *(stages[s] for s in order)) if c not in leads]
    missing += [c for c in ("lead_id", "band", "mql") if c not in scores]
    missing += [] if "as_of" in scores or "scored_at" in scores else ["as_of"]
    if missing:
        raise ValueError(f"missing column(s) {missing}")
    return order


def _reached(dates: np.ndarray, window_end: np.ndarray) -> np.ndarray:
    """Whether each stage date is set and on or before its window's end."""
    dates = pd.to_datetime(pd.Series(dates)).to_numpy()
    return ~pd.isna(dates) & (dates <= window_end)


def _band_order(bands: pd.Series) -> list[str]:
    """hot, warm, cold first (the scoring bands), then any other band in sorted order."""
    seen = set(bands.unique())
    known = [b for b in ("hot", "warm", "cold") if b in seen]
    return known + sorted(seen - set(known))


def _share(k: int, n: int, confidence: float) -> dict[str, Any]:
    low, high = wilson_interval(k, n, confidence)
    return {"n": n, "never": k, "share": k / n if n else math.nan, "low": low, "high": high}


def _verdict(ours: dict[str, Any], training: dict[str, Any] | None) -> str | None:
    """too_generous | stricter | in_line | None (nothing to compare)."""
    if training is None or not ours["n"] or not training["n"]:
        return None
    if ours["low"] > training["share"]:
        return "too_generous"
    if ours["high"] < training["share"]:
        return "stricter"
    return "in_line"


def _pct(share: dict[str, Any]) -> str:
    return f"{share['share']:.0%} (95% CI {share['low']:.0%}-{share['high']:.0%})"


def _sentence(verdict: str | None, ours: dict[str, Any], training: dict[str, Any] | None,
              after: str, horizon_days: int) -> str:
    if not ours["n"]:
        return (f"Not judged yet: no LeadScore MQL's {horizon_days}-day window has ended "
                f"({ours['pending']} pending).")
    head = (f"{_pct(ours)} of {ours['n']} matured LeadScore MQLs never reached {after} within "
            f"{horizon_days} days")
    if verdict is None:
        return head + " (no training-period reference to compare with)."
    ref = f"against {_pct(training)} of {training['n']} CRM MQLs of the training period"
    return {
        "too_generous": f"The model is too generous: {head}, {ref}.",
        "stricter": f"The model is not too generous (stricter than the CRM was): {head}, {ref}.",
        "in_line": f"The model is not too generous: {head}, {ref} (the intervals overlap).",
    }[verdict]


def _clean(value: Any) -> Any:
    """JSON-able: NaN -> None, numpy scalars -> Python ones."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in frame.to_dict(orient="records")]


def _fmt_share(k: int, n: int, share: float, low: float, high: float) -> str:
    if not n:
        return "–"
    return f"{share:.0%} ({k}/{n}; {low:.0%}-{high:.0%})"


def _fmt_days(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.0f}"


def _view(report: FunnelReport) -> dict[str, Any]:
    """Plain, formatted data for the template."""
    steps = list(dict.fromkeys(report.steps["step"]))
    bands = list(dict.fromkeys(report.steps["band"]))
    cells = {(r.step, r.band): r for r in report.steps.itertuples()}
    times = {(r.step, r.band): r for r in report.timing.itertuples()}
    rows = [{"band": band, "pending": cells[(steps[0], band)].pending,
             "cells": [_fmt_share(c.reached_to, c.reached_from, c.share, c.low, c.high)
                       for c in (cells[(s, band)] for s in steps)]} for band in bands]
    timing = [{"band": t.band, "n": t.n, "q1": _fmt_days(t.q1_days),
               "median": _fmt_days(t.median_days), "q3": _fmt_days(t.q3_days)}
              for t in (times[(steps[0], band)] for band in bands)] if steps else []
    g = report.generous
    return {"steps": steps, "rows": rows, "timing_from": steps[0].split("->")[0] if steps else "",
            "timing_to": steps[0].split("->")[1] if steps else "", "timing": timing,
            "horizon": report.horizon_days, "snapshot": f"{report.snapshot:%Y-%m-%d}",
            "counts": report.counts, "sentence": g["sentence"],
            "verdict": g["verdict"] or "none"}
