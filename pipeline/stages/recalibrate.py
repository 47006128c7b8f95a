"""Recalibration: the champion's calibrator refitted on recent matured leads, nothing else.

When the base rate moves (a new market, a price change), a model's ranking often holds while its
probabilities drift off: it says 15 % and 30 % convert. Retraining answers that with new trees
and a new explanation for every lead; refitting the calibrator answers it and keeps the rest.
Here the recent leads of an export (created after ``since``, by default after the champion's
training data) get their as_of and labels exactly as training gives them (the same config, the
as_of grid, only leads whose horizon has matured by the export's snapshot), and are cut in time:
the older part fits the calibrator, the newest part (``holdout_share`` of the rows, each lead's
rows kept together as in the training split) is the holdout the promotion gate judges on. The
features come from the champion's own fitted builder and the raw values from its own trees
(:meth:`~pipeline.scorers.base.BaseScorer.recalibrated`); the calibrator is chosen by the rule
training used (isotonic or sigmoid by cross-validated Brier).

No purge gap is left between the two parts: a gap protects a model's fit from labels decided
while later leads were scored, but the trees are frozen and only a one-dimensional map is
fitted, and a horizon-long gap would take most of the few recent months.

The package's cut points stay the champion's (its bands, MQL line, grade cuts, percentile
reference and drift reference, all learned on its training leads), so a lead the recalibrated
model finds likelier is shown so: a higher base rate gives more hot leads and MQLs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.data.config import Config
from pipeline.data.dataset import data_snapshot
from pipeline.data.errors import ConfigError, DataError
from pipeline.stages.prepare import Prepared, prepare_saved, training_set

FIT, HOLDOUT = "valid", "test"  # the parts of the recent split (as the gate reads a split)


@dataclass(frozen=True)
class RecentLeads:
    """The recent matured rows (lead_id, as_of, y, split) and what they are."""

    split: pd.DataFrame
    since: pd.Timestamp
    snapshot: pd.Timestamp

    def count(self, part: str | None = None) -> tuple[int, int]:
        """(leads, converted leads) of one part, or of both."""
        rows = self.split if part is None else self.split[self.split["split"] == part]
        return int(rows["lead_id"].nunique()), int(rows.loc[rows["y"] == 1, "lead_id"].nunique())

    def as_of_range(self, part: str | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last as_of of one part, or of both."""
        rows = self.split if part is None else self.split[self.split["split"] == part]
        return pd.Timestamp(rows["as_of"].min()), pd.Timestamp(rows["as_of"].max())


def recent_leads(config: Config, leads: pd.DataFrame, activities: pd.DataFrame | None,
                 since: pd.Timestamp, holdout_share: float) -> RecentLeads:
    """The matured rows of leads created after ``since``, cut in time into fit and holdout.

    Raises :class:`DataError` (exit 2) when no recent lead has matured, or when either part
    has fewer than ``guard.min_valid_conversions`` converted leads.
    """
    ds = config.dataset
    if ds.mode != "events":
        raise ConfigError(f"{config.source}: dataset.mode: recalibration needs an events export "
                          "(leads with created_at, labelled at their as_of)")
    if not 0 < holdout_share < 1:
        raise ConfigError(f"--holdout {holdout_share:g}: use a share between 0 and 1")
    # the whole export's snapshot: the recent leads alone would end it at their last event
    snapshot = pd.Timestamp(ds.snapshot) if ds.snapshot else data_snapshot(leads, activities)
    recent = leads[leads["created_at"] > since]
    if recent.empty:
        raise DataError(f"{ds.leads}: no lead created after {since:%Y-%m-%d %H:%M} (of "
                        f"{len(leads):,}; newest {leads['created_at'].max():%Y-%m-%d}): "
                        "nothing to recalibrate on")
    # the training split's own code, told to put the newest share in test and the rest before it
    cut = config.split.model_copy(update={
        "method": "time", "test_fraction": holdout_share, "valid_fraction": 1 - holdout_share,
        "purge": 0, "purge_valid": False})
    cfg = config.model_copy(update={"split": cut,
                                    "dataset": ds.model_copy(update={"snapshot": snapshot})})
    ts = training_set(cfg, recent, activities)
    table = Prepared(cfg, ts, None, [], None, None).split_table()
    table["split"] = np.where(table["split"] == HOLDOUT, HOLDOUT, FIT)
    found = RecentLeads(table.reset_index(drop=True), pd.Timestamp(since), snapshot)
    _check_counts(config, found, len(recent))
    return found


def _check_counts(config: Config, found: RecentLeads, created: int) -> None:
    need = config.guard.min_valid_conversions
    (fit_leads, fit_won), (hold_leads, hold_won) = found.count(FIT), found.count(HOLDOUT)
    if min(fit_won, hold_won) < need:
        raise DataError(
            f"{config.dataset.leads}: {created:,} leads created after {found.since:%Y-%m-%d}, "
            f"{fit_leads + hold_leads:,} matured by {found.snapshot:%Y-%m-%d} "
            f"({config.dataset.horizon_days}-day horizon): {fit_leads:,} leads with {fit_won} "
            f"conversions to fit the calibrator, {hold_leads:,} with {hold_won} in the holdout; "
            f"each needs at least {need} (guard.min_valid_conversions): wait for more outcomes "
            "or give an earlier --since")


def recalibrate_package(package, config: Config, leads: pd.DataFrame,
                        activities: pd.DataFrame | None, found: RecentLeads,
                        source: str):
    """The package with its scorer's calibrator refitted on the recent fit rows.

    ``source`` names the package recalibrated (e.g. ``leadscore-demo v3``), kept in the
    metadata. The builder, raw model, raw shares and every cut point are the package's own.
    """
    prepared = prepare_saved(config, leads, activities, found.split, package.builder,
                             parts=(FIT,))
    X, y = prepared.rows(FIT)
    scorer = package.scorer.recalibrated(X, y)
    metadata = {**package.metadata, "calibration": scorer.calibrator_.method_,
                "recalibrated_from": source}
    return dataclasses.replace(package, scorer=scorer, metadata=metadata)
