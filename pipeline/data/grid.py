"""Training at every age: one row per lead and as_of on a grid of lead ages (``as_of.rule: grid``).

A model trained at one age (14 days after creation) answers one question, and scoring asks it
about leads of every age: a lead of 3 days or of 120 days gets a number from the wrong
distribution. Here each lead contributes a row at every age in ``grid_days`` at which it is still
undecided, labelled won within the horizon after that row's own as_of, and the lead's age is a
feature (``lead_age_days``), so the score means the same at any age.

Splits stay time-ordered and keep a lead's rows together. The periods are cut on the rows'
as_of exactly as a one-row-per-lead split is (:func:`~pipeline.data.dataset.split_leads`, with
its purge gaps); then a lead with a row in the test period is a test lead, and its rows from
before that period are left out (``before_test_period``): they are neither new nor allowed into
training, where the same lead's later outcome would be learned. A lead with a row in the
validation period (and none in test) is a validation lead with all its rows. Every other lead
trains. Weights of ``1 / rows of the lead`` keep leads that stay open for months from weighing
nine times a lead decided in a week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.data.config import AsOfRule, SplitConfig
from pipeline.data.dataset import (
    PURGED,
    TrainingSet,
    _purge_note,
    _undated_outcomes,
    data_snapshot,
    label_leads,
    row_key,
    split_leads,
)
from pipeline.data.errors import DataError

BEFORE_TEST = "before_test_period"


def grid_rows(leads: pd.DataFrame, rule: AsOfRule, horizon_days: int, snapshot: pd.Timestamp,
              missing_outcome_at: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int],
                                                list[str]]:
    """Eligible (lead, age) rows: row key, lead_id, age, as_of, y; leads keyed by row.

    A lead that has no eligible row at all is counted under the reason its youngest row had.
    """
    ids = pd.Index(leads["lead_id"], name="lead_id")
    created = pd.Series(leads["created_at"].to_numpy(), index=ids)
    first = created + pd.Timedelta(days=rule.ages[0])
    leads, notes = _undated_outcomes(leads, first, horizon_days, missing_outcome_at)
    parts, youngest = [], None
    for age in rule.ages:
        as_of = (created + pd.Timedelta(days=age)).rename("as_of")
        y, status = label_leads(leads, as_of, horizon_days, snapshot)
        if missing_outcome_at == "drop":
            status[leads["outcome_at_missing"].to_numpy()] = "missing_outcome_at"
        youngest = status if youngest is None else youngest
        keep = status.to_numpy() == "eligible"
        parts.append(pd.DataFrame({"lead_id": ids[keep], "age": float(age),
                                   "as_of": as_of.to_numpy()[keep], "y": y.to_numpy()[keep]}))
    rows = pd.concat(parts, ignore_index=True)
    keys = [row_key(i, a) for i, a in zip(rows["lead_id"], rows["age"], strict=True)]
    rows.index = pd.Index(keys, name="row")
    never = ~ids.isin(rows["lead_id"])
    excluded = {str(k): int(v) for k, v in youngest[never].value_counts().sort_index().items()}
    return rows, leads, excluded, notes


def _periods(rows: pd.DataFrame, config: SplitConfig, seed: int, gap: int, valid_gap: int,
             valid_fraction: float) -> pd.Series:
    """Each row's period: the one-row split of :func:`split_leads`, cut on the rows' as_of."""
    cut = config.model_copy(update={"valid_fraction": valid_fraction})
    return split_leads(rows["as_of"], rows["y"], cut, seed, gap, valid_gap)


def _assign(rows: pd.DataFrame, period: pd.Series) -> pd.Series:
    """Rows' final split from their periods, keeping each lead's rows together."""
    lead = rows["lead_id"]
    in_test = set(lead[period == "test"])
    in_valid = set(lead[period == "valid"]) - in_test
    is_test, is_valid = lead.isin(in_test).to_numpy(), lead.isin(in_valid).to_numpy()
    split = period.copy()
    p = period.to_numpy()
    split[is_test & (p != "test")] = BEFORE_TEST
    split[is_valid & np.isin(p, ["train", "purged_before_valid", "valid"])] = "valid"
    return split


def grid_split(rows: pd.DataFrame, config: SplitConfig, seed: int, gap: int,
               valid_gap: int) -> pd.Series:
    """Time-ordered split of the rows by lead; the validation share is kept near its setting.

    A validation lead brings its older rows along, so cutting the validation period at the
    configured fraction would give validation more rows than asked for; the period is narrowed
    by bisection until the rows in validation match ``valid_fraction`` (within 1 %).
    """
    if config.method != "time":
        per_lead = rows.groupby("lead_id", sort=False)["y"].max()
        lead_split = split_leads(None, per_lead, config, seed)
        return pd.Series(lead_split.reindex(rows["lead_id"]).to_numpy(), index=rows.index,
                         name="split")
    target, low, high = config.valid_fraction, 0.0, config.valid_fraction
    best = _assign(rows, _periods(rows, config, seed, gap, valid_gap, high))
    best_miss = abs(float((best == "valid").mean()) - target)
    for _ in range(12):
        if best_miss <= 0.01:
            break
        middle = (low + high) / 2
        trial = _assign(rows, _periods(rows, config, seed, gap, valid_gap, middle))
        share = float((trial == "valid").mean())
        if abs(share - target) < best_miss:
            best, best_miss = trial, abs(share - target)
        low, high = (low, middle) if share > target else (middle, high)
    return best


def fit_weights(lead_of: pd.Series, split: pd.Series, how: str) -> pd.Series | None:
    """Fit weight of each row: 1/(the lead's rows in its split), mean 1 per split; or None."""
    if how == "per_row":
        return None
    counts = lead_of.groupby([lead_of, split]).transform("size").astype("float64")
    weight = 1.0 / counts
    return (weight / weight.groupby(split).transform("mean")).rename("weight")


def build_grid_training_set(
    leads: pd.DataFrame, activities: pd.DataFrame | None, rule: AsOfRule, horizon_days: int,
    split_config: SplitConfig, seed: int, snapshot: pd.Timestamp | None = None,
    missing_outcome_at: str = "error",
) -> TrainingSet:
    """Eligible rows on the as_of grid with labels, split and weights, and what was left out."""
    snapshot = snapshot if snapshot is not None else data_snapshot(leads, activities)
    rows, leads, excluded, notes = grid_rows(leads, rule, horizon_days, snapshot,
                                             missing_outcome_at)
    if rows.empty:
        why = ", ".join(f"{k}: {v:,}" for k, v in excluded.items())
        raise DataError(f"no lead of {len(leads):,} is eligible for training ({why}); on "
                        f"the as_of grid {list(rule.ages)} with a {horizon_days}-day horizon "
                        f"up to {snapshot:%Y-%m-%d}, leads need more history")
    gap = split_config.purge_days(horizon_days) if split_config.method == "time" else 0
    split = grid_split(rows, split_config, seed, gap, gap if split_config.purge_valid else 0)
    note = _purge_note(split, split_config, gap)
    if note:
        notes.append(note.replace(" leads ", " rows ", 1))
    for reason in (*PURGED, BEFORE_TEST):
        if (split == reason).any():
            excluded[f"rows_{reason}"] = int((split == reason).sum())
    keep = split.isin(["train", "valid", "test"]).to_numpy()
    rows, split = rows[keep], split[keep].rename("split")
    lead_of = rows["lead_id"].astype(str).rename("lead_id")
    by_lead = leads.assign(lead_id=leads["lead_id"].astype(str)).set_index("lead_id", drop=False)
    kept = by_lead.loc[lead_of.to_numpy()].set_axis(rows.index)
    n_leads = lead_of.nunique()
    notes.append(f"as_of grid at ages {', '.join(f'{a:g}' for a in rule.ages)} days: "
                 f"{len(rows):,} training rows from {n_leads:,} leads (as_of.rule: grid, "
                 f"weights: {rule.weights}); a test lead's rows before the test period are "
                 "left out")
    return TrainingSet(kept, rows["as_of"].rename("as_of"), rows["y"].astype("int8").rename("y"),
                       split, excluded, notes, lead_of=lead_of,
                       weight=fit_weights(lead_of, split, rule.weights),
                       age=rows["age"].rename("age"))
