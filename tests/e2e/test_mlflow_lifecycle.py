"""MLflow lifecycle end to end: train, tracked run and registry, gate, pyfunc and REST serving.

One registry (sqlite + artifact folder in a temporary directory) is built once for the module:
a first `leadscore train`, then the promotion history (promote, a worse challenger that must be
refused, a retrained equal challenger that must be promoted). The tests read snapshots taken
along the way, so they do not depend on the order pytest runs them in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import ROOT, write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()

MODEL, RULES, POINTS = "leadscore-demo", "leadscore-demo-rules", "leadscore-demo-points"
REGISTERED = (MODEL, RULES, POINTS)
# The stump challenger: one tree with two leaves ranks far worse than the champion (the model
# kind may ship a simpler candidate instead, so LightGBM is made its only one).
WORSE = ["--set", "model.n_estimators=1", "--set", "model.params.num_leaves=2",
         "--set", "selection.candidates=[lightgbm]"]
# What the gate prints when a comparison fails, e.g.
# "AUC vs champion -0.0400 (95% CI -0.0520 to -0.0290) lower bound < -0.005".
FAILED_AUC = (r"AUC vs champion -0\.\d{4} \(95% CI [+-]0\.\d{4} to [+-]0\.\d{4}\) "
              r"lower bound < -0\.005")
HOLDOUT = r"holdout: {}, (\d+) leads, (\d+) conversions"
VENV_BIN = Path(sys.executable).parent
SERVE_TIMEOUT = 90.0


# --------------------------------------------------------------------------- helpers


def _cli(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, f"leadscore {' '.join(args)}:\n{result.output}"
    return result


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def _registry_state() -> dict:
    """Aliases and gate tags of every version of the three registered models."""
    client = _client()
    state = {}
    for name in REGISTERED:
        aliases = {a: str(v) for a, v in client.get_registered_model(name).aliases.items()}
        gates = {str(v.version): (client.get_model_version(name, v.version).tags or {}).get("gate")
                 for v in client.search_model_versions(f"name='{name}'")}
        state[name] = {"aliases": aliases, "gates": gates}
    return state


def _table_rows(output: str) -> list[list[str]]:
    """Body rows of a Rich table printed by the CLI (wrapped cells are not expected)."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop a server started in its own session (mlflow -> uvicorn) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory) -> Path:
    """A 12,000-lead world (the demo's generator and config, a third of its leads).

    The gate promotes only a challenger whose 95 % interval against the rules lies above 0, and
    its test leads must show that: the model leads the rules by about 0.07 AUC, and this world's
    test split gives intervals about +-0.02 wide. The demo's own 40,000 leads would triple the
    module's three trainings for nothing the lifecycle needs (tests/e2e/test_dvc.py runs the
    demo itself).
    """
    from pipeline.synth.world import write_world

    data = tmp_path_factory.mktemp("demo_world") / "data"
    write_world(data, 12_000, seed=42)
    return data


@pytest.fixture(scope="module")
def registry(demo_world, tmp_path_factory):
    """A config file, a fresh tracking store, and the state right after the first `train`."""
    folder = tmp_path_factory.mktemp("mlflow_lifecycle")
    config = write_demo_config(folder, demo_world)
    with pytest.MonkeyPatch.context() as mp:
        # setenv first so that teardown removes the variable mlflow.set_tracking_uri exports.
        mp.setenv("MLFLOW_TRACKING_URI", "unset")
        mp.delenv("MLFLOW_TRACKING_URI")
        _cli("train", "--config", str(config))
        from pipeline.data.config import load_config

        cfg = load_config(config)
        run_info = json.loads((Path(cfg.out_dir) / "run.json").read_text())
        client = _client()
        experiment = client.get_experiment_by_name(cfg.experiment_name)
        runs = client.search_runs([experiment.experiment_id])
        yield {
            "folder": folder, "config": config, "cfg": cfg, "data": demo_world,
            "run": run_info, "experiment": experiment, "runs": runs,
            "state": _registry_state(),
        }


@pytest.fixture(scope="module")
def lifecycle(registry):
    """promote; worse challenger + promote; retrain + promote; dry runs and listings between."""
    config = str(registry["config"])
    steps: dict[str, dict] = {}

    def step(name: str, *args: str) -> None:
        result = _cli(*args, "--config", config) if args else None
        steps[name] = {"output": result.output if result else "", "state": _registry_state()}

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "250")  # `models` prints a table; do not cut it to 80 columns
        step("dry_run_first", "promote", "--dry-run")
        step("promote_first", "promote")
        step("train_worse", "train", "--no-evaluate", *WORSE)
        step("promote_worse", "promote")
        step("models_after_keep", "models")
        step("train_again", "train", "--no-evaluate")
        step("dry_run_again", "promote", "--dry-run")
        step("promote_again", "promote")
        step("models_final", "models")
    return steps


@pytest.fixture(scope="module")
def request_frame(registry):
    """A pyfunc request for a few leads: lead columns, their events as JSON, and as_of."""
    from pipeline.mlops.serving import activities_to_json

    leads = pd.read_parquet(registry["data"] / "leads.parquet")
    activities = pd.read_parquet(registry["data"] / "activities.parquet")
    picked = pd.concat([
        leads.sample(16, random_state=3),
        leads[leads["job_title"].isna()].head(1),
        leads[leads["annual_revenue"].isna()].head(1),
        leads[~leads["lead_id"].isin(activities["lead_id"])].head(1),
    ]).drop_duplicates("lead_id").reset_index(drop=True)
    as_of = picked["created_at"] + pd.Timedelta(days=14)
    cutoff = activities["lead_id"].map(dict(zip(picked["lead_id"], as_of, strict=True)))
    events = activities[cutoff.notna() & (activities["occurred_at"] <= cutoff)]
    frame = picked.drop(columns=["outcome", "outcome_at"])
    frame["activities"] = activities_to_json(events, frame["lead_id"])
    frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame["as_of"] = as_of.dt.strftime("%Y-%m-%dT%H:%M:%S")
    as_of_series = pd.Series(as_of.to_numpy(), index=pd.Index(picked["lead_id"], name="lead_id"))
    return frame, picked, activities, as_of_series


@pytest.fixture(scope="module")
def champion_package(registry, lifecycle):
    """The package the last `train` wrote to disk (registered as version 3, now champion)."""
    from pipeline.explain.package import load_package

    cfg = registry["cfg"]
    run = json.loads((Path(cfg.out_dir) / "run.json").read_text())
    assert lifecycle["promote_again"]["state"][MODEL]["aliases"]["champion"] == \
        run["versions"]["model"] == "3"
    return load_package(Path(cfg.out_dir) / "packages" / "model.pkl")


@pytest.fixture
def tracking_env(registry):
    """MLFLOW_TRACKING_URI for child processes: the module's store, nothing else."""
    uri = registry["cfg"].mlflow.tracking_uri
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri,
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    return env


# --------------------------------------------------------------------------- 1. tracked run


def test_train_logs_one_parent_run_with_children_artifacts_and_challengers(registry):
    folder, cfg, run_info = registry["folder"], registry["cfg"], registry["run"]
    experiment = registry["experiment"]
    # The store lives in the temporary folder, not in ./mlruns of the working directory.
    assert experiment.artifact_location.removeprefix("file://").startswith(str(folder)), \
        experiment.artifact_location

    runs = registry["runs"]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run_info["run_id"]]
    assert [p.info.run_id for p in parents] == [run_info["run_id"]]
    assert len(runs) == 4
    assert sorted(c.info.run_name for c in children) == ["learned_points", "model", "rules"]
    parent = parents[0]

    params = parent.data.params
    assert params["split.valid_fraction"] == "0.15"
    assert params["model.params.learning_rate"] == "0.05"
    assert params["dataset.name"] == "demo"
    assert params["promotion.rules_margin"] == "0.0"  # the packaged default, not an override
    assert params["promotion.auc_tolerance"] == "0.005"

    metrics_file = json.loads((Path(cfg.out_dir) / "evaluation.json").read_text())
    assert parent.data.metrics["model.roc_auc"] == pytest.approx(metrics_file["model"]["roc_auc"])
    assert parent.data.metrics["rules.roc_auc"] == pytest.approx(
        metrics_file["rules"]["roc_auc"])
    for child in children:
        kind = child.data.tags["scorer"]
        assert child.info.run_name == kind
        assert child.data.metrics["roc_auc"] == pytest.approx(metrics_file[kind]["roc_auc"])
        assert 0.7 < child.data.metrics["roc_auc"] < 1.0
    model_child = next(c for c in children if c.info.run_name == "model")
    # whichever scorer the model kind ships, its own tracking params are on the child run
    from pipeline.explain.package import load_package

    shipped = load_package(Path(cfg.out_dir) / "packages" / "model.pkl").scorer
    assert shipped.tracking_params()
    assert {k: str(v) for k, v in shipped.tracking_params().items()}.items() <= \
        model_child.data.params.items()

    tags = parent.data.tags
    assert re.fullmatch(r"[0-9a-f]{40}", tags["mlflow.source.git.commit"]), tags
    assert tags["dataset"] == "demo"
    digest = hashlib.sha256()
    for name in ("leads.parquet", "activities.parquet"):
        digest.update((registry["data"] / name).read_bytes())
    assert tags["data.sha256"] == digest.hexdigest()
    leads = pd.read_parquet(registry["data"] / "leads.parquet")
    assert tags["data.leads_rows"] == str(len(leads))
    import lightgbm

    assert tags["version.lightgbm"] == lightgbm.__version__

    client = _client()
    top = {a.path for a in client.list_artifacts(run_info["run_id"])}
    plots = {a.path for a in client.list_artifacts(run_info["run_id"], "plots")}
    assert {"evaluation.json", "report.html", "config.json", "split.parquet"} <= top
    assert "plots/roc.png" in plots
    points_child = next(c for c in children if c.info.run_name == "learned_points")
    logged = client.download_artifacts(points_child.info.run_id, "learned_points.json")
    assert json.loads(Path(logged).read_text())["mql_threshold"] == 100.0
    local = Path(client.download_artifacts(run_info["run_id"], "evaluation.json"))
    assert json.loads(local.read_text())["model"]["roc_auc"] == metrics_file["model"]["roc_auc"]

    state = registry["state"]
    assert state[MODEL]["aliases"] == {"challenger": "1"}
    assert state[RULES]["aliases"] == {"challenger": "1"}
    assert state[POINTS]["aliases"] == {"challenger": "1"}
    assert run_info["versions"] == {"model": "1", "rules": "1", "learned_points": "1"}
    version = client.get_model_version(MODEL, "1")
    assert version.tags["run_id"] == run_info["run_id"]
    assert version.run_id == model_child.info.run_id


# --------------------------------------------------------------------------- 2. no PII


def _scan(paths: list[Path], needles: list[bytes], work: Path) -> dict[str, list[str]]:
    """Which needles occur in which files (raw bytes; parquet files also cell by cell).

    A bare digit needle (a phone number without prefix) inside a run of digits and dots is a
    float's decimals, not a phone number, and is not counted.
    """
    views: dict[Path, Path] = {}
    for i, path in enumerate(paths):
        views[path] = path
        if path.read_bytes()[:4] == b"PAR1":  # compressed pages: scan the decoded cells too
            decoded = work / f"decoded_{i}.csv"
            pd.read_parquet(path).astype(str).to_csv(decoded, index=False)
            views[decoded] = path
    hits: list[tuple[Path, int, bytes]] = []
    grep = shutil.which("grep")
    if grep:
        patterns = work / "needles.txt"
        patterns.write_bytes(b"\n".join(needles) + b"\n")
        done = subprocess.run([grep, "-a", "-F", "-o", "-b", "-H", "-f", str(patterns),
                               *map(str, views)], capture_output=True,
                              env={**os.environ, "LC_ALL": "C"}, timeout=120)
        assert done.returncode in (0, 1), done.stderr.decode()
        by_name = {str(v).encode(): v for v in views}
        for line in done.stdout.splitlines():
            file_part, offset, match = _split_grep(line, by_name)
            hits.append((by_name[file_part], int(offset), match))
    else:  # pragma: no cover - grep is everywhere the tests run
        for view in views:
            data = view.read_bytes()
            hits += [(view, data.find(n), n) for n in needles if n in data]
    found: dict[str, list[str]] = {}
    for view, offset, match in hits:
        if match.lstrip(b"+").replace(b" ", b"").isdigit():
            data = view.read_bytes()
            lo, hi = offset, offset + len(match)
            while lo > 0 and data[lo - 1:lo] in b"0123456789.":
                lo -= 1
            while hi < len(data) and data[hi:hi + 1] in b"0123456789.":
                hi += 1
            if b"." in data[lo:hi]:
                continue
        found.setdefault(str(views[view]), []).append(match.decode(errors="replace"))
    return found


def _split_grep(line: bytes, by_name: dict[bytes, Path]) -> tuple[bytes, bytes, bytes]:
    """``file:offset:match`` where the match itself may contain colons."""
    for name in by_name:
        if line.startswith(name + b":"):
            offset, _, match = line[len(name) + 1:].partition(b":")
            return name, offset, match
    raise AssertionError(f"unexpected grep line {line[:200]!r}")


def test_no_personal_data_in_any_artifact(registry, lifecycle, tmp_path):
    leads = pd.read_parquet(registry["data"] / "leads.parquet")
    needles = sorted({
        str(value).encode()
        for column in ("email", "name", "phone")
        for value in leads[column].dropna().unique()
        if len(str(value)) >= 6
    })
    assert len(needles) > 20_000

    root = Path(registry["cfg"].mlflow.artifact_root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    names = {p.name for p in files}
    # Not a vacuous scan: every kind of artifact three trainings leave is there.
    assert {"MLmodel", "input_example.json", "serving_input_example.json", "package.pkl",
            "pyfunc_model.py", "evaluation.json", "report.html", "roc.png"} <= names, names
    assert any(p.suffix == ".whl" for p in files)  # LeadScore's own wheel, scanned too
    assert any(p.suffix == ".parquet" for p in files)
    # 3 trainings x (model, rules, learned points)
    assert sum(p.name == "package.pkl" for p in files) == 9
    db = Path(registry["cfg"].mlflow.tracking_uri.removeprefix("sqlite:///"))
    assert db.is_file()

    # The scanner itself finds personal data where it is (the world's own files).
    control = _scan([registry["data"] / "leads.parquet"], needles, tmp_path)
    assert len(next(iter(control.values()))) > 10_000

    found = _scan([*files, db], needles, tmp_path)
    assert not found, {path: values[:5] for path, values in found.items()}


# --------------------------------------------------------------------------- 3. the gate


def test_gate_judges_on_the_saved_split_after_the_data_file_changed(registry, tmp_path):
    """A re-exported leads file (outcomes changed) does not move the gate's test split."""
    from pipeline.cli.app import load, load_clean, tracking
    from pipeline.mlops.registry import promote_challenger
    from pipeline.stages.evaluate import evaluate_packages
    from pipeline.stages.prepare import prepare

    cfg = registry["cfg"]
    saved = json.loads((Path(cfg.out_dir) / "evaluation.json").read_text())
    data = tmp_path / "data"
    shutil.copytree(registry["data"], data)
    leads = pd.read_parquet(data / "leads.parquet")
    # every decided lead's outcome flips: the same leads, told differently by a new export
    flipped = leads["outcome"].map({"won": "lost", "lost": "won"}).fillna(leads["outcome"])
    leads.assign(outcome=flipped).to_parquet(data / "leads.parquet", index=False)
    config = tmp_path / "configs" / "demo.yaml"
    config.parent.mkdir()
    tree = yaml.safe_load(registry["config"].read_text())
    tree["dataset"].update(leads=str(data / "leads.parquet"),
                           activities=str(data / "activities.parquet"))
    config.write_text(yaml.safe_dump(tree, sort_keys=False))
    shutil.copy(ROOT / "configs" / "base.yaml", config.parent / "base.yaml")

    moved = load(config)
    tracking(moved)
    current = load_clean(moved)
    decision = promote_challenger(moved, current, dry_run=True)
    assert decision.figures["challenger_auc"] == pytest.approx(saved["model"]["roc_auc"],
                                                               abs=1e-9)
    assert decision.figures["rules_auc"] == pytest.approx(saved["rules"]["roc_auc"], abs=1e-9)
    # what the gate used to do, rebuild the split from today's file, gives another answer
    from pipeline.explain.package import load_package

    folder = Path(cfg.out_dir) / "packages"
    packages = {k: load_package(folder / f"{k}.pkl") for k in ("model", "rules")}
    rebuilt, _ = evaluate_packages(moved, packages, prepare(moved, *current), n_boot=0)
    assert abs(rebuilt["model"]["roc_auc"] - saved["model"]["roc_auc"]) > 0.05



def test_gate_promotes_first_refuses_worse_promotes_equal(registry, lifecycle):
    dry = lifecycle["dry_run_first"]
    assert "PROMOTE" in dry["output"] and "(dry run)" in dry["output"]
    assert "Promotion gate on the challenger's saved test split" in dry["output"], dry["output"]
    assert "champion" not in dry["state"][MODEL]["aliases"]
    assert dry["state"][MODEL]["gates"] == {"1": None}

    first = lifecycle["promote_first"]
    assert "PROMOTE: no champion yet; AUC vs rules +" in first["output"], first["output"]
    split = pd.read_parquet(Path(registry["cfg"].out_dir) / "split.parquet")
    test = split[split["split"] == "test"]
    counts = re.search(HOLDOUT.format("challenger's saved test split"), first["output"])
    assert counts and counts.groups() == (str(len(test)), str(int(test["y"].sum())))
    assert first["state"][MODEL]["aliases"] == {"challenger": "1", "champion": "1"}
    assert first["state"][MODEL]["gates"]["1"].startswith("PROMOTE")
    for name in (RULES, POINTS):  # promoted with the challenger they were trained with
        assert first["state"][name]["aliases"] == {"challenger": "1", "champion": "1"}

    assert lifecycle["train_worse"]["state"][MODEL]["aliases"] == {"challenger": "2",
                                                                  "champion": "1"}
    worse = lifecycle["promote_worse"]
    assert "KEEP CHAMPION: AUC vs champion -0." in worse["output"], worse["output"]
    assert re.search(FAILED_AUC, worse["output"]), worse["output"]
    assert re.search(HOLDOUT.format("champion's saved test split"), worse["output"])
    assert "FAIL" in worse["output"]  # the comparison table marks the failed row
    assert worse["state"][MODEL]["aliases"] == {"challenger": "2", "champion": "1"}
    assert re.search(FAILED_AUC, worse["state"][MODEL]["gates"]["2"])
    for name in (RULES, POINTS):
        assert worse["state"][name]["aliases"] == {"challenger": "2", "champion": "1"}

    again_dry = lifecycle["dry_run_again"]
    assert "PROMOTE" in again_dry["output"] and "(dry run)" in again_dry["output"]
    assert "KEEP" not in again_dry["output"]
    assert again_dry["state"] == lifecycle["train_again"]["state"]  # dry run changed nothing
    assert again_dry["state"][MODEL]["aliases"] == {"challenger": "3", "champion": "1"}
    assert again_dry["state"][MODEL]["gates"]["3"] is None

    final = lifecycle["promote_again"]
    assert "PROMOTE" in final["output"] and "KEEP" not in final["output"], final["output"]
    assert final["state"][MODEL]["aliases"] == {"challenger": "3", "champion": "3"}
    # the same config, data and seed train the same model: a zero-width paired interval
    assert final["state"][MODEL]["gates"]["3"].startswith(
        "PROMOTE: AUC vs champion +0.0000 (95% CI +0.0000 to +0.0000) lower bound > -0.005")
    for name in (RULES, POINTS):
        assert final["state"][name]["aliases"] == {"challenger": "3", "champion": "3"}

    client = _client()
    auc = {v: client.get_run(client.get_model_version(MODEL, v).run_id).data.metrics["roc_auc"]
           for v in ("1", "2", "3")}
    assert auc["3"] >= auc["1"] - 0.005
    assert auc["2"] < auc["1"] - 0.005


# --------------------------------------------------------------------------- 4. listing


def _listing(output: str) -> dict[tuple[str, str], dict[str, str]]:
    header = ["model", "version", "aliases", "roc_auc", "ece", "ece_adaptive", "created", "gate"]
    assert re.search(r"model\s+┃\s+version\s+┃\s+aliases", output), output
    return {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in _table_rows(output)}


def test_models_lists_versions_with_aliases(lifecycle):
    keep = _listing(lifecycle["models_after_keep"]["output"])
    assert set(keep) == {(m, v) for m in REGISTERED for v in ("1", "2")}, keep
    for name in REGISTERED:
        assert keep[(name, "1")]["aliases"] == "champion"
        assert keep[(name, "2")]["aliases"] == "challenger"
    assert keep[(MODEL, "1")]["gate"] == "PROMOTE"
    assert keep[(MODEL, "2")]["gate"] == "KEEP CHAMPION"
    assert float(keep[(MODEL, "1")]["roc_auc"]) > float(keep[(MODEL, "2")]["roc_auc"])
    assert 0 < float(keep[(MODEL, "1")]["ece"]) < 0.1
    assert 0 < float(keep[(MODEL, "1")]["ece_adaptive"]) < 0.1  # both ECEs, side by side

    final = _listing(lifecycle["models_final"]["output"])
    assert set(final) == {(m, v) for m in REGISTERED for v in ("1", "2", "3")}, final
    assert final[(MODEL, "3")]["aliases"] == final[(RULES, "3")]["aliases"] == \
        final[(POINTS, "3")]["aliases"] == "challenger,champion"
    assert final[(MODEL, "1")]["aliases"] == final[(MODEL, "2")]["aliases"] == ""
    assert final[(MODEL, "3")]["gate"] == "PROMOTE"
    # newest first
    assert [k[1] for k in final if k[0] == MODEL] == ["3", "2", "1"]


# --------------------------------------------------------------------------- 5. fresh process


def test_champion_loads_in_a_fresh_process_with_identical_scores(
        registry, champion_package, request_frame, tracking_env, tmp_path):
    from pipeline.mlops.registry import load_registered_package
    from pipeline.mlops.serving import predict_frame

    frame, _, _, _ = request_frame
    frame.to_parquet(tmp_path / "request.parquet")
    snippet = textwrap.dedent(f"""
        import mlflow, pandas as pd
        model = mlflow.pyfunc.load_model("models:/{MODEL}@champion")
        frame = pd.read_parquet({str(tmp_path / 'request.parquet')!r})
        model.predict(frame).to_parquet({str(tmp_path / 'scores.parquet')!r})
    """)
    done = subprocess.run([sys.executable, "-c", snippet], env=tracking_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    fresh = pd.read_parquet(tmp_path / "scores.parquet")

    expected = predict_frame(champion_package, frame)
    assert len(fresh) == len(frame) and list(fresh["lead_id"]) == list(frame["lead_id"])
    # The logged package file's digest, as `leadscore score --model <that file>` writes it. Not
    # a re-pickle of the package loaded here: unpickled and pickled again, the bytes may differ.
    import mlflow

    logged = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{MODEL}@champion",
                                                      dst_path=str(tmp_path / "logged")))
    (package_file,) = logged.rglob("package.pkl")
    version = f"file:{hashlib.sha256(package_file.read_bytes()).hexdigest()[:12]}"
    assert fresh.pop("model_version").unique().tolist() == [version]
    np.testing.assert_array_equal(fresh["score"].to_numpy(), expected["score"].to_numpy())
    np.testing.assert_array_equal(fresh["probability"].to_numpy(),
                                  expected["probability"].to_numpy())
    pd.testing.assert_frame_equal(fresh, expected, check_dtype=False)
    registered = load_registered_package(f"models:/{MODEL}@champion")
    pd.testing.assert_frame_equal(predict_frame(registered, frame), expected)


# --------------------------------------------------------------------------- 6. REST


def test_rest_server_scores_like_the_batch(champion_package, request_frame, tracking_env,
                                           tmp_path):
    frame, picked, activities, as_of = request_frame
    package = champion_package
    batch = package.score_features(package.features(picked, activities, as_of))

    port = _free_port()
    log = tmp_path / "serve.log"
    cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}@champion",
           "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1", "-w", "1"]
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, env=tracking_env, cwd=tmp_path, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow models serve not answering /ping (exit {proc.poll()}):\n"
                            + log.read_text(errors="replace")[-4000:])
            time.sleep(0.5)

        payload = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            pytest.fail(f"/invocations {exc.code}: {exc.read().decode()[:4000]}")
    finally:
        _kill_group(proc)

    served = pd.DataFrame(body["predictions"])
    assert list(served["lead_id"]) == list(batch["lead_id"]) == list(frame["lead_id"])
    np.testing.assert_array_equal(served["score"].to_numpy(), batch["score"].to_numpy())
    np.testing.assert_allclose(served["probability"].to_numpy(),
                               batch["probability"].to_numpy(), rtol=1e-12, atol=0)
    for column in ("band", "grade", "mql", "reason_1", "reason_2", "reason_3"):
        assert served[column].tolist() == batch[column].tolist(), column
    assert served["engagement_level"].tolist() == batch["engagement_level"].astype(int).tolist()
    assert batch["score"].nunique() > 3  # the leads are not all alike
