"""Benchmark ``pipeline.synth.write_world``: time, rows, throughput and peak memory.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_synth.py                     # 1,000,000 leads, ~20M activities
    .venv/bin/python bench/bench_synth.py --leads 200000 --seed 7
    .venv/bin/python bench/bench_synth.py --out /tmp/world    # keep the files

The world is written to a temporary folder (removed afterwards unless ``--out`` is given). Peak
memory is the process's maximum resident set size (``ru_maxrss``, KiB on Linux), which includes
the interpreter and imported libraries (measured before generation too, as the baseline).
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mib() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _run(out: Path, leads: int, seed: int) -> None:
    """Generate the world into ``out`` and print the figures."""
    from pipeline.synth import CHUNK, write_world

    baseline = _peak_mib()
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"\r  {done:>12,} / {total:,} leads  ({rate:,.0f} leads/s)", end="", flush=True)

    summary = write_world(out, leads, seed=seed, progress=progress)
    seconds = time.perf_counter() - started
    print()
    sizes = {p.name: p.stat().st_size / 2**20 for p in sorted(out.glob("*.parquet"))}
    acts = summary["activities"]
    print(f"python {platform.python_version()}, {platform.machine()}, chunk {CHUNK:,} leads")
    print(f"leads            {summary['leads']:>14,}")
    print(f"activities       {acts:>14,}  ({acts / summary['leads']:.1f} per lead)")
    print(
        f"won              {summary['positives']:>14,}  (rate {summary['rate']:.4f}, "
        f"mean p_convert {summary['true_rate']:.4f})"
    )
    print(f"time             {seconds:>14.1f} s")
    print(f"activities/s     {acts / seconds:>14,.0f}")
    print(f"leads/s          {summary['leads'] / seconds:>14,.0f}")
    print(f"peak RSS         {_peak_mib():>14,.0f} MiB  (after imports {baseline:,.0f} MiB)")
    for name, mib in sizes.items():
        print(f"{name:<18} {mib:>12,.1f} MiB")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="keep the files in this folder")
    args = parser.parse_args(argv)
    import numpy  # noqa: F401  (imports count in the baseline, not in the generation)
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if args.out is not None:
        _run(args.out, args.leads, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        _run(Path(tmp), args.leads, args.seed)


if __name__ == "__main__":
    main()
