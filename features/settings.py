"""Feature settings: the ``features:`` section of a dataset config (frozen, validated once).

``pipeline.data.config`` embeds :class:`FeatureSettings` as the ``features:`` key of the YAML
config; the feature code receives the typed object and never reads a file. Defaults describe the
canonical B2B event export (``job_title``, ``email``, ``employees``, ``annual_revenue`` and an
activity log); a flat export such as X Education sets ``mode: flat`` and lists its columns.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FREE_MAIL_DOMAINS = [
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com",
    "hotmail.com", "hotmail.co.uk", "outlook.com", "live.com", "msn.com", "aol.com",
    "icloud.com", "me.com", "mail.com", "gmx.com", "gmx.de", "web.de", "proton.me",
    "protonmail.com", "yandex.com", "yandex.ru", "mail.ru", "zoho.com", "qq.com", "163.com",
    "rediffmail.com",
]


class DeclarationError(ValueError):
    """The ``features:`` declarations contradict each other or the derived features (a config
    mistake, not a data one: the pipeline reports it against the config file)."""


class FeatureSettings(BaseModel):
    """How leads (+ activities) become features.

    Column names are the canonical (already mapped) lead columns. ``title_column``,
    ``email_column``, ``size_column`` and ``revenue_column`` are used when the leads have them
    (set them to ``None`` to switch them off); every column listed in ``categorical``,
    ``numeric``, ``boolean``, ``engagement`` and ``negative`` must exist.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["events", "flat"] = Field(
        "events", description="events: leads + timestamped activity log; flat: one row per lead")
    title_column: str | None = Field("job_title", description="free-text job title")
    email_column: str | None = Field(
        "email", description="email address: only its domain type becomes a feature")
    categorical: list[str] = Field(
        default_factory=list, description="categorical fit columns (industry, country...)")
    numeric: list[str] = Field(default_factory=list, description="numeric fit columns")
    boolean: list[str] = Field(
        default_factory=list, description="Yes/No or true/false columns -> 0/1 fit flags")
    engagement: list[str] = Field(
        default_factory=list,
        description="flat mode: pre-aggregated behaviour columns (visits, time on site)")
    negative: list[str] = Field(
        default_factory=list, description="columns that signal against buying (Do Not Email)")
    size_column: str | None = Field("employees", description="number of employees")
    revenue_column: str | None = Field("annual_revenue", description="annual revenue")
    windows_days: list[int] = Field(
        default_factory=lambda: [7, 30, 90], description="activity count windows (days)")
    half_life_days: float = Field(
        14.0, gt=0, description="half-life of `decayed_activity`, and of every `decayed_<signal>` "
        "the decay is not learned for (fixed decay, too few events, or none learned yet)")
    decay: Literal["off", "learn", "fixed"] = Field(
        "off", description="per-signal decayed counts `decayed_<signal>`: off (the default: none, "
        "only `decayed_activity`), learn (each half-life chosen from half_life_grid_days on the "
        "validation log-likelihood, training and validation leads only) or fixed "
        "(half_life_days for every signal). A learned half-life whose 95 % interval spans more "
        "than a factor of 4 is not identified and keeps half_life_days; the columns are kept "
        "only when their validation log-loss gain's bootstrap interval is above 0. Off by "
        "default: on a 3,000-lead world the 13 extra columns made the model choice on "
        "validation miss the best scorer on test")
    half_life_grid_days: list[float] = Field(
        default_factory=lambda: [1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180],
        description="half-lives (days) the learned decay chooses among")
    decay_min_events: int = Field(
        200, ge=1, description="a signal with fewer training events keeps half_life_days")
    half_lives: dict[str, float] = Field(
        default_factory=dict, description="signal -> half-life in days (`page_pricing: 3`, "
        "`webinar_attended: 45`; signals: the engagement activity types and page_<high-value "
        "page>): set by you, never learned over")
    high_value_pages: list[str] = Field(
        default_factory=lambda: ["pricing", "demo", "case_study"],
        description="web pages that show buying interest")
    negative_pages: list[str] = Field(
        default_factory=lambda: ["careers"], description="web pages that signal a non-buyer")
    free_mail_domains: list[str] = Field(
        default_factory=lambda: list(FREE_MAIL_DOMAINS),
        description="email domains (and their subdomains, case-insensitive) that set "
        "`is_free_mail`; replaces the built-in list")
    competitor_domains: list[str] = Field(
        default_factory=list, description="email domains (and their subdomains, "
        "case-insensitive) that set `is_competitor`; they win over free_mail_domains")
    rare_level_min_count: int = Field(
        30, ge=1, description="levels with fewer training leads are pooled into 'other'")
    factor_names: dict[str, str] = Field(
        default_factory=dict,
        description="feature name, name prefix, raw column or factor -> factor name")
    factor_templates: dict[str, str] = Field(
        default_factory=dict, description="feature name or name prefix -> reason template")
    missing_values: list[str] = Field(
        default_factory=list, description="strings that mean 'not answered' (e.g. Select)")

    @field_validator("windows_days")
    @classmethod
    def _positive_sorted_windows(cls, value: list[int]) -> list[int]:
        """Windows are positive whole days, deduplicated and sorted."""
        if not value:
            raise ValueError("at least one window is needed")
        if any(w <= 0 for w in value):
            raise ValueError("windows must be positive numbers of days")
        return sorted(set(value))

    @field_validator("half_life_grid_days")
    @classmethod
    def _positive_sorted_grid(cls, value: list[float]) -> list[float]:
        """Half-lives are positive, deduplicated and sorted."""
        if not value or any(h <= 0 for h in value):
            raise ValueError("the half-life grid needs positive numbers of days")
        return sorted(set(value))

    @field_validator("half_lives")
    @classmethod
    def _positive_half_lives(cls, value: dict[str, float]) -> dict[str, float]:
        """Each signal's half-life is a positive number of days, its name as features write it."""
        bad = {k: v for k, v in value.items() if not v > 0}
        if bad:
            raise ValueError(f"half-lives must be positive days, got {bad}")
        return {k.strip().casefold().replace(" ", "_"): float(v) for k, v in value.items()}

    @field_validator("high_value_pages", "negative_pages", "free_mail_domains",
                     "competitor_domains")
    @classmethod
    def _casefold_names(cls, value: list[str]) -> list[str]:
        """Pages and domains are matched case-insensitively."""
        return list(dict.fromkeys(v.strip().casefold() for v in value if v.strip()))

    @model_validator(mode="after")
    def _columns_have_one_role(self) -> FeatureSettings:
        """A column listed under two roles would become two contradictory features."""
        seen: dict[str, str] = {}
        for role in ("categorical", "numeric", "boolean", "engagement", "negative"):
            for column in getattr(self, role):
                if column in seen:
                    raise ValueError(f"column {column!r} is listed in both {seen[column]} and "
                                     f"{role}")
                seen[column] = role
        overlap = set(self.high_value_pages) & set(self.negative_pages)
        if overlap:
            raise ValueError(f"pages both high-value and negative: {sorted(overlap)}")
        return self
