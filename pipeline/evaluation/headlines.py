"""The headline numbers and warnings every output shows first, read from ``evaluation.json``.

One place for what the console (``pipeline/cli/tables.py``) and the report say about the test
split, so the two never disagree: every AUC with its 95 % bootstrap interval, differences with
the paired interval against the reference (the rules), the challenger's skill above chance
relative to the oracle, the two warnings (no better than chance, no better than the rules) and
which scorer the challenger chose on validation. Plain text and numbers only: no Rich, no HTML.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.scorers import kinds

CHANCE_AUC = 0.5
# What `dvc metrics show` prints per scorer kind (the intervals of each AUC stay in evaluation.json:
# three kinds times AUC, low, high, PR-AUC, Brier, ECE would be 18 columns, past a readable 15).
HEADLINE = ("roc_auc", "pr_auc", "brier", "ece")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def headline_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """At most 15 numbers for DVC: per scorer kind its test ROC-AUC, PR-AUC, Brier and ECE, and
    the challenger minus the rules in ROC-AUC with its paired 95 % interval (the comparison that
    decides whether the model is worth using). Numbers only; a missing figure is left out."""
    out: dict[str, dict[str, float]] = {}
    for name in kinds.names():
        m = metrics.get(name) or {}
        row = {key: float(m[key]) for key in HEADLINE if _number(m.get(key))}
        if row:
            out[name] = row
    m = metrics.get(kinds.CHALLENGER) or {}
    diff = {short: float(m[key]) for short, key in (("auc", "auc_diff"),
                                                    ("ci_low", "auc_diff_ci_low"),
                                                    ("ci_high", "auc_diff_ci_high"))
            if _number(m.get(key))}
    if diff:
        out[f"{kinds.CHALLENGER}_minus_{kinds.REFERENCE}"] = diff
    return out


def auc_text(auc: Any, low: Any = None, high: Any = None) -> str:
    """``0.846 (0.826-0.866)``; the AUC alone without an interval, empty without an AUC."""
    if not _number(auc):
        return ""
    if _number(low) and _number(high):
        return f"{auc:.3f} ({low:.3f}-{high:.3f})"
    return f"{auc:.3f}"


def diff_text(diff: Any, low: Any = None, high: Any = None) -> str:
    """``+0.010 (95% CI -0.016 to +0.031)``; empty without a difference."""
    if not _number(diff):
        return ""
    if _number(low) and _number(high):
        return f"{diff:+.3f} (95% CI {low:+.3f} to {high:+.3f})"
    return f"{diff:+.3f}"


def scorer_auc(metrics: dict[str, Any], name: str) -> str:
    """One scorer's test ROC-AUC with its interval."""
    m = metrics.get(name) or {}
    return auc_text(m.get("roc_auc"), m.get("auc_ci_low"), m.get("auc_ci_high"))


def scorer_handed(metrics: dict[str, Any], name: str) -> str:
    """Conversions/week handed to sales (the routing list) with its interval when there is one."""
    m = metrics.get(name) or {}
    value = m.get("conversions_handed_per_week")
    if value is None:
        return ""
    low, high = m.get("conversions_handed_ci_low"), m.get("conversions_handed_ci_high")
    return f"{value:.1f}" if low is None or high is None else f"{value:.1f} ({low:.1f}-{high:.1f})"


def scorer_diff(metrics: dict[str, Any], name: str) -> str:
    """One scorer's ROC-AUC minus the reference's, with the paired interval."""
    m = metrics.get(name) or {}
    return diff_text(m.get("auc_diff"), m.get("auc_diff_ci_low"), m.get("auc_diff_ci_high"))


def skill_vs_oracle(metrics: dict[str, Any], name: str) -> float | None:
    """(AUC - 0.5) / (oracle AUC - 0.5): the share of the attainable skill above chance.

    The plain ratio AUC / oracle AUC flatters: a random scorer already gets 0.5 / oracle (0.835
    against an oracle of 0.60), so a model with no skill read "0.856 of the oracle". Skill above
    chance is 0 for a random scorer and 1 for the oracle. None without an oracle, or when the
    oracle itself is no better than chance (nothing to be a share of).
    """
    auc = (metrics.get(name) or {}).get("roc_auc")
    oracle = (metrics.get("oracle") or {}).get("roc_auc")
    if not (_number(auc) and _number(oracle)) or oracle <= CHANCE_AUC:
        return None
    return (auc - CHANCE_AUC) / (oracle - CHANCE_AUC)


def oracle_line(metrics: dict[str, Any], name: str = kinds.CHALLENGER) -> str:
    """``model / oracle AUC 0.856; skill above chance 0.12 of the oracle's`` (or empty)."""
    skill = skill_vs_oracle(metrics, name)
    if skill is None:
        return ""
    auc = metrics[name]["roc_auc"]
    ratio = auc / metrics["oracle"]["roc_auc"]
    return (f"{name} / oracle AUC {ratio:.3f}; skill above chance (AUC - 0.5) / (oracle - 0.5) "
            f"{skill:.3f}")


def warnings(metrics: dict[str, Any]) -> list[str]:
    """What the first screen must say when the challenger has not shown it is worth using.

    Two checks on the test leads: the challenger's AUC interval reaches 0.5 (its ranking is
    not distinguishable from chance), and the paired interval of challenger minus reference
    reaches or is below 0 (it does not beat the rules).
    """
    m = metrics.get(kinds.CHALLENGER) or {}
    out = []
    low, high = m.get("auc_ci_low"), m.get("auc_ci_high")
    if _number(low) and _number(high) and low <= CHANCE_AUC:
        shown = scorer_auc(metrics, kinds.CHALLENGER)
        if high < CHANCE_AUC:
            out.append(f"the {kinds.CHALLENGER} ranks worse than chance on these test leads: "
                       f"ROC-AUC {shown}")
        else:
            out.append(f"the {kinds.CHALLENGER}'s ranking is not distinguishable from chance on "
                       f"these test leads: ROC-AUC {shown}")
    diff_low = m.get("auc_diff_ci_low")
    if _number(diff_low) and diff_low <= 0:
        out.append(f"the {kinds.CHALLENGER} does not beat your {kinds.REFERENCE} on these test "
                   f"leads: AUC difference {scorer_diff(metrics, kinds.CHALLENGER)}")
    return out


def selection(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """Which scorer the challenger chose on validation, and why, as text cells (or None).

    ``metrics["selection"]``: ``{"chosen", "reason", "candidates": {name: {valid_auc, ...,
    diff_vs_best, ..., test_roc_auc, ...}}}``; absent in metrics written before the choice
    existed, and then nothing is shown.
    """
    entry = metrics.get("selection")
    if not isinstance(entry, dict) or not isinstance(entry.get("candidates"), dict):
        return None
    chosen = entry.get("chosen")
    rows = []
    for name, c in entry["candidates"].items():
        c = c or {}
        rows.append({
            "name": str(name),
            "chosen": name == chosen,
            "valid_auc": auc_text(c.get("valid_auc"), c.get("valid_auc_ci_low"),
                                  c.get("valid_auc_ci_high")),
            "diff_vs_best": diff_text(c.get("diff_vs_best"), c.get("diff_vs_best_ci_low"),
                                      c.get("diff_vs_best_ci_high")),
            "test_auc": auc_text(c.get("test_roc_auc"), c.get("test_auc_ci_low"),
                                 c.get("test_auc_ci_high")),
        })
    from pipeline.scorers.selection import reason_of  # only where a choice is shown

    try:
        reason = str(entry.get("reason") or reason_of(entry))
    except (KeyError, TypeError, ValueError, IndexError):  # figures missing: show the table only
        reason = ""
    return {"chosen": "" if chosen is None else str(chosen), "reason": reason, "rows": rows}
