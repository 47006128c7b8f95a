"""Lifecycle stage dates (dataset.stages): config checks, contract parsing, never a feature."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.data.config import load_config
from pipeline.data.contracts import ContractReport, canonical_leads
from pipeline.data.errors import ConfigError
from pipeline.data.lifecycle import funnel_stages
from pipeline.stages.prepare import candidate_columns

runner = CliRunner()

LEADS = """lead_id,created_at,outcome,outcome_at,industry,employees,MQL Date,SQL Date
L1,2025-01-05,won,2025-03-01,software,120,2025-01-10T09:00:00-05:00,2025-01-20
L2,2025-01-06,lost,2025-02-01,education,5,2025-01-12,
L3,2025-01-07,open,,retail,40,,
L4,2025-01-08,lost,2025-04-02,finance,900,2025-01-09 10:00,2025-01-15
"""
STAGES = {"mql": "MQL Date", "sql": "SQL Date"}


def _config(tmp: Path, leads: str = LEADS, stages: dict | None = None, **features) -> Path:
    (tmp / "leads.csv").write_text(leads)
    cfg = {
        "dataset": {"name": "t", "mode": "events", "leads": str(tmp / "leads.csv"),
                    "snapshot": "2025-06-30", "stages": STAGES if stages is None else stages},
        "features": {"categorical": ["industry"], "numeric": ["employees"], "title_column": None,
                     "email_column": None, **features},
    }
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _canonical(cfg: Path, leads: str = LEADS, scoring: bool = False):
    config = load_config(cfg)
    raw = pd.read_csv(cfg.parent / "leads.csv", dtype=str, keep_default_na=False)
    raw = raw.replace("", None)
    report = ContractReport()
    return canonical_leads(raw, config, "leads.csv", report, scoring=scoring), report, config


def test_stage_dates_are_parsed_like_created_at(tmp_path):
    out, report, config = _canonical(_config(tmp_path))
    assert report.ok, report.violations
    # the offset is converted to UTC and dropped, as created_at's would be
    assert out.loc[0, "mql_at"] == pd.Timestamp("2025-01-10 14:00")
    assert out["sql_at"].isna().tolist() == [False, True, True, False]
    # won is not named: the close date of won leads
    assert out["won_at"].tolist()[0] == pd.Timestamp("2025-03-01")
    assert out["won_at"].isna().tolist() == [False, True, True, True]
    assert str(out["mql_at"].dtype) == "datetime64[ns]"
    # the export's own stage columns do not travel on, so nothing downstream can read them
    assert "MQL Date" not in out and "SQL Date" not in out
    assert funnel_stages(config.dataset) == {"mql": "mql_at", "sql": "sql_at", "won": "won_at"}


def test_unparseable_stage_date_is_one_line_with_rows(tmp_path):
    bad = LEADS.replace("2025-01-12,", "soon,")
    cfg = _config(tmp_path, bad)
    _, report, _ = _canonical(cfg, bad)
    assert [str(v) for v in report.violations] == [
        "leads.csv: column 'MQL Date': unparseable date (1 row: 2)"]


def test_missing_stage_column_names_file_and_column(tmp_path):
    cfg = _config(tmp_path, stages={"mql": "MQL Dat"})
    _, report, _ = _canonical(cfg)
    assert [str(v) for v in report.violations] == [
        "leads.csv: column 'MQL Dat': missing (dataset.stages.mql) (did you mean 'MQL Date'?)"]
    # new leads at scoring time have reached no stage yet: not required
    _, report, _ = _canonical(cfg, scoring=True)
    assert report.ok


def test_validate_refuses_a_bad_stage_column_in_one_line(tmp_path):
    result = runner.invoke(app, ["validate", "--config",
                                 str(_config(tmp_path, stages={"sql": "SQL_Date"}))])
    assert result.exit_code == 2, result.output
    assert "column 'SQL_Date': missing (dataset.stages.sql) (did you mean 'SQL Date'?)" \
        in result.output
    assert "Traceback" not in result.output


def test_unknown_stage_name_is_a_one_line_config_error(tmp_path):
    cfg = _config(tmp_path, stages={"mql": "MQL Date", "demo": "SQL Date"})
    with pytest.raises(ConfigError, match=r"dataset\.stages: unknown stage 'demo' \(stages, in "
                       r"funnel order: mql, sql, opportunity, won\)") as err:
        load_config(cfg)
    assert "\n" not in str(err.value)
    result = runner.invoke(app, ["validate", "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert "unknown stage 'demo'" in result.output and "Traceback" not in result.output


def test_a_stage_column_is_never_a_feature(tmp_path):
    with pytest.raises(ConfigError, match=r"\['MQL Date'\] are lifecycle stage dates"):
        load_config(_config(tmp_path, categorical=["industry", "MQL Date"]))


def test_stage_columns_are_not_audit_candidates(tmp_path):
    out, _, config = _canonical(_config(tmp_path))
    candidates = candidate_columns(out, config)
    assert candidates == ["industry", "employees"]
    # even where the export's own column would reach the leads (a stage named after a column
    # the contract passes on), it is skipped by name
    assert "MQL Date" not in candidate_columns(out.assign(**{"MQL Date": 1}), config)


def test_salesforce_close_date_as_a_stage_has_no_won_step(tmp_path):
    # ConvertedDate is both the close date and the step to an opportunity: no won_at is made up
    cfg = _config(tmp_path, stages={"opportunity": "outcome_at"})
    out, report, config = _canonical(cfg)
    assert report.ok, report.violations
    assert funnel_stages(config.dataset) == {"opportunity": "opportunity_at"}
    assert "won_at" not in out
    assert out["opportunity_at"].equals(out["outcome_at"].rename("opportunity_at"))
