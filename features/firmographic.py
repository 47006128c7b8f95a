"""Fit features: who the lead is and what company they come from.

Job titles arrive as free text in endless spellings ("VP Sales", "Vice President, Operations",
"vp of mktg", "Sr. Software Eng.", "line supervisor"); :func:`parse_title` maps them to a seniority
and a department with ordered regular expressions (student before VP before C-level, because
"Vice President" contains "President" and "student president" is a student). The email address
is used only for its domain type (free-mail, corporate, competitor): the address itself never
becomes a feature.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

SENIORITIES = ("c-level", "vp", "director", "manager", "individual", "student", "unknown")
DEPARTMENTS = ("executive", "sales", "marketing", "engineering", "it", "operations", "finance",
               "hr", "product", "other", "unknown")

_SENIORITY_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("student", re.compile(
        r"\b(student|intern|internship|mba candidate|phd candidate|undergrad\w*|graduate|"
        r"trainee|apprentice|studying|pupil)\b")),
    ("vp", re.compile(r"\b(vp|svp|evp|avp|vice[\s\-]*president|v\.\s?p\.?)\b")),
    ("c-level", re.compile(
        r"\b(ceo|cto|cfo|cmo|coo|cio|ciso|cro|cpo|cdo|chief|founder|co[\s\-]?founder|owner|"
        r"president|managing director|general manager|partner|proprietor|chairman|chairwoman)\b")),
    ("director", re.compile(r"\b(director|dir|head|principal)\b")),
    ("manager", re.compile(
        r"\b(manager|mgr|mngr|lead|leader|supervisor|superintendent|foreman|forewoman)\b")),
]

_DEPARTMENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("it", re.compile(r"\b(it|information technology|cio|ciso|systems|sysadmin|network|"
                      r"infrastructure|security|helpdesk|help desk)\b")),
    ("sales", re.compile(r"\b(sales|account executive|business development|bdr|sdr|cro|"
                         r"revenue|account manager)\b")),
    ("marketing", re.compile(r"\b(marketing|mktg|mkt|brand|growth|demand gen\w*|cmo|"
                             r"communications|content|seo)\b")),
    ("finance", re.compile(r"\b(finance|financial|cfo|accounting|accountant|controller|"
                           r"treasury|treasurer)\b")),
    ("hr", re.compile(r"\b(hr|human resources|people|talent|recruit\w*)\b")),
    ("product", re.compile(r"\b(product|cpo|ux|ui)\b")),
    ("engineering", re.compile(r"\b(engineer\w*|eng|software|developer|dev|devops|cto|r&d|"
                               r"technical|technology|data scien\w*|programmer)\b")),
    ("operations", re.compile(r"\b(operations|ops|coo|supply chain|logistics|production|plant|"
                              r"line|manufacturing|procurement|warehouse|shift)\b")),
    ("executive", re.compile(r"\b(ceo|founder|co[\s\-]?founder|owner|president|"
                             r"managing director|general manager|chief executive|chairman)\b")),
]

SIZE_BANDS = ([0, 10, 50, 200, 1000, 5000, np.inf],
              ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"])
REVENUE_BANDS = ([0, 1e6, 1e7, 5e7, 2.5e8, 1e9, np.inf],
                 ["<1M", "1-10M", "10-50M", "50-250M", "250M-1B", "1B+"])


def _clean_title(title: object) -> str:
    if title is None or (isinstance(title, float) and np.isnan(title)):
        return ""
    text = str(title).casefold()
    text = text.replace("&", " & ").replace("/", " ").replace(",", " ").replace("-", " ")
    text = re.sub(r"\bsr\b\.?|\bsnr\b|\bjr\b\.?", " ", text)
    return re.sub(r"\s+", " ", text.replace(".", ". ")).strip(" .")


def parse_title(title: object) -> tuple[str, str]:
    """Seniority and department of a free-text job title.

    Returns
    -------
    seniority, department
        Seniority in :data:`SENIORITIES`, department in :data:`DEPARTMENTS`; blank or missing
        titles give ``("unknown", "unknown")``.
    """
    text = _clean_title(title)
    if not re.search(r"[a-z]", text):
        return "unknown", "unknown"
    seniority = next((name for name, rule in _SENIORITY_RULES if rule.search(text)), "individual")
    department = next((name for name, rule in _DEPARTMENT_RULES if rule.search(text)), "other")
    if seniority == "c-level" and department == "other":
        department = "executive"
    return seniority, department


def parse_titles(titles: pd.Series) -> pd.DataFrame:
    """Vectorised :func:`parse_title` (each distinct spelling parsed once)."""
    uniques = pd.unique(titles.astype(object))
    parsed = {t: parse_title(t) for t in uniques}
    pairs = [parsed[t] for t in titles.astype(object)]
    return pd.DataFrame(pairs, columns=["seniority", "department"], index=titles.index)


def email_domain_type(emails: pd.Series, free_mail: list[str], competitors: list[str]) -> pd.Series:
    """``free_mail``, ``competitor``, ``corporate`` or NaN (missing or not an address)."""
    text = emails.astype("string").str.strip().str.casefold()
    domain = text.str.extract(r"@([a-z0-9.\-]+\.[a-z]{2,})$", expand=False)
    out = pd.Series("corporate", index=emails.index, dtype=object)
    out[domain.isin(set(free_mail)).fillna(False).to_numpy(dtype=bool)] = "free_mail"
    out[domain.isin(set(competitors)).fillna(False).to_numpy(dtype=bool)] = "competitor"
    out[domain.isna().to_numpy(dtype=bool)] = np.nan
    return out


def band(values: pd.Series, bands: tuple[list[float], list[str]]) -> pd.Series:
    """Ordered band label of a numeric value (NaN stays NaN)."""
    edges, labels = bands
    numbers = pd.to_numeric(values, errors="coerce")
    return pd.cut(numbers, bins=edges, labels=labels, right=True, include_lowest=True).astype(
        object)


def normalise_category(values: pd.Series, missing: list[str]) -> pd.Series:
    """Trimmed, case-folded text ("Google" and "google " are one level); declared misses -> NaN."""
    text = values.astype("string").str.strip()
    folded = text.str.casefold()
    missing_set = {m.casefold() for m in missing} | {""}
    folded = folded.where(~folded.isin(missing_set))
    return folded.astype(object).where(folded.notna(), np.nan)
