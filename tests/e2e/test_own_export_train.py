"""Training on an export nobody here wrote: where the config lives, the split caveat, no rules.

Issue 15: a config outside configs/ gives the same model as inside; the optimistic-split caveat of
a random split reaches metrics.json, the report and MLflow, also after `leadscore evaluate`; a
dataset without a rules sheet trains, and says what stands in for the rules.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.data.test_own_export import flat_config, flat_export

pytestmark = pytest.mark.slow
runner = CliRunner()
CAVEAT = "flat export split at random (split.method: random)"
STAND_IN = "no rules file (rules: null): the rules comparison is a learned points table"


def _cli(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"leadscore {' '.join(args)}:\n{result.output}"
    return " ".join(result.output.split())


def _tracked(folder: Path, config: Path) -> Path:
    tree = yaml.safe_load(config.read_text())
    tree["mlflow"] = {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
                      "artifact_root": str(folder / "mlruns")}
    config.write_text(yaml.safe_dump(tree, sort_keys=False))
    return config


def _model_digest(out_dir: Path) -> str:
    from pipeline.explain.package import load_package

    # the choice and the boosted candidate's trees: the same config must give both back
    scorer = load_package(out_dir / "packages" / "model.pkl").scorer
    booster = scorer.candidate_scorers()["lightgbm"].booster_
    text = scorer.selection()["chosen"] + booster.model_to_string()
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def flat_run(tmp_path_factory):
    """One tracked `train` of a flat export without a rules sheet, split at random."""
    folder = tmp_path_factory.mktemp("own_flat")
    config = _tracked(folder, flat_config(folder, flat_export(folder)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", "unset")
        mp.delenv("MLFLOW_TRACKING_URI")
        mp.chdir(folder)
        output = _cli("train", "--config", str(config))
        yield {"folder": folder, "config": config, "output": output,
               "out": folder / "artifacts" / "own"}


def test_the_split_caveat_and_the_stand_in_reach_every_output(flat_run):
    out = flat_run["out"]
    assert CAVEAT in flat_run["output"] and STAND_IN in flat_run["output"]
    notes = json.loads((out / "evaluation.json").read_text())["notes"]
    assert any(CAVEAT in n for n in notes) and any(STAND_IN in n for n in notes)
    report = " ".join((out / "report.html").read_text().split())
    assert CAVEAT in report and STAND_IN in report
    import mlflow

    run_id = json.loads((out / "run.json").read_text())["run_id"]
    mlflow.set_tracking_uri(f"sqlite:///{flat_run['folder'] / 'mlflow.db'}")
    tag = mlflow.MlflowClient().get_run(run_id).data.tags["notes"]
    assert CAVEAT in tag and STAND_IN in tag


def test_the_caveat_survives_evaluate(flat_run):
    out = flat_run["out"]
    (out / "evaluation.json").unlink()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(flat_run["folder"])
        _cli("evaluate", "--config", str(flat_run["config"]))
    notes = json.loads((out / "evaluation.json").read_text())["notes"]
    assert any(CAVEAT in n for n in notes), notes


def test_a_config_outside_configs_gives_the_same_model(tmp_path, monkeypatch):
    """Same data, same config text: once in a project's configs/ beside its base.yaml, once in
    a folder of its own. Both get the packaged defaults, so the models are identical."""
    leads = flat_export(tmp_path)
    inside = tmp_path / "project" / "configs"
    inside.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[2] / "configs" / "base.yaml", inside)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    digests = []
    for folder in (inside, elsewhere):
        config = flat_config(folder, leads, artifacts_dir=str(folder / "artifacts"))
        monkeypatch.chdir(folder.parent if folder == inside else folder)
        _cli("train", "--config", str(config), "--no-track", "--no-evaluate")
        digests.append(_model_digest(folder / "artifacts" / "own"))
    assert digests[0] == digests[1]
