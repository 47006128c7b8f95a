"""Benchmark calibration by lead age: a model trained at day 14 against one trained on the grid.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_ages.py               # the 40,000-lead demo world
    .venv/bin/python bench/bench_ages.py --markdown    # section for docs/benchmarks.md

Both models are the LightGBM scorer of ``configs/demo.yaml`` (no segments, calibrated on their own
validation rows): one trained with ``as_of: {days: 14}`` (one row per lead, 14 days after
creation), one with ``as_of: {rule: grid}``. Both score the *same* test rows, the grid's: every
test lead at every age of the grid at which it was still undecided. Per age bucket the table
gives the observed rate, each model's mean probability and equal-mass ECE (95 % bootstrap
interval) and AUC. A model trained at one age ranks leads of other ages well enough, but its
probabilities belong to day 14.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    DEMO_LEADS,
    bench_parser,
    cached_world,
    log,
    markdown_mode,
    md_table,
    write_demo_config,
)


def _lightgbm(prepared):
    from pipeline.scorers import lightgbm

    ctx = dataclasses.replace(prepared.scorer_context(), segment=None)
    X, y, Xv, yv = prepared.fit_rows()
    return lightgbm.build(ctx).fit(X, y, Xv, yv, sample_weight=prepared.weights())


def main() -> int:
    args = bench_parser(__doc__.splitlines()[0]).parse_args()
    from sklearn.metrics import roc_auc_score

    from pipeline.data.config import load_config
    from pipeline.data.io import load_dataset
    from pipeline.evaluation.ages import metrics_by_age
    from pipeline.stages.evaluate import test_ages
    from pipeline.stages.prepare import prepare

    world = cached_world(DEMO_LEADS)
    with tempfile.TemporaryDirectory() as tmp, markdown_mode(args.markdown):
        path = write_demo_config(Path(tmp), world)
        grid_cfg = load_config(path, {"dataset": {"as_of": {"rule": "grid"}}})
        day14_cfg = load_config(path, {"dataset": {"as_of": {"rule": "days_after_created",
                                                             "days": 14}}})
        leads, activities, report = load_dataset(grid_cfg)
        report.raise_if_failed()
        log("preparing the grid and the day-14 training sets")
        grid, day14 = prepare(grid_cfg, leads, activities), prepare(day14_cfg, leads, activities)
        log("fitting both LightGBM models")
        grid_model, day14_model = _lightgbm(grid), _lightgbm(day14)
        ts = grid.training_set
        rows = ts.part("test")
        X_grid, y = grid.rows("test")
        # the day-14 model asked about the same rows, through its own fitted feature builder
        X_day14 = day14.builder.transform(ts.leads.loc[rows], activities, ts.as_of.loc[rows])
        probs = {"day 14": day14_model.predict_proba(X_day14)[:, 1],
                 "grid": grid_model.predict_proba(X_grid)[:, 1]}
        by_age = metrics_by_age(y, probs, test_ages(grid), n_boot=200, seed=grid_cfg.seed)

    def ece(entry, name):
        e = entry[name]
        return (f"{e['ece_adaptive']:.3f} ({e['ece_adaptive_ci_low']:.3f}-"
                f"{e['ece_adaptive_ci_high']:.3f})")

    table = [[label, f"{e['rows']:,}", f"{e['observed']:.3f}",
              f"{e['day 14']['mean_p']:.3f}", ece(e, "day 14"),
              f"{e['grid']['mean_p']:.3f}", ece(e, "grid")] for label, e in by_age.items()]
    print(f"### Calibration by lead age ({DEMO_LEADS:,}-lead demo world, "
          f"{len(rows):,} grid test rows of {ts.lead_of.loc[rows].nunique():,} leads)\n")
    print(md_table(["ages", "rows", "observed", "day-14 mean p", "day-14 ECE (95% CI)",
                    "grid mean p", "grid ECE (95% CI)"], table))
    aucs = {name: roc_auc_score(y, p) for name, p in probs.items()}
    worst = {name: max(e[name]["ece_adaptive"] for e in by_age.values()) for name in probs}
    print(f"\nAUC over all test rows: day-14 model {aucs['day 14']:.3f}, grid model "
          f"{aucs['grid']:.3f}. Worst bucket ECE: day-14 {worst['day 14']:.3f}, grid "
          f"{worst['grid']:.3f} (ratio {worst['day 14'] / max(worst['grid'], 1e-9):.1f}x).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
