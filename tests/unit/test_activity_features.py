"""Golden numbers for engagement windows, decay, ratios, recency and negative signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.activity import build_engagement_features

AS_OF = pd.Timestamp("2025-03-31")
TYPES = ["email_bounce", "email_click", "email_open", "email_sent", "email_unsubscribe",
         "web_visit", "webinar_attended", "webinar_registered"]
PAGES = ["pricing", "demo", "careers"]


def _events(rows):
    frame = pd.DataFrame(rows, columns=["lead_id", "days_before", "activity_type", "detail"])
    frame["occurred_at"] = AS_OF - pd.to_timedelta(frame["days_before"], unit="D")
    return frame.drop(columns="days_before")


def _build(events, leads=("a", "b"), as_of=AS_OF, created=None, half_life=14.0):
    ids = pd.Index(list(leads), name="lead_id")
    created = created if created is not None else pd.Series(AS_OF - pd.Timedelta(days=200),
                                                            index=ids)
    return build_engagement_features(ids, events, as_of, created, TYPES, PAGES,
                                     ["pricing", "demo"], [7, 30, 90], half_life)


def test_windows_and_boundaries():
    events = _events([
        ("a", 0, "web_visit", "pricing"),  # exactly at as_of: not seen
        ("a", 1, "web_visit", "pricing"),
        ("a", 7, "web_visit", "pricing"),  # exactly 7 days: inside the 7-day window
        ("a", 7.5, "web_visit", "pricing"),
        ("a", 30, "web_visit", "home"),
        ("a", 91, "web_visit", "pricing"),  # beyond the widest window
        ("a", -3, "web_visit", "pricing"),  # after as_of: never seen
    ])
    f = _build(events)
    assert f.loc["a", "page_pricing_7d"] == 2
    assert f.loc["a", "page_pricing_30d"] == 3
    assert f.loc["a", "page_pricing_90d"] == 3
    assert f.loc["a", "web_visit_30d"] == 4
    assert f.loc["a", "web_visit_90d"] == 4
    assert f.loc["a", "high_value_visits_30d"] == 3
    assert f.loc["a", "low_value_visits_30d"] == 1
    assert f.loc["b"].drop(["days_since_last_activity", "days_since_first_activity"]).eq(0).all()


def test_recency_and_inactivity():
    events = _events([("a", 3, "email_open", None), ("a", 40, "web_visit", "home"),
                      ("a", 1, "email_sent", None)])
    f = _build(events)
    assert f.loc["a", "days_since_last_activity"] == pytest.approx(3)  # sent mail is passive
    assert f.loc["a", "days_since_first_activity"] == pytest.approx(40)
    # no events: inactivity is the lead's age, first activity unknown
    assert f.loc["b", "days_since_last_activity"] == pytest.approx(200)
    assert np.isnan(f.loc["b", "days_since_first_activity"])


def test_decay_golden():
    events = _events([("a", 14, "web_visit", "home"), ("a", 28, "email_click", None),
                      ("a", 2, "email_bounce", None)])
    f = _build(events, half_life=14.0)
    assert f.loc["a", "decayed_activity"] == pytest.approx(0.5 + 0.25)


def test_ratios_and_negatives():
    events = _events([
        *[("a", d, "email_sent", None) for d in (1, 2, 3, 4)],
        ("a", 2, "email_open", None), ("a", 3, "email_open", None),
        ("a", 2, "email_click", None),
        ("a", 5, "webinar_registered", None), ("a", 5, "webinar_registered", None),
        ("a", 4, "webinar_attended", None),
        ("b", 10, "email_bounce", None), ("b", 9, "email_unsubscribe", None),
        ("b", 8, "web_visit", "careers"),
    ])
    f = _build(events)
    assert f.loc["a", "email_open_rate"] == pytest.approx(0.5)
    assert f.loc["a", "email_click_rate"] == pytest.approx(0.5)
    assert f.loc["a", "webinar_attend_rate"] == pytest.approx(0.5)
    assert f.loc["b", "email_open_rate"] == 0  # nothing sent: 0, not NaN
    assert f.loc["b", "email_bounce_30d"] == 1
    assert f.loc["b", "unsubscribed"] == 1 and f.loc["a", "unsubscribed"] == 0
    assert f.loc["b", "page_careers_30d"] == 1


def test_session_intensity():
    events = _events([("a", 1.1, "web_visit", "home"), ("a", 1.2, "web_visit", "blog"),
                      ("a", 1.3, "email_open", None), ("a", 5.5, "web_visit", "home")])
    f = _build(events)
    assert f.loc["a", "active_days_30d"] == 2
    assert f.loc["a", "events_per_active_day_30d"] == pytest.approx(2.0)


def test_per_lead_as_of():
    events = _events([("a", 10, "web_visit", "pricing"), ("b", 10, "web_visit", "pricing")])
    as_of = pd.Series([AS_OF, AS_OF - pd.Timedelta(days=20)], index=["a", "b"])
    f = _build(events, as_of=as_of)
    assert f.loc["a", "page_pricing_30d"] == 1
    assert f.loc["b", "page_pricing_30d"] == 0  # its event is after its own as_of
