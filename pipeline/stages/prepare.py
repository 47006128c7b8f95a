"""The one preparation protocol: config + data -> the prepared training set every stage uses.

``train``, ``tune``, ``cv``, ``features`` and ``audit`` call :func:`prepare`; ``evaluate`` and the
promotion gate call :func:`prepare_saved`. Both produce a :class:`Prepared`: the eligible leads
with their as_of, label and split, the leakage audit and what it excluded, and the feature table
built by a feature builder fitted on the training leads only. Preparing in one place is what
keeps the stages from drifting apart (an audit that ``cv`` forgot, a snapshot that ``tune`` did
not apply, a gate that judged a challenger on a split rebuilt from today's data).

The split that ``train`` saves (:meth:`Prepared.split_table`) is the one ``evaluate`` and the gate
score on: :func:`prepare_saved` takes the leads, as_of times and labels from it, not from the
current config, and builds their features with the saved model's own fitted builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.activity import DECAYED
from features.build import DecayPart, FeatureBuilder
from features.decay import gate_decay
from features.settings import DeclarationError, FeatureSettings
from pipeline.data.config import Config
from pipeline.data.dataset import SPLITS, TrainingSet, build_training_set
from pipeline.data.dataset_schema import ACCOUNT_FROM_EMAIL
from pipeline.data.errors import ConfigError, DataError
from pipeline.data.grid import build_grid_training_set, fit_weights
from pipeline.data.lifecycle import STAGE_COLUMNS
from pipeline.evaluation.audit import audit_columns, declared_suspects, kept_notes
from pipeline.scorers import kinds
from pipeline.scorers.rules import RulesBook

# Canonical role columns, and what the contract and the training set derive from them; the
# lifecycle stage dates are written after contact: never features, never audit candidates.
ROLE_COLUMNS = ("lead_id", "created_at", "outcome", "outcome_at", "outcome_at_missing",
                "order_key", *STAGE_COLUMNS.values())


@dataclass
class Prepared:
    """A prepared training set: leads, labels, split, audit and fitted features."""

    config: Config
    training_set: TrainingSet
    audit: pd.DataFrame | None
    excluded: list[str]
    builder: FeatureBuilder | None
    X: pd.DataFrame | None  # rows of the prepared parts, index row key (lead_id off the grid)
    notes: list[str] = field(default_factory=list)

    @property
    def y(self) -> pd.Series:
        """Labels by row key."""
        return self.training_set.y

    def ids(self, part: str) -> pd.Index:
        """Row keys of one split part (lead_ids unless the as_of rule is a grid)."""
        return self.training_set.part(part)

    def rows(self, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Feature rows and labels of one split part."""
        ids = self.ids(part)
        return self.X.loc[ids], self.y.loc[ids].to_numpy()

    def fit_rows(self) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
        """(X_train, y_train, X_valid, y_valid): what every scorer is fitted on."""
        return (*self.rows("train"), *self.rows("valid"))

    def weights(self, part: str = "train") -> np.ndarray | None:
        """Fit weights of one part's rows (None: every row weighs 1)."""
        weight = self.training_set.weight
        return None if weight is None else weight.loc[self.ids(part)].to_numpy()

    def split_table(self) -> pd.DataFrame:
        """row, lead_id, as_of, y, split (and age, weight on a grid): what ``train`` saves."""
        ts = self.training_set
        rows = ts.y.index
        table = pd.DataFrame({
            "row": rows.astype(str), "lead_id": ts.lead_of.loc[rows].astype(str).to_numpy(),
            "as_of": ts.as_of.reindex(rows).to_numpy(),
            "y": ts.y.to_numpy(), "split": ts.split.reindex(rows).to_numpy()})
        if ts.age is not None:
            table["age"] = ts.age.reindex(rows).to_numpy()
        if ts.weight is not None:
            table["weight"] = ts.weight.reindex(rows).to_numpy()
        # Kept in the file's metadata: a caveat about how the split was made (a random split of
        # a flat export) must reach `evaluate`, which reads this table, not the config.
        table.attrs["notes"] = list(ts.notes)
        return table

    def scorer_context(self, rules: RulesBook | None = None, rules_source: str = "rules",
                       tuned_params: dict[str, Any] | None = None) -> kinds.ScorerContext:
        """What every kind's factory reads: the config and what this preparation learned."""
        builder = self.builder
        return kinds.ScorerContext(
            config=self.config, spec=builder.spec_, rules=rules or RulesBook(),
            rules_source=rules_source, windows=tuple(builder.settings.windows_days),
            dropped=tuple(builder.dropped_), segment=self.segment(), tuned_params=tuned_params,
            row_time=_as_of(self.config, self.training_set),
            half_lives={s: h for s, h in builder.half_lives_.items()
                        if DECAYED + s in builder.spec_})

    def segment(self) -> str | None:
        """The feature that routes leads to per-segment models (``dataset.segment``), if any."""
        column = self.config.dataset.segment
        if column is None:
            return None
        spec = self.builder.spec_
        if column not in spec.names or spec[column].dtype != "categorical":
            raise ConfigError(f"{self.config.source}: dataset.segment: {column!r} must also be "
                              "listed under features.categorical (and not be constant)")
        return column


def training_set(config: Config, leads: pd.DataFrame, activities: pd.DataFrame | None
                 ) -> TrainingSet:
    """Eligible leads (or grid rows), as_of, labels and split as the config defines them."""
    ds = config.dataset
    if ds.mode == "events" and ds.as_of.rule == "grid":
        return build_grid_training_set(
            leads, activities, ds.as_of, ds.horizon_days, config.split, config.seed,
            snapshot=pd.Timestamp(ds.snapshot) if ds.snapshot else None,
            missing_outcome_at=ds.missing_outcome_at)
    return build_training_set(
        leads, activities, ds.mode, ds.as_of, ds.horizon_days, config.split, config.seed,
        snapshot=pd.Timestamp(ds.snapshot) if ds.snapshot else None,
        missing_outcome_at=ds.missing_outcome_at)


def candidate_columns(leads: pd.DataFrame, config: Config) -> list[str]:
    """Raw lead columns that could become features: everything but roles, ids, PII and the
    lifecycle stage dates."""
    ds = config.dataset
    skip = set(ROLE_COLUMNS) | set(ds.pii) | set(ds.ignore) | set(ds.stages.values())
    if config.features.email_column:
        skip.add(config.features.email_column)
    return [c for c in leads.columns if c not in skip]


def run_audit(ts: TrainingSet, config: Config) -> pd.DataFrame:
    """Leakage audit of the raw candidate columns on the training leads (each lead once: its
    youngest row, so a lead open for months is not counted nine times)."""
    train_ids = ts.part("train")
    if ts.grid:
        train_ids = train_ids[~ts.lead_of.loc[train_ids].duplicated().to_numpy()]
    columns = candidate_columns(ts.leads, config)
    candidates = ts.leads.loc[train_ids, columns]
    fs = config.features
    declared_numeric = set(fs.numeric) | set(fs.engagement)
    for column in columns:
        if column in declared_numeric:
            candidates[column] = pd.to_numeric(candidates[column], errors="coerce")
        elif candidates[column].dtype == object or str(candidates[column].dtype) == "str":
            missing = {m.casefold() for m in fs.missing_values}
            text = candidates[column].astype("string").str.strip()
            blank = text.str.casefold().isin(missing) | (text == "")
            candidates[column] = text.where(~blank.fillna(False)).astype(object)
    # created_at, as_of and outcome_at of the same leads: dates are judged against them
    leads = ts.leads.loc[train_ids]
    times = pd.DataFrame({
        "created_at": leads.get("created_at", pd.NaT),
        "as_of": ts.as_of.reindex(train_ids),
        "outcome_at": leads.get("outcome_at", pd.NaT),
    }, index=train_ids)
    return audit_columns(
        candidates,
        ts.y.loc[train_ids].to_numpy(),
        post_contact=dict(config.dataset.leaky),
        keep=dict(config.dataset.keep),
        max_auc=config.audit.max_auc,
        seed=config.seed,
        times=times,
    )


FEATURE_LISTS = ("categorical", "numeric", "boolean", "engagement", "negative")


def declared_features(config: Config) -> dict[str, str]:
    """Columns the config declares as features -> the key declaring them (``features.numeric``)."""
    fs = config.features
    return {column: f"features.{key}" for key in reversed(FEATURE_LISTS)
            for column in getattr(fs, key)}


def stop_on_suspects(config: Config, audit: pd.DataFrame) -> None:
    """DataError (exit 2) when a declared feature is a suspect the config neither excludes nor
    keeps: dropping it silently would override the user, training on it would learn a leak."""
    ds = config.dataset
    declared_suspects(audit, declared_features(config), ds.leaky, ds.keep, ds.leads)


def excluded_by_audit(audit: pd.DataFrame) -> list[str]:
    """Columns the audit keeps out of the features."""
    return audit.loc[audit["action"] == "excluded", "column"].tolist()


def feature_settings(config: Config, excluded: list[str]) -> FeatureSettings:
    """The config's feature settings without the excluded (leaky) columns."""
    fs = config.features
    update = {
        key: [c for c in getattr(fs, key) if c not in excluded]
        for key in FEATURE_LISTS
    }
    return fs.model_copy(update=update)


def activities_of(activities: pd.DataFrame | None, ids: pd.Index) -> pd.DataFrame | None:
    """The events of these leads only."""
    if activities is None:
        return None
    return activities[activities["lead_id"].isin(ids)]


def _as_of(config: Config, ts: TrainingSet) -> pd.Series | None:
    return ts.as_of if config.dataset.mode == "events" else None


def _features(config: Config, ts: TrainingSet, activities: pd.DataFrame | None,
              builder: FeatureBuilder, parts: tuple[str, ...]) -> pd.DataFrame:
    ids = ts.y.index if set(parts) >= set(SPLITS) else \
        ts.y.index[np.isin(ts.split.reindex(ts.y.index).to_numpy(), list(parts))]
    as_of = _as_of(config, ts)
    leads = ts.leads.loc[ids]
    X = builder.transform(leads if ts.grid else leads.reset_index(drop=True), activities,
                          None if as_of is None else as_of.loc[ids])
    return X.loc[ids]


def prepare(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    *,
    split: pd.Series | None = None,
    parts: tuple[str, ...] = SPLITS,
    stop: bool = True,
) -> Prepared:
    """Prepare the training set the config defines: as_of, labels, split, audit, features.

    Parameters
    ----------
    config
        Run configuration.
    leads, activities
        Canonical frames (validated).
    split
        Train/valid/test by lead_id replacing the configured split (cross-validation folds).
    parts
        Split parts whose feature rows to build (``()``: the audit only, no features).
    stop
        Raise when a declared feature is a leakage suspect (:func:`stop_on_suspects`); False
        only for ``leadscore audit``, which shows the table first and then stops.
    """
    account = config.dataset.account
    if account and account != ACCOUNT_FROM_EMAIL and account not in leads:
        # checked before any fitting: the account evaluation would fail after it
        raise DataError(f"{config.dataset.leads}: column {account!r} missing (dataset.account: "
                        f"{account})")
    ts = training_set(config, leads, activities)
    if split is not None:
        # folds are made of leads: every row of a lead goes where its lead goes
        ts.split = pd.Series(split.reindex(ts.lead_of.to_numpy()).to_numpy(),
                             index=ts.y.index, name="split")
        if ts.weight is not None:
            ts.weight = fit_weights(ts.lead_of, ts.split, config.dataset.as_of.weights)
    audit = run_audit(ts, config)
    if stop:
        stop_on_suspects(config, audit)
    excluded = excluded_by_audit(audit)
    notes = [*ts.notes, *kept_notes(audit, config.dataset.keep)]
    prepared = Prepared(config, ts, audit, excluded, None, None, notes)
    if not parts:
        return prepared
    train_ids = ts.part("train")
    as_of = _as_of(config, ts)
    try:
        train_leads = ts.leads.loc[train_ids]
        builder = FeatureBuilder(feature_settings(config, excluded)).fit(
            train_leads if ts.grid else train_leads.reset_index(drop=True),
            activities_of(activities, ts.leads_of(train_ids)),
            None if as_of is None else as_of.loc[train_ids])
    except DeclarationError as exc:
        raise ConfigError(f"{config.source}: features: {exc}") from None
    prepared.builder = builder
    prepared.X = _features(config, ts, activities, builder, parts)
    if builder.half_lives_ and {"train", "valid"} <= set(parts):
        if builder.settings.decay == "learn":
            learn_decay(prepared, activities, parts)
        gate_decay_columns(prepared)
    return prepared


def _rows_of(prepared: Prepared, ids: pd.Index) -> tuple[pd.DataFrame, pd.Series | None]:
    """Lead rows and as_of of these row keys, as the builder reads them."""
    ts = prepared.training_set
    leads = ts.leads.loc[ids]
    as_of = _as_of(prepared.config, ts)
    return (leads if ts.grid else leads.reset_index(drop=True),
            None if as_of is None else as_of.loc[ids])


def learn_decay(prepared: Prepared, activities: pd.DataFrame | None,
                parts: tuple[str, ...]) -> None:
    """Learn each decay signal's half-life on the training and validation rows (never test),
    then rewrite the ``decayed_<signal>`` columns of the prepared parts with them."""
    builder = prepared.builder
    halves = []
    for part in ("train", "valid"):
        X, y = prepared.rows(part)
        leads, as_of = _rows_of(prepared, prepared.ids(part))
        halves.append(DecayPart(leads, as_of, X, y, prepared.weights(part)))
    builder.learn_decay(activities, *halves, segment=prepared.segment())
    columns = [DECAYED + s for s in builder.half_lives_]
    kept = [c for c in columns if c in prepared.X]
    ids = prepared.X.index
    leads, as_of = _rows_of(prepared, ids)
    values = builder.decayed_columns(leads, activities, as_of)
    prepared.X[kept] = values[:, [columns.index(c) for c in kept]]


def gate_decay_columns(prepared: Prepared) -> None:
    """Keep the ``decayed_<signal>`` columns only when they save validation log-loss with a
    paired bootstrap interval over validation leads above 0 (:func:`features.decay.gate_decay`,
    seeded by ``config.seed``); otherwise drop them from the builder and the table, and say so
    in the notes (train's output and the report)."""
    builder = prepared.builder
    decayed = [DECAYED + s for s in builder.half_lives_ if DECAYED + s in prepared.X]
    if not decayed:
        return
    others = [c for c in prepared.X.columns if c not in decayed]
    arrays = []
    for part in ("train", "valid"):
        X, y = prepared.rows(part)
        arrays.append(((builder.numeric_design(X, others), X[decayed].to_numpy(dtype="float64")),
                       y.astype("float64"), prepared.weights(part)))
    lead_v = prepared.training_set.lead_of.loc[prepared.ids("valid")].to_numpy()
    gate = gate_decay(arrays[0][0], arrays[1][0], arrays[0][1], arrays[1][1], w_t=arrays[0][2],
                      w_v=arrays[1][2], lead_v=lead_v, seed=prepared.config.seed)
    builder.decay_gate_ = gate
    prepared.notes.append(gate.line())
    if not gate.kept:
        builder.drop_decay("decay gate: no significant validation log-loss gain")
        prepared.X = prepared.X.drop(columns=decayed)


def prepare_saved(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    split_table: pd.DataFrame,
    builder: FeatureBuilder,
    *,
    parts: tuple[str, ...] = ("test",),
) -> Prepared:
    """The training set a run saved (``split.parquet``), with features from its own builder.

    Leads, as_of times, labels and split come from ``split_table``; only the lead rows (their
    fields) are read from ``leads``. A lead of the saved split missing from the data is an error.
    """
    key = "row" if "row" in split_table else "lead_id"
    table = split_table.set_index(split_table[key].astype(str).rename("row"))
    lead_of = table["lead_id"].astype(str).rename("lead_id")
    kept = leads.assign(lead_id=leads["lead_id"].astype(str)).set_index("lead_id", drop=False)
    missing = pd.Index(lead_of.unique()).difference(kept.index)
    if len(missing):
        raise DataError(f"{config.dataset.leads}: {len(missing)} leads of the saved split are "
                        f"not in the data any more (e.g. {missing[0]}); retrain")
    notes = [str(n) for n in split_table.attrs.get("notes", [])]
    ts = TrainingSet(kept.loc[lead_of.to_numpy()].set_axis(table.index), table["as_of"],
                     table["y"].astype("int8"), table["split"], notes=notes, lead_of=lead_of,
                     weight=table.get("weight"), age=table.get("age"))
    X = _features(config, ts, activities, builder, parts)
    return Prepared(config, ts, None, [], builder, X, list(notes))
