"""Per-signal decay learned from data: each ``decayed_<signal>``'s half-life, chosen on validation.

A decayed count sums ``0.5 ** (age_days / half_life)`` over a signal's events before as_of. How
fast interest fades differs by signal (a pricing visit goes stale in days, a webinar attended in
weeks), so instead of one hand-set half-life each signal's is chosen from a grid on the
validation log-likelihood. The learner is kept cheap, since it runs inside the preparation
(13 signals: about 6 s on 60,000 synthetic leads, 28 s on 300,000):

1. a logistic model on the fit features, the lead's age and ``log1p`` of every signal's decayed
   count at its current half-life is fitted once on the training rows (scikit-learn);
2. for each signal in turn and every half-life of the grid, the scan's model is refitted: an
   intercept, the fit features' log-odds from step 1 as one column (its scale refitted, its mix
   of fit features held), and every signal's slopes (one per segment with
   ``dataset.segment``). The half-life with the lowest validation log-loss wins;
3. the model is refitted with the winners and the scan repeated once (backfitting), since the
   signals are correlated.

**Why every signal is refitted in step 2.** An earlier scan held the other signals frozen in
step 1's log-odds and refitted only the scanned signal's slope. That is a conditional
likelihood, not a profile one: where signals share events (a pricing visit is also a web
visit) the frozen neighbour cannot take up what the scanned column gives away, so the curve is
too steep and the interval too narrow. On 300,000 synthetic leads it put pricing (true 2 days)
at 180 days [45, 180] and demo pages (true 4) at 180 [45, 180]; the refitted scan gives 2 [1, 3]
and 2 [1, 2]. On planted rows where one signal's events are a subset of another's
(``tests/unit/test_decay.py``, 100 replicates), the frozen scan's 95 % interval held the
truth 80 % and 85 % of the time, the refitted one 92 % and 96 %. The fit features stay one
column because they are most of the design and barely move with one signal's decay: on
60,000 leads, refitting each of them too moved each planted signal's half-life by at most one
grid step, and took 5x as long.

The refits are Newton steps written out (:func:`_fit_scan`), each warm-started from the last
half-life's: 3-4 steps each (rarely up to 7). scikit-learn's ``LogisticRegression(warm_start=True)`` gives the
same choices on the same 60,000-lead world in 300 s against 6 s.

**Identification.** A best half-life is not yet a known one: when the events fall in a short
window before as_of, half-lives far above that window weigh them almost alike and the scan's
minimum is noise. So every learned signal carries a profile-likelihood 95 % interval from the
final backfitting round: the grid half-lives whose validation log-likelihood (summed over the
validation leads) is within ``chi2_1(0.95) / 2 = 1.92`` of the best, hull taken. The rule,
fixed before the acceptance test was run: **a signal whose interval spans more than a factor
of 4 (upper / lower > 4) is "not identified"** and keeps the fallback half-life (14 days)
rather than an arbitrary grid edge, or the half-life of its interval nearest the fallback when
the interval excludes it; its interval is still reported.

**Gate.** :func:`gate_decay` decides whether the ``decayed_<signal>`` columns stay at all: a
logistic model of the other features with and without them, the per-lead difference of
validation log-loss, and a paired bootstrap over validation leads (seeded); they stay only when
the interval of the gain lies above 0.

Only training and validation rows are ever used (never test). A signal with fewer than
``decay_min_events`` training events keeps the fallback half-life, and a half-life the user set
(``features.half_lives``) is never learned over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Backfitting rounds of the scan (the second one corrects for correlated signals).
ROUNDS = 2
#: L2 penalty on the scan's slopes (in weighted rows: small against thousands of rows).
RIDGE = 1.0
#: Log-likelihood drop that bounds the profile interval: chi2_1(0.95) / 2.
PROFILE_DROP = 1.92
#: Widest interval (upper / lower) of an identified half-life (module docstring).
MAX_SPAN = 4.0
_EPS = 1e-12


@dataclass(frozen=True)
class SignalEvents:
    """Events of the decay signals seen before their row's as_of, as parallel arrays."""

    pos: np.ndarray  # row position (int64)
    age_days: np.ndarray  # as_of - occurred_at in days (float64, > 0)
    code: np.ndarray  # signal index (int64)
    n_signals: int
    weight: np.ndarray | None = None  # event quantity; None: each counts 1

    def take(self, rows: np.ndarray, n: int) -> SignalEvents:
        """The events of rows where ``rows`` (bool, per row) holds, renumbered 0..n-1."""
        new = np.cumsum(rows) - 1
        keep = rows[self.pos]
        return SignalEvents(new[self.pos[keep]], self.age_days[keep], self.code[keep],
                            self.n_signals, None if self.weight is None else self.weight[keep])

    def counts(self) -> np.ndarray:
        """Events (quantities) per signal."""
        return np.bincount(self.code, weights=self.weight, minlength=self.n_signals)


@dataclass(frozen=True)
class DecayChoice:
    """The half-life of one signal and how it was chosen.

    ``source``: ``learned`` (best on validation and identified), ``not identified`` (scanned,
    but its interval spans more than :data:`MAX_SPAN`: it keeps the fallback), ``config``
    (``features.half_lives``), ``fixed`` (``features.decay: fixed``), ``too few events`` (fewer
    than ``decay_min_events``). ``valid_logloss`` and ``logloss_at_fallback`` are the
    validation log-losses of the scan's model at the chosen and at the fallback half-life, and
    ``interval`` the profile 95 % interval (lower, upper) in days (scanned signals only).
    """

    signal: str
    half_life_days: float
    source: str
    events: int
    valid_logloss: float | None = None
    logloss_at_fallback: float | None = None
    profile: tuple[tuple[float, float], ...] = ()  # (half-life, validation log-loss) scanned
    interval: tuple[float, float] | None = None
    best_days: float | None = None  # the scan's best half-life (kept or not)
    fallback_days: float | None = None  # the fallback a not-identified signal is held near

    @property
    def identified(self) -> bool | None:
        """Whether the interval spans at most :data:`MAX_SPAN` (None: not scanned)."""
        if self.interval is None:
            return None
        return self.interval[1] / self.interval[0] <= MAX_SPAN

    def label(self) -> str:
        """How the report, the points table and ``leadscore points`` show it: ``3 days [2, 5]``,
        or ``not identified (2-180 all fit): fallback 14 days``."""
        days = _days(self.half_life_days)
        if self.interval is None:
            return days
        low, high = self.interval
        if not self.identified:
            return f"not identified ({low:g}-{high:g} all fit): {self._held()}"
        return f"{days} [{low:g}, {high:g}]"

    def every(self) -> str:
        """The points table's "halving every ..." text: ``3 days [2, 5]``, or ``14 days (not
        identified: 2-180 all fit; the fallback)``."""
        if self.interval is None or self.identified:
            return self.label()
        low, high = self.interval
        held = "the fallback" if self._at_fallback() else "the fit nearest the fallback"
        return f"{_days(self.half_life_days)} (not identified: {low:g}-{high:g} all fit; {held})"

    def _at_fallback(self) -> bool:
        return self.fallback_days is None or self.half_life_days == self.fallback_days

    def _held(self) -> str:
        days = _days(self.half_life_days)
        if self._at_fallback():
            return f"fallback {days}"
        return f"{days}, the fit nearest the {_days(self.fallback_days)} fallback"

    @property
    def gain(self) -> float | None:
        """Validation log-loss saved against the fallback half-life (>= 0 when learned)."""
        if self.valid_logloss is None or self.logloss_at_fallback is None:
            return None
        return self.logloss_at_fallback - self.valid_logloss

    def as_row(self) -> dict[str, object]:
        """JSON-able row (report, evaluation.json, ``leadscore points``)."""
        return {"signal": self.signal, "half_life_days": self.half_life_days,
                "source": self.source, "events": self.events,
                "valid_logloss": self.valid_logloss,
                "logloss_at_fallback": self.logloss_at_fallback, "gain": self.gain,
                "interval_days": None if self.interval is None else list(self.interval),
                "identified": self.identified, "best_days": self.best_days,
                "label": self.label()}


def _days(half_life: float) -> str:
    return "1 day" if half_life == 1 else f"{half_life:g} days"


def profile_interval(scores: dict[float, float], grid: list[float],
                     units: float) -> tuple[float, float]:
    """The grid half-lives whose validation log-likelihood (``units`` times the mean log-loss
    ``scores``) is within :data:`PROFILE_DROP` of the best: (lowest, highest)."""
    best = min(scores[h] for h in grid)
    inside = [h for h in grid if (scores[h] - best) * units <= PROFILE_DROP]
    return float(min(inside)), float(max(inside))


def decayed_sums(events: SignalEvents, n: int, half_lives: list[float]) -> np.ndarray:
    """Decayed count of every signal per row, shape (n, signals): ``sum 0.5 ** (age / h)``."""
    k = events.n_signals
    decay = np.exp2(-events.age_days / np.asarray(half_lives, dtype="float64")[events.code]) \
        if k else np.zeros(0)
    if events.weight is not None:
        decay = decay * events.weight
    return np.bincount(events.pos * k + events.code, weights=decay,
                       minlength=n * k).reshape(n, k)


@dataclass(frozen=True)
class DecayRows:
    """One split part for the learner: its signal events, base design, labels and weights."""

    events: SignalEvents
    base: np.ndarray  # (n, p) fit features and age, numeric, no missing values
    y: np.ndarray
    weight: np.ndarray | None = None
    segment: np.ndarray | None = None  # segment code per row (0..k-1): a slope per segment
    units: float | None = None  # independent leads (None: the rows); an as_of grid repeats leads

    @property
    def n(self) -> int:
        return len(self.y)


def _logloss(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(1.0 / (1.0 + np.exp(-np.clip(eta, -35, 35))), _EPS, 1 - _EPS)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log1p(-p))).sum() / w.sum())


def _fit_scan(Z: np.ndarray, y: np.ndarray, w: np.ndarray, start: np.ndarray,
              iters: int = 30) -> np.ndarray:
    """Coefficients of the scan's logistic model on ``Z`` (column 0 the intercept): Newton steps
    from ``start``. Written out because the scan fits hundreds of these, each a small move from
    the last, where a warm-started Newton needs 3-4 steps (the module docstring has the
    measurement against scikit-learn)."""
    beta = start.copy()
    # a mild ridge on the slopes: a segment with few events must not separate
    ridge = np.diag(np.r_[1e-6, np.full(Z.shape[1] - 1, RIDGE)])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ beta, -35, 35)))
        grad = Z.T @ (w * (y - p)) - ridge @ beta
        hess = (Z * (w * p * (1 - p))[:, None]).T @ Z + ridge
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-7:
            break
    return beta


def _slopes(x: np.ndarray, segment: np.ndarray | None, k: int) -> np.ndarray:
    """One signal's columns in the scan: its slope, one per segment."""
    if segment is None:
        return x[:, None]
    return np.column_stack([x * (segment == g) for g in range(k)])


def _cols(j: int, k: int) -> slice:
    """The scan design's columns of signal ``j`` (after the intercept and the fit log-odds)."""
    return slice(2 + j * k, 2 + (j + 1) * k)


def learn_half_lives(train: DecayRows, valid: DecayRows, signals: list[str], *,
                     grid: list[float], fallback: float, given: dict[str, float],
                     min_events: int) -> list[DecayChoice]:
    """Each signal's half-life, chosen on the validation log-loss (module docstring).

    Parameters
    ----------
    train, valid
        Training and validation rows (the scan never sees test rows).
    signals
        Signal names, aligned with the events' codes.
    grid
        Half-lives (days) to choose among.
    fallback
        Half-life of signals not learned (``features.half_life_days``).
    given
        Half-lives the user set: kept as they are.
    min_events
        Signals with fewer training events keep ``fallback``.

    Returns
    -------
    list[DecayChoice]
        One per signal, in ``signals`` order.
    """
    # here, not at import: the activity features (and the synthetic world) import this module
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    events = train.events.counts()
    learnable = [j for j, s in enumerate(signals)
                 if s not in given and events[j] >= min_events]
    current = [given.get(s, fallback) for s in signals]
    if not learnable or len(np.unique(train.y)) < 2 or len(np.unique(valid.y)) < 2:
        return [_kept(s, current[j], given, int(events[j]), min_events)
                for j, s in enumerate(signals)]
    w_t = np.ones(train.n) if train.weight is None else np.asarray(train.weight, float)
    w_v = np.ones(valid.n) if valid.weight is None else np.asarray(valid.weight, float)
    halves = sorted({*grid, fallback, *current})
    # every half-life's log1p(decayed count) of every signal, train and valid: one pass each
    d_t = {h: np.log1p(decayed_sums(train.events, train.n, [h] * len(signals))) for h in halves}
    d_v = {h: np.log1p(decayed_sums(valid.events, valid.n, [h] * len(signals))) for h in halves}
    scores: dict[int, dict[float, float]] = {}
    segmented = train.segment is not None and valid.segment is not None
    k = int(max(train.segment.max(initial=0), valid.segment.max(initial=0))) + 1 if segmented \
        else 1
    p0, width = train.base.shape[1], 2 + k * len(signals)
    for _ in range(ROUNDS):
        design_t = np.column_stack([train.base] + [d_t[current[j]][:, j]
                                                   for j in range(len(signals))])
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=300))
        model.fit(design_t, train.y, logisticregression__sample_weight=w_t)
        scale = model[0].scale_
        coef = model[-1].coef_[0] / np.where(scale > 0, scale, 1.0)
        # the scan's design: intercept, the fit features' log-odds (their scale refitted, their
        # mix held: it is most of the columns and barely moves with one signal's decay), and
        # every signal's slopes at its current half-life
        z_t, z_v = np.ones((train.n, width)), np.ones((valid.n, width))
        z_t[:, 1], z_v[:, 1] = train.base @ coef[:p0], valid.base @ coef[:p0]
        for j in range(len(signals)):
            z_t[:, _cols(j, k)] = _slopes(d_t[current[j]][:, j], train.segment, k)
            z_v[:, _cols(j, k)] = _slopes(d_v[current[j]][:, j], valid.segment, k)
        start = np.r_[model[-1].intercept_[0] - coef @ model[0].mean_, 1.0,
                      np.repeat(coef[p0:], k)]
        for j in learnable:
            beta, scores[j] = start, {}
            for h in halves:
                z_t[:, _cols(j, k)] = _slopes(d_t[h][:, j], train.segment, k)
                z_v[:, _cols(j, k)] = _slopes(d_v[h][:, j], valid.segment, k)
                # every other coefficient refitted too: the profile likelihood of h. Holding
                # them (a conditional likelihood) is too sure where signals overlap, as web
                # visits hold the pricing visits (module docstring)
                beta = _fit_scan(z_t, train.y, w_t, beta)
                scores[j][h] = _logloss(z_v @ beta, valid.y, w_v)
            # ties go to the half-life nearest the fallback
            best = min(grid, key=lambda h: (scores[j][h], abs(np.log(h / fallback))))
            current[j] = best
            z_t[:, _cols(j, k)] = _slopes(d_t[best][:, j], train.segment, k)
            z_v[:, _cols(j, k)] = _slopes(d_v[best][:, j], valid.segment, k)
    units = float(valid.n if valid.units is None else valid.units)
    out = []
    for j, s in enumerate(signals):
        if j in learnable:
            # the interval of the final round: the scores of the last backfitting pass
            interval = profile_interval(scores[j], grid, units)
            ok = interval[1] / interval[0] <= MAX_SPAN
            # A vague signal is held at the fallback, unless the data rule the fallback out
            # (webinars: 21-180 days all fit, 14 does not): then at the nearest half-life that fits.
            chosen = float(current[j]) if ok else float(np.clip(fallback, *interval))
            out.append(DecayChoice(s, chosen, "learned" if ok else "not identified",
                                   int(events[j]), scores[j][chosen], scores[j][fallback],
                                   tuple((float(h), v) for h, v in scores[j].items()),
                                   interval, float(current[j]), float(fallback)))
        else:
            out.append(_kept(s, current[j], given, int(events[j]), min_events))
    return out


def _kept(signal: str, half_life: float, given: dict[str, float], events: int,
          min_events: int) -> DecayChoice:
    source = "config" if signal in given else (
        "too few events" if events < min_events else "fixed")
    return DecayChoice(signal, float(half_life), source, events)



@dataclass(frozen=True)
class DecayGate:
    """Whether the ``decayed_<signal>`` columns earn their place on the validation leads.

    ``gain`` is the validation log-loss per lead that a logistic model of the other features
    saves when the decayed counts join it; ``low``, ``high`` its paired bootstrap 95 % interval
    over validation leads. The columns are ``kept`` only when ``low > 0``: on small data more
    columns are more ways for the model choice to fit validation noise.
    """

    gain: float
    low: float
    high: float
    kept: bool
    boot: int

    def line(self) -> str:
        """The notice train prints and the report lists."""
        figures = (f"validation log-loss gain {1000 * self.gain:+.2f} x 1e-3 per lead "
                   f"(95 % bootstrap interval {1000 * self.low:+.2f} to {1000 * self.high:+.2f})")
        if self.kept:
            return f"decay: the decayed_<signal> columns are kept: {figures}"
        return (f"decay: the decayed_<signal> columns are dropped (their gain's interval does "
                f"not exclude 0): {figures}")

    def as_row(self) -> dict[str, object]:
        """JSON-able (evaluation.json)."""
        return {"gain": self.gain, "low": self.low, "high": self.high, "kept": self.kept,
                "boot": self.boot}


def _row_losses(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(model.predict_proba(X)[:, 1], _EPS, 1 - _EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def gate_decay(train: tuple[np.ndarray, np.ndarray], valid: tuple[np.ndarray, np.ndarray],
               y_t: np.ndarray, y_v: np.ndarray, *, w_t: np.ndarray | None = None,
               w_v: np.ndarray | None = None, lead_v: np.ndarray | None = None,
               seed: int = 0, boot: int = 1000) -> DecayGate:
    """The gate of :class:`DecayGate`.

    Parameters
    ----------
    train, valid
        (other features, decayed counts) of the training and validation rows, numeric.
    y_t, y_v, w_t, w_v
        Labels and fit weights (None: every row weighs 1).
    lead_v
        Lead of each validation row (an as_of grid resamples whole leads); None: the rows.
    seed, boot
        Bootstrap seed and resamples (deterministic).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    w_t = np.ones(len(y_t)) if w_t is None else np.asarray(w_t, float)
    w_v = np.ones(len(y_v)) if w_v is None else np.asarray(w_v, float)
    losses = []
    for with_decay in (False, True):
        X_t = np.column_stack([train[0], np.log1p(train[1])]) if with_decay else train[0]
        X_v = np.column_stack([valid[0], np.log1p(valid[1])]) if with_decay else valid[0]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
        model.fit(X_t, y_t, logisticregression__sample_weight=w_t)
        losses.append(w_v * _row_losses(model, X_v, y_v))
    codes = np.arange(len(y_v)) if lead_v is None else np.unique(lead_v, return_inverse=True)[1]
    n = int(codes.max()) + 1 if len(codes) else 0
    saved = np.bincount(codes, weights=losses[0] - losses[1], minlength=n)
    weight = np.bincount(codes, weights=w_v, minlength=n)
    rng = np.random.default_rng(seed)
    dist = np.empty(boot)
    for start in range(0, boot, 100):  # in chunks: a resample matrix of every lead is large
        take = rng.integers(0, n, (min(100, boot - start), n))
        dist[start:start + len(take)] = saved[take].sum(axis=1) / weight[take].sum(axis=1)
    low, high = np.quantile(dist, [0.025, 0.975])
    gain = float(saved.sum() / weight.sum())
    return DecayGate(gain, float(low), float(high), bool(low > 0), boot)
