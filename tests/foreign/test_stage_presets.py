"""The presets' lifecycle stages, end to end on the HubSpot- and Salesforce-shaped exports:
`leadscore init --preset` names them, the contract parses them, the funnel reads them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.data.config import load_config
from pipeline.data.io import load_dataset
from pipeline.data.lifecycle import funnel_stages
from pipeline.evaluation.funnel import lifecycle_funnel
from pipeline.stages.prepare import candidate_columns
from tests.foreign.exports import EXPORT_DATE, SHAPES
from tests.foreign.pipeline_run import leadscore

pytestmark = pytest.mark.slow  # init profiles and checks a 4,000-lead export: ~20 s each

EXPECTED = {
    "hubspot": {"mql": "Became a Marketing Qualified Lead Date",
                "sql": "Became a Sales Qualified Lead Date",
                "opportunity": "Became an Opportunity Date", "won": "Became a Customer Date"},
    "salesforce": {"opportunity": "ConvertedDate"},
}
FUNNEL = {
    "hubspot": {"mql": "mql_at", "sql": "sql_at", "opportunity": "opportunity_at",
                "won": "won_at"},
    "salesforce": {"opportunity": "opportunity_at"},  # ConvertedDate is also the close date
}


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_init_names_the_stages_and_the_funnel_reads_them(shape, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = SHAPES[shape](tmp_path / "exports")
    leadscore(f"leadscore init --leads {export.leads.relative_to(tmp_path)} --activities "
              f"{export.activities.relative_to(tmp_path)} --preset {shape} "
              f"--out configs/{shape}.yaml")
    text = (tmp_path / "configs" / f"{shape}.yaml").read_text()
    assert "  stages:" in text
    config = load_config(tmp_path / "configs" / f"{shape}.yaml")
    assert config.dataset.stages == EXPECTED[shape]
    # the stage dates are roles now: not written into ignore, never audit candidates
    assert not set(EXPECTED[shape].values()) & set(config.dataset.ignore)
    leads, _, report = load_dataset(config)
    assert report.ok, report.violations
    stages = funnel_stages(config.dataset)
    assert stages == FUNNEL[shape]
    assert not set(stages.values()) & set(candidate_columns(leads, config))
    dates = leads[list(stages.values())]
    assert (dates.max() <= EXPORT_DATE + pd.Timedelta(hours=6)).all()  # portal clock vs UTC
    for first, then in zip(stages.values(), list(stages.values())[1:], strict=False):
        both = dates[first].notna() & dates[then].notna()
        assert both.any() and (dates.loc[both, first] <= dates.loc[both, then]).all()

    # the funnel on these leads, scored at 14 days by a stand-in score (more events, hotter)
    rng = np.random.default_rng(0)
    score = rng.random(len(leads)) + (leads["outcome"] == "won").to_numpy()
    scores = pd.DataFrame({"lead_id": leads["lead_id"],
                           "as_of": leads["created_at"] + pd.Timedelta(days=14),
                           "band": np.where(score > 1.0, "hot", "cold"), "mql": score > 0.9})
    funnel = lifecycle_funnel(leads, scores, stages, config.dataset.horizon_days,
                              pd.Timestamp(EXPORT_DATE),
                              training_leads=leads[leads[stages.get("mql", "created_at")].notna()])
    assert funnel.counts["matured"] > 100
    if shape == "hubspot":
        steps = funnel.steps.set_index(["step", "band"])
        assert steps.loc[("mql->sql", "hot"), "share"] > steps.loc[("mql->sql", "cold"), "share"]
        assert funnel.generous["training"]["n"] > 100
    else:
        assert funnel.steps.empty and funnel.generous["next_stage"] == "opportunity"
        assert funnel.generous["training"] is None
