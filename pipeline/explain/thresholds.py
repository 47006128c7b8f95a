"""Cut-offs learned from data: the MQL line and the hot / warm / cold bands of one scorer.

Both are cut on the scorer's own calibrated probability, so one ``scoring.mql`` rule means the
same for the model, the rules and the learned points: a capacity (top share of leads, or leads
per week turned into a share with the training leads' arrival rate) flags about the same share
of leads whichever scorer ranks them, and MQL precision and recall compare the same thing.

Where each is learned: on the **validation** leads, whose rows the raw model never fitted (its
probabilities on its own training rows are spread wider than on new leads, so a capacity line cut
there flags fewer new leads than the capacity). A capacity (a share, or leads per week turned
into a share with the training leads' arrival rate) needs no labels; a precision target uses the
validation labels. When no line reaches the target, or the validation leads hold no conversion,
the line is undefined: no lead is flagged and every figure built on it reads n/a. The displayed
percentile stays the rank among the training leads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.data.scoring_schema import BandsConfig, MqlConfig
from pipeline.scorers.scaling import ScoreScale


def share_cut(p: np.ndarray, share: float) -> float:
    """The probability whose ``p >= cut`` share of leads is closest to ``share``.

    Ties cannot be split by a line, so with a coarse scorer (a points table) the share is the
    nearest one its distinct values allow.
    """
    p = np.sort(np.asarray(p, dtype="float64"))
    values = np.unique(p)
    at_or_above = 1.0 - np.searchsorted(p, values, side="left") / p.size
    return float(values[np.argmin(np.abs(at_or_above - share))])


def precision_cut(p: np.ndarray, y: np.ndarray, precision: float) -> float | None:
    """The lowest probability whose leads at or above it convert at least ``precision`` often.

    ``None`` when no line does (or there is no conversion): the target is out of reach.
    """
    p = np.asarray(p, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if not y.any():
        return None
    order = np.argsort(-p, kind="stable")
    p_sorted, hits = p[order], np.cumsum(y[order])
    # the last row of each block of tied probabilities: a line takes a block whole
    ends = np.flatnonzero(np.r_[p_sorted[1:] != p_sorted[:-1], True])
    reached = ends[hits[ends] / (ends + 1) >= precision]
    return float(p_sorted[reached.max()]) if reached.size else None


@dataclass(frozen=True)
class MqlRule:
    """One scorer's MQL line: flag a lead when its calibrated probability reaches ``threshold``.

    ``which`` / ``target``: the ``scoring.mql`` setting (share, per_week or precision);
    ``share``: the share of leads a capacity aims at; ``threshold`` ``None``: undefined.
    """

    which: str
    target: float
    share: float | None
    threshold: float | None
    learned_on: str

    def flags(self, p: np.ndarray) -> np.ndarray:
        """MQL or not, per lead (nobody when the line is undefined)."""
        p = np.asarray(p, dtype="float64")
        if self.threshold is None:
            return np.zeros(len(p), dtype=bool)
        return p >= self.threshold

    def describe(self, scale: ScoreScale | None = None) -> str:
        """The rule in words, with the line in displayed score units when ``scale`` is given."""
        if self.which == "precision":
            rule = f"precision {self.target:.0%} on validation leads"
        elif self.which == "per_week":
            rule = (f"{self.target:g} leads a week (top {self.share:.1%} of leads at the "
                    "training leads' arrival rate)")
        else:
            rule = f"top {self.target:.0%} of validation leads"
        if self.threshold is None:
            return f"{rule}: n/a (no line reaches it)"
        line = f"probability >= {self.threshold:.2%}"
        if scale is not None:
            line += f", score >= {int(scale.display(np.array([self.threshold]))[0])}"
        return f"{rule}: {line}"


def learn_mql(mql: MqlConfig, p_train: np.ndarray, p_valid: np.ndarray, y_valid: np.ndarray,
              train_leads_per_week: float) -> MqlRule:
    """One scorer's MQL line from the ``scoring.mql`` rule (see the module docstring)."""
    which, target = mql.rule()
    if which == "precision":
        return MqlRule(which, target, None, precision_cut(p_valid, y_valid, target), "validation")
    share = target if which == "share" else min(1.0, target / max(train_leads_per_week, 1e-9))
    # on validation too: a model's probabilities on the rows it was fitted on are spread wider
    # than on new leads, so a line cut there flags fewer new leads than the capacity (12 % for
    # a 20 % capacity on a small 47 % world trained on the as_of grid)
    return MqlRule(which, target, share, share_cut(p_valid, share), "validation")


@dataclass(frozen=True)
class BandCuts:
    """Hot / warm / cold: the lowest probability of each band (learned from shares of the
    training leads), or the lowest displayed score of each band (``scoring.bands.scores``).

    Names are best first; the last band takes every lead below the others.
    """

    names: tuple[str, ...]
    probabilities: tuple[float, ...] | None = None
    scores: tuple[float, ...] | None = None

    def band(self, p: np.ndarray, displayed: np.ndarray) -> np.ndarray:
        """Band name of each lead (``p`` calibrated probability, ``displayed`` its score)."""
        values, cuts = ((np.asarray(p, dtype="float64"), self.probabilities)
                        if self.probabilities is not None
                        else (np.asarray(displayed, dtype="float64"), self.scores))
        out = np.full(len(values), self.names[-1], dtype=object)
        for name, low in reversed(list(zip(self.names[:-1], cuts[:-1], strict=True))):
            out[values >= low] = name
        return out

    def lowest_scores(self, scale: ScoreScale) -> dict[str, float]:
        """Lowest displayed score of each band (the last band: its floor, shown as 0 or the
        scale's lowest), what the report and the console show."""
        if self.scores is not None:
            return dict(zip(self.names, self.scores, strict=True))
        shown = scale.display(np.asarray(self.probabilities[:-1], dtype="float64"))
        return {**{n: float(s) for n, s in zip(self.names[:-1], shown, strict=True)},
                self.names[-1]: float("-inf")}

    def describe(self, scale: ScoreScale) -> str:
        """``hot >= 62, warm >= 31, cold below`` in displayed score units."""
        lows = self.lowest_scores(scale)
        parts = [f"{name} >= {low:g}" for name, low in lows.items() if np.isfinite(low)]
        source = "fixed cut-offs" if self.scores is not None else "learned on validation leads"
        return f"{', '.join(parts)}, {self.names[-1]} below ({source})"


def learn_bands(bands: BandsConfig, p_valid: np.ndarray) -> BandCuts:
    """Cut-offs from ``scoring.bands``: shares of the validation leads, or the fixed scores."""
    if bands.scores is not None:
        ordered = sorted(bands.scores.items(), key=lambda kv: -kv[1])
        return BandCuts(tuple(n for n, _ in ordered), scores=tuple(float(s) for _, s in ordered))
    shares = bands.band_shares()
    names = tuple(shares)
    cumulative = np.cumsum(list(shares.values()))
    cuts = [share_cut(p_valid, c) for c in cumulative[:-1]] + [0.0]
    return BandCuts(names, probabilities=tuple(cuts))
