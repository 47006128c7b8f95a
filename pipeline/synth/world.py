"""A synthetic B2B CRM world: leads, their timestamped activities, outcomes and the true odds.

It is LeadScore's demo and test data, built so that every part of the product has something real
to find: fit and engagement signal, negative signals, a leakage trap, drift and product lines that
buy for different reasons. Every number of the model is a module constant.

Generative model
----------------
**Leads.** ``created_at`` is spread over the ``months`` months before ``end`` (inclusive of the
end day, whole seconds) with monthly seasonality (Jan-Mar and Sep-Oct peaks, July-August and
December dips), fewer leads at weekends, business-hour peaks and mild growth (+35 % over the
period). Lead ids grow with ``created_at`` across the whole world, as CRM ids do.

**Companies.** A pool of :data:`N_COMPANIES` companies per seed, each with an industry (10
levels), a lognormal, industry-dependent head count, a revenue of head count x a lognormal,
industry-dependent revenue per employee (6 % unknown), a skewed HQ country (10 levels), a name
and a web domain. Leads come from companies in proportion to ``employees ** 0.35``, so large
companies send many leads. Students mostly give a school or university.

**Contacts.** A latent seniority (c-level, vp, director, manager, individual, student) and
department (sales, marketing, engineering, it, operations, finance, hr, product), both depending
on the product line; the ``job_title`` is rendered from ~700 spellings (``"VP Sales"``, ``"Vice
President, Operations"``, ``"Chief Technology Officer"``, ``"Dir. of IT"``, ``"mktg mgr"``,
``"line supervisor"``, ``"MBA candidate"``...), 8 % lower-cased, 3 % upper-cased, 4 % blank or a
placeholder. The email is ``local@domain`` with a corporate domain (the company's), a free-mail
domain (more likely for students, individuals and tiny companies) or a competitor's domain
(:data:`COMPETITOR_DOMAINS`, 0.8 %, and then the company is that competitor). Names and phone
numbers are fake PII. ``lead_source`` has 9 levels; ``product_line`` is ``platform``
(enterprise software), ``academy`` (training) or ``services`` (implementation, 10 %).

**Engagement.** Each lead has a latent intent ``z ~ N(0, 1) + 0.3 tanh(fit)``. Activity types
are independent Poisson processes from ``created_at`` whose intensity is
``rate * exp(slope * z + line effect) * seniority effect * exp(-t / tau)``: the expected counts
in the first 14 days are the :data:`RATES` row, and activity decays over weeks. Inbound leads are
created by a form (or a download, a trade-show badge scan, a webinar registration) at ``t ~ 0``.
Mail is sent to everyone: a welcome mail for 70 %, then a nurture cadence (1.8 in the first two
weeks, decaying with ``tau`` 45 days). Each delivered mail is opened with probability
``sigmoid(-0.8 + 0.7 z)`` (hours later), each open clicked with ``sigmoid(-1.3 + 0.8 z)``
(+0.4 logit for academy). Invalid addresses (2 % corporate, 8 % free-mail) bounce and then get no
more mail; valid ones soft-bounce 1.5-3 % of the time. Low-intent leads unsubscribe (then no more
mail). Webinar registrants attend with about ``sigmoid(0.9 z)`` 1-10 days later. Web pages are drawn
per visit: pricing and demo pages with intent (more for platform), blog and docs for students,
careers for job seekers (4 %, 30 % of students). Organic activity stops 180 days after creation
(or at a won deal's close) and at ``end``. About 20 events per lead over its life.

**True conversion probability** (``truth.parquet``, the oracle) is a function of what is
observable before the lead's as_of = ``created_at + 14 days`` (events strictly before it, whole
seconds, exactly what a point-in-time feature sees), never of the latent intent::

    logit(p) = b0 + SIGNAL * (0.8 fit + 0.9 eng + 1.4 hot + neg)

* ``fit``: seniority (read from the title, ``unknown`` when blank), department when the title
  shows it, ``log10(employees)``, industry, lead source, country, free mail, competitor, each
  with per-product-line weights (:data:`FIT_WEIGHTS`): platform buyers respond to seniority and
  company size, academy buyers hardly, students are less negative for academy;
* ``eng``: recency-weighted counts of the first 14 days (each event weighs
  ``0.5 ** ((14 - age_days) / 7)``), through ``log1p``, with per-line weights
  (:data:`ENGAGEMENT_WEIGHTS`): platform on pricing and demo pages, demo requests and sales
  calls; academy on webinars attended, downloads and email clicks;
* ``hot = sigmoid(2.5 (fit - 0.6)) * sigmoid(2.5 (eng - 0.9))``: fit and engagement interact, a
  VP who barely engaged and an engaged supervisor are both lukewarm, both high is hot;
* ``neg``: -0.8 for a bounce, -1.4 for an unsubscribe, -0.7 log1p(careers visits);
* ``b0`` is solved by bisection on a fixed-seed sample of :data:`PROBE_LEADS` leads so that the
  mean probability is ``base_rate``; it depends on (base_rate, end, months), not on the seed.

For leads created less than 14 days before ``end``, ``p`` also counts first-fortnight events
after ``end`` that the snapshot cannot show (their as_of has not come; they are all open).

**Outcomes.** ``won ~ Bernoulli(p)``; won deals close 7-150 days after as_of (beta-shaped; academy
faster than platform). Lost leads are decided 3-200 days after creation, 4 % before as_of
(disqualified at once); 15 % of the others never decide (``open``). An outcome after ``end``
becomes ``open`` with ``outcome_at`` NaT, so the realised won share is a little below
``base_rate``. After as_of, won leads get deal activity (demo requests, one or more sales calls,
pricing visits) until the close, lost leads a few qualification calls: a deliberate **leakage
trap** for features that look past as_of. Nothing before as_of depends on the outcome.

**Drift.** Leads of the last :data:`DRIFT_MONTHS` months come from a shifted mix: more paid
social and content syndication, more students and free mail, more academy. ``p`` is the same
function of the observables, so a calibrated model stays calibrated while PSI monitoring sees
the shift (and the positive rate of the quarter falls).

Generation is vectorised with numpy per chunk of :data:`CHUNK` leads, each chunk with its own
RNG ``default_rng([seed, chunk])`` (and the company pool with ``default_rng([seed, 0, 1])``):
the output depends only on (n_leads, seed, base_rate, end, months), never on the machine, and
any size streams to Parquet in bounded memory.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.data.errors import ConfigError
from pipeline.data.io import atomic_path

#: Leads per chunk: fixed, so the output never depends on the machine.
CHUNK = 50_000
AS_OF_DAYS = 14
RECENCY_HALF_LIFE_DAYS = 7.0
DRIFT_MONTHS = 3
#: Days after creation during which organic (non-deal) activity happens.
HORIZON_DAYS = 180.0
N_COMPANIES = 30_000
PROBE_LEADS = 40_000
PROBE_SEED = 20_260_630
#: Overall signal strength: oracle ROC-AUC on the outcome of about 0.88.
SIGNAL = 2.0

_DAY_S = 86_400
_AS_OF_S = AS_OF_DAYS * _DAY_S
_NS = 1_000_000_000

# --- vocabularies ----------------------------------------------------------------------------
ACTIVITY_TYPES = ("web_visit", "email_sent", "email_open", "email_click", "email_bounce",
                  "email_unsubscribe", "content_download", "webinar_registered",
                  "webinar_attended", "form_submit", "demo_request", "offline_event",
                  "sales_call")
_T = {name: i for i, name in enumerate(ACTIVITY_TYPES)}
_OFFLINE = np.isin(np.arange(len(ACTIVITY_TYPES)), [_T["offline_event"], _T["sales_call"]])
PAGES = ("home", "blog", "pricing", "demo", "case_study", "careers", "product", "docs")
PRODUCTS = ("platform", "academy", "services")
PRODUCT_P = (0.55, 0.35, 0.10)
PRODUCT_P_DRIFT = (0.44, 0.48, 0.08)
SENIORITIES = ("c-level", "vp", "director", "manager", "individual", "student")
# Seniority mix by product line; the drift quarter moves 7 points of it to students.
SENIORITY_P = {
    "platform": (0.06, 0.09, 0.15, 0.27, 0.35, 0.08),
    "academy": (0.02, 0.04, 0.09, 0.24, 0.45, 0.16),
    "services": (0.07, 0.10, 0.16, 0.27, 0.34, 0.06),
}
DEPARTMENTS = ("sales", "marketing", "engineering", "it", "operations", "finance", "hr",
               "product")
DEPARTMENT_P = {
    "platform": (0.24, 0.26, 0.08, 0.10, 0.12, 0.06, 0.04, 0.10),
    "academy": (0.26, 0.16, 0.08, 0.06, 0.12, 0.06, 0.18, 0.08),
    "services": (0.14, 0.14, 0.14, 0.20, 0.16, 0.08, 0.04, 0.10),
}
INDUSTRIES = ("software", "finance", "healthcare", "manufacturing", "retail", "education",
              "government", "consulting", "telecom", "energy")
INDUSTRY_P = (0.20, 0.12, 0.10, 0.12, 0.09, 0.08, 0.05, 0.11, 0.07, 0.06)
# log(employees) mean and sd, log(revenue per employee in USD) mean.
INDUSTRY_SIZE = {
    "software": (3.9, 1.5, 12.2), "finance": (5.0, 1.7, 12.9), "healthcare": (4.9, 1.6, 11.9),
    "manufacturing": (5.1, 1.5, 12.3), "retail": (4.4, 1.8, 11.8), "education": (5.2, 1.2, 11.3),
    "government": (5.7, 1.4, 11.6), "consulting": (3.4, 1.5, 12.0), "telecom": (5.4, 1.7, 12.6),
    "energy": (5.2, 1.7, 13.1),
}
COUNTRIES = ("US", "UK", "DE", "FR", "IN", "CA", "AU", "NL", "BR", "SG")
COUNTRY_P = (0.42, 0.12, 0.08, 0.05, 0.10, 0.06, 0.05, 0.04, 0.05, 0.03)
SOURCES = ("organic_search", "paid_search", "paid_social", "referral", "partner", "webinar",
           "trade_show", "content_syndication", "direct")
SOURCE_P = (0.22, 0.16, 0.08, 0.08, 0.06, 0.10, 0.06, 0.10, 0.14)
SOURCE_P_DRIFT = (0.16, 0.12, 0.21, 0.06, 0.05, 0.08, 0.04, 0.19, 0.09)
FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com",
             "proton.me", "gmx.de")
FREE_MAIL_P = (0.52, 0.12, 0.10, 0.12, 0.03, 0.05, 0.02, 0.04)
COMPETITOR_DOMAINS = ("rivalscore.com", "leadlyhq.com")
_COMPETITOR_NAMES = ("RivalScore Inc", "Leadly")

# Detail values: campaigns, assets, webinars, forms, events and call types, by product line.
CAMPAIGNS = {"platform": ("platform_nurture", "roi_calculator", "customer_story",
                          "product_update", "event_invite"),
             "academy": ("course_catalog", "webinar_invite", "certification_promo",
                         "newsletter"),
             "services": ("implementation_guide", "customer_story", "newsletter")}
ASSETS = {"platform": ("ebook_predictive_lead_scoring", "whitepaper_roi", "analyst_report_2026",
                       "datasheet_platform", "checklist_crm_hygiene"),
          "academy": ("guide_sales_skills", "course_syllabus", "ebook_career_growth",
                      "template_cold_email", "checklist_onboarding"),
          "services": ("case_study_implementation", "whitepaper_roi", "guide_data_migration")}
WEBINARS = {"platform": ("webinar_scoring_live_demo", "webinar_revops_panel"),
            "academy": ("webinar_sales_bootcamp", "webinar_certification_info",
                        "webinar_negotiation_101"),
            "services": ("webinar_implementation_qa", "webinar_revops_panel")}
FORMS = ("contact_us", "newsletter_signup", "free_trial", "pricing_quote", "event_signup")
EVENTS = ("trade_show_booth", "roadshow", "user_conference", "meetup")
CALLS = ("discovery_call", "qualification_call", "follow_up", "proposal_review", "negotiation")
_DETAILS = tuple(dict.fromkeys(
    [*PAGES, "welcome", *[c for v in CAMPAIGNS.values() for c in v],
     *[a for v in ASSETS.values() for a in v], *[w for v in WEBINARS.values() for w in v],
     *FORMS, *EVENTS, *CALLS, "demo_form", "chat_request"]))
_D = {name: i for i, name in enumerate(_DETAILS)}

# --- rates of the engagement processes ---------------------------------------------------------
# type: expected events in the first 14 days for z = 0, slope on intent z, log effect by product
# line (platform, academy, services), decay time constant in days.
RATES = {
    "web_visit": (2.2, 0.5, (0.15, -0.1, 0.0), 25.0),
    "content_download": (0.35, 0.5, (-0.4, 0.5, 0.0), 25.0),
    "webinar_registered": (0.22, 0.5, (-0.5, 0.6, 0.0), 30.0),
    "form_submit": (0.15, 0.6, (0.0, 0.1, 0.1), 20.0),
    "demo_request": (0.05, 0.9, (0.5, -1.0, 0.2), 20.0),
    "offline_event": (0.04, 0.3, (0.2, -0.3, 0.1), 60.0),
    "sales_call": (0.06, 0.6, (0.4, -0.6, 0.3), 20.0),
}
# Rate multipliers by seniority (c-level .. student) for groups of types.
_SENIORITY_RATE = {
    "web_visit": (0.7, 0.8, 0.9, 1.0, 1.1, 1.6),
    "content_download": (0.6, 0.7, 0.9, 1.0, 1.1, 1.4),
    "webinar_registered": (0.6, 0.7, 0.9, 1.0, 1.1, 1.4),
    "form_submit": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "demo_request": (1.3, 1.3, 1.2, 1.0, 0.7, 0.2),
    "offline_event": (1.2, 1.2, 1.1, 1.0, 0.8, 0.5),
    "sales_call": (1.3, 1.3, 1.2, 1.0, 0.7, 0.2),
}
EMAIL_NURTURE_14D = 1.8
EMAIL_TAU = 45.0
WELCOME_P = 0.7

# --- the true conversion function --------------------------------------------------------------
# Fit weights per product line (platform, academy, services); "unknown" = not readable from title.
FIT_WEIGHTS = {
    "seniority": {"c-level": (1.0, 0.0, 0.8), "vp": (0.9, 0.1, 0.7), "director": (0.6, 0.2, 0.5),
                  "manager": (0.2, 0.3, 0.2), "individual": (-0.3, 0.2, -0.2),
                  "student": (-1.6, -0.3, -1.4), "unknown": (-0.3, 0.0, -0.2)},
    "department": {"sales": (0.35, 0.3, 0.1), "marketing": (0.4, 0.25, 0.1),
                   "engineering": (-0.1, 0.0, 0.2), "it": (0.1, -0.1, 0.3),
                   "operations": (0.0, 0.0, 0.2), "finance": (-0.15, -0.2, 0.0),
                   "hr": (-0.3, 0.35, -0.1), "product": (0.1, 0.1, 0.0),
                   "unknown": (0.0, 0.0, 0.0)},
    # per decade of employees above 200
    "log10_employees": (0.45, 0.05, 0.3),
    "industry": {"software": 0.35, "finance": 0.25, "healthcare": 0.1, "manufacturing": 0.0,
                 "retail": -0.1, "education": -0.2, "government": -0.3, "consulting": 0.1,
                 "telecom": 0.15, "energy": 0.0},
    "industry_scale": (1.0, 0.4, 0.8),
    "source": {"organic_search": 0.05, "paid_search": 0.0, "paid_social": -0.35,
               "referral": 0.5, "partner": 0.35, "webinar": 0.15, "trade_show": 0.25,
               "content_syndication": -0.3, "direct": 0.1},
    "country": {"US": 0.1, "UK": 0.05, "DE": 0.05, "FR": 0.0, "IN": -0.2, "CA": 0.05,
                "AU": 0.05, "NL": 0.05, "BR": -0.15, "SG": 0.0},
    "free_mail": (-0.5, -0.1, -0.4),
    "competitor": (-3.0, -3.0, -3.0),
}
# Recency-weighted first-fortnight signals that enter the engagement score.
_SIGNALS = ("pricing", "demo_page", "case_study", "product_page", "docs", "careers",
            "demo_request", "sales_call", "offline_event", "form_submit", "webinar_attended",
            "content_download", "email_click", "email_bounce", "email_unsubscribe")
_S = {name: i for i, name in enumerate(_SIGNALS)}
# Weights on log1p(recency-weighted count), per product line (platform, academy, services).
ENGAGEMENT_WEIGHTS = {
    "pricing": (0.55, 0.2, 0.4), "demo_page": (0.6, 0.1, 0.35), "case_study": (0.25, 0.1, 0.3),
    "product_page": (0.15, 0.05, 0.1), "docs": (0.0, 0.2, 0.1),
    "demo_request": (1.1, 0.2, 0.6), "sales_call": (0.8, 0.2, 0.6),
    "offline_event": (0.4, 0.1, 0.3), "form_submit": (0.1, 0.4, 0.2),
    "webinar_attended": (0.1, 1.0, 0.4), "content_download": (0.05, 0.7, 0.3),
    "email_click": (0.2, 0.6, 0.3),
}
NEGATIVE_WEIGHTS = {"email_bounce": -0.8, "email_unsubscribe": -1.4, "careers": -0.7}


@dataclass
class World:
    """The three tables of a synthetic world (canonical frames, see docs/CONTRACTS.md)."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    truth: pd.DataFrame


LEADS_SCHEMA = pa.schema([
    ("lead_id", pa.string()), ("created_at", pa.timestamp("ns")), ("outcome", pa.string()),
    ("outcome_at", pa.timestamp("ns")), ("name", pa.string()), ("email", pa.string()),
    ("phone", pa.string()), ("job_title", pa.string()), ("company", pa.string()),
    ("industry", pa.string()), ("employees", pa.int64()), ("annual_revenue", pa.float64()),
    ("country", pa.string()), ("lead_source", pa.string()), ("product_line", pa.string()),
])
ACTIVITIES_SCHEMA = pa.schema([
    ("lead_id", pa.string()), ("occurred_at", pa.timestamp("ns")), ("activity_type", pa.string()),
    ("detail", pa.string()), ("channel", pa.string()),
])
TRUTH_SCHEMA = pa.schema([("lead_id", pa.string()), ("p_convert", pa.float64())])


# --- small helpers -----------------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _codes(rng: np.random.Generator, p: Sequence[float], size: int) -> np.ndarray:
    """Category codes drawn with probabilities ``p``."""
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(size), side="right"), len(p) - 1)


def _codes_by_row(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Category codes drawn per element from the probability row ``table[row]``."""
    cdf = np.cumsum(table, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(row.size)
    return np.minimum((cdf[row] < u[:, None]).sum(axis=1), table.shape[1] - 1)


class _Grouped:
    """Variable-length lists of values per group, flattened for vectorised picks."""

    def __init__(self, groups: Sequence[Sequence], dtype: type = object) -> None:
        self.values = np.asarray([v for g in groups for v in g], dtype=dtype)
        self.count = np.array([len(g) for g in groups])
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])

    def pick(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        """Index into ``values`` of a uniform pick within each element's group."""
        return self.start[group] + (rng.random(group.size) * self.count[group]).astype(np.int64)


def _detail_codes(groups: Sequence[Sequence[str]]) -> _Grouped:
    """A :class:`_Grouped` of detail codes."""
    return _Grouped([[_D[v] for v in g] for g in groups], dtype=np.int16)


_CAMPAIGN_G = _detail_codes([CAMPAIGNS[p] for p in PRODUCTS])
_ASSET_G = _detail_codes([ASSETS[p] for p in PRODUCTS])
_WEBINAR_G = _detail_codes([WEBINARS[p] for p in PRODUCTS])


def _lookup(mapping: dict[str, object], keys: Sequence[str]) -> np.ndarray:
    """Array of ``mapping[k]`` for the keys in vocabulary order (code -> value table)."""
    return np.asarray([mapping[k] for k in keys], dtype=float)


# --- job titles --------------------------------------------------------------------------------
_DEPT_WORDS = {
    "sales": ("Sales", "Sales", "Business Development", "Revenue", "sales"),
    "marketing": ("Marketing", "Marketing", "Demand Generation", "Growth Marketing", "mktg"),
    "engineering": ("Engineering", "Software Engineering", "R&D", "Engineering", "eng"),
    "it": ("IT", "IT", "Information Technology", "IT Infrastructure", "Information Security"),
    "operations": ("Operations", "Operations", "Ops", "Supply Chain", "Logistics"),
    "finance": ("Finance", "Finance", "Financial Planning", "Accounting", "finance"),
    "hr": ("HR", "Human Resources", "People", "Talent Acquisition", "HR"),
    "product": ("Product", "Product Management", "Product", "UX", "product"),
}
_C_LEVEL = {
    "sales": ("Chief Revenue Officer", "CRO", "Chief Sales Officer"),
    "marketing": ("Chief Marketing Officer", "CMO", "cmo"),
    "engineering": ("Chief Technology Officer", "CTO", "cto"),
    "it": ("Chief Information Officer", "CIO", "CISO"),
    "operations": ("Chief Operating Officer", "COO"),
    "finance": ("Chief Financial Officer", "CFO"),
    "hr": ("Chief People Officer", "CHRO"),
    "product": ("Chief Product Officer", "CPO"),
}
# C-level titles that do not show a department.
_C_GENERIC = ("CEO", "Founder", "Co-Founder & CEO", "Owner", "President", "Managing Director",
              "founder", "CEO & Founder")
_FORMS = {
    "vp": ("VP {d}", "VP of {d}", "Vice President, {d}", "vp of {d}", "SVP {d}", "EVP, {d}",
           "V.P. {d}", "Vice President of {d}"),
    "director": ("Director of {d}", "{d} Director", "Dir. of {d}", "Head of {d}",
                 "Sr. Director, {d}", "Global Head of {d}"),
    "manager": ("{d} Manager", "{d} mgr", "Manager - {d}", "{d} Team Lead", "Sr. {d} Manager"),
    "student": ("{d} Intern",),
}
_SPECIAL = {
    ("manager", "operations"): ("line supervisor", "Shift Supervisor", "Plant Manager"),
    ("manager", "marketing"): ("mktg mgr", "Marketing Manager"),
    ("manager", "sales"): ("Sales Manager", "Regional Sales Manager"),
    ("individual", "sales"): ("Account Executive", "SDR", "Sales Rep",
                              "Business Development Rep", "Inside Sales Representative"),
    ("individual", "marketing"): ("Marketing Specialist", "Content Writer",
                                  "Marketing Coordinator", "SEO Analyst"),
    ("individual", "engineering"): ("Sr. Software Eng.", "Software Engineer", "Developer",
                                    "Data Scientist", "QA Engineer", "software dev"),
    ("individual", "it"): ("Systems Administrator", "IT Analyst", "Network Engineer",
                           "Help Desk Technician"),
    ("individual", "operations"): ("Operations Analyst", "Logistics Coordinator",
                                   "Warehouse Associate"),
    ("individual", "finance"): ("Accountant", "Financial Analyst", "Senior Accountant"),
    ("individual", "hr"): ("Recruiter", "HR Generalist", "Talent Partner"),
    ("individual", "product"): ("Product Designer", "UX Researcher", "Product Analyst"),
}
# Individual contributors and students whose title shows no department.
_GENERIC = {
    "individual": ("Consultant", "Analyst", "Specialist", "Associate", "Engineer"),
    "student": ("Student", "MBA candidate", "intern", "PhD student", "Graduate Student",
                "student"),
}
_PLACEHOLDERS = ("-", "n/a", ".", "Select")


def _title_table() -> tuple[_Grouped, np.ndarray]:
    """Title spellings per (seniority, department) group and whether each shows the department."""
    groups, shows = [], []
    for level in SENIORITIES:
        for dept in DEPARTMENTS:
            texts: list[str] = []
            flags: list[bool] = []
            if level == "c-level":
                texts += list(_C_LEVEL[dept]) * 2 + list(_C_GENERIC)
                flags += [True] * 2 * len(_C_LEVEL[dept]) + [False] * len(_C_GENERIC)
            for form in _FORMS.get(level, ()):
                for word in _DEPT_WORDS[dept]:
                    texts.append(form.replace("{d}", word))
                    flags.append(True)
            special = _SPECIAL.get((level, dept), ())
            if level == "individual":
                special = special * 2  # the department-specific titles are the common ones
            texts += list(special)
            flags += [True] * len(special)
            generic = _GENERIC.get(level, ())
            texts += list(generic)
            flags += [False] * len(generic)
            groups.append(texts)
            shows.append(flags)
    return _Grouped(groups), np.concatenate([np.asarray(f, dtype=bool) for f in shows])


_TITLES, _TITLE_SHOWS_DEPT = _title_table()


def _render_titles(rng: np.random.Generator, seniority: np.ndarray,
                   dept: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Title text, and the seniority and department codes it shows (last code: unknown)."""
    n = seniority.size
    pick = _TITLES.pick(rng, seniority * len(DEPARTMENTS) + dept)
    titles = _TITLES.values[pick].copy()
    case = rng.random(n)
    lower, upper = case < 0.08, (case >= 0.08) & (case < 0.11)
    titles[lower] = np.char.lower(titles[lower].astype(str)).astype(object)
    titles[upper] = np.char.upper(titles[upper].astype(str)).astype(object)
    dirt = rng.random(n)
    padded = dirt < 0.03  # trailing spaces, as typed into forms
    titles[padded] = titles[padded] + " "
    blank = rng.random(n)
    missing = blank < 0.03
    placeholder = (blank >= 0.03) & (blank < 0.04)
    titles[missing] = None
    titles[placeholder] = np.asarray(_PLACEHOLDERS, dtype=object)[
        rng.integers(0, len(_PLACEHOLDERS), int(placeholder.sum()))]
    unseen = missing | placeholder
    seen_level = np.where(unseen, len(SENIORITIES), seniority)
    seen_dept = np.where(unseen | ~_TITLE_SHOWS_DEPT[pick], len(DEPARTMENTS), dept)
    return titles, seen_level, seen_dept


# --- companies ---------------------------------------------------------------------------------
_NAME_A = ("Acme", "Apex", "Atlas", "Beacon", "Blue", "Bright", "Cedar", "Crest", "Delta",
           "Summit", "Evergreen", "Falcon", "Granite", "Harbor", "Horizon", "Iron", "Juniper",
           "Keystone", "Lakeside", "Meridian", "North", "Nova", "Oak", "Pacific", "Pinnacle",
           "Quantum", "Redwood", "River", "Sierra", "Silver", "Sterling", "Stone", "Sun",
           "Titan", "Union", "Vertex", "Vista", "West", "Willow", "Zenith", "Orbit", "Maple",
           "Coral", "Echo", "Polar", "Swift", "True", "Prime", "Bluebird", "Copper")
_NAME_B = ("", "", "", "", "bay", "bridge", "field", "gate", "point", "ridge", "rock", "wood",
           "line", "path", "peak", "star", "view", "works")
_INDUSTRY_NOUN = {
    "software": ("Software", "Labs", "Cloud", "Data", "Systems", "Analytics", "AI", "Digital"),
    "finance": ("Capital", "Bank", "Financial", "Insurance", "Investments", "Credit Union",
                "Wealth", "Payments"),
    "healthcare": ("Health", "Medical", "Pharma", "Clinics", "Care", "Biotech", "Hospital",
                   "Diagnostics"),
    "manufacturing": ("Manufacturing", "Industries", "Steel", "Components", "Machinery",
                      "Plastics", "Tooling", "Fabrication"),
    "retail": ("Retail", "Stores", "Brands", "Outfitters", "Market", "Goods", "Foods",
               "Apparel"),
    "education": ("University", "College", "Academy", "Schools", "Learning", "Institute",
                  "Community College", "School District"),
    "government": ("County", "City Council", "Agency", "Department", "Authority",
                   "Municipality", "Public Works", "Transit"),
    "consulting": ("Consulting", "Advisors", "Partners", "Strategy", "Associates", "Group",
                   "Advisory", "Solutions"),
    "telecom": ("Telecom", "Networks", "Mobile", "Communications", "Wireless", "Broadband",
                "Fiber", "Connect"),
    "energy": ("Energy", "Power", "Utilities", "Solar", "Oil & Gas", "Renewables", "Grid",
               "Resources"),
}
_LEGAL = {"US": ("Inc", "LLC", "Corp", ""), "UK": ("Ltd", "plc", ""), "DE": ("GmbH", "AG"),
          "FR": ("SA", "SAS"), "IN": ("Pvt Ltd", "Ltd"), "CA": ("Inc", "Ltd"),
          "AU": ("Pty Ltd",), "NL": ("BV", "NV"), "BR": ("Ltda", "SA"), "SG": ("Pte Ltd",)}
_TLD = {"US": ".com", "UK": ".co.uk", "DE": ".de", "FR": ".fr", "IN": ".in", "CA": ".ca",
        "AU": ".com.au", "NL": ".nl", "BR": ".com.br", "SG": ".sg"}
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
def _companies(seed: int) -> _Companies:
    """Company pool of ``seed`` (``default_rng([seed, 0, 1])``: never a chunk's stream)."""
    rng = np.random.default_rng([seed, 0, 1])
    n = N_COMPANIES
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


# --- people ------------------------------------------------------------------------------------
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ivy", "Jon", "Kim",
          "Lena", "Mo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Vik",
          "Wen", "Xavier", "Yara", "Zoe", "Aiden", "Bianca", "Carlos", "Dana", "Elif", "Felix",
          "Gita", "Hannah", "Igor", "Julia", "Kofi", "Laura", "Mateo", "Noor", "Olga", "Pedro",
          "Rahul", "Sofia", "Tom", "Lukas", "Amara", "Chen", "Maya", "Liam")
_LAST = ("Smith", "Garcia", "Chen", "Patel", "Muller", "Rossi", "Kim", "Nguyen", "Silva",
         "Okafor", "Jensen", "Dubois", "Kowalski", "Haddad", "Sato", "Brown", "Johnson",
         "Williams", "Jones", "Miller", "Davis", "Lopez", "Wilson", "Anderson", "Taylor",
         "Thomas", "Moore", "Martin", "Lee", "Walker", "Schmidt", "Schneider", "Fischer",
         "Martinez", "Hernandez", "Singh", "Kumar", "Sharma", "Wang", "Li", "Zhang", "Santos",
         "Costa", "Bakker", "Visser", "Cohen", "Novak", "Ivanova", "Mensah", "OBrien")
_PHONE_CC = ("+1", "+44", "+49", "+33", "+91", "+1", "+61", "+31", "+55", "+65")


def _people(rng: np.random.Generator, n: int, company: np.ndarray, domain_kind: np.ndarray,
            pool: _Companies) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fake names, email addresses and phone numbers (PII: features never read them)."""
    first = np.asarray(_FIRST, dtype=object)[rng.integers(0, len(_FIRST), n)]
    last = np.asarray(_LAST, dtype=object)[rng.integers(0, len(_LAST), n)]
    f = np.char.lower(first.astype(str)).astype(object)
    la = np.char.lower(last.astype(str)).astype(object)
    digits = rng.integers(1, 99, n).astype(str).astype(object)
    fmt = rng.integers(0, 4, n)
    initial = f.astype(str).astype("U1").astype(object)
    corporate = np.select([fmt == 0, fmt == 1, fmt == 2], [f + "." + la, initial + la, f],
                          f + "_" + la)
    free_local = np.select([fmt == 0, fmt == 1, fmt == 2],
                           [f + "." + la + digits, f + la, f + "_" + la + digits], f + "." + la)
    free_domain = np.asarray(FREE_MAIL, dtype=object)[_codes(rng, FREE_MAIL_P, n)]
    local = np.where(domain_kind == 1, free_local, corporate)
    domain = np.where(domain_kind == 1, free_domain, pool.domain[company])
    email = local + "@" + domain
    number = rng.integers(2_000_000_000, 9_999_999_999, n).astype(str).astype(object)
    cc = np.asarray(_PHONE_CC, dtype=object)[pool.country[company]]
    phone = np.where(rng.random(n) < 0.2, number, cc + " " + number)
    phone[rng.random(n) < 0.12] = None
    return first + " " + last, email, phone


# --- calendar and leads ------------------------------------------------------------------------
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


_SENIORITY_TABLE = np.array([row for line in PRODUCTS
                             for row in (SENIORITY_P[line], _drifted(SENIORITY_P[line], 0.07))])
_DEPARTMENT_TABLE = np.array([DEPARTMENT_P[line] for line in PRODUCTS])
_FREE_BY_SENIORITY = np.array([0.12, 0.06, 0.08, 0.15, 0.25, 0.75])


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
    domain_kind: np.ndarray  # 0 corporate, 1 free mail, 2 competitor
    fit: np.ndarray
    intent: np.ndarray
    job_seeker: np.ndarray
    invalid: np.ndarray
    browse: np.ndarray
    text: dict[str, np.ndarray]


def _leads(rng: np.random.Generator, n: int, offset: int, total: int, end: str,
           months: int, pool: _Companies) -> _Leads:
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
    company = np.minimum(np.searchsorted(pool.cdf, rng.random(n)), N_COMPANIES - 1)
    at_school = student & (rng.random(n) < 0.65)
    company[at_school] = pool.schools[rng.integers(0, pool.schools.size, int(at_school.sum()))]
    kind_u = rng.random(n)
    competitor = kind_u < 0.008
    company[competitor] = N_COMPANIES + rng.integers(0, 2, int(competitor.sum()))
    tiny = pool.employees[company] < 10  # the self-employed sign up with private addresses
    free_p = _FREE_BY_SENIORITY[seniority] + 0.08 * drift + 0.3 * tiny
    domain_kind = np.where(competitor, 2, np.where(kind_u < 0.008 + free_p, 1, 0))
    country = np.where(rng.random(n) < 0.85, pool.country[company],
                       _codes(rng, COUNTRY_P, n))
    source = np.where(drift, _codes(rng, SOURCE_P_DRIFT, n), _codes(rng, SOURCE_P, n))
    titles, seen_level, seen_dept = _render_titles(rng, seniority, dept)
    name, email, phone = _people(rng, n, company, domain_kind, pool)
    industry = pool.industry[company]
    f = _FIT
    fit = (f["seniority"][seen_level, line] + f["department"][seen_dept, line]
           + f["size"][line] * (np.log10(pool.employees[company]) - np.log10(200))
           + f["industry"][industry] * f["industry_scale"][line] + f["source"][source]
           + f["country"][country] + f["free_mail"][line] * (domain_kind == 1)
           + f["competitor"][line] * (domain_kind == 2))
    intent = rng.normal(0.0, 1.0, n) + 0.3 * np.tanh(fit)
    job_seeker = rng.random(n) < np.where(student, 0.3, 0.04)
    invalid = rng.random(n) < np.where(domain_kind == 1, 0.08, 0.02)
    browse = np.exp(rng.normal(-0.08, 0.4, n))  # some people just click around more
    lead_id = np.char.add("L", np.char.zfill((offset + 1 + np.arange(n)).astype(str), 7))
    text = {"lead_id": lead_id.astype(object), "name": name, "email": email, "phone": phone,
            "job_title": titles, "company": pool.name[company],
            "industry": np.asarray(INDUSTRIES, dtype=object)[industry],
            "country": np.asarray(COUNTRIES, dtype=object)[country],
            "lead_source": np.asarray(SOURCES, dtype=object)[source],
            "product_line": np.asarray(PRODUCTS, dtype=object)[line]}
    return _Leads(created, line, seniority, source, company, country, domain_kind, fit, intent,
                  job_seeker, invalid, browse, text)


# --- activity processes ------------------------------------------------------------------------
class _Events:
    """Events as parallel arrays: lead position, days since creation, type and detail codes."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, kind: str, lead: np.ndarray, day: np.ndarray,
            detail: np.ndarray | int = -1) -> None:
        """Append events of one type."""
        detail = np.broadcast_to(np.asarray(detail, dtype=np.int16), lead.shape)
        self.parts.append((lead, day, np.full(lead.size, _T[kind], dtype=np.int8), detail))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Concatenated (lead, whole seconds after creation >= 1, type, detail)."""
        lead, day, kind, detail = (np.concatenate(a) for a in zip(*self.parts, strict=True))
        return lead, np.floor(day * _DAY_S).astype(np.int64) + 1, kind, detail


def _decaying(rng: np.random.Generator, mean14: np.ndarray, tau: float, lo: np.ndarray,
              hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leads and days of a Poisson process with intensity ~ exp(-t / tau) on [lo, hi)."""
    mass = (np.exp(-lo / tau) - np.exp(-hi / tau)) / (1.0 - np.exp(-AS_OF_DAYS / tau))
    lead = np.repeat(np.arange(mean14.size), rng.poisson(np.maximum(mean14 * mass, 0.0)))
    span = hi[lead] - lo[lead]
    u = rng.random(lead.size)
    return lead, lo[lead] - tau * np.log1p(-u * -np.expm1(-span / tau))


def _page_codes(rng: np.random.Generator, ld: _Leads, lead: np.ndarray) -> np.ndarray:
    """Page of each web visit: intent drives pricing and demo, students blog and docs."""
    z = ld.intent[lead]
    student = (ld.seniority[lead] == SENIORITIES.index("student")).astype(float)
    platform = (ld.line[lead] == 0).astype(float)
    academy = (ld.line[lead] == 1).astype(float)
    logits = np.column_stack([
        np.zeros(lead.size),                                   # home
        0.3 + 1.0 * student,                                   # blog
        -1.3 + 0.7 * z + 0.5 * platform,                       # pricing
        -2.2 + 0.8 * z + 0.6 * platform,                       # demo
        -1.7 + 0.4 * z,                                        # case_study
        np.where(ld.job_seeker[lead], 1.8, -4.5),              # careers
        -0.5 + 0.2 * z,                                        # product
        -1.0 + 1.0 * student + 0.4 * academy,                  # docs
    ])
    p = np.exp(logits)
    cdf = np.cumsum(p, axis=1)
    pick = (cdf < rng.random(lead.size)[:, None] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(pick, len(PAGES) - 1).astype(np.int16)  # page codes are detail codes


_FORM_P = (0.3, 0.3, 0.15, 0.1, 0.15)
_INBOUND_FORMS = (0.55, 0.25, 0.2, 0.0, 0.0)
_RATE_TABLES = {k: (np.asarray(v[2]), np.asarray(_SENIORITY_RATE[k])) for k, v in RATES.items()}


def _organic(rng: np.random.Generator, ld: _Leads, lo: np.ndarray, hi: np.ndarray,
             mail_cut: np.ndarray, ev: _Events) -> np.ndarray:
    """Organic activity on [lo, hi) days after creation; returns the day mail stops per lead."""
    n = ld.line.size
    z = ld.intent
    for kind, (base, slope, _, tau) in RATES.items():
        by_line, by_level = _RATE_TABLES[kind]
        mean14 = base * np.exp(slope * z + by_line[ld.line]) * by_level[ld.seniority]
        if kind == "web_visit":
            mean14 = mean14 * ld.browse
        lead, day = _decaying(rng, mean14, tau, lo, hi)
        if kind == "web_visit":
            ev.add(kind, lead, day, _page_codes(rng, ld, lead))
        elif kind == "content_download":
            ev.add(kind, lead, day, _ASSET_G.values[_ASSET_G.pick(rng, ld.line[lead])])
        elif kind == "webinar_registered":
            _webinars(rng, ld, lead, day, ev)
        elif kind == "form_submit":
            ev.add(kind, lead, day, _D[FORMS[0]] + _codes(rng, _FORM_P, lead.size))
        elif kind == "demo_request":
            ev.add(kind, lead, day, np.where(rng.random(lead.size) < 0.8, _D["demo_form"],
                                             _D["chat_request"]))
        elif kind == "offline_event":
            ev.add(kind, lead, day, _D[EVENTS[0]] + rng.integers(0, len(EVENTS), lead.size))
        else:  # sales_call: discovery, qualification or follow-up
            ev.add(kind, lead, day, _D[CALLS[0]] + rng.integers(0, 3, lead.size))
    return _mail(rng, ld, lo, hi, mail_cut, ev, welcome=bool((lo == 0).all()) and n > 0)


def _webinars(rng: np.random.Generator, ld: _Leads, lead: np.ndarray, day: np.ndarray,
              ev: _Events) -> None:
    """Webinar registrations; attendance (1-10 days later) follows intent."""
    name = _WEBINAR_G.values[_WEBINAR_G.pick(rng, ld.line[lead])]
    ev.add("webinar_registered", lead, day, name)
    z = ld.intent[lead]
    came = rng.random(lead.size) < _sigmoid(0.9 * z + 0.2 * (ld.line[lead] == 1) - 0.1)
    ev.add("webinar_attended", lead[came], day[came] + rng.uniform(1.0, 10.0, lead.size)[came],
           name[came])


def _mail(rng: np.random.Generator, ld: _Leads, lo: np.ndarray, hi: np.ndarray,
          cut: np.ndarray, ev: _Events, welcome: bool) -> np.ndarray:
    """Mail sent on a cadence to everyone, with opens, clicks, bounces and unsubscribes."""
    n = ld.line.size
    lead, day = _decaying(rng, np.full(n, EMAIL_NURTURE_14D), EMAIL_TAU, lo, hi)
    detail = _CAMPAIGN_G.values[_CAMPAIGN_G.pick(rng, ld.line[lead])]
    if welcome:
        first = np.flatnonzero(rng.random(n) < WELCOME_P)
        lead = np.concatenate([first, lead])
        day = np.concatenate([rng.uniform(0.0005, 0.02, first.size), day])
        detail = np.concatenate([np.full(first.size, _D["welcome"]), detail])
    sent = day < cut[lead]  # nothing is mailed after a hard bounce or an unsubscribe
    lead, day, detail = lead[sent], day[sent], detail[sent]
    invalid = ld.invalid[lead]
    bounced = rng.random(lead.size) < np.where(
        invalid, 0.92, np.where(ld.domain_kind[lead] == 1, 0.03, 0.015))
    hard = np.full(n, np.inf)
    np.minimum.at(hard, lead[bounced & invalid], day[bounced & invalid])
    sent = day <= hard[lead]  # the sender suppresses an address after its first hard bounce
    lead, day, detail, bounced = lead[sent], day[sent], detail[sent], bounced[sent]
    z = ld.intent[lead]
    delivered = ~bounced
    opened = delivered & (rng.random(lead.size) < _sigmoid(-0.8 + 0.7 * z))
    open_day = day + rng.exponential(0.4, lead.size)
    clicked = opened & (rng.random(lead.size) < _sigmoid(
        -1.3 + 0.8 * z + 0.4 * (ld.line[lead] == 1)))
    click_day = open_day + rng.exponential(0.01, lead.size)
    quits = delivered & (rng.random(lead.size) < _sigmoid(-4.6 - 0.9 * z))
    quit_day = day + rng.exponential(0.3, lead.size)
    unsub = np.full(n, np.inf)
    np.minimum.at(unsub, lead[quits], quit_day[quits])
    first_quit = quits & (quit_day == unsub[lead])
    live = day < unsub[lead]
    ev.add("email_sent", lead[live], day[live], detail[live])
    ev.add("email_bounce", lead[live & bounced], day[live & bounced] + 0.002,
           detail[live & bounced])
    keep = live & opened & (open_day < unsub[lead])
    ev.add("email_open", lead[keep], open_day[keep], detail[keep])
    keep &= clicked
    ev.add("email_click", lead[keep], click_day[keep], detail[keep])
    ev.add("email_unsubscribe", lead[first_quit], quit_day[first_quit], detail[first_quit])
    return np.minimum(cut, np.minimum(hard, unsub))


def _inbound(rng: np.random.Generator, ld: _Leads, ev: _Events) -> None:
    """The event that created an inbound lead, seconds to minutes after created_at."""
    n = ld.line.size
    src = ld.source
    day = rng.uniform(0.0, 0.002, n)
    u = rng.random(n)
    web = np.isin(src, [SOURCES.index(s) for s in
                        ("organic_search", "paid_search", "paid_social", "direct")]) & (u < 0.85)
    web |= np.isin(src, [SOURCES.index("referral"), SOURCES.index("partner")]) & (u < 0.5)
    idx = np.flatnonzero(web)
    ev.add("form_submit", idx, day[idx], _D[FORMS[0]] + _codes(rng, _INBOUND_FORMS, idx.size))
    idx = np.flatnonzero((src == SOURCES.index("content_syndication")) & (u < 0.95))
    ev.add("content_download", idx, day[idx], _ASSET_G.values[_ASSET_G.pick(rng, ld.line[idx])])
    idx = np.flatnonzero((src == SOURCES.index("trade_show")) & (u < 0.9))
    ev.add("offline_event", idx, day[idx], _D["trade_show_booth"])
    idx = np.flatnonzero((src == SOURCES.index("webinar")) & (u < 0.9))
    _webinars(rng, ld, idx, day[idx], ev)


def _deals(rng: np.random.Generator, won: np.ndarray, lost: np.ndarray, decided: np.ndarray,
           ev: _Events) -> None:
    """Sales work between as_of and the decision: the leakage trap."""
    lo = float(AS_OF_DAYS)
    # type, minimum and extra Poisson mean of events per lead, detail values, which leads
    for kind, least, lam, details, who in (
            ("demo_request", 0, 1.0, ("demo_form",), won),
            ("sales_call", 1, 1.5, ("discovery_call", "proposal_review", "negotiation"), won),
            ("web_visit", 0, 1.5, ("pricing",), won),
            ("sales_call", 0, 0.3, ("qualification_call",), lost)):
        active = who & (decided > lo)
        counts = np.where(active, least + rng.poisson(lam, won.size), 0)
        lead = np.repeat(np.arange(won.size), counts)
        day = rng.uniform(lo, decided[lead])
        codes = np.asarray([_D[d] for d in details], dtype=np.int16)
        ev.add(kind, lead, day, codes[rng.integers(0, codes.size, lead.size)])


# --- the true conversion probability ------------------------------------------------------------
_PAGE_SIGNAL = np.full(len(_DETAILS), -1)  # detail code of a web visit -> signal column
_PAGE_SIGNAL[[_D[p] for p in ("pricing", "demo", "case_study", "product", "docs", "careers")]] = [
    _S[s] for s in ("pricing", "demo_page", "case_study", "product_page", "docs", "careers")]
_TYPE_SIGNAL = np.array([_S.get(t, -1) for t in ACTIVITY_TYPES])
_ENGAGEMENT_W = np.array([[ENGAGEMENT_WEIGHTS.get(s, (0.0, 0.0, 0.0))[k] for s in _SIGNALS]
                          for k in range(len(PRODUCTS))])


def _signals(n: int, lead: np.ndarray, sec: np.ndarray, kind: np.ndarray,
             detail: np.ndarray) -> np.ndarray:
    """Recency-weighted counts of each signal strictly before as_of, shape (n, signals)."""
    sig = np.where(kind == _T["web_visit"], _PAGE_SIGNAL[np.maximum(detail, 0)],
                   _TYPE_SIGNAL[kind])
    seen = (sig >= 0) & (sec < _AS_OF_S)
    age = sec[seen] / _DAY_S
    weight = 0.5 ** ((AS_OF_DAYS - age) / RECENCY_HALF_LIFE_DAYS)
    k = len(_SIGNALS)
    flat = np.bincount(lead[seen] * k + sig[seen], weights=weight, minlength=n * k)
    return flat.reshape(n, k)


def _logit(ld: _Leads, counts: np.ndarray) -> np.ndarray:
    """Log-odds without the intercept: fit, engagement, their interaction, negatives."""
    eng = (np.log1p(counts) * _ENGAGEMENT_W[ld.line]).sum(axis=1)
    neg = (NEGATIVE_WEIGHTS["email_bounce"] * (counts[:, _S["email_bounce"]] > 0)
           + NEGATIVE_WEIGHTS["email_unsubscribe"] * (counts[:, _S["email_unsubscribe"]] > 0)
           + NEGATIVE_WEIGHTS["careers"] * np.log1p(counts[:, _S["careers"]]))
    hot = _sigmoid(2.5 * (ld.fit - 0.6)) * _sigmoid(2.5 * (eng - 0.9))
    return SIGNAL * (0.8 * ld.fit + 0.9 * eng + 1.4 * hot + neg)


def _first_fortnight(rng: np.random.Generator, ld: _Leads, ev: _Events) -> np.ndarray:
    """Generate activity up to as_of into ``ev``; return the day mail stops per lead."""
    n = ld.line.size
    _inbound(rng, ld, ev)
    return _organic(rng, ld, np.zeros(n), np.full(n, float(AS_OF_DAYS)), np.full(n, np.inf), ev)


@functools.lru_cache(maxsize=16)
def _intercept(base_rate: float, end: str, months: int) -> float:
    """Intercept b0 with mean p = ``base_rate`` on a fixed-seed probe (bisection)."""
    rng = np.random.default_rng([PROBE_SEED, 0, 2])
    ld = _leads(rng, PROBE_LEADS, 0, PROBE_LEADS, end, months, _companies(PROBE_SEED))
    ev = _Events()
    _first_fortnight(rng, ld, ev)
    lead, sec, kind, detail = ev.arrays()
    base = _logit(ld, _signals(PROBE_LEADS, lead, sec, kind, detail))
    low, high = -20.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        if _sigmoid(mid + base).mean() > base_rate:
            high = mid
        else:
            low = mid
    return (low + high) / 2


# --- one chunk ---------------------------------------------------------------------------------
_WON, _LOST, _OPEN = 0, 1, 2
# Days from as_of to a won deal's close: 7 + 143 * Beta(a, b) by product line.
_CLOSE_BETA = np.array([(1.6, 3.5), (1.2, 5.0), (1.5, 3.0)])


def _chunk(seed: int, chunk: int, n: int, offset: int, total: int, end: str, months: int,
           b0: float) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Leads, activities and truth of one chunk as Arrow tables."""
    rng = np.random.default_rng([seed, chunk])
    ld = _leads(rng, n, offset, total, end, months, _companies(seed))
    _, _, _, end_s = _calendar(end, months)
    ev = _Events()
    mail_cut = _first_fortnight(rng, ld, ev)
    p = _sigmoid(b0 + _logit(ld, _signals(n, *ev.arrays())))

    won = rng.random(n) < p
    beta = _CLOSE_BETA[ld.line]
    close = AS_OF_DAYS + 7.0 + 143.0 * rng.beta(beta[:, 0], beta[:, 1])
    lost_day = np.where(rng.random(n) < 0.04, rng.uniform(3.0, AS_OF_DAYS, n),
                        AS_OF_DAYS + 186.0 * rng.beta(1.1, 2.0, n))
    undecided = ~won & (rng.random(n) < 0.15)
    decided = np.where(won, close, lost_day)
    decided_s = ld.created + np.floor(decided * _DAY_S).astype(np.int64)
    outcome = np.where(won, _WON, np.where(undecided, _OPEN, _LOST))
    outcome[decided_s > end_s] = _OPEN
    stop = np.where(won, close, HORIZON_DAYS)
    stop = np.minimum(stop, (end_s - ld.created) / _DAY_S + 1.0 / _DAY_S)
    _organic(rng, ld, np.full(n, float(AS_OF_DAYS)), np.maximum(stop, AS_OF_DAYS), mail_cut, ev)
    _deals(rng, won, ~won & ~undecided, decided, ev)

    lead, sec, kind, detail = ev.arrays()
    at = ld.created[lead] + sec
    keep = at <= end_s
    lead, at, kind, detail = lead[keep], at[keep], kind[keep], detail[keep]
    order = np.lexsort((kind, at, lead))
    lead, at, kind, detail = lead[order], at[order], kind[order], detail[order]
    ids = pa.array(ld.text["lead_id"], pa.string())
    activities = pa.table([
        ids.take(pa.array(lead.astype(np.int32))),
        pa.array((at * _NS).view("datetime64[ns]")),
        pa.array(ACTIVITY_TYPES, pa.string()).take(pa.array(kind.astype(np.int32))),
        pa.array(_DETAILS, pa.string()).take(pa.array(detail.astype(np.int32),
                                                      mask=detail < 0)),
        pa.array(["online", "offline"], pa.string()).take(
            pa.array(_OFFLINE[kind].astype(np.int32))),
    ], schema=ACTIVITIES_SCHEMA)
    t = ld.text
    leads = pa.table([
        ids, pa.array((ld.created * _NS).view("datetime64[ns]")),
        pa.array(["won", "lost", "open"], pa.string()).take(pa.array(outcome.astype(np.int32))),
        pa.array((decided_s * _NS).view("datetime64[ns]"), mask=outcome == _OPEN),
        *(pa.array(t[c], pa.string()) for c in ("name", "email", "phone", "job_title",
                                                 "company", "industry")),
        pa.array(_companies(seed).employees[ld.company]),
        pa.array(_companies(seed).revenue[ld.company], from_pandas=True),
        *(pa.array(t[c], pa.string()) for c in ("country", "lead_source", "product_line")),
    ], schema=LEADS_SCHEMA)
    truth = pa.table([ids, pa.array(p)], schema=TRUTH_SCHEMA)
    return leads, activities, truth


def _plan(n_leads: int, seed: int, base_rate: float, end: str,
          months: int) -> tuple[list[tuple[int, int, int]], float]:
    """Validate the arguments; chunks as (index, size, offset) and the intercept."""
    if not isinstance(n_leads, int | np.integer) or n_leads < 1:
        raise ConfigError(f"synth: n_leads must be a positive integer, got {n_leads!r}")
    if not 0.0 < base_rate < 1.0:
        raise ConfigError(f"synth: base_rate must be in (0, 1), got {base_rate!r}")
    if months <= DRIFT_MONTHS:
        raise ConfigError(f"synth: months must exceed the {DRIFT_MONTHS}-month drift quarter, "
                          f"got {months!r}")
    try:
        end = str(pd.Timestamp(end).date())
    except (ValueError, TypeError):
        raise ConfigError(f"synth: end must be a date like 2026-06-30, got {end!r}") from None
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"synth: seed must be a non-negative integer, got {seed!r}")
    chunks = [(i, min(CHUNK, n_leads - i * CHUNK), i * CHUNK)
              for i in range((n_leads + CHUNK - 1) // CHUNK)]
    return chunks, _intercept(float(base_rate), end, int(months))


def make_world(n_leads: int, seed: int = 42, base_rate: float = 0.08, end: str = "2026-06-30",
               months: int = 24) -> World:
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
    chunks, b0 = _plan(n_leads, seed, base_rate, end, months)
    end = str(pd.Timestamp(end).date())
    parts = [_chunk(seed, c, n, off, n_leads, end, months, b0) for c, n, off in chunks]
    return World(*(pa.concat_tables([p[k] for p in parts]).to_pandas() for k in range(3)))


def write_world(out_dir: str | Path, n_leads: int, seed: int = 42, base_rate: float = 0.08,
                end: str = "2026-06-30", months: int = 24,
                progress: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """Stream a synthetic CRM world to ``leads``, ``activities`` and ``truth.parquet``.

    One chunk of :data:`CHUNK` leads and its events is in memory at a time (a row group per
    chunk), so a million leads with ~20M activities stay well under 4 GiB. Each file appears
    atomically: a failed run leaves no partial file.

    Parameters
    ----------
    out_dir
        Folder for the three files (created if missing; existing files are replaced).
    n_leads, seed, base_rate, end, months
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
    chunks, b0 = _plan(n_leads, seed, base_rate, end, months)
    end = str(pd.Timestamp(end).date())
    out = Path(out_dir)
    rows = {"leads": 0, "activities": 0, "positives": 0}
    p_sum = 0.0
    schemas = (LEADS_SCHEMA, ACTIVITIES_SCHEMA, TRUTH_SCHEMA)
    with atomic_path(out / "leads.parquet") as lp, \
            atomic_path(out / "activities.parquet") as ap, \
            atomic_path(out / "truth.parquet") as tp:
        writers = [pq.ParquetWriter(path, schema, compression="zstd")
                   for path, schema in zip((lp, ap, tp), schemas, strict=True)]
        try:
            for c, n, off in chunks:
                leads, activities, truth = _chunk(seed, c, n, off, n_leads, end, months, b0)
                for writer, table in zip(writers, (leads, activities, truth), strict=True):
                    writer.write_table(table, row_group_size=2 * CHUNK * 40)
                rows["leads"] += n
                rows["activities"] += activities.num_rows
                rows["positives"] += int(np.sum(leads["outcome"].to_numpy(
                    zero_copy_only=False) == "won"))
                p_sum += float(np.sum(truth["p_convert"].to_numpy()))
                if progress is not None:
                    progress(rows["leads"], n_leads)
        finally:
            for writer in writers:
                writer.close()
    return {**rows, "rate": round(rows["positives"] / n_leads, 4),
            "true_rate": round(p_sum / n_leads, 4),
            "seconds": round(time.perf_counter() - started, 1)}
