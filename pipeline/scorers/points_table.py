"""The rules a learned points table may hold, in the forms a CRM's scoring rules take.

:mod:`pipeline.scorers.learned_points` chooses among these candidates; this module says what a
candidate is, computes its column exactly as :class:`~pipeline.scorers.rules.RuleScorer` scores
it, rounds thresholds to values a person would type, and writes the chosen rules as a
:class:`~pipeline.scorers.rules.RulesBook` (and as the rows ``leadscore points`` prints).

One field, one encoding. Every feature is traced to the CRM field it comes from
(:func:`features.spec.source_field`): ``company_size_band`` and ``company_employees`` are one
field, the 7/30/90-day counts of pricing-page visits are one signal, and summaries no CRM holds
(open rates, decayed sums) are no candidates at all. The candidates are

* a level of a categorical field: ``industry = software`` -> ``attributes``;
* a yes/no field: ``is true`` -> ``flags``;
* a step of a numeric field: ``employees >= 200`` -> ``thresholds``, at "nice" edges (whole
  units below 10, then 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200 ...);
* per-event points of an activity signal in one recency window, capped after a few events:
  ``+8 per pricing-page visit in the last 30 days, at most +24`` -> ``activities`` with
  ``window`` and ``cap``; the candidate's column is ``min(count, cap_events)``, so its learned
  weight is the per-event points and every lead's total stays whole points;
* when the feature table has a signal's ``decayed_<signal>`` (``features.decay: learn`` or
  ``fixed``), that signal's per-event candidates decay instead of counting in a window:
  ``+8 per pricing-page visit, halving every 3 days, at most +24`` (``half_life_days``), read
  from the same column as the model with the same half-life, so model and table share it. Their
  totals are fractional points (a decayed count is); the step windows are not offered beside
  them, since one signal has one encoding.

Each candidate carries the business direction the spec knows (``FeatureInfo.monotone``): the
learner keeps only weights of that sign, so steps of a monotone field and per-event points add up
in the expected direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.activity import DECAYED
from features.spec import FeatureSpec, source_field
from pipeline.scorers.rules import ActivityRule, RulesBook, Step

#: Events after which a per-event rule stops adding points (its cap, in events).
CAP_EVENTS = (1, 2, 3, 5, 10)
#: Mantissas of the edges a person types for wide ranges (x 10, 100, 1000 ...).
NICE_MANTISSAS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0)
#: Quantiles of a numeric field's known values that propose step edges.
EDGE_QUANTILES = 12


@dataclass(frozen=True)
class Candidate:
    """One rule a learned table may hold."""

    field: str  # the CRM field (one encoding each)
    section: str  # attributes | flags | thresholds | activities
    feature: str  # the feature column it reads
    direction: int = 0  # +1 / -1: the sign its points must have; 0: free
    level: str | None = None  # attributes
    edge: float | None = None  # thresholds
    window: int | None = None  # activities: days
    cap_events: int | None = None  # activities
    half_life: float | None = None  # activities on decayed_<signal>: days


def nice_number(value: float) -> float:
    """``value`` rounded to an edge a person would type: whole units below 10, then the nearest
    (on a log scale) of 10, 15, 20, 25, 30, 40, 50, 75, 100, 150 ... (:data:`NICE_MANTISSAS`)."""
    size = abs(float(value))
    if size < 10:
        return float(math.copysign(math.floor(size + 0.5), value))
    exponent = 10.0 ** math.floor(math.log10(size))
    mantissa = min(NICE_MANTISSAS, key=lambda m: abs(math.log(size / (m * exponent))))
    return float(math.copysign(mantissa * exponent, value))


def nice_floor(value: float) -> float:
    """The largest edge a person would type that is at most ``value`` (``value`` >= 0)."""
    if value < 10:
        return float(math.floor(value))
    exponent = 10.0 ** math.floor(math.log10(value))
    return max(m * e for e in (exponent / 10, exponent) for m in NICE_MANTISSAS
               if m * e <= value)


def nice_edges(values: np.ndarray, n_quantiles: int = EDGE_QUANTILES) -> list[float]:
    """Candidate step edges of a numeric field: nice numbers at quantiles of its known values.

    Only edges of at least one whole unit above the smallest value qualify (a step at the minimum
    separates known from missing, and is kept when some values are missing); a field whose
    values span less than one whole unit gets no steps.
    """
    known = values[np.isfinite(values)]
    if known.size == 0:
        return []
    low = float(known.min())
    above = known[known > low]
    quantiles = np.quantile(above, np.linspace(0, 1, n_quantiles + 1)[1:-1]) if above.size \
        else np.array([])
    edges = {nice_number(q) for q in quantiles}
    edges = {e for e in edges if e != 0 and e > low and e <= known.max()}
    if known.size < values.size and low >= 1:
        # every known value is at or above it: the step says "known", at a number people type
        edges.add(nice_floor(low))
    return sorted(edges)


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object).astype(str).str.casefold()


def candidates(X: pd.DataFrame, spec: FeatureSpec, windows: tuple[int, ...],
               min_share: float,
               half_lives: dict[str, float] | None = None) -> list[Candidate]:
    """Every rule a table learned from the training leads ``X`` may hold (module docstring).

    A rule must fire on at least ``min_share`` of the leads, and must not fire on all but that
    share (such a rule is nearly constant: noise, or the start points under another name).
    ``half_lives``: signal -> half-life of its ``decayed_<signal>`` column (the builder's);
    those signals' per-event rules decay.
    """
    decayed = {s: h for s, h in (half_lives or {}).items() if DECAYED + s in X}
    offered: set[str] = set()
    n = len(X)
    min_rows = max(1, int(min_share * n))

    def varies(on: int) -> bool:
        return min_rows <= on <= n - min_rows

    out: list[Candidate] = []
    for info in spec.features:
        field = source_field(info.name)
        if field is None or info.name not in X:
            continue
        column = X[info.name]
        window = _window_of(info.name, field, windows)
        if window is not None and field in decayed:
            if field in offered:  # one set of candidates per signal, whichever windows exist
                continue
            offered.add(field)
            column = DECAYED + field
            counts = X[column].fillna(0).to_numpy(dtype="float64")
            # a decayed count is fractional: cap k matters once some lead is above k - 1
            out += [Candidate(field, "activities", column, info.monotone, cap_events=k,
                              half_life=decayed[field])
                    for k in CAP_EVENTS if varies(int((counts > k - 1).sum()))]
        elif window is not None:
            counts = column.fillna(0).to_numpy(dtype="float64")
            out += [Candidate(field, "activities", info.name, info.monotone, window=window,
                              cap_events=k) for k in CAP_EVENTS if varies(int((counts >= k).sum()))]
        elif info.dtype == "categorical":
            counts = _text(column).value_counts()
            out += [Candidate(field, "attributes", info.name, level=str(level))
                    for level, on in counts.items() if level != "nan" and varies(int(on))]
        elif info.dtype == "boolean":
            if varies(int((column.fillna(0).to_numpy(dtype="float64") > 0).sum())):
                out.append(Candidate(field, "flags", info.name, info.monotone))
        else:
            values = column.to_numpy(dtype="float64")
            out += [Candidate(field, "thresholds", info.name, info.monotone, edge=edge)
                    for edge in nice_edges(values) if varies(int((values >= edge).sum()))]
    return out


def _window_of(name: str, field: str, windows: tuple[int, ...]) -> int | None:
    """The window of an activity count column (``page_pricing_30d`` -> 30), else None."""
    for window in windows:
        if name == f"{field}_{window}d":
            return window
    return None


def design(X: pd.DataFrame, rules: list[Candidate]) -> np.ndarray:
    """One column per candidate, computed exactly as the RuleScorer scores that rule with one
    point (per event, for activity rules)."""
    mat = np.zeros((len(X), len(rules)), dtype="float64")
    text: dict[str, pd.Series] = {}
    for j, rule in enumerate(rules):
        if rule.section == "attributes":
            if rule.feature not in text:
                text[rule.feature] = _text(X[rule.feature])
            mat[:, j] = (text[rule.feature] == rule.level).to_numpy()
        elif rule.section == "flags":
            mat[:, j] = X[rule.feature].fillna(0).to_numpy(dtype="float64") > 0
        elif rule.section == "thresholds":
            mat[:, j] = X[rule.feature].to_numpy(dtype="float64") >= rule.edge
        else:
            counts = X[rule.feature].fillna(0).to_numpy(dtype="float64")
            mat[:, j] = np.minimum(counts, rule.cap_events)
    return mat


def book_of(rules: list[Candidate], points: np.ndarray, *, name: str, description: str,
            mql_threshold: float, base_points: float) -> RulesBook:
    """The rules with non-zero points as a rules file :func:`~pipeline.scorers.rules.load_rules`
    reads back unchanged."""
    attributes: dict[str, dict[str, float]] = {}
    flags: dict[str, float] = {}
    thresholds: dict[str, list[Step]] = {}
    activities: dict[str, ActivityRule] = {}
    for rule, pts in zip(rules, points, strict=True):
        if pts == 0:
            continue
        if rule.section == "attributes":
            attributes.setdefault(rule.feature, {})[rule.level] = float(pts)
        elif rule.section == "flags":
            flags[rule.feature] = float(pts)
        elif rule.section == "thresholds":
            thresholds.setdefault(rule.feature, []).append(Step(min=rule.edge, points=float(pts)))
        else:
            activities[rule.field] = ActivityRule(points=float(pts),
                                                  cap=float(abs(pts) * rule.cap_events),
                                                  window=rule.window,
                                                  half_life_days=rule.half_life)
    thresholds = {f: sorted(steps, key=lambda s: s.min) for f, steps in thresholds.items()}
    return RulesBook(name=name, description=description, mql_threshold=mql_threshold,
                     base_points=base_points, decay={"half_life_days": None},
                     attributes=attributes, flags=flags, thresholds=thresholds,
                     activities=activities)


def n_rules(book: RulesBook) -> int:
    """Rules of a table: levels, flags, steps and per-event rules (not the start, not the MQL)."""
    return (sum(len(levels) for levels in book.attributes.values()) + len(book.flags)
            + sum(len(steps) for steps in book.thresholds.values()) + len(book.activities))


def points_table(book: RulesBook, spec: FeatureSpec | None = None,
                 half_life_text: dict[str, str] | None = None) -> pd.DataFrame:
    """The table as rows a marketing-automation admin copies field by field.

    Columns ``factor, field, condition, points, rule``: one row per rule, grouped by factor,
    biggest points first within a factor; ``rule`` is the section of the rules file it sits in.
    Activity rules read ``per event (cap N)``, with ``in the last W days`` when windowed and
    ``halving every H days`` when decayed; ``half_life_text`` (signal -> text, e.g. the
    builder's ``3 days [2, 5]`` with its 95 % interval) replaces ``H days``.
    """
    rows = [{"factor": "Start", "field": "every lead", "condition": "starts with",
             "points": book.base_points, "rule": "base_points"}] if book.base_points else []

    def factor(feature: str) -> str:
        return spec.factor_of(feature) if spec is not None and feature in spec else feature

    def signal_factor(signal: str, rule: ActivityRule) -> str:
        if spec is None:
            return signal
        columns = [f"{signal}_{rule.window}d"] if rule.window else \
            [n for n in spec.names if source_field(n) == signal] + [DECAYED + signal]
        return next((spec.factor_of(c) for c in columns if c in spec), signal)

    for feature, table in book.attributes.items():
        rows += [{"factor": factor(feature), "field": feature, "condition": f"= {level}",
                  "points": pts, "rule": "attributes"} for level, pts in table.items()]
    for feature, pts in book.flags.items():
        rows.append({"factor": factor(feature), "field": feature, "condition": "is true",
                     "points": pts, "rule": "flags"})
    for feature, steps in book.thresholds.items():
        rows += [{"factor": factor(feature), "field": feature, "condition": f">= {s.min:,.10g}",
                  "points": s.points, "rule": "thresholds"} for s in steps]
    for signal, rule in book.activities.items():
        window = "" if rule.window is None else f" in the last {rule.window} days"
        if rule.half_life_days is not None:
            every = (half_life_text or {}).get(signal) or f"{rule.half_life_days:g} days"
            window = f", halving every {every}"
        cap = "" if rule.cap is None else f" (cap {rule.cap:g})"
        rows.append({"factor": signal_factor(signal, rule), "field": signal,
                     "condition": f"per event{window}{cap}", "points": rule.points,
                     "rule": "activities"})
    rows.append({"factor": "MQL", "field": "total points", "condition":
                 f">= {book.mql_threshold:g}", "points": None, "rule": "mql_threshold"})
    table = pd.DataFrame(rows, columns=["factor", "field", "condition", "points", "rule"])
    table["points"] = table["points"].astype("Int64")
    order = table["points"].abs().fillna(-1).to_numpy()
    table = table.assign(_o=-order)
    factor_order = {f: i for i, f in enumerate(dict.fromkeys(table["factor"]))}
    table["_f"] = table["factor"].map(factor_order)
    return table.sort_values(["_f", "_o"], kind="stable").drop(columns=["_o", "_f"]).reset_index(
        drop=True)
