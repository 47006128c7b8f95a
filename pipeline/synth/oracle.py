"""The true effect of an action: what appending one event at as_of does to the true probability.

The world's conversion probability is a known function of what is observable before the lead's
as_of = ``created_at + 14 days`` (or the world's ``odds_age_days``):
:func:`pipeline.synth.outcomes._logit` of the recency-weighted signals of
:func:`~pipeline.synth.outcomes._signals`. So the generator can say exactly how much one more
demo request, pricing visit or webinar just before as_of would have moved a lead's true
probability: add the event's weight (``0.5 ** (1 s / 7 days)``, practically 1) to its signal and
recompute. This is the ground truth the model's what-if (:mod:`pipeline.explain.whatif`) is
judged against.

The fit score and product line that ``_logit`` needs are latent per-lead values the files do not
hold. Rather than add an output table to the world, the oracle regenerates each chunk's leads and
first-fortnight events from the seed (``default_rng([seed, chunk])`` draws them first, before
anything else of the chunk), which reproduces ``truth.parquet``'s ``p_convert`` exactly and
leaves every byte of the default world as it was. It is opt-in: nothing calls it but the
acceptance test and whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipeline.synth import world as _world
from pipeline.synth.activities import _Events, _first_fortnight
from pipeline.synth.companies import _companies
from pipeline.synth.leads import _leads
from pipeline.synth.outcomes import _PAGE_SIGNAL, _TYPE_SIGNAL, _logit, _signals
from pipeline.synth.sampling import _sigmoid
from pipeline.synth.vocabulary import _D, _DAY_S, _T, AS_OF_DAYS, RECENCY_HALF_LIFE_DAYS

#: Seconds before as_of at which the oracle appends the event: the what-if engine's stamp.
EVENT_LEAD_SECONDS = 1


def signal_of(activity_type: str, detail: str | None) -> int:
    """The true model's signal column an event feeds (-1: none; e.g. a blog visit, a mail open)."""
    if activity_type not in _T:
        return -1
    if activity_type == "web_visit":
        code = _D.get((detail or "").strip().lower().strip("/"), -1)
        return int(_PAGE_SIGNAL[code]) if code >= 0 else -1
    return int(_TYPE_SIGNAL[_T[activity_type]])


def _bumps(spec: Any, age: int = AS_OF_DAYS) -> list[tuple[int, float]]:
    """(signal column, recency weight) of each event an action appends that the truth reads,
    for a lead whose as_of is ``age`` days after creation."""
    kinds = [(spec.activity_type, spec.detail),
             *((t, None) for t in reversed(getattr(spec, "requires", [])))]
    out = []
    for k, (activity_type, detail) in enumerate(kinds):
        col = signal_of(activity_type, detail)
        day = (age * _DAY_S - EVENT_LEAD_SECONDS - k) / _DAY_S
        if col >= 0:
            out.append((col, 0.5 ** ((age - day) / RECENCY_HALF_LIFE_DAYS)))
    return out


def true_action_gains(
    actions: Mapping[str, Any],
    n_leads: int,
    seed: int = 42,
    base_rate: float = 0.08,
    end: str = "2026-06-30",
    months: int = 24,
    signal: float = 1.0,
    odds_age_days: int = AS_OF_DAYS,
) -> pd.DataFrame:
    """Per lead of the world, its true probability and each action's true probability gain.

    Parameters
    ----------
    actions
        Name -> spec with ``activity_type``, ``detail`` and ``requires``
        (``ActionsConfig.catalogue()``), appended as :func:`pipeline.explain.whatif.action_events`
        does (its event 1 s before as_of, each required one a second earlier).
    n_leads, seed, base_rate, end, months, signal, odds_age_days
        The world's arguments, as given to :func:`~pipeline.synth.world.make_world` (the
        default half-lives and company pool: the oracle knows no other).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``lead_id``: ``p_convert`` (equal to ``truth.parquet``'s) and one column per
        action, the true probability with its events appended minus ``p_convert`` (0 for events
        the true model does not read, e.g. a webinar registration).
    """
    chunks, b0 = _world._plan(n_leads, seed, base_rate, end, months, signal,
                              age=odds_age_days)
    age = int(odds_age_days)
    end = str(pd.Timestamp(end).date())
    bumps = {name: _bumps(spec, age) for name, spec in actions.items()}
    parts = []
    for chunk, n, offset in chunks:
        # the same first draws as world._chunk, so the leads and their counts are the world's
        rng = np.random.default_rng([seed, chunk])
        ld = _leads(rng, n, offset, n_leads, end, months, _companies(seed))
        ev = _Events()
        _first_fortnight(rng, ld, ev, age)
        counts = _signals(n, *ev.arrays(), age=age)
        p = _sigmoid(b0 + _logit(ld, counts, signal))
        frame = {"p_convert": p}
        for name, events in bumps.items():
            bumped = counts.copy()
            for col, weight in events:
                bumped[:, col] += weight
            frame[name] = _sigmoid(b0 + _logit(ld, bumped, signal)) - p if events else \
                np.zeros(n)
        parts.append(pd.DataFrame(frame, index=pd.Index(ld.text["lead_id"], name="lead_id")))
    return pd.concat(parts)
