"""Running the CLI on a generated foreign export, and what every such run must show."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from features.firmographic import feature_name
from pipeline.cli.app import app
from tests.foreign.exports import Export

runner = CliRunner()


def leadscore(command: str) -> str:
    """Run one `leadscore ...` line as a user types it; exit 0 or the test fails with the output."""
    args = shlex.split(command)
    assert args[0] == "leadscore", command
    result = runner.invoke(app, args[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    return " ".join(result.output.split())


def check_trained(folder: Path, name: str, export: Export) -> dict:
    """What a run on a foreign export must show after `train`: honest figures, no PII or leak
    among the features, intervals on every AUC."""
    from pipeline.explain.package import load_package

    out = folder / "artifacts" / name
    metrics = json.loads((out / "evaluation.json").read_text())
    model = metrics["model"]
    assert model["auc_ci_low"] <= model["roc_auc"] <= model["auc_ci_high"]
    # a learnable world, with its leaks kept out: neither chance nor a perfect score
    assert 0.6 < model["roc_auc"] < 0.95, model["roc_auc"]
    names = set(load_package(out / "packages" / "model.pkl").spec.names)
    for column in (*export.pii, *export.leaky):
        assert feature_name(column) not in names, f"{column} became a feature"
    return metrics


def check_scored(output: Path, export: Export, open_only: bool) -> pd.DataFrame:
    """Scores for every (open) lead of the export, 0-100, without a PII column."""
    scores = pd.read_parquet(output)
    expected = export.n_open if open_only else export.n_leads
    assert len(scores) == expected
    assert scores["score"].between(0, 100).all()
    assert not set(export.pii) & set(scores.columns)
    return scores
