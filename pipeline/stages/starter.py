"""Starter files ``leadscore init`` writes from an :class:`~pipeline.stages.profile.ExportProfile`.

The config is written as text, section by section, with a comment on every guess so that the
user can check it where it stands. The rules sheet follows the points-system practice
(docs/FEATURES.md, configs/rules/demo.yaml): fit points for who the lead is, engagement points
per event with caps and step decay, negative points, and an MQL line at 100. It names only
features the training leads really have (the caller filters it against the feature spec).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from features.activity import ACTIVITY_TYPES
from features.firmographic import feature_name
from pipeline.stages.profile import ExportProfile

# Engagement points per event and their caps: the demo sheet's practice (a demo request is
# worth a sales call, a page view almost nothing), negatives as penalties.
ACTIVITY_POINTS: dict[str, tuple[float, float]] = {
    "demo_request": (30, 60), "page_pricing": (10, 30), "page_demo": (10, 30),
    "sales_call": (15, 30), "webinar_attended": (10, 20), "form_submit": (10, 20),
    "offline_event": (10, 20), "content_download": (5, 15), "email_click": (3, 15),
    "email_open": (1, 10), "web_visit": (1, 10), "email_bounce": (-10, 20),
    "email_unsubscribe": (-30, 30), "page_careers": (-10, 30),
}
FIT_POINTS: dict[str, dict[str, float]] = {
    "seniority": {"c-level": 25, "vp": 20, "director": 15, "manager": 8, "individual": 0,
                  "student": -25},
    "company_size_band": {"1-10": -5, "11-50": 0, "51-200": 5, "201-1000": 10,
                          "1001-5000": 15, "5000+": 15},
}
FLAG_POINTS = {"is_free_mail": -10, "is_competitor": -50, "unsubscribed": -30}


def _flow(value: Any) -> str:
    """One YAML value on one line (quoted where YAML would misread it)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True
                          ).strip().removesuffix("...").strip()


def _line(key: str, value: Any, comment: str = "", indent: int = 2) -> str:
    text = f"{' ' * indent}{key}: {_flow(value)}"
    return f"{text}   # {comment}" if comment else text


def _slug(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", path.stem).strip("_") or "crm"


def render_config(profile: ExportProfile, name: str, rules_path: Path | None) -> str:
    """The commented starter config of a profiled export."""
    roles, p_ds = profile.roles, profile.preset.get("dataset", {})
    flat = profile.activities is None
    mode = "flat" if flat else "events"
    lines = [
        f"# Starter config written by `leadscore init` from {profile.path} "
        f"({profile.rows:,} rows).",
        "# Every guess is commented: check them, then `leadscore validate --config THIS_FILE`.",
        "# Defaults not written here come from LeadScore's packaged defaults; "
        "`leadscore config --config THIS_FILE` lists every effective value and its source.",
        "dataset:",
        _line("name", name),
        _line("mode", mode, "flat: one row per lead, no activity log" if flat
              else "events: leads plus a timestamped activity log"),
        _line("leads", str(profile.path)),
    ]
    if not flat:
        lines.append(_line("activities", str(profile.activities.path)))
    if profile.delimiter != "," or profile.encoding != "utf-8":
        lines.append(_line("read", {"delimiter": profile.delimiter,
                                    "encoding": profile.encoding}, "sniffed from the file"))
    lines.append("  columns:                 # the export's own column for each role")
    outcome = roles.get("outcome")
    for role, why in (("lead_id", "unique, never empty" if roles.get("lead_id")
                       else "no unique id column found: null numbers the rows"),
                      ("created_at", "when the lead was created"),
                      ("outcome", "won / lost / open status"),
                      ("outcome_at", "close date of won / lost leads")):
        value = roles.get(role)
        if flat and role in ("created_at", "outcome_at"):
            value, why = None, "not used in flat mode"
        lines.append(_line(role, value, why, indent=4))
    if outcome:
        lines.append(f"  outcome_values:          # values of '{outcome}': CHECK the grouping")
        for group in ("won", "lost", "open"):
            lines.append(_line(group, profile.outcome_values.get(group, []), indent=4))
    if not flat and roles.get("outcome_at"):
        policy = p_ds.get("missing_outcome_at", "error")
        lines.append(_line("missing_outcome_at", policy, "won/lost leads without a close "
                           "date: error | drop | horizon"))
    if not flat:
        lines += _activity_lines(profile)
    lines.append(_line("pii", profile.pii, "personal data: never a feature, never logged"))
    if profile.leaky:
        lines.append("  leaky:                   # suspected leakage: excluded from the "
                     "features; keep one with keep: {column: why} only if known before contact")
        lines += [_line(column, reason, indent=4) for column, reason in profile.leaky.items()]
    if not flat:
        lines += _stage_lines(profile)
    used = set(roles.values()) | set(profile.pii) | set(profile.leaky) | {
        v for v in profile.features.values() if isinstance(v, str)} | set(
        (p_ds.get("stages") or {}).values())
    ignored = list(profile.ignore) + [c.name for c in profile.columns if c.form in (
        "text", "date", "empty", "id") and c.name not in used and c.name not in profile.ignore]
    if ignored:
        lines.append(_line("ignore", ignored, "free text, dates and empty columns"))
    if not flat:
        lines += ["  as_of:                   # when a training lead is looked at",
                  _line("rule", "grid", "one training row per lead age, so a score means the "
                        "same at any age (days_after_created + days: one age)", indent=4),
                  _line("grid_days", [0, 3, 7, 14, 30, 60, 90, 120, 180],
                        "lead ages (days after creation) of the training rows", indent=4),
                  _line("horizon_days", 180, "a conversion counts within 180 days of as_of")]
    lines += _feature_lines(profile, mode)
    lines += _split_lines(profile, flat)
    lines.append(_line("rules", None if rules_path is None else str(rules_path),
                       "the starter points sheet; replace it with your team's", indent=0))
    return "\n".join(lines) + "\n"


def _stage_lines(profile: ExportProfile) -> list[str]:
    """The preset's lifecycle stage dates that the export has (a missing one would be refused)."""
    have = {c.name for c in profile.columns}
    stages = {stage: column for stage, column in
              (profile.preset.get("dataset", {}).get("stages") or {}).items() if column in have}
    if not stages:
        return []
    return ["  stages:                  # lifecycle stage dates for the funnel (preset): "
            "never features", *(_line(stage, column, indent=4) for stage, column in stages.items())]


def _activity_lines(profile: ExportProfile) -> list[str]:
    act = profile.activities
    lines = ["  activity_columns:        # the activity log's own column for each role"]
    for role, value in act.columns.items():
        lines.append(_line(role, value, indent=4))
    lines.append("  activity_types:          # canonical type: [the export's values]; "
                 "'re:PATTERN' matches a regular expression")
    for canonical in sorted(act.mapping, key=lambda t: (t not in ACTIVITY_TYPES, t)):
        counts = [act.type_counts.get(v, 0) for v in act.mapping[canonical]]
        lines.append(_line(canonical, act.mapping[canonical],
                           f"{sum(counts):,} events" if any(counts) else "", indent=4))
    policy = profile.preset.get("dataset", {}).get("unknown_activity")
    if policy is None:
        policy = "other" if act.unmapped else "error"
    unmapped = ", ".join(f"{v} ({n:,})" for v, n in list(act.unmapped.items())[:10])
    lines.append(_line("unknown_activity", policy, f"not mapped: {unmapped}; CHECK" if unmapped
                       else "every type in the log is mapped"))
    return lines


def _feature_lines(profile: ExportProfile, mode: str) -> list[str]:
    f = profile.features
    lines = ["features:", _line("mode", mode)]
    for key in ("title_column", "email_column", "size_column", "revenue_column"):
        lines.append(_line(key, f.get(key)))
    for key, why in (("categorical", "fit fields with few levels"),
                     ("numeric", "numeric fit fields"),
                     ("boolean", "yes/no fields"),
                     ("engagement", "pre-aggregated behaviour counts (flat mode)"),
                     ("negative", "signals against buying (opt-outs, bounces)")):
        if f.get(key) or key in ("categorical",):
            lines.append(_line(key, f.get(key, []), why))
    return lines


def _split_lines(profile: ExportProfile, flat: bool) -> list[str]:
    lines = ["split:"]
    if not flat:
        return [*lines, _line("method", "time", "the newest leads are the test split")]
    created = next((c.name for c in profile.columns if c.form == "date"
                    and c.name not in profile.leaky and c.name not in profile.pii), None)
    if created:
        return [*lines, _line("method", "time"),
                _line("order_by", created, "orders the leads in time: CHECK")]
    return [*lines, _line("method", "random", "no date column: if the rows are in time order "
                          "(oldest first), set method: time and row_order: true")]


def starter_rules(profile: ExportProfile, names: list[str],
                  leads: pd.DataFrame | None = None) -> dict[str, Any]:
    """A points sheet over the features that exist (``names``, from the fitted spec)."""
    have = set(names)
    book: dict[str, Any] = {
        "name": f"{profile.path.stem} starter points",
        "description": "Written by leadscore init from the points-system practice; not fitted "
                       "to the data. Replace the values with your team's judgement.",
        "mql_threshold": 100, "decay": {"half_life_days": 30},
    }
    attributes = {k: v for k, v in FIT_POINTS.items() if k in have}
    if attributes:
        book["attributes"] = attributes
    flags = {k: v for k, v in FLAG_POINTS.items() if k in have}
    flat = profile.features
    for column in flat.get("negative", []):
        if feature_name(column) in have:
            flags[feature_name(column)] = -20
    if flags:
        book["flags"] = flags
    signals = {n.rsplit("_", 1)[0] for n in names if re.search(r"_\d+d$", n)}
    activities = {k: {"points": p, "cap": c} for k, (p, c) in ACTIVITY_POINTS.items()
                  if k in signals}
    if activities:
        book["activities"] = activities
    thresholds: dict[str, list[dict[str, float]]] = {}
    if "days_since_last_activity" in have:
        thresholds["days_since_last_activity"] = [{"min": 30, "points": -10},
                                                  {"min": 90, "points": -10}]
    if leads is not None:
        for column in flat.get("engagement", []):
            steps = _steps(pd.to_numeric(leads.get(column), errors="coerce"))
            if steps and feature_name(column) in have:
                # 10 + 10 + 15: three strong behaviour fields reach the MQL line of 100
                thresholds[feature_name(column)] = [
                    {"min": s, "points": p} for s, p in zip(steps, (10, 10, 15), strict=False)]
    if thresholds:
        book["thresholds"] = thresholds
    return book


def _steps(values: pd.Series | None) -> list[float]:
    """Readable steps at the median, 75th and 90th percentile of the non-zero values."""
    if values is None:
        return []
    positive = values[values > 0].dropna()
    if len(positive) < 20:
        return []
    # two significant digits: a sheet says "visits >= 5", not "visits >= 4.83"
    return sorted({float(f"{np.quantile(positive, q):.2g}") for q in (0.5, 0.75, 0.9)})


def render_rules(book: dict[str, Any]) -> str:
    """The rules sheet as YAML with a header saying what it is."""
    header = ("# Starter points sheet written by `leadscore init`: fit points, engagement points"
              " per event\n# with caps and decay, negative points, MQL at 100. Field names are "
              "feature names\n# (docs/FEATURES.md). Not fitted to any data: edit the values.\n")
    return header + yaml.safe_dump(book, sort_keys=False, allow_unicode=True)
