"""Golden numbers for engagement windows, decay, ratios, recency, intensity and negative signals.

Every event below is placed at a whole number of days before ``AS_OF`` (midnight) unless the
test is about time of day, so each expected count can be read off the table by eye. A final
property test compares the vectorised engine with a plain per-lead Python loop on random logs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.activity import (
    ACTIVITY_TYPES,
    SUMMARY_COLUMNS,
    build_engagement_features,
    engagement_columns,
    page_name,
)
from features.settings import FeatureSettings

AS_OF = pd.Timestamp("2025-03-31")
DAY = pd.Timedelta(days=1)
SETTINGS = FeatureSettings()


def _events(rows):
    frame = pd.DataFrame(rows, columns=["lead_id", "days_before", "activity_type", "detail"])
    frame["occurred_at"] = AS_OF - pd.to_timedelta(frame["days_before"], unit="D")
    return frame.drop(columns="days_before")


def _build(events, leads=("a", "b"), as_of=AS_OF, created_days_before=200.0,
           settings=SETTINGS, **kwargs):
    ids = pd.Index(list(leads), name="lead_id")
    created = pd.Series(AS_OF - pd.Timedelta(days=created_days_before), index=ids)
    return build_engagement_features(ids, events, as_of, settings, created_at=created, **kwargs)


def test_columns_and_shape():
    f = _build(_events([("a", 1, "web_visit", "pricing")]))
    assert list(f.columns) == engagement_columns(ACTIVITY_TYPES, SETTINGS)
    assert f.index.tolist() == ["a", "b"] and f.index.name == "lead_id"
    assert (f.dtypes == "float64").all()
    assert list(f.columns[-len(SUMMARY_COLUMNS):]) == list(SUMMARY_COLUMNS)


def test_window_boundaries():
    events = _events([
        ("a", 0, "web_visit", "pricing"),  # exactly at as_of: not seen (strictly before)
        ("a", 1e-9, "web_visit", "pricing"),  # 86 microseconds before as_of: seen
        ("a", 7, "web_visit", "pricing"),  # exactly 7 days: inside the 7-day window
        ("a", 7.5, "web_visit", "pricing"),
        ("a", 30, "web_visit", "home"),  # exactly 30 days: inside the 30-day window
        ("a", 90, "web_visit", "pricing"),  # exactly 90 days: inside the widest window
        ("a", 91, "web_visit", "pricing"),  # beyond the widest window
        ("a", -3, "web_visit", "pricing"),  # after as_of: never seen
    ])
    f = _build(events)
    assert f.loc["a", "page_pricing_7d"] == 2
    assert f.loc["a", "page_pricing_30d"] == 3
    assert f.loc["a", "page_pricing_90d"] == 4
    assert f.loc["a", "web_visit_7d"] == 2
    assert f.loc["a", "web_visit_30d"] == 4
    assert f.loc["a", "web_visit_90d"] == 5
    assert f.loc["a", "high_value_visits_30d"] == 3
    assert f.loc["a", "low_value_visits_30d"] == 1
    assert f.loc["a", "activity_total"] == 6  # ever before as_of, not only within 90 days


def test_lead_without_events_gets_zeros():
    f = _build(_events([("a", 1, "web_visit", "pricing")]))
    row = f.loc["b"]
    assert row.drop(["days_since_last_activity", "days_since_first_activity",
                     "lead_age_days"]).eq(0).all()
    assert row["days_since_last_activity"] == pytest.approx(200.0)  # inactive since creation
    assert row["lead_age_days"] == pytest.approx(200.0)
    assert np.isnan(row["days_since_first_activity"])


def test_no_activity_log_at_all():
    f = _build(None, created_days_before=10)
    assert f.loc["a", "web_visit_30d"] == 0
    assert f.loc["a", "days_since_last_activity"] == pytest.approx(10)
    g = build_engagement_features(pd.Index(["a"]), None, AS_OF, SETTINGS)  # no created_at
    assert np.isnan(g.loc["a", "days_since_last_activity"])


def test_recency_uses_engagement_events_only():
    events = _events([
        ("a", 3, "email_open", None),
        ("a", 40, "web_visit", "home"),
        ("a", 1, "email_sent", None),  # sent mail is done to the lead
        ("a", 0.5, "email_bounce", None),
        ("a", 0.2, "web_visit", "careers"),  # a job seeker's visit is not engagement
        ("a", 500, "web_visit", "blog"),  # older than every window: still the first activity
    ])
    f = _build(events)
    assert f.loc["a", "days_since_last_activity"] == pytest.approx(3)
    assert f.loc["a", "days_since_first_activity"] == pytest.approx(500)
    assert f.loc["a", "activity_total"] == 3


def test_decay_golden():
    events = _events([("a", 14, "web_visit", "home"), ("a", 28, "email_click", None),
                      ("a", 2, "email_bounce", None), ("a", 1, "email_sent", None)])
    assert _build(events).loc["a", "decayed_activity"] == pytest.approx(0.5 + 0.25)
    halved = _build(events, settings=FeatureSettings(half_life_days=7.0))
    assert halved.loc["a", "decayed_activity"] == pytest.approx(0.25 + 0.0625)


def test_ratios_are_zero_without_denominator_and_clipped():
    events = _events([
        *[("a", d, "email_sent", None) for d in (1, 2, 3, 4)],
        ("a", 2, "email_open", None), ("a", 3, "email_open", None),
        ("a", 2, "email_click", None),
        ("a", 5, "webinar_registered", None), ("a", 5, "webinar_registered", None),
        ("a", 4, "webinar_attended", None),
        ("b", 3, "email_open", None), ("b", 2, "email_click", None),
        ("b", 1, "email_click", None),  # two clicks, one open: clipped to 1
    ])
    f = _build(events)
    assert f.loc["a", "email_open_rate"] == pytest.approx(0.5)
    assert f.loc["a", "email_click_rate"] == pytest.approx(0.5)
    assert f.loc["a", "webinar_attend_rate"] == pytest.approx(0.5)
    assert f.loc["b", "email_open_rate"] == 0  # nothing sent: 0, not NaN or inf
    assert f.loc["b", "email_click_rate"] == 1
    assert f.loc["b", "webinar_attend_rate"] == 0


def test_negative_signals():
    events = _events([
        ("b", 10, "email_bounce", None), ("b", 200, "email_bounce", None),
        ("b", 150, "email_unsubscribe", None),  # long ago, still unsubscribed
        ("b", 8, "web_visit", "careers"), ("b", 8, "web_visit", "/Careers/"),
        ("a", 0, "email_unsubscribe", None),  # at as_of: not yet
    ])
    f = _build(events)
    assert f.loc["b", "email_bounce_30d"] == 1
    assert f.loc["b", "email_bounce_ever"] == 2
    assert f.loc["b", "unsubscribed"] == 1 and f.loc["a", "unsubscribed"] == 0
    assert f.loc["b", "email_unsubscribe_90d"] == 0
    assert f.loc["b", "page_careers_30d"] == 2
    assert f.loc["b", "low_value_visits_30d"] == 0  # careers visits are not low-value visits
    assert f.loc["b", "days_since_last_activity"] == pytest.approx(200.0)  # only negatives


def test_offline_events_and_sales_calls():
    events = _events([("a", 2, "offline_event", None), ("a", 20, "sales_call", None),
                      ("a", 25, "sales_call", None)])
    f = _build(events)
    assert f.loc["a", "offline_event_7d"] == 1
    assert f.loc["a", "sales_call_7d"] == 0 and f.loc["a", "sales_call_30d"] == 2


def test_session_intensity_counts_calendar_days():
    as_of = pd.Timestamp("2025-03-31 12:00")
    events = pd.DataFrame({
        "lead_id": "a",
        "occurred_at": pd.to_datetime(["2025-03-31 01:00", "2025-03-30 23:00",
                                       "2025-03-30 08:00", "2025-03-25 12:00",
                                       "2025-03-01 12:00",  # exactly 30 days: inside
                                       "2025-03-01 11:59"]),  # 30 days and a minute: outside
        "activity_type": ["web_visit", "web_visit", "email_open", "web_visit", "form_submit",
                          "form_submit"],
        "detail": ["home", "blog", None, "home", None, None],
    })
    f = _build(events, as_of=as_of)
    assert f.loc["a", "active_days_30d"] == 4  # Mar 31, Mar 30, Mar 25, Mar 1
    assert f.loc["a", "events_per_active_day_30d"] == pytest.approx(5 / 4)
    assert f.loc["b", "events_per_active_day_30d"] == 0


def test_per_lead_as_of_and_unknown_leads_and_types():
    events = _events([("a", 10, "web_visit", "pricing"), ("b", 10, "web_visit", "pricing"),
                      ("zz", 5, "web_visit", "pricing"),  # not one of these leads
                      ("a", 3, "fax_received", None)])  # not in the vocabulary
    as_of = pd.Series([AS_OF, AS_OF - pd.Timedelta(days=20)], index=["a", "b"])
    f = _build(events, as_of=as_of)
    assert f.loc["a", "page_pricing_30d"] == 1
    assert f.loc["b", "page_pricing_30d"] == 0  # its event is after its own as_of
    assert f.loc["a", "activity_total"] == 1


def test_fitted_vocabulary_and_settings_pages():
    events = _events([("a", 1, "Web Visit", "https://acme.com/Pricing/?utm_source=x"),
                      ("a", 2, "web_visit", "/case-studies/acme"),
                      ("a", 3, "Webinar_Attended", None)])
    f = _build(events, activity_types=["web_visit", "webinar_attended"])
    assert [c for c in f.columns if c.endswith("_7d")][:2] == ["web_visit_7d",
                                                              "webinar_attended_7d"]
    assert "email_open_7d" not in f.columns
    assert f.loc["a", "page_pricing_7d"] == 1 and f.loc["a", "page_case_study_7d"] == 1
    assert f.loc["a", "webinar_attended_7d"] == 1
    custom = FeatureSettings(windows_days=[14, 3], high_value_pages=["Pricing"],
                             negative_pages=[])
    g = _build(events, settings=custom)
    assert "page_pricing_3d" in g.columns and "page_pricing_14d" in g.columns
    assert "high_value_visits_30d" in g.columns  # the 30-day summaries need no 30-day window


def test_page_name_matching():
    pages = ["pricing", "demo", "case_study", "careers"]
    assert page_name("Pricing", pages) == "pricing"
    assert page_name("https://www.acme.com/en/pricing#plans", pages) == "pricing"
    assert page_name("/case-studies/acme-corp", pages) == "case_study"
    assert page_name("case study", pages) == "case_study"
    assert page_name("/blog/pricing-strategies", pages) is None
    assert page_name(None, pages) is None


def test_tz_aware_and_microsecond_times_are_handled():
    events = _events([("a", 1, "web_visit", "pricing")])
    events["occurred_at"] = events["occurred_at"].dt.tz_localize("UTC").dt.tz_convert(
        "Europe/Paris").astype("datetime64[us, Europe/Paris]")
    as_of = pd.Series([AS_OF, AS_OF], index=["a", "b"]).astype("datetime64[s]")
    f = _build(events, as_of=as_of)
    assert f.loc["a", "page_pricing_7d"] == 1
    assert f.loc["a", "days_since_last_activity"] == pytest.approx(1)


def test_errors_are_clear():
    events = _events([("a", 1, "web_visit", "pricing")])
    with pytest.raises(ValueError, match="no time for 1 of 2 leads"):
        _build(events, as_of=pd.Series([AS_OF], index=["a"]))
    with pytest.raises(ValueError, match="not unique"):
        _build(events, leads=("a", "a"))
    with pytest.raises(ValueError, match="lack column"):
        _build(events.drop(columns="occurred_at"))
    empty = build_engagement_features(pd.Index([], dtype=str), events, AS_OF, SETTINGS)
    assert empty.shape == (0, len(engagement_columns(ACTIVITY_TYPES, SETTINGS)))


# ---------------------------------------------------------------- engine vs a plain loop
TYPES = ["web_visit", "email_sent", "email_open", "email_click", "email_bounce",
         "email_unsubscribe", "webinar_registered", "webinar_attended", "sales_call"]
DETAILS = ["pricing", "demo", "case_study", "careers", "home", None]


def _oracle(ids, as_of, created, events, s: FeatureSettings) -> pd.DataFrame:
    """The same features, one lead and one event at a time."""
    rows = {}
    for lead in ids:
        t0 = as_of[lead]
        seen = [e for e in events.itertuples() if e.lead_id == lead and e.occurred_at < t0]
        age = {id(e): (t0 - e.occurred_at) / DAY for e in seen}
        row = {}
        for t in TYPES:
            for w in s.windows_days:
                row[f"{t}_{w}d"] = sum(e.activity_type == t and age[id(e)] <= w for e in seen)
        visits = [e for e in seen if e.activity_type == "web_visit"]
        for p in ["pricing", "demo", "case_study", "careers"]:
            for w in s.windows_days:
                row[f"page_{p}_{w}d"] = sum(e.detail == p and age[id(e)] <= w for e in visits)
        recent_visits = [e for e in visits if age[id(e)] <= 30]
        row["high_value_visits_30d"] = sum(e.detail in ("pricing", "demo", "case_study")
                                           for e in recent_visits)
        row["low_value_visits_30d"] = sum(e.detail not in ("pricing", "demo", "case_study",
                                                           "careers") for e in recent_visits)
        engaged = [e for e in seen
                   if e.activity_type not in ("email_sent", "email_bounce", "email_unsubscribe")
                   and not (e.activity_type == "web_visit" and e.detail == "careers")]
        ages = [age[id(e)] for e in engaged]
        row["activity_total"] = len(engaged)
        row["days_since_last_activity"] = min(ages) if ages else (t0 - created[lead]) / DAY
        row["days_since_first_activity"] = max(ages) if ages else np.nan
        row["decayed_activity"] = sum(0.5 ** (a / s.half_life_days) for a in ages)

        def count(t, w=max(s.windows_days), seen=seen, age=age):
            return sum(e.activity_type == t and age[id(e)] <= w for e in seen)

        def ratio(a, b):
            return min(a / b, 1.0) if b else 0.0

        row["email_open_rate"] = ratio(count("email_open"), count("email_sent"))
        row["email_click_rate"] = ratio(count("email_click"), count("email_open"))
        row["webinar_attend_rate"] = ratio(count("webinar_attended"),
                                           count("webinar_registered"))
        last30 = [e for e in engaged if age[id(e)] <= 30]
        days = {e.occurred_at.normalize() for e in last30}
        row["active_days_30d"] = len(days)
        row["events_per_active_day_30d"] = len(last30) / len(days) if days else 0.0
        row["email_bounce_ever"] = sum(e.activity_type == "email_bounce" for e in seen)
        row["unsubscribed"] = float(any(e.activity_type == "email_unsubscribe" for e in seen))
        rows[lead] = row
    return pd.DataFrame.from_dict(rows, orient="index").astype("float64")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(0, 80),
       st.sampled_from([[7, 30, 90], [1, 14], [30]]), st.sampled_from([14.0, 3.5]))
def test_engine_matches_a_plain_per_lead_loop(seed, n_leads, n_events, windows, half_life):
    rng = np.random.default_rng(seed)
    ids = [f"L{i}" for i in range(n_leads)]
    as_of = pd.Series(AS_OF - pd.to_timedelta(rng.integers(0, 5, n_leads), unit="D"), index=ids)
    created = pd.Series(AS_OF - pd.Timedelta(days=120), index=ids)
    # Whole days, half days and random minutes, so window edges are hit exactly too.
    offsets = rng.choice([0.0, 0.5, 1, 7, 14, 30, 90, 100], n_events) + rng.choice(
        [0.0, 0.0, rng.uniform(-1, 1)], n_events)
    lead = rng.choice(ids + ["other"], n_events)
    events = pd.DataFrame({
        "lead_id": lead,
        "occurred_at": (as_of.reindex(lead).fillna(AS_OF).to_numpy()
                        - pd.to_timedelta(offsets, unit="D").round("min")),
        "activity_type": rng.choice(TYPES, n_events),
        "detail": rng.choice(np.array(DETAILS, dtype=object), n_events),
    })
    s = FeatureSettings(windows_days=windows, half_life_days=half_life)
    got = build_engagement_features(pd.Index(ids), events, as_of, s, created_at=created,
                                    activity_types=TYPES)
    want = _oracle(ids, as_of, created, events, s)
    pd.testing.assert_frame_equal(got[want.columns], want, check_names=False, rtol=1e-9)
