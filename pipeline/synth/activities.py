"""The activity log: what each lead does, and what is done to it, day by day after creation.

Inbound leads start with the event that created them; organic engagement (web visits,
downloads, webinars, forms, demo requests, events, calls) follows decaying Poisson processes
driven by the latent intent, mail follows a cadence with opens, clicks, bounces and
unsubscribes, and sales work between as_of and the decision depends on the outcome: the
deliberate leakage trap. Events stay integer-code arrays (``_Events``) until
:mod:`pipeline.synth.world` turns a chunk into Arrow tables, so the true odds read the same codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.synth.leads import _Leads
from pipeline.synth.sampling import _codes, _Grouped, _sigmoid
from pipeline.synth.vocabulary import (
    _D,
    _DAY_S,
    _T,
    AS_OF_DAYS,
    ASSETS,
    CALLS,
    CAMPAIGNS,
    EMAIL_NURTURE_14D,
    EMAIL_TAU,
    EVENTS,
    FORMS,
    PAGES,
    PRODUCTS,
    RATES,
    SENIORITIES,
    SOURCES,
    WEBINARS,
    WELCOME_P,
)


class _Events:
    """Events as parallel arrays: lead position, days since creation, type and detail codes."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        self, activity_type: str, lead: np.ndarray, day: np.ndarray, detail: np.ndarray | int = -1
    ) -> None:
        """Append events of one type."""
        detail = np.broadcast_to(np.asarray(detail, dtype=np.int16), lead.shape)
        self.parts.append((lead, day, np.full(lead.size, _T[activity_type], dtype=np.int8), detail))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Concatenated (lead, whole seconds after creation >= 1, type, detail)."""
        lead, day, type_code, detail = (np.concatenate(a) for a in zip(*self.parts, strict=True))
        return lead, np.floor(day * _DAY_S).astype(np.int64) + 1, type_code, detail


def _decaying(
    rng: np.random.Generator, mean14: np.ndarray, tau: float, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Leads and days of a Poisson process with intensity ~ exp(-t / tau) on [lo, hi)."""
    # ``mean14`` is the expected count of the first AS_OF_DAYS (the RATES' unit) whatever the
    # world's odds age, so a world whose as_of is later sees more events before it
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
    logits = np.column_stack(
        [
            np.zeros(lead.size),  # home
            0.3 + 1.0 * student,  # blog
            -1.3 + 0.7 * z + 0.5 * platform,  # pricing
            -2.2 + 0.8 * z + 0.6 * platform,  # demo
            -1.7 + 0.4 * z,  # case_study
            np.where(ld.job_seeker[lead], 1.8, -4.5),  # careers
            -0.5 + 0.2 * z,  # product
            -1.0 + 1.0 * student + 0.4 * academy,  # docs
        ]
    )
    p = np.exp(logits)
    cdf = np.cumsum(p, axis=1)
    pick = (cdf < rng.random(lead.size)[:, None] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(pick, len(PAGES) - 1).astype(np.int16)  # page codes are detail codes


def _detail_codes(groups: Sequence[Sequence[str]]) -> _Grouped:
    """A :class:`_Grouped` of detail codes."""
    return _Grouped([[_D[v] for v in g] for g in groups], dtype=np.int16)


_CAMPAIGN_G = _detail_codes([CAMPAIGNS[p] for p in PRODUCTS])
_ASSET_G = _detail_codes([ASSETS[p] for p in PRODUCTS])
_WEBINAR_G = _detail_codes([WEBINARS[p] for p in PRODUCTS])


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
_FORM_P = (0.3, 0.3, 0.15, 0.1, 0.15)
_INBOUND_FORMS = (0.55, 0.25, 0.2, 0.0, 0.0)
_RATE_TABLES = {k: (np.asarray(v[2]), np.asarray(_SENIORITY_RATE[k])) for k, v in RATES.items()}


def _organic(
    rng: np.random.Generator,
    ld: _Leads,
    lo: np.ndarray,
    hi: np.ndarray,
    mail_cut: np.ndarray,
    ev: _Events,
) -> np.ndarray:
    """Organic activity on [lo, hi) days after creation; returns the day mail stops per lead."""
    n = ld.line.size
    z = ld.intent
    for activity_type, (base, slope, _, tau) in RATES.items():
        by_line, by_level = _RATE_TABLES[activity_type]
        mean14 = base * np.exp(slope * z + by_line[ld.line]) * by_level[ld.seniority]
        if activity_type == "web_visit":
            mean14 = mean14 * ld.browse
        lead, day = _decaying(rng, mean14, tau, lo, hi)
        if activity_type == "web_visit":
            ev.add(activity_type, lead, day, _page_codes(rng, ld, lead))
        elif activity_type == "content_download":
            ev.add(activity_type, lead, day, _ASSET_G.values[_ASSET_G.pick(rng, ld.line[lead])])
        elif activity_type == "webinar_registered":
            _webinars(rng, ld, lead, day, ev)
        elif activity_type == "form_submit":
            ev.add(activity_type, lead, day, _D[FORMS[0]] + _codes(rng, _FORM_P, lead.size))
        elif activity_type == "demo_request":
            ev.add(
                activity_type,
                lead,
                day,
                np.where(rng.random(lead.size) < 0.8, _D["demo_form"], _D["chat_request"]),
            )
        elif activity_type == "offline_event":
            ev.add(
                activity_type, lead, day, _D[EVENTS[0]] + rng.integers(0, len(EVENTS), lead.size)
            )
        else:  # sales_call: discovery, qualification or follow-up
            ev.add(activity_type, lead, day, _D[CALLS[0]] + rng.integers(0, 3, lead.size))
    return _mail(rng, ld, lo, hi, mail_cut, ev, welcome=bool((lo == 0).all()) and n > 0)


def _webinars(
    rng: np.random.Generator, ld: _Leads, lead: np.ndarray, day: np.ndarray, ev: _Events
) -> None:
    """Webinar registrations; attendance (1-10 days later) follows intent."""
    name = _WEBINAR_G.values[_WEBINAR_G.pick(rng, ld.line[lead])]
    ev.add("webinar_registered", lead, day, name)
    z = ld.intent[lead]
    came = rng.random(lead.size) < _sigmoid(0.9 * z + 0.2 * (ld.line[lead] == 1) - 0.1)
    ev.add(
        "webinar_attended",
        lead[came],
        day[came] + rng.uniform(1.0, 10.0, lead.size)[came],
        name[came],
    )


def _mail(
    rng: np.random.Generator,
    ld: _Leads,
    lo: np.ndarray,
    hi: np.ndarray,
    cut: np.ndarray,
    ev: _Events,
    welcome: bool,
) -> np.ndarray:
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
        invalid, 0.92, np.where(ld.domain_type[lead] == 1, 0.03, 0.015)
    )
    hard = np.full(n, np.inf)
    np.minimum.at(hard, lead[bounced & invalid], day[bounced & invalid])
    sent = day <= hard[lead]  # the sender suppresses an address after its first hard bounce
    lead, day, detail, bounced = lead[sent], day[sent], detail[sent], bounced[sent]
    z = ld.intent[lead]
    delivered = ~bounced
    opened = delivered & (rng.random(lead.size) < _sigmoid(-0.8 + 0.7 * z))
    open_day = day + rng.exponential(0.4, lead.size)
    clicked = opened & (
        rng.random(lead.size) < _sigmoid(-1.3 + 0.8 * z + 0.4 * (ld.line[lead] == 1))
    )
    click_day = open_day + rng.exponential(0.01, lead.size)
    quits = delivered & (rng.random(lead.size) < _sigmoid(-4.6 - 0.9 * z))
    quit_day = day + rng.exponential(0.3, lead.size)
    unsub = np.full(n, np.inf)
    np.minimum.at(unsub, lead[quits], quit_day[quits])
    first_quit = quits & (quit_day == unsub[lead])
    live = day < unsub[lead]
    ev.add("email_sent", lead[live], day[live], detail[live])
    ev.add(
        "email_bounce", lead[live & bounced], day[live & bounced] + 0.002, detail[live & bounced]
    )
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
    web = np.isin(
        src, [SOURCES.index(s) for s in ("organic_search", "paid_search", "paid_social", "direct")]
    ) & (u < 0.85)
    web |= np.isin(src, [SOURCES.index("referral"), SOURCES.index("partner")]) & (u < 0.5)
    idx = np.flatnonzero(web)
    ev.add("form_submit", idx, day[idx], _D[FORMS[0]] + _codes(rng, _INBOUND_FORMS, idx.size))
    idx = np.flatnonzero((src == SOURCES.index("content_syndication")) & (u < 0.95))
    ev.add("content_download", idx, day[idx], _ASSET_G.values[_ASSET_G.pick(rng, ld.line[idx])])
    idx = np.flatnonzero((src == SOURCES.index("trade_show")) & (u < 0.9))
    ev.add("offline_event", idx, day[idx], _D["trade_show_booth"])
    idx = np.flatnonzero((src == SOURCES.index("webinar")) & (u < 0.9))
    _webinars(rng, ld, idx, day[idx], ev)


def _deals(
    rng: np.random.Generator, won: np.ndarray, lost: np.ndarray, decided: np.ndarray, ev: _Events,
    age: int = AS_OF_DAYS,
) -> None:
    """Sales work between as_of (``age`` days after creation) and the decision: the leakage
    trap."""
    lo = float(age)
    # type, minimum and extra Poisson mean of events per lead, detail values, which leads
    for activity_type, least, lam, details, who in (
        ("demo_request", 0, 1.0, ("demo_form",), won),
        ("sales_call", 1, 1.5, ("discovery_call", "proposal_review", "negotiation"), won),
        ("web_visit", 0, 1.5, ("pricing",), won),
        ("sales_call", 0, 0.3, ("qualification_call",), lost),
    ):
        active = who & (decided > lo)
        counts = np.where(active, least + rng.poisson(lam, won.size), 0)
        lead = np.repeat(np.arange(won.size), counts)
        day = rng.uniform(lo, decided[lead])
        codes = np.asarray([_D[d] for d in details], dtype=np.int16)
        ev.add(activity_type, lead, day, codes[rng.integers(0, codes.size, lead.size)])


def _first_fortnight(rng: np.random.Generator, ld: _Leads, ev: _Events,
                     age: int = AS_OF_DAYS) -> np.ndarray:
    """Generate activity up to as_of (``age`` days after creation: the first fortnight in the
    default world) into ``ev``; return the day mail stops per lead."""
    n = ld.line.size
    _inbound(rng, ld, ev)
    return _organic(rng, ld, np.zeros(n), np.full(n, float(age)), np.full(n, np.inf), ev)
