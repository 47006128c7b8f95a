"""Benchmark model quality: the chosen scorer against LightGBM defaults and FLAML, with CIs.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_quality.py                     # every data set, one run
    .venv/bin/python bench/bench_quality.py --only demo --flaml-budget 20
    .venv/bin/python bench/bench_quality.py --markdown          # section for docs/benchmarks.md

Data sets: X Education (``configs/x_education.yaml``, the real flat export read from
``../shared/data/x_education/leads.csv``, random stratified split), the same export in 5
stratified folds (the folds of ``leadscore cv``), the 40,000-lead demo world
(``configs/demo.yaml``, split by as_of time) and two weak-signal worlds (``configs/weak.yaml``,
40,000 leads, and ``configs/weak_small.yaml``, 3,000; oracle ROC-AUC about 0.60).

On each split the bench does what a user's ``leadscore tune`` then ``leadscore train`` does:
:func:`pipeline.stages.tune.tune` with the config's ``tuning:`` budget, then
:func:`pipeline.stages.train.train_scorers` with the tuned parameters, whose ``model`` kind is the
scorer chosen on validation among its candidates. The references are fitted on the *same
feature table and training rows* and scored on the *same test rows*:

* **LightGBM defaults**: ``LGBMClassifier()`` as it comes, no early stopping, no calibration;
* **FLAML AutoML**: ``metric="roc_auc"``, seeded, a fixed time budget (``--flaml-budget``), the
  validation rows as its holdout (so it sees exactly the rows LeadScore sees); FLAML does not
  refit on train + valid when it is given the validation rows.

Every AUC has its 95 % bootstrap interval; the differences chosen - FLAML and chosen - defaults
are paired (the same resampled test leads score both). For the folds, the figure is the mean of
the five fold AUCs and the interval of a mean difference comes from resampling each fold's test
leads (paired within the fold).
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
    ROOT,
    SEED,
    bench_parser,
    cached_world,
    log,
    markdown_mode,
    md_table,
    write_demo_config,
)

X_EDUCATION = ROOT.parent / "shared" / "data" / "x_education" / "leads.csv"
CONFIGS = {
    "x_education": ROOT / "configs" / "x_education.yaml",
    "demo": ROOT / "configs" / "demo.yaml",
    "weak": ROOT / "configs" / "weak.yaml",
    "weak_small": ROOT / "configs" / "weak_small.yaml",
    "x_education_cv": ROOT / "configs" / "x_education.yaml",
}
DATASETS = tuple(CONFIGS)
TITLES = {
    "x_education": "X Education, one random split (real flat export)",
    "x_education_cv": "X Education, 5 stratified folds (mean of the fold figures)",
    "demo": "Demo world (synthetic, `configs/demo.yaml`)",
    "weak": "Weak-signal world (synthetic, `configs/weak.yaml`)",
    "weak_small": "Small weak-signal world (synthetic, `configs/weak_small.yaml`)",
}
FOLDS = 5
N_BOOT = 1000
CHOSEN, DEFAULTS, FLAML = "chosen", "LightGBM defaults", "FLAML"


def fit_flaml(X, y, X_valid, y_valid, budget: float, seed: int, threads: int):
    """FLAML AutoML on ROC-AUC with the validation rows as its holdout."""
    from flaml import AutoML

    automl = AutoML()
    automl.fit(
        X, y, X_val=X_valid, y_val=y_valid, task="classification", metric="roc_auc",
        time_budget=budget, seed=seed, n_jobs=threads, eval_method="holdout", verbose=0,
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


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _draws(y: np.ndarray, ps: dict[str, np.ndarray], n_boot: int, seed: int) -> dict:
    """Bootstrap AUC of every contender on the same resampled test leads (paired draws).

    A resample is a count per test lead (multinomial); with the leads sorted by score once, the
    AUC of every resample is a weighted Mann-Whitney sum over the tied-score groups, so all
    resamples are scored together instead of one ``roc_auc_score`` call each.
    """
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(y), np.full(len(y), 1.0 / len(y)), size=n_boot).astype(float)
    y = np.asarray(y, dtype=float)
    pos, neg = counts * y, counts * (1.0 - y)
    keep = (pos.sum(axis=1) > 0) & (neg.sum(axis=1) > 0)
    out = {}
    for name, p in ps.items():
        order = np.argsort(p, kind="stable")
        sorted_p = np.asarray(p)[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_p)) + 1]
        P = np.add.reduceat(pos[:, order], starts, axis=1)
        N = np.add.reduceat(neg[:, order], starts, axis=1)
        below = np.cumsum(N, axis=1) - N
        auc = (P * (below + 0.5 * N)).sum(axis=1) / (P.sum(axis=1) * N.sum(axis=1))
        out[name] = auc[keep]
    return out


def _ci(values: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def load(name: str, seed: int):
    """Config, leads, activities, rules and oracle of one data set (worlds generated once)."""
    from pipeline.data.config import load_config
    from pipeline.data.io import load_dataset, read_truth
    from pipeline.scorers.rules import load_rules

    path = CONFIGS[name]
    if name not in ("x_education", "x_education_cv"):
        synth = load_config(path).synth
        world = cached_world(synth.leads, seed, synth.base_rate, synth.signal)
        path = write_demo_config(CACHE / "quality" / name, world, path)
    config = load_config(path)
    leads, activities, report = load_dataset(config)
    report.raise_if_failed()
    oracle = None
    if config.dataset.truth:
        oracle = read_truth(config.dataset.truth)
    return config, leads, activities, load_rules(config.rules), oracle


def run_split(name, config, leads, activities, rules, oracle, budget, seed, split=None) -> dict:
    """Tune, train and fit the references on one split: test labels and every test score."""
    import lightgbm as lgb

    from pipeline.scorers.lightgbm import resolve_n_jobs
    from pipeline.stages.train import train_scorers
    from pipeline.stages.tune import tune

    tc = config.tuning
    log(f"{name}: tune ({tc.trials} trials, {tc.timeout_seconds} s at most)")
    started = time.perf_counter()
    tuned = tune(config, leads, activities, tc.trials, tc.timeout_seconds, rules=rules,
                 split=split)
    tune_s = time.perf_counter() - started
    log(f"{name}: train_scorers with the tuned parameters")
    started = time.perf_counter()
    result = train_scorers(config, leads, activities, rules, best_params=tuned.best_params,
                           truth=oracle, split=split, n_boot=0)
    train_s = time.perf_counter() - started
    ts, X = result.training_set, result.X
    ids = {p: ts.part(p) for p in ("train", "valid", "test")}
    y = {p: ts.y.loc[i].to_numpy() for p, i in ids.items()}
    Xp = {p: X.loc[i] for p, i in ids.items()}
    scorer = result.packages["model"].scorer
    probabilities = result.test_probabilities
    scores = {CHOSEN: probabilities["model"], "rules": probabilities["rules"]}
    # Every candidate of the choice, fitted on the same rows, scored on the test leads.
    for cand, fitted in getattr(scorer, "candidate_scorers", dict)().items():
        scores[f"candidate {cand}"] = fitted.predict_proba(Xp["test"])[:, 1]
    selection = result.metrics.get("selection") or (
        scorer.selection() if hasattr(scorer, "selection") else None)

    log(f"{name}: LightGBM defaults")
    threads = resolve_n_jobs(config.model.n_jobs)[0]  # model.n_jobs may be auto
    default = lgb.LGBMClassifier(random_state=seed, n_jobs=threads, verbose=-1)
    scores[DEFAULTS] = default.fit(Xp["train"], y["train"]).predict_proba(Xp["test"])[:, 1]
    flaml = flaml_missing()
    if flaml is None:
        log(f"{name}: FLAML AutoML, {budget:g} s budget")
        automl = fit_flaml(Xp["train"], y["train"], Xp["valid"], y["valid"], budget, seed,
                           threads)
        scores[FLAML] = automl.predict_proba(Xp["test"])[:, 1]
        flaml = f"{automl.best_estimator} {automl.best_config}"
    if "oracle" in result.test_probabilities:
        scores["oracle"] = result.test_probabilities["oracle"]
    summary = ts.summary()
    return {
        "y": y["test"], "scores": scores, "selection": selection, "flaml": flaml,
        "tune_s": tune_s, "train_s": train_s, "tuned": tuned,
        "split": {p: (summary[f"{p}_leads"], summary[f"{p}_positives"]) for p in ids},
        "features": X.shape[1],
    }


def measure(runs: list[dict], seed: int, n_boot: int = N_BOOT) -> dict:
    """AUC with CI per contender and the paired differences, over one split or several folds."""
    names = [n for n in runs[0]["scores"] if all(n in r["scores"] for r in runs)]
    point = {n: np.mean([_auc(r["y"], r["scores"][n]) for r in runs]) for n in names}
    draws = [_draws(r["y"], r["scores"], n_boot, seed + k) for k, r in enumerate(runs)]
    size = min(len(d[names[0]]) for d in draws)
    # A fold mean per resample: each fold's resampled AUC, averaged over the folds.
    mean = {n: np.mean([d[n][:size] for d in draws], axis=0) for n in names}
    out = {"auc": {n: (point[n], *_ci(mean[n])) for n in names}, "diff": {}}
    candidates = [n for n in names if n.startswith("candidate ")]
    best = max(candidates, key=lambda n: point[n]) if candidates else None
    pairs = [(CHOSEN, FLAML), (CHOSEN, DEFAULTS), ("candidate lightgbm", FLAML),
             ("candidate lightgbm", DEFAULTS)]
    if best is not None:
        pairs.append((CHOSEN, best))
    for a, b in pairs:
        if a in names and b in names and a != b:
            out["diff"][(a, b)] = (point[a] - point[b], *_ci(mean[a] - mean[b]))
    out["best_candidate"] = best
    return out


def run_dataset(name: str, budget: float, seed: int) -> dict:
    """Every split of one data set (five folds for ``x_education_cv``), measured."""
    config, leads, activities, rules, oracle = load(name, seed)
    if name == "x_education_cv":
        from pipeline.stages.cv import fold_splits

        splits = fold_splits(config, leads, activities, FOLDS)
        runs = [run_split(f"{name} fold {k}", config, leads, activities, rules, oracle, budget,
                          seed, split=s) for k, s in enumerate(splits, start=1)]
    else:
        runs = [run_split(name, config, leads, activities, rules, oracle, budget, seed)]
    return {"runs": runs, "figures": measure(runs, seed), "config": config}


# ---------------------------------------------------------------------------------- printing
def _f(value: float, low: float, high: float, signed: bool = False) -> str:
    fmt = "{:+.4f}" if signed else "{:.4f}"
    return f"{fmt.format(value)} [{fmt.format(low)}, {fmt.format(high)}]"


def _chosen_names(runs: list[dict]) -> str:
    chosen = [r["selection"]["chosen"] for r in runs if r["selection"]]
    if not chosen:
        return "LightGBM (no selection in this version)"
    counts = pd.Series(chosen).value_counts()
    return ", ".join(f"{n} ({k}x)" if len(chosen) > 1 else n for n, k in counts.items())


def section(name: str, res: dict, budget: float) -> list[str]:
    """Markdown lines of one data set."""
    runs, fig = res["runs"], res["figures"]
    first = runs[0]
    lines = [f"**{TITLES[name]}**", ""]
    split = ", ".join(f"{p} {n:,} ({k:,} converted)" for p, (n, k) in first["split"].items())
    lines.append(
        f"{'Fold 1: ' if len(runs) > 1 else ''}{split}; {first['features']} features. Chosen "
        f"scorer: {_chosen_names(runs)}. Tuning: {np.mean([r['tune_s'] for r in runs]):.0f} s, "
        f"{first['tuned'].trials} trials ({first['tuned'].pruned} pruned); train_scorers "
        f"{np.mean([r['train_s'] for r in runs]):.0f} s; FLAML {budget:g} s: "
        f"{first['flaml'].split(' ', 1)[0]}.")
    lines.append("")
    rows = [[f"**{n}**" if n == CHOSEN else n, _f(*v)] for n, v in fig["auc"].items()]
    lines += [md_table(["scorer", "test ROC-AUC [95 % CI]"], rows), ""]
    rows = [[f"{a} - {b}", _f(*v, signed=True), "yes" if v[0] >= 0 else "no"]
            for (a, b), v in fig["diff"].items()]
    lines += [md_table(["paired difference", "AUC [95 % CI]", ">= 0"], rows), ""]
    best = fig["best_candidate"]
    if best is not None:
        point, low, high = fig["auc"][best]
        inside = low <= fig["auc"][CHOSEN][0] <= high
        lines += [f"The chosen scorer's test AUC {fig['auc'][CHOSEN][0]:.4f} is "
                  f"{'inside' if inside else 'outside'} the 95 % CI of the best candidate on "
                  f"test, {best.removeprefix('candidate ')} {_f(point, low, high)}.", ""]
    sel = [r["selection"] for r in runs if r["selection"]]
    if sel and len(runs) == 1:
        rows = [[c, _f(v["valid_auc"], v["valid_auc_ci_low"], v["valid_auc_ci_high"]),
                 _f(v["diff_vs_best"], v["diff_vs_best_ci_low"], v["diff_vs_best_ci_high"],
                    signed=True)] for c, v in sel[0]["candidates"].items()]
        lines += [md_table(["candidate", "valid ROC-AUC [95 % CI]", "valid - best [95 % CI]"],
                           rows), "", f"Choice: {sel[0]['reason']}", ""]
    return lines


def acceptance(results: dict[str, dict]) -> list[str]:
    """Issue 16's acceptance per data set: >= FLAML, >= defaults + 0.005, inside the best's CI."""
    rows = []
    for name, res in results.items():
        fig = res["figures"]
        diff = fig["diff"]
        vs_flaml, vs_default = diff.get((CHOSEN, FLAML)), diff.get((CHOSEN, DEFAULTS))
        best = fig["best_candidate"]
        inside = "–"
        if best is not None:
            _, low, high = fig["auc"][best]
            inside = "yes" if low <= fig["auc"][CHOSEN][0] <= high else "no"
        rows.append([
            TITLES[name].split(" (")[0],
            "–" if vs_flaml is None else _f(*vs_flaml, signed=True),
            "–" if vs_flaml is None else ("yes" if vs_flaml[0] >= 0 else "no"),
            "–" if vs_default is None else _f(*vs_default, signed=True),
            "–" if vs_default is None else ("yes" if vs_default[0] >= 0.005 else "no"),
            inside,
        ])
    headers = ["data set", "chosen - FLAML", ">= FLAML", "chosen - defaults",
               ">= defaults + 0.005", "chosen inside best candidate's CI"]
    return [md_table(headers, rows), ""]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", choices=DATASETS, action="append", help="data set (repeatable)")
    parser.add_argument("--flaml-budget", type=float, default=60.0, help="seconds per split")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    # configs/x_education.yaml names its data and rules relative to the project root.
    os.chdir(ROOT)
    warnings.filterwarnings("ignore", category=UserWarning)
    results: dict[str, dict] = {}
    with markdown_mode(args.markdown):
        for name in args.only or DATASETS:
            if name.startswith("x_education") and not X_EDUCATION.is_file():
                log(f"{name}: {X_EDUCATION} not found, skipped")
                continue
            results[name] = run_dataset(name, args.flaml_budget, args.seed)
            for line in section(name, results[name], args.flaml_budget):
                log(line)
    if args.markdown:
        print(
            "What a user gets: `leadscore tune` (the config's `tuning:` budget) then `leadscore "
            "train`, whose `model` is the scorer chosen on validation. The references are fitted "
            "on the same feature table and training rows (FLAML also gets the validation rows as "
            "its holdout) and everything is scored on the same test leads. Intervals: 95 % "
            f"percentile bootstrap of the test leads ({N_BOOT} resamples, paired for "
            "differences).\n")
        print("\n".join(acceptance(results)))
        for name, res in results.items():
            print("\n".join(section(name, res, args.flaml_budget)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
