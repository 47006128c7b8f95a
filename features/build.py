"""FeatureBuilder: leads (+ activities) as of a time -> one row per lead, every column in the spec.

Fitted once on the training leads (category levels, rare levels pooled into ``other``, activity
types, constant columns dropped), then pickled with the model: the same object builds the
training table, the batch-scoring table and the REST request's table, so there is no train/serve
skew. It is pure (no files, no config loading) and works on any partition of leads: a lead's row
depends only on that lead and its own events.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from features.activity import build_engagement_features, engagement_columns
from features.firmographic import (
    REVENUE_BANDS,
    SIZE_BANDS,
    band,
    email_domain_type,
    normalise_category,
    parse_titles,
)
from features.settings import FeatureSettings
from features.spec import FeatureInfo, FeatureSpec

OTHER = "other"

# (factor, kind, monotone, template with {w} for the window) per activity type.
ACTIVITY_INFO: dict[str, tuple[str, str, int, str]] = {
    "web_visit": (
        "Website visits",
        "engagement",
        0,
        "Visited the website {value:.0f}x in {w} days",
    ),
    "email_sent": ("Emails received", "engagement", 0, "Was sent {value:.0f} emails in {w} days"),
    "email_open": ("Email engagement", "engagement", 0, "Opened {value:.0f} emails in {w} days"),
    "email_click": ("Email engagement", "engagement", 0, "Clicked {value:.0f} emails in {w} days"),
    "email_bounce": ("Email bounced", "negative", -1, "Email bounced {value:.0f}x in {w} days"),
    "email_unsubscribe": ("Unsubscribed", "negative", -1, "Unsubscribed in the last {w} days"),
    "content_download": (
        "Content downloads",
        "engagement",
        0,
        "Downloaded {value:.0f} assets in {w} days",
    ),
    "webinar_registered": (
        "Webinars",
        "engagement",
        0,
        "Registered for {value:.0f} webinars in {w} days",
    ),
    "webinar_attended": ("Webinars", "engagement", 0, "Attended {value:.0f} webinars in {w} days"),
    "form_submit": ("Forms", "engagement", 0, "Submitted {value:.0f} forms in {w} days"),
    "demo_request": ("Demo requests", "engagement", 1, "Requested a demo {value:.0f}x in {w} days"),
    "offline_event": ("Events", "engagement", 0, "Met us at {value:.0f} events in {w} days"),
    "sales_call": (
        "Sales conversations",
        "engagement",
        0,
        "Had {value:.0f} sales calls in {w} days",
    ),
}
PAGE_INFO: dict[str, tuple[str, str, int, str]] = {
    "pricing": (
        "Pricing page interest",
        "engagement",
        1,
        "Visited pricing {value:.0f}x in {w} days",
    ),
    "demo": (
        "Demo page interest",
        "engagement",
        1,
        "Visited the demo page {value:.0f}x in {w} days",
    ),
    "case_study": ("Case studies", "engagement", 0, "Read case studies {value:.0f}x in {w} days"),
    "careers": (
        "Careers page (job seeker)",
        "negative",
        -1,
        "Visited the careers page {value:.0f}x in {w} days",
    ),
}
ENGAGEMENT_INFO: dict[str, tuple[str, str, int, str]] = {
    "high_value_visits_30d": (
        "High-value page visits",
        "engagement",
        0,
        "Visited high-value pages {value:.0f}x in 30 days",
    ),
    "low_value_visits_30d": (
        "Website visits",
        "engagement",
        0,
        "Visited other pages {value:.0f}x in 30 days",
    ),
    "days_since_last_activity": (
        "Recency of activity",
        "negative",
        0,
        "Last activity {value:.0f} days ago",
    ),
    "days_since_first_activity": (
        "Recency of activity",
        "engagement",
        0,
        "First activity {value:.0f} days ago",
    ),
    "decayed_activity": (
        "Recency of activity",
        "engagement",
        0,
        "Recent-activity score {value:.1f}",
    ),
    "email_open_rate": ("Email engagement", "engagement", 0, "Opened {value:.0%} of emails"),
    "email_click_rate": (
        "Email engagement",
        "engagement",
        0,
        "Clicked {value:.0%} of opened emails",
    ),
    "webinar_attend_rate": (
        "Webinars",
        "engagement",
        0,
        "Attended {value:.0%} of webinars registered for",
    ),
    "active_days_30d": (
        "Activity intensity",
        "engagement",
        0,
        "Active on {value:.0f} of the last 30 days",
    ),
    "events_per_active_day_30d": (
        "Activity intensity",
        "engagement",
        0,
        "{value:.1f} actions per active day",
    ),
    "unsubscribed": ("Unsubscribed", "negative", -1, "Unsubscribed from emails: {value}"),
}


def feature_name(column: str) -> str:
    """Safe feature name for an export column (LightGBM rejects some characters)."""
    return re.sub(r"[^0-9a-z]+", "_", column.casefold()).strip("_")


def humanize(column: str) -> str:
    """Readable factor name for a raw column (``lead_source`` -> ``Lead source``)."""
    text = re.sub(r"[_\s]+", " ", column).strip()
    return text[:1].upper() + text[1:]


class FeatureBuilder:
    """Builds the feature table; scikit-learn style (``fit`` learns, ``transform`` applies).

    Parameters
    ----------
    settings
        The config's ``features`` section (leaky columns already removed by the caller).
    """

    def __init__(self, settings: FeatureSettings):
        self.settings = settings

    # ----------------------------------------------------------------------------- fit columns
    def _fit_columns(self, leads: pd.DataFrame) -> pd.DataFrame:
        s = self.settings
        frame: dict[str, pd.Series] = {}
        index = pd.Index(leads["lead_id"].astype(str), name="lead_id")

        def col(name: str) -> pd.Series:
            return pd.Series(leads[name].to_numpy(), index=index)

        if s.title_column and s.title_column in leads:
            parsed = parse_titles(col(s.title_column))
            frame["seniority"] = parsed["seniority"]
            frame["department"] = parsed["department"]
            frame["is_student"] = (parsed["seniority"] == "student").astype(float)
        if s.email_column and s.email_column in leads:
            kind = email_domain_type(col(s.email_column), s.free_mail_domains, s.competitor_domains)
            frame["is_free_mail"] = (kind == "free_mail").astype(float)
            frame["is_competitor"] = (kind == "competitor").astype(float)
        if s.size_column and s.size_column in leads:
            size = pd.to_numeric(col(s.size_column), errors="coerce")
            frame["company_size_band"] = band(size, SIZE_BANDS)
            frame["company_employees"] = size.astype(float)
        if s.revenue_column and s.revenue_column in leads:
            revenue = pd.to_numeric(col(s.revenue_column), errors="coerce")
            frame["company_revenue_band"] = band(revenue, REVENUE_BANDS)
            frame["company_revenue"] = revenue.astype(float)
        for name in s.categorical:
            frame[feature_name(name)] = normalise_category(col(name), s.missing_values)
        for name in [*s.numeric, *s.engagement]:
            frame[feature_name(name)] = pd.to_numeric(col(name), errors="coerce").astype(float)
        for name in [*s.boolean, *s.negative]:
            frame[feature_name(name)] = _to_flag(col(name))
        return pd.DataFrame(frame, index=index)

    # ------------------------------------------------------------------------------------ spec
    def _describe(self, name: str) -> FeatureInfo:
        s = self.settings
        raw = {
            feature_name(c): c
            for c in [*s.categorical, *s.numeric, *s.engagement, *s.boolean, *s.negative]
        }
        override = s.factor_names
        templates = s.factor_templates
        fixed: dict[str, tuple[str, str, str, str, int, str]] = {
            "seniority": ("Seniority", "fit", "fit", "categorical", 0, "Title seniority: {value}"),
            "department": ("Department", "fit", "fit", "categorical", 0, "Department: {value}"),
            "is_student": ("Student", "negative", "fit", "boolean", -1, "Student: {value}"),
            "is_free_mail": (
                "Free-mail address",
                "negative",
                "fit",
                "boolean",
                0,
                "Free-mail address: {value}",
            ),
            "is_competitor": (
                "Competitor",
                "negative",
                "fit",
                "boolean",
                -1,
                "Competitor email domain: {value}",
            ),
            "company_size_band": (
                "Company size",
                "fit",
                "fit",
                "categorical",
                0,
                "Company size: {value} employees",
            ),
            "company_employees": (
                "Company size",
                "fit",
                "fit",
                "numeric",
                0,
                "Company of {value:,.0f} employees",
            ),
            "company_revenue_band": (
                "Company revenue",
                "fit",
                "fit",
                "categorical",
                0,
                "Annual revenue band: {value}",
            ),
            "company_revenue": (
                "Company revenue",
                "fit",
                "fit",
                "numeric",
                0,
                "Annual revenue ${value:,.0f}",
            ),
        }
        if name in fixed:
            factor, kind, group, dtype, mono, template = fixed[name]
        elif name in raw:
            column = raw[name]
            factor = humanize(column)
            if column in s.categorical:
                kind, group, dtype, mono, template = (
                    "fit",
                    "fit",
                    "categorical",
                    0,
                    f"{factor}: {{value}}",
                )
            elif column in s.engagement:
                kind, group, dtype, mono, template = (
                    "engagement",
                    "engagement",
                    "numeric",
                    0,
                    f"{factor}: {{value:,.4g}}",
                )
            elif column in s.negative:
                kind, group, dtype, mono, template = (
                    "negative",
                    "engagement",
                    "boolean",
                    -1,
                    f"{factor}: {{value}}",
                )
            elif column in s.boolean:
                kind, group, dtype, mono, template = (
                    "fit",
                    "fit",
                    "boolean",
                    0,
                    f"{factor}: {{value}}",
                )
            else:
                kind, group, dtype, mono, template = (
                    "fit",
                    "fit",
                    "numeric",
                    0,
                    f"{factor}: {{value:,.4g}}",
                )
            factor = override.get(column, factor)
        elif name in ENGAGEMENT_INFO:
            factor, kind, mono, template = ENGAGEMENT_INFO[name]
            group, dtype = "engagement", "boolean" if name == "unsubscribed" else "numeric"
        else:
            factor, kind, mono, template, dtype = self._window_info(name)
            group = "engagement"
        for key in (name, factor):
            if key in override and name not in raw:
                factor = override[key]
        template = templates.get(name, template)
        return FeatureInfo(name, factor, kind, group, dtype, mono, template)

    def _window_info(self, name: str) -> tuple[str, str, int, str, str]:
        match = re.fullmatch(r"(page_)?(.+)_(\d+)d", name)
        if match is None:
            return humanize(name), "engagement", 0, f"{humanize(name)}: {{value:g}}", "numeric"
        is_page, base, window = match.group(1), match.group(2), match.group(3)
        table = PAGE_INFO if is_page else ACTIVITY_INFO
        if base in table:
            factor, kind, mono, template = table[base]
        else:
            label = humanize(base)
            factor = f"Page: {base}" if is_page else label
            kind, mono = "engagement", 0
            template = (
                f"Visited {base} {{value:.0f}}x in {{w}} days"
                if is_page
                else f"{label}: {{value:.0f}} in {{w}} days"
            )
        return factor, kind, mono, template.replace("{w}", window), "numeric"

    # ----------------------------------------------------------------------------- fit/transform
    def _raw_table(
        self,
        leads: pd.DataFrame,
        activities: pd.DataFrame | None,
        as_of: pd.Series | pd.Timestamp | None,
    ) -> pd.DataFrame:
        fit = self._fit_columns(leads)
        if self.settings.mode == "flat" or as_of is None:
            return fit
        created = (
            pd.Series(leads["created_at"].to_numpy(), index=fit.index)
            if "created_at" in leads
            else None
        )
        engagement = build_engagement_features(
            fit.index,
            activities,
            as_of,
            created,
            self.activity_types_,
            self.pages_,
            list(self.settings.high_value_pages),
            list(self.settings.windows_days),
            self.settings.half_life_days,
        )
        return pd.concat([fit, engagement], axis=1)

    def fit(
        self,
        leads: pd.DataFrame,
        activities: pd.DataFrame | None,
        as_of: pd.Series | pd.Timestamp | None,
    ) -> FeatureBuilder:
        """Learn levels, activity types and constant columns from the training leads."""
        s = self.settings
        if s.mode == "events" and activities is not None and len(activities):
            ids = set(leads["lead_id"].astype(str))
            own = activities[activities["lead_id"].isin(ids)]
            self.activity_types_ = sorted(own["activity_type"].dropna().astype(str).unique())
        else:
            self.activity_types_ = []
        self.pages_ = list(dict.fromkeys([*s.high_value_pages, *s.negative_pages]))
        table = self._raw_table(leads, activities, as_of)
        self.levels_: dict[str, list[str]] = {}
        categorical = [c for c in table.columns if self._describe(c).dtype == "categorical"]
        for column in categorical:
            counts = table[column].dropna().astype(str).value_counts()
            keep = sorted(counts[counts >= s.rare_level_min_count].index)
            self.levels_[column] = [*keep, OTHER] if OTHER not in keep else keep
        self.dropped_: dict[str, str] = {}
        for column in table.columns:
            values = table[column]
            if values.nunique(dropna=False) <= 1:
                self.dropped_[column] = "constant in the training leads"
        if s.mode == "events" and as_of is not None:
            self.engagement_columns_ = engagement_columns(
                self.activity_types_, self.pages_, list(s.windows_days)
            )
        else:
            self.engagement_columns_ = []
        names = [c for c in table.columns if c not in self.dropped_]
        self.spec_ = FeatureSpec([self._describe(c) for c in names])
        return self

    def transform(
        self,
        leads: pd.DataFrame,
        activities: pd.DataFrame | None,
        as_of: pd.Series | pd.Timestamp | None,
    ) -> pd.DataFrame:
        """The feature table of ``leads`` (index lead_id, columns ``spec_.names``)."""
        table = self._raw_table(leads, activities, as_of)
        out = {}
        for info in self.spec_:
            if info.name not in table:
                raise ValueError(f"feature {info.name!r} cannot be built from these leads")
            values = table[info.name]
            if info.dtype == "categorical":
                levels = self.levels_[info.name]
                text = values.astype(object)
                known = text.isin(levels) | text.isna()
                text = text.where(known, OTHER)
                out[info.name] = pd.Categorical(text, categories=levels)
            else:
                out[info.name] = values.to_numpy(dtype="float64")
        return pd.DataFrame(out, index=table.index)[self.spec_.names]

    def fit_transform(self, leads, activities, as_of) -> pd.DataFrame:
        """Fit on these leads and return their table."""
        return self.fit(leads, activities, as_of).transform(leads, activities, as_of)


def _to_flag(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip().str.casefold()
    out = pd.Series(np.nan, index=values.index, dtype=float)
    out[text.isin(["yes", "true", "1", "y"]).fillna(False).to_numpy(dtype=bool)] = 1.0
    out[text.isin(["no", "false", "0", "n"]).fillna(False).to_numpy(dtype=bool)] = 0.0
    return out
