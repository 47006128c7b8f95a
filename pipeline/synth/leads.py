"""The leads of one chunk: when they arrive, who they are and how much they want to buy.

Creation times follow a seasonal hourly calendar; each lead gets a product line, a latent
seniority and department, a company, an email domain type, a country and a source (all from the
shifted mix in the drift quarter), the observable fit score of :data:`FIT_WEIGHTS` and a latent
intent. The traits are kept together in ``_Leads`` because the activity processes and the true
odds read them all; the rendered text columns ride along for the lead table.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.synth.companies import _Companies
from pipeline.synth.people import _people
from pipeline.synth.sampling import _codes
from pipeline.synth.titles import _render_titles
from pipeline.synth.vocabulary import (
    _NS,
    COUNTRIES,
    COUNTRY_P,
    DEPARTMENT_P,
    DEPARTMENTS,
    DRIFT_MONTHS,
    FIT_WEIGHTS,
    INDUSTRIES,
    PRODUCT_P,
    PRODUCT_P_DRIFT,
    PRODUCTS,
    SENIORITIES,
    SENIORITY_P,
    SOURCE_P,
    SOURCE_P_DRIFT,
    SOURCES,
)


@functools.lru_cache(maxsize=8)
def _calendar(end: str, months: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Hourly creation-time CDF, its edges (epoch seconds), drift start and last second."""
    stop = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
    start = stop - pd.DateOffset(months=months)
    hours = pd.date_range(start, stop, freq="h", inclusive="left")
    season = np.array([1.25, 1.2, 1.15, 1.0, 0.95, 0.85, 0.75, 0.7, 1.15, 1.15, 1.0, 0.7])
    weekend = np.where(hours.day_of_week >= 5, 0.35, 1.0)
    # UTC business hours of Europe and the Americas overlap in the afternoon.
    hour = 0.25 + 0.75 * np.exp(-0.5 * ((hours.hour.to_numpy() + 0.5 - 14.5) / 3.5) ** 2)
    growth = np.linspace(0.85, 1.15, len(hours))
    w = season[hours.month.to_numpy() - 1] * weekend * hour * growth
    cdf = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
    edges = start.value // _NS + 3600.0 * np.arange(len(hours) + 1)
    drift_start = (stop - pd.DateOffset(months=DRIFT_MONTHS)).value // _NS
    return cdf, edges, int(drift_start), int(stop.value // _NS - 1)


def _drifted(p: Sequence[float], student_share: float) -> np.ndarray:
    """Seniority mix with ``student_share`` more students, the rest scaled down."""
    out = np.asarray(p, dtype=float) * (1.0 - student_share)
    out[SENIORITIES.index("student")] += student_share
    return out


def _codes_by_row(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Category codes drawn per element from the probability row ``table[row]``."""
    cdf = np.cumsum(table, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(row.size)
    return np.minimum((cdf[row] < u[:, None]).sum(axis=1), table.shape[1] - 1)


_SENIORITY_TABLE = np.array(
    [row for line in PRODUCTS for row in (SENIORITY_P[line], _drifted(SENIORITY_P[line], 0.07))]
)
_DEPARTMENT_TABLE = np.array([DEPARTMENT_P[line] for line in PRODUCTS])
_FREE_BY_SENIORITY = np.array([0.12, 0.06, 0.08, 0.15, 0.25, 0.75])


def _lookup(mapping: dict[str, object], keys: Sequence[str]) -> np.ndarray:
    """Array of ``mapping[k]`` for the keys in vocabulary order (code -> value table)."""
    return np.asarray([mapping[k] for k in keys], dtype=float)


def _fit_tables() -> dict[str, np.ndarray]:
    """Fit weights as code-indexed arrays."""
    w = FIT_WEIGHTS
    return {
        "seniority": np.array([w["seniority"][k] for k in (*SENIORITIES, "unknown")]),
        "department": np.array([w["department"][k] for k in (*DEPARTMENTS, "unknown")]),
        "size": np.asarray(w["log10_employees"]),
        "industry": _lookup(w["industry"], INDUSTRIES),
        "industry_scale": np.asarray(w["industry_scale"]),
        "source": _lookup(w["source"], SOURCES),
        "country": _lookup(w["country"], COUNTRIES),
        "free_mail": np.asarray(w["free_mail"]),
        "competitor": np.asarray(w["competitor"]),
    }


_FIT = _fit_tables()


@dataclass
class _Leads:
    """One chunk of leads: integer codes, latent traits and the rendered text columns."""

    created: np.ndarray  # epoch seconds
    line: np.ndarray
    seniority: np.ndarray
    source: np.ndarray
    company: np.ndarray
    country: np.ndarray
    domain_type: np.ndarray  # 0 corporate, 1 free mail, 2 competitor
    fit: np.ndarray
    intent: np.ndarray
    job_seeker: np.ndarray
    invalid: np.ndarray
    browse: np.ndarray
    text: dict[str, np.ndarray]


def _leads(
    rng: np.random.Generator,
    n: int,
    offset: int,
    total: int,
    end: str,
    months: int,
    pool: _Companies,
) -> _Leads:
    """Leads ``offset .. offset + n`` of ``total``: who they are and how much they want to buy."""
    cdf, edges, drift_start, _ = _calendar(end, months)
    # Stratified over the whole world's quantiles: lead ids grow with created_at across chunks.
    u = (offset + np.sort(rng.random(n)) * n) / total
    created = np.floor(np.interp(u, cdf, edges)).astype(np.int64)
    drift = created >= drift_start
    line = np.where(drift, _codes(rng, PRODUCT_P_DRIFT, n), _codes(rng, PRODUCT_P, n))
    seniority = _codes_by_row(rng, _SENIORITY_TABLE, 2 * line + drift)
    dept = _codes_by_row(rng, _DEPARTMENT_TABLE, line)
    student = seniority == SENIORITIES.index("student")
    n_pool = pool.cdf.size  # N_COMPANIES unless make_world(companies=...) concentrates leads
    company = np.minimum(np.searchsorted(pool.cdf, rng.random(n)), n_pool - 1)
    at_school = student & (rng.random(n) < 0.65)
    company[at_school] = pool.schools[rng.integers(0, pool.schools.size, int(at_school.sum()))]
    domain_u = rng.random(n)
    competitor = domain_u < 0.008
    company[competitor] = n_pool + rng.integers(0, 2, int(competitor.sum()))
    tiny = pool.employees[company] < 10  # the self-employed sign up with private addresses
    free_p = _FREE_BY_SENIORITY[seniority] + 0.08 * drift + 0.3 * tiny
    domain_type = np.where(competitor, 2, np.where(domain_u < 0.008 + free_p, 1, 0))
    country = np.where(rng.random(n) < 0.85, pool.country[company], _codes(rng, COUNTRY_P, n))
    source = np.where(drift, _codes(rng, SOURCE_P_DRIFT, n), _codes(rng, SOURCE_P, n))
    titles, seen_level, seen_dept = _render_titles(rng, seniority, dept)
    name, email, phone = _people(rng, n, company, domain_type, pool)
    industry = pool.industry[company]
    f = _FIT
    fit = (
        f["seniority"][seen_level, line]
        + f["department"][seen_dept, line]
        + f["size"][line] * (np.log10(pool.employees[company]) - np.log10(200))
        + f["industry"][industry] * f["industry_scale"][line]
        + f["source"][source]
        + f["country"][country]
        + f["free_mail"][line] * (domain_type == 1)
        + f["competitor"][line] * (domain_type == 2)
    )
    intent = rng.normal(0.0, 1.0, n) + 0.3 * np.tanh(fit)
    job_seeker = rng.random(n) < np.where(student, 0.3, 0.04)
    invalid = rng.random(n) < np.where(domain_type == 1, 0.08, 0.02)
    browse = np.exp(rng.normal(-0.08, 0.4, n))  # some people just click around more
    lead_id = np.char.add("L", np.char.zfill((offset + 1 + np.arange(n)).astype(str), 7))
    text = {
        "lead_id": lead_id.astype(object),
        "name": name,
        "email": email,
        "phone": phone,
        "job_title": titles,
        "company": pool.name[company],
        "industry": np.asarray(INDUSTRIES, dtype=object)[industry],
        "country": np.asarray(COUNTRIES, dtype=object)[country],
        "lead_source": np.asarray(SOURCES, dtype=object)[source],
        "product_line": np.asarray(PRODUCTS, dtype=object)[line],
    }
    return _Leads(
        created,
        line,
        seniority,
        source,
        company,
        country,
        domain_type,
        fit,
        intent,
        job_seeker,
        invalid,
        browse,
        text,
    )
