"""The company pool of a seed: name, web domain, industry, head count, revenue and HQ country.

The pool is drawn once per seed from its own stream (``default_rng([seed, 0, 1])``, never a
chunk's) and cached, so every chunk's leads come from the same companies and a large company
sends many leads across the whole world. The two competitors close the pool, so a competitor's
address points at a real row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.synth.sampling import _codes, _Grouped
from pipeline.synth.vocabulary import (
    COMPETITOR_DOMAINS,
    COUNTRIES,
    COUNTRY_P,
    INDUSTRIES,
    INDUSTRY_P,
    INDUSTRY_SIZE,
    N_COMPANIES,
)

_NAME_A = (
    "Acme",
    "Apex",
    "Atlas",
    "Beacon",
    "Blue",
    "Bright",
    "Cedar",
    "Crest",
    "Delta",
    "Summit",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Horizon",
    "Iron",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Meridian",
    "North",
    "Nova",
    "Oak",
    "Pacific",
    "Pinnacle",
    "Quantum",
    "Redwood",
    "River",
    "Sierra",
    "Silver",
    "Sterling",
    "Stone",
    "Sun",
    "Titan",
    "Union",
    "Vertex",
    "Vista",
    "West",
    "Willow",
    "Zenith",
    "Orbit",
    "Maple",
    "Coral",
    "Echo",
    "Polar",
    "Swift",
    "True",
    "Prime",
    "Bluebird",
    "Copper",
)
_NAME_B = (
    "",
    "",
    "",
    "",
    "bay",
    "bridge",
    "field",
    "gate",
    "point",
    "ridge",
    "rock",
    "wood",
    "line",
    "path",
    "peak",
    "star",
    "view",
    "works",
)
_INDUSTRY_NOUN = {
    "software": ("Software", "Labs", "Cloud", "Data", "Systems", "Analytics", "AI", "Digital"),
    "finance": (
        "Capital",
        "Bank",
        "Financial",
        "Insurance",
        "Investments",
        "Credit Union",
        "Wealth",
        "Payments",
    ),
    "healthcare": (
        "Health",
        "Medical",
        "Pharma",
        "Clinics",
        "Care",
        "Biotech",
        "Hospital",
        "Diagnostics",
    ),
    "manufacturing": (
        "Manufacturing",
        "Industries",
        "Steel",
        "Components",
        "Machinery",
        "Plastics",
        "Tooling",
        "Fabrication",
    ),
    "retail": ("Retail", "Stores", "Brands", "Outfitters", "Market", "Goods", "Foods", "Apparel"),
    "education": (
        "University",
        "College",
        "Academy",
        "Schools",
        "Learning",
        "Institute",
        "Community College",
        "School District",
    ),
    "government": (
        "County",
        "City Council",
        "Agency",
        "Department",
        "Authority",
        "Municipality",
        "Public Works",
        "Transit",
    ),
    "consulting": (
        "Consulting",
        "Advisors",
        "Partners",
        "Strategy",
        "Associates",
        "Group",
        "Advisory",
        "Solutions",
    ),
    "telecom": (
        "Telecom",
        "Networks",
        "Mobile",
        "Communications",
        "Wireless",
        "Broadband",
        "Fiber",
        "Connect",
    ),
    "energy": (
        "Energy",
        "Power",
        "Utilities",
        "Solar",
        "Oil & Gas",
        "Renewables",
        "Grid",
        "Resources",
    ),
}
_LEGAL = {
    "US": ("Inc", "LLC", "Corp", ""),
    "UK": ("Ltd", "plc", ""),
    "DE": ("GmbH", "AG"),
    "FR": ("SA", "SAS"),
    "IN": ("Pvt Ltd", "Ltd"),
    "CA": ("Inc", "Ltd"),
    "AU": ("Pty Ltd",),
    "NL": ("BV", "NV"),
    "BR": ("Ltda", "SA"),
    "SG": ("Pte Ltd",),
}
_TLD = {
    "US": ".com",
    "UK": ".co.uk",
    "DE": ".de",
    "FR": ".fr",
    "IN": ".in",
    "CA": ".ca",
    "AU": ".com.au",
    "NL": ".nl",
    "BR": ".com.br",
    "SG": ".sg",
}
_COMPETITOR_NAMES = ("RivalScore Inc", "Leadly")
_NOUNS = _Grouped([_INDUSTRY_NOUN[i] for i in INDUSTRIES])
_LEGALS = _Grouped([_LEGAL[c] for c in COUNTRIES])


@dataclass(frozen=True)
class _Companies:
    """The company pool of one seed (the last rows are the competitors)."""

    name: np.ndarray
    domain: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    revenue: np.ndarray
    country: np.ndarray
    cdf: np.ndarray  # popularity of the non-competitor companies
    schools: np.ndarray  # indices of education companies


@functools.lru_cache(maxsize=4)
def _companies(seed: int, n: int = N_COMPANIES) -> _Companies:
    """Company pool of ``seed`` (``default_rng([seed, 0, 1])``: never a chunk's stream) with
    ``n`` companies besides the competitors."""
    rng = np.random.default_rng([seed, 0, 1])
    industry = _codes(rng, INDUSTRY_P, n)
    size = np.array([INDUSTRY_SIZE[i] for i in INDUSTRIES])
    employees = np.maximum(1, np.round(np.exp(rng.normal(size[industry, 0], size[industry, 1]))))
    per_employee = np.exp(rng.normal(size[industry, 2], 0.45))
    revenue = np.round(employees * per_employee, -3).astype(float)
    revenue[rng.random(n) < 0.06] = np.nan
    country = _codes(rng, COUNTRY_P, n)
    a = np.asarray(_NAME_A, dtype=object)[rng.integers(0, len(_NAME_A), n)]
    b = np.asarray(_NAME_B, dtype=object)[rng.integers(0, len(_NAME_B), n)]
    noun = _NOUNS.values[_NOUNS.pick(rng, industry)]
    legal = _LEGALS.values[_LEGALS.pick(rng, country)]
    public = np.isin(industry, [INDUSTRIES.index("education"), INDUSTRIES.index("government")])
    legal[public] = ""
    stem = a + b + " " + noun
    name = np.where(legal == "", stem, stem + " " + legal)
    slug = pd.Series(stem.astype(str)).str.lower().str.replace(r"[^a-z0-9]", "", regex=True)
    tld = np.asarray([_TLD[c] for c in COUNTRIES], dtype=object)[country]
    tld[rng.random(n) < 0.3] = ".com"
    domain = slug.to_numpy(dtype=object) + tld
    # Competitors close the pool: two small US software companies.
    name = np.concatenate([name, np.asarray(_COMPETITOR_NAMES, dtype=object)])
    domain = np.concatenate([domain, np.asarray(COMPETITOR_DOMAINS, dtype=object)])
    industry = np.concatenate([industry, [0, 0]])
    employees = np.concatenate([employees, [140.0, 45.0]]).astype(np.int64)
    revenue = np.concatenate([revenue, [2.4e7, 6.0e6]])
    country = np.concatenate([country, [0, 0]])
    weight = employees[:n] ** 0.35
    cdf = np.cumsum(weight) / weight.sum()
    schools = np.flatnonzero(industry[:n] == INDUSTRIES.index("education"))
    return _Companies(name, domain, industry, employees, revenue, country, cdf, schools)
