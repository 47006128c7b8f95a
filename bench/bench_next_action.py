"""Benchmark ``leadscore score --next-action``: the overhead of one rescoring per action.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_next_action.py                      # 100,000 leads
    .venv/bin/python bench/bench_next_action.py --model model.pkl    # reuse a trained package
    .venv/bin/python bench/bench_next_action.py --train-leads 12000  # train on a smaller world

What it does: trains the model on a demo world (``--train-leads``, default the demo's 40,000;
or takes ``--model``), generates (or reuses, from ``artifacts/bench/``) a world of ``--leads``
leads, then runs the local batch job (:func:`pipeline.batch.local.run_score_job`, what ``leadscore
score`` runs) on it twice in this process, with the default explanations: without and with
``next_action``. It prints both throughputs in leads/s and their ratio; the next-action run
rebuilds the features and rescores once per configured action (five by default), so the ratio is
expected near 1 + actions x (feature build + predict) / (feature build + predict + explain).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    DEMO_LEADS,
    SEED,
    bench_parser,
    cached_world,
    log,
    model_file,
    write_demo_config,
)

AS_OF = "2026-06-30T23:59:59"


def run(config_path: Path, model: Path, world: Path, out: Path, next_action: bool) -> dict:
    """One local batch job over the world; its summary with the wall time."""
    import pandas as pd

    from pipeline.batch.local import ScoreJob, run_score_job
    from pipeline.data.config import load_config
    from pipeline.explain.package import load_package

    config = load_config(config_path)
    package = load_package(model)
    job = ScoreJob(leads_path=world / "leads.parquet", output_path=out,
                   activities_path=world / "activities.parquet", as_of=pd.Timestamp(AS_OF),
                   batch_size=config.scoring.batch_size, next_action=next_action)
    started = time.perf_counter()
    summary = run_score_job(package, config, job)
    seconds = time.perf_counter() - started
    rows = int(summary["output_rows"])
    return {"rows": rows, "seconds": seconds, "leads_per_s": rows / seconds,
            "actions": len(config.actions.offer)}


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000, help="leads to score")
    parser.add_argument("--train-leads", type=int, default=DEMO_LEADS,
                        help="leads of the world the model is trained on")
    parser.add_argument("--model", type=Path, default=None, help="a trained package to reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        world = cached_world(args.leads, SEED)
        if args.model is not None:
            config_path, model = write_demo_config(work, world), args.model
        else:
            config_path, model, _ = model_file(work, cached_world(args.train_leads, SEED))
        log(f"scoring {args.leads:,} leads without --next-action")
        plain = run(config_path, model, world, work / "plain.parquet", next_action=False)
        log(f"scoring {args.leads:,} leads with --next-action")
        best = run(config_path, model, world, work / "best.parquet", next_action=True)
    ratio = best["seconds"] / plain["seconds"]
    print(f"score {plain['rows']:,} leads: {plain['leads_per_s']:,.0f} leads/s "
          f"({plain['seconds']:.1f} s)")
    print(f"score --next-action ({best['actions']} actions): {best['leads_per_s']:,.0f} leads/s "
          f"({best['seconds']:.1f} s)")
    print(f"ratio (with / without): {ratio:.2f}x the time, "
          f"{(ratio - 1) / best['actions']:.2f}x per action")


if __name__ == "__main__":
    main()
