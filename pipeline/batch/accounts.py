"""``score --by account``: the local job's buckets carry each lead's account, and the parts are
rolled up into one row per account at the end.

Buckets are cut by lead id, so one account's leads are spread over many buckets: each bucket
adds the lead's account key, title seniority and factor points to its part file
(:func:`add_account_columns`), and :func:`write_accounts` reads those few columns of every part
and rolls them up (:func:`pipeline.explain.accounts.roll_up`). Memory is the leads' probability
and factor points, one row per lead (about 30 floats), not their features or reasons.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.data.config import Config
from pipeline.data.io import atomic_path
from pipeline.explain.accounts import account_keys, lead_seniority, roll_up
from pipeline.explain.package import POINTS_PREFIX

ACCOUNT, SENIORITY = "__account", "__seniority"


def add_account_columns(scored: pd.DataFrame, leads: pd.DataFrame, config: Config,
                        file: str) -> pd.DataFrame:
    """``scored`` (rows in ``leads`` order) with each lead's account key and seniority.

    Raises
    ------
    DataError
        The account column (``dataset.account``) is not in ``file``.
    """
    scored[ACCOUNT] = account_keys(leads, config, file).to_numpy()
    scored[SENIORITY] = lead_seniority(leads, config).to_numpy()
    return scored


def write_accounts(files: list[Path], output: Path, fmt: str, config: Config) -> int:
    """Roll the scored parts up into the account file (atomic); returns the accounts written."""
    frames = []
    for path in files:
        names = pq.ParquetFile(path).schema_arrow.names
        wanted = ["lead_id", "probability", "engagement_level", ACCOUNT, SENIORITY]
        frames.append(pd.read_parquet(path, columns=wanted + [
            n for n in names if n.startswith(POINTS_PREFIX)]))
    leads = pd.concat(frames, ignore_index=True).fillna(
        {c: 0.0 for c in frames[0].columns if c.startswith(POINTS_PREFIX)})
    points = leads[[c for c in leads.columns if c.startswith(POINTS_PREFIX)]]
    settings = config.dataset.accounts
    accounts = roll_up(
        leads.rename(columns={ACCOUNT: "account", SENIORITY: "seniority"}),
        points.rename(columns=lambda c: c[len(POINTS_PREFIX):]),
        engaged_level=settings.engaged_level, senior=settings.senior,
        top_leads=settings.top_leads, top_factors=settings.top_factors)
    with atomic_path(output, suffix=f".{fmt}.tmp") as tmp:
        if fmt == "csv":
            accounts.to_csv(tmp, index=False)
        else:
            accounts.to_parquet(tmp, index=False)
    return len(accounts)
