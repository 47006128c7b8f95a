"""Benchmark batch scoring: the real ``leadscore score`` CLI on a million leads with activities.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_score.py                    # 1,000,000 leads, ~20M activities
    .venv/bin/python bench/bench_score.py --leads 100000     # smaller world
    .venv/bin/python bench/bench_score.py --markdown         # section for docs/benchmarks.md

What it does:

1. Generates (or reuses, from ``artifacts/bench/``) a synthetic world of ``--leads`` leads with
   ``pipeline.synth.world.write_world`` and a 40,000-lead demo world to train on.
2. Trains the model as ``leadscore train`` does (``train_scorers`` on ``configs/demo.yaml``) and
   saves the scoring package.
3. Runs ``leadscore score --config ... --model model.pkl --input leads.parquet --activities
   activities.parquet --output out.parquet --as-of 2026-06-30T23:59:59`` as a child process, with
   and without ``--no-explain``, measuring wall time, leads/s and the peak resident memory of the
   child's process tree, then checks the output: one row per input lead, unique lead ids, the
   model version in every row.
4. Times, in this process and on the same thread count, the bare booster on the feature rows of
   a random sample of the leads (``--sample``): ``booster.predict``, ``booster.predict(...,
   pred_contrib=True)`` (on ``--contrib-rows`` of them: it is the slowest),
   ``pipeline.scorers.treeshap.TreeShapExplainer`` and the package's own
   ``score_features``, as the reference for the CLI's throughput.
5. The sum of the parts: on the same sample, each part of scoring timed bare (reading the input
   files with pyarrow, the contracts ``canonical_leads``/``canonical_activities``, the features,
   ``booster.predict`` and, with explanations, TreeSHAP); their rate ``1 / sum(1 / rate)`` is
   what the CLI would reach with no overhead of its own, and the CLI's rate over it is the
   overhead ratio of each mode.
6. ``--compare-with REV``: checks that the output is unchanged by the current tree. The commit
   ``REV`` is checked out as a temporary ``git worktree`` under /tmp and both trees score the
   ``--compare-leads`` world with explanations; every column but ``scored_at`` is compared.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    CACHE,
    DEMO_LEADS,
    GIB,
    MIB,
    SEED,
    ChildRun,
    bench_parser,
    best_time,
    cached_world,
    describe_scorer,
    global_scorer,
    log,
    markdown_mode,
    md_table,
    run_checked,
    scorer_parts,
    train_from_config,
    world_summary,
    write_demo_config,
)
from bench.goals import marker  # noqa: E402

AS_OF = "2026-06-30T23:59:59"  # the demo world's snapshot: every lead is scored on all it did
LIMIT_GIB = 2.0  # the acceptance: peak RSS under 2 GiB for 1M leads with activities
SUM_OF_PARTS_GOAL = 0.6  # the CLI at >= 0.6x the rate of its parts timed bare (both modes)


def score_command(
    config: Path, model: Path, world: Path, output: Path, explain: bool, batch_size: int | None
) -> list[str]:
    """The ``leadscore score`` command line of one run."""
    argv = [
        str(Path(sys.executable).parent / "leadscore"),
        "score",
        "--config",
        str(config),
        "--model",
        str(model),
        "--input",
        str(world / "leads.parquet"),
        "--activities",
        str(world / "activities.parquet"),
        "--output",
        str(output),
        "--as-of",
        AS_OF,
    ]
    if not explain:
        argv.append("--no-explain")
    if batch_size:
        argv += ["--batch-size", str(batch_size)]
    return argv


def check_output(output: Path, world: Path, expected_version: str) -> dict[str, bool]:
    """The output contract: every input lead once, and the model version on every row."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    scored = pq.read_table(output, columns=["lead_id", "model_version"])
    ids = pq.read_table(world / "leads.parquet", columns=["lead_id"]).column("lead_id")
    out_ids = scored.column("lead_id")
    versions = scored.column("model_version")
    return {
        "rows = input rows": scored.num_rows == len(ids),
        "lead ids unique": pc.count_distinct(out_ids).as_py() == scored.num_rows,
        "same lead ids as input": bool(
            np.array_equal(np.sort(out_ids.to_numpy(False)), np.sort(ids.to_numpy(False)))
        ),
        "model_version in every row": versions.null_count == 0
        and pc.all(pc.equal(versions, expected_version)).as_py(),
    }


def sample_features(package, config, world: Path, n: int, seed: int):
    """Feature rows of ``n`` random leads of the world, built as the scoring path builds them."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from pipeline.data.contracts import ContractReport, canonical_activities, canonical_leads

    leads = pq.read_table(world / "leads.parquet")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(leads.num_rows, size=min(n, leads.num_rows), replace=False))
    leads = leads.take(rows)
    activities = ds.dataset(world / "activities.parquet").to_table(
        filter=pc.field("lead_id").isin(leads.column("lead_id"))
    )
    report = ContractReport()
    leads, activities = leads.to_pandas(), activities.to_pandas()
    started = time.perf_counter()
    canon_leads = canonical_leads(leads, config, "leads.parquet", report, scoring=True)
    canon_acts = canonical_activities(
        activities, canon_leads, config, "activities.parquet", report, scoring=True
    )
    validation_s = time.perf_counter() - started
    report.raise_if_failed()
    started = time.perf_counter()
    X = package.features(canon_leads, canon_acts, pd.Timestamp(AS_OF))
    return X, len(canon_acts), time.perf_counter() - started, validation_s


def read_rate(world: Path, repeats: int) -> float:
    """Leads/s of reading the whole input files (leads and activities) with pyarrow."""
    import pyarrow.parquet as pq

    n = pq.ParquetFile(world / "leads.parquet").metadata.num_rows
    return n / best_time(
        lambda: [pq.read_table(world / f"{name}.parquet") for name in ("leads", "activities")],
        repeats,
    )


def sum_of_parts(rates: dict[str, float]) -> float:
    """The rate of doing every part once, one after the other: ``1 / sum(1 / rate)``."""
    return 1.0 / sum(1.0 / rate for rate in rates.values())


def compare_with(rev: str, config: Path, model: Path, world: Path) -> str:
    """Score ``world`` with explanations at git ``rev`` and with this tree; what differs.

    ``rev`` is checked out as a temporary ``git worktree`` (removed afterwards); each tree runs
    ``python -m pipeline score`` with itself first on the path. Returns ``"byte-identical"``,
    ``"every column equal"`` (all but ``scored_at``) or the differing columns.
    """
    import os
    import subprocess
    import tempfile

    from bench._common import ROOT
    from pipeline.batch.workers import single_threaded
    from pipeline.explain.package import load_package

    outputs = {}
    with tempfile.TemporaryDirectory(prefix="leadscore-compare-") as tmp:
        # An older tree passes a scorer's n_jobs straight to LightGBM, which refuses today's
        # "auto": both trees score one copy with a number there (threads change no score).
        copy = Path(tmp) / "model.pkl"
        single_threaded(load_package(model)).save(copy)
        model = copy
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree),
                        rev], check=True)
        try:
            for name, code in ((rev, tree), ("this tree", ROOT)):
                out = Path(tmp) / f"{'before' if code == tree else 'after'}.parquet"
                argv = [sys.executable, "-m", "pipeline", *score_command(
                    config, model, world, out, True, None)[1:]]
                log(f"compare: scoring {world.name} with {name}")
                env = {**os.environ, "PYTHONPATH": str(code)}
                subprocess.run(argv, cwd=code, env=env, check=True, stdout=subprocess.DEVNULL)
                outputs[name] = out
            before, after = outputs.values()
            if before.read_bytes() == after.read_bytes():
                return "byte-identical"
            a, b = pd.read_parquet(before), pd.read_parquet(after)
            if list(a.columns) != list(b.columns) or len(a) != len(b):
                return f"different shape: {a.shape} vs {b.shape}, columns {list(b.columns)}"
            differ = [c for c in a.columns if c != "scored_at" and not a[c].equals(b[c])]
            return "every column equal" if not differ else "differing columns: " + ", ".join(differ)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False)


def bare_rates(package, X: pd.DataFrame, repeats: int, contrib_rows: int) -> dict[str, float]:
    """Rows/s of the bare booster calls and of the package's scoring on the same rows.

    A per-segment model is timed part by part, each booster on the rows routed to it (the split
    itself is not timed), so the bare calls run the same trees as the package. ``pred_contrib``,
    the slowest by far, runs on ``contrib_rows`` rows spread evenly over ``X``.
    """
    from pipeline.scorers.treeshap import TreeShapExplainer

    threads = global_scorer(package.scorer).threads

    def timed(rows: pd.DataFrame, call, times: int) -> float:
        parts = [(scorer.booster_, part) for scorer, part in scorer_parts(package.scorer, rows)]
        return len(rows) / best_time(lambda: [call(b, part) for b, part in parts], times)

    subset = X.iloc[np.unique(np.linspace(0, len(X) - 1, min(contrib_rows, len(X))).astype(int))]
    explainers: dict[int, TreeShapExplainer] = {}

    def shap(booster, rows: pd.DataFrame):
        if id(booster) not in explainers:
            explainers[id(booster)] = TreeShapExplainer(booster, n_jobs=threads)
            explainers[id(booster)].contributions(rows.iloc[:100])  # JIT/cache load, not timed
        return explainers[id(booster)].contributions(rows)

    timed(subset.iloc[:2000], shap, 1)  # builds the explainers outside the timing
    out = {
        "booster.predict": timed(X, lambda b, r: b.predict(r, num_threads=threads), repeats),
        # One run: pred_contrib is the slow one, so the timing noise is small beside it.
        f"booster.predict(pred_contrib=True) ({len(subset):,} rows)": timed(
            subset, lambda b, r: b.predict(r, pred_contrib=True, num_threads=threads), 1
        ),
        "TreeShapExplainer.contributions": timed(X, shap, repeats),
    }
    for explain in (False, True):
        started = time.perf_counter()
        package.score_features(X, explain_leads=explain)
        name = "package.score_features" + ("" if explain else " (no explain)")
        out[name] = len(X) / (time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads scored")
    parser.add_argument("--train-leads", type=int, default=DEMO_LEADS)
    parser.add_argument(
        "--sample", type=int, default=200_000, help="leads whose feature rows time the bare booster"
    )
    parser.add_argument(
        "--contrib-rows", type=int, default=20_000, help="of the sample, for pred_contrib (slow)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="--batch-size of the CLI (default: the config's)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the fast bare calls")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--compare-with",
        metavar="REV",
        default=None,
        help="also score the --compare-leads world at git REV and with this tree; compare outputs",
    )
    parser.add_argument("--compare-leads", type=int, default=200_000)
    args = parser.parse_args(argv)

    with markdown_mode(args.markdown):
        world = cached_world(args.leads, args.seed)
        train_world = cached_world(args.train_leads, args.seed)
        work = CACHE / "score"
        config_path = write_demo_config(work, train_world)
        log(f"training on {args.train_leads:,} leads")
        trained = train_from_config(config_path)
        package = trained.result.packages["model"]
        model_path = work / "model.pkl"
        package.save(model_path)
        version = f"file:{hashlib.sha256(model_path.read_bytes()).hexdigest()[:12]}"
        config = trained.config
        batch = args.batch_size or config.scoring.batch_size

        runs: dict[str, tuple[ChildRun, dict[str, bool]]] = {}
        for explain in (True, False):
            name = "with explanations" if explain else "--no-explain"
            output = work / f"scores-{'explain' if explain else 'no-explain'}.parquet"
            argv_ = score_command(config_path, model_path, world, output, explain, args.batch_size)
            log(f"scoring {args.leads:,} leads, {name}: {' '.join(argv_[1:])}")
            run = run_checked(argv_, "leadscore score")
            checks = check_output(output, world, version)
            output.unlink()
            runs[name] = (run, checks)
            log(
                f"  {run.seconds:.1f} s, {args.leads / run.seconds:,.0f} leads/s, peak RSS "
                f"{run.peak_tree_mib:,.0f} MiB (tree, polled) / {run.peak_max_rss_mib:,.0f} MiB "
                f"(max RSS); checks {'ok' if all(checks.values()) else checks}"
            )

        log(f"bare booster on the feature rows of {args.sample:,} sampled leads")
        X, n_acts, features_s, validation_s = sample_features(
            package, config, world, args.sample, args.seed
        )
        bare = bare_rates(package, X, args.repeats, args.contrib_rows)
        reading = read_rate(world, args.repeats)
        compared = None
        if args.compare_with:
            small = cached_world(args.compare_leads, args.seed)
            compared = compare_with(args.compare_with, config_path, model_path, small)
            log(f"compare with {args.compare_with}: {compared}")

    summary = world_summary(world)
    n = len(X)
    rates = {"features (package.features)": n / features_s}
    rates.update(bare)
    contrib = next(k for k in rates if k.startswith("booster.predict(pred_contrib"))
    cli_plain = args.leads / runs["--no-explain"][0].seconds
    cli_explain = args.leads / runs["with explanations"][0].seconds
    parts = {
        "reading (pyarrow, whole input files)": reading,
        "validation (canonical_leads, canonical_activities)": n / validation_s,
        "features (package.features)": rates["features (package.features)"],
        "predict (booster.predict)": rates["booster.predict"],
    }
    parts_shap = rates["TreeShapExplainer.contributions"]
    sums = {
        "--no-explain": sum_of_parts(parts),
        "with explanations": sum_of_parts(
            {**parts, "TreeSHAP": rates["TreeShapExplainer.contributions"]}
        ),
    }
    ratios = {
        "CLI --no-explain / sum of parts": cli_plain / sums["--no-explain"],
        "CLI with explanations / sum of parts (with TreeSHAP)": cli_explain
        / sums["with explanations"],
        "CLI --no-explain / bare booster.predict": cli_plain / rates["booster.predict"],
        "CLI with explanations / bare pred_contrib": cli_explain / rates[contrib],
        "CLI with explanations / bare TreeShapExplainer": cli_explain
        / rates["TreeShapExplainer.contributions"],
        "TreeShapExplainer / pred_contrib (rows/s on the same sample)": rates[
            "TreeShapExplainer.contributions"
        ]
        / rates[contrib],
    }
    model = (
        f"{describe_scorer(package.scorer)}; {global_scorer(package.scorer).threads} "
        "LightGBM/numba threads"
    )
    if args.markdown:
        print(
            f"World: {summary['leads']:,} leads, {summary['activities']:,} activities "
            f"({summary['activities'] / summary['leads']:.1f} per lead), "
            f"`artifacts/bench/{world.name}`. Model: trained on the {args.train_leads:,}-lead "
            f"demo world ({model}). Batch size {batch:,} leads, `--as-of {AS_OF}`.\n"
        )
        rows = []
        for name, (run, checks) in runs.items():
            over = max(run.peak_tree_mib, run.peak_max_rss_mib) * MIB / GIB
            rows.append(
                [
                    f"`leadscore score` {name}",
                    f"{run.seconds:.1f}",
                    f"{args.leads / run.seconds:,.0f}",
                    f"{run.cpu_seconds / run.seconds:.2f}",
                    f"{run.peak_tree_mib:,.0f}",
                    f"{run.peak_max_rss_mib:,.0f}",
                    f"{'yes' if over < LIMIT_GIB else '**no**'} ({over:.2f} GiB)",
                    "pass"
                    if all(checks.values())
                    else "FAIL: " + ", ".join(k for k, ok in checks.items() if not ok),
                ]
            )
        print(
            md_table(
                [
                    "run",
                    "wall s",
                    "leads/s",
                    "CPU/wall",
                    "peak RSS, tree (MiB)",
                    "max RSS (MiB)",
                    f"< {LIMIT_GIB:g} GiB",
                    "output checks",
                ],
                rows,
            )
        )
        print(
            "\nPeak RSS, tree: largest sum of the RSS of the CLI process and its children, "
            "polled every 50 ms with psutil. Max RSS: the kernel's high-water mark of the "
            "largest process (`/usr/bin/time -v`). Output checks: rows = input rows, lead ids "
            "unique and the same as the input's, the model version in every row.\n"
        )
        print(
            f"Reference, measured in the same run on the feature rows of {n:,} leads sampled "
            f"at random from the same world ({n_acts:,} activities; a sample keeps this "
            "in-process part small), same threads; a per-segment model is timed booster by "
            "booster on the rows routed to each:\n"
        )
        print(md_table(["step", "rows/s"], [[f"`{k}`", f"{v:,.0f}"] for k, v in rates.items()]))
        print(
            "\nSum of parts: each part timed bare on the same sample (reading: the whole input "
            "files, in leads/s); the sum-of-parts rate is 1 / Σ(1 / rate), the CLI's own "
            "overhead is what it loses against it (goal: CLI ≥ 0.6x in both modes).\n"
        )
        print(
            md_table(
                ["part", "leads/s"],
                [[k, f"{v:,.0f}"] for k, v in parts.items()]
                + [["TreeSHAP (with explanations)", f"{parts_shap:,.0f}"]]
                + [[f"**sum of parts, {k}**", f"{v:,.0f}"] for k, v in sums.items()],
            )
        )
        print()
        print(md_table(["ratio", "value"], [[k, f"{v:.2f}x"] for k, v in ratios.items()]))
        if compared:
            print(
                f"\nOutput against commit `{args.compare_with}` on the "
                f"{args.compare_leads:,}-lead world with explanations: **{compared}**."
            )
            same = compared in ("byte-identical", "every column equal")
            print(marker("same_output", f"{compared} (vs `{args.compare_with}`)", same))
        explained = ratios["CLI with explanations / sum of parts (with TreeSHAP)"]
        plain = ratios["CLI --no-explain / sum of parts"]
        print(marker("sum_of_parts_explain", f"{explained:.2f}x", explained >= SUM_OF_PARTS_GOAL))
        print(marker("sum_of_parts_no_explain", f"{plain:.2f}x", plain >= SUM_OF_PARTS_GOAL))
    else:
        print(f"world: {summary['leads']:,} leads, {summary['activities']:,} activities; {model}")
        for name, (run, checks) in runs.items():
            print(
                f"  leadscore score {name:<18} {run.seconds:7.1f} s "
                f"{args.leads / run.seconds:>10,.0f} leads/s  peak RSS tree "
                f"{run.peak_tree_mib:,.0f} MiB, max RSS {run.peak_max_rss_mib:,.0f} MiB  "
                f"checks {'ok' if all(checks.values()) else checks}"
            )
        print(f"bare, {n:,} sampled leads:")
        for name, rate in rates.items():
            print(f"  {name:<44} {rate:>12,.0f} rows/s")
        print("parts (leads/s):")
        for name, rate in parts.items():
            print(f"  {name:<52} {rate:>12,.0f}")
        for name, rate in sums.items():
            print(f"  sum of parts, {name:<38} {rate:>12,.0f}")
        for name, value in ratios.items():
            print(f"  {name:<54} {value:6.2f}x")
        if compared:
            print(f"output against {args.compare_with} ({args.compare_leads:,} leads): {compared}")
    return 0 if all(all(c.values()) for _, c in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
