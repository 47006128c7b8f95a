"""One colour per scorer kind in every plot (matplotlib and `dvc plots`), and the diagonal of
perfect calibration on both calibration plots."""

from __future__ import annotations

import json

import matplotlib.colors as mcolors
import numpy as np
import pytest
import yaml

from pipeline.evaluation.metrics import curves
from pipeline.evaluation.plots import calibration_figure, gains_figure, roc_figure
from pipeline.scorers import kinds
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(3)
    y = rng.random(2_000) < 0.2
    probabilities = {k: np.clip(0.2 + (0.1 + 0.1 * i) * (y - 0.2) + rng.normal(0, 0.1, y.size),
                                0.001, 0.999) for i, k in enumerate(kinds.names())}
    return curves(y.astype(int), probabilities)


def _lines(fig) -> dict[str, tuple]:
    return {line.get_label(): line for line in fig.axes[0].get_lines()}


@pytest.mark.parametrize("draw", ["roc", "gains", "calibration"])
def test_matplotlib_gives_every_kind_its_own_colour(tables, draw):
    if draw == "roc":
        fig = roc_figure(tables.roc, {k: 0.7 for k in kinds.names()})
    else:
        fig = {"gains": gains_figure, "calibration": calibration_figure}[draw](
            getattr(tables, draw))
    lines = _lines(fig)
    seen = {}
    for kind in kinds.KINDS:
        line = next(v for label, v in lines.items() if label.startswith(kind.display))
        seen[kind.name] = mcolors.to_hex(line.get_color())
    assert seen == {k.name: mcolors.to_hex(k.color) for k in kinds.KINDS}
    assert len(set(seen.values())) == len(kinds.KINDS)


def test_matplotlib_calibration_has_the_diagonal(tables):
    perfect = _lines(calibration_figure(tables.calibration))["perfect"]
    x, y = perfect.get_data()
    assert list(x) == list(y) and (min(x), max(x)) == (0, 100)


def test_dvc_plots_draw_every_kind_in_its_colour_and_the_diagonal():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    template = json.loads((ROOT / ".dvc" / "plots" / "scorers.json").read_text())
    color = template["encoding"]["color"]
    assert color["field"] == "scorer"
    colours = dict(zip(color["scale"]["domain"], color["scale"]["range"], strict=True))
    assert {k: colours[k] for k in kinds.names()} == {k.name: k.color for k in kinds.KINDS}
    assert len(set(colours.values())) == len(colours)
    plots = {name: spec for entry in dvc["plots"] for name, spec in entry.items()}
    assert {n.split()[0] for n in plots} == {"ROC", "Gains", "Calibration"}
    for name, spec in plots.items():
        assert spec["template"] == "scorers"
        curve = name.split()[0].lower()
        stems = {path.rsplit("/", 1)[1].removesuffix(".csv").removeprefix(f"{curve}_")
                 for path in spec["y"]}
        assert stems == set(kinds.names()) | ({"perfect"} if curve == "calibration" else set())
        assert stems <= set(colours)

