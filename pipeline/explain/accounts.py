"""Accounts: leads rolled up into one row per account (company), the buying committee's view.

A B2B deal is bought by a committee at one account, so sales asks "which accounts", not only
"which leads". ``dataset.account`` names the key: a lead column (``company``, Salesforce
``Company``) or ``email_domain``, the domain of the lead's email address. A free-mail domain
(``features.free_mail_domains``) is no company, so each such lead, and each lead without a key,
is its own account (``lead:<lead_id>``). Keys are case-folded with inner spaces collapsed, so
"Acme Inc" and " acme  inc" are one account. The key is an identifier: it never becomes a
feature, and an email address itself never leaves this module, only its domain when that is the
key.

:func:`roll_up` turns scored leads into accounts. ``p_any = 1 - prod(1 - p_i)`` is the chance
that at least one of the account's leads converts within the horizon *assuming the leads convert
independently* given their scores. Leads of one company share its fit, so their model errors
are correlated and ``p_any`` can be off; :mod:`pipeline.evaluation.accounts` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.data.config import Config
from pipeline.data.dataset_schema import ACCOUNT_FROM_EMAIL
from pipeline.data.errors import DataError
from pipeline.scorers.scaling import score_from_proba

SOLO_PREFIX = "lead:"  # accounts of one lead: free mail or no key
SENIOR = ("c-level", "vp", "director")

#: The account file's columns (docs/CONTRACTS.md "Account file" says what each means).
ACCOUNT_COLUMNS = [
    "account", "account_score", "p_any", "p_max", "p_mean", "leads", "engaged_contacts",
    "senior_contacts", "top_lead_ids", "factor_1", "factor_2", "factor_3",
]


def account_keys(leads: pd.DataFrame, config: Config, file: str) -> pd.Series:
    """The normalised account key of each canonical lead (on the leads' index).

    Raises
    ------
    DataError
        The column ``dataset.account`` names (or the email column) is not in ``file``.
    """
    account, fs = config.dataset.account, config.features
    column = fs.email_column if account == ACCOUNT_FROM_EMAIL else account
    if not column:
        raise DataError(f"{file}: dataset.account is not set")
    if column not in leads:
        raise DataError(f"{file}: column {column!r} missing (dataset.account: {account})")
    solo = SOLO_PREFIX + leads["lead_id"].astype(str)
    text = leads[column].astype("string").str.strip().str.casefold()
    if account == ACCOUNT_FROM_EMAIL:
        text = text.str.extract(r"^[^@\s]+@([^@\s]+\.[^@\s.]{2,})$", expand=False)
        # a subdomain of a free-mail domain (mail.yahoo.com) is free mail too
        free = [d for d in text.dropna().unique()
                if any(d == f or d.endswith("." + f) for f in fs.free_mail_domains)]
        text = text.mask(text.isin(free))
    text = text.str.replace(r"\s+", " ", regex=True)
    key = text.where(text.notna() & (text != ""), solo)
    return key.astype(object).rename("account")


def lead_seniority(leads: pd.DataFrame, config: Config) -> pd.Series:
    """Title seniority of each lead (``features.firmographic.parse_titles``), ``unknown``
    without a title column."""
    from features.firmographic import parse_titles

    column = config.features.title_column
    if column and column in leads:
        return parse_titles(leads[column]).set_axis(leads.index)["seniority"]
    return pd.Series("unknown", index=leads.index, dtype=object)


def roll_up(
    leads: pd.DataFrame,
    points: pd.DataFrame,
    *,
    engaged_level: int = 2,
    senior: Sequence[str] = SENIOR,
    top_leads: int = 3,
    top_factors: int = 3,
) -> pd.DataFrame:
    """One row per account from scored leads (columns :data:`ACCOUNT_COLUMNS`).

    Parameters
    ----------
    leads
        One row per lead: ``lead_id``, ``account``, ``probability`` (calibrated),
        ``engagement_level`` (1-4, may be missing) and ``seniority``.
    points
        The leads' factor score points (rows aligned with ``leads``, one column per factor).
    engaged_level, senior, top_leads, top_factors
        ``dataset.accounts``: see :class:`pipeline.data.dataset_schema.AccountRollup`.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``p_any``, best first (ties by account key); ``factor_k`` is ``""`` when the
        account has fewer factors with a non-zero sum.
    """
    frame = leads.reset_index(drop=True)
    p = frame["probability"].to_numpy(dtype="float64")
    level = pd.to_numeric(frame["engagement_level"], errors="coerce")
    work = pd.DataFrame({
        "account": frame["account"].astype(str).to_numpy(),
        # log1p(-p) sums to log prod(1 - p) without underflow for large accounts
        "log_none": np.log1p(-np.clip(p, 0.0, 1.0 - 1e-15)), "p": p,
        "engaged": (level <= engaged_level).fillna(False).to_numpy(dtype=bool),
        "senior": frame["seniority"].isin(list(senior)).to_numpy(dtype=bool),
    })
    groups = work.groupby("account", sort=True)
    out = pd.DataFrame({
        "p_any": -np.expm1(groups["log_none"].sum()),
        "p_max": groups["p"].max(), "p_mean": groups["p"].mean(),
        "leads": groups.size(), "engaged_contacts": groups["engaged"].sum(),
        "senior_contacts": groups["senior"].sum(),
    })
    out.insert(0, "account_score", score_from_proba(out["p_any"].to_numpy()))
    best = (pd.DataFrame({"account": work["account"], "p": p,
                          "lead_id": frame["lead_id"].astype(str).to_numpy()})
            .sort_values(["account", "p", "lead_id"], ascending=[True, False, True],
                         kind="mergesort"))
    out["top_lead_ids"] = best.groupby("account", sort=True)["lead_id"].agg(
        lambda ids: "; ".join(ids.head(top_leads)))
    summed = points.reset_index(drop=True).groupby(work["account"], sort=True).sum()
    factors = _top_factors(summed, top_factors)
    for k in range(top_factors):
        out[f"factor_{k + 1}"] = factors[:, k] if k < factors.shape[1] else ""
    out = out.reset_index(names="account")
    out = out.sort_values(["p_any", "account"], ascending=[False, True], kind="mergesort")
    columns = [c for c in ACCOUNT_COLUMNS if not c.startswith("factor_")]
    columns += [f"factor_{k + 1}" for k in range(top_factors)]
    for name in ("leads", "engaged_contacts", "senior_contacts"):
        out[name] = out[name].astype("int64")
    return out[columns].reset_index(drop=True)


def _top_factors(summed: pd.DataFrame, top: int) -> np.ndarray:
    """Per account, ``"Factor: +12"`` for the ``top`` largest |summed points| (ties by name)."""
    names = np.asarray(summed.columns, dtype=object)
    values = summed.to_numpy(dtype="float64")
    text = np.full((len(summed), top), "", dtype=object)
    if not names.size:
        return text
    # stable sort on the column order, which is the factor order of the spec
    order = np.argsort(-np.abs(values), axis=1, kind="stable")
    for k in range(min(top, names.size)):
        j = order[:, k]
        v = values[np.arange(len(values)), j]
        shown = np.abs(v) >= 0.5  # what rounds to +0 says nothing
        text[shown, k] = [f"{n}: {x:+.0f}" for n, x in zip(names[j[shown]], v[shown],
                                                            strict=True)]
    return text
