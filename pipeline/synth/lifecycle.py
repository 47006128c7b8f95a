"""Lifecycle stage dates of the synthetic leads (opt-in: ``stages=True``).

Drawn from a stream of their own, ``default_rng([seed, chunk, STAGE_STREAM])``, after everything
else of the chunk, so a world with stages has exactly the default world's columns and values
plus three date columns (the story is in :mod:`pipeline.synth`'s docstring).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.synth.outcomes import _LOST
from pipeline.synth.sampling import _sigmoid
from pipeline.synth.vocabulary import _DAY_S, _NS

#: Third seed word of the stage stream; the company pool uses ``[seed, 0, 1]``.
STAGE_STREAM = 3
#: The export's stage columns (dataset.stages maps mql, sql, opportunity to them; won is the
#: close date of won leads).
STAGE_FIELDS = ("mql_date", "sql_date", "opportunity_date")
# Logit of each step for a lead that will not win, at the base rate and per unit of the true
# log-odds above it: better leads are more often qualified, also when they do not buy.
_STEP_LOGIT = np.array([(-0.3, 0.5), (-0.2, 0.4), (0.4, 0.4)])
# Mean days from the previous stage (from creation for MQL) for leads that will not win.
_STEP_DAYS = np.array([10.0, 12.0, 20.0])
# Won deals: each stage a Beta-shaped share of the time left to the close (early MQL).
_WON_BETA = np.array([(1.2, 6.0), (2.0, 3.0), (2.0, 2.0)])
_BASE_LOGIT = float(np.log(0.08 / 0.92))


def stage_dates(seed: int, chunk: int, created: np.ndarray, p: np.ndarray, won: np.ndarray,
                outcome: np.ndarray, decided_s: np.ndarray, end_s: int) -> list[pa.Array]:
    """MQL, SQL and opportunity dates (epoch-second timestamps, null when not reached).

    Parameters
    ----------
    seed, chunk
        The chunk's seed words; the draws come from their own stream.
    created, p, won, outcome, decided_s, end_s
        Creation second, true probability, the won draw, outcome code, decision second and the
        snapshot's last second, as :func:`pipeline.synth.outcomes._decide` made them.
    """
    rng = np.random.default_rng([seed, chunk, STAGE_STREAM])
    n = p.size
    lift = np.log(p / (1.0 - p)) - _BASE_LOGIT
    at = np.empty((3, n), dtype=np.int64)
    reached = np.empty((3, n), dtype=bool)
    previous = created.astype(np.int64)
    close = decided_s.astype(np.int64)
    for k in range(3):
        step = rng.random(n) < _sigmoid(_STEP_LOGIT[k, 0] + _STEP_LOGIT[k, 1] * lift)
        wait = rng.exponential(_STEP_DAYS[k], n) * _DAY_S
        share = rng.beta(_WON_BETA[k, 0], _WON_BETA[k, 1], n)
        # a won deal passes every stage strictly between the previous one and its close
        towards_close = previous + np.floor((close - previous - 1) * share).astype(np.int64)
        at[k] = np.where(won, towards_close, previous + np.floor(wait).astype(np.int64))
        reached[k] = won | step
        previous = at[k]
    # a lost lead stops where it was lost; nothing is seen after the snapshot
    lost = outcome == _LOST
    seen = reached & (at <= end_s) & ~(lost & (at > close))
    seen = np.logical_and.accumulate(seen, axis=0)
    return [pa.array((at[k] * _NS).view("datetime64[ns]"), mask=~seen[k]) for k in range(3)]


def stage_schema(schema: pa.Schema) -> pa.Schema:
    """The leads schema with the stage date columns appended."""
    for name in STAGE_FIELDS:
        schema = schema.append(pa.field(name, pa.timestamp("ns")))
    return schema
