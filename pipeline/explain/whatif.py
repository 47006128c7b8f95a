"""What-if and next best action: the model's score of a lead had it just done one more thing.

For each action (one activity event, :mod:`pipeline.data.actions_schema`) the engine appends
that event to every lead of the batch at the lead's as_of, rebuilds the features through the
package's own fitted builder, so counts, windows, recency, decay and the totals all move as they
would have, and rescores through the same scorer and calibrator. One rebuild and one rescoring
per action covers the whole batch: the cost is (actions + 1) scorings, never one per lead.

The appended event is stamped ``as_of - 1 second``. The feature engine sees only events strictly
before as_of (``features/activity.py``), so an event at exactly as_of would be invisible and the
gain would read 0; one second earlier it is inside every window, its recency is 1 second and its
decay weight is 1, which is "the lead did it just now". A whole second rather than a nanosecond,
since exports carry whole seconds and a sub-second stamp would be an event no real log holds.

What this measures is what the model predicts, not what the action causes: a model learns that
leads who book demos convert, not that a booked demo makes a lead convert. Monotone constraints
(``model.use_spec_monotone``) at least fix the sign of each count's effect, so an extra event of
a positive kind never lowers the model's score (see docs/WHATIF.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data.errors import ConfigError

#: Seconds before as_of at which an action's event is stamped (see the module docstring).
EVENT_LEAD_SECONDS = 1
_OFFLINE = frozenset({"sales_call", "offline_event"})


@dataclass
class WhatIf:
    """The rescoring of one batch under each action, leads in input order.

    ``probability``: calibrated probability now; ``probability_gain`` / ``score_gain``: leads x
    actions, the change in calibrated probability and in the displayed score; ``factor_gain``:
    per action, leads x factors, the change in factor score points (``None`` unless asked).
    """

    lead_ids: pd.Index
    labels: dict[str, str]
    probability: np.ndarray
    score: np.ndarray
    probability_gain: pd.DataFrame
    score_gain: pd.DataFrame
    factor_gain: dict[str, pd.DataFrame] | None = None

    def ranked(self, row: int) -> list[str]:
        """The actions of lead ``row`` by probability gain, largest first (ties: offer order)."""
        gains = self.probability_gain.iloc[row].to_numpy()
        return [self.probability_gain.columns[j] for j in np.argsort(-gains, kind="stable")]

    def best(self) -> pd.DataFrame:
        """Per lead: ``next_action``, ``next_action_gain`` (displayed score points) and
        ``next_action_probability_gain``; an action that would not raise the probability is no
        next action (empty name, gains 0)."""
        gains = self.probability_gain.to_numpy()
        pick = np.argmax(gains, axis=1)  # first maximum: offer order breaks ties
        rows = np.arange(len(pick))
        p_gain = gains[rows, pick]
        s_gain = self.score_gain.to_numpy()[rows, pick]
        names = np.asarray(self.probability_gain.columns, dtype=object)[pick]
        useful = p_gain > 0
        return pd.DataFrame({
            "next_action": np.where(useful, names, ""),
            "next_action_gain": np.where(useful, s_gain, 0.0),
            "next_action_probability_gain": np.where(useful, p_gain, 0.0),
        }, index=self.lead_ids)

    def describe(self, row: int, top_factors: int = 3) -> list[dict[str, Any]]:
        """The ranked actions of lead ``row`` with their gains and the factors that move."""
        out = []
        for name in self.ranked(row):
            moves: list[tuple[str, float]] = []
            if self.factor_gain is not None:
                diff = self.factor_gain[name].iloc[row]
                diff = diff[diff.abs() >= 0.5].sort_values(key=np.abs, ascending=False)
                moves = [(str(f), float(v)) for f, v in diff.head(top_factors).items()]
            out.append({"action": name, "label": self.labels[name],
                        "score_gain": float(self.score_gain[name].iloc[row]),
                        "probability_gain": float(self.probability_gain[name].iloc[row]),
                        "factors": moves})
        return out


def require_events(mode: str, source: str = "model") -> None:
    """Refuse what-if on a flat export: without an activity log there is no event to append."""
    if mode != "events":
        raise ConfigError(f"{source}: what-if and next best action need an activity log; this "
                          "dataset is flat (dataset.mode: flat), so no action can be simulated")


def action_events(lead_ids: pd.Index, as_of: pd.Series | pd.Timestamp, spec: Any,
                  columns: list[str]) -> pd.DataFrame:
    """The events of action ``spec`` for each lead: its event ``EVENT_LEAD_SECONDS`` before the
    lead's as_of, each of ``spec.requires`` one second before the previous one."""
    if isinstance(as_of, pd.Series):
        at = pd.to_datetime(as_of.set_axis(as_of.index.astype(str)).reindex(lead_ids))
        at = at.to_numpy(dtype="datetime64[ns]")
    else:
        stamp = pd.Timestamp(as_of)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        at = np.full(len(lead_ids), stamp.as_unit("ns").to_datetime64())
    kinds = [(spec.activity_type, spec.detail),
             *((t, None) for t in reversed(getattr(spec, "requires", [])))]
    frames = []
    for k, (activity_type, detail) in enumerate(kinds):
        frame = pd.DataFrame({
            "lead_id": np.asarray(lead_ids, dtype=object),
            "occurred_at": at - np.timedelta64(EVENT_LEAD_SECONDS + k, "s"),
            "activity_type": activity_type,
            "detail": detail,
            "channel": "offline" if activity_type in _OFFLINE else "online",
        })
        if "quantity" in columns:
            frame["quantity"] = 1.0
        frames.append(frame[[c for c in columns if c in frame.columns]])
    return pd.concat(frames, ignore_index=True)


def what_if(package: Any, leads: pd.DataFrame, activities: pd.DataFrame | None,
            as_of: pd.Series | pd.Timestamp, actions: dict[str, Any],
            factors: bool = False, X: pd.DataFrame | None = None,
            adjust: Callable[[pd.DataFrame], Any] | None = None) -> WhatIf:
    """Rescore ``leads`` once per action, each with that action's event appended at as_of.

    Parameters
    ----------
    package
        A :class:`~pipeline.explain.package.ScoringPackage` (events mode).
    leads, activities, as_of
        As for :meth:`ScoringPackage.score_leads`; ``activities`` may hold other leads' events.
    actions
        Name -> spec with ``label``, ``activity_type`` and ``detail`` (``ActionsConfig.catalogue``).
    factors
        Also compute the factor points that move (one explanation per action: slower).
    X
        The batch's feature table as already built (saves one rebuild).
    adjust
        What the caller did to ``X`` after building it (batch scoring clips absurd values),
        done to each rebuilt table too, so the gain compares like with like.
    """
    require_events(package.mode)
    if not actions:
        raise ConfigError("actions.offer: no action to rank")
    if X is None:
        X = package.features(leads, activities, as_of)
    base_columns = ["lead_id", "occurred_at", "activity_type", "detail", "channel"]
    columns = list(activities.columns) if activities is not None else base_columns
    scorer = package.scorer
    p0 = scorer.predict_proba(X)[:, 1]
    s0 = package.scale.display(p0).astype("float64")
    points0 = scorer.factor_points(X) if factors else None
    p_gain, s_gain, f_gain = {}, {}, {}
    for name, spec in actions.items():
        extra = action_events(X.index, as_of, spec, columns)
        events = extra if activities is None or not len(activities) else \
            pd.concat([activities, extra], ignore_index=True)
        X1 = package.features(leads, events, as_of)
        if adjust is not None:
            adjust(X1)
        p1 = scorer.predict_proba(X1)[:, 1]
        p_gain[name] = p1 - p0
        s_gain[name] = package.scale.display(p1).astype("float64") - s0
        if factors:
            f_gain[name] = scorer.factor_points(X1) - points0
    index = X.index
    return WhatIf(
        lead_ids=index, labels={n: s.label for n, s in actions.items()},
        probability=p0, score=s0,
        probability_gain=pd.DataFrame(p_gain, index=index),
        score_gain=pd.DataFrame(s_gain, index=index),
        factor_gain=f_gain if factors else None,
    )


def action_line(entry: dict[str, Any]) -> str:
    """``"Book a demo: +12 (Demo requests +9, Recency +3)"`` for one ranked action."""
    moves = ", ".join(f"{factor} {value:+.0f}" for factor, value in entry["factors"])
    text = f"{entry['label']}: {entry['score_gain']:+.0f}"
    return f"{text} ({moves})" if moves else text
