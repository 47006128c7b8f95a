"""Scales, bands and MQL follow the data at a 2 % and a 47 % base rate (issue 17).

Two small synthetic worlds are trained end to end. On their test leads: at least 10 distinct
displayed scores cover the middle 80 % of leads under the default scale (``auto``: percentile
at 2 %, probability at 47 %), about 10 % of leads are hot, every scorer flags about the
capacity's share as MQL (the one rule, on each scorer's own calibrated probability), so the
three shares agree; an MQL line no lead reaches reads n/a, never 0.0 %.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.evaluation.report import _metrics_table
from pipeline.explain.thresholds import learn_mql
from pipeline.scorers import kinds
from tests.conftest import demo_config

pytestmark = pytest.mark.slow

# (base rate, leads): each world trains in well under a minute on one core
WORLDS = {"base_2": (0.02, 8_000), "base_47": (0.47, 3_000)}
CAPACITY, HOT = 0.2, 0.1


@pytest.fixture(scope="module", params=sorted(WORLDS))
def world(request, tmp_path_factory):
    from pipeline.data.io import load_dataset
    from pipeline.scorers.rules import load_rules
    from pipeline.stages.train import train_scorers
    from pipeline.synth.world import write_world

    base_rate, n = WORLDS[request.param]
    data = tmp_path_factory.mktemp(request.param) / "data"
    write_world(data, n, seed=7, base_rate=base_rate)
    # a small world: the guard's minimum and the search are lowered, not the rules under test
    cfg = demo_config(data, split={"purge": 0},
                      guard={"min_train_conversions": 50, "min_valid_conversions": 10},
                      selection={"n_boot": 200}, model={"n_estimators": 300})
    leads, activities, report = load_dataset(cfg)
    report.raise_if_failed()
    result = train_scorers(cfg, leads, activities, load_rules(cfg.rules), n_boot=0)
    X_test = result.X.loc[result.training_set.part("test")]
    scored = {name: pkg.score_features(X_test, explain_leads=False)
              for name, pkg in result.packages.items()}
    return request.param, cfg, result, scored


def test_the_default_scale_spreads_the_middle_of_the_leads(world):
    name, _, result, scored = world
    expected = "percentile" if name == "base_2" else "probability"
    for kind, out in scored.items():
        assert result.packages[kind].scale.unit == expected
        shown = out["score"].to_numpy()
        low, high = np.quantile(shown, [0.1, 0.9])
        distinct = np.unique(shown[(shown >= low) & (shown <= high)]).size
        assert distinct >= 10, f"{name} {kind}: {distinct} distinct scores in the middle 80 %"
    if expected == "percentile":
        assert any("chose percentile" in note for note in result.notes)
    assert result.metrics["scale"]["unit"] == expected


def test_every_output_carries_probability_and_percentile(world):
    _, _, _, scored = world
    for out in scored.values():
        assert out["probability"].between(0, 1).all()
        assert out["percentile"].between(0, 100).all()
        # the percentile and the probability rank the leads the same way
        order = np.argsort(out["probability"].to_numpy(), kind="stable")
        assert (np.diff(out["percentile"].to_numpy()[order]) >= 0).all()


def test_bands_and_mql_follow_the_data(world):
    name, _, result, scored = world
    for kind, out in scored.items():
        hot = float((out["band"] == "hot").mean())
        assert hot == pytest.approx(HOT, abs=0.04), f"{name} {kind}: hot share {hot:.1%}"
        share = result.metrics[kind]["mql_share"]
        assert share == pytest.approx(CAPACITY, abs=0.04), f"{name} {kind}: MQL {share:.1%}"
        assert out["mql"].mean() == pytest.approx(share)


def test_the_three_scorers_flag_the_same_share(world):
    name, _, result, _ = world
    shares = {kind: result.metrics[kind]["mql_share"] for kind in kinds.names()}
    assert max(shares.values()) - min(shares.values()) <= 0.03, f"{name}: {shares}"
    for kind in kinds.names():
        assert np.isfinite(result.metrics[kind]["mql_precision"])
        assert "top 20% of validation leads" in result.metrics[kind]["mql_rule"]


def test_an_unreachable_precision_target_reads_na(world):
    from pipeline.data.schema import ScoringConfig
    from pipeline.stages.evaluate import evaluate_packages

    _, cfg, result, _ = world
    X_valid, y_valid = result.prepared.rows("valid")
    packages = dict(result.packages)
    model = packages[kinds.CHALLENGER]
    p_valid = model.scorer.predict_proba(X_valid)[:, 1]
    never = learn_mql(ScoringConfig(mql={"precision": 1.0}).mql, p_valid, p_valid,
                      np.zeros(len(p_valid)), 1.0)
    packages[kinds.CHALLENGER] = dataclasses.replace(model, mql=never)
    metrics, _ = evaluate_packages(cfg, packages, result.prepared, None, n_boot=0)
    assert metrics[kinds.CHALLENGER]["mql_share"] == 0.0
    assert np.isnan(metrics[kinds.CHALLENGER]["mql_precision"])
    table = _metrics_table(metrics)
    row = next(r for r in table["rows"] if r["label"] == "MQL precision")
    cells = dict(zip(table["columns"], (c["text"] for c in row["cells"]), strict=True))
    assert cells[kinds.display(kinds.CHALLENGER)] == "n/a"
    assert cells[kinds.display(kinds.REFERENCE)].endswith("%")
    assert "n/a" in metrics[kinds.CHALLENGER]["mql_rule"]
