"""The performance goals and the one summary table of docs/benchmarks.md that judges them.

A benchmark that measures a goal prints :func:`marker` inside its markdown section: an HTML
comment holding the figure as JSON, invisible on GitHub. ``python -m bench`` reads the markers of
every section in the document, the ones just measured and the ones kept from earlier runs, and
renders :func:`summary` at the top. So the summary can never disagree with the sections below
it, and a goal no section measured is listed as such instead of disappearing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """One goal: what is measured, the bar, and the benchmark (section) that measures it."""

    name: str
    what: str
    target: str
    bench: str


#: In the order of the issue that set them (performance: sum of parts, memory, cores, busy
#: machine, segmented training).
GOALS = (
    Goal("sum_of_parts_explain", "`leadscore score` with explanations / sum of its parts",
         ">= 0.6x", "score"),
    Goal("sum_of_parts_no_explain", "`leadscore score --no-explain` / sum of its parts",
         ">= 0.6x", "score"),
    Goal("same_output", "output before and after the speed-ups, 200k leads, explained",
         "every column equal", "score"),
    Goal("rss_1m", "peak RSS, 1M leads and 20M events, with explanations", "< 1 GiB", "scale"),
    Goal("rss_flat", "peak RSS from 100k to 3M leads, largest / smallest", "flat (<= 1.25x)",
         "scale"),
    Goal("time_linear", "exponent b of time = a * leads^b, 100k to 3M leads", "0.9 <= b <= 1.1",
         "scale"),
    Goal("workers", "`--workers 2` / `--workers 1` wall time, single-threaded kernels",
         "<= 0.6x", "workers"),
    Goal("busy_tune", "`leadscore tune` beside one CPU-bound process / alone", "<= 2.5x", "busy"),
    Goal("busy_train", "`leadscore train` beside one CPU-bound process / alone", "<= 2.5x",
         "busy"),
    Goal("segmented_fit", "segmented scorer's fit / one global `lgb.train`, same rows",
         "<= 2x", "segmented"),
    Goal("multi_snapshot", "multi-snapshot training / single-as_of training, same leads",
         "<= 3x", "segmented"),
)
_BY_NAME = {g.name: g for g in GOALS}
_MARKER = re.compile(r"<!-- goal (\{.*?\}) -->")


def marker(name: str, measured: str, met: bool) -> str:
    """The line a benchmark prints in its section for goal ``name`` (``measured``: the figure)."""
    if name not in _BY_NAME:
        raise KeyError(f"unknown goal {name!r}; bench/goals.py GOALS lists {sorted(_BY_NAME)}")
    entry = {"name": name, "measured": measured, "met": bool(met)}
    return f"<!-- goal {json.dumps(entry)} -->"


def read_markers(sections: Iterable[str]) -> dict[str, dict]:
    """The goal figures recorded in ``sections`` (a later section wins a repeated goal)."""
    found: dict[str, dict] = {}
    for text in sections:
        for match in _MARKER.finditer(text):
            entry = json.loads(match.group(1))
            if entry.get("name") in _BY_NAME:
                found[entry["name"]] = entry
    return found


def summary(sections: Iterable[str], anchors: dict[str, str]) -> str:
    """The goals table: each goal, its measured figure, its bar, met or not, and where."""
    found = read_markers(sections)
    rows = []
    for goal in GOALS:
        entry = found.get(goal.name)
        where = f"[{goal.bench}](#{anchors[goal.bench]})" if goal.bench in anchors else goal.bench
        if entry is None:
            rows.append(f"| {goal.what} | not measured | {goal.target} | — | {where} |")
        else:
            met = "**yes**" if entry["met"] else "**no**"
            rows.append(f"| {goal.what} | {entry['measured']} | {goal.target} | {met} | {where} |")
    met = sum(1 for g in GOALS if found.get(g.name, {}).get("met"))
    return (
        "## Summary: the performance goals\n\n"
        f"{met} of {len(GOALS)} goals met. Each figure is a ratio (or a size) measured side by "
        "side in one run on this machine; the section named on the right has the figures it comes "
        "from, its command and how busy the machine was.\n\n"
        "| goal | measured | target | met | section |\n| --- | ---: | ---: | ---: | --- |\n"
        + "\n".join(rows)
        + "\n"
    )
