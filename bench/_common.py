"""Helpers shared by the benchmarks: machine facts, cached worlds, timing, markdown, child RSS.

Every benchmark is a script that prints human-readable figures, or with ``--markdown`` its
section of ``docs/benchmarks.md`` on stdout (progress then goes to stderr, so ``python -m bench``
can collect the section while the user watches the progress).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "artifacts" / "bench"
DEMO_CONFIG = ROOT / "configs" / "demo.yaml"
DEMO_LEADS = 40_000  # configs/demo.yaml's synth.leads
SEED = 42  # configs/base.yaml's seed
GIB = 2**30
MIB = 2**20


def log(message: str) -> None:
    """Progress line on stderr (stdout may be the markdown section being collected)."""
    print(message, file=sys.stderr, flush=True)


def cpu_name() -> str:
    """Processor model from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """What the figures were measured on: cores, memory, CPU, Python and library versions.

    Returns
    -------
    dict
        Human-readable values keyed by what they describe.
    """
    import lightgbm
    import numba
    import numpy
    import pandas
    import psutil

    return {
        "cpu": cpu_name(),
        "cores": f"{os.cpu_count()} logical ({psutil.cpu_count(logical=False)} physical)",
        "memory": f"{psutil.virtual_memory().total / GIB:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "lightgbm": lightgbm.__version__,
        "numba": numba.__version__,
    }


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux and bytes on macOS.
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Smallest wall time of ``repeats`` calls (the run least disturbed by other processes)."""
    best = float("inf")
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table: first column left-aligned, the figures right-aligned."""
    align = ["---"] + ["---:"] * (len(headers) - 1)
    lines = [f"| {' | '.join(headers)} |", f"| {' | '.join(align)} |"]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def markdown_mode(enabled: bool) -> Iterator[None]:
    """Send the human-readable prints to stderr while the markdown section is being built."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


# ---------------------------------------------------------------------------- synthetic worlds
def _synth_fingerprint() -> str:
    # The generator's source decides the bytes, so a changed generator invalidates the cache.
    files = sorted((ROOT / "pipeline" / "synth").glob("*.py")) + [ROOT / "features" / "activity.py"]
    source = b"".join(f.read_bytes() for f in files)
    return hashlib.sha256(source).hexdigest()[:16]


def cached_world(
    n_leads: int, seed: int = SEED, base_rate: float = 0.08, signal: float = 1.0
) -> Path:
    """Folder holding ``pipeline.synth.world.write_world(folder, n_leads, seed)``, generated once.

    The world is kept under ``artifacts/bench/`` with a manifest naming the generator's source
    hash; it is regenerated when the manifest is missing or the generator changed. A world with
    another ``base_rate`` or ``signal`` (the weak-signal worlds) gets a folder of its own; the
    default world keeps its folder name, so the other benchmarks share it.

    Returns
    -------
    pathlib.Path
        The folder with ``leads.parquet``, ``activities.parquet`` and ``truth.parquet``.
    """
    from pipeline.synth.world import write_world

    name = f"world-{n_leads}-s{seed}"
    if base_rate != 0.08:
        name += f"-r{base_rate:g}"
    if signal != 1.0:
        name += f"-signal{signal:g}"
    folder = CACHE / name
    manifest = folder / "manifest.json"
    wanted = {"n_leads": n_leads, "seed": seed, "synth": _synth_fingerprint()}
    if (base_rate, signal) != (0.08, 1.0):
        wanted.update(base_rate=base_rate, signal=signal)
    if manifest.is_file() and json.loads(manifest.read_text()).get("key") == wanted:
        log(f"world: reusing {folder.relative_to(ROOT)}")
        return folder
    log(f"world: generating {n_leads:,} leads (seed {seed}) into {folder.relative_to(ROOT)}")
    started = time.perf_counter()
    summary = write_world(folder, n_leads, seed=seed, base_rate=base_rate, signal=signal)
    manifest.write_text(json.dumps({"key": wanted, "summary": summary}, default=str))
    log(f"world: {summary['activities']:,} activities in {time.perf_counter() - started:.0f} s")
    return folder


def world_summary(folder: Path) -> dict:
    """What ``write_world`` reported for a cached world (rows, positives, rates)."""
    return json.loads((folder / "manifest.json").read_text())["summary"]


def write_demo_config(folder: Path, world: Path, source: Path = DEMO_CONFIG) -> Path:
    """``configs/demo.yaml`` pointed at ``world``, with outputs and MLflow inside ``folder``.

    The file is written (with ``base.yaml`` beside it, which ``load_config`` merges) so that the
    CLI can read the very config the in-process code used. ``source`` is another synthetic
    world's config to point instead (``configs/weak.yaml``); the file keeps its name.
    """
    import yaml

    configs = folder / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_CONFIG.parent / "base.yaml", configs / "base.yaml")
    tree = yaml.safe_load(source.read_text())
    tree["artifacts_dir"] = str(folder / "artifacts")
    tree["dataset"].update(
        {name: str(world / f"{name}.parquet") for name in ("leads", "activities", "truth")}
    )
    tree["rules"] = str(ROOT / tree["rules"])
    tree["mlflow"] = {
        "tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
        "artifact_root": str(folder / "mlruns"),
    }
    path = configs / source.name
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


@dataclass
class Trained:
    """A ``train_scorers`` run with what it was given."""

    config: object
    result: object
    leads: object
    activities: object
    load_s: float
    train_s: float


def train_from_config(config_path: Path, truth: bool = False) -> Trained:
    """Load, validate and train the model and rules as ``leadscore train`` does.

    Parameters
    ----------
    config_path
        A dataset config (its relative paths are read from the current folder).
    truth
        Pass the world's true probabilities (synthetic data) so the oracle is evaluated too.

    Notes
    -----
    ``n_boot=0``: the bootstrap intervals are not benchmarked and would only add time.
    """

    from pipeline.data.config import load_config
    from pipeline.data.io import load_dataset
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers

    config = load_config(config_path)
    started = time.perf_counter()
    leads, activities, report = load_dataset(config)
    report.raise_if_failed()
    load_s = time.perf_counter() - started
    oracle = None
    if truth and config.dataset.truth:
        from pipeline.data.io import read_truth

        oracle = read_truth(config.dataset.truth)
    started = time.perf_counter()
    result = train_scorers(
        config, leads, activities, load_rules(config.rules), truth=oracle, n_boot=0
    )
    return Trained(config, result, leads, activities, load_s, time.perf_counter() - started)


# ------------------------------------------------------------------ child processes and memory
def model_file(work: Path, train_world: Path) -> tuple[Path, Path, object]:
    """Train on ``train_world`` as ``leadscore train`` does; (config, model.pkl, trained)."""
    config_path = write_demo_config(work, train_world)
    log(f"training on {train_world.name}")
    trained = train_from_config(config_path)
    model_path = work / "model.pkl"
    trained.result.packages["model"].save(model_path)
    return config_path, model_path, trained


@dataclass
class ChildRun:
    """A finished child process: exit code, wall and CPU time, output and peak memory."""

    returncode: int
    seconds: float
    cpu_seconds: float
    peak_tree_mib: float
    peak_max_rss_mib: float
    stdout: str
    stderr: str


GNU_TIME = Path("/usr/bin/time")
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def run_measured(argv: Sequence[str], cwd: Path = ROOT, interval: float = 0.05) -> ChildRun:
    """Run ``argv`` and measure the peak resident memory of its whole process tree.

    Two figures: ``peak_tree_mib`` is the largest sum of RSS over the child and all of its
    descendants, polled every ``interval`` seconds with psutil (a peak shorter than the interval
    can be missed); ``peak_max_rss_mib`` is the kernel's exact high-water mark of the largest
    single process, as GNU time's "Maximum resident set size" reports it (NaN without
    ``/usr/bin/time``). For a single-process command the two agree up to the polling gap.
    """
    import psutil

    timed = GNU_TIME.is_file()
    command = [str(GNU_TIME), "-v", *argv] if timed else list(argv)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    chunks: dict[str, list[str]] = {"out": [], "err": []}
    with subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        # Reading the pipes in threads keeps a chatty child from blocking on a full pipe.
        readers = [
            threading.Thread(target=lambda s=stream, k=key: chunks[k].append(s.read()))
            for key, stream in (("out", proc.stdout), ("err", proc.stderr))
        ]
        for reader in readers:
            reader.start()
        root = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            peak = max(peak, total)
            time.sleep(interval)
        for reader in readers:
            reader.join()
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    stderr = "".join(chunks["err"])
    max_rss = float("nan")
    if timed:
        # GNU time appends its report to the child's stderr, starting at "Command being timed".
        stderr, _, report = stderr.rpartition("\tCommand being timed:")
        found = _MAX_RSS.search(report)
        max_rss = int(found.group(1)) / 1024 if found else max_rss
    return ChildRun(
        proc.returncode, seconds, cpu, peak / MIB, max_rss, "".join(chunks["out"]), stderr
    )


def run_checked(argv: Sequence[str], what: str) -> ChildRun:
    """:func:`run_measured`, stopping the benchmark with the child's stderr when it fails."""
    run = run_measured(argv)
    if run.returncode != 0:
        log(run.stderr[-3000:])
        raise SystemExit(f"{what} exited {run.returncode}")
    return run


def bench_parser(description: str):
    """An argument parser with the options every benchmark shares (``--markdown``)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the docs/benchmarks.md section (progress goes to stderr)",
    )
    return parser


def refit_seconds(result, scorer=None, repeats: int = 1) -> float:
    """Wall time of fitting LeadScore's model again on the rows ``train_scorers`` used.

    A clone of the fitted scorer (same parameters: LightGBM, early stopping on the valid rows,
    calibration) refitted on the same train and valid rows, best of ``repeats``. Timing the
    estimator alone keeps the figure comparable to the other contenders' fit times, whatever else
    ``train_scorers`` puts inside its own phase timings. ``scorer`` refits another estimator of
    the package instead (e.g. the global model of a per-segment scorer).
    """
    from sklearn.base import clone

    ts = result.training_set
    train, valid = ts.part("train"), ts.part("valid")
    template = result.packages["model"].scorer if scorer is None else scorer
    X, y = result.X, ts.y
    return best_time(
        lambda: clone(template).fit(X.loc[train], y.loc[train], X.loc[valid], y.loc[valid]),
        repeats,
    )


# ------------------------------------------------------------------------- the fitted scorer
def lightgbm_candidate(scorer):
    """The model kind's LightGBM candidate (whichever candidate it ships), or ``scorer``."""
    return scorer.candidate_scorers().get("lightgbm", scorer)


def global_scorer(scorer):
    """The LightGBM ``LeadScorer`` itself, or the global one of a per-segment scorer."""
    scorer = lightgbm_candidate(scorer)
    return getattr(scorer, "global_", scorer)


def scorer_parts(scorer, X):
    """``(LightGBM scorer, its rows of X)`` as ``scorer`` routes them (one part if unsegmented).

    Bare booster calls on these parts run exactly the trees the LightGBM candidate runs for each
    lead.
    """
    scorer = lightgbm_candidate(scorer)
    if hasattr(scorer, "routes"):
        return [(part, X.iloc[rows]) for part, rows in scorer.routes(X) if len(rows)]
    return [(scorer, X)]


def describe_scorer(scorer) -> str:
    """Trees and features of the model, and its segments when it has any."""
    booster = global_scorer(scorer).booster_
    text = f"{booster.num_trees()} trees, {booster.num_feature()} features"
    scorer = lightgbm_candidate(scorer)
    segments = getattr(scorer, "scorers_", {})
    if segments:
        own = ", ".join(
            f"{level} ({part.booster_.num_trees()} trees)"
            if hasattr(part, "booster_")
            else str(level)
            for level, part in segments.items()
        )
        text += f"; segmented by `{scorer.segment}`: own models for {own}, global for the rest"
    elif hasattr(scorer, "segment"):
        text += f"; segmented by `{scorer.segment}`, but every segment kept the global model"
    return text
