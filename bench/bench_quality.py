"""Benchmark model quality: LeadScore against a notebook baseline, LightGBM defaults and AutoML.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_quality.py                     # X Education + demo world
    .venv/bin/python bench/bench_quality.py --only demo --flaml-budget 20
    .venv/bin/python bench/bench_quality.py --markdown          # section for docs/benchmarks.md

Two data sets: (a) X Education (``configs/x_education.yaml``: the real flat export read from
``../shared/data/x_education/leads.csv``, sales-entered columns excluded as the config's
``dataset.leaky`` says, random stratified split) and (b) the 40,000-lead synthetic demo world
(``configs/demo.yaml``, split by as_of time). On each, ``train_scorers`` builds the feature table,
the split and LeadScore's calibrated model; every other contender is fitted on the *same feature
table and training rows* and scored on the *same test rows*:

* **logistic regression**, the notebook baseline: one-hot categoricals (missing as its own
  level), median-imputed and standardised numbers (with missing-value indicators);
* **LightGBM defaults**: ``LGBMClassifier()`` as it comes, no early stopping, no calibration;
* **FLAML AutoML**: ``metric="roc_auc"``, seeded, a fixed time budget (``--flaml-budget``), the
  validation rows given for model selection; needs ``flaml`` with its AutoML dependencies.

LeadScore also uses the validation rows (early stopping and calibration); the logistic
regression and LightGBM defaults do not need them. Metrics come from
``pipeline.evaluation.metrics``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    CACHE,
    DEMO_LEADS,
    ROOT,
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
    write_demo_config,
)

X_EDUCATION = ROOT.parent / "shared" / "data" / "x_education" / "leads.csv"
DATASETS = ("x_education", "demo")


def fit_logistic(X: pd.DataFrame, y: np.ndarray, seed: int):
    """The notebook baseline: one-hot + standard scaling + logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = X.select_dtypes("category").columns.tolist()
    numeric = [c for c in X.columns if c not in categorical]
    prepare = ColumnTransformer(
        [
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
        ]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=2000, random_state=seed))
    return model.fit(_as_objects(X, categorical), y), categorical


def _as_objects(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    # scikit-learn's imputer wants plain objects with NaN, not pandas categories.
    return X.astype({c: object for c in categorical}).replace({pd.NA: np.nan})


def fit_flaml(
    X: pd.DataFrame,
    y: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    budget: float,
    seed: int,
    threads: int,
):
    """FLAML AutoML on ROC-AUC with the validation rows as its holdout."""
    from flaml import AutoML

    automl = AutoML()
    automl.fit(
        X,
        y,
        X_val=X_valid,
        y_val=y_valid,
        task="classification",
        metric="roc_auc",
        time_budget=budget,
        seed=seed,
        n_jobs=threads,
        eval_method="holdout",
        verbose=0,
        log_file_name="",
    )
    return automl


def flaml_missing() -> str | None:
    """Why FLAML's AutoML cannot be imported here, or None when it can."""
    try:
        from flaml import AutoML  # noqa: F401
    except ImportError as exc:
        return f"{exc} (FLAML's AutoML needs its `automl` extra: xgboost, scipy)"
    return None


def compare(name: str, config_path: Path, budget: float, seed: int, repeats: int) -> dict:
    """Train LeadScore on one data set, fit the contenders on its split, measure all of them."""
    import lightgbm as lgb

    from pipeline.evaluation.metrics import ranking_metrics

    log(f"{name}: train_scorers")
    trained = train_from_config(config_path, truth=name == "demo")
    result = trained.result
    ts, X = result.training_set, result.X
    parts = {p: ts.part(p) for p in ("train", "valid", "test")}
    y = {p: ts.y.loc[ids].to_numpy() for p, ids in parts.items()}
    Xp = {p: X.loc[ids] for p, ids in parts.items()}
    scorer = result.packages["model"].scorer
    threads = global_scorer(scorer).n_jobs

    entries: list[tuple[str, np.ndarray, float | None]] = [
        (
            "**LeadScore** (calibrated LightGBM)",
            result.test_probabilities["model"],
            refit_seconds(result, repeats=repeats),
        ),
        (
            "LeadScore rules (points table, calibrated)",
            result.test_probabilities["rules"],
            None,
        ),
    ]
    # Fits are timed best of ``repeats``: on a shared machine one run can be descheduled for
    # many times its own length. The fits are deterministic, so any of them is the model.
    log(f"{name}: logistic regression")
    fitted = {}
    with warnings.catch_warnings():
        # Columns empty in the training rows are dropped by the imputer, with a warning each.
        warnings.simplefilter("ignore", UserWarning)
        fit_s = best_time(
            lambda: fitted.update(
                zip(
                    ("model", "categorical"),
                    fit_logistic(Xp["train"], y["train"], seed),
                    strict=True,
                )
            ),
            repeats,
        )
        p = fitted["model"].predict_proba(_as_objects(Xp["test"], fitted["categorical"]))[:, 1]
    entries.append(("logistic regression (one-hot + scaling)", p, fit_s))

    log(f"{name}: LightGBM defaults")
    default = lgb.LGBMClassifier(random_state=seed, n_jobs=threads, verbose=-1)
    fit_s = best_time(lambda: default.fit(Xp["train"], y["train"]), repeats)
    entries.append(
        (
            "LightGBM defaults (no early stopping, no calibration)",
            default.predict_proba(Xp["test"])[:, 1],
            fit_s,
        )
    )

    flaml_note = flaml_missing()
    if flaml_note is None:
        log(f"{name}: FLAML AutoML, {budget:g} s budget")
        started = time.perf_counter()
        automl = fit_flaml(Xp["train"], y["train"], Xp["valid"], y["valid"], budget, seed, threads)
        fit_s = time.perf_counter() - started
        flaml_note = f"best: {automl.best_estimator}"
        entries.append(
            (
                f"FLAML AutoML ({budget:g} s budget, {automl.best_estimator})",
                automl.predict_proba(Xp["test"])[:, 1],
                fit_s,
            )
        )
    if "oracle" in result.test_probabilities:
        entries.append(
            ("oracle (the world's true probabilities)", result.test_probabilities["oracle"], None)
        )

    rows = []
    for label, p, fit_s in entries:
        m = ranking_metrics(y["test"], p)
        rows.append(
            [
                label,
                f"{m['roc_auc']:.4f}",
                f"{m['pr_auc']:.4f}",
                f"{m['brier']:.4f}",
                f"{m['ece']:.4f}",
                "–" if fit_s is None else f"{fit_s:.1f}",
            ]
        )
    summary = ts.summary()
    return {
        "rows": rows,
        "split": {p: (summary[f"{p}_leads"], summary[f"{p}_positives"]) for p in parts},
        "features": X.shape[1],
        "model": describe_scorer(scorer),
        "excluded": result.packages["model"].metadata.get("excluded_columns", []),
        "method": trained.config.split.method if name == "demo" else "random (stratified)",
        "flaml": flaml_note,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the tables (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", choices=DATASETS, default=None, help="one data set")
    parser.add_argument("--flaml-budget", type=float, default=60.0, help="seconds per data set")
    parser.add_argument(
        "--repeats", type=int, default=3, help="fits timed best of this many (not FLAML)"
    )
    parser.add_argument("--demo-leads", type=int, default=DEMO_LEADS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    # configs/x_education.yaml names its data and rules relative to the project root.
    os.chdir(ROOT)

    results: dict[str, dict] = {}
    with markdown_mode(args.markdown):
        for name in (args.only,) if args.only else DATASETS:
            if name == "x_education":
                if not X_EDUCATION.is_file():
                    log(f"x_education: {X_EDUCATION} not found, skipped")
                    results[name] = {"skipped": f"`{X_EDUCATION}` not found"}
                    continue
                config_path = ROOT / "configs" / "x_education.yaml"
            else:
                world = cached_world(args.demo_leads, args.seed)
                config_path = write_demo_config(CACHE / "quality", world)
            results[name] = compare(name, config_path, args.flaml_budget, args.seed, args.repeats)

    titles = {
        "x_education": "(a) X Education (real flat export, `configs/x_education.yaml`)",
        "demo": f"(b) Demo world ({args.demo_leads:,} synthetic leads, `configs/demo.yaml`)",
    }
    headers = ["scorer", "ROC-AUC", "PR-AUC", "Brier", "ECE", "fit s"]
    for name, res in results.items():
        if args.markdown:
            print(f"**{titles[name]}**\n")
            if "skipped" in res:
                print(f"Skipped: {res['skipped']}.\n")
                continue
            split = ", ".join(f"{p} {n:,} ({k:,} converted)" for p, (n, k) in res["split"].items())
            excluded = ", ".join(res["excluded"]) or "none"
            print(
                f"Split {res['method']}: {split}. {res['features']} features; excluded as "
                f"leaky: {excluded}. LeadScore's model: {res['model']}.\n"
            )
            print(md_table(headers, res["rows"]))
            print(
                f"\nFit s: LeadScore, refits of its estimator on the same rows (early stopping and "
                f"calibration included), logistic regression and LightGBM defaults: best of "
                f"{args.repeats}; FLAML: its search and final refit. Metrics on the test rows."
            )
            if not res["flaml"].startswith("best"):
                print(f"\nFLAML not run: {res['flaml']}.")
            print()
        else:
            print(f"{titles[name]}")
            if "skipped" in res:
                print(f"  skipped: {res['skipped']}")
                continue
            print(f"  split {res['split']}, {res['features']} features")
            for row in res["rows"]:
                print("  " + "  ".join(f"{cell:>8}" for cell in row[1:]) + f"  {row[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
