"""notebooks/review_explanations.ipynb runs top to bottom on a fresh training run.

The run is the session's small synthetic world trained once (``trained`` in tests/conftest.py),
saved the way ``leadscore train`` saves it into a temporary folder; the notebook is pointed at it
through LEADSCORE_ARTIFACTS / LEADSCORE_CONFIG and executed in a real ipykernel from a
temporary working directory, so it cannot lean on the repository's own artifacts/demo.
"""

from __future__ import annotations

import base64
import os

import nbformat
import pytest

from pipeline.data.artifacts import Paths
from pipeline.data.config import load_config
from pipeline.stages.outputs import save_evaluation
from tests.conftest import ROOT, write_demo_config

NOTEBOOK = ROOT / "notebooks" / "review_explanations.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert 'ARTIFACTS = "artifacts/demo"' in params[0].source
    assert 'CONFIG = "configs/demo.yaml"' in params[0].source


@pytest.fixture(scope="module")
def review_run(trained, small_world, tmp_path_factory):
    """A training run's files (packages, test scores, metrics) and its config file."""
    _, result, _, _ = trained
    folder = tmp_path_factory.mktemp("review_run")
    config_path = write_demo_config(folder, small_world)
    cfg = load_config(config_path)
    paths = Paths(cfg.out_dir)
    for name, package in result.packages.items():
        package.save(paths.package(name))
    save_evaluation(cfg, result)
    return paths.root, config_path


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_notebook_runs_on_a_fresh_run(review_run, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    artifacts, config = review_run
    monkeypatch.setenv("LEADSCORE_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("LEADSCORE_CONFIG", str(config))
    # the kernel imports `pipeline` from the checkout even where it is not pip-installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    # raises CellExecutionError (with the cell and traceback) on the first failing cell
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert str(artifacts) in text  # the environment, not the parameter cell, chose the run

    def images(tag: str) -> list[bytes]:
        cells = [c for c in code if tag in c.metadata.get("tags", [])]
        assert len(cells) == 1, tag
        return [base64.b64decode(o.data["image/png"]) for o in cells[0].outputs
                if o.output_type in ("display_data", "execute_result")
                and "image/png" in o.get("data", {})]

    waterfall = images("waterfall")
    assert len(waterfall) == 1 and waterfall[0].startswith(b"\x89PNG")
    assert len(images("comparison")) == 1
    # the pattern table is a real table with rows, not an empty frame
    html = "".join(o.get("data", {}).get("text/html", "") for c in code for o in c.outputs)
    assert "<table" in html and "high fit, low engagement" in html
