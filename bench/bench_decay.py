"""Benchmark the learned decay: ``train_scorers`` with ``features.decay: off`` and ``learn``.

Run on demand (not part of the tests, nor of ``python -m bench``)::

    .venv/bin/python bench/bench_decay.py                    # the 40,000-lead demo world
    .venv/bin/python bench/bench_decay.py --world weak_small # configs/weak_small.yaml's world

For each mode it prints the CPU seconds of ``train_scorers`` (this process only: on a shared
machine the wall time is not the cost), their ratio to ``off`` measured in the same run, the
chosen scorer against the best candidate's test AUC interval (the criterion of
``tests/model/test_weak_signal.py``) and the decay gate's verdict.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from bench._common import DEMO_LEADS, ROOT, SEED, cached_world  # noqa: E402


def run(data: Path, mode: str, n_boot: int) -> tuple[float, str]:
    """CPU seconds of one training and a line on what it chose."""
    from pipeline.data.io import load_dataset, read_truth
    from pipeline.scorers import kinds
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers
    from tests.conftest import demo_config

    cfg = demo_config(data, features={"decay": mode})
    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    start = time.process_time()
    result = train_scorers(cfg, leads, activities, load_rules(cfg.rules),
                           truth=read_truth(data / "truth.parquet"), n_boot=n_boot)
    cpu = time.process_time() - start
    metrics = result.metrics
    candidates = metrics.get("selection", {}).get("candidates", {})
    line = ""
    if candidates:
        best = max(candidates, key=lambda n: candidates[n]["test_roc_auc"])
        chosen = metrics[kinds.CHALLENGER]["roc_auc"]
        line = (f"chosen {metrics['selection']['chosen']} test AUC {chosen:.3f}; best {best} "
                f"{candidates[best]['test_roc_auc']:.3f}")
        low = candidates[best].get("test_auc_ci_low")  # none without the bootstrap (demo)
        if low is not None:
            line += f" (interval low {low:.3f}): {'within' if chosen >= low else 'BELOW'}"
    gate = [n for n in result.notes if n.startswith("decay:")]
    return cpu, "; ".join([line, *gate])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="demo", help="demo, or a configs/<name>.yaml synth")
    parser.add_argument("--modes", default="off,learn")
    args = parser.parse_args()
    if args.world == "demo":
        data, n_boot = cached_world(DEMO_LEADS, SEED), 0
    else:
        world = yaml.safe_load((ROOT / "configs" / f"{args.world}.yaml").read_text())["synth"]
        data = cached_world(world["leads"], 7, world["base_rate"], world["signal"])
        n_boot = 300  # the weak-signal test's intervals
    reference = None
    for mode in args.modes.split(","):
        cpu, line = run(data, mode, n_boot)
        reference = cpu if reference is None else reference
        print(f"{args.world} decay={mode}: train_scorers {cpu:.1f} CPU s "
              f"(x{cpu / reference:.2f} of {args.modes.split(',')[0]}); {line}", flush=True)


if __name__ == "__main__":
    main()
