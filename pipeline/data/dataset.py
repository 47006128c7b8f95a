"""Training set construction: each lead's as_of, its label, and the train / valid / test split.

Point-in-time rule: a training lead is looked at as of one moment (``as_of``). Its features only
use events strictly before ``as_of``; its label is whether it was won within ``horizon_days``
after ``as_of``. Leads decided before ``as_of`` (nothing left to predict), not yet at their
``as_of`` on the snapshot date, or whose horizon has not fully elapsed by the snapshot are left out
and counted. The last rule applies to *every* outcome, not only to open leads: keeping recent
leads that happen to be decided already (quick wins, quick losses) while dropping the undecided
ones would over-represent fast deals in the newest leads, which are the test split, and bias its
conversion rate and calibration.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from pipeline.data.config import AsOfRule, SplitConfig
from pipeline.data.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")
# Leads a time split leaves out: their label window overlaps the next split.
PURGED = ("purged_before_test", "purged_before_valid")


class FlatSplitWarning(UserWarning):
    """The export has no timestamps, so the split is random and metrics are optimistic."""


@dataclass
class TrainingSet:
    """Eligible training rows with their as_of, label and split (all indexed by row key).

    With one as_of per lead the row key is the lead_id. On an as_of grid a lead has one row per
    age, keyed ``<lead_id>@<age>d`` (:func:`row_key`); ``lead_of`` maps rows back to leads and
    ``weight`` holds the fit weight of each row (None: every row weighs 1).
    """

    leads: pd.DataFrame
    as_of: pd.Series
    y: pd.Series
    split: pd.Series
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lead_of: pd.Series | None = None
    weight: pd.Series | None = None
    age: pd.Series | None = None

    def __post_init__(self) -> None:
        if self.lead_of is None:
            self.lead_of = pd.Series(self.y.index.astype(str), index=self.y.index,
                                     name="lead_id")

    @property
    def grid(self) -> bool:
        """Whether a lead may have several rows (an as_of grid)."""
        return not self.lead_of.is_unique

    def part(self, name: str) -> pd.Index:
        """Row keys of one split."""
        return self.split.index[self.split.to_numpy() == name]

    def leads_of(self, rows: pd.Index) -> pd.Index:
        """The distinct lead_ids of these rows, in first-seen order."""
        return pd.Index(pd.unique(self.lead_of.loc[rows].to_numpy()), name="lead_id")

    def summary(self) -> dict[str, object]:
        """Counts per split, positives and exclusions (for the printed summary and MLflow)."""
        out: dict[str, object] = {"eligible": int(self.lead_of.nunique())}
        for name in SPLITS:
            ids = self.part(name)
            out[f"{name}_leads"] = int(self.lead_of.loc[ids].nunique())
            # positives are converted leads (what the guards count), however many rows each has
            won = self.y.loc[ids].to_numpy() == 1
            out[f"{name}_positives"] = int(self.lead_of.loc[ids][won].nunique())
            if self.grid:
                out[f"{name}_rows"] = int(len(ids))
                out[f"{name}_positive_rows"] = int(won.sum())
        out.update({f"excluded_{k}": v for k, v in self.excluded.items()})
        return out


def row_key(lead_id: object, age: float) -> str:
    """The key of a lead's training row at one age: ``L1@14d``."""
    return f"{lead_id}@{age:g}d"


def data_snapshot(leads: pd.DataFrame, activities: pd.DataFrame | None) -> pd.Timestamp:
    """The latest moment the export knows about (used when the config sets no snapshot)."""
    stamps = [leads["created_at"].max()]
    if "outcome_at" in leads:
        stamps.append(leads["outcome_at"].max())
    if activities is not None and len(activities):
        stamps.append(activities["occurred_at"].max())
    return pd.Timestamp(max(s for s in stamps if pd.notna(s)))


def assign_as_of(
    leads: pd.DataFrame,
    rule: AsOfRule,
    first_crossing: Callable[[pd.DataFrame, float], pd.Series] | None = None,
) -> pd.Series:
    """Each lead's as_of time under the configured rule.

    Parameters
    ----------
    leads
        Canonical leads with ``lead_id`` and ``created_at``.
    rule
        ``days_after_created``, ``snapshot`` or ``points_threshold``.
    first_crossing
        For ``points_threshold``: returns, per lead_id, the first moment its rule points reach
        ``rule.points`` (NaT if never); leads that never reach it fall back to
        ``created_at + rule.days``.
    """
    ids = pd.Index(leads["lead_id"], name="lead_id")
    created = pd.Series(leads["created_at"].to_numpy(), index=ids)
    fallback = created + pd.Timedelta(days=rule.days)
    if rule.rule == "days_after_created":
        return fallback.rename("as_of")
    if rule.rule == "snapshot":
        return pd.Series(pd.Timestamp(rule.date), index=ids, name="as_of").astype(
            "datetime64[ns]"
        )
    if first_crossing is None:
        raise ValueError("points_threshold as_of needs a first_crossing function")
    crossed = first_crossing(leads, float(rule.points)).reindex(ids)
    return crossed.fillna(fallback).astype("datetime64[ns]").rename("as_of")


def label_leads(
    leads: pd.DataFrame, as_of: pd.Series, horizon_days: int, snapshot: pd.Timestamp
) -> tuple[pd.Series, pd.Series]:
    """Label = won within the horizon after as_of; status says why a lead is left out.

    Returns
    -------
    y, status
        ``y`` is 0/1 (meaningful where status is ``eligible``); ``status`` is one of
        ``eligible``, ``decided_before_as_of``, ``as_of_after_snapshot``,
        ``horizon_not_elapsed``.
    """
    ids = pd.Index(leads["lead_id"], name="lead_id")
    outcome = pd.Series(leads["outcome"].to_numpy(), index=ids)
    outcome_at = pd.Series(leads["outcome_at"].to_numpy(), index=ids)
    as_of = as_of.reindex(ids)
    end = as_of + pd.Timedelta(days=horizon_days)
    won = (outcome == "won") & (outcome_at >= as_of) & (outcome_at < end)
    status = pd.Series("eligible", index=ids, dtype=object)
    decided = outcome.isin(["won", "lost"]) & (outcome_at < as_of)
    status[end > snapshot] = "horizon_not_elapsed"
    status[as_of > snapshot] = "as_of_after_snapshot"
    status[decided.to_numpy()] = "decided_before_as_of"
    return won.astype("int8").rename("y"), status.rename("status")


def split_leads(
    as_of: pd.Series | None, y: pd.Series, config: SplitConfig, seed: int, gap_days: int = 0,
    valid_gap_days: int = 0,
) -> pd.Series:
    """Assign each lead to train / valid / test, or to the purge gap before a split.

    ``time``: ordered by as_of (ties by lead_id), the latest leads are the test split, so the
    offline metrics ask the question production asks: how well does the past predict the future.
    ``random``: stratified on the label, for exports without timestamps (never purged).

    Purge (``gap_days``, time split only): a lead's label window is ``[as_of, as_of +
    horizon)``, so a lead whose ``as_of + gap_days`` is after the first test as_of had its label
    decided while test leads were already being scored; production never has such labels. Such
    leads are marked ``purged_before_test``; with ``valid_gap_days``, a training lead whose
    ``as_of + valid_gap_days`` is after the first validation as_of is ``purged_before_valid``.
    The purge works on as_of alone, never on when an outcome came: keeping the quick wins and
    losses near a boundary while dropping the slow ones would bias the rates (as in
    :func:`label_leads`).

    The cut points are chosen around the gaps rather than purging after cutting: the test split
    is the newest ``test_fraction`` of the eligible leads (the same leads with or without a
    purge), the validation split the ``valid_fraction`` just before the test's gap, and training
    everything older (before the validation's gap). Purging after cutting would keep the
    configured fractions only on paper: a validation period shorter than the horizon (a few
    months against a 180-day label window) would lose every lead, and the calibrator, early
    stopping and the scorer choice would silently run on nothing. Here training, the largest
    split, pays for the gap, and every lead left out is counted. Without enough history before
    the gap, validation takes what is there and training may be empty; the training guard then
    refuses.
    """
    n = len(y)
    n_test = int(round(n * config.test_fraction))
    n_valid = int(round(n * config.valid_fraction))
    split = pd.Series("train", index=y.index, dtype=object, name="split")
    if config.method == "time":
        if as_of is None or as_of.isna().all():
            raise ValueError("time split needs as_of times")
        order = pd.DataFrame({"as_of": as_of.reindex(y.index), "id": y.index}).sort_values(
            ["as_of", "id"], kind="mergesort"
        )
        ranked = order.index
        times = order["as_of"]
        # positions [0, train_end) train, [valid_start, valid_end) valid, [n - n_test, n) test
        valid_end = _before(times, n - n_test, gap_days)
        valid_start = max(valid_end - n_valid, 0)
        train_end = _before(times, valid_start, valid_gap_days)
        split.loc[ranked[n - n_test :]] = "test"
        split.loc[ranked[valid_end : n - n_test]] = "purged_before_test"
        split.loc[ranked[valid_start:valid_end]] = "valid"
        split.loc[ranked[train_end:valid_start]] = "purged_before_valid"
        return split
    rest, test = train_test_split(
        y.index.to_numpy(), test_size=n_test, stratify=y.to_numpy(), random_state=seed
    )
    train, valid = train_test_split(
        rest, test_size=n_valid, stratify=y.loc[rest].to_numpy(), random_state=seed + 1
    )
    split.loc[test] = "test"
    split.loc[valid] = "valid"
    return split


def _before(times: pd.Series, first: int, gap_days: int) -> int:
    """How many of the sorted leads before position ``first`` end their gap by its as_of."""
    if gap_days <= 0 or first >= len(times) or first <= 0:
        return max(first, 0)
    start = times.iloc[first]
    if not isinstance(start, pd.Timestamp):  # a flat export's order key: no days to count
        raise ValueError("a purge gap needs as_of times")
    # as_of + gap <= start, i.e. as_of <= start - gap: a prefix of the sorted leads
    return int(np.searchsorted(times.iloc[:first].to_numpy(),
                               (start - pd.Timedelta(days=gap_days)).to_datetime64(),
                               side="right"))


def _purge_note(split: pd.Series, config: SplitConfig, gap_days: int) -> str | None:
    """What the purge left out, in a sentence, or None when nothing was left out."""
    counts = split.value_counts()
    before_test = int(counts.get("purged_before_test", 0))
    before_valid = int(counts.get("purged_before_valid", 0))
    if not before_test and not before_valid:
        return None
    setting = f"split.purge: {config.purge}" + (", purge_valid: true" if config.purge_valid
                                                 else "")
    parts = []
    if before_test:
        parts.append(f"{before_test:,} leads just before the test split")
    if before_valid:
        parts.append(f"{before_valid:,} just before the validation split")
    # said even when off, so nobody reads the validation figures as purged
    valid = "" if config.purge_valid else \
        "; no gap before the validation split (split.purge_valid: false)"
    return (f"purge gap {gap_days} days ({setting}): {' and '.join(parts)} left out because "
            f"their label window overlaps the next split{valid}")


def _undated_outcomes(leads: pd.DataFrame, as_of: pd.Series, horizon_days: int, policy: str
                      ) -> tuple[pd.DataFrame, list[str]]:
    """Won/lost leads without a close date (``dataset.missing_outcome_at``), flagged or dated.

    ``horizon``: taken as decided at the last moment of their horizon, so a lost lead is a
    negative and a won one a positive, each only once its horizon has elapsed.
    """
    undated = (leads["outcome"].isin(["won", "lost"]) & leads["outcome_at"].isna()).to_numpy()
    leads = leads.assign(outcome_at_missing=undated)
    notes: list[str] = []
    if not undated.any():
        return leads, notes
    counts = leads.loc[undated, "outcome"].value_counts()
    what = " and ".join(f"{int(counts[k]):,} {k}" for k in ("won", "lost") if k in counts)
    if policy == "horizon":
        end = as_of.reindex(pd.Index(leads["lead_id"])).to_numpy() \
            + np.timedelta64(horizon_days, "D") - np.timedelta64(1, "s")
        outcome_at = leads["outcome_at"].to_numpy().copy()
        outcome_at[undated] = end[undated]
        leads = leads.assign(outcome_at=outcome_at)
        notes.append(f"{what} leads without a close date taken as decided at the end of their "
                     f"{horizon_days}-day horizon (dataset.missing_outcome_at: horizon)")
    else:
        notes.append(f"{what} leads without a close date left out "
                     "(dataset.missing_outcome_at: drop)")
    return leads, notes


def _flat_training_set(leads: pd.DataFrame, split_config: SplitConfig, seed: int) -> TrainingSet:
    """A flat export: no as_of; open leads are left out; the split is in row or column order,
    or random (with the optimistic-metrics caveat in the notes). Never purged: a flat row has
    no as_of and no label window, so an explicit purge in days is refused, not ignored."""
    if split_config.purge not in ("horizon", 0):
        raise ConfigError(f"split.purge: {split_config.purge} days cannot apply to a flat export "
                          "(dataset.mode: flat): its rows have no as_of and no label window to "
                          "keep apart; set split.purge: 0")
    keep = (leads["outcome"] != "open").to_numpy()
    excluded = {"open": int((~keep).sum())} if (~keep).any() else {}
    leads = leads[keep]
    ids = pd.Index(leads["lead_id"], name="lead_id")
    y = pd.Series((leads["outcome"].to_numpy() == "won").astype("int8"), index=ids, name="y")
    as_of = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]", name="as_of")
    notes = []
    if split_config.method == "time":
        # The order stands in for as_of: the newest rows are the test split.
        order = leads["order_key"].to_numpy() if split_config.order_by else \
            np.flatnonzero(keep).astype("float64")
        split = split_leads(pd.Series(order, index=ids), y, split_config, seed)
        how = f"column '{split_config.order_by}'" if split_config.order_by else "row order"
        notes.append(f"flat export split in time by {how}: the newest leads are the test split")
    else:
        message = (
            "flat export split at random (split.method: random): test metrics assume new leads "
            "look like a random sample of past ones (no drift), so they are optimistic"
        )
        warnings.warn(message, FlatSplitWarning, stacklevel=3)
        notes.append(message)
        split = split_leads(None, y, split_config, seed)
    return TrainingSet(leads.set_index("lead_id", drop=False), as_of, y, split, excluded, notes)


def build_training_set(
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    mode: str,
    rule: AsOfRule,
    horizon_days: int,
    split_config: SplitConfig,
    seed: int,
    snapshot: pd.Timestamp | None = None,
    first_crossing: Callable[[pd.DataFrame, float], pd.Series] | None = None,
    missing_outcome_at: str = "error",
) -> TrainingSet:
    """Eligible leads with as_of, label and split, plus what was left out and why."""
    if mode == "flat":
        return _flat_training_set(leads, split_config, seed)

    snapshot = snapshot if snapshot is not None else data_snapshot(leads, activities)
    as_of = assign_as_of(leads, rule, first_crossing)
    leads, notes = _undated_outcomes(leads, as_of, horizon_days, missing_outcome_at)
    y, status = label_leads(leads, as_of, horizon_days, snapshot)
    if missing_outcome_at == "drop":
        status[leads["outcome_at_missing"].to_numpy()] = "missing_outcome_at"
    keep = status.to_numpy() == "eligible"
    excluded = {
        str(k): int(v) for k, v in status[~keep].value_counts().sort_index().items()
    }
    if not keep.any():
        why = ", ".join(f"{k}: {v:,}" for k, v in excluded.items())
        raise DataError(f"no lead of {len(status):,} is eligible for training ({why}); with "
                        f"as_of {rule.rule} and a {horizon_days}-day horizon up to "
                        f"{snapshot:%Y-%m-%d}, leads need more history")
    y = y[keep]
    as_of = as_of[keep]
    gap = split_config.purge_days(horizon_days) if split_config.method == "time" else 0
    split = split_leads(as_of, y, split_config, seed, gap,
                        gap if split_config.purge_valid else 0)
    note = _purge_note(split, split_config, gap)
    if note:
        notes.append(note)
    purged = split.isin(PURGED).to_numpy()
    for reason in PURGED:
        if (split == reason).any():
            excluded[reason] = int((split == reason).sum())
    y, as_of, split = y[~purged], as_of[~purged], split[~purged]
    kept = leads.set_index("lead_id", drop=False).loc[y.index]
    if not np.all(kept.index == y.index):  # pragma: no cover - defensive
        raise AssertionError("lead order mismatch")
    return TrainingSet(kept, as_of, y, split, excluded, notes)
