"""Lifecycle stage dates: the export's MQL, SQL, opportunity and won dates as canonical columns.

``dataset.stages`` maps a canonical stage to the leads export's date column. The contract parses
each one as it parses ``created_at`` (any offset converted to UTC, then tz-naive) into the
canonical column ``<stage>_at`` (``mql_at``, ``sql_at``, ``opportunity_at``, ``won_at``); the
export's own column does not travel on. The stage dates are written by sales and marketing after
contact, so they are never features and never candidates of the leakage audit: they only feed the
lifecycle funnel (:mod:`pipeline.evaluation.funnel`).

``won`` may be left out: it is then the close date (``outcome_at``) of won leads, unless the close
date column is already another stage's (Salesforce's ``ConvertedDate`` is the lead's step to an
opportunity, and the opportunity's own close is not in the Lead export): then there is no won step.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from pipeline.data.dataset_schema import STAGES, DatasetConfig

#: Canonical column of each stage's date in the canonical leads.
STAGE_COLUMNS = {stage: f"{stage}_at" for stage in STAGES}


def funnel_stages(ds: DatasetConfig) -> dict[str, str]:
    """Stage -> canonical column of the stages the canonical leads carry, in funnel order."""
    if not ds.stages:
        return {}
    present = set(ds.stages) | ({"won"} if _won_from_outcome(ds) else set())
    return {stage: STAGE_COLUMNS[stage] for stage in STAGES if stage in present}


def _won_from_outcome(ds: DatasetConfig) -> bool:
    """Whether ``won_at`` is the close date of won leads (no won column named, and the close
    date column not already another stage's)."""
    close = ds.columns.outcome_at
    return "won" not in ds.stages and close is not None and close not in ds.stages.values()


def required_stage_columns(ds: DatasetConfig) -> list[tuple[str, str]]:
    """(export column, role) of every configured stage, for the contract's missing-column check."""
    return [(column, f"dataset.stages.{stage}") for stage, column in ds.stages.items()]


def add_stage_dates(out: pd.DataFrame, raw: pd.DataFrame, ds: DatasetConfig,
                    parse: Callable[[str], pd.Series]) -> None:
    """Write the canonical stage columns of :func:`funnel_stages` into ``out`` (in place).

    ``parse(column)`` reads one export column as a date, recording unparseable values. A stage
    column that is also the creation or close date is taken from the already parsed role
    column, so a bad value is reported once. A missing column (already reported by the
    contract, or optional at scoring) gives an empty stage.
    """
    if not ds.stages:
        return
    roles = {ds.columns.created_at: "created_at", ds.columns.outcome_at: "outcome_at"}
    for stage, column in ds.stages.items():
        role = roles.get(column)
        if role is not None and role in out:
            dates = out[role]
        elif column in raw.columns:
            dates = parse(column)
        else:
            dates = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
        out[STAGE_COLUMNS[stage]] = dates.to_numpy()
    if _won_from_outcome(ds):
        out[STAGE_COLUMNS["won"]] = out["outcome_at"].where(out["outcome"] == "won")
    for column in STAGE_COLUMNS.values():
        if column in out:
            out[column] = out[column].astype("datetime64[ns]")
