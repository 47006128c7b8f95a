"""The ``dataset:`` section of the schema: files, column roles, outcomes and activity types.

Split from :mod:`pipeline.data.schema` (which embeds :class:`DatasetConfig`) because the dataset
section alone is a third of the schema; the rest of the project imports both from
:mod:`pipeline.data.config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

REGEX_PREFIX = "re:"
#: Lifecycle stages in funnel order (``dataset.stages`` keys).
STAGES = ("mql", "sql", "opportunity", "won")
#: ``dataset.account`` value that keys accounts by the email's domain instead of a lead column.
ACCOUNT_FROM_EMAIL = "email_domain"

def as_text(value: Any) -> Any:
    """A YAML scalar as the text it stands for (``true`` -> ``'true'``, ``1`` -> ``'1'``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


@dataclass(frozen=True)
class ActivityMapping:
    """Export activity values -> canonical types (exact values casefolded, then patterns)."""

    exact: dict[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]
    unknown: str

    def canonical(self, value: str) -> str | None:
        """The canonical type of one export value, or None when nothing covers it."""
        hit = self.exact.get(value.strip().casefold())
        if hit is not None:
            return hit
        for pattern, canonical in self.patterns:
            if pattern.fullmatch(value.strip()):
                return canonical
        return None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadColumns(_Frozen):
    """Where each contract role lives in the leads export (export column names)."""

    lead_id: str | None = Field(
        "lead_id", description="unique lead id; null: the data row number (1 = first data row)")
    created_at: str | None = Field("created_at", description="when the lead was created")
    outcome: str | None = Field(
        "outcome", description="won / lost / open status, mapped by dataset.outcome_values")
    outcome_at: str | None = Field(
        "outcome_at", description="when the lead was won or lost (close date)")
    target: str | None = Field(
        None, description="flat mode: a 0/1 (or yes/no, true/false) converted column")


class ActivityColumns(_Frozen):
    """Where each contract role lives in the activity export."""

    lead_id: str = Field(
        "lead_id", description="activity log column holding the lead id; every event must match "
        "a lead of the leads file")
    occurred_at: str = Field(
        "occurred_at", description="activity log column holding the event time; events before "
        "the lead's creation are refused, and so are events after the snapshot (or now) in "
        "training and after now at scoring")
    activity_type: str = Field(
        "activity_type", description="activity log column holding the event type (mapped by "
        "`dataset.activity_types`); empty types are refused")
    detail: str | None = Field("detail", description="page URL, campaign or subject")
    channel: str | None = Field(
        "channel", description="activity log column holding the channel: kept in the canonical "
        "log and the REST payload, but no feature reads it")
    quantity: str | None = Field(
        None, description="count or weight of the event (page views in a session); "
        "an event counts this many times, empty means 1")


class AsOfRule(_Frozen):
    """When a training lead is looked at: the moments its features are frozen.

    ``grid`` (the default): one training row per age in ``grid_days`` while the lead is still
    undecided, each labelled by its own horizon, with the lead's age as a feature; scoring then
    asks the model about a lead at its real age, any age. ``days_after_created``: one row per
    lead at ``created_at + days``. ``snapshot``: one fixed ``date`` for every lead.
    ``points_threshold``: the first moment the lead's rule points reach ``points`` (leads that
    never reach it use ``created_at + days``).
    """

    rule: Literal["grid", "days_after_created", "snapshot", "points_threshold"] = Field(
        "grid", description="how a training lead's as_of is set (events mode): `grid` one row "
        "per age in grid_days; `days_after_created` one row at `days`; `snapshot` one `date`; "
        "`points_threshold` is not wired into training yet: it raises. `{days: N}` alone means "
        "days_after_created")
    days: float = Field(14.0, ge=0, description="days after creation (0: at first contact); "
                        "days_after_created and points_threshold only")
    grid_days: list[float] = Field(
        [0, 3, 7, 14, 30, 60, 90, 120, 180], min_length=1,
        description="lead ages (days after creation) of the training rows, rule grid only")
    weights: Literal["per_lead", "per_row"] = Field(
        "per_lead", description="grid only: per_lead weighs each of a lead's rows 1/(its rows) "
        "in the fit, so long-lived leads do not dominate; per_row weighs every row 1")
    date: datetime | None = None
    points: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _days_alone_means_one_age(cls, data: Any) -> Any:
        # `{days: 14}` was the whole rule before the grid: keep its meaning, never reinterpret it
        if isinstance(data, dict) and "rule" not in data and "days" in data:
            return {**data, "rule": "days_after_created"}
        return data

    @model_validator(mode="after")
    def _check_rule_inputs(self) -> AsOfRule:
        if self.rule == "snapshot" and self.date is None:
            raise ValueError("rule 'snapshot' needs a 'date'")
        if self.rule == "points_threshold" and self.points is None:
            raise ValueError("rule 'points_threshold' needs 'points'")
        given = self.model_fields_set
        if self.rule == "grid" and "days" in given:
            raise ValueError("rule 'grid' takes grid_days, not days: write grid_days: [0, 14, "
                             "30] or rule: days_after_created with days")
        if self.rule != "grid" and "grid_days" in given:
            raise ValueError(f"grid_days needs rule: grid (rule is {self.rule!r})")
        if any(d < 0 for d in self.grid_days) or len(set(self.grid_days)) != len(self.grid_days):
            raise ValueError(f"grid_days must be distinct ages >= 0, got {self.grid_days}")
        return self

    @property
    def ages(self) -> tuple[float, ...]:
        """The training rows' ages in days, youngest first (one age unless the rule is grid)."""
        return tuple(sorted(self.grid_days)) if self.rule == "grid" else (self.days,)


class ReadOptions(_Frozen):
    """How to parse a CSV export."""

    delimiter: str = Field(
        ",", description="field separator of CSV exports (leads and activities, training and "
        "scoring); Parquet files ignore it")
    encoding: str = Field(
        "utf-8", description="text encoding of CSV exports, e.g. latin-1 (leads and activities, "
        "training and scoring); Parquet files ignore it")


class AccountRollup(_Frozen):
    """How ``score --by account`` rolls leads up into accounts (``dataset.account`` set)."""

    engaged_level: int = Field(
        2, ge=1, le=4, description="a lead counts as an engaged contact of its account when its "
        "engagement level is this or better (1 is the most engaged of 1-4)")
    senior: list[Literal["c-level", "vp", "director", "manager"]] = Field(
        ["c-level", "vp", "director"], description="title seniorities (parsed from "
        "`features.title_column`) that count as senior contacts of the buying committee")
    top_leads: int = Field(3, ge=1, description="best leads of an account listed (ids, best "
                           "first)")
    top_factors: int = Field(3, ge=1, description="factors listed per account, by the size of "
                             "their score points summed over the account's leads")


class DatasetConfig(_Frozen):
    """The dataset: files, column roles, and what must never become a feature."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_\-]+$", description="dataset id: outputs go to "
        "`<artifacts_dir>/<name>`; MLflow experiment and model names default to "
        "`leadscore-<name>`")
    mode: Literal["events", "flat"] = Field(
        "events", description="events: leads + timestamped activity log, labelled by as_of and "
        "horizon_days; flat: one row per lead (set `features.mode` to match)")
    leads: Path = Field(
        description="leads export (CSV, or Parquet by its .parquet/.pq suffix), relative to the "
        "working directory; `leadscore synth` writes into its folder")
    activities: Path | None = Field(
        None, description="activity log (CSV or Parquet), read in events mode for training and "
        "validation; `leadscore score` takes `--activities` instead")
    truth: Path | None = Field(
        None, description="synthetic worlds only: Parquet of true `p_convert` per lead_id, "
        "evaluated as the `oracle` probabilities; null or a missing file: skipped")
    columns: LeadColumns = LeadColumns()
    activity_columns: ActivityColumns = ActivityColumns()
    outcome_values: dict[Literal["won", "lost", "open"], list[str]] = Field(
        {
            "won": ["won"],
            "lost": ["lost"],
            "open": ["open"],
        },
        description="export values (case-insensitive) that mean won, lost and open in "
        "`columns.outcome`; any other value is a contract violation")
    pii: list[str] = Field(
        ["name", "email", "phone"], description="personal-data columns: dropped from the input "
        "example logged to MLflow (email keeps only its domain) and skipped by the leakage audit")
    leaky: dict[str, str] = Field(
        {}, description="column -> why it is only known after contact: the leakage audit flags "
        "it and drops it from the declared features unless `keep` keeps it")
    keep: dict[str, str] = Field(
        {}, description="column -> why it is known before contact: a column the leakage audit "
        "flags (or `leaky` lists) stays a declared feature anyway, with a note in the run's "
        "outputs; the why is required")
    # Replaced by `keep` (a why per column): refused with the hint, never read. exclude=True
    # keeps it out of the effective config and docs/CONFIG.md.
    keep_leaky: Any = Field(None, exclude=True)
    ignore: list[str] = Field(
        [], description="lead columns the leakage audit skips; nothing else reads it (only "
        "columns declared under `features` ever become features)")
    activity_types: list[str] | dict[str, list[str]] = Field(
        [], description="allowed activity types (a list), or canonical type -> the export's "
        "own values; a value 're:PATTERN' is a case-insensitive regular expression")
    unknown_activity: Literal["error", "other", "drop"] = Field(
        "error", description="activity types activity_types does not cover: error lists them; "
        "other counts them as type 'other'; drop leaves them out (counted)")
    missing_outcome_at: Literal["error", "drop", "horizon"] = Field(
        "error", description="won/lost leads without a close date: error; drop them (counted); "
        "horizon: taken as decided at the end of their horizon")
    segment: str | None = Field(
        None, description="categorical feature (also in `features.categorical`) whose values "
        "each get a refined model where it beats the global one on validation")
    account: str | None = Field(
        None, description="lead column holding the account (company) key of `score --by "
        "account` and the account evaluation, e.g. `company`; `email_domain` derives it from "
        "`features.email_column` (free-mail domains: each such lead its own account); "
        "case and spaces are normalised; null: off. An identifier, never a feature")
    accounts: AccountRollup = AccountRollup()
    as_of: AsOfRule = AsOfRule()
    horizon_days: int = Field(
        180, gt=0, description="a lead counts as converted when won within this many days after "
        "its as_of; leads whose horizon ends after the snapshot are left out")
    snapshot: datetime | None = Field(
        None, description="when the training export was taken: later leads and events are "
        "refused in training (scoring is not bounded by it), horizons must end by it; null: the "
        "export's latest date (now for event checks)")
    read: ReadOptions = ReadOptions()
    stages: dict[str, str] = Field(
        {}, description="lifecycle stage -> the leads export's date column: `mql`, `sql` "
        "(SQL/SAL), `opportunity`, `won`, for the lifecycle funnel; parsed like created_at, "
        "never a feature nor an audit candidate; `won` left out: the close date of won leads")

    @field_validator("stages", mode="before")
    @classmethod
    def _known_stages(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        unknown = [str(k) for k in value if k not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r} (stages, in funnel order: "
                             f"{', '.join(STAGES)})")
        empty = [str(k) for k, v in value.items() if not isinstance(v, str) or not v.strip()]
        if empty:
            raise ValueError(f"stage {empty[0]!r} needs the export's date column name")
        return value

    @field_validator("outcome_values", mode="before")
    @classmethod
    def _outcome_values_as_text(cls, value: Any) -> Any:
        """``won: [1]``, ``won: true`` and ``won: yes`` all mean the text the user wrote."""
        if not isinstance(value, dict):
            return value
        return {k: [as_text(v) for v in (vs if isinstance(vs, list) else [vs])]
                for k, vs in value.items()}

    @field_validator("activity_types", mode="before")
    @classmethod
    def _activity_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): [as_text(v) for v in (vs if isinstance(vs, list) else [vs])]
                    for k, vs in value.items()}
        if isinstance(value, list):
            return [as_text(v) for v in value]
        return value

    @field_validator("activity_types")
    @classmethod
    def _patterns_compile(cls, value: list[str] | dict[str, list[str]]) -> Any:
        sources = value.values() if isinstance(value, dict) else [value]
        for values in sources:
            for text in values:
                if text.startswith(REGEX_PREFIX):
                    try:
                        re.compile(text[len(REGEX_PREFIX):])
                    except re.error as exc:
                        raise ValueError(f"{text!r} is not a valid regular expression: {exc}")\
                            from None
        return value

    def activity_mapping(self) -> ActivityMapping | None:
        """How the export's activity types become canonical ones (None: taken as they are)."""
        if not self.activity_types:
            return None
        if isinstance(self.activity_types, list):
            table = {t: [t] for t in self.activity_types}
        else:
            table = {k: [k, *v] for k, v in self.activity_types.items()}
        exact: dict[str, str] = {}
        patterns: list[tuple[re.Pattern[str], str]] = []
        for canonical, values in table.items():
            for text in values:
                if text.startswith(REGEX_PREFIX):
                    patterns.append((re.compile(text[len(REGEX_PREFIX):], re.IGNORECASE),
                                     canonical))
                else:
                    exact.setdefault(text.strip().casefold(), canonical)
        return ActivityMapping(exact, tuple(patterns), self.unknown_activity)

    @field_validator("keep_leaky")
    @classmethod
    def _keep_leaky_replaced(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("replaced by a mapping with a why per column: use dataset.keep: "
                             "{column: why}")
        return value

    @field_validator("keep", mode="before")
    @classmethod
    def _keep_says_why(cls, value: Any) -> Any:
        if isinstance(value, list):
            raise ValueError("a mapping of column -> why it is known before contact: "
                             "dataset.keep: {column: why}")
        if not isinstance(value, dict):
            return value
        unexplained = [column for column, why in value.items() if not str(why or "").strip()]
        if unexplained:
            raise ValueError(f"say why each kept column is known before contact: {unexplained} "
                             "(dataset.keep: {column: why})")
        return value

    @model_validator(mode="after")
    def _check_mode(self) -> DatasetConfig:
        if self.mode == "flat" and self.columns.target is None and self.columns.outcome is None:
            raise ValueError("flat mode needs columns.target (a 0/1 column) or columns.outcome")
        if self.mode == "events" and self.columns.created_at is None:
            raise ValueError("events mode needs columns.created_at")
        if self.columns.lead_id is None and self.activities is not None:
            raise ValueError("columns.lead_id: null (row numbers) cannot join an activity log; "
                             "name the id column both files share")
        return self

    @property
    def excluded_leaky(self) -> list[str]:
        """Leaky columns that stay out of the features."""
        return [c for c in self.leaky if c not in self.keep]

class SynthConfig(_Frozen):
    """Size of the synthetic world ``leadscore synth --config`` generates."""

    leads: int = Field(
        40_000, ge=100, description="number of leads `leadscore synth --config` generates "
        "(`--leads` wins)")
    base_rate: float = Field(
        0.08, gt=0, lt=0.5, description="mean true conversion probability of the synthetic leads "
        "(the won share comes out a little lower: late deals are still open)")
    signal: float = Field(
        1.0, gt=0, le=1, description="strength of the true odds' dependence on the observables: "
        "1 is the demo world (oracle ROC-AUC about 0.87), 0.17 a weak one (about 0.60)")
    stages: bool = Field(
        False, description="also write lifecycle stage dates (`mql_date`, `sql_date`, "
        "`opportunity_date`) into the synthetic leads, for `dataset.stages` and the funnel "
        "(`--stages` wins); the other columns are the same either way")
    companies: int = Field(
        30_000, ge=100, le=30_000, description="size of the company pool the leads come from: "
        "30000 is the demo world (pipeline/synth N_COMPANIES); fewer concentrate the leads on "
        "fewer accounts of several leads each (the account evaluation, `dataset.account`)")
