"""``LeadScoreClassifier``: the project's scorers as one scikit-learn classifier.

``fit(X, y)`` takes a feature table (what ``leadscore features`` writes, read with
:func:`read_feature_table`, or any frame of feature columns), holds out its own validation rows
and hands both parts to a scorer kind of :mod:`pipeline.scorers.kinds` (the ``model`` kind by
default: the same choice, early stopping and calibration ``leadscore train`` runs). Nothing is
re-implemented here: the estimator only adapts the scorer contract (``fit(X, y, X_valid,
y_valid)``, a 0-100 ``score``) to scikit-learn's (``fit(X, y)``, ``score`` as mean accuracy), so
``clone``, ``cross_val_score``, ``CalibrationDisplay`` and ``permutation_importance`` work.

The validation rows are the newest ``validation_fraction`` of the rows by ``time_column`` when
one is given (as ``train`` splits in time), else a stratified random share; ``eval_set`` replaces
them. On an as_of grid (several rows per lead) neither keeps a lead's rows together: pass
``eval_set``, or a grouped cross-validation (``GroupKFold`` on ``lead_id``), to judge on unseen
leads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d

from features.spec import FeatureSpec, describe_feature

#: Parquet metadata key of the feature spec ``leadscore features`` writes.
SPEC_KEY = b"leadscore.spec"
SPEC_ATTR = "leadscore.spec"
#: Columns of a ``leadscore features`` table that are not features.
ROLE_COLUMNS = ("row", "lead_id", "as_of", "label", "split", "age", "weight")


def read_feature_table(path: str | Path, time_column: str | None = "as_of"
                       ) -> tuple[pd.DataFrame, pd.Series]:
    """``(X, y)`` from a ``leadscore features`` file, both indexed by ``lead_id`` (the groups of
    a ``GroupKFold``: on an as_of grid a lead has several rows): the feature columns plus
    ``time_column`` (for :class:`LeadScoreClassifier`'s time-ordered validation rows), and the
    label.

    The spec in the file's metadata goes with ``X`` (``X.attrs``), so the classifier learns each
    column's business factor and monotone direction exactly as ``leadscore train`` does.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    frame = table.to_pandas()
    frame = frame.set_index(pd.Index(frame["lead_id"].astype(str), name="lead_id"))
    X = frame[[c for c in frame.columns if c not in ROLE_COLUMNS or c == time_column]]
    if SPEC_KEY in meta:
        # as text: pandas deep-copies attrs on every column access, a string costs nothing
        X.attrs[SPEC_ATTR] = meta[SPEC_KEY].decode()
    return X, frame["label"].rename("label")


def _config(config: Any) -> Any:
    from pipeline.data.config import Config, load_config, packaged_defaults_path

    if isinstance(config, Config):
        return config
    if isinstance(config, str | Path):
        return load_config(config)
    # a dataset stub: the scorers read the model sections, never the dataset or its split
    stub = {"dataset": {"name": "estimator", "mode": "flat", "leads": "-"},
            "split": {"method": "random"}}
    return load_config(packaged_defaults_path(), {**stub, **dict(config or {})})


def _spec_of(X: pd.DataFrame, columns: list[str], spec: Any) -> FeatureSpec:
    if isinstance(spec, FeatureSpec):
        found = spec
    elif spec is not None or SPEC_ATTR in X.attrs:
        found = FeatureSpec.from_dict(spec if spec is not None
                                      else json.loads(X.attrs[SPEC_ATTR]))
    else:
        # the catalogue's tags for the project's own feature names; a plain numeric column
        # otherwise (no monotone constraint)
        found = FeatureSpec([describe_feature(
            c, dtype=None if pd.api.types.is_numeric_dtype(X[c]) else "categorical")
            for c in columns])
    unknown = [c for c in columns if c not in found]
    if unknown:
        raise ValueError(f"X has columns the feature spec does not describe: {unknown} (drop "
                         "them, or name the as_of column as time_column)")
    # a table may keep only some of its features: the spec of the ones it kept
    return found.without(set(found.names) - set(columns))


class LeadScoreClassifier(ClassifierMixin, BaseEstimator):
    """A scorer kind of LeadScore as a scikit-learn binary classifier.

    Parameters
    ----------
    kind
        The scorer kind fitted (:func:`pipeline.scorers.kinds.names`): ``model`` (the default,
        what ``leadscore train`` ships) or ``learned_points``; ``rules`` reads the config's
        ``rules:`` file.
    config
        Where the scorer's settings come from: ``None`` for the packaged defaults
        (``pipeline/data/defaults.yaml``), a mapping of overrides on top of them (e.g.
        ``{"model": {"n_estimators": 100}}``), a dataset config path, or a loaded ``Config``.
    spec
        The feature spec (a :class:`~features.spec.FeatureSpec` or its dict); ``None``: the one
        :func:`read_feature_table` put in ``X.attrs``, else tags from the feature catalogue by
        column name.
    time_column
        Column of ``X`` holding each row's as_of (not a feature): the newest rows become the
        validation rows. ``None``: a stratified random share.
    validation_fraction
        Share of the rows held out for early stopping, the model choice and the calibrator
        (ignored with ``eval_set``).
    random_state
        Seed of the held-out share and the scorer; ``None``: the config's ``seed`` (42 by
        default).

    Notes
    -----
    ``predict`` says 1 where the calibrated probability is at least 0.5, the rule that maximises
    the accuracy ``score`` reports; LeadScore's MQL line is a capacity or precision choice made
    by ``leadscore train`` (set your own with ``FixedThresholdClassifier``). ``lead_score`` gives
    the 0-100 score on the config's ``scoring.scale``, fitted on the training rows as ``train``
    does.
    """

    def __init__(self, kind: str = "model", config: Any = None, spec: Any = None,
                 time_column: str | None = None, validation_fraction: float = 0.2,
                 random_state: int | None = None):
        self.kind = kind
        self.config = config
        self.spec = spec
        self.time_column = time_column
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, sample_weight: np.ndarray | None = None,
            eval_set: tuple[pd.DataFrame, Any] | None = None) -> LeadScoreClassifier:
        """Fit the scorer kind on ``X`` minus its held-out validation rows (or on all of ``X``,
        validated on ``eval_set = (X_valid, y_valid)``)."""
        from pipeline.scorers import kinds
        from pipeline.scorers.rules import RulesBook, load_rules
        from pipeline.scorers.scaling import ScoreScale

        if y is None:
            raise ValueError("LeadScoreClassifier requires y to be passed, but the target y is "
                             "None")
        X = self._frame(X, fitting=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) != 2:
            raise ValueError(f"Only binary classification is supported (converted or not): y "
                             f"holds {len(classes)} classes")
        if len(encoded) != len(X):
            raise ValueError(f"X has {len(X)} rows, y {len(encoded)}")
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        features = [c for c in X.columns if c != self.time_column]
        self.spec_ = _spec_of(X, features, self.spec)
        self.categories_ = {c: X[c].astype("category").cat.categories for c in self.spec_.names
                            if self.spec_[c].dtype == "categorical"}
        config = _config(self.config)
        seed = config.seed if self.random_state is None else int(self.random_state)
        config = config.model_copy(update={"seed": seed})
        weight = None if sample_weight is None else \
            _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        fit_rows, valid_rows = self._holdout(X, encoded, seed, eval_set)
        self.validation_rows_ = valid_rows  # positions in X (empty with eval_set)
        X_fit, y_fit = self._features(X.iloc[fit_rows]), encoded[fit_rows]
        if eval_set is None:
            X_valid, y_valid = self._features(X.iloc[valid_rows]), encoded[valid_rows]
        else:
            X_valid = self._features(self._frame(eval_set[0]))
            y_valid = (np.asarray(eval_set[1]) == classes[1]).astype("int64")
        for part, labels in (("training", y_fit), ("validation", y_valid)):
            if len(np.unique(labels)) < 2:
                raise ValueError(f"the {part} rows hold one class only ({len(labels)} rows): "
                                 "give more rows or a larger validation_fraction")
        time = None if self.time_column is None else \
            pd.to_datetime(X[self.time_column]).set_axis(X.index)
        ctx = kinds.ScorerContext(
            config=config, spec=self.spec_,
            rules=load_rules(config.rules) if config.rules else RulesBook(),
            windows=tuple(config.features.windows_days),
            row_time=None if time is None else time.iloc[fit_rows])
        self.scorer_ = kinds.get(self.kind).build(ctx).fit(
            X_fit, y_fit, X_valid, y_valid,
            sample_weight=None if weight is None else weight[fit_rows])
        self.scale_ = ScoreScale.fit(config.scoring.scale, self.scorer_.predict_proba(X_fit)[:, 1],
                                     config.scoring.odds.model_dump())
        return self

    def _holdout(self, X: pd.DataFrame, y: np.ndarray, seed: int, eval_set: Any
                 ) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(X))
        if eval_set is not None:
            return rows, rows[:0]
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction {self.validation_fraction}: must lie in (0, 1)")
        if self.time_column is None:
            fit_rows, valid_rows = train_test_split(
                rows, test_size=self.validation_fraction, stratify=y, random_state=seed)
            return np.sort(fit_rows), np.sort(valid_rows)
        # the newest rows validate, as the time split of `leadscore train` does
        order = np.argsort(pd.to_datetime(X[self.time_column]).to_numpy(), kind="stable")
        cut = len(X) - int(np.ceil(self.validation_fraction * len(X)))
        return np.sort(order[:cut]), np.sort(order[cut:])

    # -- inputs ---------------------------------------------------------------------------------
    def _frame(self, X: Any, fitting: bool = False) -> pd.DataFrame:
        """``X`` as a frame with a fresh row index (the scorers key rows by it)."""
        from scipy.sparse import issparse

        if issparse(X):
            raise TypeError("sparse input is not supported by LeadScoreClassifier: pass a frame")
        if not isinstance(X, pd.DataFrame):
            array = np.asarray(X)
            if array.ndim != 2:
                raise ValueError(f"X must be 2-dimensional, got shape {array.shape}")
            names = [f"x{i}" for i in range(array.shape[1])] if fitting else \
                list(self.feature_names_in_)
            if not fitting and array.shape[1] != len(names):
                raise ValueError(f"X has {array.shape[1]} features, but LeadScoreClassifier is "
                                 f"expecting {len(names)} features as input")
            X = pd.DataFrame(array, columns=names)
        elif not all(isinstance(c, str) for c in X.columns):
            X = X.set_axis([str(c) for c in X.columns], axis=1)
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Found {X.shape[0]} sample(s) and {X.shape[1]} feature(s) (shape="
                             f"{X.shape}) while a minimum of 1 is required.")
        if fitting and self.time_column is not None and self.time_column not in X.columns:
            raise ValueError(f"time_column {self.time_column!r} is not a column of X")
        out = X.reset_index(drop=True)
        out.attrs = {key: value for key, value in X.attrs.items() if key == SPEC_ATTR}
        return out

    def _features(self, X: pd.DataFrame) -> pd.DataFrame:
        """The spec's columns in the spec's order, categoricals on the training categories."""
        missing = [c for c in self.spec_.names if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks feature columns: {missing}")
        out = X[self.spec_.names].copy()
        for column, categories in self.categories_.items():
            out[column] = pd.Categorical(out[column].astype(object).where(out[column].notna()),
                                         categories=categories)
        return out

    def _prepared(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "scorer_")
        return self._features(self._frame(X))

    # -- predictions ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated conversion probability, shape ``(n, 2)``: columns in :attr:`classes_`."""
        X = self._prepared(X)
        return self.scorer_.predict_proba(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """The scorer's additive raw value (log-odds or points); higher means more likely."""
        X = self._prepared(X)
        return np.asarray(self.scorer_.decision_function(X), dtype="float64")

    def predict(self, X: Any) -> np.ndarray:
        """The class with calibrated probability at least 0.5 (see the class notes)."""
        converts = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[converts.astype(int)]

    def lead_score(self, X: Any) -> np.ndarray:
        """The 0-100 lead score (whole numbers) on the config's ``scoring.scale``."""
        return self.scale_.display(self.predict_proba(X)[:, 1])

    def __sklearn_tags__(self):
        """Binary only; frames with categorical and missing values are welcome."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

