"""Fit features: who the lead is and what company they come from.

Job titles arrive as free text in endless spellings ("VP Sales", "Vice President, Operations",
"vp of mktg", "Sr. Software Eng.", "line supervisor"); :func:`parse_title` maps them to a seniority
and a department with ordered regular expressions. The order is the design: assistants first
("Executive Assistant to the CEO" is not a CEO), then unambiguous trainees ("Marketing Intern"),
then VP before C-level (because "Vice President" contains "President"), director, manager, and
only then the weak student words ("Student Success Manager" is a manager, "Student" a student).
Each distinct spelling is parsed once, so a million leads cost as much as their distinct titles.

The email address is used only for its domain type (free-mail, corporate, competitor): the
address itself never becomes a feature. Declared categorical columns are normalised (trimmed,
inner spaces collapsed, case-folded, declared "not answered" tokens such as ``Select`` -> NaN) so
"Google" and "google " are one level. Everything here is row-wise: a lead's fit features never
depend on the other leads in the batch.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from features.settings import DeclarationError, FeatureSettings

SENIORITIES = ("c-level", "vp", "director", "manager", "individual", "student", "unknown")
DEPARTMENTS = ("sales", "marketing", "engineering", "it", "operations", "finance", "hr",
               "product", "executive", "other", "unknown")

# Form fillers that say "no title" rather than name one.
_PLACEHOLDERS = frozenset({"n a", "na", "none", "null", "nil", "unknown", "not provided",
                           "not available", "not applicable", "tbd", "test", "x", "xx", "xxx",
                           "select", "other", "prefer not to say"})
_INDIVIDUAL_ASSISTANT = re.compile(
    r"\b(assistant|secretary)\b(?! (vice|vp|director|manager|mgr|head|general manager|professor|"
    r"controller|treasurer|principal|superintendent))")
_SENIORITY_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("student", re.compile(
        r"\b(intern|internship|interns|trainee|apprentice|apprenticeship|"
        r"(mba|phd|ph d|doctoral|masters?|msc|bsc|ba|bs|ms) (candidate|student)|undergrad\w*|"
        r"graduate student|grad student|student (body )?president|working student|werkstudent|"
        r"praktikant\w*|stagiaire|becari[oa])\b")),
    ("vp", re.compile(r"\b(vp|svp|evp|avp|vice ?president|vice pres|vicepresidente?)\b")),
    ("c-level", re.compile(
        r"\b(ceo|cto|cfo|cmo|coo|cio|ciso|cro|cpo|cdo|cso|cxo|cco|chro|"
        r"chief(?! of staff)|founder|co ?founder|"
        r"(?<!product )(?<!process )(?<!service )(?<!data )(?<!content )(?<!business process )"
        r"owner|proprietor|president|pres|managing director|general manager|"
        r"(managing|senior|founding|equity|general) partner|chairman|chairwoman|chairperson|"
        r"chair of the board|board member|geschaftsfuhrer|geschäftsführer|inhaber|pdg|"
        r"directeur general|director general|gerente general)\b|^partner$")),
    ("director", re.compile(
        r"\b(director|directora|directeur|directrice|direktor|dir|head|heads|chief of staff|"
        r"leiter|leiterin)\b")),
    ("manager", re.compile(
        r"\b(manager|managers|mgr|mngr|lead(?! gen\w*)|leader|supervisor|supv|superintendent|"
        r"foreman|forewoman|gerente|responsable|jefe|jefa)\b")),
    ("student", re.compile(
        r"\b(student|students|graduate|grad|pupil|studying|studentin|estudiante|etudiant|"
        r"étudiant)\b")),
]

_DEPARTMENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("it", re.compile(
        r"\b(it|information technology|information systems|information security|"
        r"chief information|cio|ciso|systems|sysadmin|systems? admin\w*|database|dba|network\w*|"
        r"infrastructure|security|secops|cyber\w*|helpdesk|help desk|service desk)\b")),
    ("sales", re.compile(
        r"\b(sales|account executive|account manager|account management|business development|"
        r"business dev|biz dev|bdr|sdr|bdm|cro|revenue|revops|commercial|key account\w*|"
        r"ventas|vertrieb|vente|ventes)\b")),
    ("marketing", re.compile(
        r"\b(marketing|mktg|mkt|marcom|brand|branding|growth|demand gen\w*|cmo|communications|"
        r"comms|content|seo|sem|pr|public relations|social media|advertising|events)\b")),
    ("finance", re.compile(
        r"\b(finance|financial|cfo|fp a|accounting|accountant|accounts|controller|comptroller|"
        r"treasury|treasurer|audit|auditor|tax|bookkeeper|payroll)\b")),
    ("hr", re.compile(
        r"\b(hr|chro|human resources|human resource|people|talent|recruit\w*|"
        r"learning and development|l d)\b")),
    ("product", re.compile(r"\b(product|products|cpo|ux|ui|design|designer)\b")),
    ("engineering", re.compile(
        r"\b(engineer\w*|eng|software|developer|dev|devops|sre|cto|rnd|technical|technology|"
        r"data scien\w*|machine learning|ml|ai|programmer|architect|qa|quality assurance|"
        r"tech|firmware|hardware)\b")),
    ("operations", re.compile(
        r"\b(operations|operating|operational|ops|coo|supply chain|logistics|production|plant|"
        r"line|manufacturing|procurement|purchasing|warehouse|shift|facilities|fulfil\w*|"
        r"fulfill\w*|customer success|customer service|customer support|support|admin|"
        r"administration|office manager)\b")),
    ("executive", re.compile(
        r"\b(ceo|founder|co ?founder|owner|(?<!vice )president|managing director|"
        r"general manager|chief executive|chairman|chairwoman|chairperson|board member|"
        r"managing partner|geschaftsfuhrer|geschäftsführer|inhaber|pdg)\b")),
]

SIZE_BANDS: tuple[tuple[float, ...], tuple[str, ...]] = (
    (10, 50, 200, 1000, 5000), ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"))
REVENUE_BANDS: tuple[tuple[float, ...], tuple[str, ...]] = (
    (1e6, 1e7, 5e7, 2.5e8, 1e9), ("<1M", "1-10M", "10-50M", "50-250M", "250M-1B", "1B+"))
#: Ordered categorical columns: their levels keep band order instead of alphabetical order.
BAND_LEVELS: dict[str, tuple[str, ...]] = {
    "company_size_band": SIZE_BANDS[1], "company_revenue_band": REVENUE_BANDS[1]}


def feature_name(column: str) -> str:
    """Safe feature name for an export column (LightGBM rejects some characters).

    ``"Lead Source"`` -> ``"lead_source"``, ``"Do Not Email"`` -> ``"do_not_email"``.
    """
    return re.sub(r"[^0-9a-z]+", "_", str(column).casefold()).strip("_")


def _clean_title(title: object) -> str:
    """Case-folded title with dotted acronyms joined and punctuation turned into spaces."""
    if title is None or (isinstance(title, float) and np.isnan(title)) or title is pd.NA:
        return ""
    text = str(title).casefold()
    text = text.replace("r&d", " rnd ").replace("r & d", " rnd ").replace("fp&a", " fp a ")
    # "v.p." / "c.e.o" -> "vp" / "ceo" before other dots become spaces ("sr." -> "sr").
    text = re.sub(r"\b[a-z](?:\.[a-z])+\b\.?", lambda m: m.group(0).replace(".", ""), text)
    text = re.sub(r"[^\w&]+|_", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_title(title: object) -> tuple[str, str]:
    """Seniority and department of a free-text job title.

    Parameters
    ----------
    title
        Job title as exported (any case and punctuation); None/NaN/blank allowed.

    Returns
    -------
    seniority, department
        Seniority in :data:`SENIORITIES`, department in :data:`DEPARTMENTS`. Blank or missing
        titles (or ones without a letter) give ``("unknown", "unknown")``; a title with letters
        but no seniority word is ``individual``; a C-level title without a function is
        ``executive``.

    Examples
    --------
    >>> parse_title("Vice President, Operations")
    ('vp', 'operations')
    >>> parse_title("Sr. Software Eng.")
    ('individual', 'engineering')
    """
    text = _clean_title(title)
    if not re.search(r"[^\W\d_]", text) or text in _PLACEHOLDERS:
        return "unknown", "unknown"
    trainee, *rules = _SENIORITY_RULES
    if trainee[1].search(text):
        seniority = "student"
    elif _INDIVIDUAL_ASSISTANT.search(text):
        seniority = "individual"
    else:
        seniority = next((name for name, rule in rules if rule.search(text)), "individual")
    department = next((name for name, rule in _DEPARTMENT_RULES if rule.search(text)), "other")
    if seniority == "c-level" and department == "other":
        department = "executive"
    return seniority, department


def parse_titles(titles: pd.Series) -> pd.DataFrame:
    """Vectorised :func:`parse_title`: each distinct spelling is parsed once.

    Returns a frame with ``seniority`` and ``department`` (object dtype) on the input's index.
    """
    codes, uniques = pd.factorize(titles, use_na_sentinel=True)
    parsed = [parse_title(t) for t in uniques]
    parsed.append(("unknown", "unknown"))  # code -1: missing title
    seniority = np.array([p[0] for p in parsed], dtype=object)
    department = np.array([p[1] for p in parsed], dtype=object)
    return pd.DataFrame({"seniority": seniority[codes], "department": department[codes]},
                        index=titles.index)


def _domain_type(domain: str, free_mail: set[str], competitors: set[str]) -> str:
    """Type of one domain; a subdomain inherits its parent's type (mail.rival.com)."""
    parts = domain.split(".")
    suffixes = {".".join(parts[i:]) for i in range(len(parts) - 1)}
    if suffixes & competitors:
        return "competitor"
    if suffixes & free_mail:
        return "free_mail"
    return "corporate"


def email_domain_type(emails: pd.Series, free_mail: list[str],
                      competitors: list[str]) -> pd.Series:
    """Domain type of each address: ``free_mail``, ``competitor``, ``corporate`` or NaN.

    Parameters
    ----------
    emails
        Raw addresses; missing values or strings that are not an address give NaN.
    free_mail, competitors
        Domains (case-insensitive); subdomains match their parent domain.

    Returns
    -------
    pandas.Series
        Object dtype, on the input's index. Competitor wins over free-mail.
    """
    text = emails.astype("str").str.strip().str.lower()  # arrow-native; domains are ASCII
    domain = text.str.extract(r"^[^@\s]+@([^@\s]+\.[^@\s.]{2,})$", expand=False)
    codes, uniques = pd.factorize(domain, use_na_sentinel=True)
    free_set = {d.casefold() for d in free_mail}
    rival_set = {d.casefold() for d in competitors}
    types = [_domain_type(str(d), free_set, rival_set) for d in uniques]
    table = np.array([*types, np.nan], dtype=object)  # code -1: not an address
    return pd.Series(table[codes], index=emails.index, dtype=object)


def band(values: pd.Series, bands: tuple[tuple[float, ...], tuple[str, ...]],
         *, upper_inclusive: bool = True) -> pd.Series:
    """Band label of each numeric value (NaN, negative or non-numeric -> NaN).

    Parameters
    ----------
    values
        Numbers (or numeric strings).
    bands
        ``(inner edges, labels)`` with one more label than edges.
    upper_inclusive
        ``True``: a value equal to an edge belongs to the lower band (10 employees -> "1-10");
        ``False``: to the upper band (revenue of exactly 1M -> "1-10M").
    """
    edges, labels = bands
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    index = np.searchsorted(np.asarray(edges, dtype="float64"), numbers,
                            side="left" if upper_inclusive else "right")
    out = np.asarray(labels, dtype=object)[np.minimum(index, len(labels) - 1)]
    out[np.isnan(numbers) | (numbers < 0)] = np.nan
    return pd.Series(out, index=values.index, dtype=object)


def _by_distinct(values: pd.Series, fn) -> np.ndarray:
    """``fn`` applied to each distinct value once (missing -> ``fn(None)``), as objects."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([*(fn(u) for u in uniques), fn(None)], dtype=object)
    return table[codes]


def normalise_category(values: pd.Series, missing: list[str]) -> pd.Series:
    """Trimmed, space-collapsed, case-folded text; declared "not answered" tokens -> NaN.

    ``"Google"``, ``"google "`` and ``"GOOGLE"`` become one level ``"google"``; with
    ``missing=["Select"]`` the form default "Select" becomes NaN, as does an empty string.
    """
    missing_set = {" ".join(m.split()).casefold() for m in missing} | {""}

    def clean(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        text = " ".join(str(value).split()).casefold()
        return np.nan if text in missing_set else text

    return pd.Series(_by_distinct(values, clean), index=values.index, dtype=object)


_TRUE = frozenset({"yes", "true", "1", "y", "t", "1.0"})
_FALSE = frozenset({"no", "false", "0", "n", "f", "0.0"})


def to_flag(values: pd.Series) -> pd.Series:
    """0/1 floats from Yes/No, true/false, y/n, 1/0 (other text -> NaN); numbers pass through."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)

    def flag(value: object) -> float:
        text = "" if value is None else str(value).strip().casefold()
        return 1.0 if text in _TRUE else 0.0 if text in _FALSE else np.nan

    return pd.Series(_by_distinct(values, flag).astype("float64"), index=values.index)


def to_number(values: pd.Series) -> pd.Series:
    """Float64 numbers; text that is not a number -> NaN."""
    numbers = pd.to_numeric(values, errors="coerce")
    return pd.Series(numbers.to_numpy(dtype="float64", na_value=np.nan), index=values.index)


def declared_columns(settings: FeatureSettings) -> dict[str, tuple[str, str]]:
    """Feature name -> (raw column, role) of the columns listed in the settings.

    Raises
    ------
    DeclarationError
        If two declared columns give the same feature name.
    """
    out: dict[str, tuple[str, str]] = {}
    for role in ("categorical", "numeric", "boolean", "engagement", "negative"):
        for column in getattr(settings, role):
            name = feature_name(column)
            if not name:
                raise DeclarationError(f"column {column!r} gives an empty feature name")
            if name in out:
                raise DeclarationError(f"columns {column!r} and {out[name][0]!r} both give feature "
                                 f"{name!r}")
            out[name] = (column, role)
    return out


def build_fit_features(leads: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Fit features of each lead, before any fitting (levels are learned by the builder).

    Parameters
    ----------
    leads
        Canonical leads with a unique ``lead_id`` and the columns named in ``settings``.
        ``title_column``, ``email_column``, ``size_column`` and ``revenue_column`` are used when
        present (they default to the canonical B2B names); declared columns must exist.
    settings
        The config's ``features`` section.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``lead_id`` (str) in input order. Categorical columns are object strings with
        NaN for missing (``seniority``, ``department``, ``company_size_band``,
        ``company_revenue_band``, declared categoricals); flags (``is_student``,
        ``is_free_mail``, ``is_competitor``, declared booleans and negatives) are 0/1 floats
        (NaN when unknown, except the email flags, which are 0 without an address);
        numbers (``company_employees``, ``company_revenue``, declared numeric and engagement
        columns) are float64. The raw title and email are never returned.

    Raises
    ------
    ValueError
        If a declared column is missing or two columns give the same feature name.
    """
    if "lead_id" not in leads:
        raise ValueError("leads have no 'lead_id' column")
    declared = declared_columns(settings)
    missing = [column for column, _ in declared.values() if column not in leads]
    if missing:
        raise ValueError(f"leads lack declared feature column(s): {missing}")
    index = pd.Index(leads["lead_id"].astype(str).to_numpy(dtype=object), name="lead_id")
    frame: dict[str, pd.Series] = {}

    def col(name: str) -> pd.Series:
        return leads[name].set_axis(index)

    s = settings
    if s.title_column and s.title_column in leads:
        parsed = parse_titles(col(s.title_column))
        frame["seniority"] = parsed["seniority"]
        frame["department"] = parsed["department"]
        frame["is_student"] = (parsed["seniority"] == "student").astype("float64")
    if s.email_column and s.email_column in leads:
        domain_type = email_domain_type(col(s.email_column), s.free_mail_domains,
                                        s.competitor_domains)
        # No address is not a free-mail address: flags stay 0 rather than NaN.
        frame["is_free_mail"] = (domain_type == "free_mail").astype("float64")
        frame["is_competitor"] = (domain_type == "competitor").astype("float64")
    if s.size_column and s.size_column in leads:
        size = to_number(col(s.size_column))
        frame["company_size_band"] = band(size, SIZE_BANDS, upper_inclusive=True)
        frame["company_employees"] = size.where(size >= 0)
    if s.revenue_column and s.revenue_column in leads:
        revenue = to_number(col(s.revenue_column))
        frame["company_revenue_band"] = band(revenue, REVENUE_BANDS, upper_inclusive=False)
        frame["company_revenue"] = revenue.where(revenue >= 0)
    for name, (column, role) in declared.items():
        if name in frame:
            raise DeclarationError(f"declared column {column!r} gives feature {name!r}, which is "
                             "already derived from the title, email, size or revenue column")
        if role == "categorical":
            frame[name] = normalise_category(col(column), s.missing_values)
        elif role in ("numeric", "engagement"):
            frame[name] = to_number(col(column))
        else:
            frame[name] = to_flag(col(column))
    return pd.DataFrame(frame, index=index)
