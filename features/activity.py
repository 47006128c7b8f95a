"""Engagement features from the activity log, strictly before each lead's as_of.

Engine
------
One vectorised numpy pass over the events, no per-lead Python loop and no sort: lead ids, activity
types and pages are factorised once (hashing strings is the expensive part, so it happens once per
column and the small tables of distinct values are looked up), every event gets an integer lead
position, an age ``as_of - occurred_at`` and a window bucket (``np.searchsorted`` on the window
edges), and every count is one ``np.bincount`` over a combined key, cumulated over buckets. The
cost is linear in events; ``bench/bench_features.py`` measures it against a plain pandas groupby
implementation of the same windows.

Point in time
-------------
An event is seen only if ``occurred_at < as_of`` (strictly before): an event at exactly ``as_of``
is not seen. A window of ``w`` days holds the events with ``0 < as_of - occurred_at <= w days``:
an event at exactly ``as_of - w days`` is inside the window (inclusive lower edge). Events of leads
not in ``lead_ids``, with a missing time, or of an activity type outside the fitted vocabulary are
ignored. A lead's row depends only on its own events and its own ``as_of``, so any partition of
the leads gives the same rows.

Columns (``T`` an activity type, ``P`` a tracked page, ``w`` a window)
----------------------------------------------------------------------
* ``T_wd``: events of type ``T`` in the window; ``page_P_wd``: web visits to page ``P`` (the
  settings' high-value and negative pages). Pages are matched on the ``detail`` column, case- and
  URL-insensitively (``https://x.com/Pricing?utm=1`` and ``/case-studies/acme`` are matched too);
* ``high_value_visits_30d``: visits to the high-value pages; ``low_value_visits_30d``: all other
  web visits except the negative pages (careers), in the last 30 days;
* ``activity_total``: engagement events ever before as_of. *Engagement events* are what the lead
  did: everything except mail sent to it, bounces, unsubscribes and visits to negative pages;
* ``days_since_last_activity``: days since the last engagement event, or, for a lead without one,
  days since its creation (the inactivity a sales rep sees; NaN when ``created_at`` is unknown);
* ``days_since_first_activity``: days since the first engagement event, NaN when there was none
  (a missing value rather than a made-up large number: LightGBM routes missing values itself,
  and the rules do not read it);
* ``lead_age_days``: days from creation to as_of (NaN when ``created_at`` is unknown);
* ``decayed_activity``: sum of ``0.5 ** (age_days / half_life_days)`` over engagement events;
* ``decayed_S`` (``S`` a decay signal, :func:`decay_signals`: an engagement activity type, or
  ``page_P`` for a high-value page): the same sum over that signal's events, with the signal's
  own half-life (``half_lives``; the builder learns them, :mod:`features.decay`);
* ``email_open_rate`` (opens / sent), ``email_click_rate`` (clicks / opens),
  ``webinar_attend_rate`` (attended / registered), over the widest window, clipped to [0, 1]
  (exports can log an open whose send is missing) and 0 when the denominator is 0: "never
  opened" and "never mailed" look the same, the sent count itself tells them apart;
* ``active_days_30d``: distinct UTC calendar days with an engagement event in the last 30 days
  (at most 31 calendar days touch a 30-day window); ``events_per_active_day_30d``: engagement
  events in the last 30 days per active day (0 without one);
* ``email_bounce_ever``: bounces ever before as_of; ``unsubscribed``: 1 if the lead unsubscribed
  at any time before as_of.

With a ``quantity`` column (``dataset.activity_columns.quantity``: page views in a logged session,
minutes of a call) an event counts as its quantity in every count, total, decayed sum and rate
above; recency and active days still count events, not quantities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.decay import SignalEvents, decayed_sums
from features.firmographic import feature_name
from features.settings import FeatureSettings

DAY_NS = 86_400 * 10**9
#: The contract's activity vocabulary (exports map their own names), defined only here:
#: pipeline.synth imports it, since features is the lower layer and never imports pipeline. The
#: order is part of the synthetic world (event type codes), so reordering changes its bytes.
ACTIVITY_TYPES = ("web_visit", "email_sent", "email_open", "email_click", "email_bounce",
                  "email_unsubscribe", "content_download", "webinar_registered",
                  "webinar_attended", "form_submit", "demo_request", "offline_event",
                  "sales_call")
# Sent mail and bounces are done *to* the lead, an unsubscribe is a step away: not engagement.
NOT_ENGAGEMENT = frozenset({"email_sent", "email_bounce", "email_unsubscribe"})
INTENSITY_DAYS = 30
SUMMARY_COLUMNS = ("high_value_visits_30d", "low_value_visits_30d", "activity_total",
                   "days_since_last_activity", "days_since_first_activity", "decayed_activity",
                   "email_open_rate", "email_click_rate", "webinar_attend_rate",
                   "active_days_30d", "events_per_active_day_30d", "email_bounce_ever",
                   "unsubscribed", "lead_age_days")
_NAT = np.iinfo(np.int64).min
#: Prefix of the per-signal decayed counts.
DECAYED = "decayed_"


def tracked_pages(settings: FeatureSettings) -> list[str]:
    """Pages that get window counts: high-value pages, then negative pages."""
    return list(dict.fromkeys([*settings.high_value_pages, *settings.negative_pages]))


def decay_signals(activity_types: list[str] | tuple[str, ...],
                  settings: FeatureSettings) -> list[str]:
    """Signals that get a ``decayed_<signal>`` column: the engagement activity types, then
    ``page_<p>`` for each high-value page (a pricing visit counts in both ``web_visit`` and
    ``page_pricing``)."""
    return ([t for t in activity_types if t not in NOT_ENGAGEMENT]
            + [f"page_{p}" for p in settings.high_value_pages])


def engagement_columns(activity_types: list[str] | tuple[str, ...],
                       settings: FeatureSettings,
                       half_lives: dict[str, float] | None = None) -> list[str]:
    """Column names :func:`build_engagement_features` returns, in order."""
    windows = settings.windows_days
    cols = [f"{t}_{w}d" for t in activity_types for w in windows]
    cols += [f"page_{p}_{w}d" for p in tracked_pages(settings) for w in windows]
    return cols + list(SUMMARY_COLUMNS) + [DECAYED + s for s in half_lives or {}]


@dataclass
class _Events:
    """Events seen before their lead's as_of, as parallel integer arrays."""

    pos: np.ndarray  # lead position in lead_ids (int64)
    age: np.ndarray  # as_of - occurred_at in ns (int64, > 0)
    type_code: np.ndarray  # activity type (int64, index into the vocabulary)
    page: np.ndarray  # tracked page code for web visits, -1 otherwise (int64)
    weight: np.ndarray | None = None  # activity_columns.quantity (float64); None: each counts 1


def _ns(values: pd.Series | pd.Index) -> np.ndarray:
    """Datetimes as int64 ns since the epoch (UTC; NaT -> int64 min)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.tz_convert("UTC").tz_localize(None) if isinstance(values, pd.Index) \
            else values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values)
    return np.asarray(values.to_numpy(dtype="datetime64[ns]")).view("int64")


def _as_of_ns(ids: pd.Index, as_of: pd.Series | pd.Timestamp) -> np.ndarray:
    """Per-lead as_of in ns, aligned with ``ids``; refuses leads without one."""
    if isinstance(as_of, pd.Series):
        if not as_of.index.is_unique:
            raise ValueError("as_of has duplicate lead ids")
        if not as_of.index.equals(ids):
            as_of = as_of.set_axis(as_of.index.astype(str)).reindex(ids.astype(str))
        values = _ns(as_of)
    else:
        stamp = pd.Timestamp(as_of)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        values = np.full(len(ids), _NAT if pd.isna(stamp) else stamp.as_unit("ns").value,
                         dtype=np.int64)
    missing = values == _NAT
    if missing.any():
        examples = ", ".join(map(str, ids[missing][:3]))
        raise ValueError(f"as_of has no time for {int(missing.sum())} of {len(ids)} leads "
                         f"(e.g. {examples})")
    return values


def _positions(ids: pd.Index, lead_column: pd.Series) -> np.ndarray:
    """Position of each event's lead in ``ids`` (-1: not one of these leads)."""
    codes, uniques = pd.factorize(lead_column, use_na_sentinel=True)
    # Compare as text: an export may read ids as numbers in one table and strings in the other.
    lookup = ids.astype(str).get_indexer(pd.Index(uniques).astype(str))
    return np.append(lookup, -1).astype(np.int64)[codes]


def _codes(values: pd.Series, vocabulary: list[str], normalise=None) -> np.ndarray:
    """Index of each value in ``vocabulary`` (-1 if absent), matching distinct values once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    index = {v: i for i, v in enumerate(vocabulary)}
    norm = normalise or feature_name
    lookup = [index.get(norm(u), -1) for u in uniques]
    return np.asarray([*lookup, -1], dtype=np.int64)[codes]


def page_name(detail: object, pages: list[str]) -> str | None:
    """The tracked page a web-visit detail points to, or None.

    Accepts a page name (``"Pricing"``), a path (``"/case-studies/acme"``) or a URL
    (``"https://acme.com/pricing?utm_source=x"``); dashes and spaces read as underscores and a
    plural segment matches its singular page (``case_studies`` -> ``case_study``).
    """
    text = str(detail).strip().casefold()
    text = re.sub(r"^[a-z][a-z0-9+.\-]*://[^/]*", "", text).split("?")[0].split("#")[0]
    wanted = set(pages)
    for segment in [text, *text.split("/")]:
        name = re.sub(r"\.(html?|php|aspx?)$", "", segment.strip())
        name = re.sub(r"[\s\-]+", "_", name).strip("_")
        for candidate in (name, re.sub(r"ies$", "y", name), re.sub(r"s$", "", name)):
            if candidate and candidate in wanted:
                return candidate
    return None


def _seen_events(ids: pd.Index, activities: pd.DataFrame | None, as_of_ns: np.ndarray,
                 types: list[str], pages: list[str]) -> _Events:
    """Events of these leads strictly before their as_of, with known activity types."""
    empty = np.zeros(0, dtype=np.int64)
    if activities is None or len(activities) == 0 or not types:
        return _Events(empty, empty, empty, empty)
    missing = {"lead_id", "occurred_at", "activity_type"} - set(activities.columns)
    if missing:
        raise ValueError(f"activities lack column(s): {sorted(missing)}")
    pos = _positions(ids, activities["lead_id"])
    occurred = _ns(activities["occurred_at"])
    type_code = _codes(activities["activity_type"], types)
    ok = (pos >= 0) & (occurred != _NAT) & (type_code >= 0)
    age = np.zeros(len(pos), dtype=np.int64)
    np.subtract(as_of_ns[pos], occurred, out=age, where=ok)
    ok &= age > 0  # strictly before as_of
    page = np.full(len(pos), -1, dtype=np.int64)
    if "web_visit" in types and "detail" in activities and pages:
        # Only web visits name a page: hash their details, not every campaign name.
        web = ok & (type_code == types.index("web_visit"))
        page[web] = _codes(activities["detail"][web], pages, lambda v: page_name(v, pages))
    weight = None
    if "quantity" in activities:
        # An event counts as many times as its quantity (page views in one logged session).
        weight = pd.to_numeric(activities["quantity"], errors="coerce").fillna(1.0).to_numpy(
            dtype="float64")[ok]
    return _Events(pos[ok], age[ok], type_code[ok], page[ok], weight)


def _window_counts(pos: np.ndarray, code: np.ndarray, bucket: np.ndarray, n: int, n_codes: int,
                   n_buckets: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Counts per (lead, code, bucket) cumulated over buckets: [..., k] = within edge k."""
    key = (pos * n_codes + code) * n_buckets + bucket
    counts = np.bincount(key, weights=weight, minlength=n * n_codes * n_buckets).reshape(
        n, n_codes, n_buckets)
    return np.cumsum(counts, axis=2, out=counts)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den clipped to [0, 1], 0 where den is 0."""
    out = np.zeros(len(num))
    np.divide(num, den, out=out, where=den > 0)
    return np.clip(out, 0.0, 1.0, out=out)


def build_engagement_features(
    lead_ids: pd.Index | pd.Series | list[str],
    activities: pd.DataFrame | None,
    as_of: pd.Series | pd.Timestamp,
    settings: FeatureSettings,
    *,
    created_at: pd.Series | None = None,
    activity_types: list[str] | tuple[str, ...] | None = None,
    half_lives: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Engagement features of each lead from its events strictly before its as_of.

    Parameters
    ----------
    lead_ids
        Leads to describe (unique). Every lead gets a row; leads without events get zero
        counts.
    activities
        Canonical activity log (``lead_id``, ``occurred_at``, ``activity_type``, optional
        ``detail``). May hold other leads' events and events at or after as_of: both are
        ignored. ``None`` means no events.
    as_of
        Per-lead ``pd.Series`` of datetimes indexed by lead_id, or one ``pd.Timestamp`` for
        all. Every lead must have one.
    settings
        Windows, half-life and tracked pages.
    created_at
        Per-lead creation time indexed by lead_id: the inactivity of leads without events.
    activity_types
        Types that get window counts (the builder fixes them at fit time); default
        :data:`ACTIVITY_TYPES`. Events of other types are ignored.
    half_lives
        Decay signal -> half-life in days: one ``decayed_<signal>`` column each, in this order
        (the builder's fitted half-lives); ``None``: none.

    Returns
    -------
    pandas.DataFrame
        float64, indexed by ``lead_id`` in the order of ``lead_ids``, columns
        :func:`engagement_columns` (see the module docstring for definitions).

    Raises
    ------
    ValueError
        Duplicate lead ids, a lead without as_of, or activities lacking a required column.
    """
    ids = pd.Index(lead_ids, name="lead_id")
    if not ids.is_unique:
        raise ValueError("lead_ids are not unique")
    types = list(ACTIVITY_TYPES if activity_types is None else activity_types)
    pages = tracked_pages(settings)
    windows = list(settings.windows_days)
    columns = engagement_columns(types, settings, half_lives)
    n = len(ids)
    if n == 0:
        return pd.DataFrame(np.zeros((0, len(columns))), index=ids, columns=columns)
    as_of_ns = _as_of_ns(ids, as_of)
    ev = _seen_events(ids, activities, as_of_ns, types, pages)

    # Window buckets: the settings' windows plus the 30 days of the intensity features.
    edges = sorted(set(windows) | {INTENSITY_DAYS})
    at = {w: edges.index(w) for w in edges}
    n_buckets = len(edges) + 1  # the last bucket: older than the widest edge
    bucket = np.searchsorted(np.asarray(edges, dtype=np.int64) * DAY_NS, ev.age, side="left")
    ever = len(edges)

    nt = len(types)
    by_type = (_window_counts(ev.pos, ev.type_code, bucket, n, nt, n_buckets, ev.weight) if nt
               else np.zeros((n, 0, n_buckets), dtype=np.int64))
    on_page = ev.page >= 0
    by_page = _window_counts(ev.pos[on_page], ev.page[on_page], bucket[on_page], n,
                             max(len(pages), 1), n_buckets,
                             None if ev.weight is None else ev.weight[on_page])

    def of_type(name: str, k: int) -> np.ndarray:
        return by_type[:, types.index(name), k] if name in types else np.zeros(n, np.int64)

    out = np.empty((n, len(columns)), dtype="float64")
    col = 0
    for block, count in ((by_type, nt), (by_page, len(pages))):
        width = count * len(windows)
        for j, w in enumerate(windows):  # strided writes: no reshaped copy of the block
            out[:, col + j:col + width:len(windows)] = block[:, :count, at[w]]
        col += width
    summary: dict[str, np.ndarray] = {}

    k30 = at[INTENSITY_DAYS]
    high = [pages.index(p) for p in settings.high_value_pages]
    negative = [pages.index(p) for p in settings.negative_pages]
    summary["high_value_visits_30d"] = by_page[:, high, k30].sum(axis=1)
    summary["low_value_visits_30d"] = (of_type("web_visit", k30) - summary["high_value_visits_30d"]
                                       - by_page[:, negative, k30].sum(axis=1))

    engaged_type = np.array([t not in NOT_ENGAGEMENT for t in types], dtype=bool)
    negative_page = np.zeros(len(pages) + 1, dtype=bool)  # last slot: code -1, no tracked page
    negative_page[negative] = True
    engaged = engaged_type[ev.type_code] & ~negative_page[ev.page]
    pos_e, age_e = ev.pos[engaged], ev.age[engaged]
    weight_e = None if ev.weight is None else ev.weight[engaged]
    total = np.bincount(pos_e, weights=weight_e, minlength=n)
    summary["activity_total"] = total
    last = np.full(n, np.iinfo(np.int64).max)
    first = np.full(n, -1, dtype=np.int64)
    np.minimum.at(last, pos_e, age_e)
    np.maximum.at(first, pos_e, age_e)
    since_created = np.full(n, np.nan)
    if created_at is not None:
        if not created_at.index.equals(ids):
            created_at = created_at.set_axis(created_at.index.astype(str)).reindex(
                ids.astype(str))
        created_ns = _ns(created_at)
        known = created_ns != _NAT
        since_created[known] = (as_of_ns[known] - created_ns[known]) / DAY_NS
    has = np.bincount(pos_e, minlength=n) > 0  # an event of quantity 0 is still activity
    summary["days_since_last_activity"] = np.where(has, last / DAY_NS, since_created)
    summary["days_since_first_activity"] = np.where(has, first / DAY_NS, np.nan)
    half_life_ns = settings.half_life_days * DAY_NS
    decay = np.exp2(-age_e / half_life_ns)
    summary["decayed_activity"] = np.bincount(
        pos_e, weights=decay if weight_e is None else decay * weight_e, minlength=n)

    wide = at[max(windows)]
    opens = of_type("email_open", wide)
    summary["email_open_rate"] = _ratio(opens, of_type("email_sent", wide))
    summary["email_click_rate"] = _ratio(of_type("email_click", wide), opens)
    summary["webinar_attend_rate"] = _ratio(of_type("webinar_attended", wide),
                                            of_type("webinar_registered", wide))

    recent = age_e <= INTENSITY_DAYS * DAY_NS
    pos_r = pos_e[recent]
    as_of_r = as_of_ns[pos_r]
    # Calendar days back from as_of's UTC day: 0..30 for events within the 30-day window.
    days_back = as_of_r // DAY_NS - (as_of_r - age_e[recent]) // DAY_NS
    slots = INTENSITY_DAYS + 1
    per_day = np.bincount(pos_r * slots + days_back, minlength=n * slots).reshape(n, slots)
    active = np.count_nonzero(per_day, axis=1)
    summary["active_days_30d"] = active
    summary["events_per_active_day_30d"] = np.divide(
        np.bincount(pos_r, weights=None if weight_e is None else weight_e[recent], minlength=n),
        active, out=np.zeros(n), where=active > 0)
    summary["email_bounce_ever"] = of_type("email_bounce", ever)
    summary["unsubscribed"] = of_type("email_unsubscribe", ever) > 0
    # Constant (and dropped) at one as_of per lead; on the as_of grid it lets the score mean the
    # lead's chance at its own age.
    summary["lead_age_days"] = since_created

    for name in SUMMARY_COLUMNS:
        out[:, col] = summary[name]
        col += 1
    if half_lives:
        signals = list(half_lives)
        sig = _signal_events(ev, types, settings, signals)
        out[:, col:] = decayed_sums(sig, n, [half_lives[s] for s in signals])
    return pd.DataFrame(out, index=ids, columns=columns, copy=False)


def _signal_events(ev: _Events, types: list[str], settings: FeatureSettings,
                   signals: list[str]) -> SignalEvents:
    """Engagement events of each decay signal (a web visit to a tracked page counts for both
    its type's and its page's signal; visits to negative pages count for neither, as in
    ``decayed_activity``)."""
    pages = tracked_pages(settings)
    index = {s: i for i, s in enumerate(signals)}
    of_type = np.array([-1 if t in NOT_ENGAGEMENT else index.get(t, -1) for t in types] or [-1],
                       dtype=np.int64)[ev.type_code]
    negative = np.array([p in settings.negative_pages for p in pages] + [False])[ev.page]
    of_page = np.array([index.get(f"page_{p}", -1) for p in pages] + [-1],
                       dtype=np.int64)[ev.page]
    keep_t, keep_p = (of_type >= 0) & ~negative, of_page >= 0
    weight = None if ev.weight is None else np.concatenate([ev.weight[keep_t],
                                                           ev.weight[keep_p]])
    return SignalEvents(np.concatenate([ev.pos[keep_t], ev.pos[keep_p]]),
                        np.concatenate([ev.age[keep_t], ev.age[keep_p]]) / DAY_NS,
                        np.concatenate([of_type[keep_t], of_page[keep_p]]), len(signals),
                        weight)


def signal_events(lead_ids: pd.Index | pd.Series | list[str], activities: pd.DataFrame | None,
                  as_of: pd.Series | pd.Timestamp, settings: FeatureSettings,
                  activity_types: list[str] | tuple[str, ...], signals: list[str]
                  ) -> SignalEvents:
    """The events each lead's ``decayed_<signal>`` columns sum, strictly before its as_of: what
    :func:`features.decay.learn_half_lives` scans half-lives on (same rules as
    :func:`build_engagement_features`)."""
    ids = pd.Index(lead_ids, name="lead_id")
    types = list(activity_types)
    ev = _seen_events(ids, activities, _as_of_ns(ids, as_of), types, tracked_pages(settings))
    return _signal_events(ev, types, settings, signals)
