"""Benchmark ``pipeline.synth.world.write_world``: time, rows, throughput and peak memory.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_synth.py                     # 1,000,000 leads, ~20M activities
    .venv/bin/python bench/bench_synth.py --leads 200000 --seed 7
    .venv/bin/python bench/bench_synth.py --out /tmp/world    # keep the files
    .venv/bin/python bench/bench_synth.py --markdown          # section for docs/benchmarks.md

The world is written to a temporary folder (removed afterwards unless ``--out`` is given). Peak
memory is the process's maximum resident set size (``ru_maxrss``, KiB on Linux), which includes
the interpreter and imported libraries (measured before generation too, as the baseline).
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_parser, markdown_mode, md_table, peak_rss_mib  # noqa: E402


def _run(out: Path, leads: int, seed: int) -> dict:
    """Generate the world into ``out``, print the figures and return them."""
    from pipeline.synth.world import CHUNK, write_world

    baseline = peak_rss_mib()
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"\r  {done:>12,} / {total:,} leads  ({rate:,.0f} leads/s)", end="", flush=True)

    summary = write_world(out, leads, seed=seed, progress=progress)
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
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
    print(f"peak RSS         {peak:>14,.0f} MiB  (after imports {baseline:,.0f} MiB)")
    for name, mib in sizes.items():
        print(f"{name:<18} {mib:>12,.1f} MiB")
    return {
        **summary,
        "seconds": seconds,
        "peak": peak,
        "rss_after_imports": baseline,
        "sizes": sizes,
        "chunk": CHUNK,
    }


def _markdown(r: dict, seed: int) -> str:
    """The docs/benchmarks.md section."""
    acts = r["activities"]
    table = md_table(
        [
            "leads",
            "activities",
            "seconds",
            "leads/s",
            "activities/s",
            "peak RSS (MiB)",
            "files (MiB)",
        ],
        [
            [
                f"{r['leads']:,}",
                f"{acts:,}",
                f"{r['seconds']:.1f}",
                f"{r['leads'] / r['seconds']:,.0f}",
                f"{acts / r['seconds']:,.0f}",
                f"{r['peak']:,.0f}",
                ", ".join(f"{n.removesuffix('.parquet')} {m:,.1f}" for n, m in r["sizes"].items()),
            ]
        ],
    )
    return (
        f"`pipeline.synth.world.write_world` (seed {seed}, chunks of {r['chunk']:,} leads, zstd "
        f"Parquet): {acts / r['leads']:.1f} activities per lead, {r['rate']:.2%} won. Peak RSS "
        f"is the process's `ru_maxrss`, {r['rss_after_imports']:,.0f} MiB of it after the "
        f"imports, before generation.\n\n{table}"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run the benchmark."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="keep the files in this folder")
    args = parser.parse_args(argv)
    import numpy  # noqa: F401  (imports count in the baseline, not in the generation)
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    with markdown_mode(args.markdown):
        if args.out is not None:
            figures = _run(args.out, args.leads, args.seed)
        else:
            with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
                figures = _run(Path(tmp), args.leads, args.seed)
    if args.markdown:
        print(_markdown(figures, args.seed))


if __name__ == "__main__":
    main()
