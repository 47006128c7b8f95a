"""True odds and labels: the conversion probability of each lead and its won, lost or open draw.

The probability is a function of what a point-in-time feature can see before as_of (the lead's
observable fit and its recency-weighted first-fortnight signals), never of the latent intent,
so it is an honest oracle for calibration and ROC-AUC checks. The labels are drawn from it,
with a decision day per lead, and become ``open`` when that day is after the snapshot.
"""

from __future__ import annotations

import numpy as np

from features.activity import ACTIVITY_TYPES
from pipeline.synth.leads import _Leads
from pipeline.synth.sampling import _sigmoid
from pipeline.synth.vocabulary import (
    _D,
    _DAY_S,
    _DETAILS,
    _T,
    AS_OF_DAYS,
    ENGAGEMENT_WEIGHTS,
    NEGATIVE_WEIGHTS,
    PRODUCTS,
    RECENCY_HALF_LIFE_DAYS,
    SIGNAL,
)

# Recency-weighted first-fortnight signals that enter the engagement score.
_SIGNALS = (
    "pricing",
    "demo_page",
    "case_study",
    "product_page",
    "docs",
    "careers",
    "demo_request",
    "sales_call",
    "offline_event",
    "form_submit",
    "webinar_attended",
    "content_download",
    "email_click",
    "email_bounce",
    "email_unsubscribe",
)
_S = {name: i for i, name in enumerate(_SIGNALS)}
_PAGE_SIGNAL = np.full(len(_DETAILS), -1)  # detail code of a web visit -> signal column
_PAGE_SIGNAL[[_D[p] for p in ("pricing", "demo", "case_study", "product", "docs", "careers")]] = [
    _S[s] for s in ("pricing", "demo_page", "case_study", "product_page", "docs", "careers")
]
_TYPE_SIGNAL = np.array([_S.get(t, -1) for t in ACTIVITY_TYPES])
_ENGAGEMENT_W = np.array(
    [
        [ENGAGEMENT_WEIGHTS.get(s, (0.0, 0.0, 0.0))[k] for s in _SIGNALS]
        for k in range(len(PRODUCTS))
    ]
)


SIGNALS = _SIGNALS  # public: the names make_world(half_lives=...) accepts


def _signals(
    n: int,
    lead: np.ndarray,
    sec: np.ndarray,
    type_code: np.ndarray,
    detail: np.ndarray,
    half_lives: tuple[tuple[str, float], ...] | None = None,
    age: int = AS_OF_DAYS,
) -> np.ndarray:
    """Recency-weighted counts of each signal strictly before as_of, shape (n, signals).

    ``half_lives``: (signal, days) pairs that replace :data:`RECENCY_HALF_LIFE_DAYS` for those
    signals (a world with known per-signal decay); ``None``: one half-life for all. ``age``:
    the lead's age at as_of in days (the world's ``odds_age_days``).
    """
    sig = np.where(
        type_code == _T["web_visit"], _PAGE_SIGNAL[np.maximum(detail, 0)], _TYPE_SIGNAL[type_code]
    )
    seen = (sig >= 0) & (sec < age * _DAY_S)
    day = sec[seen] / _DAY_S
    if half_lives is None:
        weight = 0.5 ** ((age - day) / RECENCY_HALF_LIFE_DAYS)
    else:
        per_signal = np.full(len(_SIGNALS), RECENCY_HALF_LIFE_DAYS)
        for name, days in half_lives:
            per_signal[_S[name]] = days
        weight = 0.5 ** ((age - day) / per_signal[sig[seen]])
    k = len(_SIGNALS)
    flat = np.bincount(lead[seen] * k + sig[seen], weights=weight, minlength=n * k)
    return flat.reshape(n, k)


def _logit(ld: _Leads, counts: np.ndarray, signal: float = 1.0) -> np.ndarray:
    """Log-odds without the intercept: fit, engagement, their interaction, negatives.

    ``signal`` scales the whole dependence on the observables (1.0: the default world); a weak
    world keeps every mechanism and only flattens the odds, so its oracle ranks worse.
    """
    eng = (np.log1p(counts) * _ENGAGEMENT_W[ld.line]).sum(axis=1)
    neg = (
        NEGATIVE_WEIGHTS["email_bounce"] * (counts[:, _S["email_bounce"]] > 0)
        + NEGATIVE_WEIGHTS["email_unsubscribe"] * (counts[:, _S["email_unsubscribe"]] > 0)
        + NEGATIVE_WEIGHTS["careers"] * np.log1p(counts[:, _S["careers"]])
    )
    hot = _sigmoid(2.5 * (ld.fit - 0.6)) * _sigmoid(2.5 * (eng - 0.9))
    # SIGNAL * 1.0 is SIGNAL exactly, so the default world keeps its bytes.
    return SIGNAL * signal * (0.8 * ld.fit + 0.9 * eng + 1.4 * hot + neg)


_WON, _LOST, _OPEN = 0, 1, 2
# Days from as_of to a won deal's close: 7 + 143 * Beta(a, b) by product line.
_CLOSE_BETA = np.array([(1.6, 3.5), (1.2, 5.0), (1.5, 3.0)])


def _decide(
    rng: np.random.Generator, ld: _Leads, p: np.ndarray, end_s: int, age: int = AS_OF_DAYS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Won and lost (decided, not won) masks, decision day, its epoch second and outcome code
    (days counted from creation; ``age``: the lead's age at as_of)."""
    n = p.size
    won = rng.random(n) < p
    beta = _CLOSE_BETA[ld.line]
    close = age + 7.0 + 143.0 * rng.beta(beta[:, 0], beta[:, 1])
    # the few disqualified at once are decided before as_of, from day 3 (or half the age when
    # as_of comes sooner: the interval must not be empty)
    lost_day = np.where(
        rng.random(n) < 0.04,
        rng.uniform(min(3.0, age / 2), age, n),
        age + 186.0 * rng.beta(1.1, 2.0, n),
    )
    undecided = ~won & (rng.random(n) < 0.15)
    decided = np.where(won, close, lost_day)
    decided_s = ld.created + np.floor(decided * _DAY_S).astype(np.int64)
    outcome = np.where(won, _WON, np.where(undecided, _OPEN, _LOST))
    outcome[decided_s > end_s] = _OPEN
    return won, ~won & ~undecided, decided, decided_s, outcome
