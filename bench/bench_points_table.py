"""Benchmark the learned points table: rule count against test AUC, paired with the hand rules.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_points_table.py                  # both data sets
    .venv/bin/python bench/bench_points_table.py --only demo
    .venv/bin/python bench/bench_points_table.py --markdown       # a section for the docs

Data sets: X Education (``configs/x_education.yaml``, the real flat export, random stratified
split) and the 40,000-lead demo world (``configs/demo.yaml``, split by as_of time). Each is
prepared once (:func:`pipeline.stages.prepare.prepare`: the split, audit and feature table
``leadscore train`` uses); the hand-made rules and the learned points table are fitted on the
same training and validation leads, for every ``points.max_rules`` of ``--rules`` (``0``:
unlimited), and scored on the same test leads.

The AUC is that of the table's total points (its own ranking, before calibration); the interval
of the difference learned - rules is a paired bootstrap of the test leads (both tables scored on
the same resamples). Run with another checkout first on ``PYTHONPATH`` (its code wins: this
script only appends its own folder to ``sys.path``) to measure that checkout's table: a
learned-points scorer without ``max_rules`` is measured once, as it comes.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    DEMO_LEADS,
    ROOT,
    bench_parser,
    cached_world,
    log,
    markdown_mode,
    md_table,
    write_demo_config,
)

X_EDUCATION = ROOT.parent / "shared" / "data" / "x_education" / "leads.csv"
DATASETS = ("x_education", "demo")
TITLES = {"x_education": "X Education (real flat export, random stratified split)",
          "demo": f"Demo world ({DEMO_LEADS:,} synthetic leads, split by as_of time)"}
RULE_COUNTS = (5, 10, 15, 25, 40, 0)
N_BOOT = 1000


def _config(name: str, folder: Path, world: Path | None):
    from pipeline.data.config import load_config

    if name == "x_education":
        os.chdir(ROOT)  # the config's paths are relative to the project root
        return load_config(ROOT / "configs" / "x_education.yaml",
                           {"artifacts_dir": str(folder / "artifacts")})
    world = world or cached_world(DEMO_LEADS)
    return load_config(write_demo_config(folder, world))


def measure(name: str, rule_counts: tuple[int, ...], world: Path | None) -> list[dict]:
    """One row per table: rules, then the learned table at every rule count."""
    from pipeline.data.io import load_dataset
    from pipeline.evaluation.metrics import bootstrap_auc
    from pipeline.scorers import kinds
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.prepare import prepare

    with tempfile.TemporaryDirectory() as tmp:
        config = _config(name, Path(tmp), world)
        leads, activities, report = load_dataset(config)
        report.raise_if_failed()
        prepared = prepare(config, leads, activities)
        ctx = prepared.scorer_context(load_rules(config.rules), str(config.rules))
    fit_rows = prepared.fit_rows()
    X_test, y_test = prepared.rows("test")
    rules = kinds.get("rules").build(ctx).fit(*fit_rows)
    p_rules = rules.decision_function(X_test)
    ci = bootstrap_auc(y_test, p_rules, n_boot=N_BOOT, seed=0)
    rows = [{"table": "hand-made rules", "rules": _n_rules(rules.points_book()),
             "auc": _auc(y_test, p_rules), **ci, "seconds": float("nan")}]
    learned = kinds.get("learned_points").build(ctx)
    counts = rule_counts if "max_rules" in inspect.signature(type(learned)).parameters else (-1,)
    for count in counts:
        log(f"{name}: learned points, max_rules {count if count > 0 else 'unlimited'}")
        scorer = learned if count == -1 else learned.set_params(max_rules=count or None)
        started = time.perf_counter()
        scorer.fit(*fit_rows)
        seconds = time.perf_counter() - started
        p = scorer.decision_function(X_test)
        label = ("this checkout's default" if count == -1
                 else f"max_rules {count}" if count else "max_rules unlimited")
        rows.append({"table": f"learned, {label}", "rules": _n_rules(scorer.points_book()),
                     "auc": _auc(y_test, p),
                     **bootstrap_auc(y_test, p, p_rules, n_boot=N_BOOT, seed=0),
                     "seconds": seconds})
    return rows


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _n_rules(book) -> int:
    """Rules of a table: levels, flags, steps and per-event rules (not the start, not the MQL)."""
    return (sum(len(levels) for levels in book.attributes.values()) + len(book.flags)
            + sum(len(steps) for steps in book.thresholds.values()) + len(book.activities))


def table_of(rows: list[dict]) -> str:
    """Markdown table of one data set's rows."""
    body = []
    for row in rows:
        diff = ("" if "auc_diff" not in row else
                f"{row['auc_diff']:+.4f} [{row['auc_diff_ci_low']:+.4f}, "
                f"{row['auc_diff_ci_high']:+.4f}]")
        beats = "" if not diff else ("yes" if row["auc_diff_ci_low"] > 0 else "no")
        seconds = "" if np.isnan(row["seconds"]) else f"{row['seconds']:.1f}"
        body.append([row["table"], row["rules"],
                     f"{row['auc']:.4f} [{row['auc_ci_low']:.4f}, {row['auc_ci_high']:.4f}]",
                     diff, beats, seconds])
    return md_table(["table", "rules", "test AUC [95 % CI]", "learned - rules [paired 95 % CI]",
                     "beats rules", "fit s"], body)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--only", choices=DATASETS, action="append",
                        help="one data set (repeatable; default both)")
    parser.add_argument("--rules", type=int, nargs="+", default=list(RULE_COUNTS),
                        help="points.max_rules values to measure (0: unlimited)")
    parser.add_argument("--world", type=Path, default=None,
                        help="folder of an already generated demo world (default: the cache)")
    args = parser.parse_args(argv)
    sections = []
    with markdown_mode(args.markdown):
        for name in args.only or DATASETS:
            if name == "x_education" and not X_EDUCATION.is_file():
                log(f"x_education: skipped, {X_EDUCATION} not found")
                continue
            rows = measure(name, tuple(args.rules), args.world)
            section = f"**{TITLES[name]}**\n\n{table_of(rows)}\n"
            print(section)
            sections.append(section)
    if args.markdown:
        print("\n".join(sections))


if __name__ == "__main__":
    main()
