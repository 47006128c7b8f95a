"""FeatureBuilder: leads (+ activities) as of a time -> one row per lead, every column in the spec.

Fitted once on the training leads (category levels with rare levels pooled into ``other``, the
activity types of the export, constant columns to drop), then pickled with the model: the same
object builds the training table, the batch-scoring table and the REST request's table, so there
is no train/serve skew. It is pure (no files, no config loading) and a lead's row depends only on
that lead, its own events and its own as_of: any partition of the leads, in any row order, gives
the same rows (the Spark path calls it per partition).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pandas as pd

from features.activity import (
    ACTIVITY_TYPES,
    DECAYED,
    build_engagement_features,
    decay_signals,
    signal_events,
)
from features.decay import (
    DecayChoice,
    DecayRows,
    SignalEvents,
    decayed_sums,
    learn_half_lives,
)
from features.firmographic import BAND_LEVELS, build_fit_features, declared_columns, feature_name
from features.settings import DeclarationError, FeatureSettings
from features.spec import FeatureInfo, FeatureSpec, describe_feature, humanize

__all__ = ["OTHER", "FeatureBuilder", "feature_name", "humanize"]

#: Level that rare training levels and levels unseen at fit time map to.
OTHER = "other"


class DecayPart(NamedTuple):
    """One split part the decay is learned on: its rows, their feature table, labels, weights."""

    leads: pd.DataFrame
    as_of: pd.Series | pd.Timestamp
    X: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray | None = None


class FeatureBuilder:
    """Builds the feature table; scikit-learn style (``fit`` learns, ``transform`` applies).

    Parameters
    ----------
    settings
        The config's ``features`` section (leaky columns already removed by the caller);
        ``None`` means the defaults.

    Attributes
    ----------
    spec_ : FeatureSpec
        Every output column with its factor, measure, group, dtype, monotone direction, template.
    levels_ : dict[str, list[str]]
        Categories of each categorical column (kept levels, then ``"other"``).
    seen_levels_ : dict[str, list[str]]
        Every value each categorical column took in training, rare ones included.
    dropped_ : dict[str, str]
        Columns left out of the table and why (e.g. constant in the training leads).
    activity_types_ : list[str]
        Activity types seen in the training events (events mode): their window counts are
        columns; events of other types are ignored at transform time.
    half_lives_ : dict[str, float]
        Half-life (days) of each ``decayed_<signal>`` column: the user's, the learned one
        (:meth:`learn_decay`) or ``half_life_days``.
    decay_ : list[DecayChoice]
        How each half-life was chosen, with its validation log-loss gain when learned.

    Examples
    --------
    >>> builder = FeatureBuilder(settings).fit(train_leads, train_activities, train_as_of)
    >>> X = builder.transform(new_leads, new_activities, pd.Timestamp("2026-07-01"))
    >>> list(X.columns) == builder.spec_.names
    True
    """

    def __init__(self, settings: FeatureSettings | None = None):
        self.settings = settings

    # ------------------------------------------------------------------------------ helpers
    def _settings(self) -> FeatureSettings:
        """The settings, or the defaults."""
        return self.settings if self.settings is not None else FeatureSettings()

    @staticmethod
    def _rows_as_of(leads: pd.DataFrame, as_of: object) -> bool:
        """Whether ``leads`` are training rows: a lead repeated once per as_of of a grid, keyed
        by a unique row index that ``as_of`` shares."""
        return (isinstance(as_of, pd.Series) and leads.index.is_unique
                and as_of.index.equals(leads.index) and not leads["lead_id"].is_unique)

    @classmethod
    def _check_leads(cls, leads: pd.DataFrame, as_of: object = None) -> None:
        """Refuse leads without unique, non-null ids (rows of an as_of grid may repeat one)."""
        if not isinstance(leads, pd.DataFrame) or "lead_id" not in leads:
            raise ValueError("leads must be a DataFrame with a 'lead_id' column")
        ids = leads["lead_id"]
        if ids.isna().any():
            raise ValueError(f"leads have {int(ids.isna().sum())} missing lead_id value(s)")
        if not ids.is_unique and not cls._rows_as_of(leads, as_of):
            dup = ids[ids.duplicated()].astype(str).unique()[:3].tolist()
            raise ValueError(f"leads have duplicate lead_id values (e.g. {dup})")

    def _events_mode(self) -> bool:
        """Whether engagement features come from an activity log."""
        return self._settings().mode == "events"

    def _raw_table(self, leads: pd.DataFrame, activities: pd.DataFrame | None,
                   as_of: pd.Series | pd.Timestamp | None,
                   activity_types: list[str]) -> pd.DataFrame:
        """Fit columns, then (events mode) engagement columns, before encoding."""
        if self._events_mode() and self._rows_as_of(leads, as_of):
            return self._rows_table(leads, activities, as_of, activity_types)
        settings = self._settings()
        fit = build_fit_features(leads, settings)
        if not self._events_mode():
            return fit
        if as_of is None:
            raise ValueError("events mode needs as_of (a Timestamp, or a Series by lead_id)")
        created = (pd.Series(leads["created_at"].to_numpy(), index=fit.index)
                   if "created_at" in leads else None)
        engagement = build_engagement_features(fit.index, activities, as_of, settings,
                                               created_at=created,
                                               activity_types=activity_types,
                                               half_lives=getattr(self, "half_lives_", None))
        return pd.concat([fit, engagement], axis=1)

    def _rows_table(self, leads: pd.DataFrame, activities: pd.DataFrame | None,
                    as_of: pd.Series, activity_types: list[str]) -> pd.DataFrame:
        """The raw table of grid rows, indexed by row key: one pass per layer of distinct leads
        (a lead's k-th row is in layer k), since each pass looks at a lead at one as_of."""
        layer = leads.groupby("lead_id", sort=False).cumcount().to_numpy()
        settings = self._settings()
        fit = self._fit_once(leads, settings)
        parts = []
        for k in np.unique(layer):
            in_layer = layer == k
            rows = leads[in_layer]
            ids = fit.index[in_layer]
            created = (pd.Series(rows["created_at"].to_numpy(), index=ids)
                       if "created_at" in rows else None)
            engagement = build_engagement_features(
                ids, activities, pd.Series(as_of.to_numpy()[in_layer], index=ids), settings,
                created_at=created, activity_types=activity_types,
                half_lives=getattr(self, "half_lives_", None))
            table = pd.concat([fit[in_layer], engagement], axis=1)
            parts.append(table.set_axis(rows.index))
        return pd.concat(parts).loc[leads.index]

    @staticmethod
    def _fit_once(leads: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
        """Fit features of every row, computed once per distinct lead record.

        A lead's grid rows repeat its record, and the fit features read only that record (title
        parsing alone was a third of a grid's feature time when redone at every age); rows whose
        columns differ still get their own values.
        """
        read = ["lead_id", *(c for c, _ in declared_columns(settings).values()),
                *(c for c in (settings.title_column, settings.email_column,
                              settings.size_column, settings.revenue_column) if c)]
        read = [c for c in dict.fromkeys(read) if c in leads]
        group = leads.groupby(read, sort=False, dropna=False).ngroup().to_numpy()
        _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
        distinct = build_fit_features(leads.iloc[first].reset_index(drop=True), settings)
        return distinct.iloc[inverse]

    def _describe(self, name: str, dtype: str | None = None) -> FeatureInfo:
        """Spec entry of one column (catalogue tags + the config's overrides)."""
        settings = self._settings()
        signal = name[len(DECAYED):]
        if name.startswith(DECAYED) and signal in getattr(self, "half_lives_", {}):
            return describe_decayed(name, signal, self.half_lives_[signal],
                                    settings.factor_names, settings.factor_templates)
        column, role = declared_columns(settings).get(name, (None, None))
        return describe_feature(name, column=column, role=role, dtype=dtype,
                                factor_names=settings.factor_names,
                                factor_templates=settings.factor_templates)

    @staticmethod
    def _learn_types(activities: pd.DataFrame | None) -> list[str]:
        """Activity types present in the training events: known vocabulary order, then others."""
        if activities is None or len(activities) == 0 or "activity_type" not in activities:
            return []
        seen = {feature_name(t) for t in pd.unique(activities["activity_type"].dropna())}
        seen.discard("")
        return [t for t in ACTIVITY_TYPES if t in seen] + sorted(seen - set(ACTIVITY_TYPES))

    def _encode(self, table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        """Categoricals on the fitted levels (unseen -> other, missing stays NaN), floats."""
        out: dict[str, object] = {}
        for name in names:
            values = table[name]
            if name in self.levels_:
                levels = self.levels_[name]
                codes = pd.Index(levels).get_indexer(values.to_numpy(dtype=object))
                codes[(codes < 0) & values.notna().to_numpy()] = levels.index(OTHER)
                out[name] = pd.Categorical.from_codes(codes, categories=levels)
            else:
                out[name] = values.to_numpy(dtype="float64", na_value=np.nan)
        return pd.DataFrame(out, index=table.index, columns=names)

    # ------------------------------------------------------------------------- fit/transform
    def fit(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None,
            as_of: pd.Series | pd.Timestamp | None = None) -> FeatureBuilder:
        """Learn levels, activity types, column dtypes and constant columns from training leads.

        Parameters
        ----------
        leads
            Training leads (canonical columns, unique ``lead_id``).
        activities
            Their activity log (events mode); events at or after as_of are not used for
            features (only their types are noted).
        as_of
            Per-lead Series by lead_id, or one Timestamp. Required in events mode, ignored in
            flat mode.

        Returns
        -------
        FeatureBuilder
            ``self``, fitted.
        """
        settings = self._settings()
        self._check_leads(leads, as_of)
        self.activity_types_ = self._learn_types(activities) if self._events_mode() else []
        signals = decay_signals(self.activity_types_, settings) \
            if self._events_mode() and settings.decay != "off" else []
        # a known signal absent from these events is no mistake; a name nothing produces is
        known = decay_signals(list(dict.fromkeys([*ACTIVITY_TYPES, *self.activity_types_])),
                              settings)
        unknown = sorted(set(settings.half_lives) - set(known))
        if unknown and self._events_mode():
            raise DeclarationError(f"half_lives: unknown signal(s) {unknown}; signals are "
                                   f"{known}")
        self.half_lives_ = {s: settings.half_lives.get(s, settings.half_life_days)
                            for s in signals}
        self.decay_ = [DecayChoice(s, h, "config" if s in settings.half_lives else "fixed", 0)
                       for s, h in self.half_lives_.items()]
        table = self._raw_table(leads, activities, as_of, self.activity_types_)
        declared = declared_columns(settings)
        dtypes: dict[str, str] = {}
        for name, (_, role) in declared.items():
            if role == "negative":
                values = table[name].dropna()
                # A negative column holding counts is numeric, one holding 0/1 is a flag.
                dtypes[name] = "boolean" if values.isin([0.0, 1.0]).all() else "numeric"
        self.levels_: dict[str, list[str]] = {}
        self.seen_levels_: dict[str, list[str]] = {}
        infos = {name: self._describe(name, dtypes.get(name)) for name in table.columns}
        for name, info in infos.items():
            if info.dtype != "categorical":
                continue
            counts = table[name].dropna().astype(str).value_counts()
            kept = set(counts[counts >= settings.rare_level_min_count].index) - {OTHER}
            order = BAND_LEVELS.get(name)
            levels = [v for v in order if v in kept] if order else sorted(kept)
            self.levels_[name] = [*levels, OTHER]
            # Every training value, rare ones too: scoring warns only on values never seen.
            self.seen_levels_[name] = sorted(counts.index)
        encoded = self._encode(table, list(table.columns))
        self.dropped_: dict[str, str] = {}
        for name in encoded.columns:
            values = encoded[name]
            if values.nunique(dropna=False) <= 1:
                only = values.iloc[0] if len(values) else None
                shown = "missing" if pd.isna(only) else repr(only)
                self.dropped_[name] = f"constant in the training leads (always {shown})"
        self._drop_copies(encoded)
        self.levels_ = {k: v for k, v in self.levels_.items() if k not in self.dropped_}
        self.seen_levels_ = {k: v for k, v in self.seen_levels_.items() if k in self.levels_}
        self.spec_ = FeatureSpec([infos[n] for n in encoded.columns if n not in self.dropped_])
        self.n_leads_fit_ = len(leads)
        return self

    # -------------------------------------------------------------------------------- decay
    def _layers(self, leads: pd.DataFrame, as_of: pd.Series | pd.Timestamp):
        """(row positions, their lead ids, their as_of) per layer of distinct leads."""
        grid = self._rows_as_of(leads, as_of)
        layer = (leads.groupby("lead_id", sort=False).cumcount().to_numpy() if grid
                 else np.zeros(len(leads), dtype=np.int64))
        for k in np.unique(layer):
            idx = np.flatnonzero(layer == k)
            ids = pd.Index(leads["lead_id"].to_numpy()[idx]).astype(str)
            at = pd.Series(as_of.to_numpy()[idx], index=ids) if grid else as_of
            yield idx, ids, at

    def _signal_events(self, leads: pd.DataFrame, activities: pd.DataFrame | None,
                       as_of: pd.Series | pd.Timestamp, signals: list[str]) -> SignalEvents:
        """The decay signals' events of these rows, positions in ``leads`` order."""
        parts = []
        for idx, ids, at in self._layers(leads, as_of):
            ev = signal_events(ids, activities, at, self._settings(), self.activity_types_,
                               signals)
            parts.append((idx[ev.pos], ev))
        weight = None if any(ev.weight is None for _, ev in parts) else \
            np.concatenate([ev.weight for _, ev in parts])
        return SignalEvents(np.concatenate([p for p, _ in parts]),
                            np.concatenate([ev.age_days for _, ev in parts]),
                            np.concatenate([ev.code for _, ev in parts]), len(signals), weight)

    def decayed_columns(self, leads: pd.DataFrame, activities: pd.DataFrame | None,
                        as_of: pd.Series | pd.Timestamp) -> np.ndarray:
        """The ``decayed_<signal>`` columns of these rows at the fitted half-lives, computed as
        :meth:`transform` computes them (shape rows x signals, ``half_lives_`` order)."""
        signals = list(self.half_lives_)
        out = np.zeros((len(leads), len(signals)))
        for idx, ids, at in self._layers(leads, as_of):
            ev = signal_events(ids, activities, at, self._settings(), self.activity_types_,
                               signals)
            out[idx] = decayed_sums(ev, len(idx), [self.half_lives_[s] for s in signals])
        return out

    def numeric_design(self, X: pd.DataFrame, names: list[str] | None = None) -> np.ndarray:
        """Columns ``names`` of ``X`` as numbers (categoricals one-hot, numbers as signed log1p
        with a missing flag); by default what the decay learner holds fixed: the fit features
        and the lead's age."""
        cols: list[np.ndarray] = []
        if names is None:
            names = [f.name for f in self.spec_.by_group("fit")] + ["lead_age_days"]
        for name in names:
            if name not in X:
                continue
            values = X[name]
            if name in self.levels_:
                codes = values.cat.codes.to_numpy()
                cols += [(codes == k).astype(float) for k in range(len(self.levels_[name]))]
                continue
            x = values.to_numpy(dtype="float64")
            missing = np.isnan(x)
            x = np.where(missing, 0.0, x)
            if name == "lead_age_days" and len(np.unique(x)) <= 20:
                cols += [(x == a).astype(float) for a in np.unique(x)]  # grid ages
                continue
            cols.append(np.sign(x) * np.log1p(np.abs(x)))
            if missing.any():
                cols.append(missing.astype(float))
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def learn_decay(self, activities: pd.DataFrame | None, train: DecayPart,
                    valid: DecayPart, segment: str | None = None) -> FeatureBuilder:
        """Choose each ``decayed_<signal>``'s half-life on the validation rows
        (:func:`features.decay.learn_half_lives`); the user's half-lives stay.

        Called once, after :meth:`fit`, on the training and validation rows only (their labels
        and feature tables at the fallback half-life). With ``segment`` (a categorical feature,
        ``dataset.segment``) each signal's slope is fitted per segment, as the segment models
        may weigh it. Updates ``half_lives_``, ``decay_`` and the spec's reason templates;
        returns ``self``.
        """
        settings = self._settings()
        signals = [s for s in self.half_lives_ if DECAYED + s in self.spec_]
        if not signals:
            return self
        use = segment is not None and segment in self.levels_
        rows = [DecayRows(self._signal_events(p.leads, activities, p.as_of, signals),
                          self.numeric_design(p.X), np.asarray(p.y, dtype="float64"),
                          None if p.weight is None else np.asarray(p.weight, dtype="float64"),
                          np.maximum(p.X[segment].cat.codes.to_numpy(), 0) if use else None,
                          # the likelihood interval counts independent leads, not grid rows
                          float(p.leads["lead_id"].nunique()))
                for p in (train, valid)]
        choices = learn_half_lives(*rows, signals, grid=list(settings.half_life_grid_days),
                                   fallback=settings.half_life_days,
                                   given=dict(settings.half_lives),
                                   min_events=settings.decay_min_events)
        learned = {c.signal: c for c in choices}
        self.decay_ = [learned.get(c.signal, c) for c in self.decay_]
        self.half_lives_ = {c.signal: c.half_life_days for c in self.decay_}
        self.spec_ = FeatureSpec([self._describe(f.name) if f.name.startswith(DECAYED) else f
                                  for f in self.spec_])
        return self

    def drop_decay(self, why: str) -> list[str]:
        """Take the ``decayed_<signal>`` columns out of the table (the decay gate said no):
        they leave the spec, join ``dropped_`` with ``why``, and are no longer computed.
        ``decay_`` keeps how their half-lives were chosen. Returns the dropped names."""
        names = [DECAYED + s for s in self.half_lives_ if DECAYED + s in self.spec_]
        self.dropped_.update(dict.fromkeys(names, why))
        self.spec_ = FeatureSpec([f for f in self.spec_ if f.name not in names])
        self.half_lives_ = {}
        return names

    def _drop_copies(self, encoded: pd.DataFrame) -> None:
        """Drop, once, a column equal to an earlier kept one on every training row: the 30- and
        90-day windows are the same count when no row is older than 30 days, and two copies
        would split one factor's points between them."""
        kept: dict[bytes, str] = {}
        for name in encoded.columns:
            if name in self.dropped_ or name in self.levels_:
                continue
            # NaN as inf and 0.0 for -0.0, so equal columns hash equal
            values = np.where(np.isnan(encoded[name].to_numpy(dtype="float64")), np.inf,
                              encoded[name].to_numpy(dtype="float64")) + 0.0
            key = hashlib.blake2b(values.tobytes(), digest_size=16).digest()
            if key in kept:
                self.dropped_[name] = f"identical to {kept[key]} in the training leads"
            else:
                kept[key] = name

    def transform(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None,
                  as_of: pd.Series | pd.Timestamp | None = None,
                  unseen: dict[str, dict[str, int]] | None = None) -> pd.DataFrame:
        """The feature table of ``leads`` as of ``as_of``.

        Parameters
        ----------
        leads
            Leads to describe (any subset, any order; unique ``lead_id``).
        activities
            Activity log; may hold other leads' events and later events (ignored). ``None``
            means no events (every count 0).
        as_of
            Per-lead Series by lead_id, or one Timestamp (scoring: now). Required in events
            mode.
        unseen
            When given, filled with the categorical values never seen in training (they are
            encoded as ``other``), as ``{feature: {value: count}}``, for scoring's warnings.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``lead_id`` (str) in input order, columns ``spec_.names``: categoricals
            as ``pd.Categorical`` with the fitted categories, everything else float64.

        Raises
        ------
        ValueError
            Not fitted, invalid leads, a lead without as_of, or leads lacking a column the
            fitted table needs.
        """
        if not hasattr(self, "spec_"):
            raise ValueError("FeatureBuilder is not fitted: call fit() first")
        self._check_leads(leads, as_of)
        table = self._raw_table(leads, activities, as_of, self.activity_types_)
        missing = [n for n in self.spec_.names if n not in table.columns]
        if missing:
            raise ValueError(f"cannot build feature(s) {missing[:5]} from these leads: their "
                             "source column is missing")
        if unseen is not None:
            for name, seen in getattr(self, "seen_levels_", {}).items():
                if name not in table:
                    continue
                values = table[name].dropna().astype(str)
                fresh = values[~values.isin(seen)].value_counts()
                if len(fresh):
                    unseen[name] = {str(k): int(v) for k, v in fresh.items()}
        return self._encode(table, self.spec_.names)

    def fit_transform(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None,
                      as_of: pd.Series | pd.Timestamp | None = None) -> pd.DataFrame:
        """Fit on these leads and return their table."""
        return self.fit(leads, activities, as_of).transform(leads, activities, as_of)

    def get_feature_names_out(self) -> list[str]:
        """Output column names (scikit-learn convention)."""
        if not hasattr(self, "spec_"):
            raise ValueError("FeatureBuilder is not fitted: call fit() first")
        return self.spec_.names

    def __repr__(self) -> str:
        fitted = f", {len(self.spec_)} features" if hasattr(self, "spec_") else ""
        return f"FeatureBuilder(mode={self._settings().mode!r}{fitted})"


def describe_decayed(name: str, signal: str, half_life: float,
                     factor_names: dict[str, str] | None = None,
                     factor_templates: dict[str, str] | None = None) -> FeatureInfo:
    """Spec entry of ``decayed_<signal>``: the factor, measure and direction of the signal's
    window counts (so its points join that factor), a reason naming the half-life."""
    base = describe_feature(f"{signal}_30d", factor_names=factor_names)
    factor = (factor_names or {}).get(name) or base.factor
    days = "1 day" if half_life == 1 else f"{half_life:g} days"
    template = (factor_templates or {}).get(name) or (
        f"{factor}: {{value:.1f}} recency-weighted (half-life {days})")
    return FeatureInfo(name, factor, base.measure, base.group, "numeric", base.monotone,
                       template, zero=f"{factor}: none so far", count=True)
