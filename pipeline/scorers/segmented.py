"""Per-segment scorers (e.g. one per product line) behind the one scorer interface.

Buyers of different product lines respond to different signals, so a model per line can beat one
global model that sees the line only as a feature; or it can overfit a small line. The
:class:`SegmentedScorer` fits both and lets the validation leads decide, segment by segment:

* the global scorer is fitted on every training lead (the segment is one of its features);
* a segment with fewer training conversions than ``min_conversions``, or fewer validation
  conversions than ``min_valid_conversions``, keeps the global scorer, with the reason recorded in
  ``selection_``;
* otherwise the segment's scorer *refines* the global one: a LightGBM model continues boosting
  from the global model's trees on that segment's training leads only (early stopping on that
  segment's validation leads; its own calibrator or the global one, whichever has the lower
  Brier on the segment's validation leads), so it starts from everything the whole history
  taught and adds only what is specific to the segment. It is kept only if its validation ROC-AUC
  beats the global scorer's on the same leads by ``min_gain``. The segment's own validation leads
  also chose its early stopping, which flatters it a little; ``min_gain`` is the guard, and the
  test split, which neither saw, reports the honest per-segment comparison.

Why refine rather than fit each segment from scratch: on the demo world, independent models per
product line lost to the global model on all three lines (validation AUC 0.826 vs 0.829, 0.877 vs
0.886, 0.738 vs 0.776): a line's own leads are too few to relearn what all lines share. A scorer
without an ``init_model`` parameter (e.g. the rules) is fitted from scratch per segment.

Each lead is routed by its value of the segment feature; unseen values go to the global scorer.
Factor points stay additive on one common base score (the global scorer's): for a lead routed to
a segment scorer, the difference between that segment's base score and the global one is added to
the segment feature's factor ("Product line: academy +3"), which is what being in that segment is
worth before any other evidence.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import brier_score_loss, roc_auc_score

from pipeline.scorers.base import INTERACTION, BaseScorer

GLOBAL = "global"


def _plain(scorer: BaseScorer) -> bool:
    """Fitted and scored the way :class:`BaseScorer` does: its probabilities are its calibrator
    on its raw values, so raw values computed once serve every comparison."""
    return type(scorer).fit is BaseScorer.fit and \
        type(scorer).predict_proba is BaseScorer.predict_proba


def _fit_valid_raw(scorer: BaseScorer, X, y, X_valid, y_valid, weight) -> np.ndarray | None:
    """Fit ``scorer``; its raw values on the validation rows when it is :func:`_plain`.

    Predicting the validation rows once (the calibrator is fitted on them anyway) instead of
    again for the calibrator choice and both AUCs: per-row predictions of a subset are the same
    bits as of the whole, so the choices are unchanged.
    """
    if _plain(scorer):
        return scorer.fit_valid_raw(X, y, X_valid, y_valid, sample_weight=weight)
    scorer.fit(X, y, X_valid, y_valid, sample_weight=weight)
    return None


def _valid_proba(scorer: BaseScorer, raw: np.ndarray | None, rows, X_valid) -> np.ndarray:
    """Calibrated probabilities of validation rows (``rows`` of ``raw``, or all of it)."""
    if raw is None:
        part = X_valid if rows is None else X_valid[rows]
        return scorer.predict_proba(part)[:, 1]
    return scorer.calibrator_(raw if rows is None else raw[rows])


class SegmentedScorer(BaseScorer):
    """A global scorer plus, where they win on validation, one scorer per segment.

    Parameters
    ----------
    template
        Unfitted scorer (e.g. a :class:`~pipeline.scorers.lightgbm.LeadScorer`) cloned for the
        global and every segment model.
    segment
        Feature (a categorical column of the table) whose value routes each lead.
    min_conversions
        Fewest training conversions a segment needs for a model of its own.
    min_valid_conversions
        Fewest validation conversions a segment needs: its early stopping, calibrator and the
        comparison itself are fitted on them.
    min_gain
        Validation ROC-AUC a segment model must gain over the global one to be kept.
    """


    def __init__(self, template: BaseScorer, segment: str, min_conversions: int = 30,
                 min_valid_conversions: int = 25, min_gain: float = 0.0):
        self.template = template
        self.segment = segment
        self.min_conversions = min_conversions
        self.min_valid_conversions = min_valid_conversions
        self.min_gain = min_gain

    @property
    def spec(self):
        """Feature spec (the template's: every sub-scorer reads the same table)."""
        return self.template.spec

    def fit(self, X: pd.DataFrame, y: pd.Series, X_valid: pd.DataFrame,
            y_valid: pd.Series, sample_weight: np.ndarray | None = None) -> SegmentedScorer:
        """Fit the global scorer, then each segment's, and keep the winner per segment."""
        if self.segment not in X.columns:
            raise ValueError(f"segment feature {self.segment!r} is not in the feature table")
        y, y_valid = np.asarray(y), np.asarray(y_valid)
        weight = None if sample_weight is None else np.asarray(sample_weight)
        self.global_ = clone(self.template)
        global_raw = _fit_valid_raw(self.global_, X, y, X_valid, y_valid, weight)
        self.scorers_: dict[str, BaseScorer] = {}
        rows: list[dict[str, Any]] = []
        train_seg, valid_seg = self._keys(X), self._keys(X_valid)
        for level in sorted(set(train_seg) - {"nan"}):
            m, mv = train_seg == level, valid_seg == level
            row: dict[str, Any] = {
                "segment": level, "train_leads": int(m.sum()),
                "train_conversions": int(y[m].sum()), "valid_leads": int(mv.sum()),
                "valid_conversions": int(y_valid[mv].sum()),
            }
            if row["train_conversions"] < self.min_conversions:
                row.update(choice=GLOBAL, reason=f"{row['train_conversions']} training "
                           f"conversions, fewer than the minimum {self.min_conversions}")
            elif row["valid_conversions"] < self.min_valid_conversions or \
                    row["valid_conversions"] == row["valid_leads"]:
                row.update(choice=GLOBAL, reason=f"{row['valid_conversions']} validation "
                           f"conversions, fewer than the minimum {self.min_valid_conversions} "
                           "for a calibrator of its own")
            else:
                own = clone(self.template)
                refined = "init_model" in own.get_params() and hasattr(self.global_, "booster_")
                if refined:
                    own.set_params(init_model=self.global_.booster_)
                own_raw = _fit_valid_raw(own, X[m], y[m], X_valid[mv], y_valid[mv],
                                         None if weight is None else weight[m])
                row["calibration"] = "own"
                if refined:
                    raw = own.decision_function(X_valid[mv]) if own_raw is None else own_raw
                    row["calibration"] = self._calibrator_choice(own, raw, y_valid[mv])
                auc_global = roc_auc_score(y_valid[mv], _valid_proba(
                    self.global_, global_raw, mv, X_valid))
                auc_own = roc_auc_score(y_valid[mv], _valid_proba(own, own_raw, None,
                                                                  X_valid[mv]))
                row.update(valid_auc_global=float(auc_global), valid_auc_segment=float(auc_own))
                if auc_own > auc_global + self.min_gain:
                    self.scorers_[level] = own
                    row.update(choice="segment", reason=f"validation AUC {auc_own:.3f} vs "
                               f"global {auc_global:.3f}")
                else:
                    row.update(choice=GLOBAL, reason=f"segment model not better on validation "
                               f"(AUC {auc_own:.3f} vs global {auc_global:.3f})")
            rows.append(row)
        self.selection_ = pd.DataFrame(rows)
        self.calibrator_ = self.global_.calibrator_
        self.base_raw_ = self.global_.base_raw_
        self.classes_ = np.array([0, 1])
        return self

    def _calibrator_choice(self, own: BaseScorer, own_raw: np.ndarray,
                           y_valid: np.ndarray) -> str:
        """Keep the segment's own calibrator or the global one, by Brier on validation.

        A refined model lives in the global model's log-odds, so the calibrator fitted on every
        validation lead can serve it, and one fitted on the segment's few dozen conversions may
        be noisier. The segment's validation leads decide, never the test leads: the own
        calibrator by its cross-validated Brier (judged in-sample it would always win), the
        global one by its Brier on these leads (fitted on all validation leads, these included).
        """
        shared = self.global_.calibrator_
        global_brier = brier_score_loss(y_valid, shared(own_raw))
        if global_brier <= min(own.calibrator_.cv_brier_.values()):
            own.calibrator_ = shared
            return "global"
        return "own"

    def _keys(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.segment].astype(object).astype(str).to_numpy()

    def routes(self, X: pd.DataFrame) -> list[tuple[BaseScorer, np.ndarray]]:
        """(scorer, row positions) for every scorer that receives some of ``X``'s leads."""
        keys = self._keys(X)
        routed = np.zeros(len(X), dtype=bool)
        out = []
        for level, scorer in self.scorers_.items():
            rows = np.flatnonzero(keys == level)
            routed[rows] = True
            if rows.size:
                out.append((scorer, rows))
        rest = np.flatnonzero(~routed)
        if rest.size or not out:
            out.append((self.global_, rest))
        return out

    def scorer_names(self, X: pd.DataFrame) -> np.ndarray:
        """Which scorer each lead is routed to (``global`` or its segment)."""
        names = np.full(len(X), GLOBAL, dtype=object)
        keys = self._keys(X)
        for level in self.scorers_:
            names[keys == level] = level
        return names

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability from each lead's own scorer."""
        p = np.empty(len(X), dtype="float64")
        for scorer, rows in self.routes(X):
            if rows.size:
                p[rows] = scorer.predict_proba(X.iloc[rows])[:, 1]
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Each lead's raw value from its own scorer (log-odds for refined LightGBM models)."""
        raw = np.empty(len(X), dtype="float64")
        for scorer, rows in self.routes(X):
            if rows.size:
                raw[rows] = scorer.decision_function(X.iloc[rows])
        return raw

    def explain_points(self, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per-feature shares on the global base raw value, and factor points on its base score.

        A lead routed to a segment scorer gets that scorer's shares, plus what being in the
        segment is worth before any other evidence (its base minus the global base) on the
        segment feature: so ``base_raw_ + shares.sum(axis=1) == decision_function(X)`` for every
        lead, as for any scorer, and the points add up to the score on one common base score.
        """
        shares = pd.DataFrame(0.0, index=X.index, columns=list(self.spec.names))
        points = pd.DataFrame(0.0, index=X.index, columns=[*self.spec.factors, INTERACTION])
        base = self.global_.base_score_
        segment_factor = self.spec.factor_of(self.segment)
        for scorer, rows in self.routes(X):
            if not rows.size:
                continue
            part_shares, part_points = scorer.explain_points(X.iloc[rows])
            part_shares = part_shares.copy()
            part_shares[self.segment] += scorer.base_raw_ - self.base_raw_
            part_points = part_points.copy()
            part_points[segment_factor] += part_points.attrs["base_score"] - base
            shares.iloc[rows] = part_shares[shares.columns].to_numpy()
            points.iloc[rows] = part_points[points.columns].to_numpy()
        points.attrs["base_score"] = base
        return shares, points

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """Per-feature shares on the global base (see :meth:`explain_points`)."""
        return self.explain_points(X)[0], self.base_raw_

    def factor_points(self, X: pd.DataFrame, shares: pd.DataFrame | None = None) -> pd.DataFrame:
        """Score points per factor on the global base score (``shares`` is not used)."""
        return self.explain_points(X)[1]

    def recalibrated(self, X: pd.DataFrame, y) -> SegmentedScorer:
        """A copy with one calibrator refitted on these rows and shared by every route.

        A refined segment model lives in the global model's log-odds (as
        :meth:`_calibrator_choice` relies on), and a segment's share of a month of recent leads
        is too few conversions for a calibrator of its own.
        """
        shared = self.global_.fit_calibrator(self.decision_function(X), y)

        def moved(scorer: BaseScorer) -> BaseScorer:
            scorer = copy.copy(scorer)
            scorer.calibrator_ = shared
            return scorer

        new = copy.copy(self)
        new.global_ = moved(self.global_)
        new.scorers_ = {level: moved(scorer) for level, scorer in self.scorers_.items()}
        new.calibrator_ = shared
        return new

    # -- hooks ----------------------------------------------------------------------------------
    def training_lines(self) -> list[str]:
        """Which model each segment uses, and why."""
        return [f"segment {self.segment}={row.segment}: {row.choice} model ({row.reason})"
                for row in self.selection_.itertuples()]

    def notes(self) -> list[str]:
        """Segments that fell back to the global model."""
        return [f"segment {self.segment}={row.segment} uses the global model: {row.reason}"
                for row in self.selection_.itertuples() if row.choice != "segment"]

    def fit_metrics(self) -> dict[str, float]:
        """The global model's fit figures."""
        return self.global_.fit_metrics()

    def tracking_params(self) -> dict[str, str]:
        """The global model's parameters (segment models continue from it)."""
        return self.global_.tracking_params()

    def tracking_tables(self) -> dict[str, object]:
        """The per-segment choices."""
        return {"segments.json": self.selection_.to_dict("records")}

    def segment_view(self, X: pd.DataFrame):
        """Segment of each lead, the global model's probabilities, each segment's choice."""
        chosen = dict(zip(self.selection_["segment"], self.selection_["choice"], strict=True))
        return (self._keys(X), {"global_model": self.global_.predict_proba(X)[:, 1]}, chosen)

    def tuning_target(self) -> BaseScorer | None:
        """The template's target: tuning searches the global model every segment refines."""
        return self.template.tuning_target()
