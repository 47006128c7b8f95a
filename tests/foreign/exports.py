"""Foreign-shaped exports for tests: files shaped like what real CRMs and public data sets send.

Each function writes one export into a folder and returns an :class:`Export` that says where the
files are, how many rows they hold and which columns a test must watch (PII, leaky, ids). Nothing
here is vendor data: every value comes from ``numpy.random.default_rng(seed)``, so a seed always
gives the same bytes, and no network is used.

Shapes
------
* :func:`salesforce`: a Data Loader export of the Lead object (``Lead.csv``, every field quoted)
  and of Task + Event (``Task_Event.csv``), standard API field names.
* :func:`hubspot`: a contacts export with HubSpot's display labels (``contacts.csv``) and a
  timeline / engagements export (``engagements.csv``).
* :func:`marketo`: a lead list export with Marketo's display labels (``leads.csv``) and a Bulk
  Activity Extract (``activities.csv``, numeric ``activityTypeId``, JSON ``attributes``).
* :func:`bank_flat`: a bank-telemarketing flat file (``bank.csv``): ``;``-separated, latin-1, no
  id column, target ``y`` (yes/no) and the post-call ``duration`` leak.
* :func:`sessions_flat`: e-commerce sessions (``sessions.csv``) in time order without any date
  column, with drift from the first rows to the last.

The three CRM worlds share one latent model (:func:`_world`): a lead's *fit* (title seniority,
industry, company size, source, free-mail address) and its *intent* drive both its behaviour
(pricing and demo page visits, demo requests, email opens and clicks; bounces and unsubscribes
against) and its chance to be won. About 10 % of leads are won, ~85 % of the others are lost
eventually and the rest stay open, so 8-15 % of the decided leads are won. Conversions come
15-190 days after creation (after a 14-day as_of, inside a 180-day horizon); leads of the last
months are mostly still open. Every event is after its lead's creation (also once local times are
read as UTC) and not after :data:`EXPORT_DATE`.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: The moment every CRM export was taken (UTC): fixed, never "today".
EXPORT_DATE = pd.Timestamp("2026-03-31 18:00:00")
#: Leads are created over this many days (~30 months) before the export date.
SPAN_DAYS = 913
#: Share of all leads that are won (before censoring at the export date).
WIN_RATE = 0.10
#: Share of the not-won leads that are closed as lost (eventually); the rest stay open.
LOST_SHARE = 0.85
DAY = 86_400  # seconds


@dataclass(frozen=True)
class Export:
    """One foreign export on disk and what a test needs to know about it.

    ``n_won`` / ``n_lost`` / ``n_open`` are the leads the export itself calls won, lost and open
    (flat files: ``n_won`` positives, ``n_lost`` negatives). ``unmapped_types`` are activity type
    values the export contains on purpose that a preset is expected *not* to map (they are
    dropped or counted as other).
    """

    shape: str
    leads: Path
    activities: Path | None
    n_leads: int
    n_activities: int
    delimiter: str
    encoding: str
    id_column: str | None
    activity_id_column: str | None
    created_column: str | None
    outcome_column: str
    outcome_at_column: str | None
    occurred_column: str | None
    activity_type_column: str | None
    pii: tuple[str, ...]
    leaky: tuple[str, ...]
    n_won: int
    n_lost: int
    n_open: int
    won_values: tuple[str, ...]
    unmapped_types: tuple[str, ...] = ()
    export_date: pd.Timestamp | None = None
    preset: str | None = None


# --------------------------------------------------------------------------------------------
# The shared latent world of the three CRM exports
# --------------------------------------------------------------------------------------------

# key, share, effect on the win logit
_INDUSTRIES = (
    ("software", 0.16, 0.55), ("financial", 0.11, 0.35), ("insurance", 0.05, 0.2),
    ("healthcare", 0.10, 0.15), ("consulting", 0.08, 0.1), ("telecom", 0.05, 0.05),
    ("manufacturing", 0.13, 0.0), ("retail", 0.09, -0.2), ("government", 0.06, -0.35),
    ("education", 0.08, -0.6), ("nonprofit", 0.04, -0.8), ("other", 0.05, -0.3),
)
_SENIORITY = (
    ("c-level", 0.07, 0.45, ("CEO", "Chief Marketing Officer", "Co-Founder", "cto",
                             "Founder & CEO", "Chief Revenue Officer", "Owner")),
    ("vp", 0.08, 0.6, ("VP Sales", "Vice President, Operations", "SVP Marketing", "vp of mktg",
                       "VP Engineering")),
    ("director", 0.14, 0.5, ("Director of Marketing", "Head of Growth", "IT Director",
                             "Sales Director", "Dir. Operations", "Head of Procurement")),
    ("manager", 0.22, 0.2, ("Marketing Manager", "Sales Manager", "Team Lead", "Product Manager",
                            "Ops Mgr", "Plant Supervisor")),
    ("individual", 0.33, -0.2, ("Software Engineer", "Marketing Specialist", "Account Executive",
                                "Analyst", "Sr. Software Eng.", "Consultant", "Data Analyst",
                                "Buyer", "Accountant")),
    ("student", 0.06, -1.6, ("Student", "MBA Candidate", "Intern", "Marketing Intern")),
    ("unknown", 0.10, -0.45, (None, None, None, "n/a", "-")),
)
_COUNTRIES = (
    ("us", 0.38, 0.15), ("uk", 0.10, 0.1), ("de", 0.09, 0.05), ("fr", 0.06, 0.0),
    ("ca", 0.06, 0.1), ("in", 0.10, -0.35), ("br", 0.06, -0.2), ("au", 0.05, 0.05),
    ("nl", 0.05, 0.05), ("es", 0.05, -0.1),
)
_SOURCES = (
    ("web", 0.30, 0.0), ("referral", 0.08, 0.55), ("partner", 0.07, 0.35),
    ("paid_search", 0.15, -0.1), ("paid_social", 0.10, -0.3), ("list", 0.08, -0.9),
    ("tradeshow", 0.07, 0.1), ("webinar", 0.10, 0.2), ("other", 0.05, -0.2),
)
# pages of the company web site: key -> path (web visits name them in the detail column)
_PAGES = {
    "home": "/", "blog": "/blog/{slug}", "product": "/product", "features": "/product/features",
    "about": "/about-us", "integrations": "/integrations", "docs": "/docs/getting-started",
    "careers": "/careers", "pricing": "/pricing", "demo": "/demo",
    "case_study": "/customers/case-studies/{slug}",
}
_GENERIC_PAGES = (("home", 0.25), ("blog", 0.30), ("product", 0.15), ("features", 0.10),
                  ("about", 0.08), ("integrations", 0.07), ("docs", 0.05))
_SLUGS = ("northwind", "pipeline-hygiene", "scoring-101", "acme-rollout", "q3-benchmarks",
          "revops-guide", "data-quality", "globex")
_FIRST = ("Anna", "Ben", "Carla", "David", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas",
          "Kofi", "Lena", "Marco", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
          "Umar", "Vera", "Wei", "Yusuf", "Zoe", "José", "Zoë", "Ólafur")
_LAST = ("Smith", "Müller", "Garcia", "Rossi", "Dubois", "Kowalski", "Nguyen", "Patel", "Silva",
         "Jansen", "Okafor", "Tanaka", "Johansson", "Novak", "Kaya", "Murphy", "Costa", "Cohen",
         "O'Brien", "Schmidt", "Lopez", "Wang")
_COMPANY_A = ("North", "Blue", "Iron", "Silver", "Bright", "Cedar", "Delta", "Summit", "Harbor",
              "Pine", "Quartz", "Red", "Solar", "Atlas", "Nova", "Vertex")
_COMPANY_B = ("wind", "fin", "gate", "line", "works", "field", "stone", "bridge", "point", "leaf")
_COMPANY_C = ("Analytics", "Logistics", "Health", "Bank", "Systems", "Foods", "Retail", "Labs",
              "Partners", "Manufacturing", "Insurance", "Group")
_FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de", "icloud.com")


@dataclass
class _World:
    """Leads (one row each, arrays) and their events, in canonical terms."""

    n: int
    created: np.ndarray  # int64 seconds since the epoch, UTC
    industry: np.ndarray  # codes into _INDUSTRIES
    seniority: np.ndarray  # codes into _SENIORITY
    title: np.ndarray  # object: free text or None
    employees: np.ndarray  # float, NaN blank
    revenue: np.ndarray  # float, NaN blank
    country: np.ndarray
    source: np.ndarray
    free_mail: np.ndarray
    first: np.ndarray
    last: np.ndarray
    company: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    mobile: np.ndarray
    street: np.ndarray
    intent: np.ndarray
    fit: np.ndarray
    outcome: np.ndarray  # 'won' / 'lost' / 'open' as of the export date
    decided_at: np.ndarray  # int64 seconds, -1 when open
    events: pd.DataFrame  # lead, at (seconds), kind (canonical), page, asset


def _ascii(text: str) -> str:
    """An email local part from a name: accents folded, apostrophes dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return folded.replace("'", "")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, table: tuple, n: int) -> np.ndarray:
    p = np.asarray([row[1] for row in table], dtype=float)
    return rng.choice(len(table), size=n, p=p / p.sum())


def _effect(table: tuple, codes: np.ndarray) -> np.ndarray:
    return np.asarray([row[2] for row in table], dtype=float)[codes]


def _intercept(logit: np.ndarray, target: float) -> float:
    """The intercept that makes the mean win probability ``target`` (bisection, deterministic)."""
    lo, hi = -12.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(logit + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _messy(rng: np.random.Generator, values: np.ndarray, rate: float = 0.04) -> np.ndarray:
    """Some values upper-cased, lower-cased or with a trailing space (legal, as exports are)."""
    out = values.astype(object).copy()
    r = rng.random(len(out))
    for i in np.flatnonzero(r < 3 * rate):
        if not isinstance(out[i], str):
            continue
        if r[i] < rate:
            out[i] = out[i].upper()
        elif r[i] < 2 * rate:
            out[i] = out[i].lower()
        else:
            out[i] = out[i] + " "
    return out


def _mixture_delays(rng: np.random.Generator, size: int, early_days: float, share_early: float,
                    late_days: float = 240.0) -> np.ndarray:
    """Delays in days after creation: most soon after (exponential), the rest spread out."""
    early = rng.random(size) < share_early
    return np.where(early, rng.exponential(early_days, size), rng.uniform(0.0, late_days, size))


def _world(rng: np.random.Generator, n: int) -> _World:
    end = int(EXPORT_DATE.timestamp())
    created = end - (rng.uniform(2.0, SPAN_DAYS, n) * DAY).astype(np.int64)
    created = np.sort(created)  # ids are handed out in creation order
    industry = _pick(rng, _INDUSTRIES, n)
    seniority = _pick(rng, _SENIORITY, n)
    titles = [row[3] for row in _SENIORITY]
    title = np.asarray([titles[s][rng.integers(len(titles[s]))] for s in seniority],
                       dtype=object)
    country = _pick(rng, _COUNTRIES, n)
    source = _pick(rng, _SOURCES, n)
    free_mail = rng.random(n) < np.where(seniority == 5, 0.7, 0.15)

    log_emp = rng.normal(2.3 + 0.3 * (industry <= 2) - 0.4 * (industry >= 9), 0.9)
    employees = np.clip(np.round(10 ** log_emp), 1, 250_000)
    size_effect = np.select(
        [employees <= 10, employees <= 50, employees <= 1000, employees <= 5000],
        [-0.5, -0.1, 0.3, 0.4], 0.0)
    revenue = np.round(employees * 10 ** rng.normal(5.2, 0.35, n), -3)
    fit = (_effect(_INDUSTRIES, industry) + _effect(_SENIORITY, seniority) + size_effect
           + _effect(_COUNTRIES, country) + _effect(_SOURCES, source) - 0.5 * free_mail)
    employees = np.where(rng.random(n) < 0.12, np.nan, employees)
    revenue = np.where(rng.random(n) < 0.3, np.nan, revenue)

    intent = rng.normal(0.0, 1.0, n)
    bounced = rng.random(n) < 0.04 + 0.06 * free_mail + 0.08 * (source == 5)
    unsubscribed = rng.random(n) < _sigmoid(-2.8 - 0.7 * intent)
    logit = 1.3 * fit + 1.5 * intent - 1.6 * bounced - 0.9 * unsubscribed
    p_win = _sigmoid(logit + _intercept(logit, WIN_RATE))
    won = rng.random(n) < p_win
    lost = ~won & (rng.random(n) < LOST_SHARE)
    win_delay = np.minimum(15.0 + rng.gamma(2.0, 28.0, n), 185.0)
    lost_delay = 20.0 + rng.gamma(2.0, 55.0, n)
    decided_at = created + (np.where(won, win_delay, lost_delay) * DAY).astype(np.int64)
    decided = (won | lost) & (decided_at <= end)
    outcome = np.where(decided & won, "won", np.where(decided, "lost", "open")).astype(object)
    decided_at = np.where(decided, decided_at, -1)

    first = np.asarray(_FIRST, dtype=object)[rng.integers(len(_FIRST), size=n)]
    last = np.asarray(_LAST, dtype=object)[rng.integers(len(_LAST), size=n)]
    company = np.asarray([
        f"{_COMPANY_A[a]}{_COMPANY_B[b]} {_COMPANY_C[c]}" for a, b, c in zip(
            rng.integers(len(_COMPANY_A), size=n), rng.integers(len(_COMPANY_B), size=n),
            rng.integers(len(_COMPANY_C), size=n), strict=True)], dtype=object)
    local = np.asarray([_ascii(f"{f}.{la}".lower()) for f, la in zip(first, last, strict=True)],
                       dtype=object)
    domain = np.where(
        free_mail, np.asarray(_FREE_MAIL, dtype=object)[rng.integers(len(_FREE_MAIL), size=n)],
        np.asarray([c.split()[0].lower() + ".example" for c in company], dtype=object))
    digits = rng.integers(1, 9999, n)
    email = np.asarray([f"{lo}{d if fm else ''}@{do}" for lo, d, fm, do in zip(
        local, digits, free_mail, domain, strict=True)], dtype=object)
    email = _messy(rng, email, 0.01)
    phone = np.asarray([f"+1 555 01{d % 100:02d} {d:04d}" for d in rng.integers(0, 9999, n)],
                       dtype=object)
    phone[rng.random(n) < 0.25] = None
    mobile = np.asarray([f"+1 555 02{d % 100:02d} {d:04d}" for d in rng.integers(0, 9999, n)],
                        dtype=object)
    mobile[rng.random(n) < 0.6] = None
    street = np.asarray([f"{k} Example Street" for k in rng.integers(1, 400, n)], dtype=object)
    street[rng.random(n) < 0.3] = None

    events = _events(rng, n, created, intent, fit, seniority, bounced, unsubscribed, end)
    return _World(n, created, industry, seniority, _messy(rng, title), employees, revenue,
                  country, source, free_mail, first, last, company, email, phone, mobile, street,
                  intent, fit, outcome, decided_at, events)


def _events(rng: np.random.Generator, n: int, created: np.ndarray, intent: np.ndarray,
            fit: np.ndarray, seniority: np.ndarray, bounced: np.ndarray,
            unsubscribed: np.ndarray, end: int) -> pd.DataFrame:
    """Canonical events: lead position, time (s), kind, page (web visits) and asset number."""
    leads, delays, kinds, pages = [], [], [], []

    def add(lam: np.ndarray, kind: str, early_days: float, share_early: float,
            page: str | None = None) -> None:
        counts = rng.poisson(lam)
        idx = np.repeat(np.arange(n), counts)
        leads.append(idx)
        delays.append(_mixture_delays(rng, idx.size, early_days, share_early))
        kinds.append(np.full(idx.size, kind, dtype=object))
        pages.append(np.full(idx.size, page, dtype=object))

    # the form fill that created an inbound lead, minutes after; later form fills
    inbound = np.flatnonzero(rng.random(n) < 0.55)
    leads.append(inbound)
    delays.append(rng.uniform(1 / 1440, 30 / 1440, inbound.size))
    kinds.append(np.full(inbound.size, "form_submit", dtype=object))
    pages.append(np.full(inbound.size, None, dtype=object))
    add(0.4 * np.exp(0.5 * intent), "form_submit", 8.0, 0.6)
    # web visits: generic pages weakly, high-value pages strongly tied to intent
    generic = rng.poisson(2.5 * np.exp(0.35 * intent))
    idx = np.repeat(np.arange(n), generic)
    leads.append(idx)
    delays.append(_mixture_delays(rng, idx.size, 5.0, 0.65))
    kinds.append(np.full(idx.size, "web_visit", dtype=object))
    names = np.asarray([p for p, _ in _GENERIC_PAGES], dtype=object)
    share = np.asarray([s for _, s in _GENERIC_PAGES])
    pages.append(names[rng.choice(len(names), size=idx.size, p=share / share.sum())])
    add(0.15 + 0.9 * (seniority == 5) + 0.2 * (seniority == 4), "web_visit", 6.0, 0.6, "careers")
    add(0.3 * np.exp(1.0 * intent + 0.25 * fit), "web_visit", 6.0, 0.75, "pricing")
    add(0.1 * np.exp(1.2 * intent), "web_visit", 6.0, 0.75, "demo")
    add(0.22 * np.exp(0.7 * intent), "web_visit", 6.0, 0.7, "case_study")
    add(0.35 * np.exp(0.6 * intent), "content_download", 7.0, 0.6)
    add(0.06 * np.ones(n), "offline_event", 30.0, 0.3)
    demo_lam = 0.08 * np.exp(1.3 * intent + 0.3 * fit)
    demo = rng.poisson(demo_lam)
    idx = np.repeat(np.arange(n), demo)
    leads.append(idx)
    delays.append(_mixture_delays(rng, idx.size, 7.0, 0.8))
    kinds.append(np.full(idx.size, "demo_request", dtype=object))
    pages.append(np.full(idx.size, None, dtype=object))
    add(0.5 * np.exp(0.6 * fit) + 1.0 * demo, "sales_call", 10.0, 0.7)
    # webinars: registration, then attendance days later
    reg = rng.poisson(0.25 * np.exp(0.5 * intent))
    idx = np.repeat(np.arange(n), reg)
    reg_delay = _mixture_delays(rng, idx.size, 10.0, 0.5)
    attended = rng.random(idx.size) < _sigmoid(0.2 + 0.8 * intent[idx])
    leads += [idx, idx[attended]]
    delays += [reg_delay, reg_delay[attended] + rng.uniform(2.0, 14.0, attended.sum())]
    kinds += [np.full(idx.size, "webinar_registered", dtype=object),
              np.full(attended.sum(), "webinar_attended", dtype=object)]
    pages += [np.full(idx.size, None, dtype=object), np.full(attended.sum(), None, dtype=object)]

    # email: a welcome mail, then a nurture stream; bounced addresses get one mail and bounce;
    # an unsubscribe ends the stream; opens and clicks follow sent mail
    sent = rng.poisson(5.0, n) + 1
    idx = np.repeat(np.arange(n), sent)
    first = np.r_[True, idx[1:] != idx[:-1]]
    sent_delay = np.where(first, rng.uniform(0.05, 1.0, idx.size),
                          rng.uniform(1.0, 300.0, idx.size))
    stop = np.where(unsubscribed, rng.exponential(25.0, n) + 1.0, np.inf)
    keep = (~bounced[idx] | first) & (sent_delay < stop[idx])
    idx, sent_delay = idx[keep], sent_delay[keep]
    leads.append(idx)
    delays.append(sent_delay)
    kinds.append(np.full(idx.size, "email_sent", dtype=object))
    pages.append(np.full(idx.size, None, dtype=object))
    b = bounced[idx]
    leads.append(idx[b])
    delays.append(sent_delay[b] + rng.uniform(2 / 1440, 30 / 1440, b.sum()))
    kinds.append(np.full(b.sum(), "email_bounce", dtype=object))
    pages.append(np.full(b.sum(), None, dtype=object))
    live = ~b
    opened = live & (rng.random(idx.size) < _sigmoid(-0.9 + 0.9 * intent[idx]))
    open_delay = sent_delay[opened] + rng.exponential(0.6, opened.sum()) + 0.003
    clicked = rng.random(opened.sum()) < _sigmoid(-1.4 + 1.0 * intent[idx[opened]])
    leads += [idx[opened], idx[opened][clicked]]
    delays += [open_delay, open_delay[clicked] + rng.uniform(5 / 86400, 20 / 1440, clicked.sum())]
    kinds += [np.full(opened.sum(), "email_open", dtype=object),
              np.full(clicked.sum(), "email_click", dtype=object)]
    pages += [np.full(opened.sum(), None, dtype=object),
              np.full(clicked.sum(), None, dtype=object)]
    # the unsubscribe: hours after the last mail the lead still received
    last_sent = pd.Series(sent_delay).groupby(idx).max()
    unsub = np.flatnonzero(unsubscribed & ~bounced)
    unsub = unsub[np.isin(unsub, last_sent.index)]
    leads.append(unsub)
    delays.append(last_sent.loc[unsub].to_numpy() + rng.uniform(0.01, 2.0, unsub.size))
    kinds.append(np.full(unsub.size, "email_unsubscribe", dtype=object))
    pages.append(np.full(unsub.size, None, dtype=object))

    lead = np.concatenate(leads).astype(np.int64)
    delay_s = np.maximum((np.concatenate(delays) * DAY).astype(np.int64), 60)
    at = created[lead] + delay_s
    frame = pd.DataFrame({"lead": lead, "at": at, "kind": np.concatenate(kinds),
                          "page": np.concatenate(pages)})
    frame = frame[frame["at"] <= end - 60]
    frame = frame.sort_values(["at", "lead", "kind"], kind="mergesort", ignore_index=True)
    frame["asset"] = rng.integers(0, 1_000_000, len(frame))
    return frame


def _page_path(page: str, asset: int) -> str:
    return _PAGES[page].format(slug=_SLUGS[asset % len(_SLUGS)])


def _utc(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit="s"))


def _local(seconds: np.ndarray, zone: str) -> pd.DatetimeIndex:
    """Wall-clock time in ``zone`` without its offset (what a UI export writes)."""
    return _utc(seconds).tz_localize("UTC").tz_convert(zone).tz_localize(None)


def _blank_nan(values: np.ndarray, fmt: str = "{:.0f}") -> np.ndarray:
    return np.asarray([None if np.isnan(v) else fmt.format(v) for v in values], dtype=object)


def _write(frame: pd.DataFrame, path: Path, sep: str = ",", encoding: str = "utf-8",
           quoting: int = csv.QUOTE_MINIMAL) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, sep=sep, encoding=encoding, quoting=quoting,
                 lineterminator="\n")


def _counts(outcome: np.ndarray) -> dict[str, int]:
    return {k: int((outcome == k).sum()) for k in ("won", "lost", "open")}


# --------------------------------------------------------------------------------------------
# Salesforce
# --------------------------------------------------------------------------------------------

_SF_INDUSTRY = {
    "software": "Technology", "financial": "Finance", "insurance": "Insurance",
    "healthcare": "Healthcare", "consulting": "Consulting", "telecom": "Telecommunications",
    "manufacturing": "Manufacturing", "retail": "Retail", "government": "Government",
    "education": "Education", "nonprofit": "Not For Profit", "other": "Other",
}
_SF_COUNTRY = {
    "us": ("United States", "USA", "US"), "uk": ("United Kingdom", "UK"), "de": ("Germany",),
    "fr": ("France",), "ca": ("Canada",), "in": ("India",), "br": ("Brazil",),
    "au": ("Australia",), "nl": ("Netherlands",), "es": ("Spain",),
}
_SF_SOURCE = {
    "web": "Web", "referral": "Employee Referral", "partner": "Partner Referral",
    "paid_search": "Advertisement", "paid_social": "Advertisement", "list": "Purchased List",
    "tradeshow": "Trade Show", "webinar": "Webinar", "other": "Other",
}
# canonical kind -> (Type, TaskSubtype or None for an Event, Subject templates)
_SF_TYPES = {
    "sales_call": ("Call", "Call", ("Call", "Discovery call", "Left voicemail", "Follow-up call")),
    "email_sent": ("Email", "Email", ("Email: Following up", "List Email: Product newsletter",
                                      "Email: Intro")),
    "demo_request": ("Demo", None, ("Product demo", "Demo - technical deep dive")),
    "webinar_registered": ("Webinar Registration", "Task", ("Registered: Scoring webinar",)),
    "webinar_attended": ("Webinar", None, ("Attended webinar: Scoring that sales trusts",)),
    "web_visit": ("Web Visit", "Task", ("Visited page: {path}",)),
    "email_click": ("Email Clicked", "Task", ("Clicked link in email: Product newsletter",)),
    "email_bounce": ("Email Bounced", "Task", ("Email bounced: Welcome",)),
    "email_unsubscribe": ("Unsubscribed", "Task", ("Unsubscribed from all email",)),
    "form_submit": ("Form Fill", "Task", ("Filled out form: Contact us",
                                          "Filled out form: Request a demo")),
    "offline_event": ("Trade Show", None, ("Met at booth: SaaS Expo",)),
}


def _sf_id(prefix: str, numbers: np.ndarray, salt: int) -> np.ndarray:
    """18-character Salesforce-looking ids (unique for unique numbers below 62**9 - salt)."""
    alphabet = np.asarray(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    value = np.asarray(numbers, dtype=np.int64) + salt
    digits = []
    for _ in range(9):
        value, rest = np.divmod(value, 62)
        digits.append(rest)
    body = np.ascontiguousarray(alphabet[np.stack(digits[::-1], axis=1)]).view("<U9").ravel()
    check = alphabet[(np.asarray(numbers, dtype=np.int64) * 7 + salt) % 26 + 10]
    return (prefix + "5g0" + body.astype(object) + (check.astype(object) * 3)).astype(object)


def _sf_datetime(rng: np.random.Generator, seconds: np.ndarray) -> np.ndarray:
    """ISO 8601 as Salesforce writes it, offsets mixed: ``Z``, ``+0000`` or ``-0500``."""
    utc = _utc(seconds)
    z = utc.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_numpy(dtype=object)
    plus = utc.strftime("%Y-%m-%dT%H:%M:%S.000+0000").to_numpy(dtype=object)
    minus = (utc - pd.Timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.000-0500")
    pick = rng.random(len(seconds))
    return np.where(pick < 0.5, z, np.where(pick < 0.8, plus, minus.to_numpy(dtype=object)))


def _date_after(seconds: np.ndarray, created: np.ndarray) -> np.ndarray:
    """UTC calendar day of ``seconds``, moved to the day after creation if not later than it.

    Salesforce's ``ActivityDate`` and ``ConvertedDate`` are dates, read as midnight: an event of
    the creation day would look earlier than the lead.
    """
    day = seconds // DAY * DAY
    return np.where(day <= created, created // DAY * DAY + DAY, day)


def salesforce(folder: str | Path, n_leads: int = 4000, seed: int = 7) -> Export:
    """A Salesforce Data Loader export: ``Lead.csv`` and ``Task_Event.csv``."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    w = _world(rng, n_leads)
    n = w.n
    ids = _sf_id("00Q", np.arange(n), salt=int(rng.integers(10**9, 10**10)))
    end = int(EXPORT_DATE.timestamp())
    ev = w.events[w.events["kind"] != "email_open"]  # a CRM logs no opens
    ev = ev[ev["kind"] != "content_download"].reset_index(drop=True)
    day = _date_after(ev["at"].to_numpy(), w.created[ev["lead"].to_numpy()])
    ev = ev[day <= end].reset_index(drop=True)
    day = day[day <= end]

    kinds = ev["kind"].to_numpy()
    asset = ev["asset"].to_numpy()
    types = np.asarray([_SF_TYPES[k][0] for k in kinds], dtype=object)
    subtype = np.asarray([_SF_TYPES[k][1] for k in kinds], dtype=object)
    subject = np.asarray([
        _SF_TYPES[k][2][a % len(_SF_TYPES[k][2])].format(
            path=_page_path(p, a) if isinstance(p, str) else "")
        for k, a, p in zip(kinds, asset, ev["page"].to_numpy(), strict=True)], dtype=object)
    # a quarter of the calls are calendar Events of type Meeting; some tasks are "Other"
    meeting = (kinds == "sales_call") & (asset % 4 == 0)
    types[meeting], subtype[meeting], subject[meeting] = "Meeting", None, "Intro meeting"
    other = (kinds == "email_sent") & (asset % 23 == 0)
    types[other], subtype[other], subject[other] = "Other", "Task", "Update CRM record"
    subtype[(kinds == "email_sent") & (asset % 3 == 0) & ~other] = "ListEmail"
    types = _messy(rng, types, 0.02)  # "CALL", "email", "Call "
    is_event = np.asarray([s is None for s in subtype])
    act_ids = np.where(is_event, _sf_id("00U", np.arange(len(ev)), 77),
                       _sf_id("00T", np.arange(len(ev)), 91))
    owners = _sf_id("005", np.arange(12), 5)
    lead_owner = owners[rng.integers(12, size=n)]
    tasks = pd.DataFrame({
        "Id": act_ids,
        "WhoId": ids[ev["lead"].to_numpy()],
        "ActivityDate": _utc(day).strftime("%Y-%m-%d"),
        "Type": types,
        "TaskSubtype": subtype,
        "Subject": subject,
        "Status": np.where(is_event, None, "Completed"),
        "OwnerId": lead_owner[ev["lead"].to_numpy()],
    })

    called = np.zeros(n, dtype=bool)
    called[ev.loc[kinds == "sales_call", "lead"].to_numpy()] = True
    status = np.where(w.outcome == "won", "Closed - Converted",
                      np.where(w.outcome == "lost", "Closed - Not Converted",
                               np.where(called, "Working - Contacted", "Open - Not Contacted")))
    won = w.outcome == "won"
    converted_day = _date_after(w.decided_at, w.created)
    last_day = pd.Series(day).groupby(ev["lead"].to_numpy()).max().reindex(range(n))
    rating = np.where(won, np.where(rng.random(n) < 0.7, "Hot", "Warm"),
                      np.where(w.outcome == "lost",
                               np.where(rng.random(n) < 0.7, "Cold", "Warm"), None)).astype(object)
    rating[(w.outcome == "open") & (rng.random(n) < 0.4)] = "Warm"
    rating[rng.random(n) < 0.15] = None
    opted_out = np.zeros(n, dtype=bool)
    opted_out[ev.loc[kinds == "email_unsubscribe", "lead"].to_numpy()] = True
    bounce_at = ev[kinds == "email_bounce"].groupby("lead")["at"].min().reindex(range(n))
    modified = np.maximum(np.where(w.decided_at > 0, w.decided_at, w.created),
                          np.nan_to_num(last_day.to_numpy(), nan=0).astype(np.int64))
    modified = np.minimum(modified + rng.integers(0, 5 * DAY, n), end)
    countries = [_SF_COUNTRY[_COUNTRIES[c][0]] for c in w.country]
    industry = np.asarray([_SF_INDUSTRY[_INDUSTRIES[i][0]] for i in w.industry], dtype=object)
    industry[rng.random(n) < 0.1] = None
    lead = pd.DataFrame({
        "Id": ids,
        "FirstName": w.first,
        "LastName": w.last,
        "Company": w.company,
        "Title": w.title,
        "Street": w.street,
        "Country": [c[k % len(c)] for c, k in zip(countries, rng.integers(0, 6, n), strict=True)],
        "Phone": w.phone,
        "MobilePhone": w.mobile,
        "Email": w.email,
        "LeadSource": [_SF_SOURCE[_SOURCES[s][0]] for s in w.source],
        "Status": _messy(rng, status, 0.02),
        "Industry": _messy(rng, industry, 0.02),
        "Rating": rating,
        "AnnualRevenue": _blank_nan(w.revenue),
        "NumberOfEmployees": _blank_nan(w.employees),
        "OwnerId": lead_owner,
        "HasOptedOutOfEmail": np.where(opted_out, "true", "false"),
        "EmailBouncedDate": np.where(bounce_at.notna(), _sf_datetime(
            rng, np.nan_to_num(bounce_at.to_numpy(), nan=0).astype(np.int64)), None),
        "IsConverted": np.where(won, "true", "false"),
        "ConvertedDate": np.where(won, _utc(converted_day).strftime("%Y-%m-%d"), None),
        "ConvertedAccountId": np.where(won, _sf_id("001", np.arange(n), 3), None),
        "ConvertedContactId": np.where(won, _sf_id("003", np.arange(n), 4), None),
        "ConvertedOpportunityId": np.where(won & (rng.random(n) < 0.9),
                                           _sf_id("006", np.arange(n), 6), None),
        "CreatedDate": _sf_datetime(rng, w.created),
        "LastModifiedDate": _sf_datetime(rng, modified),
        "LastActivityDate": np.where(last_day.notna(), _utc(np.nan_to_num(
            last_day.to_numpy(), nan=0).astype(np.int64)).strftime("%Y-%m-%d"), None),
    })
    _write(lead, folder / "Lead.csv", quoting=csv.QUOTE_ALL)
    _write(tasks, folder / "Task_Event.csv", quoting=csv.QUOTE_ALL)
    c = _counts(w.outcome)
    return Export(
        shape="salesforce", leads=folder / "Lead.csv", activities=folder / "Task_Event.csv",
        n_leads=n, n_activities=len(tasks), delimiter=",", encoding="utf-8",
        id_column="Id", activity_id_column="WhoId", created_column="CreatedDate",
        outcome_column="Status", outcome_at_column="ConvertedDate",
        occurred_column="ActivityDate", activity_type_column="Type",
        pii=("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Street"),
        leaky=("IsConverted", "ConvertedDate", "ConvertedAccountId", "ConvertedContactId",
               "ConvertedOpportunityId", "Rating", "LastActivityDate", "LastModifiedDate",
               "HasOptedOutOfEmail", "EmailBouncedDate"),
        n_won=c["won"], n_lost=c["lost"], n_open=c["open"], won_values=("Closed - Converted",),
        unmapped_types=("Other",), export_date=EXPORT_DATE, preset="salesforce")


# --------------------------------------------------------------------------------------------
# HubSpot
# --------------------------------------------------------------------------------------------

_HS_ZONE = "America/New_York"  # the portal's time zone: UI exports write its wall clock
_HS_INDUSTRY = {
    "software": "Computer Software", "financial": "Financial Services", "insurance": "Insurance",
    "healthcare": "Hospital & Health Care", "consulting": "Management Consulting",
    "telecom": "Telecommunications", "manufacturing": "Machinery", "retail": "Retail",
    "government": "Government Administration", "education": "Education Management",
    "nonprofit": "Non-Profit Organization Management", "other": None,
}
_HS_COUNTRY = {
    "us": "United States", "uk": "United Kingdom", "de": "Germany", "fr": "France",
    "ca": "Canada", "in": "India", "br": "Brazil", "au": "Australia", "nl": "Netherlands",
    "es": "Spain",
}
_HS_SOURCE = {
    "web": "Organic Search", "referral": "Referrals", "partner": "Referrals",
    "paid_search": "Paid Search", "paid_social": "Paid Social", "list": "Offline Sources",
    "tradeshow": "Offline Sources", "webinar": "Email Marketing", "other": "Direct Traffic",
}
_HS_TYPES = {
    "web_visit": "Page View", "form_submit": "Form Submission",
    "content_download": "Form Submission", "demo_request": "Form Submission",
    "email_sent": "Marketing Email Sent", "email_open": "Marketing Email Opened",
    "email_click": "Marketing Email Clicked", "email_bounce": "Marketing Email Bounced",
    "email_unsubscribe": "Unsubscribed", "sales_call": "CALL",
    "webinar_registered": "Webinar Registration", "webinar_attended": "Webinar Attendance",
}
_HS_FORMS = {"form_submit": ("Contact us", "Newsletter signup"),
             "content_download": ("Ebook: State of RevOps 2025", "Checklist: Lead hygiene"),
             "demo_request": ("Request a demo",)}
_HS_EMAILS = ("Welcome", "Product newsletter", "Webinar invite", "Case study digest")


def _hs_band(employees: np.ndarray) -> np.ndarray:
    """HubSpot's contact "Number of Employees" is a dropdown of ranges, not a number."""
    edges = (5, 25, 50, 100, 500, 1000)
    labels = np.asarray(["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"],
                        dtype=object)
    band = labels[np.searchsorted(edges, np.nan_to_num(employees, nan=1.0), side="left")]
    return np.where(np.isnan(employees), None, band)


def _hs_stage_seconds(rng: np.random.Generator, w: _World, stage: np.ndarray, end: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """MQL and SQL seconds (-1: never) of contacts not won, from their current stage: open
    contacts at MQL or later got there, and some lost ones did before they were lost. Drawn from
    a stream of their own, so the export's other columns keep their bytes."""
    n = w.n
    mql_at = w.created + (rng.exponential(8.0, n) * DAY).astype(np.int64)
    sql_at = mql_at + (rng.exponential(10.0, n) * DAY).astype(np.int64)
    lost = w.outcome == "lost"
    at_mql = np.isin(stage, ["marketingqualifiedlead", "salesqualifiedlead", "opportunity"])
    at_sql = np.isin(stage, ["salesqualifiedlead", "opportunity"])
    mql = (at_mql | lost & (rng.random(n) < 0.35)) & (mql_at <= end)
    sql = (at_sql | lost & mql & (rng.random(n) < 0.3)) & mql & (sql_at <= end)
    mql &= ~lost | (mql_at < w.decided_at)
    sql &= ~lost | (sql_at < w.decided_at)
    return np.where(mql, mql_at, -1), np.where(sql, sql_at, -1)


def _hs_before_opportunity(reached: tuple[np.ndarray, np.ndarray], won: np.ndarray,
                           opportunity_s: np.ndarray, created: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Won contacts passed MQL and SQL between creation and their opportunity (a third and two
    thirds of the way); the others keep their drawn dates."""
    span = np.maximum(opportunity_s - created, 0)
    mql = np.where(won, created + span // 3, reached[0])
    sql = np.where(won, created + 2 * span // 3, reached[1])
    return mql, sql


def _hs_dates(seconds: np.ndarray) -> np.ndarray:
    """The portal's wall clock of each second, None where -1 (never)."""
    text = _local(np.maximum(seconds, 0), _HS_ZONE).strftime("%Y-%m-%d %H:%M")
    return np.where(seconds >= 0, text, None)


def hubspot(folder: str | Path, n_leads: int = 4000, seed: int = 11) -> Export:
    """A HubSpot contacts export (display labels) and a timeline engagements export."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    w = _world(rng, n_leads)
    n = w.n
    ids = 51_000_000 + np.cumsum(rng.integers(1, 400, n))
    ev = w.events[w.events["kind"] != "offline_event"].reset_index(drop=True)
    kinds = ev["kind"].to_numpy()
    asset = ev["asset"].to_numpy()
    types = np.asarray([_HS_TYPES[k] for k in kinds], dtype=object)
    meeting = (kinds == "sales_call") & (asset % 3 == 0)
    types[meeting] = "MEETING"
    one_to_one = (kinds == "email_sent") & (asset % 7 == 0)  # a sales rep's own email
    types[one_to_one] = "EMAIL"
    details = np.empty(len(ev), dtype=object)
    for i, (k, a, p) in enumerate(zip(kinds, asset, ev["page"].to_numpy(), strict=True)):
        if k == "web_visit":
            query = "?utm_source=google&utm_medium=cpc" if a % 5 == 0 else ""
            details[i] = f"https://www.example.com{_page_path(p, a)}{query}"
        elif k in _HS_FORMS:
            details[i] = _HS_FORMS[k][a % len(_HS_FORMS[k])]
        elif k.startswith("email") and types[i] != "EMAIL":
            details[i] = _HS_EMAILS[a % len(_HS_EMAILS)]
        elif k.startswith("webinar"):
            details[i] = "Scoring that sales trusts"
    timeline = pd.DataFrame({"Contact ID": ids[ev["lead"].to_numpy()], "at": ev["at"],
                             "Event Type": types, "Details": details})
    # extra rows a timeline export holds that no preset maps: deliveries, notes, tasks
    sent = timeline[timeline["Event Type"] == "Marketing Email Sent"]
    delivered = sent[rng.random(len(sent)) < 0.5].assign(
        at=lambda f: f["at"] + 30, **{"Event Type": "Marketing Email Delivered"})
    rep = ev[kinds == "sales_call"]
    notes = pd.DataFrame({"Contact ID": ids[rep["lead"].to_numpy()], "at": rep["at"] + 900,
                          "Event Type": np.where(rep["asset"].to_numpy() % 2 == 0, "NOTE",
                                                 "TASK"),
                          "Details": None})
    end = int(EXPORT_DATE.timestamp())
    timeline = pd.concat([timeline, delivered, notes], ignore_index=True)
    timeline = timeline[timeline["at"] <= end].sort_values(
        ["at", "Contact ID", "Event Type"], kind="mergesort", ignore_index=True)
    timeline.insert(1, "Timestamp", _utc(timeline.pop("at").to_numpy()).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"))
    timeline["Event Type"] = _messy(rng, timeline["Event Type"].to_numpy(), 0.01)

    seen = {k: np.zeros(n, dtype=bool) for k in ("form_submit", "pricing", "sales_call")}
    for k in ("form_submit", "sales_call"):
        seen[k][ev.loc[kinds == k, "lead"].to_numpy()] = True
    seen["pricing"][ev.loc[ev["page"].isin(["pricing", "demo"]), "lead"].to_numpy()] = True
    stage = np.select(
        [w.outcome == "won", w.outcome == "lost", seen["sales_call"], seen["pricing"],
         seen["form_submit"]],
        [np.where(rng.random(n) < 0.08, "evangelist", "customer"), "other",
         np.where(rng.random(n) < 0.3, "opportunity", "salesqualifiedlead"),
         "marketingqualifiedlead", "lead"], "subscriber").astype(object)
    reached = _hs_stage_seconds(np.random.default_rng([seed, 23]), w, stage, end)
    stage = _messy(rng, stage, 0.03)  # "Customer", "OTHER", "lead "
    lead_status = np.select(
        [np.isin(np.char.strip(np.char.lower(stage.astype(str))), ["customer", "evangelist"]),
         w.outcome == "lost", seen["sales_call"]],
        [np.where(rng.random(n) < 0.6, "OPEN_DEAL", None),
         np.where(rng.random(n) < 0.7, "UNQUALIFIED", "BAD_TIMING"),
         np.where(rng.random(n) < 0.5, "CONNECTED", "IN_PROGRESS")],
        np.where(rng.random(n) < 0.5, "NEW", "ATTEMPTED_TO_CONTACT")).astype(object)
    won = w.outcome == "won"
    n_events = np.bincount(ev["lead"].to_numpy(), minlength=n)
    score = np.clip(np.round(15 + 6 * np.sqrt(n_events) + 30 * won + rng.normal(0, 8, n)), 0, 100)
    customer_at = _local(np.where(won, w.decided_at, 0), _HS_ZONE)
    opportunity_s = w.decided_at - rng.integers(3, 12, n) * DAY
    opportunity_at = _local(np.where(won, opportunity_s, 0), _HS_ZONE)
    industry = np.asarray([_HS_INDUSTRY[_INDUSTRIES[i][0]] for i in w.industry], dtype=object)
    contacts = pd.DataFrame({
        "Record ID": ids,
        "First Name": w.first,
        "Last Name": w.last,
        "Email": w.email,
        "Phone Number": w.phone,
        "Mobile Phone Number": w.mobile,
        "Street Address": w.street,
        "Company Name": w.company,
        "Job Title": w.title,
        "Industry": industry,
        "Country/Region": [_HS_COUNTRY[_COUNTRIES[c][0]] for c in w.country],
        "Number of Employees": _hs_band(w.employees),
        "Annual Revenue": _blank_nan(w.revenue),
        "Original Source": [_HS_SOURCE[_SOURCES[s][0]] for s in w.source],
        "Create Date": _local(w.created, _HS_ZONE).strftime("%Y-%m-%d %H:%M"),
        "Lifecycle Stage": stage,
        "Lead Status": lead_status,
        "Became a Customer Date": np.where(won, customer_at.strftime("%Y-%m-%d %H:%M"), None),
        "Became an Opportunity Date": np.where(won, opportunity_at.strftime("%Y-%m-%d %H:%M"),
                                               None),
        **{column: _hs_dates(when) for column, when in zip(
            ("Became a Marketing Qualified Lead Date", "Became a Sales Qualified Lead Date"),
            _hs_before_opportunity(reached, won, opportunity_s, w.created), strict=True)},
        "HubSpot Score": score.astype(int),
        "Days To Close": np.where(won, ((w.decided_at - w.created) // DAY).astype(str), None),
        "Recent Deal Amount": np.where(won, (rng.integers(5, 120, n) * 1000).astype(str), None),
        "Contact owner": np.asarray(["Alex Rep", "Sam Rep", "Kim Rep", None],
                                    dtype=object)[rng.integers(0, 4, n)],
    })
    _write(contacts, folder / "contacts.csv")
    _write(timeline, folder / "engagements.csv")
    c = _counts(w.outcome)
    return Export(
        shape="hubspot", leads=folder / "contacts.csv", activities=folder / "engagements.csv",
        n_leads=n, n_activities=len(timeline), delimiter=",", encoding="utf-8",
        id_column="Record ID", activity_id_column="Contact ID", created_column="Create Date",
        outcome_column="Lifecycle Stage", outcome_at_column="Became a Customer Date",
        occurred_column="Timestamp", activity_type_column="Event Type",
        pii=("First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
             "Street Address"),
        leaky=("Lead Status", "Became a Customer Date", "Became an Opportunity Date",
               "HubSpot Score", "Days To Close", "Recent Deal Amount",
               "Became a Marketing Qualified Lead Date", "Became a Sales Qualified Lead Date"),
        n_won=c["won"], n_lost=c["lost"], n_open=c["open"],
        won_values=("customer", "evangelist"),
        unmapped_types=("Marketing Email Delivered", "NOTE", "TASK"),
        export_date=EXPORT_DATE, preset="hubspot")


# --------------------------------------------------------------------------------------------
# Marketo
# --------------------------------------------------------------------------------------------

_MK_ZONE = "America/Chicago"  # the subscription's time zone (lead list exports)
_MK_INDUSTRY = {
    "software": "Software", "financial": "Financial Services", "insurance": "Insurance",
    "healthcare": "Healthcare", "consulting": "Consulting", "telecom": "Telecommunications",
    "manufacturing": "Manufacturing", "retail": "Retail", "government": "Government",
    "education": "Education", "nonprofit": "Non-Profit", "other": None,
}
_MK_SOURCE = {
    "web": "Website", "referral": "Referral", "partner": "Partner", "paid_search": "Paid Search",
    "paid_social": "Social", "list": "List Import", "tradeshow": "Trade Show",
    "webinar": "Webinar", "other": None,
}
_MK_PROGRAM = {
    "web": "GL_Web_Inbound", "referral": "GL_Referral_Program", "partner": "GL_Partner_Leads",
    "paid_search": "2025_PPC_Brand", "paid_social": "2025_Social_LinkedIn",
    "list": "2024_List_Purchase_Q3", "tradeshow": "2025_Event_SaaSExpo",
    "webinar": "2025_Webinar_Scoring", "other": None,
}
# canonical kind -> activityTypeId (standard Marketo activity types)
_MK_TYPES = {"web_visit": 1, "form_submit": 2, "content_download": 2, "demo_request": 2,
             "email_sent": 6, "email_bounce": 8, "email_unsubscribe": 9, "email_open": 10,
             "email_click": 11, "webinar_registered": 104, "webinar_attended": 104}
_MK_FORMS = {"form_submit": "GL_Web.Contact Us Form", "content_download": "GL_Content.Ebook Form",
             "demo_request": "GL_Web.Demo Request Form"}
_MK_EMAILS = ("GL_Nurture.Welcome Email", "2025_Newsletter.Newsletter Email",
              "2025_Webinar_Scoring.Invite Email", "GL_Nurture.Case Study Email")


# the JSON ``attributes`` the extract writes, one string per distinct value
_MK_VISIT_JSON = [json.dumps({"Query Parameters": q, "Referrer URL": "https://www.google.com/"})
                  for q in ("utm_source=google", "")]
_MK_FORM_JSON = np.asarray([json.dumps({"Webpage ID": k, "Referrer URL":
                                        "https://www.example.com/demo"}) for k in range(90)],
                           dtype=object)
_MK_MAIL_JSON = np.asarray([json.dumps({"Campaign Run ID": k, "Choice Number": 0})
                            for k in range(500)], dtype=object)
_MK_STATUS_JSON = [json.dumps({"Old Status": old, "New Status": new, "Success": new == "Attended",
                               "Acquired By": False})
                   for old, new in (("Invited", "Registered"), ("Registered", "Attended"))]


def marketo(folder: str | Path, n_leads: int = 4000, seed: int = 13) -> Export:
    """A Marketo lead list export (display labels) and a Bulk Activity Extract."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    w = _world(rng, n_leads)
    n = w.n
    ids = 1_000_000 + np.cumsum(rng.integers(1, 40, n))  # Marketo ids grow with creation
    end = int(EXPORT_DATE.timestamp())
    ev = w.events[w.events["kind"].isin(list(_MK_TYPES))].reset_index(drop=True)
    kinds, asset = ev["kind"].to_numpy(), ev["asset"].to_numpy()
    type_id = np.asarray([_MK_TYPES[k] for k in kinds], dtype=np.int64)
    primary = np.empty(len(ev), dtype=object)
    attributes = np.empty(len(ev), dtype=object)
    web = kinds == "web_visit"
    paths = np.asarray([_page_path(p, a) for p, a in zip(ev["page"].to_numpy()[web], asset[web],
                                                          strict=True)], dtype=object)
    primary[web] = "www.example.com" + paths + np.where(paths == "/", "", ".html")
    attributes[web] = np.where(asset[web] % 5 == 0, _MK_VISIT_JSON[0], _MK_VISIT_JSON[1])
    form = np.isin(kinds, list(_MK_FORMS))
    primary[form] = [_MK_FORMS[k] for k in kinds[form]]
    attributes[form] = _MK_FORM_JSON[asset[form] % len(_MK_FORM_JSON)]
    mail = np.asarray([k.startswith("email") for k in kinds], dtype=bool)
    primary[mail] = np.asarray(_MK_EMAILS, dtype=object)[asset[mail] % len(_MK_EMAILS)]
    attributes[mail] = _MK_MAIL_JSON[asset[mail] % len(_MK_MAIL_JSON)]
    webinar = ~(web | form | mail)  # program status changes
    primary[webinar] = "2025_Webinar_Scoring"
    attributes[webinar] = np.where(kinds[webinar] == "webinar_registered", _MK_STATUS_JSON[0],
                                   _MK_STATUS_JSON[1])
    act = pd.DataFrame({"leadId": ids[ev["lead"].to_numpy()], "at": ev["at"],
                        "activityTypeId": type_id, "primaryAttributeValue": primary,
                        "attributes": attributes})
    # activity types no mapping covers: deliveries (7), the creation (12), field changes (13)
    sent = act[act["activityTypeId"] == 6]
    bounced = set(act.loc[act["activityTypeId"] == 8, "leadId"])
    delivered = sent[~sent["leadId"].isin(bounced)].assign(at=lambda f: f["at"] + 20,
                                                           activityTypeId=7)
    new_lead = pd.DataFrame({"leadId": ids, "at": w.created + 1, "activityTypeId": 12,
                             "primaryAttributeValue": None,
                             "attributes": json.dumps({"Source Type": "Web form fillout"})})
    change_lead = rng.integers(0, n, n // 2)
    changes = pd.DataFrame({
        "leadId": ids[change_lead],
        "at": w.created[change_lead] + rng.integers(DAY, 200 * DAY, change_lead.size),
        "activityTypeId": 13,
        "primaryAttributeValue": np.asarray(["Lead Status", "Job Title", "Lead Score"],
                                            dtype=object)[rng.integers(0, 3, change_lead.size)],
        "attributes": json.dumps({"Reason": "Changed by Smart Campaign GL_Scoring.Behavior"}),
    })
    act = pd.concat([act, delivered, new_lead, changes], ignore_index=True)
    act = act[act["at"] <= end].sort_values(["at", "leadId", "activityTypeId"],
                                            kind="mergesort", ignore_index=True)
    act.insert(0, "marketoGUID", np.arange(700_000_000, 700_000_000 + len(act)))
    act.insert(2, "activityDate", _utc(act.pop("at").to_numpy()).strftime("%Y-%m-%dT%H:%M:%SZ"))
    campaign = rng.integers(1000, 9000, len(act)).astype(str).astype(object)
    campaign[rng.random(len(act)) < 0.2] = "null"  # the extract writes null for an empty field
    act.insert(4, "campaignId", campaign)
    act.insert(5, "primaryAttributeValueId", rng.integers(1, 5000, len(act)))

    won = w.outcome == "won"
    engaged = np.bincount(ev["lead"].to_numpy(), minlength=n)
    age = (end - w.created) / DAY
    status = np.where(won, "Converted", np.where(
        w.outcome == "lost", "Disqualified", np.where(
            age > 200, "Recycled", np.where(engaged > 12, "Qualified", np.where(
                engaged > 4, "Contacted", "Open"))))).astype(object)
    score = np.clip(np.round(10 + 5 * np.sqrt(engaged) + 35 * won + rng.normal(0, 8, n)), 0, 150)
    updated = np.minimum(np.maximum(w.created, w.decided_at) + rng.integers(0, 20 * DAY, n), end)
    source = np.asarray([_SOURCES[s][0] for s in w.source], dtype=object)
    leads = pd.DataFrame({
        "Id": ids,
        "First Name": w.first,
        "Last Name": w.last,
        "Email Address": w.email,
        "Phone Number": w.phone,
        "Mobile Phone Number": w.mobile,
        "Address": w.street,
        "Company Name": w.company,
        "Job Title": w.title,
        "Industry": _messy(rng, np.asarray([_MK_INDUSTRY[_INDUSTRIES[i][0]] for i in w.industry],
                                           dtype=object), 0.04),
        "Country": [_HS_COUNTRY[_COUNTRIES[c][0]] for c in w.country],
        "Number of Employees": _blank_nan(w.employees),
        "Annual Revenue": _blank_nan(w.revenue),
        "Lead Source": [_MK_SOURCE[s] for s in source],
        "Acquisition Program": [_MK_PROGRAM[s] for s in source],
        "Created At": _local(w.created, _MK_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
        "Updated At": _local(updated, _MK_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
        "Acquisition Date": _local(w.created, _MK_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
        "Lead Status": _messy(rng, status, 0.02),
        "Lead Score": score.astype(int),
        # a custom field many instances add; no standard Marketo field holds the close date
        "Converted Date": np.where(won, _utc(_date_after(w.decided_at, w.created)).strftime(
            "%Y-%m-%d"), None),
    })
    _write(leads, folder / "leads.csv")
    _write(act, folder / "activities.csv")
    c = _counts(w.outcome)
    return Export(
        shape="marketo", leads=folder / "leads.csv", activities=folder / "activities.csv",
        n_leads=n, n_activities=len(act), delimiter=",", encoding="utf-8",
        id_column="Id", activity_id_column="leadId", created_column="Created At",
        outcome_column="Lead Status", outcome_at_column="Converted Date",
        occurred_column="activityDate", activity_type_column="activityTypeId",
        pii=("First Name", "Last Name", "Email Address", "Phone Number", "Mobile Phone Number",
             "Address"),
        leaky=("Lead Score", "Updated At", "Acquisition Date", "Converted Date"),
        n_won=c["won"], n_lost=c["lost"], n_open=c["open"], won_values=("Converted",),
        unmapped_types=("7", "12", "13", "104"), export_date=EXPORT_DATE, preset="marketo")


# --------------------------------------------------------------------------------------------
# Flat files
# --------------------------------------------------------------------------------------------

# key as written, share, effect (Portuguese job names: the file is latin-1)
_JOBS = (
    ("administração", 0.12, 0.0), ("operário", 0.21, -0.4), ("técnico", 0.17, -0.1),
    ("gestão", 0.20, 0.2), ("serviços", 0.09, -0.3), ("reformado", 0.05, 0.7),
    ("empresário", 0.03, -0.2), ("independente", 0.035, 0.0), ("doméstica", 0.025, -0.1),
    ("desempregado", 0.03, 0.3), ("estudante", 0.02, 0.8), ("unknown", 0.01, 0.0),
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_SHARE = (0.03, 0.06, 0.012, 0.065, 0.30, 0.12, 0.15, 0.14, 0.013, 0.016, 0.09, 0.005)
_MONTH_EFFECT = (-0.2, 0.2, 1.3, 0.3, -0.5, -0.1, -0.2, 0.0, 1.2, 1.2, -0.1, 1.3)


def bank_flat(folder: str | Path, n_rows: int = 5000, seed: int = 17) -> Export:
    """A bank-telemarketing flat file: ``;``, latin-1, every text quoted, no id, ``duration`` leak.

    ``duration`` is the length of the call in seconds: only known after the call, and it nearly
    gives away ``y`` (single-column AUC about 0.96).
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    n = n_rows
    age = np.clip(np.round(rng.normal(41, 10.5, n)), 18, 95).astype(int)
    job = _pick(rng, _JOBS, n)
    retired = job == 5
    age[retired] = np.clip(age[retired] + 18, 50, 95)
    student = job == 10
    age[student] = np.clip(age[student] - 18, 18, 35)
    marital = np.asarray(["married", "single", "divorced"], dtype=object)[
        rng.choice(3, n, p=[0.6, 0.28, 0.12])]
    education = np.asarray(["secondary", "tertiary", "primary", "unknown"], dtype=object)[
        rng.choice(4, n, p=[0.51, 0.29, 0.15, 0.05])]
    default = rng.random(n) < 0.02
    balance = np.round(rng.lognormal(6.5, 1.4, n) - 300).astype(int)
    housing = rng.random(n) < 0.55
    loan = rng.random(n) < 0.16
    contact = np.asarray(["cellular", "telephone", "unknown"], dtype=object)[
        rng.choice(3, n, p=[0.65, 0.06, 0.29])]
    month = rng.choice(12, n, p=np.asarray(_MONTH_SHARE) / sum(_MONTH_SHARE))
    day = rng.integers(1, 32, n)
    campaign = np.minimum(rng.geometric(0.38, n), 50)
    contacted_before = rng.random(n) < 0.18
    pdays = np.where(contacted_before, rng.integers(1, 500, n), -1)
    previous = np.where(contacted_before, rng.geometric(0.4, n), 0)
    poutcome = np.where(contacted_before, np.asarray(["failure", "other", "success"],
                                                     dtype=object)[rng.choice(3, n, p=[
                                                         0.6, 0.2, 0.2])], "unknown")
    logit = (_effect(_JOBS, job) + 0.6 * (marital == "single") + 0.3 * (education == "tertiary")
             - 0.3 * (education == "primary") - 0.5 * default + 0.00008 * balance
             - 0.7 * housing - 0.5 * loan - 1.0 * (contact == "unknown")
             + np.asarray(_MONTH_EFFECT)[month] - 0.12 * (campaign - 1)
             + 2.2 * (poutcome == "success") + 0.02 * np.abs(age - 40) * ((age < 25) | (age > 60))
             + rng.normal(0, 0.5, n))
    logit = 1.5 * logit  # as strong as the public data set's signal without the call length
    y = rng.random(n) < _sigmoid(logit + _intercept(logit, 0.117))
    duration = np.round(np.exp(5.0 + 1.45 * y + rng.normal(0, 0.55, n))).astype(int)
    yes_no = np.asarray(["no", "yes"], dtype=object)
    frame = pd.DataFrame({
        "age": age, "job": np.asarray([j[0] for j in _JOBS], dtype=object)[job],
        "marital": marital, "education": education, "default": yes_no[default.astype(int)],
        "balance": balance, "housing": yes_no[housing.astype(int)],
        "loan": yes_no[loan.astype(int)], "contact": contact, "day": day,
        "month": np.asarray(_MONTHS, dtype=object)[month], "duration": duration,
        "campaign": campaign, "pdays": pdays, "previous": previous, "poutcome": poutcome,
        "y": yes_no[y.astype(int)],
    })
    _write(frame, folder / "bank.csv", sep=";", encoding="latin-1",
           quoting=csv.QUOTE_NONNUMERIC)
    return Export(
        shape="bank_flat", leads=folder / "bank.csv", activities=None, n_leads=n,
        n_activities=0, delimiter=";", encoding="latin-1", id_column=None,
        activity_id_column=None, created_column=None, outcome_column="y",
        outcome_at_column=None, occurred_column=None, activity_type_column=None, pii=(),
        leaky=("duration",), n_won=int(y.sum()), n_lost=int(n - y.sum()), n_open=0,
        won_values=("yes",))


# the months the sessions span, in file order (as the public data set: no Jan/Apr, "June")
_SESSION_MONTHS = ("Feb", "Mar", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SESSION_SHARE = (0.02, 0.15, 0.27, 0.025, 0.035, 0.035, 0.035, 0.045, 0.24, 0.14)


def sessions_flat(folder: str | Path, n_rows: int = 5000, seed: int = 19) -> Export:
    """E-commerce sessions in time order without a date column; conversion and PageValues drift.

    Rows are oldest first (``Month`` only hints at it). The purchase rate climbs from about 8 % in
    the first rows to about 25 % in the last, and sessions with a page value become more common
    and larger, so a split by row order differs from a random one.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    n = n_rows
    t = (np.arange(n) + 0.5) / n  # position in time, 0 = oldest row
    share = np.cumsum(_SESSION_SHARE) / sum(_SESSION_SHARE)
    month = np.searchsorted(share, t)
    visitor = np.asarray(["Returning_Visitor", "New_Visitor", "Other"], dtype=object)[
        rng.choice(3, n, p=[0.85, 0.14, 0.01])]
    weekend = rng.random(n) < 0.23
    intent = rng.normal(0, 1, n)
    product = rng.negative_binomial(2, 1 / (1 + 15 * np.exp(0.35 * intent)), n)
    admin = rng.poisson(1.5 * np.exp(0.3 * intent), n)
    info = rng.poisson(0.4, n)
    bounce = np.clip(rng.exponential(0.02, n) * np.exp(-0.6 * intent) * (product < 3) * 3 +
                     rng.exponential(0.005, n), 0, 0.2)
    exit_rate = np.clip(bounce + rng.exponential(0.025, n) * np.exp(-0.3 * intent), 0, 0.2)
    special = np.where(np.isin(month, [0, 2]) & (rng.random(n) < 0.35),
                       rng.choice([0.2, 0.4, 0.6, 0.8, 1.0], n), 0.0)
    logit = (1.0 * intent - 25.0 * exit_rate + 0.45 * (visitor == "New_Visitor")
             - 0.6 * special + 0.15 * weekend + 1.4 * t)
    bought = rng.random(n) < _sigmoid(logit + _intercept(logit, 0.15))
    has_value = rng.random(n) < _sigmoid(-2.2 + 2.4 * bought + 0.3 * intent + 1.2 * t)
    page_values = np.where(has_value, np.round(rng.lognormal(2.4 + 0.5 * bought + 0.8 * t, 0.9,
                                                             n), 6), 0.0)
    frame = pd.DataFrame({
        "Administrative": admin,
        "Administrative_Duration": np.round(admin * rng.gamma(2.0, 40.0, n), 6),
        "Informational": info,
        "Informational_Duration": np.round(info * rng.gamma(1.5, 50.0, n), 6),
        "ProductRelated": product,
        "ProductRelated_Duration": np.round(product * rng.gamma(2.0, 18.0, n), 6),
        "BounceRates": np.round(bounce, 8),
        "ExitRates": np.round(exit_rate, 8),
        "PageValues": page_values,
        "SpecialDay": special,
        "Month": np.asarray(_SESSION_MONTHS, dtype=object)[month],
        "OperatingSystems": rng.choice([1, 2, 3, 4, 8], n, p=[0.21, 0.53, 0.21, 0.04, 0.01]),
        "Browser": rng.choice([1, 2, 4, 5, 6, 10], n, p=[0.2, 0.64, 0.06, 0.04, 0.02, 0.04]),
        "Region": rng.choice(np.arange(1, 10), n),
        "TrafficType": rng.choice([1, 2, 3, 4, 6, 8, 10, 13, 20], n),
        "VisitorType": visitor,
        "Weekend": np.where(weekend, "TRUE", "FALSE"),
        "Revenue": np.where(bought, "TRUE", "FALSE"),
    })
    _write(frame, folder / "sessions.csv")
    return Export(
        shape="sessions_flat", leads=folder / "sessions.csv", activities=None, n_leads=n,
        n_activities=0, delimiter=",", encoding="utf-8", id_column=None,
        activity_id_column=None, created_column=None, outcome_column="Revenue",
        outcome_at_column=None, occurred_column=None, activity_type_column=None, pii=(),
        leaky=(), n_won=int(bought.sum()), n_lost=int(n - bought.sum()), n_open=0,
        won_values=("TRUE",))


SHAPES = {"salesforce": salesforce, "hubspot": hubspot, "marketo": marketo,
          "bank_flat": bank_flat, "sessions_flat": sessions_flat}
