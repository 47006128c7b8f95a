"""Who is handed to sales: the MQLs under the one MQL rule, best first, capped at capacity.

One function, :func:`route`, decides it for both places that need it: the routing file of
``leadscore score --route`` (:mod:`pipeline.batch.route`) and the report's "conversions/week
handed to sales" (:func:`handed_per_week`, on the test leads). A lead is routed when the MQL rule
flags it (``ScoringPackage.mql``, the same ``mql`` column the score output carries) and it is not
disqualified; the routed leads are the best of those by calibrated probability, at most
``capacity`` of them; the others are *held back* (counted, not written: they stay in the score
output with ``mql`` true and are scored again by the next run).

A week: a capacity is per week, and one scoring run is taken to cover ``weeks`` weeks of new
leads (one, for a weekly run): the run routes ``floor(capacity_per_week * weeks)`` leads. The
test leads of the report span ``n_rows / leads_per_week`` weeks of inflow, and the same cap per
week applies to them.

The column layouts of the file (:data:`FORMATS`) are data here, so that the names a CRM's import
tool maps without editing live in one place with the reasons they were chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Routing:
    """The outcome of :func:`route`: row positions handed over (best first) and what was not."""

    order: np.ndarray
    mqls: int
    held_back: int
    disqualified: int
    capacity: int | None


def run_capacity(capacity_per_week: int | float | None, weeks: float) -> int | None:
    """Leads one run may hand over: ``floor(capacity_per_week * weeks)`` (None: no cap)."""
    if capacity_per_week is None:
        return None
    # the small epsilon keeps 30 * (n / (n / 30)) from flooring to 29
    return int(math.floor(capacity_per_week * weeks + 1e-9))


def route(p: np.ndarray, mql: np.ndarray, capacity: int | None,
          eligible: np.ndarray | None = None, tiebreak: np.ndarray | None = None) -> Routing:
    """The MQLs that are ``eligible`` (not disqualified), best ``p`` first, at most ``capacity``.

    Ties in ``p`` are broken by ``tiebreak`` (ascending; default: position), so the same leads
    always give the same list.
    """
    p = np.asarray(p, dtype="float64")
    flagged = np.asarray(mql, dtype=bool)
    ok = np.ones(len(p), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    candidates = np.flatnonzero(flagged & ok)
    key = np.arange(len(p)) if tiebreak is None else np.asarray(tiebreak)
    ranked = candidates[np.lexsort((key[candidates], -p[candidates]))]
    kept = ranked if capacity is None else ranked[:max(int(capacity), 0)]
    return Routing(order=kept, mqls=int(len(candidates)), held_back=int(len(ranked) - len(kept)),
                   disqualified=int((flagged & ~ok).sum()), capacity=capacity)


def handed_per_week(y: np.ndarray, p: np.ndarray, mql: np.ndarray, leads_per_week: float,
                    capacity_per_week: int | None, eligible: np.ndarray | None = None
                    ) -> dict[str, float | None]:
    """Conversions per week sales meets when each week's routing list is worked.

    The rows are taken as ``len(y) / leads_per_week`` weeks of inflow (the inflow looks like
    these leads: same mix), and :func:`route` hands over the MQLs of those weeks capped at
    ``capacity_per_week`` each week, exactly as ``score --route`` does for one run.
    """
    y = np.asarray(y, dtype="float64")
    weeks = len(y) / leads_per_week if leads_per_week else 1.0
    routing = route(p, mql, run_capacity(capacity_per_week, weeks), eligible)
    weeks = max(weeks, 1e-9)
    return {
        "capacity_per_week": None if capacity_per_week is None else float(capacity_per_week),
        "leads_per_week": float(leads_per_week),
        "conversions_per_week": float(y.sum()) / weeks,
        "routed_per_week": len(routing.order) / weeks,
        "held_back_per_week": routing.held_back / weeks,
        "conversions_handed_per_week": float(y[routing.order].sum()) / weeks,
    }


def handed_interval(y: np.ndarray, p: np.ndarray, mql: np.ndarray, leads_per_week: float,
                    capacity_per_week: int | None, eligible: np.ndarray | None = None,
                    n_boot: int = 500, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of :func:`handed_per_week`'s conversions over row resamples.

    The MQL line stays as learned; each resample is routed afresh (its own best MQLs, its own
    cap), as a week with that mix of leads would be.
    """
    y, p, mql = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64"), np.asarray(mql)
    ok = np.ones(len(y), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    rng = np.random.default_rng(seed)
    draws = [handed_per_week(y[i], p[i], mql[i], leads_per_week, capacity_per_week, ok[i])[
        "conversions_handed_per_week"] for i in (rng.integers(0, len(y), len(y))
                                                 for _ in range(n_boot))]
    return float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


@dataclass(frozen=True)
class RouteFormat:
    """One layout of the routing file.

    ``headers``: LeadScore's column -> the file's header (in file order, the lead id first; its
    header is the preset's lead id column, so the file reads back with the same mapping);
    ``constants``: header -> the value every routed lead gets; ``bands``: band name -> the
    value a standard picklist accepts (a band not listed is left blank, which an import leaves
    as it was).
    """

    name: str
    preset: str | None
    headers: dict[str, str]
    constants: dict[str, str] = field(default_factory=dict)
    bands: dict[str, str] = field(default_factory=dict)


#: LeadScore's own columns, in file order; next_action / account are blank when the score
#: output has no such column (a run without ``--next-action``, a dataset without an account).
ROUTE_COLUMNS = ("lead_id", "rank", "score", "grade", "band", "engagement_level", "reason_1",
                 "reason_2", "reason_3", "next_action", "next_action_gain", "account",
                 "probability", "model_version", "scored_at")

#: custom fields / properties: LeadScore's name spelled the CRM's way
#: (reason_1 -> LeadScore_Reason_1__c in Salesforce, "LeadScore reason 1" in HubSpot)
_SALESFORCE_CUSTOM = {c: "LeadScore_" + "_".join(w.capitalize() for w in c.split("_")) + "__c"
                      for c in ROUTE_COLUMNS if c != "lead_id"}
_HUBSPOT_CUSTOM = {c: "LeadScore " + c.replace("_", " ") for c in ROUTE_COLUMNS if c != "lead_id"}

FORMATS: dict[str, RouteFormat] = {
    "generic": RouteFormat("generic", None, {c: c for c in ROUTE_COLUMNS}),
    # Data Loader's Auto-Match pairs headers with API names: Id is the record id an update
    # matches on, Rating the standard Hot / Warm / Cold picklist; the rest are custom fields
    # (API names ending __c) the admin creates once.
    "salesforce": RouteFormat(
        "salesforce", "salesforce",
        {**_SALESFORCE_CUSTOM, "lead_id": "Id", "band": "Rating"},
        bands={"hot": "Hot", "warm": "Warm", "cold": "Cold"}),
    # HubSpot's import maps a header to the property with that label: Record ID matches existing
    # contacts, Lifecycle Stage is the standard stage (it only moves forward, so a customer is
    # not demoted by the import); the rest are custom contact properties by label.
    "hubspot": RouteFormat(
        "hubspot", "hubspot", {"lead_id": "Record ID", **_HUBSPOT_CUSTOM},
        constants={"Lifecycle Stage": "Marketing Qualified Lead"}),
}
