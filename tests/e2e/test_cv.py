"""leadscore cv: k-fold comparison of model, learned points and rules on a flat export."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app

pytestmark = [pytest.mark.slow, pytest.mark.realdata]
runner = CliRunner()


def test_cv_on_x_education_repeats_training_per_fold(x_education_config, tmp_path):
    run = runner.invoke(app, ["cv", "--config", str(x_education_config), "--folds", "2",
                              "--set", f"artifacts_dir={tmp_path}"])
    assert run.exit_code == 0, run.output
    table = pd.read_csv(tmp_path / "x_education" / "cv.csv")
    assert sorted(table["scorer"].unique()) == ["learned_points", "model", "rules"]
    assert sorted(table["fold"].unique()) == [1, 2]
    mean = table.groupby("scorer")["roc_auc"].mean()
    assert mean["model"] > mean["rules"] and mean["learned_points"] > mean["rules"]
    assert "2-fold test ROC-AUC" in run.output


def test_cv_refuses_event_data_with_one_line(small_world, tmp_path):
    from tests.conftest import write_demo_config

    config = write_demo_config(tmp_path, small_world)
    run = runner.invoke(app, ["cv", "--config", str(config)])
    assert run.exit_code == 2
    assert "cross-validation is for flat exports" in run.output
