"""Input contracts: turn a raw CRM export into canonical frames, or say exactly what is wrong.

Every problem becomes a :class:`Violation` (file, column, what, how many rows, up to five example
row numbers). Row numbers are 1-based data rows, the header not counted, so row 1 is the first
lead in the file. Structural checks (unique ids, nulls, allowed values, date order) are pandera
schemas; parsing checks (dates, numbers, Yes/No) are done first so that the message can say
"unparseable date" instead of a generic null failure.
"""

from __future__ import annotations

import difflib
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.data.config import Config
from pipeline.data.errors import DataError
from pipeline.data.io import shared_objects
from pipeline.data.lifecycle import add_stage_dates, required_stage_columns

with warnings.catch_warnings():
    # pandera loads pyspark.pandas if installed (0.25 s, a warning), which no contract needs
    warnings.simplefilter("ignore", FutureWarning)
    hidden = sys.modules.setdefault("pyspark", None) is None  # type: ignore[arg-type]
    import pandera.pandas as pa
if hidden:
    del sys.modules["pyspark"]

OUTCOMES = ("won", "lost", "open")
TRUE_VALUES = {"yes", "true", "1", "y", "t"}
FALSE_VALUES = {"no", "false", "0", "n", "f"}
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One broken rule of the contract, with where it happens."""

    file: str
    column: str
    problem: str
    rows: tuple[int, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        where = f"column '{self.column}'" if self.column else "file"
        if not self.count:
            return f"{self.file}: {where}: {self.problem}"
        examples = ", ".join(str(r) for r in self.rows[:MAX_EXAMPLES])
        plural = "row" if self.count == 1 else "rows"
        more = ", ..." if self.count > len(self.rows[:MAX_EXAMPLES]) else ""
        return f"{self.file}: {where}: {self.problem} ({self.count} {plural}: {examples}{more})"


@dataclass
class ContractReport:
    """All violations found in one validation pass."""

    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was accepted but changed (dropped rows)

    def add(self, file: str, column: str, problem: str, mask: pd.Series | None = None) -> None:
        """Record a violation; ``mask`` marks the offending rows (positional)."""
        if mask is None:
            self.violations.append(Violation(file, column, problem))
            return
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if positions.size:
            rows = tuple(int(p) + 1 for p in positions[:MAX_EXAMPLES])
            self.violations.append(Violation(file, column, problem, rows, int(positions.size)))

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.violations

    def raise_if_failed(self) -> None:
        """Raise a DataError whose message is the first violation (the rest are attached)."""
        if self.violations:
            raise DataError(str(self.violations[0]), details=[str(v) for v in self.violations])


def suggest_column(name: str, available: Iterable[str]) -> str:
    """' (did you mean 'X'?)' for the closest existing column, or ''."""
    available = list(available)
    lowered = {a.casefold(): a for a in available}
    if name.casefold() in lowered:
        return f" (did you mean '{lowered[name.casefold()]}'?)"
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _require_columns(
    report: ContractReport, file: str, frame: pd.DataFrame, wanted: Sequence[tuple[str, str]]
) -> None:
    for column, role in wanted:
        if column not in frame.columns:
            hint = suggest_column(column, frame.columns)
            report.add(file, column, f"missing ({role}){hint}")


def _parse_dates(
    report: ContractReport, file: str, raw: pd.Series, column: str, required: bool
) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    else:
        text = raw.astype("string").str.strip()
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        report.add(file, column, "unparseable date", parsed.isna() & text.notna() & (text != ""))
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    parsed = parsed.astype("datetime64[ns]")
    if required:
        report.add(file, column, "missing date", raw.isna())
    return parsed


def parse_dates(raw: pd.Series) -> pd.Series:
    """Dates read as the contract reads them (tz-naive UTC); unparseable ones become NaT."""
    return _parse_dates(ContractReport(), "", raw, "", False)


def _parse_numeric(report: ContractReport, file: str, raw: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("float64")
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype("float64")
    else:
        text = raw.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = values.isna() & text.notna() & (text != "") & ~text.str.casefold().isin(["nan", "na"])
        report.add(file, column, "not a number", bad)
    report.add(file, column, "infinite value", np.isinf(values.to_numpy(dtype="float64")))
    return values


def _parse_boolean(report: ContractReport, file: str, raw: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
        values = raw.astype("float64")
        report.add(file, column, "expected Yes/No or 0/1", values.notna() & ~values.isin([0, 1]))
        return values
    text = raw.astype("string").str.strip().str.casefold()
    out = pd.Series(np.nan, index=raw.index, dtype="float64")
    out[text.isin(TRUE_VALUES).fillna(False).to_numpy(dtype=bool)] = 1.0
    out[text.isin(FALSE_VALUES).fillna(False).to_numpy(dtype=bool)] = 0.0
    report.add(file, column, "expected Yes/No", text.notna() & out.isna())
    return out


def _mask_from_failures(failures: pd.DataFrame, column: str, check: str, n: int) -> np.ndarray:
    hit = failures[(failures["column"] == column) & (failures["check"] == check)]
    mask = np.zeros(n, dtype=bool)
    index = pd.to_numeric(hit["index"], errors="coerce").dropna().astype(int).to_numpy()
    mask[index[(index >= 0) & (index < n)]] = True
    return mask


_LEAD_SCHEMA_MESSAGES = {
    ("lead_id", "not_nullable"): "empty lead id",
    ("lead_id", "field_uniqueness"): "duplicate lead id",
    ("created_at", "not_nullable"): None,  # reported by the date parser with a better message
    ("outcome", "not_nullable"): "missing outcome",
}


def _lead_schema(events: bool, absent: set[str] = frozenset()) -> pa.DataFrameSchema:
    columns = {
        "lead_id": pa.Column(str, nullable=False, unique=True, coerce=True),
        "outcome": pa.Column(str, nullable=False),
        "outcome_at": pa.Column("datetime64[ns]", nullable=True),
    }
    if events:
        columns["created_at"] = pa.Column("datetime64[ns]", nullable=False)
    return pa.DataFrameSchema({k: v for k, v in columns.items() if k not in absent})


def _run_schema(
    report: ContractReport, file: str, frame: pd.DataFrame, schema: pa.DataFrameSchema,
    names: dict[str, str | None],
) -> None:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
        for (column, check), _ in failures.groupby(["column", "check"], sort=False):
            message = _LEAD_SCHEMA_MESSAGES.get((column, check), f"fails check {check}")
            if message is None:
                continue
            mask = _mask_from_failures(failures, column, check, len(frame))
            if check == "field_uniqueness":
                # empty ids are reported as empty, not as duplicates of each other
                mask &= frame[column].notna().to_numpy()
            # messages name the export's own column ('Prospect ID'), not the role
            report.add(file, names.get(str(column)) or str(column), message, mask)


def canonical_leads(
    raw: pd.DataFrame, config: Config, file: str, report: ContractReport, scoring: bool = False
) -> pd.DataFrame:
    """Map a raw leads export onto the canonical lead frame, recording every violation.

    Parameters
    ----------
    raw
        The export as read (strings for CSV, typed for Parquet), with a default RangeIndex.
    config
        Run configuration (column roles, outcome values, declared feature columns).
    file
        The file name used in messages.
    report
        Collects violations.
    scoring
        At scoring time outcome and stage columns are optional (new leads have none) and leads
        created after ``dataset.snapshot`` are accepted (the snapshot bounds training only).
    """
    ds = config.dataset
    fs = config.features
    cols = ds.columns
    raw = raw.reset_index(drop=True)
    if raw.empty:
        report.add(file, "", "no rows (header only)")
        return raw
    wanted: list[tuple[str, str]] = [(cols.lead_id, "lead id")] if cols.lead_id else []
    events = ds.mode == "events"
    if events and cols.created_at:
        wanted.append((cols.created_at, "creation date"))
    if not scoring:
        if cols.target:
            wanted.append((cols.target, "0/1 target"))
        elif cols.outcome:
            wanted.append((cols.outcome, "outcome"))
    for role, names in (
        ("categorical", fs.categorical),
        ("numeric", fs.numeric),
        ("boolean", fs.boolean),
        ("engagement", fs.engagement),
        ("negative signal", fs.negative),
    ):
        wanted.extend((n, f"declared {role} column") for n in names)
    wanted += [(n, r) for n, r in ((fs.title_column, "job title"), (fs.email_column, "email"))
               if n and events]
    if ds.segment:
        wanted.append((ds.segment, "segment"))
    order_by = config.split.order_by if not events else None
    if order_by and not scoring:
        wanted.append((order_by, "split.order_by"))
    wanted += [] if scoring else required_stage_columns(ds)  # new leads have reached no stage
    _require_columns(report, file, raw, list(dict.fromkeys(wanted)))
    # Carry on without the missing columns: one pass reports every problem of the file.
    out = pd.DataFrame(index=raw.index)
    if cols.lead_id and cols.lead_id in raw.columns:
        ids = raw[cols.lead_id].astype("string").str.strip()
        out["lead_id"] = ids.astype(object)
        out.loc[(ids.isna() | (ids == "")).to_numpy(dtype=bool), "lead_id"] = None
    else:  # lead_id: null -> the data row number, as every message counts rows
        out["lead_id"] = (raw.index + 1).astype(str).astype(object)
    if events:
        out["created_at"] = (
            _parse_dates(report, file, raw[cols.created_at], cols.created_at, True)
            if cols.created_at in raw.columns else pd.Series(pd.NaT, index=raw.index,
                                                             dtype="datetime64[ns]"))
    out["outcome"], out["outcome_at"] = _outcome(raw, config, file, report, scoring)
    if order_by and order_by in raw.columns:
        out["order_key"] = _order_key(report, file, raw[order_by], order_by)
    if events and out["outcome_at"].notna().any():
        before = out["outcome_at"] < out["created_at"]
        report.add(file, cols.outcome_at or "outcome_at", "outcome_at before created_at", before)

    add_stage_dates(out, raw, ds, lambda c: _parse_dates(report, file, raw[c], c, False))
    role_columns = {cols.lead_id, cols.created_at, cols.outcome, cols.outcome_at, cols.target,
                    order_by, *ds.stages.values()}
    # Counts and company sizes cannot be negative; a declared numeric column may (a delta).
    never_negative = {*fs.engagement, fs.size_column, fs.revenue_column} - {None}
    for name in raw.columns:
        if name in role_columns:
            continue
        if name in fs.numeric or name in fs.engagement or name in never_negative:
            out[name] = _parse_numeric(report, file, raw[name], name)
        elif name in fs.boolean or name in fs.negative and not _holds_numbers(raw[name]):
            out[name] = _parse_boolean(report, file, raw[name], name)
        elif name in fs.negative:
            out[name] = _parse_numeric(report, file, raw[name], name)
            never_negative.add(name)
        else:
            out[name] = raw[name]
        if name in (fs.size_column, fs.revenue_column) and _is_numeric_like(raw[name]) \
                and name not in fs.numeric:
            # checked, but kept as typed: the served model's signature is the input's own types
            out[name] = raw[name]
        if name in never_negative:
            what = "negative count" if name in fs.engagement or name in fs.negative else \
                "negative value (a company size or revenue)"
            report.add(file, name, what, out[name].to_numpy(dtype="float64", na_value=np.nan) < 0)
    if events and ds.snapshot is not None and not scoring:
        # the snapshot bounds the training export; new leads after it are what scoring is for
        future = out["created_at"] > pd.Timestamp(ds.snapshot)
        report.add(file, cols.created_at or "created_at", "created after the snapshot date", future)
    names = {"lead_id": cols.lead_id, "created_at": cols.created_at,
             "outcome": cols.target or cols.outcome, "outcome_at": cols.outcome_at}
    # a role whose column is missing is reported once as missing, not again row by row
    absent = {role for role, name in names.items() if name and name not in raw.columns}
    if not cols.lead_id:
        absent.add("lead_id")
    if scoring or not (cols.target or cols.outcome):
        absent.add("outcome")
    _run_schema(report, file, out, _lead_schema(events, absent), names)
    return out


def _order_key(report: ContractReport, file: str, raw: pd.Series, column: str) -> pd.Series:
    """split.order_by as a sortable number: a date (ns since the epoch) or a plain number."""
    text = raw.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().sum() >= text.notna().sum() * 0.99:
        key = numbers.astype("float64")
    else:
        dates = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        key = pd.Series(dates.dt.tz_localize(None).astype("int64").astype("float64"),
                        index=raw.index).where(dates.notna())
    report.add(file, column, "split.order_by: neither a date nor a number", key.isna())
    return key


def _holds_numbers(raw: pd.Series) -> bool:
    """Numbers, typed or as text (a CSV's counts), rather than yes/no words."""
    if _is_numeric_like(raw):
        return True
    text = raw.astype("string").str.strip().replace("", pd.NA).dropna()
    return bool(len(text)) and pd.to_numeric(text, errors="coerce").notna().all() \
        and not text.str.casefold().isin(["0", "1"]).all()


def _is_numeric_like(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)


def _outcome(
    raw: pd.DataFrame, config: Config, file: str, report: ContractReport, scoring: bool
) -> tuple[pd.Series, pd.Series]:
    ds = config.dataset
    cols = ds.columns
    nat = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if cols.target and cols.target in raw.columns:
        target = _target(report, file, raw[cols.target], cols.target, scoring)
        outcome = pd.Series(np.where(target == 1.0, "won", "lost"), index=raw.index, dtype=object)
        return outcome, nat
    if not cols.outcome or cols.outcome not in raw.columns:
        return pd.Series("open" if scoring else None, index=raw.index, dtype=object), nat
    text = raw[cols.outcome].astype("string").str.strip().str.casefold()
    outcome = pd.Series(None, index=raw.index, dtype=object)
    for canonical, spellings in ds.outcome_values.items():
        hit = text.isin([s.casefold() for s in spellings]).fillna(False).to_numpy(dtype=bool)
        outcome[hit] = canonical
    known = ", ".join(s for values in ds.outcome_values.values() for s in values)
    unknown = outcome.isna() & text.notna()
    if unknown.any():
        found = _value_counts(raw[cols.outcome].astype("string").str.strip()[unknown.to_numpy()])
        report.add(file, cols.outcome, f"unknown outcome value(s) {found} (map them in "
                   f"dataset.outcome_values; known: {known})", unknown)
    outcome_at = nat
    if cols.outcome_at and cols.outcome_at in raw.columns:
        outcome_at = _parse_dates(report, file, raw[cols.outcome_at], cols.outcome_at, False)
        decided = outcome.isin(["won", "lost"])
        if ds.missing_outcome_at == "error":
            report.add(file, cols.outcome_at, "won/lost lead without a close date (set "
                       "dataset.missing_outcome_at: drop or horizon to accept them)",
                       decided & outcome_at.isna() & raw[cols.outcome_at].isna())
    return outcome, outcome_at


def _target(report: ContractReport, file: str, raw: pd.Series, column: str,
            scoring: bool) -> pd.Series:
    """A 0/1 target, also written yes/no or true/false; anything else is refused with a hint."""
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
        target = raw.astype("float64")
    else:
        text = raw.astype("string").str.strip().str.casefold()
        target = pd.to_numeric(text, errors="coerce").astype("float64")
        target[text.isin(TRUE_VALUES).fillna(False).to_numpy(dtype=bool)] = 1.0
        target[text.isin(FALSE_VALUES).fillna(False).to_numpy(dtype=bool)] = 0.0
    bad = ~target.isin([0.0, 1.0])
    if scoring:
        return target
    if bad.any():
        values = raw[bad.to_numpy()].astype("string").dropna().unique()[:3]
        shown = ", ".join(repr(str(v)) for v in values) or "empty"
        report.add(file, column, f"target must be 0/1, yes/no or true/false, not {shown} (for "
                   "other values set columns.outcome and dataset.outcome_values)", bad)
    return target


def canonical_activities(
    raw: pd.DataFrame,
    leads: pd.DataFrame,
    config: Config,
    file: str,
    report: ContractReport,
    now: pd.Timestamp | None = None,
    scoring: bool = False,
) -> pd.DataFrame:
    """Map a raw activity log onto the canonical activity frame, recording every violation.

    Events must belong to a known lead, carry a parseable ``occurred_at`` that is neither before
    the lead's creation nor after ``now`` (default: the snapshot date, or the wall clock; at
    ``scoring`` always the wall clock, since the snapshot bounds training only), and a known,
    non-empty ``activity_type``.
    """
    ac = config.dataset.activity_columns
    raw = raw.reset_index(drop=True)
    _require_columns(report, file, raw, [(ac.lead_id, "lead id"), (ac.occurred_at, "event time"),
                                         (ac.activity_type, "activity type")])
    if not report.ok:
        return raw
    out = pd.DataFrame(index=raw.index)
    out["lead_id"] = shared_objects(raw[ac.lead_id].astype("string").str.strip())
    out["occurred_at"] = _parse_dates(report, file, raw[ac.occurred_at], ac.occurred_at, True)
    types = raw[ac.activity_type].astype("string").str.strip()
    report.add(file, ac.activity_type, "empty activity type", types.isna() | (types == ""))
    out["activity_type"] = _map_activity_types(report, file, types, config, ac.activity_type)
    for role, name in (("detail", ac.detail), ("channel", ac.channel)):
        out[role] = shared_objects(raw[name]) if name and name in raw.columns else None
    if ac.quantity:
        if ac.quantity in raw.columns:
            quantity = _parse_numeric(report, file, raw[ac.quantity], ac.quantity)
            report.add(file, ac.quantity, "negative quantity", quantity < 0)
            out["quantity"] = quantity.fillna(1.0)
        else:
            report.add(file, ac.quantity, "missing (activity_columns.quantity)"
                       + suggest_column(ac.quantity, raw.columns))

    if "lead_id" in leads.columns and leads["lead_id"].notna().all():
        created = leads.set_index("lead_id")["created_at"] if "created_at" in leads else None
        known = out["lead_id"].isin(leads["lead_id"])
        report.add(file, ac.lead_id, "lead id not in the leads file", ~known)
        if created is not None and not created.index.has_duplicates:
            lead_created = out["lead_id"].map(created)
            early = known & (out["occurred_at"] < lead_created)
            report.add(file, ac.occurred_at, "event before the lead was created", early)
    horizon = now if now is not None else _now(config, scoring)
    report.add(file, ac.occurred_at, f"event in the future (after {horizon:%Y-%m-%d %H:%M})",
               out["occurred_at"] > horizon)
    if config.dataset.unknown_activity == "drop":
        dropped = (out["activity_type"].isna() & types.notna() & (types != "")).to_numpy()
        if dropped.any():
            report.notes.append(
                f"{file}: {int(dropped.sum()):,} events of unmapped types left out "
                f"(dataset.unknown_activity: drop): {_value_counts(types[dropped])}")
            out = out[~dropped]
    return out


def _value_counts(values: pd.Series, limit: int = 12, known: Sequence[str] = ()) -> str:
    """``'Meeting' (120), 'touch_call' (40), ...``: every distinct value, most frequent first,
    with the closest known value where one is close."""
    counts = values.value_counts(dropna=True)

    def _close(value: str) -> str:
        near = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
        return f", close to '{near[0]}'" if near else ""

    shown = ", ".join(f"'{v}' ({n:,}{_close(str(v))})" for v, n in counts.head(limit).items())
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def _map_activity_types(report: ContractReport, file: str, types: pd.Series, config: Config,
                        column: str) -> pd.Series:
    """The export's activity values as canonical types (``dataset.activity_types``).

    Unknown values are all listed with their counts (``unknown_activity: error``), become
    ``other``, or are left out (``drop``: None here, removed by the caller).
    """
    mapping = config.dataset.activity_mapping()
    if mapping is None:
        return types.astype(object)
    uniques = types.dropna().unique()
    lookup = {value: mapping.canonical(str(value)) for value in uniques}
    mapped = types.map(lookup).astype(object)
    unknown = types.notna() & (types != "") & mapped.isna()
    if unknown.any():
        policy = mapping.unknown
        if policy == "error":
            listed = _value_counts(types[unknown.to_numpy()], known=sorted(mapping.exact))
            report.add(file, column, f"activity types not covered by dataset.activity_types: "
                       f"{listed} (map them, or set "
                       "dataset.unknown_activity: other or drop)", unknown)
        elif policy == "other":
            mapped[unknown.to_numpy()] = "other"
    return mapped.where(mapped.notna(), None)


def _now(config: Config, scoring: bool = False) -> pd.Timestamp:
    if config.dataset.snapshot is not None and not scoring:
        return pd.Timestamp(config.dataset.snapshot)
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
