"""The scoring as_of: the moment new leads are scored at, and the checks that keep it honest.

``dataset.snapshot`` bounds the *training* export only. At scoring the bound is the scoring
as_of: leads and events after the snapshot score normally, features still see only events
strictly before the as_of (the point-in-time rule), and an event after the wall clock is still
refused by the contract as being in the future. Three things live here, shared by ``score``,
``explain``, the batch engines and the MLflow pyfunc:

- :func:`resolve_as_of`: ``--as-of`` when given, else now (wall clock, UTC), with where it came
  from, so the caller can print which as_of it used.
- :func:`staleness_warning`: the default "now" is likely wrong when the newest event of the
  input (or its newest lead, without events) is older than the inactivity limit before the
  as_of: every lead would come out inactive. The warning names the dates.
- :func:`check_created_by`: a lead scored as of a moment before its creation has no meaning; an
  error names the file, the user's created_at column and the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data.contracts import MAX_EXAMPLES, Violation
from pipeline.data.errors import DataError

NOW = "now"
GIVEN = "--as-of"


@dataclass(frozen=True)
class ScoringTime:
    """The as_of a scoring run uses and where it came from (``now``, ``--as-of``, ...)."""

    as_of: pd.Timestamp
    source: str

    @property
    def defaulted(self) -> bool:
        """True when nobody chose this as_of: the wall clock stood in."""
        return self.source == NOW

    def __str__(self) -> str:
        return f"{self.as_of:%Y-%m-%d %H:%M:%S} ({self.source})"


def parse_as_of(value: Any, label: str, error: type[Exception] = DataError
                ) -> pd.Timestamp | None:
    """An as_of given as text or a timestamp, as naive UTC; None when not given.

    ``label`` names it in the one-line ``error`` (``--as-of``, the pyfunc's ``as_of`` param).
    """
    if value is None or (isinstance(value, str) and not value):
        return None
    try:
        when = pd.Timestamp(value)
    except (ValueError, TypeError):
        when = pd.NaT
    if pd.isna(when):
        raise error(f"{label} {value!r}: not a date (e.g. 2026-06-30T23:59:59)")
    return when.tz_convert("UTC").tz_localize(None) if when.tzinfo else when


def wall_clock() -> pd.Timestamp:
    """Now, in UTC without a zone (the frames' convention), to the second."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


def resolve_as_of(given: pd.Timestamp | None, now: pd.Timestamp | None = None) -> ScoringTime:
    """``given`` (the user's ``--as-of``) or the wall clock, labelled with its source."""
    if given is not None:
        return ScoringTime(pd.Timestamp(given), GIVEN)
    return ScoringTime(now if now is not None else wall_clock(), NOW)


def created_after(leads: pd.DataFrame, as_of: pd.Timestamp | pd.Series) -> np.ndarray:
    """Which leads were created after ``as_of`` (a Timestamp, or a Series by lead_id)."""
    if "created_at" not in leads:
        return np.zeros(len(leads), dtype=bool)
    created = pd.to_datetime(leads["created_at"]).reset_index(drop=True)
    if isinstance(as_of, pd.Series):
        when = pd.to_datetime(pd.Series(
            as_of.reindex(leads["lead_id"].astype(str).to_numpy()).to_numpy()))
        return (created > when).fillna(False).to_numpy(dtype=bool)
    return (created > as_of).fillna(False).to_numpy(dtype=bool)


def before_creation_error(file: str, column: str, as_of: pd.Timestamp | None,
                          rows: np.ndarray, lead_ids: np.ndarray, count: int) -> DataError:
    """The one-line error for leads scored before they exist (``rows`` 1-based, first few)."""
    shown = ", ".join(repr(str(i)) for i in lead_ids[:MAX_EXAMPLES])
    more = ", ..." if count > min(len(lead_ids), MAX_EXAMPLES) else ""
    when = "their as_of" if as_of is None else f"as_of {as_of:%Y-%m-%d %H:%M}"
    problem = (f"created after the scoring {when} (lead {shown}{more}): a lead cannot be scored "
               "before it exists; pass a later --as-of")
    rows = tuple(int(r) for r in rows[:MAX_EXAMPLES])
    return DataError(str(Violation(file, column, problem, rows, int(count))))


def check_created_by(leads: pd.DataFrame, as_of: pd.Timestamp | pd.Series, file: str,
                     column: str, rows: np.ndarray | None = None) -> None:
    """Raise :class:`DataError` when a lead was created after its as_of.

    ``rows`` are the leads' 0-based positions in the source file (a bucket's rows), default
    their positions in ``leads``; ``column`` is the user's name of the created_at column.
    """
    late = created_after(leads, as_of)
    if not late.any():
        return
    rows = np.arange(len(leads)) if rows is None else np.asarray(rows)
    ids = leads["lead_id"].astype(str).to_numpy()
    single = as_of if isinstance(as_of, pd.Timestamp) else None
    raise before_creation_error(file, column, single, rows[late] + 1, ids[late], int(late.sum()))


@dataclass
class NewestDates:
    """The newest event and the newest lead creation seen in an input, batch by batch."""

    event: pd.Timestamp | None = None
    created: pd.Timestamp | None = None

    def update(self, leads: pd.DataFrame | None, activities: pd.DataFrame | None) -> None:
        """Take in one batch of canonical leads and their events."""
        if leads is not None and "created_at" in leads and len(leads):
            self.created = _later(self.created, leads["created_at"].max())
        if activities is not None and "occurred_at" in activities and len(activities):
            self.event = _later(self.event, activities["occurred_at"].max())

    def merge(self, state: dict[str, Any] | None) -> None:
        """Take in another batch's :meth:`state`."""
        if state:
            self.event = _later(self.event, state.get("event"))
            self.created = _later(self.created, state.get("created"))

    def state(self) -> dict[str, str | None]:
        """JSON-ready form (kept beside a batch's part file)."""
        return {"event": None if self.event is None else self.event.isoformat(),
                "created": None if self.created is None else self.created.isoformat()}


def _later(current: pd.Timestamp | None, other: Any) -> pd.Timestamp | None:
    if other is None or pd.isna(other):
        return current
    other = pd.Timestamp(other)
    return other if current is None or other > current else current


def staleness_warning(newest: NewestDates, when: ScoringTime, limit_days: float | None,
                      leads_file: str, activities_file: str | None) -> str | None:
    """One line when the default as_of (now) is likely wrong, else None.

    Likely wrong: nobody chose the as_of, and the newest event of the input (its newest lead
    creation where there are no events) is more than the inactivity limit before it, so every
    lead would be scored as long inactive.
    """
    if not when.defaulted or not limit_days:
        return None
    if newest.event is not None:
        what, file, stamp = "activity", activities_file or leads_file, newest.event
    elif newest.created is not None:
        what, file, stamp = "lead creation", leads_file, newest.created
    else:
        return None
    gap = (when.as_of - stamp) / pd.Timedelta(days=1)
    if gap <= limit_days:
        return None
    return (f"newest {what} in {file} is {stamp:%Y-%m-%d}, {int(gap)} days before as_of "
            f"{when.as_of:%Y-%m-%d} (inactivity limit {limit_days:g} days): pass --as-of to "
            "score as of the export's date")


def inactivity_limit(package: Any, config: Any) -> float | None:
    """The limit the package disqualifies with (the config's for packages without one)."""
    rules = getattr(package, "disqualify", None) or {}
    if "inactive_days" in rules:
        return rules["inactive_days"]
    return config.disqualify.inactive_days
