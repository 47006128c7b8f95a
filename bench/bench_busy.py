"""Benchmark training on a busy machine: ``make demo``'s tune and train, alone and next to a job.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_busy.py                 # the demo's 20 trials
    .venv/bin/python bench/bench_busy.py --trials 4      # shorter tuning
    .venv/bin/python bench/bench_busy.py --markdown      # section for docs/benchmarks.md

The demo stages ``leadscore tune --config configs/demo.yaml`` and ``leadscore train --config
configs/demo.yaml --no-evaluate`` run as child processes on the cached 40,000-lead demo world,
each pair in a fresh folder with its own MLflow sqlite store, four times:

* **quiet**: nothing else started by the benchmark;
* **loaded**: one competing CPU-bound process (``python -c "while True: pass"``) runs meanwhile;

each with

* **before**: ``model.n_jobs=2`` with OpenMP's default wait policy (spin, then sleep): two
  LightGBM threads whatever else runs, the behaviour before ``model.n_jobs: auto``;
* **after**: the defaults (``model.n_jobs: auto``: the cores other processes leave free,
  decided once per run; the wait policy still OpenMP's default, since forcing PASSIVE made an
  idle machine's boosting 2x slower).

The figure is loaded / quiet per configuration, measured in the same run; the trained models of
all four runs are compared tree for tree (the thread count and wait policy must not change them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    DEMO_LEADS,
    ROOT,
    SEED,
    bench_parser,
    cached_world,
    log,
    markdown_mode,
    md_table,
    write_demo_config,
)
from bench.goals import marker  # noqa: E402

GOAL = 2.5  # issue 20: the loaded run takes at most this many times the quiet one
MODES = {
    "before": ({}, ["--set", "model.n_jobs=2"]),
    "after": ({}, []),
}
_THREADS = re.compile(r"threads: (\d+)")


def _stage(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run one CLI stage; its wall seconds and stderr (stops the benchmark if it fails)."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        log(done.stderr[-3000:])
        raise SystemExit(f"{' '.join(argv[2:4])} exited {done.returncode}")
    return seconds, done.stderr


def run_demo(world: Path, mode: str, loaded: bool, trials: int | None) -> dict:
    """Tune then train as the demo does, in a fresh folder; seconds, threads and the model."""
    extra_env, sets = MODES[mode]
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(extra_env, PYTHONPATH=str(ROOT))
    competitor = None
    if loaded:
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.0)  # running (and visible to model.n_jobs: auto) before the stages start
    try:
        with tempfile.TemporaryDirectory(prefix="bench-busy-") as tmp:
            config = str(write_demo_config(Path(tmp), world))
            cli = [sys.executable, "-m", "pipeline"]
            tune = [*cli, "tune", "--config", config, *sets]
            if trials:
                tune += ["--trials", str(trials)]
            tune_s, tune_err = _stage(tune, env)
            train_s, train_err = _stage(
                [*cli, "train", "--config", config, "--no-evaluate", *sets], env
            )
            model = _trees(Path(tmp) / "artifacts" / "demo" / "packages" / "model.pkl")
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    threads = [m.group(1) for m in (_THREADS.search(t) for t in (tune_err, train_err)) if m]
    return {"tune": tune_s, "train": train_s, "threads": "/".join(threads), "model": model}


def _trees(path: Path) -> str:
    """The trees of every LightGBM model of a package (no parameters: they name the threads)."""
    from pipeline.explain.package import load_package

    scorer = load_package(path).scorer
    scorer = scorer.candidate_scorers().get("lightgbm", scorer)
    models = [getattr(scorer, "global_", scorer), *getattr(scorer, "scorers_", {}).values()]
    return "".join(m.booster_.model_to_string().split("\nparameters:")[0] for m in models)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=DEMO_LEADS, help="leads of the world")
    parser.add_argument(
        "--trials", type=int, default=None, help="Optuna trials (default: the config's)"
    )
    args = parser.parse_args(argv)

    with markdown_mode(args.markdown):
        world = cached_world(args.leads, SEED)
        runs = {}
        for mode in MODES:
            for loaded in (False, True):
                label = f"{mode}, {'loaded' if loaded else 'quiet'}"
                log(f"{label}: tune + train")
                runs[mode, loaded] = run = run_demo(world, mode, loaded, args.trials)
                log(f"{label}: tune {run['tune']:.1f} s, train {run['train']:.1f} s, "
                    f"threads {run['threads']}, load {os.getloadavg()[0]:.2f}")
        same = len({run["model"] for run in runs.values()}) == 1

    rows = []
    for mode in MODES:
        quiet, loaded = runs[mode, False], runs[mode, True]
        for stage in ("tune", "train", "total"):
            q = quiet["tune"] + quiet["train"] if stage == "total" else quiet[stage]
            b = loaded["tune"] + loaded["train"] if stage == "total" else loaded[stage]
            label = f"**{mode}**: tune + train" if stage == "total" else f"{mode}: {stage}"
            met = ("yes" if b / q <= GOAL else "no") if mode == "after" else ""
            rows.append([label, f"{q:.1f}", f"{b:.1f}", f"{b / q:.2f}x", met])
    threads = ", ".join(
        f"{mode} {'loaded' if loaded else 'quiet'} {run['threads']}"
        for (mode, loaded), run in runs.items()
    )
    trials = f"{args.trials} trials" if args.trials else "the config's trials"
    if args.markdown:
        print(
            f"World: {args.leads:,} leads (`artifacts/bench/{world.name}`); `leadscore tune` "
            f"({trials}) then `leadscore train --no-evaluate`, each pair in a fresh folder with "
            "MLflow in its own sqlite store. Loaded: one `python -c \"while True: pass\"` runs "
            "meanwhile. Before: `model.n_jobs=2`; after: the defaults "
            f"(`model.n_jobs: auto`), OpenMP's default wait policy in both. LightGBM threads "
            f"(tune/train): "
            f"{threads}. Models of the four runs identical tree for tree: "
            f"{'yes' if same else '**no**'}. Goal: loaded <= {GOAL}x quiet.\n"
        )
        print(md_table(["run", "quiet s", "loaded s", "loaded / quiet", "goal met"], rows))
        quiet, loaded = runs["after", False], runs["after", True]
        for stage in ("tune", "train"):
            ratio = loaded[stage] / quiet[stage]
            print(marker(f"busy_{stage}", f"{ratio:.2f}x", ratio <= GOAL))
    else:
        for row in rows:
            print(f"  {row[0]:<28} {row[1]:>8} s {row[2]:>8} s  {row[3]:>7}  {row[4]}")
        print(f"  threads: {threads}; models identical: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
