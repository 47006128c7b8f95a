"""``--format table|json|csv`` on every command that prints a table, and whole tables in a pipe.

One saved training (the session's ``trained`` fixture, written where ``leadscore train`` would
write it and logged to a fresh MLflow store) serves every command. JSON and CSV must parse and
hold the rows the command computed; the Rich table piped into a file (CliRunner's stdout is not
a terminal) must hold every cell whole, never cut with an ellipsis.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.scorers import kinds
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()
AS_OF = "2026-06-30T23:59:59"  # configs/demo.yaml's dataset.snapshot


def _run(*args: str, codes: tuple[int, ...] = (0,)):
    done = runner.invoke(app, list(args))
    assert done.exit_code in codes, f"leadscore {' '.join(args)}:\n{done.output}"
    return done


def _json(*args: str, codes: tuple[int, ...] = (0,)):
    done = _run(*args, "--format", "json", codes=codes)
    return json.loads(done.stdout)  # the data alone: every other line went to stderr


def _csv(*args: str, codes: tuple[int, ...] = (0,)) -> list[dict[str, str]]:
    done = _run(*args, "--format", "csv", codes=codes)
    return list(csv.DictReader(io.StringIO(done.stdout)))


@pytest.fixture(scope="module")
def saved(trained, small_world, tmp_path_factory):
    """A config file and what `leadscore train` leaves: packages, split, audit, registry."""
    from pipeline.data.artifacts import Paths, write_json, write_table
    from pipeline.data.config import load_config
    from pipeline.mlops.tracking import configure, log_training

    _, result, leads, activities = trained
    folder = tmp_path_factory.mktemp("cli_formats")
    config = write_demo_config(folder, small_world)
    tree = yaml.safe_load(config.read_text())
    tree.setdefault("split", {})["purge"] = 0  # the split `trained` was fitted on
    config.write_text(yaml.safe_dump(tree, sort_keys=False))
    cfg = load_config(config)
    paths = Paths(cfg.out_dir)
    for name, package in result.packages.items():
        package.save(paths.package(name))
    write_table(paths.split, result.prepared.split_table())
    write_table(paths.audit, result.audit)
    write_json(paths.metrics, result.metrics)  # what `points` prints its comparison from
    with pytest.MonkeyPatch.context() as mp:
        # setenv first so that teardown removes the variable mlflow.set_tracking_uri exports
        mp.setenv("MLFLOW_TRACKING_URI", "unset")
        mp.delenv("MLFLOW_TRACKING_URI")
        configure(cfg)
        run = log_training(cfg, result, paths, leads, activities)
        write_json(paths.root / "run.json", {"run_id": run.run_id, "versions": run.versions})
        yield {"config": str(config), "cfg": cfg, "paths": paths, "data": small_world}


def test_evaluate_json_and_csv_hold_the_metrics_it_wrote(saved):
    config = saved["config"]
    shown = _json("evaluate", "--config", config)
    written = json.loads(saved["paths"].metrics.read_text())
    rows = {row["metric"]: row for row in shown["comparison"]}
    for name in kinds.names():
        for metric in ("roc_auc", "auc_ci_low", "pr_auc", "brier", "capture_top_20"):
            assert rows[metric][name] == pytest.approx(written[name][metric])
    assert [row["name"] for row in shown["selection"]] == list(
        written["selection"]["candidates"])
    table = _csv("evaluate", "--config", config)
    assert list(table[0])[:2] == ["metric", "label"]
    by_metric = {row["metric"]: row for row in table}
    for name in kinds.names():
        assert float(by_metric["roc_auc"][name]) == pytest.approx(written[name]["roc_auc"])


def test_audit_json_csv_and_a_piped_table_with_every_reason_whole(saved):
    config = saved["config"]
    shown = _json("audit", "--config", config)
    written = pd.read_csv(saved["paths"].audit)
    assert [row["column"] for row in shown] == written["column"].astype(str).tolist()
    assert [row["column"] for row in _csv("audit", "--config", config)] == [
        row["column"] for row in shown]
    piped = _run("audit", "--config", config).stdout
    assert "…" not in piped
    for row in shown:  # each reason on one line, whole, however long
        assert any(str(row["column"]) in line and row["reason"] in line
                   for line in piped.splitlines()), row


def test_points_json_and_csv_are_the_points_table(saved):
    config = saved["config"]
    out = Path(saved["cfg"].out_dir) / "learned.yaml"
    shown = _json("points", "--config", config, "--out", str(out))
    sheet = pd.read_csv(out.with_suffix(".csv"))
    assert len(shown["points"]) == len(sheet)
    # JSON has null where the CSV sheet has an empty cell (the MQL line carries no points)
    assert [row["points"] for row in shown["points"]] == [
        None if pd.isna(v) else v for v in sheet["points"]]
    assert {row["metric"] for row in shown["comparison"]} >= {"roc_auc", "brier"}
    table = _csv("points", "--config", config, "--out", str(out))
    assert list(table[0]) == list(sheet.columns) and len(table) == len(sheet)


def test_explain_json_and_csv_agree(saved):
    args = ("explain", "--config", saved["config"], "--best-open")
    shown = _json(*args)
    table = _csv(*args)
    assert [row["factor"] for row in table] == [f["factor"] for f in shown["factors"]]
    assert [float(row["points"]) for row in table] == [f["points"] for f in shown["factors"]]
    assert {row["lead_id"] for row in table} == {shown["lead_id"]}


def test_drift_json_and_csv_list_every_feature(saved):
    args = ("drift", "--config", saved["config"], "--input",
            str(saved["data"] / "leads.parquet"), "--activities",
            str(saved["data"] / "activities.parquet"), "--as-of", AS_OF,
            "--model", str(saved["paths"].package(kinds.CHALLENGER)))
    shown = _json(*args, codes=(0, 3))  # an alarm exits 3 after the table
    report = json.loads((Path(saved["cfg"].out_dir) / "drift.json").read_text())
    assert shown == report["psi"]
    assert "score" in {row["feature"] for row in shown}
    assert [row["feature"] for row in _csv(*args, codes=(0, 3))] == [
        row["feature"] for row in shown]


def test_models_and_promote_json_and_csv(saved):
    config = saved["config"]
    versions = _json("models", "--config", config)
    registered = {k.registered_name(saved["cfg"]) for k in kinds.registered()}
    assert {row["model"] for row in versions} == registered
    assert [(str(row["version"]), row["aliases"]) for row in versions] == [
        ("1", "challenger")] * len(registered)
    assert [row["model"] for row in _csv("models", "--config", config)] == [
        row["model"] for row in versions]
    gate = _json("promote", "--config", config, "--dry-run")
    assert gate["gate"] and {"against", "metric", "difference", "passed"} <= set(gate["gate"][0])
    assert gate["decision"][0]["dry_run"] is True
    assert [row["metric"] for row in _csv("promote", "--config", config, "--dry-run")] == [
        row["metric"] for row in gate["gate"]]


def test_config_json_csv_and_tsv_hold_the_same_keys(saved):
    config = saved["config"]
    tsv = _run("config", "--config", config, "--format", "tsv").stdout.splitlines()
    keys = [line.split("\t")[0] for line in tsv]
    shown = _json("config", "--config", config)
    assert [row["key"] for row in shown] == keys
    assert [row["key"] for row in _csv("config", "--config", config)] == keys
    piped = _run("config", "--config", config).stdout
    assert "…" not in piped
    longest = max(shown, key=lambda row: len(str(row["value"])))
    assert str(longest["value"]) in piped  # not folded over several lines either


def test_init_json_lists_every_column_of_the_export(saved, tmp_path):
    leads = saved["data"] / "leads.parquet"
    shown = _json("init", "--leads", str(leads), "--activities",
                  str(saved["data"] / "activities.parquet"), "--out",
                  str(tmp_path / "configs" / "crm.yaml"), codes=(0, 2))
    assert [row["column"] for row in shown] == pd.read_parquet(leads).columns.tolist()
    assert {row["guess"] for row in shown} >= {"lead_id"}


@pytest.mark.realdata
def test_cv_json_and_csv_give_each_fold(x_education_config, tmp_path):
    args = ("cv", "--config", str(x_education_config), "--folds", "2",
            "--set", f"artifacts_dir={tmp_path}")
    shown = _json(*args)
    written = pd.read_csv(tmp_path / "x_education" / "cv.csv")
    for row in shown:
        aucs = written.loc[written["scorer"] == row["scorer"], "roc_auc"].tolist()
        assert [row["fold_1"], row["fold_2"]] == pytest.approx(aucs)
    assert {row["scorer"] for row in shown} == set(kinds.names())


def test_the_core_names_its_stages_through_a_plain_callback(trained):
    from pipeline.stages.evaluate import evaluate_packages

    cfg, result, _, _ = trained
    stages: list[str] = []
    metrics, _ = evaluate_packages(cfg, result.packages, result.prepared, n_boot=0,
                                   progress=stages.append)
    assert stages == ["score the test leads", "metrics", "metrics by lead age",
                      "segments, leak check and model choice"]
    assert metrics[kinds.CHALLENGER]["roc_auc"] == pytest.approx(
        result.metrics[kinds.CHALLENGER]["roc_auc"])
