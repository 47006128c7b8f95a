"""Profiling a CRM export the way a data scientist would before writing its config.

:func:`profile_export` reads a leads export (and optionally its activity log) and guesses, with
the evidence for each guess: the delimiter and encoding, the id, creation, outcome and close-date
columns, how outcome values group into won / lost / open, which columns are categorical, numeric,
yes/no, dates or free text, which hold personal data (by name and by value pattern), which look
like leakage (the leakage audit's detectors: filled in for one outcome only, dates after
creation or on the outcome, ids, a near-perfect value or missingness AUC alone),
and the activity-type vocabulary with a proposed mapping onto the canonical types. A preset
(``pipeline/data/presets/<name>.yaml``) names a CRM's standard fields; its names win where the
export has them. ``leadscore init`` turns the profile into a starter config and rules sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.config import read_yaml_text
from pipeline.data.io import read_table
from pipeline.evaluation.audit import column_suspicions

PRESETS_DIR = Path(__file__).resolve().parents[1] / "data" / "presets"
SAMPLE_BYTES = 65_536
LEAK_AUC = 0.9

# Name patterns, checked on the casefolded column name with separators removed.
_ID = re.compile(r"^(id|leadid|recordid|prospectid|contactid|customerid|personid|uuid)$")
_CREATED = re.compile(r"(createdate|createddate|createdat|creationdate|datecreated|created)$")
_OUTCOME = re.compile(r"(status|stage|outcome|converted|lifecycle|result|target|label|revenue|"
                      r"^y$|won|closed|purchase)")
_OUTCOME_RANKED = (
    re.compile(r"^(y|target|label|converted|isconverted|won|iswon|outcome|revenue|purchased)$"),
    re.compile(r"(leadstatus|^status$|lifecyclestage|^stage$|dealstage)"),
    _OUTCOME,
)
_CLOSE = re.compile(r"(converteddate|closedate|closeddate|becameacustomerdate|wondate|"
                    r"outcomeat|decisiondate|conversiondate|dateconverted)")
_PII = re.compile(r"(email|e-?mail|firstname|lastname|fullname|^name$|phone|mobile|street|"
                  r"address|postal|zip|^ip|ipaddress|birth|ssn)")
_TITLE = re.compile(r"(jobtitle|^title$|position|jobrole)")
_SIZE = re.compile(r"(numberofemployees|employees|companysize|headcount)")
_REVENUE = re.compile(r"(annualrevenue|revenuerange|companyrevenue)")
_ENGAGEMENT = re.compile(r"(visit|view|page|session|time|duration|click|open|download|count|"
                         r"campaign|previous|contacts?$|calls?$)")
_NEGATIVE = re.compile(r"(donot|optout|unsubscrib|bounce|nocall|noemail)")
_EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_PHONE_VALUE = re.compile(r"^\+?[\d\s().\-]{7,20}$")
WON_WORDS = re.compile(r"^(won|closed.?won|converted|closed.?-?.?converted|customer|evangelist|"
                       r"yes|y|true|t|1|1\.0|success|purchased|sale|subscribed)$")
LOST_WORDS = re.compile(r"^(lost|closed.?lost|not.?converted|closed.?-?.?not.?converted|"
                        r"disqualified|unqualified|rejected|junk|no|n|false|f|0|0\.0|failure|"
                        r"bad.?timing|other|recycled|dead|churned)$")
# Activity vocabulary: canonical type -> words of an export's own type names.
TYPE_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
        ("email_unsubscribe", r"unsub|opt.?out"),
        ("email_bounce", r"bounce"),
        ("email_click", r"click"),
        ("email_open", r"open"),
        ("webinar_attended", r"webinar.*(attend|join)|attend"),
        ("webinar_registered", r"webinar.*regist|regist.*webinar"),
        ("demo_request", r"demo"),
        ("form_submit", r"form|submission|fill.?out|signup|sign.?up"),
        ("content_download", r"download|whitepaper|e-?book|asset|brochure"),
        ("sales_call", r"call|phone|dial"),
        ("offline_event", r"meeting|event|trade.?show|conference|booth|visit.?in.?person"),
        ("email_sent", r"(^|\W|_)(send|sent|email)($|\W|_)|^email"),
        ("web_visit", r"visit|page.?view|pageview|web|session|site"),
    ))


def _key(name: str) -> str:
    return re.sub(r"[\s_\-./]+", "", str(name).casefold())


@dataclass
class ColumnProfile:
    """One export column: its kind, fill rate and what it is suspected of."""

    name: str
    form: str  # id | date | numeric | boolean | categorical | text | empty
    filled: float
    levels: int
    examples: list[str]
    pii: str | None = None
    leak: str | None = None
    auc: float | None = None


@dataclass
class ActivityProfile:
    """The activity log: its role columns and type vocabulary with a proposed mapping."""

    path: Path
    rows: int
    delimiter: str
    encoding: str
    columns: dict[str, str | None]
    type_counts: dict[str, int]
    mapping: dict[str, list[str]]
    unmapped: dict[str, int]


@dataclass
class ExportProfile:
    """Everything ``init`` guessed about a leads export, and what the user must check."""

    path: Path
    rows: int
    delimiter: str
    encoding: str
    columns: list[ColumnProfile]
    roles: dict[str, str | None]
    outcome_values: dict[str, list[str]]
    features: dict[str, Any]
    preset: dict[str, Any] = field(default_factory=dict)
    activities: ActivityProfile | None = None
    checks: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)  # the preset's, where the export has them

    def column(self, name: str) -> ColumnProfile:
        """The profile of one column."""
        return next(c for c in self.columns if c.name == name)

    @property
    def pii(self) -> list[str]:
        """Columns holding personal data."""
        return [c.name for c in self.columns if c.pii]

    @property
    def leaky(self) -> dict[str, str]:
        """Suspected leakage, column -> why."""
        return {c.name: c.leak for c in self.columns if c.leak}


def sniff_format(path: Path) -> tuple[str, str]:
    """(delimiter, encoding) of a CSV from its first bytes; Parquet needs neither."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return ",", "utf-8"
    head = path.read_bytes()[:SAMPLE_BYTES]
    try:
        head.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        # a cut multi-byte character at the end of the sample is not a decoding problem
        encoding = "utf-8" if exc.start >= len(head) - 3 else "latin-1"
    first = head.decode(encoding, errors="replace").splitlines()[0] if head else ""
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=counts.get), encoding


def load_preset(name: str | None) -> dict[str, Any]:
    """A CRM preset's partial config (``{}`` for none); an unknown name lists the known ones."""
    from pipeline.data.errors import ConfigError

    if not name:
        return {}
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
        raise ConfigError(f"--preset {name}: no such preset (known: {known})")
    return read_yaml_text(path.read_text()) or {}


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().replace("", pd.NA).dropna()


def _kind(name: str, values: pd.Series, n_rows: int) -> str:
    text = _text(values)
    if text.empty:
        return "empty"
    folded = text.str.casefold()
    if folded.isin(["yes", "no", "true", "false", "y", "n", "t", "f", "0", "1"]).all() \
            and folded.nunique() <= 2:
        return "boolean"
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().mean() >= 0.98:
        if len(text) == n_rows and numbers.is_unique and (numbers % 1 == 0).all():
            return "id"  # a second key (a lead number): unique per row, no signal
        return "numeric" if numbers.nunique() > 12 else "categorical"
    if not _ID.match(_key(name)) and text.str.contains(r"\d", regex=True).mean() > 0.9:
        sample = text.head(500)
        dates = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
        if dates.notna().mean() >= 0.95:
            return "date"
    levels = text.nunique()
    if levels <= max(50, int(0.02 * n_rows)):
        return "categorical"
    return "text"


def _pii(name: str, values: pd.Series, form: str) -> str | None:
    if form == "date":
        return "a birth date" if "birth" in _key(name) else None  # dates look like phones
    if form in ("boolean", "numeric"):
        return None  # "Do Not Email" or "Email Opens" identify nobody
    if _PII.search(_key(name)):
        return "name says personal data"
    text = _text(values).head(2000)
    if text.empty:
        return None
    if text.str.match(_EMAIL_VALUE).mean() > 0.5:
        return "values look like email addresses"
    digits = text.str.replace(r"\D", "", regex=True).str.len()
    if (text.str.match(_PHONE_VALUE) & (digits >= 7) & text.str.contains(r"[\s()\-+]")).mean() \
            > 0.5:
        return "values look like phone numbers"
    return None


def group_outcomes(values: pd.Series) -> dict[str, list[str]]:
    """The distinct values of an outcome column grouped into won / lost / open."""
    groups: dict[str, list[str]] = {"won": [], "lost": [], "open": []}
    for value in sorted(_text(values).unique(), key=str):
        word = str(value).casefold().strip()
        group = "won" if WON_WORDS.match(word) else "lost" if LOST_WORDS.match(word) else "open"
        groups[group].append(str(value))
    return groups


def propose_mapping(types: dict[str, int]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Canonical type -> the export's values it covers, and the values nothing covers."""
    mapping: dict[str, list[str]] = {}
    unmapped: dict[str, int] = {}
    for value, count in types.items():
        canonical = next((name for name, words in TYPE_WORDS if words.search(str(value))), None)
        if canonical is None:
            unmapped[value] = count
        else:
            mapping.setdefault(canonical, []).append(value)
    return mapping, unmapped


def _pick(columns: list[str], pattern: re.Pattern[str], preset: str | None = None,
          accept=lambda name: True) -> str | None:
    if preset and preset in columns:
        return preset
    return next((c for c in columns if pattern.search(_key(c)) and accept(c)), None)


def profile_export(leads_path: Path, activities_path: Path | None = None,
                   preset_name: str | None = None, seed: int = 42) -> ExportProfile:
    """Profile a leads export (and activity log) into an :class:`ExportProfile`."""
    preset = load_preset(preset_name)
    p_ds = preset.get("dataset", {})
    p_cols = p_ds.get("columns", {})
    delimiter, encoding = sniff_format(leads_path)
    read = p_ds.get("read", {})
    delimiter, encoding = read.get("delimiter", delimiter), read.get("encoding", encoding)
    raw = read_table(leads_path, delimiter, encoding)
    n = len(raw)
    names = [str(c) for c in raw.columns]
    profiles = {c: ColumnProfile(c, _kind(c, raw[c], n), float(raw[c].notna().mean()),
                                 int(raw[c].nunique()),
                                 [str(v) for v in _text(raw[c]).unique()[:4]]) for c in names}
    for c, prof in profiles.items():
        prof.pii = _pii(c, raw[c], prof.form)
    checks: list[str] = []

    def unique_ids(c: str) -> bool:
        return raw[c].notna().all() and raw[c].is_unique

    roles: dict[str, str | None] = {
        "lead_id": _pick(names, _ID, p_cols.get("lead_id"), unique_ids),
        "created_at": _pick(names, _CREATED, p_cols.get("created_at"),
                            lambda c: profiles[c].form == "date"),
        "outcome_at": _pick(names, _CLOSE, p_cols.get("outcome_at"),
                            lambda c: profiles[c].form in ("date", "empty")),
    }
    def few_values(c: str) -> bool:
        return 2 <= profiles[c].levels <= 30 and profiles[c].form in ("boolean", "categorical")

    free = [c for c in names if c not in roles.values()]
    # the most target-like name first: 'y' or 'Converted' over 'poutcome' (a previous result)
    roles["outcome"] = p_cols.get("outcome") if p_cols.get("outcome") in names else next(
        (c for pattern in _OUTCOME_RANKED for c in free if pattern.search(_key(c))
         and few_values(c)), None)
    if roles["lead_id"] is None:
        checks.append("no unique id column found: lead_id: null numbers the rows (scores are "
                      "then matched to leads by row order)")
    for role, label in (("created_at", "creation date"), ("outcome", "outcome")):
        if roles[role] is None and (role == "outcome" or activities_path is not None):
            checks.append(f"no {label} column found: set dataset.columns.{role}")
    outcome_values = dict(p_ds.get("outcome_values") or {})
    if roles["outcome"] and not outcome_values:
        outcome_values = group_outcomes(raw[roles["outcome"]])
    if roles["outcome"]:
        checks.append(f"outcome '{roles['outcome']}': won = {outcome_values.get('won')}, "
                      f"lost = {outcome_values.get('lost')}, open = {outcome_values.get('open')}")
    activities = _profile_activities(activities_path, names, roles, p_ds) \
        if activities_path else None
    _flag_leaks(raw, profiles, roles, outcome_values, p_ds, seed)
    for column in p_ds.get("pii") or []:
        if column in profiles and not profiles[column].pii:
            profiles[column].pii = "personal data in this CRM (preset)"
    ignore = [c for c in p_ds.get("ignore") or [] if c in profiles]
    profile = ExportProfile(leads_path, n, delimiter, encoding, list(profiles.values()), roles,
                            outcome_values, {}, preset, activities, checks, ignore)
    profile.features = _feature_roles(profile, preset.get("features", {}))
    return profile


def _profile_activities(path: Path, lead_columns: list[str], roles: dict[str, str | None],
                        p_ds: dict[str, Any]) -> ActivityProfile:
    p_ac = p_ds.get("activity_columns", {})
    delimiter, encoding = sniff_format(path)
    raw = read_table(path, delimiter, encoding)
    names = [str(c) for c in raw.columns]
    id_name = roles.get("lead_id")
    columns = {
        "lead_id": _pick(names, re.compile(r"(whoid|leadid|contactid|prospectid|recordid|^id$)"),
                         p_ac.get("lead_id") or (id_name if id_name in names else None)),
        "occurred_at": _pick(names, re.compile(r"(date|time|timestamp|occurred|at$)"),
                             p_ac.get("occurred_at")),
        "activity_type": _pick(names, re.compile(r"(type|activity|event|action)"),
                               p_ac.get("activity_type")),
        "detail": _pick(names, re.compile(r"(subject|url|page|detail|primaryattribute|name)"),
                        p_ac.get("detail")),
        "quantity": _pick(names, re.compile(r"(quantity|pageviews|views|count)$"),
                          p_ac.get("quantity")),
    }
    types: dict[str, int] = {}
    if columns["activity_type"]:
        counts = _text(raw[columns["activity_type"]]).value_counts()
        types = {str(k): int(v) for k, v in counts.items()}
    preset_map = p_ds.get("activity_types")
    if isinstance(preset_map, dict) and preset_map:
        mapping = {k: [str(v) for v in (vs if isinstance(vs, list) else [vs])]
                   for k, vs in preset_map.items()}
        from pipeline.data.schema import DatasetConfig

        covers = DatasetConfig.model_validate(
            {"name": "x", "leads": "x", "activity_types": mapping}).activity_mapping()
        unmapped = {v: c for v, c in types.items() if covers.canonical(v) is None}
    else:
        mapping, unmapped = propose_mapping(types)
    return ActivityProfile(path, len(raw), delimiter, encoding, columns, types, mapping, unmapped)


def _flag_leaks(raw: pd.DataFrame, profiles: dict[str, ColumnProfile],
                roles: dict[str, str | None], outcome_values: dict[str, list[str]],
                p_ds: dict[str, Any], seed: int) -> None:
    """Mark leakage suspects: preset-listed, then the leakage audit's own detectors on the
    decided leads (the training audit judges the same way, so init's config trains)."""
    for column, reason in (p_ds.get("leaky") or {}).items():
        if column in profiles:
            profiles[column].leak = str(reason)
    outcome = roles.get("outcome")
    if not outcome:
        return
    folded = raw[outcome].astype("string").str.strip().str.casefold()
    won = folded.isin([v.casefold() for v in outcome_values.get("won", [])]).to_numpy()
    lost = folded.isin([v.casefold() for v in outcome_values.get("lost", [])]).to_numpy()
    decided = won | lost
    if won[decided].sum() < 10 or lost[decided].sum() < 10:
        return
    y = won[decided].astype(int)
    times = pd.DataFrame(index=range(int(decided.sum())))
    for role in ("created_at", "outcome_at"):
        if roles.get(role):
            stamps = pd.to_datetime(raw.loc[decided, roles[role]], errors="coerce", utc=True,
                                    format="mixed")
            times[role] = stamps.dt.tz_convert(None).to_numpy()
    skip = {v for v in roles.values() if v}
    for column, prof in profiles.items():
        if column in skip or prof.pii or prof.leak or prof.form == "empty":
            continue
        values = raw.loc[decided, column]
        if prof.form == "numeric":
            values = pd.to_numeric(values, errors="coerce")
        else:
            values = values.astype("string").str.strip().replace("", pd.NA).astype(object)
        # ids and free text are never proposed as features (they go to ignore): not leaks
        v_auc, m_auc, reasons = column_suspicions(
            values.reset_index(drop=True), y, LEAK_AUC, seed, times,
            ids=prof.form not in ("id", "text"))
        prof.auc = float(max(v_auc, m_auc))
        if reasons:
            prof.leak = "; ".join(reasons)


def _feature_roles(profile: ExportProfile, p_features: dict[str, Any]) -> dict[str, Any]:
    """Which columns become which kind of feature (events mode: fit fields only)."""
    names = [c.name for c in profile.columns]
    roles = set(v for v in profile.roles.values() if v)
    flat = profile.activities is None
    out: dict[str, Any] = {"title_column": None, "email_column": None, "size_column": None,
                           "revenue_column": None}
    for key, pattern in (("title_column", _TITLE), ("email_column", re.compile("email")),
                         ("size_column", _SIZE), ("revenue_column", _REVENUE)):
        if key in p_features:  # the preset knows this CRM: its null means "not here"
            preset = p_features[key]
            picked = preset if preset in names else None
        else:
            picked = _pick(names, pattern)
        if picked and not flat and picked not in roles:
            out[key] = picked
    if flat:
        out["email_column"] = None
    used = roles | {v for v in out.values() if v} | set(profile.ignore)
    lists: dict[str, list[str]] = {k: [] for k in ("categorical", "numeric", "boolean",
                                                   "engagement", "negative")}
    declared = {column: key for key in lists for column in p_features.get(key) or []}
    for prof in profile.columns:
        if prof.name in used or prof.pii or prof.leak:
            continue
        if prof.name in declared:
            lists[declared[prof.name]].append(prof.name)
            continue
        if prof.form in ("date", "text", "empty", "id"):
            continue
        key = _key(prof.name)
        if prof.form == "boolean":
            lists["negative" if _NEGATIVE.search(key) else "boolean"].append(prof.name)
        elif prof.form == "numeric":
            bucket = "engagement" if flat and _ENGAGEMENT.search(key) else "numeric"
            lists["negative" if _NEGATIVE.search(key) else bucket].append(prof.name)
        elif prof.form == "categorical":
            lists["categorical"].append(prof.name)
    out.update(lists)
    return out
