"""The scoring package as an MLflow pyfunc model (``mlflow models serve``, ``pyfunc.load_model``).

Input: one row per lead with the export's lead columns in canonical names (``lead_id``,
``created_at`` and the declared fit columns; PII columns may be present and are ignored), an
optional ``as_of`` (default: now), and in event mode an optional ``activities`` column holding the
lead's events as a JSON list of ``{"occurred_at", "activity_type", "detail", "channel"}`` objects,
so a CRM can send a lead with its recent history in one request. Output: ``lead_id, score,
probability, percentile, band, grade, engagement_level, mql, reason_1..3`` plus one
``points::<factor>`` column per business factor.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from pipeline.explain.package import lead_age_days

try:
    import mlflow.pyfunc

    PythonModel = mlflow.pyfunc.PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency
    PythonModel = object

ACTIVITIES_COLUMN = "activities"


def split_request(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None, Any]:
    """Separate a pyfunc request into canonical leads, activities and as_of."""
    leads = frame.copy()
    leads["lead_id"] = leads["lead_id"].astype(str)
    for column in ("created_at", "outcome_at"):
        if column in leads:
            leads[column] = pd.to_datetime(leads[column], utc=True).dt.tz_localize(None).astype(
                "datetime64[ns]")
    as_of = None
    if "as_of" in leads:
        as_of = pd.Series(
            pd.to_datetime(leads["as_of"], utc=True).dt.tz_localize(None).to_numpy(),
            index=pd.Index(leads["lead_id"], name="lead_id"),
        ).astype("datetime64[ns]")
        leads = leads.drop(columns="as_of")
    activities = None
    if ACTIVITIES_COLUMN in leads:
        rows = []
        for lead_id, payload in zip(leads["lead_id"], leads[ACTIVITIES_COLUMN], strict=True):
            if payload is None or (isinstance(payload, float) and np.isnan(payload)):
                continue
            events = json.loads(payload) if isinstance(payload, str) else payload
            for event in events:
                rows.append({"lead_id": lead_id, **event})
        leads = leads.drop(columns=ACTIVITIES_COLUMN)
        activities = pd.DataFrame(rows, columns=["lead_id", "occurred_at", "activity_type",
                                                 "detail", "channel"])
        activities["occurred_at"] = pd.to_datetime(
            activities["occurred_at"], utc=True).dt.tz_localize(None).astype("datetime64[ns]")
        activities["lead_id"] = activities["lead_id"].astype(object)
    if "outcome" not in leads:
        leads["outcome"] = "open"
    if "outcome_at" not in leads:
        leads["outcome_at"] = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns]")
    return leads, activities, as_of


def activities_to_json(activities: pd.DataFrame, lead_ids: pd.Series) -> list[str]:
    """Per lead, its events as the JSON text the pyfunc input expects."""
    grouped = {}
    if len(activities):
        frame = activities.copy()
        frame["occurred_at"] = frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
        for lead_id, part in frame.groupby("lead_id", sort=False):
            grouped[lead_id] = json.dumps(
                part[["occurred_at", "activity_type", "detail", "channel"]].to_dict("records"))
    return [grouped.get(lead_id, "[]") for lead_id in lead_ids]


def predict_frame(
    package: Any, frame: pd.DataFrame, now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Score a pyfunc request frame with a :class:`~pipeline.explain.package.ScoringPackage`.

    Leads created after the training snapshot score like any other (the snapshot bounds
    training only); a lead created after its as_of is refused (:class:`DataError`).
    """
    from pipeline.data.scoring_time import check_created_by, resolve_as_of

    leads, activities, as_of = split_request(frame)
    if package.mode == "events":
        if as_of is None:
            as_of = resolve_as_of(now).as_of
        check_created_by(leads, as_of, "request", "created_at")
    else:
        as_of = None
    X = package.features(leads, activities, as_of)
    scored = package.score_features(X, explain_leads=True,
                                    lead_age_days=lead_age_days(leads, as_of))
    points = package.scorer.factor_points(X)
    for factor in points.columns:
        scored[f"points::{factor}"] = points[factor].to_numpy()
    scored["base_score"] = points.attrs["base_score"]
    return scored


class LeadScoreModel(PythonModel):
    """MLflow pyfunc wrapper around a pickled :class:`~pipeline.explain.package.ScoringPackage`."""

    def load_context(self, context) -> None:
        """Load the package from the model's artifacts."""
        from pipeline.explain.package import load_package

        self.package = load_package(context.artifacts["package"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        """Scores, grades, reasons and factor points for each lead of the request."""
        now = None
        if params and params.get("as_of"):
            now = pd.Timestamp(params["as_of"])
        return predict_frame(self.package, pd.DataFrame(model_input), now=now)
