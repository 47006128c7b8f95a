"""The README's "Python API" blocks, run as they stand in a demo-shaped project folder."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import write_demo_config

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"
AS_OF = "2026-06-30T23:59:59"


def readme_blocks() -> list[str]:
    """The python blocks under "## Python API"."""
    section = README.read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "README: expected two python blocks under 'Python API'"
    return blocks


@pytest.fixture(scope="module")
def project(trained, small_world, tmp_path_factory):
    """artifacts/demo/ as `make demo` leaves it: the world, the model package and the feature
    table (of a fifth of the leads, so that the block's four fits stay short)."""
    from pipeline.data.io import load_dataset
    from pipeline.stages.feature_table import write_feature_table

    cfg, result, _, _ = trained
    folder = tmp_path_factory.mktemp("python_api")
    demo = folder / "artifacts" / "demo"
    (demo / "packages").mkdir(parents=True)
    (demo / "data").symlink_to(small_world, target_is_directory=True)
    result.packages["model"].save(demo / "packages" / "model.pkl")
    leads, activities, _ = load_dataset(cfg)
    full = write_feature_table(cfg, (leads, activities), folder / "all_features.parquet")
    table = pq.read_table(full)
    ids = pd.Series(table.column("lead_id").to_pandas().unique())
    kept = set(ids.sample(frac=0.2, random_state=0))
    rows = np.flatnonzero(table.column("lead_id").to_pandas().isin(kept).to_numpy())
    pq.write_table(table.take(rows), demo / "features.parquet")
    return folder


def test_load_package_scores_as_the_command_line_does(project, monkeypatch, small_world):
    monkeypatch.chdir(project)
    names: dict = {}
    exec(compile(readme_blocks()[0], "README.md", "exec"), names)  # noqa: S102 - our README
    scores, open_leads = names["scores"], names["open_leads"]
    assert len(scores) == len(open_leads) == 100
    assert list(scores["lead_id"]) == list(open_leads["lead_id"].astype(str))
    # the same leads through `leadscore score`: the same scores, probabilities and reasons
    open_leads.to_parquet(project / "open.parquet")
    activities = names["activities"]
    activities[activities["lead_id"].isin(open_leads["lead_id"])].to_parquet(
        project / "open_activities.parquet")
    cfg = write_demo_config(project / "cli", small_world)
    out = project / "scored.parquet"
    run = CliRunner().invoke(app, [
        "score", "--config", str(cfg), "--model",
        str(project / "artifacts/demo/packages/model.pkl"), "--input",
        str(project / "open.parquet"), "--activities", str(project / "open_activities.parquet"),
        "--output", str(out), "--as-of", AS_OF])
    assert run.exit_code == 0, run.output
    cli = pd.read_parquet(out).set_index("lead_id").loc[scores["lead_id"]]
    np.testing.assert_array_equal(cli["score"].to_numpy(), scores["score"].to_numpy())
    np.testing.assert_allclose(cli["probability"], scores["probability"], rtol=1e-12)
    assert list(cli["reason_1"]) == list(scores["reason_1"])
    assert scores["score"].nunique() > 5  # the newest leads: scores that tell them apart


def test_the_classifier_block_cross_validates_and_scores(project, monkeypatch):
    monkeypatch.chdir(project)
    names: dict = {}
    exec(compile(readme_blocks()[1], "README.md", "exec"), names)  # noqa: S102 - our README
    aucs, clf, X = names["aucs"], names["clf"], names["X"]
    assert aucs.shape == (3,) and np.all(aucs > 0.7)
    assert X.index.name == "lead_id"
    lead = clf.lead_score(X)
    assert lead.min() >= 0 and lead.max() <= 100
