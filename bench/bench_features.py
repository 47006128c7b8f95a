"""Benchmark the engagement-feature engine against a plain pandas groupby of the same windows.

Run on demand (not part of the tests)::

    .venv/bin/python bench/bench_features.py                       # 1M leads, ~20 events each
    .venv/bin/python bench/bench_features.py --leads 200000 --partition 50000
    .venv/bin/python bench/bench_features.py --world 100000        # pipeline.synth.world's world
    .venv/bin/python bench/bench_features.py --markdown            # docs/benchmarks.md section
    PYTHONPATH=/path/to/polars_and_duckdb .venv/bin/python bench/bench_features.py \\
        --compare groupby,polars,duckdb                            # optional engines

Leads are processed in partitions (``--partition`` leads at a time, with only their own
events), the way batch scoring and the Spark path call the builder, so peak memory depends on
the partition size, not on the number of leads. Events come from a small numpy generator (types
drawn with CRM-like frequencies, times spread over 180 days after creation, as_of drawn between
30 and 180 days after creation so that part of every lead's log lies after its as_of) or, with
``--world``, from ``pipeline.synth.world.make_world`` with ``as_of = created_at + 14 days``.

Timed: ``features.activity.build_engagement_features`` per partition (generation excluded),
single-threaded (numpy's bincount and searchsorted are single-threaded anyway; Polars and DuckDB
are pinned to one thread with ``--threads``). The comparison engines compute the same window
counts (per activity type and per tracked page), recency, decay, totals and active days on the
first partition; the bench checks that they agree with the engine before printing the ratio.
Polars and DuckDB are not project dependencies: put them on ``PYTHONPATH`` to compare.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    bench_parser,
    cpu_name,
    markdown_mode,
    md_table,
    peak_rss_mib,
)
from features.activity import (  # noqa: E402
    ACTIVITY_TYPES,
    NOT_ENGAGEMENT,
    build_engagement_features,
    tracked_pages,
)
from features.settings import FeatureSettings  # noqa: E402

# Relative frequency of each activity type in a B2B CRM log (mail and web dominate).
TYPE_WEIGHTS = {
    "web_visit": 30,
    "email_sent": 20,
    "email_open": 12,
    "email_click": 4,
    "email_bounce": 0.5,
    "email_unsubscribe": 0.5,
    "content_download": 3,
    "webinar_registered": 2,
    "webinar_attended": 1.5,
    "form_submit": 2,
    "demo_request": 1,
    "offline_event": 1,
    "sales_call": 1.5,
}
PAGES = ["home", "blog", "pricing", "demo", "case_study", "careers", "product", "docs"]
DAY = pd.Timedelta(days=1)
SETTINGS = FeatureSettings()

Partition = tuple[pd.Index, pd.DataFrame, pd.Series, pd.Series]


def make_partition(start: int, n: int, events_per_lead: float, seed: int) -> Partition:
    """Leads ``start..start+n`` and their events (string columns as pyarrow-backed str)."""
    rng = np.random.default_rng([seed, start])
    ids = pd.array([f"L{i:09d}" for i in range(start, start + n)], dtype="str")
    created = np.datetime64("2025-01-01", "ns") + rng.integers(0, 365 * 86_400, n).astype(
        "timedelta64[s]"
    ).astype("timedelta64[ns]")
    as_of = created + rng.integers(30 * 86_400, 180 * 86_400, n).astype("timedelta64[s]").astype(
        "timedelta64[ns]"
    )
    per_lead = rng.poisson(events_per_lead, n)
    lead = np.repeat(np.arange(n), per_lead)
    m = len(lead)
    weights = np.array(list(TYPE_WEIGHTS.values()))
    type_code = rng.choice(len(TYPE_WEIGHTS), m, p=weights / weights.sum())
    page = np.where(type_code == 0, rng.integers(0, len(PAGES), m), -1)
    occurred = created[lead] + (rng.uniform(0, 180, m) * 86_400e9).astype("timedelta64[ns]")
    # Logs arrive sorted by time, not by lead: the engine must not rely on lead order.
    order = np.argsort(occurred, kind="stable")
    lead, type_code, page, occurred = lead[order], type_code[order], page[order], occurred[order]
    details = pd.array([*PAGES, None], dtype="str")
    activities = pd.DataFrame(
        {
            "lead_id": ids.take(lead),
            "occurred_at": occurred,
            "activity_type": pd.array(list(TYPE_WEIGHTS), dtype="str").take(type_code),
            "detail": details.take(np.where(page >= 0, page, len(PAGES))),
        }
    )
    index = pd.Index(ids, name="lead_id")
    return (index, activities, pd.Series(as_of, index=index), pd.Series(created, index=index))


def world_partitions(n_leads: int, partition: int, seed: int):
    """Partitions of a ``pipeline.synth.world`` world (as_of = created_at + 14 days)."""
    try:
        from pipeline.synth.world import make_world
    except ImportError as exc:
        raise SystemExit(f"--world needs pipeline.synth.world.make_world ({exc})") from None

    world = make_world(n_leads, seed=seed)
    leads, activities = world.leads, world.activities
    codes = pd.Index(leads["lead_id"]).get_indexer(activities["lead_id"])
    for start in range(0, len(leads), partition):
        chunk = leads.iloc[start : start + partition]
        index = pd.Index(chunk["lead_id"], name="lead_id")
        own = activities[(codes >= start) & (codes < start + len(chunk))]
        created = pd.Series(chunk["created_at"].to_numpy(), index=index)
        yield index, own, created + pd.Timedelta(days=14), created


# --------------------------------------------------------------------- comparison engines
def groupby_engine(
    ids: pd.Index,
    activities: pd.DataFrame,
    as_of: pd.Series,
    created: pd.Series,
    s: FeatureSettings,
) -> pd.DataFrame:
    """The same windows written as plain pandas: map, filter, groupby per window."""
    ev = activities.assign(as_of=activities["lead_id"].map(as_of))
    ev = ev[ev["occurred_at"] < ev["as_of"]]
    ev = ev.assign(age=(ev["as_of"] - ev["occurred_at"]) / DAY)
    pages = tracked_pages(s)
    out: dict[str, pd.Series] = {}
    for w in s.windows_days:
        recent = ev[ev["age"] <= w]
        counts = recent.groupby(["lead_id", "activity_type"]).size().unstack(fill_value=0)
        for t in ACTIVITY_TYPES:
            out[f"{t}_{w}d"] = counts[t] if t in counts else pd.Series(dtype=float)
        visits = recent[recent["activity_type"] == "web_visit"]
        per_page = visits.groupby(["lead_id", "detail"]).size().unstack(fill_value=0)
        for p in pages:
            out[f"page_{p}_{w}d"] = per_page[p] if p in per_page else pd.Series(dtype=float)
    engaged = ev[
        ~ev["activity_type"].isin(list(NOT_ENGAGEMENT))
        & ~((ev["activity_type"] == "web_visit") & ev["detail"].isin(s.negative_pages))
    ]
    by_lead = engaged.groupby("lead_id")
    out["activity_total"] = by_lead.size()
    out["days_since_first_activity"] = by_lead["age"].max()
    last = by_lead["age"].min()
    out["decayed_activity"] = (
        (0.5 ** (engaged["age"] / s.half_life_days)).groupby(engaged["lead_id"]).sum()
    )
    recent = engaged[engaged["age"] <= 30]
    out["active_days_30d"] = (
        recent["occurred_at"].dt.normalize().groupby(recent["lead_id"]).nunique()
    )
    table = pd.DataFrame({k: v.reindex(ids) for k, v in out.items()})
    fill = [c for c in table.columns if c != "days_since_first_activity"]
    table[fill] = table[fill].fillna(0.0)
    table["days_since_last_activity"] = last.reindex(ids).fillna((as_of - created) / DAY)
    return table.astype("float64")


def polars_engine(
    ids: pd.Index,
    activities: pd.DataFrame,
    as_of: pd.Series,
    created: pd.Series,
    s: FeatureSettings,
) -> pd.DataFrame:
    """The same windows as one Polars group_by with conditional sums."""
    import polars as pl

    leads = pl.DataFrame(
        {
            "lead_id": ids.to_numpy(dtype=object).astype(str),
            "as_of": as_of.to_numpy(),
            "created": created.to_numpy(),
        }
    )
    ev = pl.from_pandas(activities).join(leads.select("lead_id", "as_of"), on="lead_id")
    ev = ev.filter(pl.col("occurred_at") < pl.col("as_of")).with_columns(
        age=(pl.col("as_of") - pl.col("occurred_at")).dt.total_nanoseconds() / 86_400e9
    )
    is_web = pl.col("activity_type") == "web_visit"
    engaged = ~pl.col("activity_type").is_in(list(NOT_ENGAGEMENT)) & ~(
        is_web & pl.col("detail").is_in(s.negative_pages)
    )
    aggs = []
    for w in s.windows_days:
        inside = pl.col("age") <= w
        aggs += [
            ((pl.col("activity_type") == t) & inside).sum().alias(f"{t}_{w}d")
            for t in ACTIVITY_TYPES
        ]
        aggs += [
            (is_web & (pl.col("detail") == p) & inside).sum().alias(f"page_{p}_{w}d")
            for p in tracked_pages(s)
        ]
    aggs += [
        engaged.sum().alias("activity_total"),
        pl.col("age").filter(engaged).min().alias("last"),
        pl.col("age").filter(engaged).max().alias("days_since_first_activity"),
        (0.5 ** (pl.col("age") / s.half_life_days)).filter(engaged).sum().alias("decayed_activity"),
        pl.col("occurred_at")
        .dt.date()
        .filter(engaged & (pl.col("age") <= 30))
        .n_unique()
        .alias("active_days_30d"),
    ]
    table = leads.join(ev.group_by("lead_id").agg(aggs), on="lead_id", how="left").to_pandas()
    table = table.set_index("lead_id").reindex(ids.astype(str))
    since = (table["as_of"] - table["created"]) / DAY
    table["days_since_last_activity"] = table.pop("last").fillna(since)
    table = table.drop(columns=["as_of", "created"])
    fill = [
        c
        for c in table.columns
        if c not in ("days_since_first_activity", "days_since_last_activity")
    ]
    table[fill] = table[fill].fillna(0.0)
    return table.astype("float64")


def duckdb_engine(
    ids: pd.Index,
    activities: pd.DataFrame,
    as_of: pd.Series,
    created: pd.Series,
    s: FeatureSettings,
) -> pd.DataFrame:
    """The same windows as one DuckDB SQL GROUP BY with FILTER clauses."""
    import duckdb

    leads = pd.DataFrame(
        {"lead_id": ids.astype(str), "as_of": as_of.to_numpy(), "created": created.to_numpy()}
    )
    neg = ", ".join(f"'{p}'" for p in s.negative_pages) or "NULL"
    passive = ", ".join(f"'{t}'" for t in NOT_ENGAGEMENT)
    engaged = (
        f"activity_type NOT IN ({passive}) AND NOT (activity_type = 'web_visit' "
        f"AND coalesce(detail IN ({neg}), false))"
    )
    cols = []
    for w in s.windows_days:
        cols += [
            f"count(*) FILTER (activity_type = '{t}' AND age <= {w}) AS {t}_{w}d"
            for t in ACTIVITY_TYPES
        ]
        cols += [
            f"count(*) FILTER (activity_type = 'web_visit' AND detail = '{p}' AND "
            f"age <= {w}) AS page_{p}_{w}d"
            for p in tracked_pages(s)
        ]
    cols += [
        f"count(*) FILTER ({engaged}) AS activity_total",
        f"min(age) FILTER ({engaged}) AS last",
        f"max(age) FILTER ({engaged}) AS days_since_first_activity",
        f"sum(pow(0.5, age / {s.half_life_days})) FILTER ({engaged}) AS decayed_activity",
        f"count(DISTINCT CAST(occurred_at AS DATE)) FILTER ({engaged} AND age <= 30) "
        "AS active_days_30d",
    ]
    sql = f"""
        WITH ev AS (
            SELECT a.lead_id, a.activity_type, a.detail, a.occurred_at,
                   epoch_ns(l.as_of) / 86400e9 - epoch_ns(a.occurred_at) / 86400e9 AS age
            FROM activities a JOIN leads l USING (lead_id)
            WHERE a.occurred_at < l.as_of)
        SELECT l.lead_id, l.as_of, l.created, g.* EXCLUDE (lead_id)
        FROM leads l LEFT JOIN (SELECT lead_id, {", ".join(cols)} FROM ev GROUP BY lead_id) g
        USING (lead_id)"""
    con = duckdb.connect()
    con.execute(f"SET threads = {os.environ.get('BENCH_THREADS', '1')}")
    con.register("activities", activities)
    con.register("leads", leads)
    table = con.execute(sql).df().set_index("lead_id").reindex(ids.astype(str))
    since = (table["as_of"] - table["created"]) / DAY
    table["days_since_last_activity"] = table.pop("last").fillna(since)
    table = table.drop(columns=["as_of", "created"])
    fill = [
        c
        for c in table.columns
        if c not in ("days_since_first_activity", "days_since_last_activity")
    ]
    table[fill] = table[fill].fillna(0.0)
    return table.astype("float64")


ENGINES: dict[str, Callable[..., pd.DataFrame]] = {
    "groupby": groupby_engine,
    "polars": polars_engine,
    "duckdb": duckdb_engine,
}


def check_same(ours: pd.DataFrame, theirs: pd.DataFrame, name: str) -> None:
    """Refuse to report a ratio between engines that disagree."""
    cols = [c for c in theirs.columns if c in ours.columns]
    a = ours[cols].to_numpy()
    b = theirs.loc[ours.index, cols].to_numpy()
    if not np.allclose(a, b, rtol=1e-9, atol=1e-6, equal_nan=True):
        bad = [
            c
            for c in cols
            if not np.allclose(
                ours[c].to_numpy(),
                theirs.loc[ours.index, c].to_numpy(),
                rtol=1e-9,
                atol=1e-6,
                equal_nan=True,
            )
        ]
        raise SystemExit(f"{name} disagrees with the engine on {bad[:5]}")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print figures (or the markdown section)."""
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events-per-lead", type=float, default=20.0)
    parser.add_argument(
        "--partition", type=int, default=200_000, help="leads per partition (bounds memory)"
    )
    parser.add_argument(
        "--world",
        type=int,
        default=0,
        help="use pipeline.synth.world.make_world with this many leads instead",
    )
    parser.add_argument(
        "--compare",
        default="groupby",
        help="comma-separated engines run on the first partition "
        "(groupby, polars, duckdb; '' for none)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for Polars/DuckDB (the engine is single-threaded)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with markdown_mode(args.markdown):
        figures = _run(args)
    if args.markdown:
        print(_markdown(figures, args))


def _run(args) -> dict:
    """Time the engine over all partitions, then the comparison engines on the first one."""
    os.environ["POLARS_MAX_THREADS"] = str(args.threads)
    os.environ["BENCH_THREADS"] = str(args.threads)

    if args.world:
        source = f"pipeline.synth.world world, {args.world:,} leads"
        partitions = world_partitions(args.world, args.partition, args.seed)
        n_total = args.world
    else:
        source = f"numpy generator, {args.leads:,} leads x ~{args.events_per_lead:g} events"
        n_total = args.leads
        partitions = (
            make_partition(
                start, min(args.partition, n_total - start), args.events_per_lead, args.seed
            )
            for start in range(0, n_total, args.partition)
        )
    print(f"# engagement features: {source}, partitions of {args.partition:,} leads")
    print(
        f"# {cpu_name()}; python {platform.python_version()}, pandas {pd.__version__}, "
        f"numpy {np.__version__}"
    )

    engine_s = engine_cpu = gen_s = 0.0
    n_leads = n_events = 0
    started = time.perf_counter()
    t = time.perf_counter()
    for part, (ids, activities, as_of, created) in enumerate(partitions):
        gen_s += time.perf_counter() - t
        t, cpu = time.perf_counter(), time.process_time()
        build_engagement_features(ids, activities, as_of, SETTINGS, created_at=created)
        took, took_cpu = time.perf_counter() - t, time.process_time() - cpu
        engine_s += took
        engine_cpu += took_cpu
        n_leads += len(ids)
        n_events += len(activities)
        print(
            f"partition {part + 1}: {len(ids):,} leads, {len(activities):,} events, "
            f"{took:.2f} s, {len(activities) / took / 1e6:.2f} M events/s, "
            f"peak RSS {peak_rss_mib():,.0f} MiB",
            flush=True,
        )
        del activities, as_of, created, ids
        gc.collect()
        t = time.perf_counter()

    print()
    print(f"engine (features.activity, numpy bincount), {n_leads:,} leads, {n_events:,} events:")
    print(
        f"  wall {engine_s:.2f} s -> {n_leads / engine_s:,.0f} leads/s, "
        f"{n_events / engine_s / 1e6:.2f} M events/s"
    )
    print(
        f"  CPU  {engine_cpu:.2f} s -> {n_leads / engine_cpu:,.0f} leads/s, "
        f"{n_events / engine_cpu / 1e6:.2f} M events/s (one core)"
    )
    print(
        f"  generation {gen_s:.1f} s not counted; wall {time.perf_counter() - started:.1f} s; "
        f"peak RSS {peak_rss_mib():,.0f} MiB (before any comparison engine ran)"
    )

    figures = {
        "source": source,
        "leads": n_leads,
        "events": n_events,
        "wall": engine_s,
        "cpu": engine_cpu,
        "peak": peak_rss_mib(),
        "compare": {},
    }
    names = [e for e in args.compare.split(",") if e]
    if not names:
        return figures
    # The first partition again, so the comparison engines do not inflate the peak above.
    if args.world:
        ids, activities, as_of, created = next(
            world_partitions(args.world, args.partition, args.seed)
        )
    else:
        ids, activities, as_of, created = make_partition(
            0, min(args.partition, n_total), args.events_per_lead, args.seed
        )
    timings: dict[str, tuple[float, float]] = {}
    table = None
    for name in ["engine", *names]:
        run = (
            (lambda *a: build_engagement_features(*a[:3], a[4], created_at=a[3]))
            if name == "engine"
            else ENGINES[name]
        )
        try:
            t, cpu = time.perf_counter(), time.process_time()
            result = run(ids, activities, as_of, created, SETTINGS)
            timings[name] = (time.perf_counter() - t, time.process_time() - cpu)
        except ImportError as exc:
            print(f"  {name}: skipped ({exc}; put it on PYTHONPATH)")
            continue
        if table is None:
            table = result
        else:
            check_same(table, result, name)
    m = len(activities)
    print(
        f"first partition again, {len(ids):,} leads, {m:,} events, same columns, results "
        f"checked equal ({args.threads} thread(s) for Polars/DuckDB):"
    )
    base_wall, base_cpu = timings["engine"]
    for name, (wall, cpu) in timings.items():
        print(
            f"  {name:8s} wall {wall:6.2f} s ({m / wall / 1e6:5.2f} M events/s, "
            f"{wall / base_wall:4.1f}x)   CPU {cpu:6.2f} s ({m / cpu / 1e6:5.2f} M events/s, "
            f"{cpu / base_cpu:4.1f}x)"
        )
    figures.update(compare=timings, first_leads=len(ids), first_events=m)
    return figures


def _markdown(f: dict, args) -> str:
    """The docs/benchmarks.md section: the engine's throughput, then the comparison."""
    n, m = f["leads"], f["events"]
    head = (
        f"Events from the {f['source']}, processed in partitions of {args.partition:,} leads "
        f"(as batch scoring does); generation not counted. Peak RSS {f['peak']:,.0f} MiB "
        "(`ru_maxrss` of the process, before any comparison engine ran).\n\n"
    )
    engine = md_table(
        ["engine", "leads", "events", "wall s", "leads/s", "M events/s", "CPU s"],
        [
            [
                "`features.activity.build_engagement_features`",
                f"{n:,}",
                f"{m:,}",
                f"{f['wall']:.2f}",
                f"{n / f['wall']:,.0f}",
                f"{m / f['wall'] / 1e6:.2f}",
                f"{f['cpu']:.2f}",
            ]
        ],
    )
    if not f["compare"]:
        return head + engine
    base_wall, _ = f["compare"]["engine"]
    k = f["first_events"]
    rows = [
        [
            name if name != "engine" else "**engine**",
            f"{wall:.2f}",
            f"{k / wall / 1e6:.2f}",
            f"{cpu:.2f}",
            f"{wall / base_wall:.1f}x",
        ]
        for name, (wall, cpu) in f["compare"].items()
    ]
    comparison = md_table(["engine", "wall s", "M events/s", "CPU s", "time / engine's"], rows)
    return (
        f"{head}{engine}\n\nSame windows and columns on the first partition "
        f"({f['first_leads']:,} leads, {k:,} events), results checked equal; `groupby` is "
        f"plain pandas (map, filter, one groupby per window):\n\n{comparison}"
    )


if __name__ == "__main__":
    main()
