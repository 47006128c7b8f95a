"""Benchmark what batch scoring's safety costs: the resume fingerprint and the output lock.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_guard.py                     # the 1,000,000-lead world
    .venv/bin/python bench/bench_guard.py --leads 200000
    .venv/bin/python bench/bench_guard.py --markdown          # section for docs/benchmarks.md

The fingerprint (size + streaming BLAKE2b of the bytes, ``pipeline.batch.guard.fingerprint``)
is compared in the same run with the cheapest complete read of the same files: pyarrow
streaming every record batch, which every scoring job does at least twice (count, then spill).
The lock is a filelock acquire + owner file + release, compared with one ``os.stat``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    bench_parser,
    best_time,
    cached_world,
    markdown_mode,
    md_table,
)


def _read_all(path: Path) -> int:
    import pyarrow.parquet as pq

    return sum(b.num_rows for b in pq.ParquetFile(path).iter_batches(batch_size=200_000))


def _run(leads: int, repeats: int) -> dict:
    from pipeline.batch.guard import fingerprint, output_lock

    world = cached_world(leads)
    rows = []
    for name in ("leads.parquet", "activities.parquet"):
        path = world / name
        mib = path.stat().st_size / 2**20
        hashed = best_time(lambda p=path: fingerprint(p), repeats)
        read = best_time(lambda p=path: _read_all(p), repeats)
        rows.append({"file": name, "mib": mib, "hash_s": hashed, "read_s": read})
        print(f"{name:<20} {mib:>8,.1f} MiB  blake2b {hashed:6.3f} s ({mib / hashed:,.0f} MiB/s)"
              f"  pyarrow read {read:6.3f} s  ratio {hashed / read:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench_guard_") as tmp:
        output = Path(tmp) / "scores.parquet"

        def lock_once() -> None:
            with output_lock(output):
                pass

        n = 200
        started = time.perf_counter()
        for _ in range(n):
            lock_once()
        lock_s = (time.perf_counter() - started) / n
        started = time.perf_counter()
        for _ in range(n):
            Path(tmp).stat()
        stat_s = (time.perf_counter() - started) / n
    print(f"lock acquire+release {lock_s * 1e3:.3f} ms  (os.stat {stat_s * 1e6:.1f} us)")
    return {"leads": leads, "files": rows, "lock_ms": lock_s * 1e3, "stat_us": stat_s * 1e6}


def _markdown(r: dict) -> str:
    table = md_table(
        ["file", "MiB", "BLAKE2b s", "MiB/s", "pyarrow full read s", "hash / read"],
        [[f["file"], f"{f['mib']:,.1f}", f"{f['hash_s']:.3f}", f"{f['mib'] / f['hash_s']:,.0f}",
          f"{f['read_s']:.3f}", f"{f['hash_s'] / f['read_s']:.2f}"] for f in r["files"]],
    )
    return (
        f"The resume fingerprint of the {r['leads']:,}-lead world's inputs against one full "
        f"pyarrow read of the same files (a scoring job reads each input at least twice), best "
        f"of the repeats. The output lock (filelock acquire, owner file, release) costs "
        f"{r['lock_ms']:.2f} ms per job.\n\n{table}"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run the benchmark."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with markdown_mode(args.markdown):
        figures = _run(args.leads, args.repeats)
    if args.markdown:
        print(_markdown(figures))


if __name__ == "__main__":
    main()
