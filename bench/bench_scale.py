"""Benchmark how batch scoring scales: time and peak memory of ``leadscore score`` by world size.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_scale.py                          # 10k, 100k, 1M and 3M leads
    .venv/bin/python bench/bench_scale.py --sizes 10000,50000,100000
    .venv/bin/python bench/bench_scale.py --markdown               # section for docs/benchmarks.md

For each size, a synthetic world (``pipeline.synth.world.write_world``, cached under
``artifacts/bench/``) is scored by the real CLI as a child process, with and without
explanations, with the model trained on the 40,000-lead demo world; wall time, leads/s and the
peak resident memory of the child are measured (``bench._common.run_measured``). The exponent
``b`` of ``time = a * leads ** b`` is fitted by least squares on log-log (``linear`` when
``0.9 <= b <= 1.1``) on the worlds of 100k leads and more, and a log-log plot of time and peak
RSS against leads is written to ``docs/img/scale.png`` (``--plot``), which the benchmarks page
shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _common as common  # noqa: E402
from bench.bench_score import score_command  # noqa: E402
from bench.goals import marker  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000, 3_000_000)
MODES = {"with explanations": True, "--no-explain": False}
LIMIT_GIB = 1.0  # the goal: peak RSS under 1 GiB with explanations, flat with size
FLAT_RATIO = 1.25  # "flat": the largest world's peak within 25 % of the smallest's (>= 100k)
FIT_FROM = 100_000


def fitted_exponent(leads: list[int], seconds: list[float]) -> float:
    """``b`` of ``seconds = a * leads ** b``, least squares on log-log."""
    slope, _ = np.polyfit(np.log(np.asarray(leads, float)), np.log(np.asarray(seconds)), 1)
    return float(slope)


def growth(b: float) -> str:
    """How time grows with ``b``: linear within 10 %, else super- or sub-linear."""
    if 0.9 <= b <= 1.1:
        return "linear"
    return "super-linear" if b > 1.1 else "sub-linear"


def plot(results: dict[str, list[dict]], path: Path) -> None:
    """Time and peak RSS against leads, log-log, one line per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for mode, rows in results.items():
        leads = [r["leads"] for r in rows]
        left.plot(leads, [r["seconds"] for r in rows], marker="o", label=mode)
        right.plot(leads, [r["rss_mib"] for r in rows], marker="o", label=mode)
    left.set(xscale="log", yscale="log", xlabel="leads", ylabel="wall time (s)",
             title="leadscore score: time")
    right.set(xscale="log", yscale="log", xlabel="leads", ylabel="peak RSS (MiB)",
              title="leadscore score: peak memory")
    right.axhline(LIMIT_GIB * common.GIB / common.MIB, color="grey", linestyle="--", label="1 GiB")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_link(path: Path) -> str:
    """The plot as docs/benchmarks.md links it (relative to docs/ when it lives there)."""
    docs = common.ROOT / "docs"
    return str(path.relative_to(docs)) if path.resolve().is_relative_to(docs) else str(path)


def goal_markers(results: dict[str, list[dict]], exponents: dict[str, float],
                 fitted: list[int]) -> list[str]:
    """The memory and growth goals, judged on the explained runs (the heavier mode)."""
    explained = {r["leads"]: r["rss_mib"] for r in results["with explanations"]}
    out = []
    if 1_000_000 in explained:
        rss = explained[1_000_000]
        out.append(marker("rss_1m", f"{rss:,.0f} MiB", rss * common.MIB < LIMIT_GIB * common.GIB))
    large = [rss for leads, rss in explained.items() if leads >= FIT_FROM]
    if len(large) > 1:
        ratio = max(large) / min(large)
        span = f"{min(k for k in explained if k >= FIT_FROM):,}-{max(explained):,}"
        out.append(marker("rss_flat", f"{ratio:.2f}x ({span})", ratio <= FLAT_RATIO))
    if exponents:
        b = exponents["with explanations"]
        b_plain = exponents["--no-explain"]
        out.append(marker("time_linear", f"b = {b:.2f} (--no-explain {b_plain:.2f}), "
                          f"{fitted[0]:,}-{fitted[-1]:,}",
                          all(0.9 <= x <= 1.1 for x in (b, b_plain))))
    return out


def main(argv: list[str] | None = None) -> int:
    """Score each size in both modes and print the table, the exponent and the plot's path."""
    parser = common.bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                        help="comma-separated world sizes in leads")
    parser.add_argument("--train-leads", type=int, default=common.DEMO_LEADS)
    parser.add_argument("--plot", type=Path, default=common.ROOT / "docs" / "img" / "scale.png",
                        help="where the plot goes (docs/benchmarks.md shows docs/img/scale.png)")
    parser.add_argument("--seed", type=int, default=common.SEED)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    with common.markdown_mode(args.markdown):
        work = common.CACHE / "scale"
        config, model, _ = common.model_file(work, common.cached_world(args.train_leads, args.seed))
        for size in sizes:
            world = common.cached_world(size, args.seed)
            for mode, explain in MODES.items():
                output = work / "scores.parquet"
                run = common.run_checked(score_command(config, model, world, output, explain, None),
                                  "leadscore score")
                output.unlink(missing_ok=True)
                rss = max(run.peak_tree_mib, np.nan_to_num(run.peak_max_rss_mib))
                results[mode].append({"leads": size, "seconds": run.seconds, "rss_mib": rss,
                                      "events": common.world_summary(world)["activities"]})
                common.log(f"  {size:,} leads {mode}: {run.seconds:.1f} s, "
                    f"{size / run.seconds:,.0f} leads/s, peak RSS {rss:,.0f} MiB")
        plot(results, args.plot)

    # The fit leaves out worlds under 100k leads when at least two larger ones were run: there
    # the CLI's fixed start-up (imports, model load: seconds) hides how the work itself grows.
    fitted = [s for s in sizes if s >= FIT_FROM] if sum(s >= FIT_FROM for s in sizes) > 1 else sizes
    exponents = {mode: fitted_exponent([r["leads"] for r in rows if r["leads"] in fitted],
                                       [r["seconds"] for r in rows if r["leads"] in fitted])
                 for mode, rows in results.items()} if len(fitted) > 1 else {}
    headers = ["leads", "events", "mode", "wall s", "leads/s", "peak RSS (MiB)",
               f"< {LIMIT_GIB:g} GiB"]
    rows = [[f"{r['leads']:,}", f"{r['events']:,}", mode, f"{r['seconds']:.1f}",
             f"{r['leads'] / r['seconds']:,.0f}", f"{r['rss_mib']:,.0f}",
             "yes" if r["rss_mib"] * common.MIB < LIMIT_GIB * common.GIB else "**no**"]
            for mode, found in results.items() for r in found]
    fits = [f"{mode}: b = {b:.2f} ({growth(b)})" for mode, b in exponents.items()]
    if args.markdown:
        print("`leadscore score` as a child process on synthetic worlds of each size (~20 events "
              "per lead), model trained on the 40,000-lead demo world, the config's batch size. "
              "Peak RSS: the larger of the polled process-tree RSS and the kernel's max RSS.\n")
        print(common.md_table(headers, rows))
        print(f"\nTime = a · leads^b fitted on log-log over {', '.join(f'{s:,}' for s in fitted)}"
              f" leads: {'; '.join(fits)}.\n")
        print(f"![time and peak RSS against leads]({plot_link(args.plot)})")
        print("\n".join(goal_markers(results, exponents, fitted)))
    else:
        for row in rows:
            print("  ".join(f"{cell:>14}" for cell in row))
        for line in fits:
            print(f"time = a * leads^b, {line}")
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
