"""Account quality: does the account score rank and calibrate accounts on the test leads?

The unit is an account's leads *within one split part*. The split is made of leads cut in time,
so an account's leads can straddle parts; its test leads are the ones no model was fitted or
calibrated on, and an account is judged on those alone (how many accounts also had leads in
training or validation is reported, ``straddling``). Each lead counts once, at its youngest
row (its first as_of, the moment sales first sees it), with that row's label "won within the
horizon". An account is won when any of its test leads is.

Three account scores are compared on the same test accounts:

* ``p_any = 1 - prod(1 - p_i)``, the roll-up of :mod:`pipeline.explain.accounts`, which
  assumes the leads convert independently given their scores;
* ``p_max``, the best lead's probability: what a team without a roll-up would look at (the
  reference of the paired AUC difference);
* ``p_any_calibrated``: ``p_any`` through an isotonic map fitted on the validation accounts,
  for when the leads' correlated errors make ``p_any`` miscalibrated.

Every figure carries a 95 % bootstrap interval over accounts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from pipeline.evaluation.metrics import (
    ECE_BINS,
    adaptive_calibration_error,
    bootstrap_auc,
    expected_calibration_error,
    paired_differences,
)
from pipeline.explain.accounts import SOLO_PREFIX, account_keys

UNIT = ("test leads grouped by account; each lead once, at its first as_of; an account is won "
        "when any of those leads is won within the horizon")


def first_rows(prepared: Any, part: str, p: np.ndarray) -> pd.DataFrame:
    """One row per lead of a split part: account, probability and label at its first as_of."""
    ts = prepared.training_set
    rows = prepared.ids(part)
    frame = pd.DataFrame({"lead_id": ts.lead_of.loc[rows].to_numpy(),
                          "as_of": ts.as_of.loc[rows].to_numpy() if ts.as_of is not None
                          else np.zeros(len(rows)),
                          "p": np.asarray(p, dtype="float64"),
                          "y": ts.y.loc[rows].to_numpy(dtype="float64")}, index=rows)
    first = frame.sort_values(["lead_id", "as_of"], kind="mergesort").drop_duplicates("lead_id")
    keys = account_keys(ts.leads.loc[first.index], prepared.config,
                        str(prepared.config.dataset.leads))
    return first.assign(account=keys.to_numpy())


def by_account(leads: pd.DataFrame) -> pd.DataFrame:
    """Per account: ``p_any`` (independence), ``p_max``, won (any lead won) and lead count."""
    work = leads.assign(log_none=np.log1p(-np.clip(leads["p"], 0.0, 1.0 - 1e-15)))
    groups = work.groupby("account", sort=True)
    return pd.DataFrame({"p_any": -np.expm1(groups["log_none"].sum()),
                         "p_max": groups["p"].max(), "won": groups["y"].max(),
                         "leads": groups.size()})


def _calibration(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> dict[str, float]:
    """ECE (equal-width and equal-mass) with 95 % bootstrap intervals over accounts."""
    out = {"roc_auc": float(roc_auc_score(y, p)), "mean_p": float(p.mean()),
           "brier": float(brier_score_loss(y, p)),
           "ece": expected_calibration_error(y, p),
           "ece_adaptive": adaptive_calibration_error(y, p)}
    if n_boot:
        out.update(bootstrap_auc(y, p, n_boot=n_boot, seed=seed))
        rng = np.random.default_rng(seed)
        # the ECE a perfectly calibrated score would show on this many accounts: labels drawn
        # from p itself; with a few hundred accounts it is near 0.03 on its own
        out["ece_noise_floor"] = float(np.mean([
            expected_calibration_error(rng.random(len(p)) < p, p) for _ in range(n_boot)]))
        draws = np.array([(expected_calibration_error(y[i], p[i]),
                           adaptive_calibration_error(y[i], p[i]))
                          for i in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))])
        for k, name in enumerate(("ece", "ece_adaptive")):
            out[f"{name}_ci_low"] = float(np.percentile(draws[:, k], 2.5))
            out[f"{name}_ci_high"] = float(np.percentile(draws[:, k], 97.5))
    return out


def reliability(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    """The reliability table of an account score: per equal-width bin, mean p, rate, count."""
    idx = np.minimum((p * ECE_BINS).astype(int), ECE_BINS - 1)
    table = pd.DataFrame({"bin": idx, "p": p, "y": y}).groupby("bin").agg(
        mean_p=("p", "mean"), rate=("y", "mean"), accounts=("y", "size"))
    return [{"mean_p": float(r.mean_p), "rate": float(r.rate), "accounts": int(r.accounts)}
            for r in table.itertuples()]


def account_metrics(prepared: Any, p_test: np.ndarray, p_valid: np.ndarray | None,
                    n_boot: int = 500, seed: int = 0) -> dict[str, Any]:
    """Ranking and calibration of the account scores on the test accounts (see the module).

    ``p_test`` / ``p_valid``: the lead model's calibrated probabilities of the test and
    validation rows (in ``prepared.ids`` order); without ``p_valid`` there is no calibrated
    account score.
    """
    leads = first_rows(prepared, "test", p_test)
    accounts = by_account(leads)
    y = accounts["won"].to_numpy()
    out: dict[str, Any] = {"unit": UNIT, "leads": int(len(leads)), "accounts": int(len(accounts)),
                           "multi_lead_accounts": int((accounts["leads"] >= 2).sum()),
                           "leads_in_multi_lead_accounts": int(
                               accounts.loc[accounts["leads"] >= 2, "leads"].sum()),
                           "won_accounts": int(y.sum())}
    ts = prepared.training_set
    earlier = ts.lead_of.loc[ts.split.index[ts.split.isin(["train", "valid"]).to_numpy()]]
    named = accounts.index[~accounts.index.str.startswith(SOLO_PREFIX)]
    if len(earlier):
        before = account_keys(ts.leads.loc[earlier.drop_duplicates().index], prepared.config,
                              str(prepared.config.dataset.leads))
        out["straddling"] = int(named.isin(before.to_numpy()).sum())
    if y.min() == y.max():
        out["note"] = "every test account has the same outcome: no AUC or calibration"
        return out
    scores = {"p_any": accounts["p_any"].to_numpy(), "p_max": accounts["p_max"].to_numpy()}
    if p_valid is not None:
        valid = by_account(first_rows(prepared, "valid", p_valid))
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(valid["p_any"].to_numpy(), valid["won"].to_numpy())
        scores["p_any_calibrated"] = iso.predict(scores["p_any"])
        out["calibrated_on"] = {"accounts": int(len(valid)),
                                "won_accounts": int(valid["won"].sum())}
    # the leads themselves at the same rows: how much of an account's gap is its leads'
    out["leads_first_as_of"] = _calibration(leads["y"].to_numpy(), leads["p"].to_numpy(),
                                            n_boot, seed)
    for name, p in scores.items():
        out[name] = _calibration(y, p, n_boot, seed)
        out[name]["reliability"] = reliability(y, p)
    if n_boot:
        refs = {"p_max": scores["p_max"]}
        out["p_any_vs_p_max"] = paired_differences(y, scores["p_any"], refs, n_boot, seed)["p_max"]
    return out


def account_lines(metrics: dict[str, Any]) -> list[str]:
    """The account figures as sentences (report section "Accounts", console)."""
    if "p_any" not in metrics:
        return [metrics.get("note", "no account figures")]

    def auc(m: dict[str, Any]) -> str:
        ci = f" ({m['auc_ci_low']:.3f}-{m['auc_ci_high']:.3f})" if "auc_ci_low" in m else ""
        return f"AUC {m['roc_auc']:.3f}{ci}"

    def ece(m: dict[str, Any]) -> str:
        ci = f" ({m['ece_ci_low']:.3f}-{m['ece_ci_high']:.3f})" if "ece_ci_low" in m else ""
        floor = f", noise floor {m['ece_noise_floor']:.3f}" if "ece_noise_floor" in m else ""
        return f"ECE {m['ece']:.3f}{ci}{floor}"

    lines = [f"{metrics['accounts']:,} test accounts ({metrics['multi_lead_accounts']:,} with "
             f"several leads, {metrics['won_accounts']:,} won) from {metrics['leads']:,} test "
             f"leads: {metrics['unit']}."]
    if "straddling" in metrics:
        lines.append(f"{metrics['straddling']:,} of these accounts also had leads in training "
                     "or validation; only their test leads count here.")
    lines.append(f"Account score (p_any, assuming independent leads): {auc(metrics['p_any'])}, "
                 f"{ece(metrics['p_any'])}.")
    lines.append(f"Best lead only (p_max): {auc(metrics['p_max'])}, {ece(metrics['p_max'])}.")
    if "p_any_vs_p_max" in metrics:
        d = metrics["p_any_vs_p_max"]
        lines.append(f"AUC of p_any minus p_max: {d['auc_diff']:+.4f} (paired 95 % interval "
                     f"{d['auc_diff_ci_low']:+.4f} to {d['auc_diff_ci_high']:+.4f}).")
    if "p_any_calibrated" in metrics:
        m = metrics["p_any_calibrated"]
        lines.append(f"p_any recalibrated on {metrics['calibrated_on']['accounts']:,} "
                     f"validation accounts (isotonic): {auc(m)}, {ece(m)}.")
    return lines
