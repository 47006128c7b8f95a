"""Run the LeadScore benchmark suite and write ``docs/benchmarks.md``.

Run on demand (``make bench``; never part of ``make test``)::

    .venv/bin/python -m bench                 # whole suite, ~15 min on 2 cores: docs/benchmarks.md
    .venv/bin/python -m bench --only score    # one benchmark; replaces its section only
    .venv/bin/python -m bench --quick         # smoke run with smaller sizes (not the doc)

Each benchmark is a script of this folder run as a child process with ``--markdown``: its stdout
is its section, its stderr (progress) is shown as it runs. The document is rewritten atomically
(a temporary file renamed over it) after each benchmark, replacing that benchmark's section and
keeping the others, so an interrupted run leaves a whole document with the sections it finished.
Each section records its own command, date, duration and how much of the CPU other processes
took meanwhile, since the figures of a shared machine are only as good as that.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench._common import CACHE, ROOT, log, machine
from bench.goals import summary

DOC = ROOT / "docs" / "benchmarks.md"
QUICK_DOC = CACHE / "benchmarks-quick.md"
BUSY_NOTE = 0.10  # other processes' share of the CPU above which a section says so


@dataclass(frozen=True)
class Benchmark:
    """One script of the suite and its arguments for the full and the quick run."""

    name: str
    title: str
    script: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()

    def command(self, quick: bool) -> list[str]:
        """The command line, relative to the project root, as the doc shows it."""
        return [".venv/bin/python", f"bench/{self.script}", *(self.quick if quick else self.full)]


SUITE = (
    Benchmark("synth", "Synthetic world generation", "bench_synth.py", quick=("--leads", "100000")),
    Benchmark(
        "features",
        "Feature building: engagement engine vs plain pandas",
        "bench_features.py",
        quick=("--leads", "200000", "--partition", "50000"),
    ),
    Benchmark(
        "explain",
        "Exact TreeSHAP: pipeline.scorers.treeshap vs pred_contrib vs shap",
        "bench_explain.py",
        quick=("--rows", "5000", "--shap-rows", "500", "--train-rows", "20000"),
    ),
    Benchmark("train", "Training throughput", "bench_train.py", quick=("--repeats", "1")),
    Benchmark("segmented", "Segmented fit and multi-snapshot training against one model",
              "bench_segmented.py", quick=("--leads", "10000")),
    Benchmark("busy", "Training on a busy machine: tune and train next to a CPU-bound job",
              "bench_busy.py", quick=("--leads", "10000", "--trials", "2")),
    Benchmark(
        "score",
        "Batch scoring with the CLI",
        "bench_score.py",
        # 714da60: main before the issue-20 speed-ups, the output they must leave unchanged
        full=("--compare-with", "714da60"),
        quick=("--leads", "100000", "--sample", "20000", "--repeats", "1"),
    ),
    Benchmark("scale", "How batch scoring scales: time and memory by size", "bench_scale.py",
              quick=("--sizes", "10000,50000,100000", "--plot", "artifacts/bench/scale-quick.png")),
    Benchmark("workers", "Batch scoring in parallel processes: --workers 2 against 1",
              "bench_workers.py", full=("--leads", "200000", "--batch-size", "25000"),
              quick=("--leads", "100000")),
    Benchmark("guard", "What safe batch scoring costs: resume fingerprint and output lock",
              "bench_guard.py", quick=("--leads", "100000", "--repeats", "1")),
    Benchmark("spark", "Spark engine (local[2]) against the local engine", "bench_spark.py",
              quick=("--leads", "40000")),
    Benchmark("quality", "Model quality", "bench_quality.py", quick=("--flaml-budget", "10")),
)
NAMES = [b.name for b in SUITE]
_SECTION = re.compile(r"<!-- bench:(\w+) -->\n.*?<!-- /bench:\1 -->\n", re.S)


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_one(bench: Benchmark, quick: bool) -> tuple[str, bool]:
    """Run one benchmark: its markdown section between markers (a failure is a section too)."""
    command = bench.command(quick)
    argv = [sys.executable, *command[1:], "--markdown"]
    busy, ours, started = _busy_seconds(), _children_cpu(), time.perf_counter()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    code = _git_state()
    # stderr is inherited: the benchmark's progress shows while stdout collects the section.
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    ours = _children_cpu() - ours
    others = max(_busy_seconds() - busy - ours, 0.0) / (wall * (os.cpu_count() or 1))
    shared = (
        f" **The CPU was shared:** other processes used {others:.0%} of the "
        f"{os.cpu_count()} cores meanwhile, so times are pessimistic."
        if others > BUSY_NOTE
        else f" Other processes used {others:.0%} of the CPU meanwhile."
    )
    body = done.stdout.strip()
    if done.returncode != 0:
        body = f"**Failed** (exit {done.returncode}); run the command above to see why." + (
            f"\n\n{body}" if body else ""
        )
    log(f"[bench] {bench.name}: exit {done.returncode}, {wall:.0f} s, others {others:.0%}")
    section = (
        f"<!-- bench:{bench.name} -->\n## {bench.title}\n\n"
        f"`{' '.join(command)}` — measured {when} on {code}, {wall:.0f} s.{shared}\n\n"
        f"{body}\n<!-- /bench:{bench.name} -->\n"
    )
    return section, done.returncode == 0


def _git_state() -> str:
    """The commit measured, and whether the working tree differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [
        line[3:]
        for line in git(
            "status", "--porcelain", "--", "pipeline", "features", "configs"
        ).splitlines()
    ]
    if not dirty:
        return f"commit `{commit}`"
    return (
        f"commit `{commit}` plus uncommitted changes to {len(dirty)} file(s) in pipeline/, "
        "features/, configs/"
    )


def render(sections: dict[str, str], quick: bool) -> str:
    """The whole document: machine, reproduction commands, then the sections in suite order."""
    facts = machine()
    table = "\n".join(f"| {key} | {value} |" for key, value in facts.items())
    mode = " with `--quick` (smaller sizes: a smoke run, not reference figures)" if quick else ""
    contents = "\n".join(f"- [{b.title}](#{_anchor(b.title)})" for b in SUITE if b.name in sections)
    body = "\n".join(sections.get(b.name, "") for b in SUITE if b.name in sections)
    goals = summary(
        [sections[b.name] for b in SUITE if b.name in sections],
        {b.name: _anchor(b.title) for b in SUITE if b.name in sections},
    )
    return f"""# LeadScore benchmarks

Written by `.venv/bin/python -m bench`{mode} on {datetime.now(UTC):%Y-%m-%d}; each section
names the code it measured (the repository can move on between sections of a long run).

Every figure comes with a reference measured in the same run on the same machine (plain pandas,
LightGBM's own `pred_contrib`, `booster.predict`, `LGBMClassifier()`, ...): the ratios are what
carries over to another machine. No benchmark asserts a timing, and none runs in `make test`.

{goals}
## Machine

| | |
| --- | --- |
{table}

## Reproduce

```sh
make bench                              # installs .[dev,spark,bench], then runs the suite
.venv/bin/python -m bench               # the suite without the install: rewrites this file
.venv/bin/python -m bench --only score  # one benchmark: replaces its section only
.venv/bin/python -m bench --quick       # smoke run: artifacts/bench/benchmarks-quick.md
```

Each section starts with its own command (add `--markdown` for the section, or run it bare for a
human-readable report), the date it was measured and the CPU other processes took meanwhile.
Synthetic worlds are generated once and cached under `artifacts/bench/` (regenerated when
`pipeline/synth/` or `features/activity.py` changes).

{contents}

{body}"""


def _anchor(title: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or one benchmark) and write the document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--only",
        choices=NAMES,
        action="append",
        help="run only this benchmark (repeatable); other sections are kept",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"default {DOC.relative_to(ROOT)} ({QUICK_DOC.relative_to(ROOT)} with --quick)",
    )
    args = parser.parse_args(argv)
    output = args.output or (QUICK_DOC if args.quick else DOC)
    chosen = [b for b in SUITE if not args.only or b.name in args.only]

    sections: dict[str, str] = {}
    if output.is_file():
        # Keep the sections of the benchmarks not (yet) re-run.
        sections = {m.group(1): m.group(0) for m in _SECTION.finditer(output.read_text())}
    failed = []
    started = time.perf_counter()
    for number, bench in enumerate(chosen, start=1):
        log(f"[bench] {number}/{len(chosen)} {bench.name}: {' '.join(bench.command(args.quick))}")
        sections[bench.name], ok = run_one(bench, args.quick)
        if not ok:
            failed.append(bench.name)
        # Written after every benchmark, so a long run shows its figures as they come.
        write_atomic(output, render(sections, args.quick))
    log(
        f"[bench] wrote {output} in {time.perf_counter() - started:.0f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
