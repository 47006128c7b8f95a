"""The scoring package: feature builder + scorer + calibrator + grade cuts travel as one object.

What training fits is exactly what batch scoring, the REST server and the notebook run, so there
is no train/serve skew. :meth:`ScoringPackage.score_leads` is the one per-batch function: the
local engine calls it per chunk, the Spark engine per partition, the MLflow pyfunc per request.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data.errors import ModelError
from pipeline.explain.grades import GradeCuts
from pipeline.explain.reasons import explain
from pipeline.explain.thresholds import BandCuts, MqlRule
from pipeline.scorers.base import BaseScorer
from pipeline.scorers.scaling import ScoreScale

# 4: score scale, learned bands and MQL line; 3: training ranges, seen levels, canonical bytes;
# 2: layered packages
PACKAGE_FORMAT = 4

OUTPUT_COLUMNS = [
    "lead_id", "score", "probability", "percentile", "band", "grade", "engagement_level", "mql",
    "status", "status_reason", "reason_1", "reason_2", "reason_3",
]
ACTIVE, DISQUALIFIED = "active", "disqualified"
POINTS_PREFIX = "points:"  # factor score point columns of score_features(factor_points=True)


def settings_fingerprint(settings: Any) -> str:
    """Short hash of the feature settings: a model only scores tables built the same way."""
    text = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class ScoringPackage:
    """Everything needed to turn raw leads (+ activities) into explained scores."""

    dataset: str
    mode: str
    builder: Any  # features.build.FeatureBuilder (fitted)
    scorer: BaseScorer
    grade_cuts: GradeCuts
    scale: ScoreScale
    bands: BandCuts
    mql: MqlRule
    top_reasons: int = 3
    settings_hash: str = ""
    reference: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    disqualify: dict[str, Any] = field(default_factory=dict)
    format: int = PACKAGE_FORMAT

    @property
    def spec(self):
        """Feature spec of the scorer."""
        return self.scorer.spec

    def check_settings(self, settings: Any, source: str = "config") -> None:
        """Refuse to score with a config whose feature settings differ from training's."""
        if self.settings_hash and settings_fingerprint(settings) != self.settings_hash:
            raise ModelError(
                f"{source}: features section differs from the one model "
                f"'{self.metadata.get('name', self.dataset)}' was trained with; retrain or use "
                "the training config"
            )

    def features(self, leads: pd.DataFrame, activities: pd.DataFrame | None,
                 as_of: pd.Series | pd.Timestamp | None,
                 unseen: dict[str, dict[str, int]] | None = None) -> pd.DataFrame:
        """The feature table of these leads as of ``as_of`` (``unseen``: see the builder)."""
        try:
            return self.builder.transform(leads, activities, as_of, unseen=unseen)
        except ValueError as exc:
            if "cannot build feature" not in str(exc):
                raise
            raise ModelError(f"model '{self.metadata.get('name', self.dataset)}': {exc}; add "
                             "the column to the input or retrain without it") from None

    def disqualified(self, X: pd.DataFrame, lead_age_days: np.ndarray | None = None
                     ) -> np.ndarray:
        """Why each lead is disqualified (``""`` when it is not), from ``disqualify`` settings.

        Inactive: no activity for longer than ``inactive_days`` (a lead never active counts from
        its creation, ``lead_age_days``). Hard negatives: every listed feature present (> 0).
        """
        reasons = np.full(len(X), "", dtype=object)
        # Packages pickled before disqualification existed have no settings: nobody is.
        rules = getattr(self, "disqualify", None) or {}
        limit = rules.get("inactive_days")
        if limit and "days_since_last_activity" in X.columns:
            idle = X["days_since_last_activity"].to_numpy(dtype="float64")
            if lead_age_days is not None:
                idle = np.where(np.isnan(idle), np.asarray(lead_age_days, dtype="float64"), idle)
            hit = np.nan_to_num(idle, nan=0.0) > limit
            reasons[hit] = [f"inactive for {d:.0f} days (limit {limit:g})" for d in idle[hit]]
        hard = [f for f in rules.get("hard_negatives", []) if f in X.columns]
        if hard:
            present = np.logical_and.reduce(
                [X[f].fillna(0).to_numpy(dtype="float64") > 0 for f in hard])
            text = " and ".join(self.spec[f].factor.lower() for f in hard)
            reasons[present] = [f"{r}; {text}" if r else text for r in reasons[present]]
        return reasons

    def shown(self, p: np.ndarray) -> pd.DataFrame:
        """Displayed score, percentile, band and MQL flag of calibrated probabilities ``p``."""
        p = np.asarray(p, dtype="float64")
        score = self.scale.display(p)
        return pd.DataFrame({"score": score, "probability": p,
                             "percentile": self.scale.percentile(p),
                             "band": self.bands.band(p, score), "mql": self.mql.flags(p)})

    def score_features(self, X: pd.DataFrame, explain_leads: bool = True,
                       lead_age_days: np.ndarray | None = None,
                       factor_points: bool = False) -> pd.DataFrame:
        """Score an already built feature table (see :meth:`score_leads`).

        ``factor_points`` (with ``explain_leads``) adds each factor's score points as columns
        ``points:<factor>`` (what the account roll-up sums).
        """
        proba = self.scorer.predict_proba(X)[:, 1]
        out = self.shown(proba)
        out.insert(0, "lead_id", X.index.astype(str))
        why = self.disqualified(X, lead_age_days)
        out["status"] = np.where(why != "", DISQUALIFIED, ACTIVE)
        out["status_reason"] = why
        if explain_leads:
            expl = explain(self.scorer, X, self.grade_cuts, top=self.top_reasons, proba=proba,
                           kinds=("reason",))
            out["grade"] = expl.grade
            out["engagement_level"] = expl.engagement_level
            for k in range(1, 4):
                col = f"reason_{k}"
                out[col] = expl.reasons[col].to_numpy() if col in expl.reasons else ""
        else:
            out["grade"] = None
            out["engagement_level"] = np.nan
            for k in range(1, 4):
                out[f"reason_{k}"] = None
        out["engagement_level"] = pd.array(out["engagement_level"], dtype="Int64")
        out = out[OUTPUT_COLUMNS].reset_index(drop=True)
        if factor_points and explain_leads:
            factors = [f for f in expl.points.columns if f in set(self.spec.factors)]
            points = expl.points[factors].add_prefix(POINTS_PREFIX).reset_index(drop=True)
            out = pd.concat([out, points], axis=1)
        return out

    def score_leads(
        self,
        leads: pd.DataFrame,
        activities: pd.DataFrame | None,
        as_of: pd.Series | pd.Timestamp | None,
        explain_leads: bool = True,
    ) -> pd.DataFrame:
        """Score canonical leads: one output row per input lead, in input order.

        Columns: ``lead_id, score, probability, percentile, band, grade, engagement_level, mql,
        status, status_reason, reason_1..3``: ``score`` on the package's scale
        (``scoring.scale``), ``probability`` the calibrated probability unrounded.
        """
        X = self.features(leads, activities, as_of)
        return self.score_features(X, explain_leads, lead_age_days(leads, as_of))

    def save(self, path: str | Path) -> None:
        """Pickle atomically, in canonical bytes (see :func:`canonical_bytes`)."""
        from pipeline.data.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_bytes(canonical_bytes(self))


class _CanonicalPickler(pickle._Pickler):  # type: ignore[name-defined]
    """The pure-Python pickler with sets written in sorted order.

    The C pickler writes a set in hash order, and string hashes are salted per process, so two
    identical trainings gave different bytes (pydantic's ``__pydantic_fields_set__`` is a set)
    and a different ``file:<sha>`` model version. The C pickler offers no hook for sets
    (``reducer_override`` and ``dispatch_table`` are not consulted for them); the Python one does.
    """

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_sorted(self, obj: set | frozenset) -> None:
        self.save_reduce(type(obj), (sorted(obj, key=repr),), obj=obj)

    dispatch[set] = _save_sorted
    dispatch[frozenset] = _save_sorted


def canonical_bytes(obj: Any) -> bytes:
    """``obj`` pickled so that equal content gives equal bytes in any process."""
    import io

    buffer = io.BytesIO()
    _CanonicalPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def lead_age_days(leads: pd.DataFrame, as_of: pd.Series | pd.Timestamp | None
                  ) -> np.ndarray | None:
    """Days from each lead's creation to its as-of time (``None`` without both)."""
    if as_of is None or "created_at" not in leads:
        return None
    created = pd.to_datetime(leads["created_at"]).reset_index(drop=True)
    if isinstance(as_of, pd.Series):
        as_of = pd.to_datetime(as_of.reindex(leads["lead_id"].astype(str).to_numpy())
                               ).reset_index(drop=True)
    return ((as_of - created).dt.total_seconds() / 86400.0).to_numpy()


def load_package(path: str | Path) -> ScoringPackage:
    """Load a pickled package, refusing other formats with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found (run `leadscore train` first)")
    try:
        with open(path, "rb") as fh:
            package = pickle.load(fh)
    except (ModuleNotFoundError, AttributeError) as exc:
        if "'pipeline." in str(exc) or "'features." in str(exc):
            # a package pickled by an earlier LeadScore names classes that have moved since
            raise ModelError(f"{path}: written by an earlier LeadScore (model format older than "
                             f"{PACKAGE_FORMAT}): retrain with `leadscore train`") from None
        raise ModelError(f"{path}: not a LeadScore model ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the same user problem
        raise ModelError(f"{path}: not a LeadScore model ({type(exc).__name__})") from None
    if not isinstance(package, ScoringPackage):
        raise ModelError(f"{path}: not a LeadScore model")
    if getattr(package, "format", None) != PACKAGE_FORMAT:
        raise ModelError(
            f"{path}: model format {getattr(package, 'format', '?')}, this LeadScore reads "
            f"{PACKAGE_FORMAT} (format 4 added the score scale, learned bands and the MQL "
            "line): retrain with `leadscore train`"
        )
    return package
