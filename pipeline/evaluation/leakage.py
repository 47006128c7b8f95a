"""The leakage detectors: one column of the training leads at a time, each with its evidence.

A label leak rarely shows as a value that separates converters: it shows as *when* a field is
written. A declared revenue filled in only once a deal is won has a useless value AUC among the
rows that have it, and a perfect missingness AUC. So every column is judged on:

- the AUC of its value on the rows where it is present, and the AUC of its missingness;
- groups of rows that are (nearly) all one outcome (:func:`one_outcome_group`);
- dates written after the lead was looked at, or on or after its outcome (:func:`later_dates`);
- ids a model would memorise (:func:`id_like`);
- a conversion rate in disguise, e.g. a target encoding computed on all leads
  (:func:`target_encoding_like`).

Each detector returns the sentence a user reads ("filled only for converted leads: 412 rows,
100 % converted") or None. :mod:`pipeline.evaluation.audit` turns them into the audit table;
``leadscore init`` (:mod:`pipeline.stages.profile`) uses the same functions on a raw export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

# A group is "one outcome" when at least this share of its rows has it ...
PURE_SHARE = 0.99
# ... and a group that pure would arise under the training base rate less often than this.
# 1e-6 keeps the chance of one false alarm over a few hundred groups far below one in a thousand.
TAIL_PROBABILITY = 1e-6
# Dates: a suspect when at least this share of its filled rows (and at least MIN_ROWS rows)
# lies after the lead's as_of or on/after its outcome. An honest pre-contact date is never
# later; a few typing errors are, so the bar is above noise, far below "most rows".
LATER_SHARE = 0.05
MIN_ROWS = 10
# Ids: text with at least this share of distinct values among its filled rows ...
TEXT_DISTINCT = 0.5
# ... integers with ~all values distinct, packed in a range not much wider than the row count
# (keys are handed out in order; a measured amount in dollars spreads over orders of magnitude).
INTEGER_DISTINCT = 0.99
INTEGER_SPAN = 100
MIN_ID_ROWS = 50
# Target-encoding-like: few levels, each value within this of its own rows' conversion rate, and
# that match far closer than the rates' own spread (so a small count column is not one by luck).
ENCODING_LEVELS = 30
ENCODING_ERROR = 0.05
ENCODING_SPREAD = 4.0


def percent(share: float) -> str:
    """A share as users read it: '100 %' only when it is exactly all."""
    if share >= 1.0:
        return "100 %"
    return f"{100 * share:.1f} %" if share > 0.99 or share < 0.01 else f"{100 * share:.0f} %"


def is_numeric(values: pd.Series) -> bool:
    """Numeric, not boolean: judged by value, not by level."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _oriented(auc: float) -> float:
    return float(max(auc, 1.0 - auc))


def oof_target_rate(values: pd.Series, y: np.ndarray, seed: int) -> np.ndarray:
    """Each row's level conversion rate learned on the other folds (5 folds, smoothed)."""
    keys = values.astype(str).fillna("<missing>").to_numpy()
    out = np.empty(len(keys), dtype="float64")
    prior = float(y.mean())
    n_folds = int(min(5, np.bincount(y).min()))
    if n_folds < 2:
        return np.full(len(keys), prior)
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    for fit_idx, held_idx in folds.split(keys, y):
        rates = pd.Series(y[fit_idx]).groupby(keys[fit_idx]).agg(["sum", "count"])
        # light smoothing towards the prior: a level seen twice is not a 100 % signal
        smoothed = (rates["sum"] + 10 * prior) / (rates["count"] + 10)
        out[held_idx] = pd.Series(keys[held_idx]).map(smoothed).fillna(prior).to_numpy()
    return out


def value_auc(values: pd.Series, y: np.ndarray, seed: int = 0) -> float:
    """ROC-AUC of a column's value on the rows where it is present, oriented (0.5: useless).

    Numeric columns rank by value; others by their out-of-fold level conversion rate, so a
    many-level column cannot score by memorising its own rows.
    """
    y = np.asarray(y)
    present = values.notna().to_numpy()
    values, y = values[present], y[present]
    if len(y) < 2 or y.min() == y.max() or values.nunique() <= 1:
        return 0.5
    if is_numeric(values):
        return _oriented(roc_auc_score(y, values.astype("float64").to_numpy()))
    return float(roc_auc_score(y, oof_target_rate(values.reset_index(drop=True), y, seed)))


def missingness_auc(values: pd.Series, y: np.ndarray) -> float:
    """ROC-AUC of the column's ``isna()`` alone, oriented: is *whether* it is filled the signal?"""
    y = np.asarray(y)
    missing = values.isna().to_numpy()
    if missing.all() or not missing.any() or y.min() == y.max():
        return 0.5
    return _oriented(roc_auc_score(y, missing.astype("float64")))


def _groups(values: pd.Series, y: np.ndarray) -> tuple[pd.DataFrame, str]:
    """The groups to test as (label, rows, won, is_level), and the dominant group's label.

    Counted with one groupby, not one mask per level: a free-text column has a level per row.
    """
    missing = values.isna().to_numpy()
    won_all = int(y.sum())
    rows: list[tuple[str, int, int, bool]] = []
    if missing.any():
        rows.append(("empty", int(missing.sum()), int(y[missing].sum()), False))
    if is_numeric(values):
        mode = values.value_counts(dropna=False).index[0]
        if pd.isna(mode):
            rows.append(("filled", int((~missing).sum()), int(y[~missing].sum()), False))
        else:
            equal = (values == mode).to_numpy()
            rest = ~missing & ~equal
            rows.append((f"equal to its most common value ({mode:g})", int(equal.sum()),
                         int(y[equal].sum()), True))
            rows.append((f"different from its most common value ({mode:g})", int(rest.sum()),
                         int(y[rest].sum()), False))
        table = pd.DataFrame(rows, columns=["label", "rows", "won", "is_level"])
        return table, table.loc[table["rows"].idxmax(), "label"]
    counts = pd.Series(y[~missing]).groupby(values.astype(str).to_numpy()[~missing]).agg(
        ["count", "sum"])
    levels = pd.DataFrame({"label": [f"'{k}'" for k in counts.index],
                           "rows": counts["count"].to_numpy(), "won": counts["sum"].to_numpy(),
                           "is_level": True})
    table = pd.concat([pd.DataFrame(rows, columns=levels.columns), levels], ignore_index=True)
    dominant = table.loc[table["rows"].idxmax(), "label"]
    if dominant == "empty":  # then "filled at all" is the pattern to test, all levels together
        table.loc[len(table)] = ["filled", int((~missing).sum()), won_all - int(y[missing].sum()),
                                 False]
    return table, dominant


def one_outcome_group(values: pd.Series, y: np.ndarray) -> str | None:
    """A group of rows other than the column's dominant one that is (nearly) all one outcome.

    Groups: the empty rows; for a numeric column its most common value and the rest; for any
    other column each level (and all filled rows together). A group is flagged when at least
    99 % of it has one outcome and so pure a group has a binomial tail probability under the
    training base rate below 1e-6. A single level (or a numeric column's most common value)
    must, in addition, be that pure with 95 % confidence (Clopper-Pearson): a level is a value
    chosen before contact (a source, a country), and honest levels do come close (a referral
    partner whose leads nearly all buy: 98.6 % of 142 on X Education), whereas whether a field
    is filled at all is how a CRM writes outcomes.
    """
    y = np.asarray(y).astype(int)
    n = len(y)
    if n == 0 or y.min() == y.max():
        return None
    rate = float(y.mean())
    table, dominant = _groups(values.reset_index(drop=True), y)
    table = table[(table["label"] != dominant) & (table["rows"] > 0) & (table["rows"] < n)]
    found: list[tuple[int, str]] = []
    for outcome, p in ((1, rate), (0, 1.0 - rate)):
        size = table["rows"].to_numpy(dtype="int64")
        won = table["won"].to_numpy(dtype="int64")
        hits = won if outcome == 1 else size - won
        # vectorised: a free-text column tests one group per row
        pure = (hits / size >= PURE_SHARE) & (stats.binom.sf(hits - 1, size, p)
                                               < TAIL_PROBABILITY)
        sure = stats.beta.ppf(0.05, np.maximum(hits, 1), size - hits + 1) >= PURE_SHARE
        keep = pure & (sure | ~table["is_level"].to_numpy(dtype=bool))
        who = "converted" if outcome == 1 else "not converted"
        for label, n_rows, n_hits in zip(table["label"].to_numpy()[keep], size[keep],
                                         hits[keep], strict=True):
            found.append((int(n_rows), f"{label} only for {who} leads: {int(n_rows):,} rows, "
                                       f"{percent(n_hits / n_rows)} {who}"))
    if not found:
        return None
    return max(found)[1]


def parse_dates(values: pd.Series) -> pd.Series | None:
    """The column as naive UTC timestamps when it holds dates (datetime dtype or date text)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.to_datetime(values, utc=True)
        return out.dt.tz_convert(None)
    if is_numeric(values) or pd.api.types.is_bool_dtype(values):
        return None
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if len(text) < MIN_ROWS:
        return None
    sample = text.head(500)
    # numbers and codes are not dates even where a lenient parser reads them as one
    if pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5 \
            or sample.str.contains(r"\d", regex=True).mean() < 0.9:
        return None
    if pd.to_datetime(sample, errors="coerce", utc=True, format="mixed").notna().mean() < 0.95:
        return None
    parsed = pd.to_datetime(values.astype("string").str.strip(), errors="coerce", utc=True,
                            format="mixed")
    return parsed.dt.tz_convert(None)


def _naive(times: pd.Series | None, index: pd.Index) -> pd.Series | None:
    if times is None:
        return None
    out = pd.to_datetime(pd.Series(np.asarray(times), index=index), utc=True)
    return out.dt.tz_convert(None) if out.notna().any() else None


def later_dates(values: pd.Series, created: pd.Series | None = None,
                as_of: pd.Series | None = None, outcome_at: pd.Series | None = None
                ) -> str | None:
    """A date column written after the lead was looked at, or on/after its outcome.

    ``as_of`` (events mode) is the moment the lead is scored; without it (flat mode) the lead's
    creation stands in, with one day's grace for dates kept to the day. The outcome test counts
    days on or after the outcome date but not the creation day itself, so a deal won the day it
    arrived does not make every creation-day date look late.
    """
    dates = parse_dates(values)
    if dates is None:
        return None
    index = values.index
    created, as_of, outcome_at = (_naive(s, index) for s in (created, as_of, outcome_at))
    day = dates.dt.normalize()
    findings: list[tuple[float, str]] = []
    reference = as_of if as_of is not None else created
    if reference is not None:
        grace = pd.Timedelta(0) if as_of is not None else pd.Timedelta(days=1)
        both = dates.notna() & reference.notna()
        later = both & (dates > reference + grace)
        what = "its as_of" if as_of is not None else "the lead's creation"
        if both.sum() and later.sum() >= MIN_ROWS and later.sum() / both.sum() >= LATER_SHARE:
            share = later.sum() / both.sum()
            findings.append((share, f"a date after {what} for {int(later.sum()):,} of "
                                    f"{int(both.sum()):,} rows ({percent(share)})"))
    if outcome_at is not None:
        both = dates.notna() & outcome_at.notna()
        late = both & (day >= outcome_at.dt.normalize())
        if created is not None:
            late &= day > created.dt.normalize()
        if both.sum() and late.sum() >= MIN_ROWS and late.sum() / both.sum() >= LATER_SHARE:
            share = late.sum() / both.sum()
            findings.append((share, f"a date on or after the outcome for {int(late.sum()):,} of "
                                    f"{int(both.sum()):,} decided rows ({percent(share)})"))
    if not findings:
        return None
    return max(findings)[1]


def id_like(values: pd.Series) -> str | None:
    """An id or free text: so many distinct values that a model learns rows, not leads."""
    present = values.dropna()
    n = len(present)
    if n < MIN_ID_ROWS:
        return None
    distinct = int(present.nunique())
    if is_numeric(values):
        numbers = present.astype("float64")
        if not (numbers % 1 == 0).all() or distinct < INTEGER_DISTINCT * n:
            return None
        if numbers.max() - numbers.min() + 1 > INTEGER_SPAN * n:
            return None
    elif distinct < TEXT_DISTINCT * n:
        return None
    return (f"id-like: {distinct:,} distinct values in {n:,} rows ({percent(distinct / n)}); "
            "a model would memorise the rows")


def target_encoding_like(values: pd.Series, y: np.ndarray) -> str | None:
    """A numeric column in [0, 1] (or 0-100) whose few values are their own rows' conversion rate.

    That is what a target encoding (or a score fitted on these outcomes) looks like; an honest
    small count column can sit near low rates by luck, so the match must also be far closer
    than the spread of the rates it matches.
    """
    if not is_numeric(values):
        return None
    y = np.asarray(y)
    present = values.notna().to_numpy()
    numbers = values[present].astype("float64").to_numpy()
    labels = y[present]
    if len(numbers) < MIN_ID_ROWS or numbers.min() < 0:
        return None
    scale = 1.0 if numbers.max() <= 1.0 else 100.0 if numbers.max() <= 100.0 else None
    if scale is None:
        return None
    table = pd.DataFrame({"v": numbers / scale, "y": labels}).groupby("v")["y"].agg(
        ["mean", "count"])
    if not 3 <= len(table) <= ENCODING_LEVELS:
        return None
    weights = table["count"] / table["count"].sum()
    error = float((weights * (table.index.to_numpy() - table["mean"]).abs()).sum())
    centre = float((weights * table["mean"]).sum())
    spread = float(np.sqrt((weights * (table["mean"] - centre) ** 2).sum()))
    if error > ENCODING_ERROR or spread < ENCODING_SPREAD * error or spread == 0:
        return None
    return (f"target-encoding-like: its {len(table)} values are their own rows' conversion rate "
            f"(mean gap {error:.3f}, rates spread {spread:.3f})")
