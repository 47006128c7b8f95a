"""Benchmark training: ``train_scorers`` on the demo world against a plain LightGBM fit.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_train.py                  # the 40,000-lead demo world
    .venv/bin/python bench/bench_train.py --leads 100000
    .venv/bin/python bench/bench_train.py --markdown       # section for docs/benchmarks.md

``train_scorers`` (what ``leadscore train`` runs, without MLflow and without the bootstrap
intervals) is timed once, per phase, on a cached world from ``artifacts/bench/``. On the very same
training matrix two references are then timed (best of ``--repeats``):

* ``lgb.train`` with LeadScore's own parameters for as many rounds as LeadScore grew, without the
  validation set, early stopping and calibration: what the wrapper adds to the raw fit;
* ``lightgbm.LGBMClassifier()`` with its defaults (100 trees, learning rate 0.1): what a user
  would run first.

Boosters of different sizes are compared by rows/s and by row-trees/s (training rows times
boosting rounds per second), which removes the difference in the number of trees.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    CACHE,
    DEMO_LEADS,
    SEED,
    bench_parser,
    best_time,
    cached_world,
    describe_scorer,
    global_scorer,
    log,
    markdown_mode,
    md_table,
    refit_seconds,
    train_from_config,
    world_summary,
    write_demo_config,
)


def warm_treeshap() -> float:
    """Load (or compile, on a fresh checkout) the numba TreeSHAP kernel; returns the seconds.

    ``train_scorers`` explains the training rows for the grade bands; the one-off JIT compile of
    a fresh checkout would otherwise be counted as training time.
    """
    import lightgbm as lgb

    from pipeline.scorers.treeshap import TreeShapExplainer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_leaves": 4},
        lgb.Dataset(X, (X[:, 0] > 0).astype(float)),
        num_boost_round=2,
    )
    started = time.perf_counter()
    TreeShapExplainer(booster).contributions(X)
    return time.perf_counter() - started


PHASES = {
    "prepare_s": "preparation: labels, split, leakage audit, features (fit on train leads)",
    "rules_fit_s": "rules: calibration, grade cuts, drift reference",
    "learned_points_fit_s": "learned points table, grade cuts, drift reference",
    "model_fit_s": "model fit, grade cuts, drift reference",
    "evaluate_s": "evaluation on the test rows",
}


def _row(label: str, seconds: float, rows: int | None, trees: str = "", rounds: int = 0):
    """One table row: seconds, rows and rows/s, and with boosting rounds M row-trees/s."""
    return [
        label,
        f"{seconds:.2f}",
        f"{rows:,}" if rows else "",
        f"{rows / seconds:,.0f}" if rows else "",
        trees,
        f"{rows * rounds / seconds / 1e6:.2f}" if rounds else "",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=DEMO_LEADS, help="leads of the world")
    parser.add_argument("--repeats", type=int, default=3, help="fits timed best of this many")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    import lightgbm as lgb

    with markdown_mode(args.markdown):
        world = cached_world(args.leads, args.seed)
        config_path = write_demo_config(CACHE / "train", world)
        jit_s = warm_treeshap()
        log(f"train_scorers on {args.leads:,} leads")
        trained = train_from_config(config_path)
        result = trained.result
        scorer = result.packages["model"].scorer
        model = global_scorer(scorer)
        ts = result.training_set
        train_ids = ts.part("train")
        X_train, y_train = result.X.loc[train_ids], ts.y.loc[train_ids].to_numpy()
        grown = model.rounds_grown_
        threads = model.threads

        log(f"reference fits on the same {len(train_ids):,} x {X_train.shape[1]} matrix")
        params = model.lightgbm_params(y_train)
        raw_s = best_time(
            lambda: lgb.train(params, lgb.Dataset(X_train, y_train), num_boost_round=grown),
            args.repeats,
        )
        default_s = best_time(
            lambda: lgb.LGBMClassifier(random_state=args.seed, n_jobs=threads, verbose=-1).fit(
                X_train, y_train
            ),
            args.repeats,
        )
        default_trees = lgb.LGBMClassifier().get_params()["n_estimators"]
        fit = refit_seconds(result, repeats=args.repeats)
        # A per-segment scorer also grows segment models: its global model alone is what the
        # single-model references compare with, tree for tree.
        global_fit = refit_seconds(result, model, args.repeats) if model is not scorer else fit

    summary = world_summary(world)
    n_train, n_eligible = len(train_ids), len(ts.y)
    sizes = {"prepare_s": n_eligible}
    rows = [_row("load + validate (`load_dataset`)", trained.load_s, summary["leads"])]
    for key, seconds in result.timings.items():
        rows.append(
            _row(f"`train_scorers` phase: {PHASES.get(key, key)}", seconds, sizes.get(key, n_train))
        )
    rows.append(
        _row(
            "`train_scorers` outside its timed phases",
            trained.train_s - sum(result.timings.values()),
            None,
        )
    )
    rows.append(_row("`train_scorers` total", trained.train_s, n_train))
    rows.append(
        _row(
            f"**LeadScore fit** alone (refit of the same `{type(scorer).__name__}`: "
            "LightGBM, early stopping on valid, calibration)",
            fit,
            n_train,
            f"{grown} grown, {model.best_iteration_} kept",
            grown,
        )
    )
    if model is not scorer:
        rows[-1][4:] = ["global + segment models", ""]
        rows.append(
            _row(
                "LeadScore fit, the global `LeadScorer` alone",
                global_fit,
                n_train,
                f"{grown} grown, {model.best_iteration_} kept",
                grown,
            )
        )
    rows.append(
        _row(
            "reference: `lgb.train`, same params and rounds, no valid/calibration",
            raw_s,
            n_train,
            f"{grown}",
            grown,
        )
    )
    rows.append(
        _row(
            "reference: `LGBMClassifier()` defaults",
            default_s,
            n_train,
            f"{default_trees}",
            default_trees,
        )
    )
    ratios = {
        "LeadScore fit / LGBMClassifier() defaults, rows/s": default_s / fit,
        "LeadScore global model / LGBMClassifier() defaults, row-trees/s": (grown / global_fit)
        / (default_trees / default_s),
        "LeadScore global model / same-params `lgb.train`, rows/s": raw_s / global_fit,
    }
    if args.markdown:
        print(
            f"World: {summary['leads']:,} leads, {summary['activities']:,} activities "
            f"(`artifacts/bench/{world.name}`); {n_eligible:,} eligible leads, "
            f"{n_train:,} training rows x {X_train.shape[1]} features, {threads} LightGBM "
            f"threads. Model: {describe_scorer(scorer)}; the references fit one model like the "
            f"global one. `train_scorers` timed once (`n_boot=0`); refits "
            f"and references best of {args.repeats}; rows/s counts training rows. TreeSHAP "
            f"kernel loaded beforehand ({jit_s:.1f} s, not counted).\n"
        )
        print(md_table(["step", "seconds", "rows", "rows/s", "trees", "M row-trees/s"], rows))
        print()
        print(
            md_table(
                ["ratio (higher = LeadScore faster)", "value"],
                [[k, f"{v:.2f}x"] for k, v in ratios.items()],
            )
        )
    else:
        for row in rows:
            print(f"  {row[0]:<72} {row[1]:>8} s  {row[3]:>10} rows/s  {row[5]}")
        for name, value in ratios.items():
            print(f"  {name:<60} {value:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
