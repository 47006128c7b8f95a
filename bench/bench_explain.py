"""Benchmark exact TreeSHAP: pipeline.scorers.treeshap against LightGBM's pred_contrib and shap.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_explain.py                 # human-readable report
    .venv/bin/python bench/bench_explain.py --markdown      # table for docs/benchmarks.md

A 300-tree, 31-leaf binary model on 40 synthetic features (50k training rows, fixed seed) is
explained on the same rows and thread count by: plain ``booster.predict`` (the floor),
``pred_contrib``, ``shap.TreeExplainer`` (on a subset: it is the slowest) and
``TreeShapExplainer`` after a warm-up call (the JIT compile is reported separately).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import lightgbm as lgb
import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import best_time, cpu_name  # noqa: E402
from pipeline.scorers.treeshap import TreeShapExplainer  # noqa: E402


def make_data(n_rows: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic binary task with interactions, a few NaNs and a zero-inflated column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    X[rng.random((n_rows, n_features)) < 0.02] = np.nan
    X[:, 1] = np.where(rng.random(n_rows) < 0.3, 0.0, X[:, 1])
    signal = (
        np.nan_to_num(X[:, 0]) * 1.5
        - np.nan_to_num(X[:, 1])
        + np.nan_to_num(X[:, 2] * X[:, 3])
        + np.sin(np.nan_to_num(X[:, 4]) * 2)
        + 0.5 * np.nan_to_num(X[:, 5:15]).sum(axis=1) / 3
    )
    y = (signal + rng.logistic(size=n_rows) > 0).astype(np.float64)
    return X, y


def tree_depths(booster: lgb.Booster) -> list[int]:
    """Depth (number of splits on the longest root-to-leaf path) of every tree."""

    def depth(node: dict) -> int:
        if "split_index" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return [depth(tree["tree_structure"]) for tree in booster.dump_model()["tree_info"]]


def main(argv: list[str] | None = None) -> int:
    """Train the model, time each method, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows explained (same for all)")
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--max-depth", type=int, default=-1, help="LightGBM max_depth")
    parser.add_argument("--shap-rows", type=int, default=2_000, help="subset for shap (slow)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-shap", action="store_true", help="skip shap.TreeExplainer")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)

    threads = args.threads
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    X_train, y_train = make_data(args.train_rows, args.features, args.seed)
    params = {
        "objective": "binary",
        "num_leaves": args.leaves,
        "max_depth": args.max_depth,
        "learning_rate": 0.05,
        "min_data_in_leaf": 20,
        "verbosity": -1,
        "seed": args.seed,
        "deterministic": True,
        "num_threads": threads,
    }
    booster = lgb.train(params, lgb.Dataset(X_train, y_train), num_boost_round=args.trees)
    X, _ = make_data(args.rows, args.features, args.seed + 1)

    results: dict[str, float] = {}
    t_predict = best_time(lambda: booster.predict(X, num_threads=threads), args.repeats)
    results["booster.predict"] = args.rows / t_predict

    # One run: it is the slow one (tens of seconds), so timing noise is small in comparison.
    start = time.perf_counter()
    native = booster.predict(X, pred_contrib=True, num_threads=threads)
    t_native = time.perf_counter() - start
    results["pred_contrib (LightGBM)"] = args.rows / t_native

    start = time.perf_counter()
    explainer = TreeShapExplainer(booster, n_jobs=threads)
    t_build = time.perf_counter() - start
    start = time.perf_counter()
    explainer.contributions(X[:10])  # JIT compile (or cache load) happens here
    t_warm = time.perf_counter() - start
    ours = explainer.contributions(X)
    t_ours = best_time(lambda: explainer.contributions(X), args.repeats)
    results["TreeShapExplainer (ours)"] = args.rows / t_ours
    max_diff = float(np.max(np.abs(ours - native)))

    shap_rows = min(args.shap_rows, args.rows)
    if not args.no_shap:
        import shap

        shap_explainer = shap.TreeExplainer(booster)
        subset = X[:shap_rows]
        with warnings.catch_warnings():
            # shap notes that its LightGBM binary output format changed; not relevant here.
            warnings.simplefilter("ignore", UserWarning)
            shap_explainer.shap_values(subset[:10])
            t_shap = best_time(lambda: shap_explainer.shap_values(subset), 1)
        results[f"shap.TreeExplainer ({shap_rows} rows)"] = shap_rows / t_shap

    depths = tree_depths(booster)
    rate = results["TreeShapExplainer (ours)"]
    ratios = {
        "vs pred_contrib": rate / results["pred_contrib (LightGBM)"],
        "vs booster.predict": rate / results["booster.predict"],
    }
    if not args.no_shap:
        ratios["vs shap.TreeExplainer"] = rate / results[f"shap.TreeExplainer ({shap_rows} rows)"]
    machine = (
        f"{cpu_name()}, {os.cpu_count()} cores, "
        f"{threads} LightGBM threads, {numba.get_num_threads()} numba threads "
        f"({numba.threading_layer()} layer), numba {numba.__version__}, "
        f"LightGBM {lgb.__version__}, Python {platform.python_version()}"
    )
    model = (
        f"{booster.num_trees()} trees, {args.leaves} leaves, {args.features} features, "
        f"tree depth mean {np.mean(depths):.1f} / max {max(depths)}; "
        f"{args.rows} rows explained"
    )

    if args.markdown:
        print(f"Model: {model}.  \nMachine: {machine}.\n")
        print("| method | rows/s | speed of ours / this |")
        print("| --- | ---: | ---: |")
        for name, value in results.items():
            ratio = rate / value
            print(
                f"| {name} | {value:,.0f} | {ratio:.1f}x |"
                if name != "TreeShapExplainer (ours)"
                else f"| **{name}** | **{value:,.0f}** | 1.0x |"
            )
        print(
            f"\nMax abs difference vs pred_contrib: {max_diff:.2e}. "
            f"Flattening the trees: {t_build * 1e3:.0f} ms; first call (JIT or cache load): "
            f"{t_warm:.2f} s."
        )
    else:
        print(f"model:   {model}")
        print(f"machine: {machine}")
        for name, value in results.items():
            print(f"  {name:<36} {value:>12,.0f} rows/s")
        for name, value in ratios.items():
            print(f"  ours {name:<31} {value:>12.2f}x")
        print(f"  max |ours - pred_contrib|            {max_diff:>12.2e}")
        print(f"  flatten trees {t_build * 1e3:.0f} ms, first call (JIT/cache) {t_warm:.2f} s")
    return 0 if max_diff <= 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
