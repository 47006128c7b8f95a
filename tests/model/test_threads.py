"""Threads on a busy machine: model.n_jobs auto, the OpenMP wait policy, and a model that does
not depend on either."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.spec import FeatureInfo, FeatureSpec
from pipeline.data.errors import ConfigError
from pipeline.scorers import lightgbm as lgbm
from pipeline.scorers.lightgbm import LeadScorer, resolve_n_jobs

ROOT = Path(__file__).resolve().parents[2]


def test_an_explicit_thread_count_is_used_as_is(monkeypatch):
    monkeypatch.setattr(lgbm, "other_processes_load", lambda: pytest.fail("sampled the load"))
    assert resolve_n_jobs(3) == (3, "model.n_jobs")
    assert resolve_n_jobs(1)[0] == 1


@pytest.mark.parametrize(("cores", "load", "threads"), [
    (2, 0.1, 2),   # idle: every usable core
    (2, 1.0, 1),   # one busy job on two cores: one thread
    (2, 3.7, 1),   # never fewer than one
    (8, 2.4, 6),
])
def test_auto_leaves_the_cores_other_processes_keep_busy(monkeypatch, cores, load, threads):
    monkeypatch.setattr(lgbm, "usable_cores", lambda: cores)
    monkeypatch.setattr(lgbm, "other_processes_load", lambda: load)
    n, how = resolve_n_jobs("auto")
    assert n == threads
    assert f"{cores} usable cores" in how and f"{load:.1f}" in how


def test_the_load_sample_does_not_count_this_process():
    # This process spins meanwhile in a thread of its own; only other processes are counted.
    import threading

    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)])
    spinner.start()
    try:
        load = lgbm.other_processes_load(0.3)
    finally:
        stop.set()
        spinner.join()
    assert 0.0 <= load < os.cpu_count()


def test_the_config_takes_auto_or_a_positive_number():
    from pipeline.data.config import load_config

    demo = ROOT / "configs" / "demo.yaml"
    assert load_config(demo).model.n_jobs == "auto"
    assert load_config(demo, {"model": {"n_jobs": 3}}).model.n_jobs == 3
    with pytest.raises(ConfigError, match="n_jobs"):
        load_config(demo, {"model": {"n_jobs": 0}})


def _policy(env: dict[str, str]) -> str:
    code = "import os, pipeline.cli; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "PYTHONPATH": str(ROOT), **env}, check=True, timeout=120)
    return done.stdout.strip()


def test_the_cli_leaves_the_wait_policy_to_the_user():
    # PASSIVE halved LightGBM's speed on an idle machine (pipeline/cli/__init__.py): not forced
    assert _policy({}) == "unset"
    assert _policy({"OMP_WAIT_POLICY": "active"}) == "active"


SPEC = FeatureSpec([
    FeatureInfo("line", "Product line", "fit", "fit", "categorical", 0, "Product line: {value}"),
    FeatureInfo("visits", "Visits", "engagement", "engagement", "numeric", 1, "{value}"),
    FeatureInfo("size", "Company size", "fit", "fit", "numeric", 0, "{value}"),
])


def _table(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "line": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "visits": rng.poisson(2.0, n).astype(float),
        "size": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(3, 1, n)),
    })
    logit = 0.6 * X["visits"] - 3 + 0.3 * (X["line"] == "a") + 0.001 * X["size"].fillna(0)
    return X, pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))


def test_the_trees_do_not_depend_on_the_thread_count():
    X, y = _table(6000, 1)
    Xv, yv = _table(2000, 2)
    models = []
    for threads in (1, 2, 3):
        scorer = LeadScorer(spec=SPEC, n_estimators=120, early_stopping_rounds=30,
                            random_state=5, n_jobs=threads).fit(X, y, Xv, yv)
        models.append(scorer.booster_.model_to_string().split("\nparameters:")[0])
    assert models[0] == models[1] == models[2]


def test_a_saved_model_does_not_depend_on_the_threads_it_trained_with(monkeypatch):
    """``auto`` stays in the scorer (resolved where it runs), and the booster's model string
    records no thread count: a busy machine and a quiet one save the same bytes."""
    import pipeline.scorers.lightgbm as module
    from pipeline.explain.package import canonical_bytes

    X, y = _table(3000, 1)
    Xv, yv = _table(1000, 2)
    saved = []
    for threads in (1, 2):  # what auto decides on a busy machine, then on a quiet one
        monkeypatch.setattr(module, "resolve_n_jobs", lambda n, t=threads: (t, "test"))
        module.auto_threads.cache_clear()
        scorer = LeadScorer(spec=SPEC, n_estimators=40, early_stopping_rounds=10,
                            random_state=5, n_jobs="auto")
        assert scorer.threads == threads
        scorer.fit(X, y, Xv, yv)
        assert scorer.n_jobs == "auto"
        assert "[num_threads: 0]" in scorer.booster_.model_to_string()
        saved.append(canonical_bytes(scorer))
    module.auto_threads.cache_clear()
    assert saved[0] == saved[1]
