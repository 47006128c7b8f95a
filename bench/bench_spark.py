"""Benchmark the Spark engine against the local engine: ``leadscore score`` on the same leads.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_spark.py                    # 200,000 leads with activities
    .venv/bin/python bench/bench_spark.py --leads 40000      # the demo's size
    .venv/bin/python bench/bench_spark.py --code ../old      # another checkout's code, same data
    .venv/bin/python bench/bench_spark.py --model m.pkl      # score with this model, no training
    .venv/bin/python bench/bench_spark.py --markdown         # section for docs/benchmarks.md

What it does:

1. Generates (or reuses, from ``artifacts/bench/``) a synthetic world of ``--leads`` leads and the
   40,000-lead demo world to train on; trains the model as ``leadscore train`` does.
2. Runs ``leadscore score ... --as-of 2026-06-30T23:59:59`` as a child process with
   ``--engine local`` and with ``--engine spark --spark-master local[N]`` (N = ``--cores``, 2 by
   default: the whole machine the figures were taken on), one after the other in the same run,
   and reports both wall times (Spark's start-up included: it is what a user waits for) and
   their ratio. The goal is a Spark run at most 2x the local one.
3. Checks that both outputs hold the same leads with the same scores.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    CACHE,
    DEMO_LEADS,
    ROOT,
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
    write_demo_config,
)

AS_OF = "2026-06-30T23:59:59"
GOAL = 2.0  # the goal: Spark local[2] within 2x the local engine's time


def score_command(config: Path, model: Path, world: Path, output: Path, engine: str,
                  cores: int) -> list[str]:
    """The ``leadscore score`` command line of one engine."""
    argv = [sys.executable, "-m", "pipeline", "score", "--config", str(config), "--model",
            str(model), "--input", str(world / "leads.parquet"), "--activities",
            str(world / "activities.parquet"), "--output", str(output), "--as-of", AS_OF,
            "--engine", engine]
    if engine == "spark":
        argv += ["--spark-master", f"local[{cores}]"]
    return argv


def same_scores(local: Path, spark: Path) -> bool:
    """Both outputs: the same leads with the same probabilities, to the last bit."""
    import pyarrow.parquet as pq

    def table(path: Path):
        frame = pq.read_table(path, columns=["lead_id", "probability", "score"]).to_pandas()
        return frame.sort_values("lead_id", ignore_index=True)

    a, b = table(local), table(spark)
    return len(a) == len(b) and bool((a["lead_id"].to_numpy() == b["lead_id"].to_numpy()).all()
                                     and np.array_equal(a["probability"], b["probability"])
                                     and np.array_equal(a["score"], b["score"]))


def main(argv: list[str] | None = None) -> int:
    """Run both engines on the same world and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000, help="leads scored")
    parser.add_argument("--train-leads", type=int, default=DEMO_LEADS)
    parser.add_argument("--cores", type=int, default=2, help="N of the Spark master local[N]")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="checkout whose pipeline/ the children run (default: this one)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--model", type=Path, default=None,
                        help="a model.pkl to score with (default: train one on the demo world)")
    parser.add_argument("--work", type=Path, default=CACHE / "spark",
                        help="folder for the config, the model and the outputs")
    args = parser.parse_args(argv)

    with markdown_mode(args.markdown):
        world = cached_world(args.leads, args.seed)
        train_world = cached_world(args.train_leads, args.seed)
        work = args.work
        if args.model is None:
            config_path, model_path, _ = model_file(work, train_world)
        else:
            config_path, model_path = write_demo_config(work, train_world), args.model
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(args.code.resolve()), os.environ.get("PYTHONPATH")]))
        runs: dict[str, ChildRun] = {}
        outputs = {}
        for engine in ("local", "spark"):
            output = work / f"scores-{engine}.parquet"
            shutil.rmtree(output, ignore_errors=True)
            output.unlink(missing_ok=True)
            command = score_command(config_path, model_path, world, output, engine, args.cores)
            log(f"scoring {args.leads:,} leads with --engine {engine}: {' '.join(command[2:])}")
            run = run_checked(command, f"leadscore score --engine {engine}")
            log(f"  {run.seconds:.1f} s, {args.leads / run.seconds:,.0f} leads/s")
            runs[engine], outputs[engine] = run, output
        same = same_scores(outputs["local"], outputs["spark"])

    summary = world_summary(world)
    ratio = runs["spark"].seconds / runs["local"].seconds
    rows = [[f"`--engine {engine}`" + (f" `local[{args.cores}]`" if engine == "spark" else ""),
             f"{run.seconds:.1f}", f"{args.leads / run.seconds:,.0f}",
             f"{run.cpu_seconds / run.seconds:.2f}", f"{run.peak_tree_mib:,.0f}"]
            for engine, run in runs.items()]
    verdict = "met" if ratio <= GOAL else "**not met**"
    if args.markdown:
        print(f"World: {summary['leads']:,} leads, {summary['activities']:,} activities, "
              f"`artifacts/bench/{world.name}`; model trained on the {args.train_leads:,}-lead "
              f"demo world; `--as-of {AS_OF}`, default batch size.\n")
        print(md_table(["run", "wall s", "leads/s", "CPU/wall", "peak RSS, tree (MiB)"], rows))
        print(f"\nSpark / local: **{ratio:.2f}x** (goal <= {GOAL:g}x: {verdict}); same leads "
              f"and bit-identical probabilities and scores: {'yes' if same else '**no**'}. "
              "Spark's wall time includes starting the JVM and its Python workers.")
    else:
        print(f"world: {summary['leads']:,} leads, {summary['activities']:,} activities")
        for row in rows:
            print(f"  {row[0]:<32} {row[1]:>8} s {row[2]:>10} leads/s  CPU/wall {row[3]}")
        print(f"  spark / local: {ratio:.2f}x (goal <= {GOAL:g}x: {verdict}); "
              f"same scores: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
