"""Feature settings: the ``features:`` section of a dataset config (frozen, validated once)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FREE_MAIL_DOMAINS = [
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk",
    "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mail.com",
    "gmx.com", "gmx.de", "web.de", "proton.me", "protonmail.com", "yandex.com", "zoho.com",
    "qq.com", "163.com",
]


class FeatureSettings(BaseModel):
    """How leads (+ activities) become features."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["events", "flat"] = "events"
    title_column: str | None = "job_title"
    email_column: str | None = "email"
    categorical: list[str] = []
    numeric: list[str] = []
    boolean: list[str] = []
    engagement: list[str] = []
    negative: list[str] = []
    size_column: str | None = "employees"
    revenue_column: str | None = "annual_revenue"
    windows_days: list[int] = [7, 30, 90]
    half_life_days: float = Field(14.0, gt=0)
    high_value_pages: list[str] = ["pricing", "demo", "case_study"]
    negative_pages: list[str] = ["careers"]
    free_mail_domains: list[str] = FREE_MAIL_DOMAINS
    competitor_domains: list[str] = []
    rare_level_min_count: int = Field(30, ge=1)
    factor_names: dict[str, str] = {}
    factor_templates: dict[str, str] = {}
    missing_values: list[str] = []
