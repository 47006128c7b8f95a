"""The scoring as_of helpers: default and its label, the staleness warning, before creation."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.data.errors import DataError
from pipeline.data.scoring_time import (
    NewestDates,
    check_created_by,
    resolve_as_of,
    staleness_warning,
)

NOW = pd.Timestamp("2026-12-02 08:00:00")


def test_as_of_defaults_to_now_and_says_so():
    when = resolve_as_of(None, now=NOW)
    assert when.as_of == NOW and when.defaulted and str(when) == "2026-12-02 08:00:00 (now)"
    given = resolve_as_of(pd.Timestamp("2024-06-30"), now=NOW)
    assert given.as_of == pd.Timestamp("2024-06-30") and not given.defaulted
    assert str(given) == "2024-06-30 00:00:00 (--as-of)"


def _newest(event=None, created=None):
    newest = NewestDates()
    leads = pd.DataFrame({"created_at": pd.to_datetime([created])}) if created else None
    events = pd.DataFrame({"occurred_at": pd.to_datetime([event])}) if event else None
    newest.update(leads, events)
    return newest


def test_warning_names_the_dates_of_the_newest_activity():
    text = staleness_warning(_newest("2024-06-30 12:00", "2024-06-01"), resolve_as_of(None, NOW),
                             120, "leads.csv", "events.csv")
    assert text == ("newest activity in events.csv is 2024-06-30, 884 days before as_of "
                    "2026-12-02 (inactivity limit 120 days): pass --as-of to score as of the "
                    "export's date")


def test_without_events_the_newest_lead_counts():
    text = staleness_warning(_newest(created="2025-01-01"), resolve_as_of(None, NOW), 120,
                             "leads.csv", None)
    assert text.startswith("newest lead creation in leads.csv is 2025-01-01, 700 days before")


@pytest.mark.parametrize(("event", "limit", "given", "warns"), [
    ("2026-08-04 08:00", 120, None, False),          # exactly the limit: not stale
    ("2026-08-04 07:59", 120, None, True),           # a minute older: stale
    ("2024-06-30", 120, pd.Timestamp("2026-12-02"), False),  # the user chose the as_of
    ("2024-06-30", None, None, False),               # no inactivity limit
])
def test_warning_only_when_the_default_is_older_than_the_limit(event, limit, given, warns):
    text = staleness_warning(_newest(event), resolve_as_of(given, NOW), limit, "l.csv", "e.csv")
    assert (text is not None) == warns


def test_newest_dates_merge_across_batches():
    first, second = _newest("2025-01-01", "2024-12-01"), _newest("2025-03-01", "2024-11-01")
    first.merge(second.state())
    assert first.event == pd.Timestamp("2025-03-01")
    assert first.created == pd.Timestamp("2024-12-01")


def test_before_creation_names_column_rows_and_leads():
    leads = pd.DataFrame({"lead_id": [f"L{i}" for i in range(9)],
                          "created_at": pd.date_range("2025-01-01", periods=9, freq="D")})
    check_created_by(leads, pd.Timestamp("2025-01-09"), "leads.csv", "Created Date")  # all exist
    with pytest.raises(DataError) as raised:
        check_created_by(leads, pd.Timestamp("2025-01-02"), "leads.csv", "Created Date",
                         rows=pd.RangeIndex(100, 109).to_numpy())
    assert str(raised.value) == (
        "leads.csv: column 'Created Date': created after the scoring as_of 2025-01-02 00:00 "
        "(lead 'L2', 'L3', 'L4', 'L5', 'L6', ...): a lead cannot be scored before it exists; "
        "pass a later --as-of (7 rows: 103, 104, 105, 106, 107, ...)")


def test_before_creation_per_lead_as_of():
    leads = pd.DataFrame({"lead_id": ["A", "B"],
                          "created_at": pd.to_datetime(["2025-01-05", "2025-01-05"])})
    as_of = pd.Series(pd.to_datetime(["2025-01-06", "2025-01-04"]), index=["A", "B"])
    with pytest.raises(DataError, match=r"their as_of \(lead 'B'\).*\(1 row: 2\)"):
        check_created_by(leads, as_of, "request", "created_at")
