"""Every bad-input case of the contract: exit code 2, a message naming file, column and rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app

runner = CliRunner()

LEADS = """lead_id,created_at,outcome,outcome_at,job_title,email,industry,employees
L1,2025-01-05,won,2025-03-01,VP Sales,a@acme.com,software,120
L2,2025-01-06,lost,2025-02-01,Student,b@gmail.com,education,5
L3,2025-01-07,open,,Marketing Manager,c@corp.io,retail,40
L4,2025-01-08,lost,2025-04-02,CTO,d@big.com,finance,900
"""
ACTIVITIES = """lead_id,occurred_at,activity_type,detail,channel
L1,2025-01-06 10:00,web_visit,pricing,online
L1,2025-01-07 11:00,email_open,,online
L2,2025-01-07 09:00,email_bounce,,online
L3,2025-01-08 12:00,webinar_attended,,online
"""


def _write_config(tmp: Path, leads: str, activities: str | None = ACTIVITIES, **dataset) -> Path:
    (tmp / "leads.csv").write_text(leads)
    ds = {
        "name": "t",
        "mode": "events",
        "leads": str(tmp / "leads.csv"),
        "activity_types": ["web_visit", "email_open", "email_bounce", "webinar_attended"],
        "snapshot": "2025-06-30",
        **dataset,
    }
    if activities is not None:
        (tmp / "activities.csv").write_text(activities)
        ds["activities"] = str(tmp / "activities.csv")
    cfg = {
        "dataset": ds,
        "features": {"categorical": ["industry"], "numeric": ["employees"]},
    }
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _validate(cfg: Path):
    return runner.invoke(app, ["validate", "--config", str(cfg)])


def _contract_clean(result) -> None:
    """Four leads pass the contract; training then refuses them (none has a full horizon yet),
    which is the one problem validate reports."""
    assert result.exit_code == 2, result.output
    assert "input contract ok (" in result.output, result.output
    assert "no lead of 4 is eligible for training (horizon_not_elapsed: 4)" in result.output
    assert "1 problem(s) found" in result.output


def test_clean_data_passes(tmp_path):
    result = _validate(_write_config(tmp_path, LEADS))
    _contract_clean(result)
    assert "4 leads" in result.output and "4 activities" in result.output


def test_missing_file(tmp_path):
    cfg = _write_config(tmp_path, LEADS)
    (tmp_path / "leads.csv").unlink()
    result = _validate(cfg)
    assert result.exit_code == 2
    assert "leads.csv: file not found" in result.output
    assert "Traceback" not in result.output


def test_empty_file(tmp_path):
    result = _validate(_write_config(tmp_path, ""))
    assert result.exit_code == 2
    assert "leads.csv: file is empty" in result.output


def test_header_only(tmp_path):
    result = _validate(_write_config(tmp_path, LEADS.splitlines()[0] + "\n"))
    assert result.exit_code == 2
    assert "no rows" in result.output


def test_wrong_delimiter(tmp_path):
    result = _validate(_write_config(tmp_path, LEADS.replace(",", ";")))
    assert result.exit_code == 2
    assert "looks ';'-delimited" in result.output
    assert "dataset.read.delimiter" in result.output


def test_misspelled_column_suggests_closest(tmp_path):
    result = _validate(_write_config(tmp_path, LEADS.replace("industry", "industy")))
    assert result.exit_code == 2
    assert "column 'industry': missing" in result.output
    assert "did you mean 'industy'?" in result.output


def test_duplicate_ids_name_rows(tmp_path):
    leads = LEADS.replace("L3,", "L1,")
    result = _validate(_write_config(tmp_path, leads))
    assert result.exit_code == 2
    assert "column 'lead_id': duplicate lead id (2 rows: 1, 3)" in result.output


def test_nan_and_inf_in_numeric(tmp_path):
    leads = LEADS.replace(",120\n", ",inf\n").replace(",5\n", ",five\n")
    result = _validate(_write_config(tmp_path, leads))
    assert result.exit_code == 2
    assert "column 'employees': infinite value (1 row: 1)" in result.output
    assert "column 'employees': not a number (1 row: 2)" in result.output


def test_empty_ids_are_empty_not_duplicates(tmp_path):
    leads = LEADS.replace("L2,", ",").replace("L4,", " ,")
    result = _validate(_write_config(tmp_path, leads))
    assert result.exit_code == 2
    assert "column 'lead_id': empty lead id (2 rows: 2, 4)" in result.output
    assert "duplicate" not in result.output


FLAT = """Prospect ID,Converted,TotalVisits,Page Views,Unsubscribed,employees
P1,1,3,2.5,No,10
P2,0,-2,1.0,No,-4
P3,1,5,-0.5,Yes,
P4,0,0,0,No,7
"""


def test_negative_counts_and_sizes_are_refused_in_a_flat_export(tmp_path):
    (tmp_path / "leads.csv").write_text(FLAT)
    cfg = {"dataset": {"name": "f", "mode": "flat", "leads": str(tmp_path / "leads.csv"),
                       "columns": {"lead_id": "Prospect ID", "target": "Converted"}},
           "split": {"method": "random"},
           "features": {"mode": "flat", "engagement": ["TotalVisits", "Page Views"],
                        "negative": ["Unsubscribed"]}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = _validate(path)
    assert result.exit_code == 2, result.output
    assert "column 'TotalVisits': negative count (1 row: 2)" in result.output
    assert "column 'Page Views': negative count (1 row: 3)" in result.output
    assert "column 'employees': negative value (a company size or revenue) (1 row: 2)" \
        in result.output


def test_a_latin1_file_read_as_utf8_names_the_encoding_setting(tmp_path):
    cfg = _write_config(tmp_path, LEADS)
    (tmp_path / "leads.csv").write_bytes(LEADS.replace("VP Sales", "Directeur Général")
                                         .encode("latin-1"))
    result = _validate(cfg)
    assert result.exit_code == 2
    assert "leads.csv: not valid utf-8 text" in result.output
    assert "dataset.read.encoding" in result.output and "Traceback" not in result.output


def test_unparseable_dates(tmp_path):
    leads = LEADS.replace("2025-01-06,lost", "yesterday,lost")
    result = _validate(_write_config(tmp_path, leads))
    assert result.exit_code == 2
    assert "column 'created_at': unparseable date (1 row: 2)" in result.output


def test_unknown_outcome_value(tmp_path):
    leads = LEADS.replace("L2,2025-01-06,lost", "L2,2025-01-06,closed")
    result = _validate(_write_config(tmp_path, leads))
    assert result.exit_code == 2
    assert "column 'outcome': unknown outcome value" in result.output
    assert "(1 row: 2)" in result.output


def test_outcome_before_creation(tmp_path):
    leads = LEADS.replace("2025-02-01", "2024-12-01")
    result = _validate(_write_config(tmp_path, leads))
    assert result.exit_code == 2
    assert "column 'outcome_at': outcome_at before created_at (1 row: 2)" in result.output


def test_activity_problems_each_named(tmp_path):
    activities = ACTIVITIES + (
        "L9,2025-01-09 10:00,web_visit,home,online\n"  # unknown lead (row 5)
        "L2,2025-01-01 10:00,email_open,,online\n"  # before creation (row 6)
        "L3,2031-01-01 10:00,email_open,,online\n"  # future (row 7)
        "L3,2025-02-01 10:00,,,online\n"  # empty type (row 8)
        "L3,2025-02-01 10:00,webinar_attend,,online\n"  # unknown type (row 9)
        "L3,not a date,email_open,,online\n"  # unparseable (row 10)
    )
    result = _validate(_write_config(tmp_path, LEADS, activities))
    assert result.exit_code == 2
    text = result.output
    assert "activities.csv: column 'lead_id': lead id not in the leads file (1 row: 5)" in text
    assert "column 'occurred_at': event before the lead was created (1 row: 6)" in text
    assert "column 'occurred_at': event in the future" in text and "(1 row: 7)" in text
    assert "column 'activity_type': empty activity type (1 row: 8)" in text
    assert ("activity types not covered by dataset.activity_types: 'webinar_attend' "
            "(1, close to 'webinar_attended')") in text
    assert "column 'occurred_at': unparseable date (1 row: 10)" in text
    assert "6 problem(s) found" in text or "7 problem(s) found" in text


def test_examples_capped_at_five(tmp_path):
    rows = "".join(f"L{i},2025-01-05,won,2025-03-01,VP,x@y.com,software,1\n" for i in [1] * 8)
    result = _validate(_write_config(tmp_path, LEADS.splitlines()[0] + "\n" + rows, None))
    assert result.exit_code == 2
    assert "duplicate lead id (8 rows: 1, 2, 3, 4, 5, ...)" in result.output


def test_parquet_input_typed(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(LEADS))
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["outcome_at"] = pd.to_datetime(frame["outcome_at"])
    cfg = _write_config(tmp_path, LEADS, None)
    frame.to_parquet(tmp_path / "leads.parquet")
    data = yaml.safe_load(cfg.read_text())
    data["dataset"]["leads"] = str(tmp_path / "leads.parquet")
    cfg.write_text(yaml.safe_dump(data))
    result = _validate(cfg)
    _contract_clean(result)


def test_config_misspelled_key_names_file_and_key(tmp_path):
    cfg = _write_config(tmp_path, LEADS)
    data = yaml.safe_load(cfg.read_text())
    data["split"] = {"valid_fraktion": 0.2}
    cfg.write_text(yaml.safe_dump(data))
    result = _validate(cfg)
    assert result.exit_code == 2
    assert "cfg.yaml: split.valid_fraktion: unknown key (misspelled?)" in result.output


def test_config_bad_value_names_key(tmp_path):
    cfg = _write_config(tmp_path, LEADS)
    result = runner.invoke(
        app, ["validate", "--config", str(cfg), "--set", "split.test_fraction=0.9"]
    )
    assert result.exit_code == 2
    assert "split.test_fraction: Input should be less than 0.5" in result.output


def test_config_not_yaml(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("dataset: [unclosed\n")
    result = _validate(cfg)
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "not valid YAML" in result.output


@pytest.mark.realdata
def test_x_education_config_validates(x_education_config):
    result = _validate(x_education_config)
    assert result.exit_code == 0, result.output
    assert "9,240 leads" in result.output


def test_snapshot_bounds_training_not_scoring(tmp_path):
    """A lead and an event after dataset.snapshot: refused for training, accepted for scoring
    (issue 17); an event after the wall clock is refused at scoring too."""
    from pipeline.data.config import load_config
    from pipeline.data.io import load_dataset

    leads = LEADS + "L5,2025-08-01,open,,CTO,e@big.com,finance,300\n"  # after the snapshot
    activities = ACTIVITIES + "L5,2025-08-02 10:00,web_visit,pricing,online\n"
    cfg = load_config(_write_config(tmp_path, leads, activities))

    _, _, training = load_dataset(cfg)
    text = "\n".join(str(v) for v in training.violations)
    assert "column 'created_at': created after the snapshot date (1 row: 5)" in text
    event_after = load_config(_write_config(
        tmp_path, LEADS, ACTIVITIES + "L3,2025-08-02 10:00,web_visit,pricing,online\n"))
    _, _, training = load_dataset(event_after)
    assert [v.problem for v in training.violations] == ["event in the future (after "
                                                        "2025-06-30 00:00)"]
    _write_config(tmp_path, leads, activities)  # back to the export with L5

    scored_leads, scored_events, scoring = load_dataset(
        cfg, tmp_path / "leads.csv", tmp_path / "activities.csv", scoring=True)
    assert scoring.ok, scoring.violations
    assert "L5" in set(scored_leads["lead_id"]) and "L5" in set(scored_events["lead_id"])

    (tmp_path / "late.csv").write_text(activities + "L5,2031-01-01 10:00,web_visit,,online\n")
    _, _, future = load_dataset(cfg, tmp_path / "leads.csv", tmp_path / "late.csv", scoring=True)
    assert len(future.violations) == 1
    text = str(future.violations[0])
    assert text.startswith(f"{tmp_path / 'late.csv'}: column 'occurred_at': event in the future")
    assert text.endswith("(1 row: 6)")
