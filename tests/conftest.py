"""Shared fixtures: project paths, the real X Education data, small synthetic worlds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
X_EDUCATION = SHARED_DATA / "x_education" / "leads.csv"

# Tests never talk to a team MLflow server by accident.
os.environ.pop("MLFLOW_TRACKING_URI", None)

# The modules that take longest, longest first (measured with `make test`'s --durations). xdist's
# `--dist loadfile` hands whole modules to the two workers in collection order, the first ones
# alternately: started first, the long ones share out evenly and no worker is left running one
# alone at the end. Only the scheduling depends on this list; a module missing from it runs later.
LONGEST_FIRST = (
    "tests/e2e/test_dvc.py",
    "tests/model/test_account_quality.py",
    "tests/foreign/test_init_to_score.py",
    "tests/model/test_scorers.py",
    "tests/model/test_ages.py",
    "tests/e2e/test_mlflow_lifecycle.py",
    "tests/model/test_decay_learned.py",
    "tests/model/test_selection.py",
    "tests/e2e/test_pyfunc_portable.py",
    "tests/e2e/test_cli_formats.py",
    "tests/model/test_weak_signal.py",
    "tests/model/test_minimum_data.py",
    "tests/e2e/test_spark_engine.py",
    "tests/e2e/test_spark_storage.py",
    "tests/faults/test_fault_catalogue.py",
    "tests/model/test_mql.py",
    "tests/foreign/test_route_roundtrip.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # a stable sort: each module's tests keep their order and stay together
    items.sort(key=lambda item: rank.get(Path(item.fspath).relative_to(ROOT).as_posix(),
                                         len(rank)))


@pytest.fixture
def x_education_config(monkeypatch) -> Path:
    """configs/x_education.yaml, run from the project root (its paths are relative to it)."""
    if not X_EDUCATION.is_file():
        pytest.skip(f"real data not found at {X_EDUCATION} (the shared/ folder beside the project)")
    monkeypatch.chdir(ROOT)
    return ROOT / "configs" / "x_education.yaml"


def demo_config(data_dir: Path, **overrides):
    """configs/demo.yaml pointed at a world in ``data_dir``, outputs beside it."""
    from pipeline.data.config import load_config

    tree = {
        "artifacts_dir": str(data_dir.parent / "artifacts"),
        "dataset": {
            "leads": str(data_dir / "leads.parquet"),
            "activities": str(data_dir / "activities.parquet"),
            "truth": str(data_dir / "truth.parquet"),
        },
        "rules": str(ROOT / "configs" / "rules" / "demo.yaml"),
        "mlflow": {"tracking_uri": f"sqlite:///{data_dir.parent / 'mlflow.db'}",
                   "artifact_root": str(data_dir.parent / "mlruns")},
    }
    for key, value in overrides.items():
        tree[key] = {**tree.get(key, {}), **value} if isinstance(value, dict) else value
    return load_config(ROOT / "configs" / "demo.yaml", tree)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """A 12,000-lead synthetic world on disk (session-wide: generated once)."""
    from pipeline.synth.world import write_world

    data = tmp_path_factory.mktemp("world") / "data"
    write_world(data, 12_000, seed=11)
    return data


@pytest.fixture(scope="session")
def trained(small_world):
    """Model and rules trained on the small world (config, result, leads, activities)."""
    from pipeline.data.io import load_dataset, read_truth
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers

    # No purge gap: on 12,000 leads the 180-day gap halves the training split (5,228 -> 2,721
    # leads), and these fixtures test the scorers, not the split (tests/data/test_purge.py does).
    cfg = demo_config(small_world, split={"purge": 0})
    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    result = train_scorers(cfg, leads, activities, load_rules(cfg.rules),
                           truth=read_truth(small_world / "truth.parquet"))
    return cfg, result, leads, activities


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory) -> Path:
    """The demo's own 40,000-lead world (configs/demo.yaml's size and seed), generated once."""
    from pipeline.synth.world import write_world

    data = tmp_path_factory.mktemp("demo_world") / "data"
    write_world(data, 40_000, seed=42)
    return data


@pytest.fixture(scope="session")
def demo_trained(demo_world):
    """Every kind trained on the demo world exactly as configured (the grid, the purge), no
    bootstrap: (config, result, leads, activities)."""
    from pipeline.data.io import load_dataset, read_truth
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers

    cfg = demo_config(demo_world)
    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    result = train_scorers(cfg, leads, activities, load_rules(cfg.rules),
                           truth=read_truth(demo_world / "truth.parquet"), n_boot=0)
    return cfg, result, leads, activities


def write_demo_config(folder: Path, data_dir: Path, **dataset) -> Path:
    """A config file for the CLI: configs/demo.yaml with paths into ``data_dir``/``folder``."""
    import shutil

    import yaml

    configs = folder / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "configs" / "base.yaml", configs / "base.yaml")
    tree = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    tree["artifacts_dir"] = str(folder / "artifacts")
    tree["dataset"].update({
        "leads": str(data_dir / "leads.parquet"),
        "activities": str(data_dir / "activities.parquet"),
        "truth": str(data_dir / "truth.parquet"),
        **dataset,
    })
    tree["rules"] = str(ROOT / "configs" / "rules" / "demo.yaml")
    tree["mlflow"] = {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
                      "artifact_root": str(folder / "mlruns")}
    path = configs / "demo.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def x_education_trained(tmp_path_factory):
    """Model, rules and learned points trained on the real X Education export (config, result)."""
    if not X_EDUCATION.is_file():
        pytest.skip(f"real data not found at {X_EDUCATION} (the shared/ folder beside the project)")
    from pipeline.data.config import load_config
    from pipeline.data.io import load_dataset
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers

    here = os.getcwd()
    os.chdir(ROOT)  # the config's paths are relative to the project root
    try:
        cfg = load_config(ROOT / "configs" / "x_education.yaml",
                          {"artifacts_dir": str(tmp_path_factory.mktemp("x_education"))})
        leads, activities, report = load_dataset(cfg)
        report.raise_if_failed()
        result = train_scorers(cfg, leads, activities, load_rules(cfg.rules), n_boot=0)
    finally:
        os.chdir(here)
    return cfg, result
