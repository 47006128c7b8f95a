"""Whole synthetic worlds: the chunk loop, the intercept probe, the schemas and the public API.

:func:`make_world` and :func:`write_world` generate a world chunk by chunk, each chunk of
:data:`CHUNK` leads from its own stream ``default_rng([seed, chunk])``, so the bytes depend only on
the arguments and any size streams to Parquet in bounded memory. The chunking and the probe
that solves the intercept live here, with the Arrow schemas of the three tables, because they
are what ties the generators of the other modules into one reproducible world. The names that
callers imported from this module before the package was split are still importable from it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.activity import ACTIVITY_TYPES
from pipeline.data.errors import ConfigError
from pipeline.data.io import atomic_path
from pipeline.synth.activities import _deals, _Events, _first_fortnight, _organic
from pipeline.synth.companies import _companies
from pipeline.synth.leads import _calendar, _leads
from pipeline.synth.lifecycle import stage_dates, stage_schema
from pipeline.synth.outcomes import _OPEN, SIGNALS, _decide, _logit, _signals
from pipeline.synth.sampling import _sigmoid
from pipeline.synth.vocabulary import (
    _DAY_S,
    _DETAILS,
    _NS,
    _T,
    AS_OF_DAYS,
    COMPETITOR_DOMAINS,
    DRIFT_MONTHS,
    HORIZON_DAYS,
    N_COMPANIES,
)

__all__ = [
    "ACTIVITIES_SCHEMA",
    "ACTIVITY_TYPES",
    "AS_OF_DAYS",
    "CHUNK",
    "COMPETITOR_DOMAINS",
    "LEADS_SCHEMA",
    "PROBE_LEADS",
    "PROBE_SEED",
    "TRUTH_SCHEMA",
    "World",
    "make_world",
    "write_world",
]


#: Leads per chunk: fixed, so the output never depends on the machine. Read at call time
#: from this module's globals, so tests shrink it with ``monkeypatch.setattr(world, ...)``.
CHUNK = 50_000
#: Size and seed of the probe world that solves the intercept: fixed, so b0 depends on
#: (base_rate, end, months) and never on the world's own seed or size.
PROBE_LEADS = 40_000
PROBE_SEED = 20_260_630

# Channel by type code: events (trade shows, roadshows, meetups) and sales calls are offline.
_OFFLINE = np.isin(np.arange(len(ACTIVITY_TYPES)), [_T["offline_event"], _T["sales_call"]])


@dataclass
class World:
    """The three tables of a synthetic world (canonical frames, see docs/CONTRACTS.md)."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    truth: pd.DataFrame


LEADS_SCHEMA = pa.schema(
    [
        ("lead_id", pa.string()),
        ("created_at", pa.timestamp("ns")),
        ("outcome", pa.string()),
        ("outcome_at", pa.timestamp("ns")),
        ("name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("job_title", pa.string()),
        ("company", pa.string()),
        ("industry", pa.string()),
        ("employees", pa.int64()),
        ("annual_revenue", pa.float64()),
        ("country", pa.string()),
        ("lead_source", pa.string()),
        ("product_line", pa.string()),
    ]
)
ACTIVITIES_SCHEMA = pa.schema(
    [
        ("lead_id", pa.string()),
        ("occurred_at", pa.timestamp("ns")),
        ("activity_type", pa.string()),
        ("detail", pa.string()),
        ("channel", pa.string()),
    ]
)
# The probability is the lead's chance as seen AS_OF_DAYS (the world's odds_age_days) after
# creation: the file says so, since on an as_of grid only the rows of that age can be judged
# against it (data/io.read_truth).
TRUTH_SCHEMA = pa.schema([("lead_id", pa.string()), ("p_convert", pa.float64())],
                         metadata={b"as_of_days": str(AS_OF_DAYS).encode()})


def _truth_schema(age: int) -> pa.Schema:
    """:data:`TRUTH_SCHEMA` of a world whose true odds are at ``age`` days after creation."""
    return TRUTH_SCHEMA.with_metadata({b"as_of_days": str(age).encode()})


@functools.lru_cache(maxsize=16)
def _intercept(base_rate: float, end: str, months: int, signal: float = 1.0,
               half_lives: tuple[tuple[str, float], ...] | None = None,
               companies: int = N_COMPANIES, age: int = AS_OF_DAYS) -> float:
    """Intercept b0 with mean p = ``base_rate`` on a fixed-seed probe (bisection), whose leads
    are seen ``age`` days after creation as the world's are."""
    rng = np.random.default_rng([PROBE_SEED, 0, 2])
    ld = _leads(rng, PROBE_LEADS, 0, PROBE_LEADS, end, months,
                _companies(PROBE_SEED, companies))
    ev = _Events()
    _first_fortnight(rng, ld, ev, age)
    lead, sec, type_code, detail = ev.arrays()
    base = _logit(ld, _signals(PROBE_LEADS, lead, sec, type_code, detail, half_lives, age),
                  signal)
    low, high = -20.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        if _sigmoid(mid + base).mean() > base_rate:
            high = mid
        else:
            low = mid
    return (low + high) / 2


def _chunk(
    seed: int,
    chunk: int,
    n: int,
    offset: int,
    total: int,
    end: str,
    months: int,
    b0: float,
    signal: float = 1.0,
    half_lives: tuple[tuple[str, float], ...] | None = None,
    stages: bool = False,
    companies: int = N_COMPANIES,
    age: int = AS_OF_DAYS,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Leads, activities and truth of one chunk as Arrow tables (leads with the stage dates of
    :mod:`pipeline.synth.lifecycle` when ``stages``; the true odds at ``age`` days)."""
    rng = np.random.default_rng([seed, chunk])
    pool = _companies(seed, companies)
    ld = _leads(rng, n, offset, total, end, months, pool)
    _, _, _, end_s = _calendar(end, months)
    ev = _Events()
    mail_cut = _first_fortnight(rng, ld, ev, age)
    p = _sigmoid(b0 + _logit(ld, _signals(n, *ev.arrays(), half_lives, age), signal))

    won, lost, decided, decided_s, outcome = _decide(rng, ld, p, end_s, age)
    # Organic activity stops at a won deal's close (its decision day) or after the horizon.
    stop = np.where(won, decided, HORIZON_DAYS)
    stop = np.minimum(stop, (end_s - ld.created) / _DAY_S + 1.0 / _DAY_S)
    _organic(rng, ld, np.full(n, float(age)), np.maximum(stop, age), mail_cut, ev)
    _deals(rng, won, lost, decided, ev, age)

    lead, sec, type_code, detail = ev.arrays()
    at = ld.created[lead] + sec
    keep = at <= end_s
    lead, at, type_code, detail = lead[keep], at[keep], type_code[keep], detail[keep]
    order = np.lexsort((type_code, at, lead))
    lead, at, type_code, detail = lead[order], at[order], type_code[order], detail[order]
    ids = pa.array(ld.text["lead_id"], pa.string())
    activities = pa.table(
        [
            ids.take(pa.array(lead.astype(np.int32))),
            pa.array((at * _NS).view("datetime64[ns]")),
            pa.array(ACTIVITY_TYPES, pa.string()).take(pa.array(type_code.astype(np.int32))),
            pa.array(_DETAILS, pa.string()).take(
                pa.array(detail.astype(np.int32), mask=detail < 0)
            ),
            pa.array(["online", "offline"], pa.string()).take(
                pa.array(_OFFLINE[type_code].astype(np.int32))
            ),
        ],
        schema=ACTIVITIES_SCHEMA,
    )
    t = ld.text
    leads = pa.table(
        [
            ids,
            pa.array((ld.created * _NS).view("datetime64[ns]")),
            pa.array(["won", "lost", "open"], pa.string()).take(pa.array(outcome.astype(np.int32))),
            pa.array((decided_s * _NS).view("datetime64[ns]"), mask=outcome == _OPEN),
            *(
                pa.array(t[c], pa.string())
                for c in ("name", "email", "phone", "job_title", "company", "industry")
            ),
            pa.array(pool.employees[ld.company]),
            pa.array(pool.revenue[ld.company], from_pandas=True),
            *(pa.array(t[c], pa.string()) for c in ("country", "lead_source", "product_line")),
        ],
        schema=LEADS_SCHEMA,
    )
    if stages:
        dates = stage_dates(seed, chunk, ld.created, p, won, outcome, decided_s, end_s)
        leads = pa.table([*leads.columns, *dates], schema=stage_schema(LEADS_SCHEMA))
    truth = pa.table([ids, pa.array(p)], schema=_truth_schema(age))
    return leads, activities, truth


def _plan(
    n_leads: int,
    seed: int,
    base_rate: float,
    end: str,
    months: int,
    signal: float = 1.0,
    half_lives: tuple[tuple[str, float], ...] | None = None,
    companies: int = N_COMPANIES,
    age: int = AS_OF_DAYS,
) -> tuple[list[tuple[int, int, int]], float]:
    """Validate the arguments; chunks as (index, size, offset) and the intercept."""
    if isinstance(age, bool) or not isinstance(age, int | np.integer) \
            or not 1 <= age <= HORIZON_DAYS:
        raise ConfigError(f"synth: odds_age_days must be a whole number of days in "
                          f"1..{HORIZON_DAYS:g}, got {age!r}")
    for name, days in half_lives or ():
        if name not in SIGNALS or not days > 0:
            raise ConfigError(
                f"synth: half_lives: {name!r}: {days!r} must be a positive number of days for "
                f"one of {list(SIGNALS)}"
            )
    if not isinstance(n_leads, int | np.integer) or n_leads < 1:
        raise ConfigError(f"synth: n_leads must be a positive integer, got {n_leads!r}")
    if not 0.0 < base_rate < 1.0:
        raise ConfigError(f"synth: base_rate must be in (0, 1), got {base_rate!r}")
    if not isinstance(signal, int | float | np.number) or not 0.0 < signal <= 1.0:
        raise ConfigError(f"synth: signal must be in (0, 1], got {signal!r}")
    if months <= DRIFT_MONTHS:
        raise ConfigError(
            f"synth: months must exceed the {DRIFT_MONTHS}-month drift quarter, got {months!r}"
        )
    try:
        end = str(pd.Timestamp(end).date())
    except (ValueError, TypeError):
        raise ConfigError(f"synth: end must be a date like 2026-06-30, got {end!r}") from None
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"synth: seed must be a non-negative integer, got {seed!r}")
    if not isinstance(companies, int | np.integer) or not 100 <= companies <= N_COMPANIES:
        raise ConfigError(f"synth: companies must be a whole number in 100..{N_COMPANIES}, "
                          f"got {companies!r}")
    chunks = [
        (i, min(CHUNK, n_leads - i * CHUNK), i * CHUNK)
        for i in range((n_leads + CHUNK - 1) // CHUNK)
    ]
    return chunks, _intercept(float(base_rate), end, int(months), float(signal), half_lives,
                               int(companies), int(age))


def _decay(half_lives: dict[str, float] | None) -> tuple[tuple[str, float], ...] | None:
    """Half-lives as a sorted, hashable tuple (the intercept probe is cached on it)."""
    return None if half_lives is None else tuple(sorted(half_lives.items()))


def make_world(
    n_leads: int,
    seed: int = 42,
    base_rate: float = 0.08,
    end: str = "2026-06-30",
    months: int = 24,
    signal: float = 1.0,
    half_lives: dict[str, float] | None = None,
    stages: bool = False,
    companies: int = N_COMPANIES,
    odds_age_days: int = AS_OF_DAYS,
) -> World:
    """Generate a synthetic CRM world in memory.

    Parameters
    ----------
    n_leads
        Number of leads.
    seed
        Random seed: the same arguments give the same world, on any machine.
    base_rate
        Mean true conversion probability (the realised won share is a little lower, because
        deals that close after ``end`` are still open).
    end
        Snapshot day: leads are created up to its last second and nothing happens after it.
    months
        Months of lead creation before ``end`` (more than the 3-month drift quarter).
    signal
        Strength of the true log-odds' dependence on the observables, in (0, 1]: 1.0 is the
        default world (oracle ROC-AUC about 0.87), 0.3 a weak one (about 0.6) where a model can
        hardly beat a points table. The intercept is solved again, so ``base_rate`` still holds.
    half_lives
        Signal -> half-life in days of its recency weight in the true odds (names in
        :data:`~pipeline.synth.outcomes.SIGNALS`: ``pricing``, ``webinar_attended`` ...), the
        others keep 7 days: a world with known per-signal decay. ``None`` (the default world):
        7 days for all.
    stages
        Add the lifecycle stage dates ``mql_date``, ``sql_date``, ``opportunity_date`` to the
        leads (their own random stream: every other column keeps its bytes).
    companies
        Size of the company pool (default :data:`N_COMPANIES`, the default world). Fewer
        companies concentrate the leads on fewer accounts (buying committees of several
        leads) for the account evaluation; the other draws are unchanged, but the companies'
        sizes, industries and so the fit and the odds differ, so it is another world.
    odds_age_days
        Lead age (days after creation) of its as_of, at which the true odds are defined: they
        read the events before it, won deals close and the leakage trap starts after it, and
        ``truth.parquet`` records it (``as_of_days``). The default :data:`AS_OF_DAYS` (14) is
        the default world; an older age (at most the 180-day organic horizon) sees more
        events, spread over more ages (the :data:`~pipeline.synth.vocabulary.RATES` stay
        counts of the first 14 days), so a learner can tell longer half-lives apart.

    Returns
    -------
    World
        ``leads``, ``activities`` and ``truth`` frames, equal to what :func:`write_world` writes
        for the same arguments (and to ``pd.read_parquet`` of those files).

    Raises
    ------
    ConfigError
        An argument out of range.
    """
    decay = _decay(half_lives)
    chunks, b0 = _plan(n_leads, seed, base_rate, end, months, signal, decay, companies,
                       odds_age_days)
    end = str(pd.Timestamp(end).date())
    parts = [_chunk(seed, c, n, off, n_leads, end, months, b0, signal, decay, stages,
                    companies, int(odds_age_days))
             for c, n, off in chunks]
    return World(*(pa.concat_tables([p[k] for p in parts]).to_pandas() for k in range(3)))


def write_world(
    out_dir: str | Path,
    n_leads: int,
    seed: int = 42,
    base_rate: float = 0.08,
    end: str = "2026-06-30",
    months: int = 24,
    progress: Callable[[int, int], None] | None = None,
    signal: float = 1.0,
    half_lives: dict[str, float] | None = None,
    stages: bool = False,
    companies: int = N_COMPANIES,
    odds_age_days: int = AS_OF_DAYS,
) -> dict[str, object]:
    """Stream a synthetic CRM world to ``leads``, ``activities`` and ``truth.parquet``.

    One chunk of :data:`CHUNK` leads and its events is in memory at a time (a row group per
    chunk), so a million leads with ~20M activities stay well under 4 GiB. Each file appears
    atomically: a failed run leaves no partial file.

    Parameters
    ----------
    out_dir
        Folder for the three files (created if missing; existing files are replaced).
    n_leads, seed, base_rate, end, months, signal, half_lives, stages, companies, odds_age_days
        As in :func:`make_world`; the files hold exactly :func:`make_world`'s frames.
    progress
        Called as ``progress(leads_done, n_leads)`` after each chunk.

    Returns
    -------
    dict
        ``leads`` and ``activities`` (rows written), ``positives`` (won leads), ``rate`` (their
        share), ``true_rate`` (mean ``p_convert``) and ``seconds``.

    Raises
    ------
    ConfigError
        An argument out of range.
    """
    started = time.perf_counter()
    decay = _decay(half_lives)
    chunks, b0 = _plan(n_leads, seed, base_rate, end, months, signal, decay, companies,
                       odds_age_days)
    end = str(pd.Timestamp(end).date())
    out = Path(out_dir)
    rows = {"leads": 0, "activities": 0, "positives": 0}
    p_sum = 0.0
    schemas = (stage_schema(LEADS_SCHEMA) if stages else LEADS_SCHEMA, ACTIVITIES_SCHEMA,
               _truth_schema(int(odds_age_days)))
    with (
        atomic_path(out / "leads.parquet") as lp,
        atomic_path(out / "activities.parquet") as ap,
        atomic_path(out / "truth.parquet") as tp,
    ):
        writers = [
            pq.ParquetWriter(path, schema, compression="zstd")
            for path, schema in zip((lp, ap, tp), schemas, strict=True)
        ]
        try:
            for c, n, off in chunks:
                leads, activities, truth = _chunk(
                    seed, c, n, off, n_leads, end, months, b0, signal, decay, stages,
                    companies, int(odds_age_days),
                )
                for writer, table in zip(writers, (leads, activities, truth), strict=True):
                    writer.write_table(table, row_group_size=2 * CHUNK * 40)
                rows["leads"] += n
                rows["activities"] += activities.num_rows
                rows["positives"] += int(
                    np.sum(leads["outcome"].to_numpy(zero_copy_only=False) == "won")
                )
                p_sum += float(np.sum(truth["p_convert"].to_numpy()))
                if progress is not None:
                    progress(rows["leads"], n_leads)
        finally:
            for writer in writers:
                writer.close()
    return {
        **rows,
        "rate": round(rows["positives"] / n_leads, 4),
        "true_rate": round(p_sum / n_leads, 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
