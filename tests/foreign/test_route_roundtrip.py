"""`score --route` on Salesforce- and HubSpot-shaped exports: the file reads back with the preset.

Each export runs init (with its preset) -> train -> score --route in that CRM's layout, once per
module. The routing file must read back through the generated config's own column names: its
lead id column is the preset's, and its ids are the export's; every routed lead is an MQL of the
score output that is not disqualified, best first; there are min(MQLs, capacity) of them, and
the summary counts the rest as held back.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.data.config import load_config
from pipeline.data.io import read_table
from tests.foreign.exports import SHAPES
from tests.foreign.pipeline_run import leadscore

pytestmark = pytest.mark.slow
CAPACITY = 40


@pytest.fixture(scope="module", params=["salesforce", "hubspot"])
def trained_export(request, tmp_path_factory):
    """(shape, project folder, export, score command without --output) after init and train."""
    shape = request.param
    folder = tmp_path_factory.mktemp(f"route_{shape}")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(folder)
    try:
        export = SHAPES[shape](folder / "exports")
        files = f"--leads {export.leads.relative_to(folder)} " \
                f"--activities {export.activities.relative_to(folder)}"
        leadscore(f"leadscore init {files} --preset {shape} --out configs/{shape}.yaml")
        leadscore(f"leadscore train --config configs/{shape}.yaml --no-track")
        command = (f"leadscore score --config configs/{shape}.yaml --model "
                   f"artifacts/{shape}/packages/model.pkl {files.replace('--leads', '--input')} "
                   f"--as-of {export.export_date.isoformat()} --open-only")
        yield shape, folder, export, command
    finally:
        monkeypatch.undo()


def _in(folder: Path, command: str) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        return leadscore(command)


def test_the_route_file_round_trips_through_the_preset_columns(trained_export):
    shape, folder, export, command = trained_export
    printed = _in(folder, f"{command} --output scores.parquet --route --route-format {shape} "
                          f"--set routing.capacity_per_week={CAPACITY}")
    cfg = load_config(folder / "configs" / f"{shape}.yaml")
    id_column = cfg.dataset.columns.lead_id
    assert id_column == export.id_column  # the preset's lead id, kept by init
    route = pd.read_csv(folder / "scores.route.csv", dtype=str, keep_default_na=False)
    scores = pd.read_parquet(folder / "scores.parquet")
    summary = json.loads((folder / "scores.route.csv.json").read_text())

    # the lead id column reads back with the config's mapping, onto the export's own ids
    assert route.columns[0] == id_column
    original = read_table(export.leads)[export.id_column].astype(str).str.strip()
    assert route[id_column].isin(set(original)).all() and route[id_column].is_unique

    # every routed lead is an MQL of the score output, not disqualified, best first
    by_id = scores.set_index("lead_id")
    routed = by_id.loc[route[id_column]]
    assert routed["mql"].all() and (routed["status"] != "disqualified").all()
    assert np.all(np.diff(routed["probability"].to_numpy()) <= 0)
    eligible = scores[scores["mql"] & (scores["status"] != "disqualified")]
    if len(eligible) > len(route):  # the best of the MQLs, not any of them
        assert routed["probability"].min() >= eligible["probability"].nlargest(len(route)).min()
    assert len(route) == min(len(eligible), CAPACITY) == summary["routed"]
    assert summary["held_back"] == len(eligible) - len(route)
    assert summary["mqls"] == int(scores["mql"].sum())
    assert f"routed {len(route)} of {summary['mqls']} MQLs" in printed
    assert f"{summary['held_back']} held back" in printed

    # the CRM's own columns: standard fields by their API names / labels, and values it accepts
    score_header = {"salesforce": "LeadScore_Score__c", "hubspot": "LeadScore score"}[shape]
    assert route[score_header].astype(int).tolist() == routed["score"].astype(int).tolist()
    if shape == "salesforce":
        assert set(route["Rating"]) <= {"Hot", "Warm", "Cold", ""}
        assert all(c in ("Id", "Rating") or c.endswith("__c") for c in route.columns)
    else:
        # read back with the preset, the stage is one of its open stages: nobody is demoted
        stages = {v.casefold() for v in cfg.dataset.outcome_values["open"]}
        assert {v.casefold() for v in route["Lifecycle Stage"]} <= stages


def test_no_mql_writes_a_header_only_file_and_says_so(trained_export, tmp_path):
    shape, folder, export, command = trained_export
    scores = pd.read_parquet(folder / "scores.parquet") if (folder / "scores.parquet").exists() \
        else None
    if scores is None:
        _in(folder, f"{command} --output scores.parquet")
        scores = pd.read_parquet(folder / "scores.parquet")
    low = set(scores.nsmallest(50, "probability")["lead_id"])
    assert not scores[scores["lead_id"].isin(low)]["mql"].any()
    # the 50 lowest leads and their own events only (an event of another lead is an error)
    leads, events = read_table(export.leads), read_table(export.activities)
    leads[leads[export.id_column].str.strip().isin(low)].to_csv(
        folder / "exports" / "low.csv", index=False)
    events[events[export.activity_id_column].str.strip().isin(low)].to_csv(
        folder / "exports" / "low_events.csv", index=False)
    low_command = command.replace(str(export.leads.relative_to(folder)), "exports/low.csv")
    low_command = low_command.replace(str(export.activities.relative_to(folder)),
                                      "exports/low_events.csv")
    printed = _in(folder, f"{low_command} --output low.parquet --route --route-format {shape}")
    lines = (folder / "low.route.csv").read_text().splitlines()
    assert len(lines) == 1 and lines[0].split(",")[0].strip('"') == export.id_column
    assert "no lead reached the MQL line" in printed and "holds the header only" in printed


@pytest.mark.parametrize("setting", ["routing.capacity_per_week=0",
                                     "routing.capacity_per_week=-5"])
def test_a_capacity_of_zero_or_less_is_one_line_exit_2(trained_export, setting):
    shape, folder, _, command = trained_export
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = CliRunner().invoke(app, shlex.split(command)[1:] + [
            "--output", "refused.parquet", "--route", "--set", setting])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message and "routing.capacity_per_week" in message
    assert "greater than 0" in message and "Traceback" not in message
    assert not (folder / "refused.parquet").exists()
