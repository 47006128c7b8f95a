"""The scoring package as an MLflow pyfunc model (``mlflow models serve``, ``pyfunc.load_model``).

Input: one row per lead with the export's lead columns in canonical names. ``lead_id`` and
``created_at`` are required; every other declared lead column is optional (absent: unknown for
every lead); PII and other extra columns are ignored. Dates may be datetimes or ISO text, so
``model.predict(pd.read_parquet("leads.parquet"))`` works. In event mode an optional
``activities`` column holds each lead's events as a JSON list of ``{"occurred_at",
"activity_type", "detail", "channel"}`` objects, so a CRM can send a lead with its recent history
in one request. Params: ``as_of`` (ISO time; default now; an ``as_of`` column, one per lead,
wins), ``explain`` (reasons, grade and factor points; default true), ``top_reasons`` (0-3) and
``next_action`` (default false; event mode: the next best action, one rescoring per action of the
default ``actions.offer``, :mod:`pipeline.explain.whatif`).
Output: ``lead_id, model_version, score, probability, percentile, band, grade,
engagement_level, mql, status, status_reason, reason_1..3`` plus one ``points::<factor>`` column
per business factor and ``base_score``; with ``next_action``: ``next_action``,
``next_action_gain`` (displayed score points) and ``next_action_probability_gain``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
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
MAX_REASONS = 3  # reason_1..3: the columns every engine writes


def _naive_utc(values: pd.Series) -> pd.Series:
    """Datetimes or ISO text (any offset) as naive UTC datetime64[ns]."""
    parsed = pd.to_datetime(values, utc=True, format="ISO8601") if not \
        pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values, utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _numbers(values: pd.Series) -> pd.Series:
    """A number column sent as text or JSON nulls, as float64 (DataError naming the rows)."""
    from pipeline.data.errors import DataError

    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = parsed.isna() & values.notna()
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise DataError(f"request: column {values.name!r} is not a number in rows {rows}")
    return parsed


def split_request(frame: pd.DataFrame, columns: dict[str, str] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None, Any]:
    """Separate a pyfunc request into canonical leads, activities and as_of.

    ``columns``: the declared optional lead columns (name -> ``number``/``text``); one the
    request lacks is added empty, so the features see an unknown value, as for a blank cell.
    """
    leads = frame.copy()
    leads["lead_id"] = leads["lead_id"].astype(str).astype(object)
    for name, holds in (columns or {}).items():
        if name not in leads:
            leads[name] = np.nan if holds == "number" else pd.Series(
                None, index=leads.index, dtype=object)
        elif holds == "number" and not pd.api.types.is_numeric_dtype(leads[name]):
            leads[name] = _numbers(leads[name])
    for column in ("created_at", "outcome_at"):
        if column in leads:
            leads[column] = _naive_utc(leads[column])
    as_of = None
    if "as_of" in leads:
        as_of = pd.Series(_naive_utc(leads["as_of"]).to_numpy(),
                          index=pd.Index(leads["lead_id"], name="lead_id"))
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
        activities["occurred_at"] = _naive_utc(activities["occurred_at"])
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
    package: Any, frame: pd.DataFrame, now: pd.Timestamp | None = None, *,
    explain: bool = True, top_reasons: int | None = None,
    columns: dict[str, str] | None = None, next_action: bool = False,
    actions: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Score a pyfunc request frame with a :class:`~pipeline.explain.package.ScoringPackage`.

    Leads created after the training snapshot score like any other (the snapshot bounds
    training only); a lead created after its as_of is refused (:class:`DataError`).
    ``top_reasons`` (0-3) overrides the package's number of reasons per lead. ``next_action``
    adds the best of ``actions`` (default: the packaged defaults' ``actions.offer``).
    """
    from pipeline.data.errors import DataError
    from pipeline.data.scoring_time import check_created_by, resolve_as_of

    if top_reasons is not None:
        if not 0 <= int(top_reasons) <= MAX_REASONS:
            raise DataError(f"top_reasons {top_reasons}: must be 0 to {MAX_REASONS}")
        package = dataclasses.replace(package, top_reasons=int(top_reasons))
    leads, activities, as_of = split_request(frame, columns)
    if package.mode == "events":
        if as_of is None:
            as_of = resolve_as_of(now).as_of
        check_created_by(leads, as_of, "request", "created_at")
    else:
        as_of = None
    X = package.features(leads, activities, as_of)
    scored = package.score_features(X, explain_leads=explain,
                                    lead_age_days=lead_age_days(leads, as_of))
    if explain:
        points = package.scorer.factor_points(X)
        for factor in points.columns:
            scored[f"points::{factor}"] = points[factor].to_numpy()
        scored["base_score"] = points.attrs["base_score"]
    if next_action:
        from pipeline.data.actions_schema import ActionsConfig
        from pipeline.explain.whatif import what_if

        catalogue = actions if actions is not None else ActionsConfig().catalogue()
        best = what_if(package, leads, activities, as_of, catalogue, X=X).best()
        for column in best.columns:
            scored[column] = best[column].to_numpy()
    return scored


def package_version(path: str | Path) -> str:
    """``file:<sha256, 12 hex>`` of a package file: what ``leadscore score --model`` writes."""
    return f"file:{hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]}"


class LeadScoreModel(PythonModel):
    """MLflow pyfunc wrapper around a pickled :class:`~pipeline.explain.package.ScoringPackage`.

    Logged as code (:mod:`pipeline.mlops.pyfunc_model`), not cloudpickled: the model folder holds
    no pickle of this class, only the package.
    """

    model_version: str | None = None  # set by load_context
    columns: dict[str, str] = {}  # set by load_context (replaced, never mutated)

    def load_context(self, context) -> None:
        """Load the package from the model's artifacts."""
        from pipeline.explain.package import load_package

        path = context.artifacts["package"]
        self.package = load_package(path)
        self.model_version = package_version(path)
        self.columns = dict((context.model_config or {}).get("columns") or {})

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        """Scores, grades, reasons and factor points for each lead of the request."""
        from pipeline.data.errors import LeadScoreError
        from pipeline.data.scoring_time import parse_as_of

        params = params or {}
        try:
            now = parse_as_of(params.get("as_of"), "as_of")
            scored = predict_frame(
                self.package, pd.DataFrame(model_input), now=now,
                explain=bool(params.get("explain", True)), top_reasons=params.get("top_reasons"),
                columns=self.columns, next_action=bool(params.get("next_action", False)))
        except LeadScoreError as exc:
            # a bad request, not a broken server: MLflow answers 400 with the one-line reason
            from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        scored.insert(1, "model_version", self.model_version)
        return scored
