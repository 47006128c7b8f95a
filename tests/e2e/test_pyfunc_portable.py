"""The logged pyfunc leaves the checkout: it loads in a fresh virtualenv built from its own
requirements and scores exactly like `leadscore score`; its signature takes what
``pd.read_parquet`` gives; the tracked run uses MLflow's standard tags and input datasets; the
artifacts are world-readable and no pickled code is logged.

One training run is logged (module fixture) into a temporary tracking store; the fresh virtualenv
is built once for the module (measured in the fixture's output: ``-s`` shows it).
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import ROOT, write_demo_config

pytestmark = pytest.mark.slow
AS_OF = "2026-06-30T23:59:59"
COMPARED = ["lead_id", "score", "probability", "percentile", "band", "grade", "engagement_level",
            "mql", "status", "status_reason", "reason_1", "reason_2", "reason_3"]
PII = ["name", "email", "phone"]
VENV_TIMEOUT = 1200


@pytest.fixture(scope="module")
def tracked(trained, tmp_path_factory):
    """`log_training` of the session's trained kinds into a fresh store, with every warning
    and MLflow log record it emitted."""
    import mlflow

    from pipeline.data.artifacts import Paths
    from pipeline.mlops.tracking import log_training
    from pipeline.scorers import kinds

    cfg, result, leads, activities = trained
    folder = tmp_path_factory.mktemp("pyfunc_store")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("mlflow")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.setenv("MLFLOW_TRACKING_URI", "unset")
        mp.delenv("MLFLOW_TRACKING_URI")  # teardown removes what set_tracking_uri exports
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        experiment = mlflow.create_experiment("pyfunc", (folder / "mlruns").as_uri())
        mlflow.set_experiment(experiment_id=experiment)
        logger.addHandler(handler)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                logged = log_training(cfg, result, Paths(folder / "out"), leads, activities)
        finally:
            logger.removeHandler(handler)
        client = mlflow.MlflowClient()
        name = kinds.get("model").registered_name(cfg)
        version = client.get_model_version(name, logged.versions["model"])
        model_dir = Path(mlflow.artifacts.download_artifacts(
            f"models:/{name}/{version.version}", dst_path=str(folder / "model")))
        yield {"folder": folder, "logged": logged, "warnings": list(caught), "logs": records,
               "client": client, "name": name, "version": version, "model_dir": model_dir,
               "package": result.packages["model"], "cfg": cfg, "leads": leads,
               "activities": activities}


@pytest.fixture(scope="module")
def request_leads(tracked, tmp_path_factory):
    """200 leads as their Parquet file holds them (datetime64 created_at, PII, outcome), the
    same leads' events up to AS_OF, and the request frame: those leads plus an activities
    column."""
    from pipeline.mlops.serving import activities_to_json

    folder = tmp_path_factory.mktemp("pyfunc_request")
    data = Path(tracked["cfg"].dataset.leads).parent
    leads = pd.read_parquet(data / "leads.parquet").sample(200, random_state=5)
    activities = pd.read_parquet(data / "activities.parquet")
    activities = activities[activities["lead_id"].isin(leads["lead_id"])
                            & (activities["occurred_at"] <= pd.Timestamp(AS_OF))]
    leads.to_parquet(folder / "leads.parquet", index=False)
    activities.to_parquet(folder / "activities.parquet", index=False)
    request = pd.read_parquet(folder / "leads.parquet")
    request["activities"] = activities_to_json(activities, request["lead_id"])
    request.to_parquet(folder / "request.parquet", index=False)
    return folder, request


@pytest.fixture(scope="module")
def cli_scores(tracked, request_leads, tmp_path_factory):
    """`leadscore score` of the request's leads and events at AS_OF with the same package."""
    folder, _ = request_leads
    work = tmp_path_factory.mktemp("pyfunc_cli")
    model = work / "model.pkl"
    tracked["package"].save(model)
    config = write_demo_config(work, Path(tracked["cfg"].dataset.leads).parent)
    result = CliRunner().invoke(app, [
        "score", "--config", str(config), "--model", str(model),
        "--input", str(folder / "leads.parquet"),
        "--activities", str(folder / "activities.parquet"),
        "--output", str(work / "scores.parquet"), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(work / "scores.parquet")


@pytest.fixture(scope="module")
def fresh_venv(tracked, tmp_path_factory):
    """A virtualenv with nothing but the logged model's requirements.txt, installed from the
    model folder (as MLflow's virtualenv env manager does); pip's cache is allowed."""
    venv = tmp_path_factory.mktemp("pyfunc_venv") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    started = time.monotonic()
    subprocess.run([base, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "-r", "requirements.txt"], cwd=tracked["model_dir"], env=env,
                          capture_output=True, text=True, timeout=VENV_TIMEOUT)
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"\nfresh venv from the model's requirements: {time.monotonic() - started:.1f} s")
    return venv, env


def _run_in(venv: Path, env: dict, snippet: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-c", textwrap.dedent(snippet)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


# --------------------------------------------------------------------------- portability


def test_model_loads_in_a_fresh_venv_and_scores_like_leadscore_score(
        fresh_venv, tracked, request_leads, cli_scores, tmp_path):
    venv, env = fresh_venv
    folder, request = request_leads
    snippet = f"""
        import json, sys
        import pandas as pd
        import mlflow.pyfunc
        import pipeline
        model = mlflow.pyfunc.load_model({str(tracked['model_dir'])!r})
        frame = pd.read_parquet({str(folder / 'request.parquet')!r})
        model.predict(frame, params={{"as_of": {AS_OF!r}}}).to_parquet("scores.parquet")
        print(json.dumps({{"pipeline": pipeline.__file__, "path": sys.path}}))
    """
    done = _run_in(venv, env, snippet, tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    where = json.loads(done.stdout.strip().splitlines()[-1])
    # LeadScore came from the wheel installed in that venv, not from this checkout
    assert where["pipeline"].startswith(str(venv)), where["pipeline"]
    assert not any(p and Path(p).resolve() == ROOT for p in where["path"]), where["path"]

    fresh = pd.read_parquet(tmp_path / "scores.parquet")
    expected = cli_scores.set_index("lead_id").loc[request["lead_id"]].reset_index()
    assert len(fresh) == len(request) == 200
    assert expected["probability"].nunique() > 50 and expected["score"].nunique() > 3
    for column in COMPARED:
        left, right = fresh[column], expected[column]
        if column == "probability":
            np.testing.assert_array_equal(left.to_numpy(), right.to_numpy())
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), column
    assert fresh["model_version"].unique().tolist() == [cli_scores["model_version"].iloc[0]]


def test_requirements_pin_the_libraries_and_ship_leadscore_as_a_wheel(tracked):
    import importlib.metadata as md

    model_dir = tracked["model_dir"]
    lines = (model_dir / "requirements.txt").read_text().split()
    pins = dict(line.split("==") for line in lines if "==" in line)
    for name in ("mlflow", "pandas", "numpy", "scikit-learn", "lightgbm", "pyarrow",
                 "pydantic", "pyyaml", "scipy", "numba"):
        assert pins[name] == md.version(name), name
    wheels = [line for line in lines if line.endswith(".whl")]
    assert len(wheels) == 1 and (model_dir / wheels[0]).is_file(), lines
    assert re.fullmatch(r"artifacts/leadscore-\d+\.\d+\.\d+\+[0-9a-f]{12}-py3-none-any\.whl",
                        wheels[0])
    import zipfile

    names = zipfile.ZipFile(model_dir / wheels[0]).namelist()
    assert "pipeline/explain/package.py" in names and "features/build.py" in names
    assert "pipeline/data/defaults.yaml" in names  # package data travels too


def test_the_same_code_builds_the_same_wheel(tmp_path):
    from pipeline.mlops.packaging import build_wheel

    first, second = build_wheel(tmp_path / "a"), build_wheel(tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()


# --------------------------------------------------------------------------- signature


def test_signature_marks_optional_columns_and_takes_params(tracked):
    from mlflow.models import Model

    signature = Model.load(tracked["model_dir"]).signature
    required = {c.name for c in signature.inputs.inputs if c.required}
    optional = {c.name for c in signature.inputs.inputs if not c.required}
    assert required == {"lead_id", "created_at"}
    assert {"job_title", "employees", "annual_revenue", "activities", "as_of"} <= optional
    assert not set(PII[:1] + PII[2:]) & (required | optional)  # name and phone never declared
    params = {p.name: p for p in signature.params.params}
    assert set(params) == {"as_of", "explain", "top_reasons", "next_action"}
    assert params["explain"].default is True
    assert params["next_action"].default is False
    assert params["top_reasons"].default == tracked["package"].top_reasons
    outputs = {c.name for c in signature.outputs.inputs}
    assert {"model_version", "percentile", "probability", "score", "band", "grade",
            "engagement_level", "mql", "status", "reason_1"} <= outputs


@pytest.fixture(scope="module")
def loaded(tracked):
    import mlflow

    return mlflow.pyfunc.load_model(str(tracked["model_dir"]))


def test_predicts_a_parquet_file_as_read_and_a_reduced_frame(loaded, tracked, request_leads):
    from pipeline.mlops.serving import predict_frame

    _, request = request_leads
    leads = request.drop(columns="activities")
    assert pd.api.types.is_datetime64_any_dtype(leads["created_at"])
    assert {"outcome", "outcome_at", *PII} <= set(leads.columns)  # extra columns are ignored
    scored = loaded.predict(leads, params={"as_of": AS_OF})
    for column in ("lead_id", "model_version", "score", "probability", "percentile", "band",
                   "grade", "engagement_level", "mql", "status", "reason_1", "reason_2",
                   "reason_3"):
        assert column in scored.columns, column
    assert scored["percentile"].between(0, 100).all()
    expected = predict_frame(tracked["package"], leads.drop(columns=["outcome", "outcome_at"]),
                             now=pd.Timestamp(AS_OF))
    np.testing.assert_array_equal(scored["score"].to_numpy(), expected["score"].to_numpy())

    # only the two required columns: every optional one is unknown for every lead
    reduced = leads[["lead_id", "created_at"]].assign(
        created_at=leads["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    few = loaded.predict(reduced, params={"as_of": AS_OF})
    blank = leads[["lead_id", "created_at"]].assign(
        **{c: None for c in ("job_title", "company", "industry", "country", "lead_source",
                             "product_line", "email")},
        employees=np.nan, annual_revenue=np.nan)
    np.testing.assert_array_equal(
        few["score"].to_numpy(),
        predict_frame(tracked["package"], blank, now=pd.Timestamp(AS_OF))["score"].to_numpy())
    assert few["score"].nunique() < scored["score"].nunique()  # the columns did matter


def test_explain_and_top_reasons_params(loaded, request_leads):
    import mlflow

    _, request = request_leads
    frame = request.head(20)
    one = loaded.predict(frame, params={"as_of": AS_OF, "top_reasons": 1})
    assert one["reason_1"].str.len().gt(0).any()
    assert (one["reason_2"].fillna("") == "").all() and (one["reason_3"].fillna("") == "").all()
    quick = loaded.predict(frame, params={"as_of": AS_OF, "explain": False})
    assert quick["reason_1"].isna().all() and quick["grade"].isna().all()
    np.testing.assert_array_equal(quick["score"].to_numpy(), one["score"].to_numpy())
    assert "next_action" not in one.columns
    best = loaded.predict(frame, params={"as_of": AS_OF, "next_action": True})
    np.testing.assert_array_equal(best["score"].to_numpy(), one["score"].to_numpy())
    from pipeline.data.actions_schema import BUILTIN_ACTIONS

    assert set(best["next_action"]) <= {"", *BUILTIN_ACTIONS}
    assert (best["next_action_probability_gain"] >= 0).all()
    assert (best["next_action"] != "").any()  # a positive count's event raises some scores
    with pytest.raises(mlflow.exceptions.MlflowException, match="top_reasons 7"):
        loaded.predict(frame, params={"as_of": AS_OF, "top_reasons": 7})
    with pytest.raises(mlflow.exceptions.MlflowException, match="created after"):
        loaded.predict(frame, params={"as_of": "2020-01-01"})


# --------------------------------------------------------------------------- tracking


def test_run_has_the_standard_git_tag_and_the_training_input(tracked):
    client = tracked["client"]
    run = client.get_run(tracked["logged"].run_id)
    tags = run.data.tags
    assert re.fullmatch(r"[0-9a-f]{40}", tags["mlflow.source.git.commit"])
    assert "git_commit" not in tags
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.digest == tags["data.sha256"][:len(dataset.digest)]
    assert len(dataset.digest) >= 16
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
    columns = {c["name"] for c in json.loads(dataset.schema)["mlflow_colspec"]}
    assert {"lead_id", "created_at", "outcome"} <= columns
    assert not columns & set(PII)
    assert json.loads(dataset.profile)["num_rows"] == len(tracked["leads"])
    version = tracked["version"]
    assert version.tags["package_version"].startswith("file:")


def test_logging_the_model_pickles_no_code(tracked):
    from mlflow.models import Model

    texts = [str(w.message) for w in tracked["warnings"]]
    texts += [r.getMessage() for r in tracked["logs"]]
    assert not [t for t in texts if re.search("pickle", t, re.IGNORECASE)], texts
    model_dir = tracked["model_dir"]
    assert not (model_dir / "python_model.pkl").exists()
    flavor = Model.load(model_dir).flavors["python_function"]
    assert flavor["model_code_path"].endswith("pyfunc_model.py")
    assert (model_dir / flavor["model_code_path"]).is_file()


def test_artifacts_are_world_readable(tracked):
    umask = os.umask(0)
    os.umask(umask)
    assert umask == 0o022  # the usual umask, or this test would not show 0644
    files = [p for p in (tracked["folder"] / "mlruns").rglob("*") if p.is_file()]
    assert len(files) > 20
    modes = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert {m for m in modes.values()} == {"0o644"}, {p: m for p, m in modes.items()
                                                     if m != "0o644"}
