"""The contract every scorer shares: additive raw value -> calibrated probability -> 0-100 score.

Evaluation, explanation, tracking and batch scoring only talk to :class:`BaseScorer` and to the
kinds table (:mod:`pipeline.scorers.kinds`); they never ask which scorer they hold. A subclass
supplies ``_fit_raw`` (learn the additive raw model from the training rows),
``decision_function`` (raw value per lead) and ``contributions`` (each feature's raw share plus
the raw value of the average lead, exactly adding up to ``decision_function``). The base class
fits the calibrator on the validation rows and turns shares into score points per factor with
:func:`pipeline.scorers.scaling.shares_to_points`.

What differs between scorers beyond that (what training prints, what tracking logs, a per-segment
breakdown, a tunable search space, a points table) is asked through the hooks at the end of the
class, each with a neutral default, so that no caller needs to know the scorer's class.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from features.spec import FeatureSpec
from pipeline.scorers.calibration import Calibrator
from pipeline.scorers.scaling import score_from_proba, split_points

#: The points column of what fit and engagement add together beyond their separate effects
#: (see :func:`pipeline.scorers.scaling.split_points`): no factor of the spec, no grade axis.
INTERACTION = "Fit and engagement together"


class BaseScorer(BaseEstimator):
    """Shared scorer behaviour (scikit-learn estimator conventions: learned state ends in ``_``).

    Subclasses take ``spec`` (the :class:`~features.spec.FeatureSpec` of the feature table),
    ``calibration_methods``, ``cv_folds`` and ``random_state`` as parameters.
    """


    def fit(
        self, X: pd.DataFrame, y: pd.Series, X_valid: pd.DataFrame, y_valid: pd.Series,
        calibrator: Calibrator | None = None, sample_weight: np.ndarray | None = None,
        **fit_params,
    ) -> BaseScorer:
        """Fit the raw model on the training rows and the calibrator on the validation rows.

        ``calibrator``: an already fitted one to use instead (a model refined from another one
        shares its raw space, hence its calibrator). ``sample_weight``: the training rows' fit
        weights (an as_of grid's per-lead weights); the calibrator is fitted unweighted, on the
        rows as scoring will see them. ``fit_params`` go to the raw fit (e.g. the tuner's
        pruning callbacks).
        """
        if calibrator is None:
            self.fit_valid_raw(X, y, X_valid, y_valid, sample_weight=sample_weight, **fit_params)
            return self
        self.fit_raw(X, y, X_valid, y_valid, sample_weight=sample_weight, **fit_params)
        self.calibrator_ = calibrator
        self.classes_ = np.array([0, 1])
        return self

    def fit_valid_raw(self, X: pd.DataFrame, y: pd.Series, X_valid: pd.DataFrame,
                      y_valid: pd.Series, sample_weight: np.ndarray | None = None,
                      **fit_params) -> np.ndarray:
        """:meth:`fit` with a calibrator of its own; returns the validation rows' raw values it
        was fitted on, so a caller judging the scorer on those rows need not predict again."""
        self.fit_raw(X, y, X_valid, y_valid, sample_weight=sample_weight, **fit_params)
        raw = self.decision_function(X_valid)
        self.calibrator_ = self.fit_calibrator(raw, y_valid)
        self.classes_ = np.array([0, 1])
        return raw

    def fit_calibrator(self, raw: np.ndarray, y) -> Calibrator:
        """A calibrator of raw values to probabilities, chosen by this scorer's own rule (its
        ``calibration_methods``, by cross-validated Brier on these rows)."""
        return Calibrator(methods=self.calibration_methods, cv_folds=self.cv_folds,
                          random_state=self.random_state).fit(raw, np.asarray(y))

    def recalibrated(self, X: pd.DataFrame, y) -> BaseScorer:
        """A copy whose calibrator alone is refitted on these rows, the way :meth:`fit` fits it.

        The raw model is shared, not refitted: decision values and raw shares stay exactly the
        champion's, and the factor points follow the new calibrator, so they still add up to
        the new score. A monotone calibrator keeps the ranking of the raw values.
        """
        new = copy.copy(self)
        new.calibrator_ = self.fit_calibrator(self.decision_function(X), y)
        return new

    def fit_raw(self, X: pd.DataFrame, y: pd.Series, X_valid: pd.DataFrame, y_valid: pd.Series,
                sample_weight: np.ndarray | None = None, **fit_params) -> BaseScorer:
        """Fit the additive raw model only (no calibrator): what a tuning trial judges."""
        self._check_columns(X)
        self._check_columns(X_valid)
        if sample_weight is not None and len(sample_weight) != len(X):
            raise ValueError(f"{len(sample_weight)} sample weights for {len(X)} training rows")
        self._fit_raw(X, np.asarray(y), X_valid, np.asarray(y_valid),
                      sample_weight=sample_weight, **fit_params)
        return self

    def _check_columns(self, X: pd.DataFrame) -> None:
        expected = list(self.spec.names)
        if list(X.columns) != expected:
            missing = [c for c in expected if c not in X.columns]
            extra = [c for c in X.columns if c not in expected]
            raise ValueError(f"feature table does not match the spec: missing {missing}, "
                             f"unexpected {extra}")

    # -- to be supplied by subclasses -----------------------------------------------------------
    def _fit_raw(self, X, y, X_valid, y_valid, sample_weight=None,
                 **fit_params) -> None:  # pragma: no cover
        raise NotImplementedError

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        """Additive raw value per lead (log-odds or points)."""
        raise NotImplementedError

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:  # pragma: no cover
        """Per-feature raw shares and the raw value of the average lead."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probability, shape (n, 2) as scikit-learn expects."""
        p = self.calibrator_(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Integer score 0-100: the calibrated probability in percent."""
        return score_from_proba(self.predict_proba(X)[:, 1])

    @property
    def base_score_(self) -> float:
        """Score points of a lead with no evidence either way (the average lead's raw value)."""
        return 100.0 * float(self.calibrator_(np.array([self.base_raw_]))[0])

    def explain_points(self, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per-feature raw shares and per-factor score points (``attrs["base_score"]`` set).

        The one place explanations come from; a routing scorer (per segment) overrides it.
        """
        shares, _ = self.contributions(X)
        return shares, self.factor_points(X, shares)

    def factor_points(self, X: pd.DataFrame, shares: pd.DataFrame | None = None) -> pd.DataFrame:
        """Score points per business factor, plus the :data:`INTERACTION` column.

        The fit factors are moved through the calibrator with engagement at the base and the
        engagement factors with fit at the base, so the fit points of a lead never depend on its
        engagement (and back); :data:`INTERACTION` holds the rest, and each row adds up to
        ``score - base_score_`` (within 0.5).

        Parameters
        ----------
        X
            Feature table (spec columns).
        shares
            Precomputed per-feature raw shares (saves a second TreeSHAP pass).
        """
        if shares is None:
            shares, _ = self.contributions(X)
        factor_shares = factor_sum(shares, self.spec)
        group_of = {info.factor: info.group for info in self.spec.features}
        points, interaction, _ = split_points(
            factor_shares.to_numpy(), [group_of[f] for f in factor_shares.columns],
            self.base_raw_, self.calibrator_)
        out = pd.DataFrame(points, index=X.index, columns=factor_shares.columns)
        out[INTERACTION] = interaction
        out.attrs["base_score"] = self.base_score_
        return out

    # -- hooks: what callers may ask of any scorer (neutral defaults) ---------------------------
    def training_lines(self) -> list[str]:
        """Progress lines about what the fit chose (printed by ``train``)."""
        return []

    def notes(self) -> list[str]:
        """Caveats of the fit, kept in evaluation.json and the report."""
        return []

    def fit_metrics(self) -> dict[str, float]:
        """Numbers about the fit itself (e.g. boosting rounds), merged into its metrics."""
        return {}

    def tracking_params(self) -> dict[str, str]:
        """Parameters logged to MLflow for this scorer."""
        return {}

    def tracking_tables(self) -> dict[str, object]:
        """JSON-able tables logged to MLflow beside the scorer (file name -> content)."""
        return {}

    def segment_view(self, X: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                     dict[str, str]] | None:
        """Per-segment breakdown: (segment of each lead, extra probabilities by name, which
        model each segment uses), or ``None`` for a scorer without segments."""
        return None

    def tuning_target(self) -> BaseScorer | None:
        """The estimator whose parameters ``leadscore tune`` searches (``None``: not tunable)."""
        return None

    def points_book(self):
        """The points table a CRM can run (a :class:`~pipeline.scorers.rules.RulesBook`), if
        this scorer is one."""
        return None

    def selection(self) -> dict | None:
        """Which candidate a choosing scorer shipped and why (``None``: it chose nothing)."""
        return None

    def candidate_scorers(self) -> dict[str, BaseScorer]:
        """The fitted candidates a choosing scorer compared (empty: none)."""
        return {}


def monotone_directions(spec: FeatureSpec, overrides: dict[str, int] | None = None,
                        use_spec: bool = True) -> list[int]:
    """Monotone direction per column (the spec's, with the config's overrides): 0 for
    categoricals, which no scorer can constrain along an order they do not have."""
    unknown = sorted(set(overrides or {}) - set(spec.names))
    if unknown:
        raise ValueError(f"monotone constraints name unknown features: {unknown}")
    return [0 if info.dtype == "categorical" else
            int((overrides or {}).get(info.name, info.monotone if use_spec else 0))
            for info in spec.features]


def factor_sum(shares: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Sum per-feature columns into per-factor columns, in the spec's factor order."""
    factors = [spec.factor_of(c) for c in shares.columns]
    summed = shares.T.groupby(factors, sort=False).sum().T
    return summed.reindex(columns=list(spec.factors), fill_value=0.0)
