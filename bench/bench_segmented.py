"""Benchmark the segmented fit and multi-snapshot training against their single-model references.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_segmented.py               # the 40,000-lead demo world
    .venv/bin/python bench/bench_segmented.py --leads 10000
    .venv/bin/python bench/bench_segmented.py --markdown    # section for docs/benchmarks.md

On the demo config (``dataset.segment: product_line``, ``as_of: {rule: grid}``) the LightGBM
scorer the model kind builds (a :class:`~pipeline.scorers.segmented.SegmentedScorer`) is fitted on
the prepared training rows with their per-lead weights, and compared with:

* ``lgb.train`` with the global model's parameters for as many rounds as it grew, on the same
  rows and weights, no validation set, early stopping or calibration (goal: segmented fit <= 2x);
* the same preparation (features) + fit with one as_of per lead (``days_after_created``, 14 days)
  on the same leads (goal: the grid's features + fit <= 3x).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    CACHE,
    DEMO_LEADS,
    SEED,
    bench_parser,
    best_time,
    cached_world,
    log,
    markdown_mode,
    md_table,
    write_demo_config,
)
from bench.goals import marker  # noqa: E402

SINGLE = {"dataset": {"as_of": {"rule": "days_after_created", "days": 14}}}
GOALS = {"segmented": 2.0, "grid": 3.0}


def prepare_and_fit(config, leads, activities, rules) -> dict:
    """Features (``prepare``) then the LightGBM scorer's fit, each timed once."""
    from pipeline.scorers.lightgbm import build
    from pipeline.stages.prepare import prepare

    started = time.perf_counter()
    prepared = prepare(config, leads, activities, parts=("train", "valid"))
    features_s = time.perf_counter() - started
    scorer = build(prepared.scorer_context(rules))
    rows, weights = prepared.fit_rows(), prepared.weights()
    started = time.perf_counter()
    scorer.fit(*rows, sample_weight=weights)
    fit_s = time.perf_counter() - started
    return {"features": features_s, "fit": fit_s, "scorer": scorer, "rows": rows,
            "weights": weights, "leads": prepared}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=DEMO_LEADS, help="leads of the world")
    parser.add_argument("--repeats", type=int, default=1, help="reference fits best of this many")
    args = parser.parse_args(argv)

    import lightgbm as lgb

    from pipeline.data.config import load_config
    from pipeline.data.io import load_dataset
    from pipeline.scorers.rules import load_rules

    with markdown_mode(args.markdown):
        world = cached_world(args.leads, SEED)
        path = write_demo_config(CACHE / "segmented", world)
        config = load_config(path)
        leads, activities, report = load_dataset(config)
        report.raise_if_failed()
        rules = load_rules(config.rules)
        log("grid: features + segmented fit")
        grid = prepare_and_fit(config, leads, activities, rules)
        log("one as_of per lead: features + segmented fit")
        single = prepare_and_fit(load_config(path, SINGLE), leads, activities, rules)

        scorer = grid["scorer"]
        X, y, _, _ = grid["rows"]
        model = getattr(scorer, "global_", scorer)
        grown = model.rounds_grown_
        params = model.lightgbm_params(y)
        log(f"reference lgb.train: {len(X):,} rows, {grown} rounds")
        raw_s = best_time(
            lambda: lgb.train(params, lgb.Dataset(X, y, weight=grid["weights"]),
                              num_boost_round=grown),
            args.repeats,
        )

    segments = ", ".join(getattr(scorer, "scorers_", {})) or "none"
    seg_ratio = grid["fit"] / raw_s
    grid_total = grid["features"] + grid["fit"]
    single_total = single["features"] + single["fit"]
    n_grid, n_single = len(grid["rows"][0]), len(single["rows"][0])
    rows = [
        ["segmented fit (global + segment models, early stopping, calibration), grid rows",
         f"{grid['fit']:.2f}", f"{n_grid:,}"],
        [f"reference: `lgb.train`, global params, {grown} rounds, same rows and weights",
         f"{raw_s:.2f}", f"{n_grid:,}"],
        ["grid (`as_of: {rule: grid}`): features", f"{grid['features']:.2f}", f"{n_grid:,}"],
        ["grid: features + fit", f"{grid_total:.2f}", f"{n_grid:,}"],
        ["one as_of per lead (14 days after creation): features", f"{single['features']:.2f}",
         f"{n_single:,}"],
        ["one as_of per lead: fit", f"{single['fit']:.2f}", f"{n_single:,}"],
        ["one as_of per lead: features + fit", f"{single_total:.2f}", f"{n_single:,}"],
    ]
    ratios = [
        ["segmented fit / `lgb.train`", f"{seg_ratio:.2f}x", f"<= {GOALS['segmented']:g}x",
         "yes" if seg_ratio <= GOALS["segmented"] else "no"],
        ["grid / one as_of, features + fit", f"{grid_total / single_total:.2f}x",
         f"<= {GOALS['grid']:g}x", "yes" if grid_total / single_total <= GOALS["grid"] else "no"],
        ["grid / one as_of, training rows", f"{n_grid / n_single:.2f}x", "", ""],
    ]
    if args.markdown:
        print(
            f"World: {args.leads:,} leads (`artifacts/bench/{world.name}`), the demo config "
            f"(segment `product_line`; segment models kept: {segments}; "
            f"{model.threads} LightGBM threads). Fits and features timed once; the reference "
            f"best of {args.repeats}.\n"
        )
        print(md_table(["step", "seconds", "training rows"], rows))
        print()
        print(md_table(["ratio", "value", "goal", "met"], ratios))
        print(marker("segmented_fit", f"{seg_ratio:.2f}x", seg_ratio <= GOALS["segmented"]))
        grid_ratio = grid_total / single_total
        print(marker("multi_snapshot", f"{grid_ratio:.2f}x", grid_ratio <= GOALS["grid"]))
    else:
        for row in rows + ratios:
            print("  " + " | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
