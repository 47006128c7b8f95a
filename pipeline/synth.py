"""A synthetic B2B CRM world: leads, their timestamped activities, outcomes and the true odds.

Generative model (every number below is a module constant, so the world is documented by code):

* **Leads** are created over ``months`` months before ``end`` with seasonality (Jan-Mar and
  Sep-Oct peaks, August and December dips) and mild growth. Each lead is a contact at a company
  (industry, employees, revenue, country) with a latent seniority and department rendered as a
  free-text job title in many spellings, a corporate / free-mail / competitor email domain, a
  lead source and a product line: ``platform`` (enterprise software), ``academy`` (training) or
  ``services``. Names and phone numbers are fake PII that features must never use.
* Each lead has a latent **intent**. Activities are point processes from creation: per-type
  rates grow with intent and depend on the product line and seniority; intensity decays with
  time since creation. Mail is sent to everyone on a cadence; opens and clicks follow intent;
  invalid addresses bounce; low-intent leads unsubscribe; job seekers visit the careers page;
  students read the blog and docs.
* The **true conversion probability** (``truth.parquet``) is a function of what is observable
  before the lead's as_of (``created_at + 14 days``): fit attributes, and the activities of those
  first 14 days weighted by recency (half-life 7 days before as_of). Platform buyers respond to
  seniority, company size, pricing and demo pages, demo requests and sales calls; academy buyers
  to webinars attended, downloads and email clicks. Fit and engagement interact (a VP who barely
  engaged and an engaged supervisor are both lukewarm; high fit *and* high engagement is hot).
  Bounces, unsubscribes, careers-page visits, students, competitors and free mail count against.
  The intercept is solved so the average probability equals ``base_rate``.
* **Outcomes**: won leads close 7-170 days after as_of (a few before it); lost leads are decided
  3-200 days after creation (some disqualified within days); ~15 % of the rest never decide.
  Anything decided after ``end`` is ``open``. After as_of, won leads get extra deal activity
  (demo requests, sales calls, pricing visits): a leakage trap for features that look ahead.
* **Drift** in the last quarter: more paid-social and content-syndication leads, more students
  and free-mail addresses, more academy leads. The conversion function itself is unchanged, so a
  calibrated model stays calibrated while PSI monitoring sees the shift.

Generation is vectorised per chunk of :data:`CHUNK` leads with its own RNG stream
``default_rng([seed, chunk])``: the output depends only on (n_leads, seed, base_rate, end, months),
and any size streams to Parquet in bounded memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io import atomic_path

CHUNK = 50_000
AS_OF_DAYS = 14.0
RECENCY_HALF_LIFE = 7.0
DAY = np.timedelta64(86_400_000_000_000, "ns")

INDUSTRIES = ["software", "finance", "healthcare", "manufacturing", "retail", "education",
              "government", "consulting", "telecom", "energy"]
INDUSTRY_P = [0.18, 0.12, 0.1, 0.12, 0.1, 0.08, 0.06, 0.1, 0.07, 0.07]
INDUSTRY_FIT = {"software": 0.35, "finance": 0.25, "healthcare": 0.1, "manufacturing": 0.0,
                "retail": -0.1, "education": -0.2, "government": -0.3, "consulting": 0.1,
                "telecom": 0.15, "energy": 0.0}
COUNTRIES = ["US", "UK", "DE", "FR", "IN", "CA", "AU", "NL", "BR", "SG"]
COUNTRY_P = [0.4, 0.12, 0.09, 0.06, 0.1, 0.06, 0.05, 0.04, 0.05, 0.03]
SOURCES = ["organic_search", "paid_search", "referral", "webinar", "trade_show",
           "content_syndication", "partner", "direct", "paid_social"]
SOURCE_P = [0.22, 0.16, 0.08, 0.1, 0.06, 0.1, 0.06, 0.12, 0.1]
SOURCE_P_DRIFT = [0.16, 0.12, 0.06, 0.08, 0.04, 0.2, 0.05, 0.09, 0.2]
SOURCE_FIT = {"referral": 0.5, "partner": 0.35, "trade_show": 0.25, "webinar": 0.15,
              "organic_search": 0.05, "direct": 0.1, "paid_search": 0.0,
              "content_syndication": -0.3, "paid_social": -0.35}
PRODUCTS = ["platform", "academy", "services"]
PRODUCT_P = [0.55, 0.35, 0.10]
PRODUCT_P_DRIFT = [0.45, 0.47, 0.08]
SENIORITY = ["c-level", "vp", "director", "manager", "individual", "student"]
SENIORITY_P = [0.05, 0.08, 0.14, 0.26, 0.37, 0.10]
SENIORITY_P_DRIFT = [0.04, 0.07, 0.12, 0.24, 0.37, 0.16]
DEPARTMENTS = ["sales", "marketing", "engineering", "it", "operations", "finance", "hr",
               "product"]
# Fit weight of seniority by product line (platform, academy, services).
SENIORITY_FIT = {
    "c-level": (1.0, 0.1, 0.8), "vp": (0.9, 0.15, 0.7), "director": (0.6, 0.25, 0.5),
    "manager": (0.2, 0.3, 0.2), "individual": (-0.3, 0.2, -0.2), "student": (-1.6, -0.4, -1.5),
}
FREE_MAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"]
COMPETITORS = ["rivalscore.com", "leadlyhq.com"]
PAGES = ["home", "blog", "pricing", "demo", "case_study", "careers", "product", "docs"]
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ivy", "Jon", "Kim",
         "Lena", "Mo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Vik"]
LAST = ["Smith", "Garcia", "Chen", "Patel", "Muller", "Rossi", "Kim", "Nguyen", "Silva",
        "Okafor", "Jensen", "Dubois", "Kowalski", "Haddad", "Sato", "Brown"]
COMPANY_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
                 "Soylent", "Tyrell", "Wonka", "Cyberdyne", "Aperture", "Massive", "Pied"]
COMPANY_SUFFIX = ["Corp", "Inc", "Labs", "Group", "Systems", "Partners", "Holdings", "GmbH"]

_DEPT_WORDS = {
    "sales": ["Sales", "sales", "Business Development", "Revenue"],
    "marketing": ["Marketing", "mktg", "Demand Gen", "Growth Marketing"],
    "engineering": ["Engineering", "Software Engineering", "R&D", "eng"],
    "it": ["IT", "Information Technology", "Infrastructure", "IT Security"],
    "operations": ["Operations", "Ops", "Supply Chain", "Logistics"],
    "finance": ["Finance", "Financial Planning", "Accounting", "finance"],
    "hr": ["HR", "Human Resources", "People", "Talent"],
    "product": ["Product", "Product Management", "product", "UX"],
}
_TITLE_FORMS = {
    "c-level": ["Chief {d} Officer", "CEO", "CTO", "CFO", "COO", "Founder", "Co-Founder & CEO",
                "Owner", "President", "Managing Director"],
    "vp": ["VP {d}", "Vice President, {d}", "vp of {d}", "SVP {d}", "EVP, {d}", "V.P. {d}"],
    "director": ["Director of {d}", "{d} Director", "Dir. of {d}", "Head of {d}",
                 "Sr. Director, {d}"],
    "manager": ["{d} Manager", "{d} mgr", "Team Lead, {d}", "line supervisor", "{d} Supervisor",
                "Manager - {d}"],
    "individual": ["{d} Analyst", "Sr. Software Eng.", "{d} Specialist", "{d} Coordinator",
                   "Account Executive", "Engineer", "{d} Associate", "Consultant"],
    "student": ["Student", "MBA candidate", "{d} Intern", "PhD student", "student"],
}

# Expected events in the first 14 days for an average lead, and how each rate moves with
# intent (log-scale slope) and product line (platform, academy, services).
RATES = {
    "web_visit": (3.0, 0.55, (0.1, 0.0, 0.0)),
    "content_download": (0.5, 0.5, (-0.2, 0.5, 0.0)),
    "webinar_registered": (0.3, 0.5, (-0.3, 0.6, 0.0)),
    "form_submit": (0.25, 0.6, (0.0, 0.1, 0.1)),
    "demo_request": (0.07, 0.9, (0.5, -0.8, 0.2)),
    "offline_event": (0.08, 0.3, (0.2, -0.2, 0.1)),
    "sales_call": (0.08, 0.6, (0.4, -0.5, 0.3)),
}
EMAIL_SENT_14D = 3.0
POST_RATE = 0.35  # activity after as_of relative to the first two weeks, per 14 days
POST_SCALE_CAP = 2.0
SIGNAL = 1.8


@dataclass
class World:
    """The three tables of a synthetic world."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    truth: pd.DataFrame


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _day_weights(start: pd.Timestamp, end: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    days = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    season = np.array([1.25, 1.2, 1.15, 1.0, 0.95, 0.85, 0.8, 0.65, 1.15, 1.15, 1.0, 0.7])
    weekday = np.where(days.dayofweek >= 5, 0.35, 1.0)
    growth = np.linspace(0.85, 1.15, len(days))
    w = season[days.month - 1] * weekday * growth
    return days.to_numpy(dtype="datetime64[ns]"), w / w.sum()


def _choice(rng: np.random.Generator, values: list[str], p_a: list[float],
            p_b: list[float] | None, drift: np.ndarray) -> np.ndarray:
    out = rng.choice(len(values), size=len(drift), p=p_a)
    if p_b is not None and drift.any():
        out[drift] = rng.choice(len(values), size=int(drift.sum()), p=p_b)
    return np.asarray(values, dtype=object)[out]


def _titles(rng: np.random.Generator, seniority: np.ndarray, dept: np.ndarray) -> np.ndarray:
    titles = np.empty(len(seniority), dtype=object)
    for level, forms in _TITLE_FORMS.items():
        idx = np.flatnonzero(seniority == level)
        if not idx.size:
            continue
        form = rng.integers(0, len(forms), idx.size)
        word_pick = rng.integers(0, 4, idx.size)
        case = rng.random(idx.size)
        for k, i in enumerate(idx):
            d = _DEPT_WORDS[dept[i]][word_pick[k]]
            text = forms[form[k]].replace("{d}", d)
            if case[k] < 0.1:
                text = text.lower()
            elif case[k] < 0.15:
                text = text.upper()
            titles[i] = text
    blank = rng.random(len(titles)) < 0.03
    titles[blank] = None
    return titles


def _truncated_exp(rng: np.random.Generator, n: int, tau: float, low: float,
                   high: np.ndarray) -> np.ndarray:
    """Times in [low, high) from an exponentially decaying intensity with scale ``tau``."""
    span = np.maximum(high - low, 1e-6)
    u = rng.random(n)
    return low - tau * np.log1p(-u * (1.0 - np.exp(-span / tau)))


def _lead_tables(rng: np.random.Generator, n: int, offset: int, end: pd.Timestamp,
                 months: int) -> dict[str, np.ndarray]:
    start = end - pd.DateOffset(months=months)
    days, weights = _day_weights(start, end)
    day = rng.choice(len(days), size=n, p=weights)
    seconds = rng.integers(0, 86_400, n).astype("int64") * 1_000_000_000
    created = days[day] + seconds.astype("timedelta64[ns]")
    created = np.sort(created)  # lead numbers grow with time, as CRM ids do
    drift = created >= np.datetime64(end - pd.DateOffset(months=3), "ns")
    product = _choice(rng, PRODUCTS, PRODUCT_P, PRODUCT_P_DRIFT, drift)
    seniority = _choice(rng, SENIORITY, SENIORITY_P, SENIORITY_P_DRIFT, drift)
    dept = np.asarray(DEPARTMENTS, dtype=object)[rng.integers(0, len(DEPARTMENTS), n)]
    industry = _choice(rng, INDUSTRIES, INDUSTRY_P, None, drift)
    size_mu = np.where(np.isin(industry, ["software", "consulting"]), 4.3, 5.0)
    employees = np.maximum(1, np.round(np.exp(rng.normal(size_mu, 1.6)))).astype("int64")
    revenue = np.round(employees * np.exp(rng.normal(np.log(160_000), 0.5, n)), -3)
    company = (np.asarray(COMPANY_WORDS, dtype=object)[rng.integers(0, len(COMPANY_WORDS), n)]
               + " " + np.asarray(COMPANY_SUFFIX, dtype=object)[
                   rng.integers(0, len(COMPANY_SUFFIX), n)])
    student = seniority == "student"
    free_p = np.where(student, 0.75, np.where(drift, 0.32, 0.22))
    u = rng.random(n)
    domain_kind = np.where(u < 0.012, "competitor", np.where(u < 0.012 + free_p, "free",
                                                              "corporate"))
    slug = np.char.lower(np.char.replace(company.astype(str), " ", ""))
    domain = np.where(domain_kind == "corporate", np.char.add(slug, ".com"),
                      np.where(domain_kind == "free",
                               np.asarray(FREE_MAIL)[rng.integers(0, len(FREE_MAIL), n)],
                               np.asarray(COMPETITORS)[rng.integers(0, len(COMPETITORS), n)]))
    first = np.asarray(FIRST)[rng.integers(0, len(FIRST), n)]
    last = np.asarray(LAST)[rng.integers(0, len(LAST), n)]
    local = np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last))
    email = np.char.add(np.char.add(local, "@"), domain.astype(str))
    phone = np.char.add("+1-555-", np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7))
    return {
        "lead_id": np.char.add("L", np.char.zfill((np.arange(n) + offset + 1).astype(str), 7)),
        "created_at": created, "drift": drift, "product_line": product, "seniority": seniority,
        "department": dept, "industry": industry, "employees": employees,
        "annual_revenue": revenue.astype(float), "company": company,
        "country": _choice(rng, COUNTRIES, COUNTRY_P, None, drift),
        "lead_source": _choice(rng, SOURCES, SOURCE_P, SOURCE_P_DRIFT, drift),
        "domain_kind": domain_kind, "email": email.astype(object),
        "name": np.char.add(np.char.add(first, " "), last).astype(object),
        "phone": phone.astype(object), "job_title": _titles(rng, seniority, dept),
    }


def _fit_score(t: dict[str, np.ndarray]) -> np.ndarray:
    line = np.select([t["product_line"] == p for p in PRODUCTS], [0, 1, 2])
    sen = np.array([SENIORITY_FIT[s][k] for s, k in zip(t["seniority"], line, strict=True)])
    size = np.log10(t["employees"].astype(float))
    size_w = np.choose(line, [0.45, 0.05, 0.3])
    industry = np.array([INDUSTRY_FIT[i] for i in t["industry"]])
    source = np.array([SOURCE_FIT[s] for s in t["lead_source"]])
    free = np.where(t["domain_kind"] == "free", np.choose(line, [-0.5, -0.1, -0.4]), 0.0)
    competitor = np.where(t["domain_kind"] == "competitor", -2.5, 0.0)
    return sen + size_w * (size - 2.2) + industry * np.choose(line, [1.0, 0.4, 0.8]) + source \
        + free + competitor


def _events(rng: np.random.Generator, t: dict[str, np.ndarray], intent: np.ndarray,
            low: np.ndarray, high: np.ndarray, scale: np.ndarray, job_seeker: np.ndarray,
            invalid: np.ndarray) -> dict[str, np.ndarray]:
    """Events of every lead between ``low`` and ``high`` days after creation."""
    n = len(intent)
    line = np.select([t["product_line"] == p for p in PRODUCTS], [0, 1, 2])
    student = t["seniority"] == "student"
    parts: dict[str, list[np.ndarray]] = {"lead": [], "day": [], "type": [], "detail": []}

    def add(kind: str, counts: np.ndarray, tau: float = 10.0, detail=None) -> np.ndarray:
        lead = np.repeat(np.arange(n), counts)
        day = _truncated_exp(rng, lead.size, tau, 0.0, high[lead] - low[lead]) + low[lead]
        parts["lead"].append(lead)
        parts["day"].append(day)
        parts["type"].append(np.full(lead.size, kind, dtype=object))
        parts["detail"].append(detail(lead) if detail else np.full(lead.size, None, dtype=object))
        return lead

    for kind, (base, slope, by_line) in RATES.items():
        rate = base * np.exp(slope * intent + np.choose(line, by_line)) * scale
        if kind == "web_visit":
            rate = rate * np.where(student, 1.6, 1.0)
        if kind == "web_visit":
            def pages(lead: np.ndarray) -> np.ndarray:
                z = intent[lead]
                logits = np.column_stack([
                    np.zeros(lead.size),                                  # home
                    0.3 + 0.8 * student[lead],                            # blog
                    -1.2 + 0.7 * z + 0.4 * (line[lead] == 0),             # pricing
                    -2.0 + 0.8 * z + 0.6 * (line[lead] == 0),             # demo
                    -1.6 + 0.4 * z,                                       # case_study
                    np.where(job_seeker[lead], 1.5, -4.0),                # careers
                    -0.5 + 0.2 * z,                                       # product
                    -1.0 + 0.9 * student[lead] + 0.3 * (line[lead] == 1),  # docs
                ])
                p = np.exp(logits - logits.max(axis=1, keepdims=True))
                cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
                pick = (cdf < rng.random(lead.size)[:, None]).sum(axis=1)
                return np.asarray(PAGES, dtype=object)[np.minimum(pick, len(PAGES) - 1)]
            add(kind, rng.poisson(rate), detail=pages)
        elif kind == "webinar_registered":
            registered = rng.poisson(rate)
            add(kind, registered)
            add("webinar_attended", rng.binomial(registered, _sigmoid(0.2 + 0.9 * intent)))
        else:
            add(kind, rng.poisson(rate))
    sent = rng.poisson(EMAIL_SENT_14D * scale)
    add("email_sent", sent, tau=60.0)
    bounced = np.where(invalid, rng.binomial(sent, 0.9), 0)
    add("email_bounce", bounced, tau=60.0)
    opens = rng.binomial(sent - bounced, _sigmoid(-0.6 + 0.8 * intent))
    add("email_open", opens)
    add("email_click", rng.binomial(opens, _sigmoid(-1.0 + 0.8 * intent + 0.3 * (line == 1))))
    unsub = rng.random(n) < _sigmoid(-4.0 - 0.9 * intent) * scale
    add("email_unsubscribe", unsub.astype(int))
    return {k: np.concatenate(v) if v else np.array([]) for k, v in parts.items()}


def _recency_counts(ev: dict[str, np.ndarray], n: int, kinds: list[str],
                    page: str | None = None) -> np.ndarray:
    mask = np.isin(ev["type"], kinds) & (ev["day"] < AS_OF_DAYS)
    if page is not None:
        mask &= ev["detail"] == page
    weight = 0.5 ** ((AS_OF_DAYS - ev["day"][mask]) / RECENCY_HALF_LIFE)
    return np.bincount(ev["lead"][mask], weights=weight, minlength=n)


def _logit_without_intercept(t, ev, n, job_seeker) -> np.ndarray:
    line = np.select([t["product_line"] == p for p in PRODUCTS], [0, 1, 2])
    r = {k: _recency_counts(ev, n, [k]) for k in
         ["demo_request", "sales_call", "webinar_attended", "content_download", "email_click",
          "form_submit", "offline_event"]}
    pricing = _recency_counts(ev, n, ["web_visit"], "pricing")
    demo_page = _recency_counts(ev, n, ["web_visit"], "demo")
    case = _recency_counts(ev, n, ["web_visit"], "case_study")
    careers = _recency_counts(ev, n, ["web_visit"], "careers")
    platform = (0.55 * np.log1p(pricing) + 0.6 * np.log1p(demo_page) + 1.0 * r["demo_request"]
                + 0.6 * r["sales_call"] + 0.25 * np.log1p(case) + 0.2 * np.log1p(r["email_click"])
                + 0.3 * r["offline_event"])
    academy = (0.8 * np.log1p(r["webinar_attended"]) + 0.55 * np.log1p(r["content_download"])
               + 0.45 * np.log1p(r["email_click"]) + 0.2 * np.log1p(pricing)
               + 0.3 * r["form_submit"])
    services = 0.5 * platform + 0.5 * academy
    engagement = np.choose(line, [platform, academy, services])
    fit = _fit_score(t)
    bounced = np.bincount(ev["lead"][(ev["type"] == "email_bounce") & (ev["day"] < AS_OF_DAYS)],
                          minlength=n) > 0
    unsub = np.bincount(ev["lead"][(ev["type"] == "email_unsubscribe")
                                   & (ev["day"] < AS_OF_DAYS)], minlength=n) > 0
    negative = -0.8 * bounced - 1.4 * unsub - 0.7 * np.log1p(careers)
    # Fit and engagement reinforce each other: both high is hot, either alone lukewarm.
    interaction = 0.35 * np.tanh(fit) * np.tanh(engagement - 0.6)
    # Overall signal strength: an oracle ROC-AUC of about 0.87 on the outcome.
    return SIGNAL * (1.1 * fit + 1.3 * engagement + negative + interaction)


def _chunk(seed: int, chunk: int, n: int, offset: int, end: pd.Timestamp, months: int,
           intercept: float | None) -> tuple[dict[str, np.ndarray], dict, np.ndarray, tuple]:
    rng = np.random.default_rng([seed, chunk])
    t = _lead_tables(rng, n, offset, end, months)
    fit = _fit_score(t)
    intent = rng.normal(0.0, 1.0, n) + 0.25 * np.tanh(fit)
    job_seeker = (rng.random(n) < 0.04) | ((t["seniority"] == "student") & (rng.random(n) < 0.3))
    invalid = rng.random(n) < np.where(t["domain_kind"] == "free", 0.08, 0.03)
    pre = _events(rng, t, intent, np.zeros(n), np.full(n, AS_OF_DAYS), np.ones(n), job_seeker,
                  invalid)
    base = _logit_without_intercept(t, pre, n, job_seeker)
    return t, pre, base, (intent, job_seeker, invalid)


def _solve_intercept(seed: int, base_rate: float, end: pd.Timestamp, months: int) -> float:
    """Intercept that makes the mean true probability equal ``base_rate`` (bisection)."""
    _, _, base, _ = _chunk(seed, 10_000, 20_000, 0, end, months, None)
    low, high = -15.0, 5.0
    for _ in range(60):
        mid = (low + high) / 2
        if _sigmoid(mid + base).mean() > base_rate:
            high = mid
        else:
            low = mid
    return (low + high) / 2


def _make_chunk(seed: int, chunk: int, n: int, offset: int, end: pd.Timestamp, months: int,
                intercept: float) -> World:
    t, pre, base, extra = _chunk(seed, chunk, n, offset, end, months, intercept)
    intent, job_seeker, invalid = extra
    rng = np.random.default_rng([seed, chunk, 1])
    p = _sigmoid(intercept + base)
    won = rng.random(n) < p
    created = t["created_at"]
    close_day = np.where(rng.random(n) < 0.03, rng.uniform(3, AS_OF_DAYS, n),
                         AS_OF_DAYS + np.clip(rng.gamma(2.0, 25.0, n), 7, 170))
    undecided = ~won & (rng.random(n) < 0.15)
    lost_day = np.where(rng.random(n) < 0.05, rng.uniform(1, AS_OF_DAYS, n),
                        rng.uniform(AS_OF_DAYS + 1, 200, n))
    decided_day = np.where(won, close_day, lost_day)
    decided_at = created + (np.round(decided_day * 86_400) * 1e9).astype("int64").astype(
        "timedelta64[ns]")
    end_ns = np.datetime64(end, "ns")
    outcome = np.where(won, "won", np.where(undecided, "open", "lost")).astype(object)
    outcome[decided_at > end_ns] = "open"
    outcome_at = np.where(outcome == "open", np.datetime64("NaT"), decided_at).astype(
        "datetime64[ns]")

    # Activity after as_of, until the decision (or 120 days), plus the deal trap for won leads.
    days_left = (end_ns - created) / DAY
    stop = np.where(outcome == "open", 120.0, decided_day)
    stop = np.minimum(np.maximum(stop, AS_OF_DAYS), np.maximum(days_left, AS_OF_DAYS))
    scale = POST_RATE * np.maximum(stop - AS_OF_DAYS, 0) / AS_OF_DAYS
    post = _events(rng, t, intent, np.full(n, AS_OF_DAYS), stop, np.minimum(scale, POST_SCALE_CAP),
                   job_seeker.astype(bool), invalid.astype(bool))
    deal = won & (stop > AS_OF_DAYS)
    deal_parts = []
    for kind, lam, detail in (("demo_request", 1.5, None), ("sales_call", 3.0, None),
                              ("web_visit", 2.0, "pricing")):
        counts = np.where(deal, rng.poisson(lam, n), 0)
        lead = np.repeat(np.arange(n), counts)
        day = rng.uniform(AS_OF_DAYS, stop[lead])
        deal_parts.append((lead, day, np.full(lead.size, kind, dtype=object),
                           np.full(lead.size, detail, dtype=object)))
    lead = np.concatenate([pre["lead"], post["lead"], *[d[0] for d in deal_parts]])
    day = np.concatenate([pre["day"], post["day"], *[d[1] for d in deal_parts]])
    kind = np.concatenate([pre["type"], post["type"], *[d[2] for d in deal_parts]])
    detail = np.concatenate([pre["detail"], post["detail"], *[d[3] for d in deal_parts]])
    # whole seconds, as CRM exports have
    occurred = created[lead] + (np.ceil(day * 86_400) * 1e9).astype("int64").astype(
        "timedelta64[ns]")
    keep = (occurred <= end_ns) & (day > 0)
    lead, occurred, kind, detail = lead[keep], occurred[keep], kind[keep], detail[keep]
    order = np.lexsort((kind.astype(str), occurred, lead))
    channel = np.where(np.isin(kind, ["offline_event", "sales_call"]), "offline", "online")
    activities = pd.DataFrame({
        "lead_id": t["lead_id"][lead[order]].astype(object),
        "occurred_at": occurred[order],
        "activity_type": kind[order],
        "detail": detail[order],
        "channel": channel[order].astype(object),
    })
    leads = pd.DataFrame({
        "lead_id": t["lead_id"].astype(object), "created_at": created, "outcome": outcome,
        "outcome_at": outcome_at, "name": t["name"], "email": t["email"], "phone": t["phone"],
        "job_title": t["job_title"], "company": t["company"], "industry": t["industry"],
        "employees": t["employees"], "annual_revenue": t["annual_revenue"],
        "country": t["country"], "lead_source": t["lead_source"],
        "product_line": t["product_line"],
    })
    truth = pd.DataFrame({"lead_id": t["lead_id"].astype(object), "p_convert": p})
    return World(leads, activities, truth)


def _chunks(n_leads: int) -> list[tuple[int, int, int]]:
    return [(i, min(CHUNK, n_leads - i * CHUNK), i * CHUNK)
            for i in range((n_leads + CHUNK - 1) // CHUNK)]


def make_world(n_leads: int, seed: int = 42, base_rate: float = 0.08, end: str = "2026-06-30",
               months: int = 24) -> World:
    """Generate a world in memory (same content as :func:`write_world` writes).

    Parameters
    ----------
    n_leads
        Number of leads.
    seed
        Random seed: same seed, same world.
    base_rate
        Mean true conversion probability.
    end
        Snapshot date of the export (nothing happens after it).
    months
        Months of lead creation before ``end``.
    """
    end_ts = pd.Timestamp(end) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    intercept = _solve_intercept(seed, base_rate, end_ts, months)
    parts = [_make_chunk(seed, c, n, off, end_ts, months, intercept)
             for c, n, off in _chunks(n_leads)]
    return World(*(pd.concat([getattr(p, f) for p in parts], ignore_index=True)
                   for f in ("leads", "activities", "truth")))


def write_world(out_dir: str | Path, n_leads: int, seed: int = 42, base_rate: float = 0.08,
                end: str = "2026-06-30", months: int = 24,
                progress: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """Stream a world to ``leads.parquet``, ``activities.parquet`` and ``truth.parquet``.

    One chunk of leads (and its events) is in memory at a time; files appear atomically.
    Returns a summary: rows, activities, positives (won), won rate, seconds.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    end_ts = pd.Timestamp(end) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    intercept = _solve_intercept(seed, base_rate, end_ts, months)
    totals = {"leads": 0, "activities": 0, "won": 0, "p_sum": 0.0}
    names = ("leads", "activities", "truth")
    with atomic_path(out / "leads.parquet") as lp, atomic_path(out / "activities.parquet") as ap, \
            atomic_path(out / "truth.parquet") as tp:
        writers: dict[str, pq.ParquetWriter] = {}
        try:
            for c, n, off in _chunks(n_leads):
                world = _make_chunk(seed, c, n, off, end_ts, months, intercept)
                for name, path in zip(names, (lp, ap, tp), strict=True):
                    table = pa.Table.from_pandas(getattr(world, name), preserve_index=False)
                    if name not in writers:
                        writers[name] = pq.ParquetWriter(path, table.schema)
                    writers[name].write_table(table.cast(writers[name].schema))
                totals["leads"] += n
                totals["activities"] += len(world.activities)
                totals["won"] += int((world.leads["outcome"] == "won").sum())
                totals["p_sum"] += float(world.truth["p_convert"].sum())
                if progress:
                    progress(totals["leads"], n_leads)
        finally:
            for writer in writers.values():
                writer.close()
    return {"leads": totals["leads"], "activities": totals["activities"], "won": totals["won"],
            "true_rate": round(totals["p_sum"] / max(totals["leads"], 1), 4),
            "seconds": round(time.perf_counter() - started, 1)}
