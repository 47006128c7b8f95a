"""Benchmark ``leadscore score --workers N``: buckets in parallel processes on one machine.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_workers.py                  # 1,000,000 leads, ~20M activities
    .venv/bin/python bench/bench_workers.py --leads 100000   # smaller world
    .venv/bin/python bench/bench_workers.py --markdown       # section for docs/benchmarks.md

What it does:

1. Generates (or reuses) the synthetic world of ``--leads`` leads and trains the model on the
   40,000-lead demo world as ``leadscore train`` does (or takes ``--model`` and ``--config``).
2. Saves a copy of the model with single-threaded kernels
   (:func:`pipeline.batch.workers.single_threaded`: LightGBM and TreeSHAP on one thread; same
   trees, same scores).
3. Runs the real CLI as a child process, with and without explanations, three ways: ``--workers
   1`` with the model's own threads (today's default), ``--workers 1`` with the single-threaded
   copy, and ``--workers 2`` (whose workers are single-threaded whatever the model says). For
   each: wall time, leads/s, CPU/wall and the peak RSS of the whole process tree (psutil).
4. Checks that ``--workers 2`` wrote the very bytes of ``--workers 1``, and prints the ratios
   workers-2 / workers-1: the issue's goal is <= 0.6 on 2 cores.
5. Times the start-up of a two-process pool whose initializer loads the package, with the
   ``spawn`` start method the engine uses and with ``forkserver`` for comparison (``fork``
   is left out: a forked pool of this process hung in development, the very hazard that
   ruled it out).

On a machine other processes are using, the ratios are pessimistic: two workers need two free
cores. The section records the load average before and after.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    CACHE,
    DEMO_LEADS,
    SEED,
    ChildRun,
    bench_parser,
    cached_world,
    log,
    markdown_mode,
    md_table,
    model_file,
    run_checked,
    world_summary,
)
from bench.bench_score import AS_OF, score_command  # noqa: E402
from bench.goals import marker  # noqa: E402

GOAL = 0.6  # issue 20, goal 3: --workers 2 takes at most 0.6x the one-worker time
VARIANTS = (  # (label, --workers, single-threaded model copy)
    ("--workers 1, model threads", 1, False),
    ("--workers 1, single-threaded", 1, True),
    ("--workers 2", 2, False),
)


def pool_startup(package, method: str) -> float:
    """Seconds until two workers of ``method`` have loaded the package and answered."""
    from pipeline.batch import workers

    blob = pickle.dumps(package, protocol=pickle.HIGHEST_PROTOCOL)
    started = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method),
                             initializer=workers._init_worker,
                             initargs=(blob, None, None, None, None)) as pool:
        list(pool.map(time.sleep, [0.0, 0.0]))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads scored")
    parser.add_argument("--train-leads", type=int, default=DEMO_LEADS)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="--batch-size of the CLI (default: the config's)")
    parser.add_argument("--model", type=Path, default=None,
                        help="a model.pkl to score with instead of training one (with --config)")
    parser.add_argument("--config", type=Path, default=None, help="the config of --model")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    from pipeline.batch.workers import single_threaded
    from pipeline.explain.package import load_package

    with markdown_mode(args.markdown):
        load_before = os.getloadavg()
        world = cached_world(args.leads, args.seed)
        work = CACHE / "workers"
        work.mkdir(parents=True, exist_ok=True)
        if args.model is not None and args.config is not None:
            config_path, model_path = args.config, args.model
        else:
            config_path, model_path, _ = model_file(work, cached_world(args.train_leads,
                                                                       args.seed))
        package = load_package(model_path)
        single_path = work / "model-single-threaded.pkl"
        single_threaded(load_package(model_path)).save(single_path)

        runs: dict[tuple[bool, str], ChildRun] = {}
        same: dict[bool, bool] = {}
        for explain in (True, False):
            outputs = {}
            for label, n, single in VARIANTS:
                output = work / f"scores-{n}-{int(single)}-{int(explain)}.parquet"
                argv_ = [*score_command(config_path, single_path if single else model_path,
                                        world, output, explain, args.batch_size),
                         "--workers", str(n)]
                log(f"scoring {args.leads:,} leads, {label}, explain={explain}")
                run = run_checked(argv_, "leadscore score")
                runs[(explain, label)] = run
                outputs[label] = output
                log(f"  {run.seconds:.1f} s, {args.leads / run.seconds:,.0f} leads/s, CPU/wall "
                    f"{run.cpu_seconds / run.seconds:.2f}, peak RSS tree "
                    f"{run.peak_tree_mib:,.0f} MiB")
            # same model file, so every byte must agree (the single-threaded copy has another
            # model_version, hence another file)
            same[explain] = (outputs["--workers 2"].read_bytes()
                             == outputs["--workers 1, model threads"].read_bytes())
            for output in outputs.values():
                output.unlink()
        # not fork: a fork of this process (numba and OpenMP loaded) hung for minutes here
        startup = {m: pool_startup(package, m) for m in ("spawn", "forkserver")}
        load_after = os.getloadavg()

    summary = world_summary(world)
    rows, ratios = [], []
    for explain in (True, False):
        what = "with explanations" if explain else "--no-explain"
        base = runs[(explain, VARIANTS[0][0])].seconds
        single = runs[(explain, VARIANTS[1][0])].seconds
        two = runs[(explain, "--workers 2")].seconds
        for label, _, _ in VARIANTS:
            run = runs[(explain, label)]
            rows.append([f"{what}: {label}", f"{run.seconds:.1f}",
                         f"{args.leads / run.seconds:,.0f}",
                         f"{run.cpu_seconds / run.seconds:.2f}", f"{run.peak_tree_mib:,.0f}",
                         f"{run.seconds / base:.2f}x"])
        ratios.append([f"{what}: workers 2 / workers 1 (model threads)", f"{two / base:.2f}x",
                       "yes" if two / base <= GOAL else "**no**"])
        ratios.append([f"{what}: workers 2 / workers 1 (single-threaded)",
                       f"{two / single:.2f}x", "yes" if two / single <= GOAL else "**no**"])
    load = (f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on "
            f"{os.cpu_count()} cores")
    identical = "yes" if all(same.values()) else "**no**"
    two_vs_one = {explain: runs[(explain, "--workers 2")].seconds
                  / runs[(explain, VARIANTS[0][0])].seconds for explain in (True, False)}
    if args.markdown:
        print(marker("workers", f"{two_vs_one[True]:.2f}x (--no-explain {two_vs_one[False]:.2f}x)",
                     max(two_vs_one.values()) <= GOAL))
        print(f"World: {summary['leads']:,} leads, {summary['activities']:,} activities, "
              f"`artifacts/bench/{world.name}`; `--as-of {AS_OF}`; {load}.\n")
        print(md_table(["run", "wall s", "leads/s", "CPU/wall", "peak RSS, tree (MiB)",
                        "vs workers 1"], rows))
        print()
        print(md_table(["ratio", "value", f"<= {GOAL}"], ratios))
        print(f"\n`--workers 2` output byte-identical to `--workers 1`: {identical}.\n")
        print(md_table(["start method", "2-worker pool start-up with the package (s)"],
                       [[m, f"{s:.2f}"] for m, s in startup.items()]))
        print("\nThe engine uses `spawn`: `fork` copies the parent's pyarrow, OpenMP and numba "
              "thread locks in whatever state they were, which can hang a worker.")
    else:
        print(f"world: {summary['leads']:,} leads, {summary['activities']:,} activities; {load}")
        for row in rows:
            print("  " + "  ".join(f"{cell:>12}" if i else f"{cell:<48}"
                                   for i, cell in enumerate(row)))
        for row in ratios:
            print(f"  {row[0]:<56} {row[1]:>7}  goal met: {row[2]}")
        print(f"  --workers 2 byte-identical to --workers 1: {identical}")
        for method, seconds in startup.items():
            print(f"  pool start-up ({method}): {seconds:.2f} s")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
