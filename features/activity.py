"""Engagement features from the activity log, strictly before each lead's as_of.

Everything is computed with one pass of numpy over the events (integer lead positions, boolean
window masks, ``np.bincount``), so cost is linear in events and there is no per-lead Python
loop. An event at exactly ``as_of`` is *not* seen (strictly before); a window of ``w`` days holds
events with ``0 < as_of - occurred_at <= w days``.

Columns (``T`` an activity type, ``P`` a tracked page, ``w`` a window):

* ``T_wd``: count of type ``T`` in the window; ``page_P_wd``: web visits to page ``P``;
* ``high_value_visits_30d`` / ``low_value_visits_30d``: visits to pricing/demo/case-study pages
  versus everything else;
* ``days_since_last_activity`` (inactivity: days since creation when there was none),
  ``days_since_first_activity`` (NaN when none: LightGBM routes missing values itself);
* ``decayed_activity``: sum of ``0.5 ** (age_days / half_life)`` over engagement events;
* ``email_open_rate`` (opens/sent), ``email_click_rate`` (clicks/opens),
  ``webinar_attend_rate`` (attended/registered): 0 when the denominator is 0;
* ``active_days_30d``, ``events_per_active_day_30d``: session intensity;
* ``unsubscribed``: 1 if the lead unsubscribed before as_of.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9
# Sent mail and bounces are things done *to* the lead, not by it: they are not engagement.
PASSIVE_TYPES = ("email_sent", "email_bounce")


def engagement_columns(types: list[str], pages: list[str], windows: list[int]) -> list[str]:
    """Column names :func:`build_engagement_features` returns, in order."""
    cols = [f"{t}_{w}d" for t in types for w in windows]
    cols += [f"page_{p}_{w}d" for p in pages for w in windows]
    cols += ["high_value_visits_30d", "low_value_visits_30d", "days_since_last_activity",
             "days_since_first_activity", "decayed_activity", "email_open_rate",
             "email_click_rate", "webinar_attend_rate", "active_days_30d",
             "events_per_active_day_30d", "unsubscribed"]
    return cols


def _as_of_array(lead_ids: pd.Index, as_of: pd.Series | pd.Timestamp) -> np.ndarray:
    if isinstance(as_of, pd.Series):
        values = as_of.reindex(lead_ids).to_numpy(dtype="datetime64[ns]")
    else:
        values = np.full(len(lead_ids), np.datetime64(pd.Timestamp(as_of), "ns"))
    return values.astype("int64")


def build_engagement_features(
    lead_ids: pd.Index,
    activities: pd.DataFrame | None,
    as_of: pd.Series | pd.Timestamp,
    created_at: pd.Series | None,
    types: list[str],
    pages: list[str],
    high_value_pages: list[str],
    windows: list[int],
    half_life_days: float,
) -> pd.DataFrame:
    """One row per lead (zeros for leads without events), events strictly before as_of only.

    Parameters
    ----------
    lead_ids
        Leads to describe (unique).
    activities
        Canonical activity log (may hold other leads' events and events after as_of: ignored).
    as_of
        Per-lead Series indexed by lead_id, or one Timestamp for all.
    created_at
        Per-lead creation time (inactivity of leads without events).
    types, pages
        Activity types and web pages that get window counts (fixed at fit time).
    high_value_pages
        Pages that count as high-value visits.
    windows
        Window lengths in days.
    half_life_days
        Half-life of the decayed activity score.
    """
    n = len(lead_ids)
    as_of_ns = _as_of_array(lead_ids, as_of)
    out: dict[str, np.ndarray] = {}
    windows = sorted(windows)
    widest = windows[-1] if windows else 90
    if activities is None or len(activities) == 0:
        events = pd.DataFrame({"lead_id": [], "occurred_at": [], "activity_type": [],
                               "detail": []})
    else:
        events = activities
    pos = lead_ids.get_indexer(events["lead_id"])
    known = pos >= 0
    pos = pos[known]
    occurred = events["occurred_at"].to_numpy(dtype="datetime64[ns]")[known].astype("int64")
    age = (as_of_ns[pos] - occurred) / DAY_NS
    seen = age > 0
    pos, age = pos[seen], age[seen]
    kind = events["activity_type"].to_numpy(dtype=object)[known][seen]
    detail = events["detail"].to_numpy(dtype=object)[known][seen] if "detail" in events \
        else np.full(len(pos), None, dtype=object)

    type_code = pd.Index(types).get_indexer(kind)
    is_visit = kind == "web_visit"
    page_code = np.where(is_visit, pd.Index(pages).get_indexer(detail), -1)
    for w in windows:
        in_w = age <= w
        counts = np.bincount(pos[in_w] * len(types) + type_code[in_w].clip(0),
                             weights=(type_code[in_w] >= 0).astype(float),
                             minlength=n * len(types)).reshape(n, len(types)) if types else None
        for j, t in enumerate(types):
            out[f"{t}_{w}d"] = counts[:, j]
        sel = in_w & (page_code >= 0)
        page_counts = np.bincount(pos[sel] * max(len(pages), 1) + page_code[sel],
                                  minlength=n * max(len(pages), 1)).reshape(n, max(len(pages), 1))
        for j, p in enumerate(pages):
            out[f"page_{p}_{w}d"] = page_counts[:, j].astype(float)
    ordered = {}
    for t in types:
        for w in windows:
            ordered[f"{t}_{w}d"] = out[f"{t}_{w}d"]
    for p in pages:
        for w in windows:
            ordered[f"page_{p}_{w}d"] = out[f"page_{p}_{w}d"]

    in30 = age <= 30
    high = is_visit & np.isin(detail.astype(str), list(high_value_pages))
    ordered["high_value_visits_30d"] = np.bincount(pos[in30 & high], minlength=n).astype(float)
    ordered["low_value_visits_30d"] = np.bincount(pos[in30 & is_visit & ~high],
                                                  minlength=n).astype(float)

    engaged = ~np.isin(kind, PASSIVE_TYPES)
    last_age = np.full(n, np.inf)
    first_age = np.full(n, -np.inf)
    np.minimum.at(last_age, pos[engaged], age[engaged])
    np.maximum.at(first_age, pos[engaged], age[engaged])
    if created_at is not None:
        created = created_at.reindex(lead_ids).to_numpy(dtype="datetime64[ns]").astype("int64")
        since_created = (as_of_ns - created) / DAY_NS
    else:
        since_created = np.full(n, np.nan)
    ordered["days_since_last_activity"] = np.where(np.isfinite(last_age), last_age,
                                                   since_created)
    ordered["days_since_first_activity"] = np.where(np.isfinite(first_age), first_age, np.nan)
    decay = 0.5 ** (age[engaged] / half_life_days)
    ordered["decayed_activity"] = np.bincount(pos[engaged], weights=decay, minlength=n)

    def total(name: str) -> np.ndarray:
        mask = (kind == name) & (age <= widest)
        return np.bincount(pos[mask], minlength=n).astype(float)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros(n), where=den > 0)

    opens, sent, clicks = total("email_open"), total("email_sent"), total("email_click")
    ordered["email_open_rate"] = np.clip(ratio(opens, sent), 0, 1)
    ordered["email_click_rate"] = np.clip(ratio(clicks, opens), 0, 1)
    ordered["webinar_attend_rate"] = np.clip(
        ratio(total("webinar_attended"), total("webinar_registered")), 0, 1)

    active = in30 & engaged
    day = np.floor(age[active]).astype(np.int64)
    keys = np.unique(pos[active].astype(np.int64) * 100_000 + day)
    ordered["active_days_30d"] = np.bincount(keys // 100_000, minlength=n).astype(float)
    events30 = np.bincount(pos[active], minlength=n).astype(float)
    ordered["events_per_active_day_30d"] = ratio(events30, ordered["active_days_30d"])
    unsub = kind == "email_unsubscribe"
    ordered["unsubscribed"] = (np.bincount(pos[unsub], minlength=n) > 0).astype(float)
    return pd.DataFrame(ordered, index=lead_ids).astype("float64")
