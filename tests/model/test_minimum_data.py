"""Minimum-data guard (refuse, warn, fall back) and per-product-line models end to end."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.data.errors import DataError
from pipeline.data.io import read_truth
from pipeline.scorers.rules import load_rules
from pipeline.stages.train import train_scorers
from tests.conftest import demo_config, write_demo_config

pytestmark = pytest.mark.slow
runner = CliRunner()


def _truth(world):
    return read_truth(world / "truth.parquet")


def test_training_refuses_too_few_conversions_with_exit_2(small_world, tmp_path):
    config = write_demo_config(tmp_path, small_world)
    run = runner.invoke(app, ["train", "--config", str(config), "--no-track",
                              "--set", "guard.min_train_conversions=100000"])
    assert run.exit_code == 2
    lines = [line for line in run.output.splitlines() if "error:" in line]
    assert len(lines) == 1
    assert "converted leads in the training split, fewer than the minimum 100000" in lines[0]
    assert "guard.min_train_conversions" in lines[0]
    assert "Traceback" not in run.output
    assert not (tmp_path / "artifacts" / "demo" / "packages").exists()


def test_the_default_minimum_is_100_training_conversions(trained):
    cfg, result, leads, activities = trained
    assert cfg.guard.min_train_conversions == 100
    assert cfg.guard.min_segment_conversions == 30
    few = result.training_set.summary()["train_positives"]
    with pytest.raises(DataError, match=f"only {few} converted leads in the training split"):
        train_scorers(cfg.model_copy(update={"guard": cfg.guard.model_copy(
            update={"min_train_conversions": few + 1})}), leads, activities,
            load_rules(cfg.rules), n_boot=0)


def test_a_thin_validation_split_is_trained_with_a_warning(trained):
    cfg, result, leads, activities = trained
    valid = result.training_set.summary()["valid_positives"]
    guard = cfg.guard.model_copy(update={"min_valid_conversions": valid + 1})
    again = train_scorers(cfg.model_copy(update={"guard": guard}), leads, activities,
                          load_rules(cfg.rules), n_boot=0)
    assert any(f"only {valid} conversions in the validation split" in n for n in again.notes)


@pytest.fixture(scope="module")
def segmented(small_world):
    # LightGBM as the only candidate: these tests are about the per-segment models the model
    # kind ships, and the choice could otherwise ship a points table without segments.
    cfg = demo_config(small_world, dataset={"segment": "product_line"},
                      guard={"min_segment_conversions": 200}, split={"purge": 0},
                      selection={"candidates": ["lightgbm"]})
    from pipeline.data.io import load_dataset

    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    return cfg, train_scorers(cfg, leads, activities, load_rules(cfg.rules), n_boot=0,
                              truth=_truth(small_world))


def test_small_product_line_falls_back_to_the_global_model_with_the_reason(segmented):
    cfg, result = segmented
    segments = result.packages["model"].scorer.candidate_scorers()["lightgbm"]
    selection = segments.selection_.set_index("segment")
    # conversions of training rows: on the as_of grid a converted lead counts once per age
    small = selection[selection["train_conversions"] < 200]
    assert len(small), "the services line should be under 200 training conversions here"
    for level, row in small.iterrows():
        assert row["choice"] == "global"
        assert any(f"segment product_line={level} uses the global model" in n and
                   "fewer than the minimum 200" in n for n in result.notes)


def test_per_segment_metrics_compare_the_selected_and_the_global_model(segmented):
    _, result = segmented
    by_segment = result.metrics["segments"]
    assert set(by_segment) == {"academy", "platform", "services"}
    total = sum(entry["leads"] for entry in by_segment.values())
    assert total == len(result.training_set.part("test"))
    for entry in by_segment.values():
        if "model_roc_auc" in entry:
            assert {"global_model_roc_auc", "rules_roc_auc",
                    "learned_points_roc_auc"} <= set(entry)
        if entry["choice"] == "global" and "model_roc_auc" in entry:
            assert entry["model_roc_auc"] == pytest.approx(entry["global_model_roc_auc"])


def test_segmented_package_scores_and_explains_every_lead(segmented, small_world):
    _, result = segmented
    package = result.packages["model"]
    X = result.X.loc[result.training_set.part("test")].head(400)
    scored = package.score_features(X)
    points = package.scorer.factor_points(X)
    total = points.attrs["base_score"] + points.sum(axis=1).to_numpy()
    assert (abs(total - scored["score"].to_numpy()) <= 0.5 + 1e-9).all()
    assert scored["reason_1"].str.len().gt(0).mean() > 0.9


def test_segment_must_be_a_categorical_feature(small_world):
    from pipeline.data.errors import ConfigError
    from pipeline.data.io import load_dataset

    cfg = demo_config(small_world, dataset={"segment": "job_title"})
    leads, activities, _ = load_dataset(cfg)
    with pytest.raises(ConfigError, match="dataset.segment: 'job_title' must also be listed"):
        train_scorers(cfg, leads, activities, load_rules(cfg.rules), n_boot=0)
