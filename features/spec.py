"""Feature spec: every feature column tagged with its business factor, measure, group and template.

Later stages sum explanations per *factor* ("Pricing page interest"), split the fit axis from the
engagement axis of the grade by *group*, constrain the model by *monotone* direction and voice
reasons through each feature's *template*. The catalogue of factor names and reason templates
lives here (and only here); a dataset config overrides them through
``FeatureSettings.factor_names`` and ``FeatureSettings.factor_templates``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, NamedTuple

import pandas as pd

Measure = Literal["fit", "engagement", "negative"]
Group = Literal["fit", "engagement"]
DType = Literal["numeric", "categorical", "boolean"]
MEASURES = ("fit", "engagement", "negative")
GROUPS = ("fit", "engagement")
DTYPES = ("numeric", "categorical", "boolean")
SPEC_FORMAT = 1


@dataclass(frozen=True)
class FeatureInfo:
    """One feature column.

    Attributes
    ----------
    name
        Column name in the feature table.
    factor
        Human-readable business factor it belongs to ("Pricing page interest").
    measure
        What it measures: ``fit``, ``engagement`` or ``negative`` (a signal against buying).
    group
        Which grade axis its points add to: ``fit`` (grade A-D) or ``engagement`` (level 1-4).
    dtype
        ``numeric``, ``categorical`` or ``boolean`` (0/1 floats).
    monotone
        Direction the business expects (+1 more is better, -1 more is worse, 0 no constraint).
    template
        Reason sentence with ``{value}``, e.g. ``"Visited pricing {value:.0f} times in 30 days"``.
    one, zero, missing
        The sentence for a value of 1 (``"Visited pricing once in 30 days"``), of 0 (``"No
        pricing page visits in the last 30 days"``) and for an unknown value; empty: the
        template speaks.
    count
        A count of events: its 0 is an absence, never a reason for points in its favour.
    display
        This feature voices its factor whenever its value is known (the value a person
        recognises, e.g. the days since the last activity rather than a decayed sum).
    """

    name: str
    factor: str
    measure: Measure
    group: Group
    dtype: DType
    monotone: int = 0
    template: str = "{value}"
    one: str = ""
    zero: str = ""
    missing: str = ""
    count: bool = False
    display: bool = False

    def __post_init__(self) -> None:
        """Refuse tags outside the contract's vocabularies."""
        for field, value, allowed in (("measure", self.measure, MEASURES),
                                      ("group", self.group, GROUPS), ("dtype", self.dtype, DTYPES),
                                      ("monotone", self.monotone, (-1, 0, 1))):
            if value not in allowed:
                raise ValueError(f"feature {self.name!r}: {field} {value!r} not in {allowed}")
        if not self.name or not self.factor:
            raise ValueError("a feature needs a name and a factor")

    def reason(self, value: object) -> str:
        """The sentence for ``value``: the zero, one or missing form where the spec has one,
        else the template filled (falling back to ``str(value)`` on format errors)."""
        if _unknown(value):
            return self.missing or _fill(self.template, "unknown")
        if self.dtype == "boolean":
            return _fill(self.template, "yes" if float(value) >= 0.5 else "no")
        if self.dtype == "numeric":
            number = float(value)
            # the same rounding as the templates' {value:.0f}, so "1" and "once" never disagree
            if self.zero and abs(number) < 0.5:
                return self.zero
            if self.one and 0.5 <= number < 1.5:
                return self.one
        return _fill(self.template, value)

    def is_absence(self, value: object) -> bool:
        """Whether ``value`` is no event at all (a count of 0, or an unknown value read as "none
        yet"): never a reason for points in the lead's favour."""
        if _unknown(value):
            return bool(self.missing)
        return self.count and abs(float(value)) < 0.5


def _unknown(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _fill(template: str, value: object) -> str:
    try:
        return template.format(value=value)
    except (ValueError, TypeError, KeyError, IndexError):
        return template.replace("{value}", str(value)).split("{")[0].strip() or str(value)


class FeatureSpec:
    """Ordered, immutable collection of :class:`FeatureInfo`.

    Parameters
    ----------
    features
        Feature descriptions in table column order. Names must be unique and every factor must
        belong to one group (a factor's points add to one axis of the grade).
    """

    def __init__(self, features: list[FeatureInfo] | tuple[FeatureInfo, ...]):
        self._features: tuple[FeatureInfo, ...] = tuple(features)
        names = [f.name for f in self._features]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate feature names in spec: {duplicated}")
        group_of: dict[str, str] = {}
        for f in self._features:
            if group_of.setdefault(f.factor, f.group) != f.group:
                raise ValueError(f"factor {f.factor!r} mixes the fit and engagement groups "
                                 f"(feature {f.name!r})")
        shown: dict[str, str] = {}
        for f in self._features:
            if f.display and shown.setdefault(f.factor, f.name) != f.name:
                raise ValueError(f"factor {f.factor!r} has two display features: "
                                 f"{shown[f.factor]!r} and {f.name!r}")
        self._by_name = {f.name: f for f in self._features}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, including specs pickled before ``features`` became read-only."""
        if "features" in state:
            state["_features"] = tuple(state.pop("features"))
        self.__dict__.update(state)

    @property
    def features(self) -> tuple[FeatureInfo, ...]:
        """All feature descriptions, in column order."""
        return self._features

    def __iter__(self) -> Iterator[FeatureInfo]:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> FeatureInfo:
        return self._by_name[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureSpec) and self._features == other._features

    def __hash__(self) -> int:
        return hash(self._features)

    def __repr__(self) -> str:
        return f"FeatureSpec({len(self)} features, {len(self.factors)} factors)"

    @property
    def names(self) -> list[str]:
        """Column names in table order."""
        return [f.name for f in self._features]

    @property
    def factors(self) -> list[str]:
        """Factor names, in order of first appearance."""
        return list(dict.fromkeys(f.factor for f in self._features))

    def factor_of(self, name: str) -> str:
        """Factor of a feature column."""
        return self._by_name[name].factor

    def by_group(self, group: str) -> list[FeatureInfo]:
        """Features adding to one grade axis (``fit`` or ``engagement``)."""
        if group not in GROUPS:
            raise ValueError(f"group {group!r} not in {GROUPS}")
        return [f for f in self._features if f.group == group]

    def features_of_factor(self, factor: str) -> list[FeatureInfo]:
        """Feature columns of one factor."""
        return [f for f in self._features if f.factor == factor]

    def display_of(self, factor: str) -> str | None:
        """The feature whose value voices ``factor`` (``None``: the one with the largest share)."""
        return next((f.name for f in self._features if f.factor == factor and f.display), None)

    def monotone_constraints(self) -> list[int]:
        """Monotone direction per column, aligned with :attr:`names`."""
        return [f.monotone for f in self._features]

    def without(self, names: set[str] | list[str]) -> FeatureSpec:
        """A spec without some columns."""
        drop = set(names)
        return FeatureSpec([f for f in self._features if f.name not in drop])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with the model, logged to MLflow)."""
        return {"format": SPEC_FORMAT, "features": [asdict(f) for f in self._features]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`."""
        if data.get("format", SPEC_FORMAT) != SPEC_FORMAT:
            raise ValueError(f"feature spec format {data.get('format')!r} is not supported "
                             f"(expected {SPEC_FORMAT})")
        return cls([FeatureInfo(**f) for f in data["features"]])


# --------------------------------------------------------------------------------- catalogue
_FIT = "fit"
_ENG = "engagement"
_NEG = "negative"


class _Entry(NamedTuple):
    """Default tags of one feature (or of one activity type / page over its windows)."""

    factor: str
    measure: Measure
    group: Group
    dtype: DType
    monotone: int
    template: str
    one: str = ""
    zero: str = ""
    missing: str = ""
    count: bool = False
    display: bool = False


def _count(factor: str, measure: Measure, monotone: int, many: str, one: str, zero: str,
           display: bool = False) -> _Entry:
    """An engagement count: ``{n}`` in ``many`` is the count, ``one`` and ``zero`` its other
    grammatical forms."""
    return _Entry(factor, measure, _ENG, "numeric", monotone, many.replace("{n}", "{value:.0f}"),
                  one, zero, count=True, display=display)


#: Fixed-name features of :mod:`features.firmographic` and :mod:`features.activity`.
CATALOGUE: dict[str, _Entry] = {
    "seniority": _Entry("Seniority", _FIT, _FIT, "categorical", 0, "Seniority: {value}"),
    "department": _Entry("Department", _FIT, _FIT, "categorical", 0, "Department: {value}"),
    "is_student": _Entry("Student", _NEG, _FIT, "boolean", -1, "Student or intern: {value}"),
    "is_free_mail": _Entry("Free-mail address", _NEG, _FIT, "boolean", -1,
                           "Free-mail address: {value}"),
    "is_competitor": _Entry("Competitor", _NEG, _FIT, "boolean", -1,
                            "Competitor email domain: {value}"),
    "company_size_band": _Entry("Company size", _FIT, _FIT, "categorical", 0,
                                "Company size: {value} employees"),
    # the head count is what a person recognises; the band speaks only when it is unknown
    "company_employees": _Entry("Company size", _FIT, _FIT, "numeric", 0,
                                "Company of {value:,.0f} employees", one="Company of 1 employee",
                                display=True),
    "company_revenue_band": _Entry("Company revenue", _FIT, _FIT, "categorical", 0,
                                   "Annual revenue: {value}"),
    "company_revenue": _Entry("Company revenue", _FIT, _FIT, "numeric", 0,
                              "Annual revenue ${value:,.0f}", display=True),
    "industry": _Entry("Industry", _FIT, _FIT, "categorical", 0, "Industry: {value}"),
    "country": _Entry("Country", _FIT, _FIT, "categorical", 0, "Country: {value}"),
    "lead_source": _Entry("Lead source", _FIT, _FIT, "categorical", 0, "Lead source: {value}"),
    "product_line": _Entry("Product line", _FIT, _FIT, "categorical", 0,
                           "Product line: {value}"),
    # engagement summaries (features.activity)
    "high_value_visits_30d": _count("High-value page visits", _ENG, 1,
                                    "Visited pricing, demo or case-study pages {n} times in 30 "
                                    "days", "Visited a pricing, demo or case-study page once in "
                                    "30 days", "No pricing, demo or case-study page visits in "
                                    "the last 30 days"),
    "low_value_visits_30d": _count("Website visits", _ENG, 1,
                                   "Visited other pages {n} times in 30 days",
                                   "Visited another page once in 30 days",
                                   "No other page visits in the last 30 days"),
    "activity_total": _count("Total activity", _ENG, 1, "{n} activities so far",
                             "1 activity so far", "No activity so far"),
    # the days since the last activity voice the factor: a decayed sum means nothing to a person
    "days_since_last_activity": _Entry("Recency of activity", _NEG, _ENG, "numeric", -1,
                                       "Last activity {value:.0f} days ago",
                                       one="Last activity 1 day ago", zero="Last activity today",
                                       missing="No activity yet", display=True),
    "days_since_first_activity": _Entry("Recency of activity", _ENG, _ENG, "numeric", 0,
                                        "First activity {value:.0f} days ago",
                                        one="First activity 1 day ago",
                                        zero="First activity today", missing="No activity yet"),
    "decayed_activity": _Entry("Recency of activity", _ENG, _ENG, "numeric", 1,
                               "Recent-activity score {value:.1f}"),
    "email_open_rate": _Entry("Email engagement", _ENG, _ENG, "numeric", 1,
                              "Opened {value:.0%} of emails sent", missing="No emails sent yet"),
    "email_click_rate": _Entry("Email engagement", _ENG, _ENG, "numeric", 1,
                               "Clicked {value:.0%} of emails opened",
                               missing="No emails opened yet"),
    "webinar_attend_rate": _Entry("Webinars", _ENG, _ENG, "numeric", 1,
                                  "Attended {value:.0%} of webinars registered for",
                                  missing="No webinar registrations yet"),
    "active_days_30d": _count("Activity intensity", _ENG, 1,
                              "Active on {n} of the last 30 days",
                              "Active on 1 of the last 30 days",
                              "Not active in the last 30 days", display=True),
    "events_per_active_day_30d": _Entry("Activity intensity", _ENG, _ENG, "numeric", 0,
                                        "{value:.1f} actions per active day",
                                        missing="Not active in the last 30 days"),
    "email_bounce_ever": _count("Email bounced", _NEG, -1, "Email bounced {n} times",
                                "Email bounced once", "No email bounces"),
    "unsubscribed": _Entry("Unsubscribed", _NEG, _ENG, "boolean", -1,
                           "Unsubscribed from emails: {value}"),
    "lead_age_days": _Entry("Lead age", _ENG, _ENG, "numeric", 0,
                            "Lead created {value:.0f} days ago", one="Lead created 1 day ago",
                            zero="Lead created today"),
}

#: Per activity type, for its ``<type>_<w>d`` window counts (``{w}`` is the window). Direction
#: +1 wherever doing it is a sign of interest; being sent emails says nothing of the lead (0).
ACTIVITY_CATALOGUE: dict[str, _Entry] = {
    "web_visit": _count("Website visits", _ENG, 1, "Visited the website {n} times in {w} days",
                        "Visited the website once in {w} days",
                        "No website visits in the last {w} days"),
    "email_sent": _count("Emails received", _ENG, 0, "Was sent {n} emails in {w} days",
                         "Was sent 1 email in {w} days", "No emails sent in the last {w} days"),
    "email_open": _count("Email engagement", _ENG, 1, "Opened {n} emails in {w} days",
                         "Opened 1 email in {w} days", "No emails opened in the last {w} days"),
    "email_click": _count("Email engagement", _ENG, 1, "Clicked {n} emails in {w} days",
                          "Clicked 1 email in {w} days", "No email clicks in the last {w} days"),
    "email_bounce": _count("Email bounced", _NEG, -1, "Email bounced {n} times in {w} days",
                           "Email bounced once in {w} days",
                           "No email bounces in the last {w} days"),
    "email_unsubscribe": _count("Unsubscribed", _NEG, -1, "Unsubscribed {n} times in {w} days",
                                "Unsubscribed once in {w} days",
                                "No unsubscribes in the last {w} days"),
    "content_download": _count("Content downloads", _ENG, 1, "Downloaded {n} assets in {w} days",
                               "Downloaded 1 asset in {w} days",
                               "No downloads in the last {w} days"),
    "webinar_registered": _count("Webinars", _ENG, 1, "Registered for {n} webinars in {w} days",
                                 "Registered for 1 webinar in {w} days",
                                 "No webinar registrations in the last {w} days"),
    "webinar_attended": _count("Webinars", _ENG, 1, "Attended {n} webinars in {w} days",
                               "Attended 1 webinar in {w} days",
                               "No webinars attended in the last {w} days"),
    "form_submit": _count("Form submissions", _ENG, 1, "Submitted {n} forms in {w} days",
                          "Submitted 1 form in {w} days",
                          "No forms submitted in the last {w} days"),
    "demo_request": _count("Demo requests", _ENG, 1, "Requested a demo {n} times in {w} days",
                           "Requested a demo once in {w} days",
                           "No demo requests in the last {w} days"),
    "offline_event": _count("Offline events", _ENG, 1, "Met us at {n} events in {w} days",
                            "Met us at 1 event in {w} days",
                            "No events attended in the last {w} days"),
    "sales_call": _count("Sales conversations", _ENG, 1, "Had {n} sales calls in {w} days",
                         "Had 1 sales call in {w} days", "No sales calls in the last {w} days"),
}

#: Per web page, for its ``page_<page>_<w>d`` window counts.
PAGE_CATALOGUE: dict[str, _Entry] = {
    "pricing": _count("Pricing page interest", _ENG, 1, "Visited pricing {n} times in {w} days",
                      "Visited pricing once in {w} days",
                      "No pricing page visits in the last {w} days"),
    "demo": _count("Demo page interest", _ENG, 1, "Visited the demo page {n} times in {w} days",
                   "Visited the demo page once in {w} days",
                   "No demo page visits in the last {w} days"),
    "case_study": _count("Case studies", _ENG, 1, "Read case studies {n} times in {w} days",
                         "Read a case study once in {w} days",
                         "No case studies read in the last {w} days"),
    "careers": _count("Careers page (job seeker)", _NEG, -1,
                      "Visited the careers page {n} times in {w} days",
                      "Visited the careers page once in {w} days",
                      "No careers page visits in the last {w} days"),
}

#: Tags of a declared lead column by its role in :class:`~features.settings.FeatureSettings`.
ROLE_DEFAULTS: dict[str, tuple[Measure, Group, DType, int, str]] = {
    "categorical": (_FIT, _FIT, "categorical", 0, "{factor}: {{value}}"),
    "numeric": (_FIT, _FIT, "numeric", 0, "{factor}: {{value:,.4g}}"),
    "boolean": (_FIT, _FIT, "boolean", 0, "{factor}: {{value}}"),
    "engagement": (_ENG, _ENG, "numeric", 0, "{factor}: {{value:,.4g}}"),
    "negative": (_NEG, _ENG, "boolean", -1, "{factor}: {{value}}"),
}

_WINDOW = re.compile(r"(?P<page>page_)?(?P<base>.+)_(?P<w>\d+)d")


def _window_text(text: str, days: str) -> str:
    """A sentence of one window: ``{w}`` filled, with the singular of a one-day window."""
    if days == "1":
        text = text.replace("in the last {w} days", "in the last day").replace("in {w} days",
                                                                                "in 1 day")
    return text.replace("{w}", days)


def humanize(column: str) -> str:
    """Readable factor name for a raw column (``lead_source`` -> ``Lead source``)."""
    text = re.sub(r"[_\s]+", " ", column).strip()
    return text[:1].upper() + text[1:].lower() if text.isupper() else text[:1].upper() + text[1:]


def _longest_prefix(name: str, table: Mapping[str, str]) -> str | None:
    """Value of the longest key of ``table`` that ``name`` starts with."""
    keys = [k for k in table if name.startswith(k)]
    return table[max(keys, key=len)] if keys else None


def describe_feature(
    name: str,
    *,
    column: str | None = None,
    role: str | None = None,
    dtype: DType | None = None,
    factor_names: Mapping[str, str] | None = None,
    factor_templates: Mapping[str, str] | None = None,
) -> FeatureInfo:
    """Tags of a feature column from the catalogue, with the config's overrides applied.

    Parameters
    ----------
    name
        Feature column name.
    column, role
        For a column declared in the settings: the raw lead column and its role (``categorical``,
        ``numeric``, ``boolean``, ``engagement``, ``negative``).
    dtype
        Overrides the dtype (e.g. a ``negative`` column holding counts rather than 0/1).
    factor_names
        Overrides of the factor name, looked up by exact feature name, then raw column, then the
        longest matching name prefix (``page_pricing`` covers every pricing window), then the
        default factor name (renames a whole factor).
    factor_templates
        Overrides of the reason template, by exact feature name then longest name prefix.

    Returns
    -------
    FeatureInfo
    """
    factor_names = factor_names or {}
    factor_templates = factor_templates or {}
    window = _WINDOW.fullmatch(name)
    if role is not None:
        factor = CATALOGUE[name].factor if name in CATALOGUE else humanize(column or name)
        measure, group, default_dtype, monotone, template = ROLE_DEFAULTS[role]
        template = template.format(factor=factor)
        entry = _Entry(factor, measure, group, default_dtype, monotone, template)
    elif name in CATALOGUE:
        entry = CATALOGUE[name]
    elif window is not None:
        base, days = window["base"], window["w"]
        table = PAGE_CATALOGUE if window["page"] else ACTIVITY_CATALOGUE
        entry = table.get(base)
        if entry is None:
            label = base.replace("_", " ")
            entry = (_count(f"Page: {label}", _ENG, 0,
                            f"Visited the {label} page {{n}} times in {{w}} days",
                            f"Visited the {label} page once in {{w}} days",
                            f"No {label} page visits in the last {{w}} days")
                     if window["page"] else
                     _count(humanize(base), _ENG, 0, f"{humanize(base)}: {{n}} in {{w}} days",
                            f"{humanize(base)}: 1 in {{w}} days",
                            f"No {label} in the last {{w}} days"))
        entry = entry._replace(**{form: _window_text(getattr(entry, form), days)
                                  for form in ("template", "one", "zero")})
    else:
        entry = _Entry(humanize(name), _ENG, _ENG, "numeric", 0,
                       f"{humanize(name)}: {{value:,.4g}}")
    factor = (factor_names.get(name)
              or (factor_names.get(column) if column else None)
              or _longest_prefix(name, factor_names)
              or factor_names.get(entry.factor)
              or entry.factor)
    template = factor_templates.get(name) or _longest_prefix(name, factor_templates)
    # the catalogue's zero and one forms would contradict a sentence the config wrote
    one, zero = (entry.one, entry.zero) if template is None else ("", "")
    info = FeatureInfo(name, factor, entry.measure, entry.group, dtype or entry.dtype,
                       entry.monotone, template or entry.template, one=one, zero=zero,
                       missing=entry.missing, count=entry.count, display=entry.display)
    return info if dtype is None or dtype != "categorical" else replace(info, monotone=0)


# ------------------------------------------------------------------------------ source fields
#: Features computed from the same lead column or activity type as another feature: a points
#: table encodes a field once, so these share their field's name.
SAME_FIELD: dict[str, str] = {
    "company_size_band": "company_employees", "company_revenue_band": "company_revenue",
    "is_student": "seniority", "email_bounce_ever": "email_bounce",
    "unsubscribed": "email_unsubscribe"}
#: Summaries computed across activity types or as ratios and decayed sums: no CRM holds them
#: as a field a scoring rule could read.
NOT_A_CRM_FIELD = frozenset({
    "high_value_visits_30d", "low_value_visits_30d", "activity_total",
    "days_since_first_activity", "decayed_activity", "email_open_rate", "email_click_rate",
    "webinar_attend_rate", "active_days_30d", "events_per_active_day_30d"})


def source_field(name: str) -> str | None:
    """The CRM field a feature column is computed from, or None for a derived summary.

    Window counts name their activity signal (``page_pricing_30d`` -> ``page_pricing``,
    ``demo_request_7d`` -> ``demo_request``: the name a rules file's ``activities`` uses);
    bands and flags derived from another column name that column (:data:`SAME_FIELD`).
    """
    if name in NOT_A_CRM_FIELD or name.startswith("decayed_"):  # decayed_<signal> too
        return None
    if name in SAME_FIELD:
        return SAME_FIELD[name]
    window = None if name in CATALOGUE else _WINDOW.fullmatch(name)
    if window is not None:
        return f"page_{window['base']}" if window["page"] else window["base"]
    return name
