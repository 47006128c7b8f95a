"""The failures a new user met on exports nobody here wrote, each now fixed (issue 15, "Why").

Every test names the numbered failure it reproduces. Bad input ends in one line and exit 2;
good input gives the right result.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from features.activity import build_engagement_features
from features.settings import FeatureSettings
from pipeline.cli.app import app
from pipeline.data.config import AsOfRule, SplitConfig, load_config, packaged_defaults_path
from pipeline.data.contracts import ContractReport, canonical_activities, canonical_leads
from pipeline.data.dataset import build_training_set
from pipeline.data.errors import ConfigError
from pipeline.scorers.rules import load_rules

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args))


def _one_line_error(result, *fragments: str) -> str:
    """Exit 2, one `error:` line holding every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, text
    return text


def flat_export(folder: Path, n: int = 1500, seed: int = 3, sep: str = ",") -> Path:
    """A flat export with a learnable signal, rows oldest first, a yes/no target."""
    rng = np.random.default_rng(seed)
    origin = rng.choice(["Form", "Referral", "Ad", "Chat"], n, p=[0.3, 0.2, 0.3, 0.2])
    visits = rng.poisson(3, n)
    titles = rng.choice(["VP Sales", "Student", "CTO", "Marketing Manager"], n)
    logit = -2.2 + 0.35 * visits + np.where(origin == "Referral", 1.0, 0.0) \
        + np.where(titles == "Student", -1.0, 0.0)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "Prospect ID": [f"P{i:05d}" for i in range(n)],
        "Lead Origin": origin, "Job Title": titles, "Visits": visits,
        "Signup Date": pd.date_range("2024-01-01", periods=n, freq="6h").strftime("%Y-%m-%d"),
        "Converted": np.where(won, "Yes", "No"),
    })
    path = folder / "flat.csv"
    frame.to_csv(path, index=False, sep=sep)
    return path


def flat_config(folder: Path, leads: Path, *, text: str | None = None, **sections) -> Path:
    """A dataset config outside configs/, as a user writes it (YAML text or sections)."""
    path = folder / "own.yaml"
    if text is None:
        tree = {"dataset": {"name": "own", "mode": "flat", "leads": str(leads),
                            "columns": {"lead_id": "Prospect ID", "target": "Converted"}},
                "features": {"mode": "flat", "title_column": None, "email_column": None,
                             "size_column": None, "revenue_column": None,
                             "categorical": ["Lead Origin"], "engagement": ["Visits"]},
                "split": {"method": "random"},
                "artifacts_dir": str(folder / "artifacts")}
        for key, value in sections.items():
            tree[key] = {**tree.get(key, {}), **value} if isinstance(value, dict) else value
        text = yaml.safe_dump(tree, sort_keys=False)
    path.write_text(text)
    return path


# 1. base.yaml skipped outside configs/ ----------------------------------------------------------

def test_1_packaged_defaults_apply_to_a_config_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here, no base.yaml beside the config
    cfg = load_config(flat_config(tmp_path, flat_export(tmp_path)))
    defaults = yaml.safe_load(packaged_defaults_path().read_text())
    assert cfg.model.n_estimators == defaults["model"]["n_estimators"]
    assert cfg.model.params["learning_rate"] == defaults["model"]["params"]["learning_rate"]
    assert cfg.model.params["min_child_samples"] == 40  # not LightGBM's own 20
    assert cfg.tuning.trials == defaults["tuning"]["trials"]


def test_1_base_yaml_overrides_defaults_and_config_shows_every_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = flat_config(tmp_path, flat_export(tmp_path))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.yaml").write_text("model:\n  params:\n    num_leaves: 15\n")
    assert load_config(config).model.params["num_leaves"] == 15
    result = _invoke("config", "--config", str(config), "--set", "seed=7", "--format", "tsv")
    assert result.exit_code == 0, result.output
    rows = {line.split("\t")[0]: line.split("\t")[2] for line in result.output.splitlines()}
    assert rows["model.params.num_leaves"] == "configs/base.yaml"
    assert rows["model.params.learning_rate"] == "default"
    assert rows["dataset.name"] == str(config)
    assert rows["seed"] == "--set"
    assert rows["dataset.columns.outcome_at"] == "default (schema)"


# 2. activity types cannot be mapped -------------------------------------------------------------

LEADS = """lead_id,created_at,outcome,outcome_at
L1,2025-01-05,won,2025-03-01
L2,2025-01-06,lost,2025-02-01
"""


def _events_config(**dataset):
    return load_config(_write(dataset), None)


def _write(dataset: dict) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / "leads.csv").write_text(LEADS)
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump({"dataset": {"name": "t", "leads": str(folder / "leads.csv"),
                                                "snapshot": "2025-06-30", **dataset},
                                    "features": {"title_column": None, "email_column": None}}))
    return path


def _activities(config, rows: list[tuple], quantity: bool = False):
    columns = ["lead_id", "occurred_at", "activity_type"] + (["views"] if quantity else [])
    report = ContractReport()
    leads = canonical_leads(pd.read_csv(_write({}).parent / "leads.csv", dtype=str), config,
                            "leads.csv", report)
    frame = canonical_activities(pd.DataFrame(rows, columns=columns, dtype=str), leads, config,
                                 "acts.csv", report)
    return frame, report


def test_2_activity_types_map_many_values_and_patterns_to_one_type():
    config = _events_config(activity_types={
        "sales_call": ["touch_call", "Call"], "web_visit": ["pricing_page", "re:page[ _]view.*"],
        "offline_event": ["meeting"]})
    frame, report = _activities(config, [
        ("L1", "2025-01-06", "touch_call"), ("L1", "2025-01-07", "CALL"),
        ("L1", "2025-01-08", "pricing_page"), ("L2", "2025-01-08", "Page View (blog)"),
        ("L2", "2025-01-09", "Meeting"), ("L2", "2025-01-09", "web_visit")])
    assert report.ok, report.violations
    assert frame["activity_type"].tolist() == ["sales_call", "sales_call", "web_visit",
                                               "web_visit", "offline_event", "web_visit"]


def test_2_every_unknown_type_is_listed_with_its_count():
    config = _events_config(activity_types={"web_visit": ["visit"]})
    unknown = [f"type_{k}" for k in range(11)]
    rows = [("L1", "2025-01-06", t) for k, t in enumerate(unknown) for _ in range(k + 1)]
    _, report = _activities(config, rows)
    (violation,) = report.violations
    for k, name in enumerate(unknown):
        assert f"'{name}' ({k + 1})" in str(violation)
    assert violation.count == len(rows)
    assert "dataset.unknown_activity: other or drop" in str(violation)


@pytest.mark.parametrize(("policy", "types"), [("other", ["web_visit", "other", "other"]),
                                               ("drop", ["web_visit"])])
def test_2_unknown_activity_other_or_drop(policy, types):
    config = _events_config(activity_types={"web_visit": ["visit"]}, unknown_activity=policy)
    frame, report = _activities(config, [("L1", "2025-01-06", "visit"),
                                         ("L1", "2025-01-07", "chat"),
                                         ("L2", "2025-01-07", "chat")])
    assert report.ok
    assert frame["activity_type"].tolist() == types
    if policy == "drop":
        assert report.notes == ["acts.csv: 2 events of unmapped types left out "
                                "(dataset.unknown_activity: drop): 'chat' (2)"]


def test_2_quantity_counts_an_event_that_many_times():
    config = _events_config(activity_columns={"quantity": "views"})
    frame, report = _activities(config, [("L1", "2025-01-06", "web_visit", "5"),
                                         ("L1", "2025-01-07", "web_visit", ""),
                                         ("L2", "2025-01-07", "web_visit", "-1")], quantity=True)
    assert [str(v) for v in report.violations] == [
        "acts.csv: column 'views': negative quantity (1 row: 3)"]
    X = build_engagement_features(["L1"], frame, pd.Timestamp("2025-01-10"), FeatureSettings())
    assert X.loc["L1", "web_visit_7d"] == 6.0  # 5 views + 1 (an empty quantity counts once)
    assert X.loc["L1", "activity_total"] == 6.0
    assert X.loc["L1", "active_days_30d"] == 2.0  # days, not quantities


# 3. targets and booleans ------------------------------------------------------------------------

def test_3_unquoted_yes_no_in_outcome_values_and_rules(tmp_path):
    config = _write({"outcome_values": "PLACEHOLDER"})
    config.write_text(config.read_text().replace(
        "outcome_values: PLACEHOLDER", "outcome_values: {won: [yes, won], lost: [no, lost], "
        "open: [open]}"))
    assert load_config(config).dataset.outcome_values["won"] == ["yes", "won"]
    rules = tmp_path / "rules.yaml"
    rules.write_text("attributes:\n  do_not_email: {yes: -20, no: 0}\nflags: {unsubscribed: -5}\n")
    assert load_rules(rules).attributes["do_not_email"] == {"yes": -20.0, "no": 0.0}


def test_3_true_false_target_in_a_flat_export(tmp_path):
    leads = flat_export(tmp_path)
    leads.write_text(leads.read_text().replace(",Yes\n", ",TRUE\n").replace(",No\n", ",FALSE\n"))
    result = _invoke("validate", "--config", str(flat_config(tmp_path, leads)))
    assert result.exit_code == 0, result.output
    assert "1,500 leads" in result.output


def test_3_a_target_of_other_words_says_how_to_map_it(tmp_path):
    leads = flat_export(tmp_path)
    leads.write_text(leads.read_text().replace(",Yes\n", ",Closed Won\n"))
    result = _invoke("validate", "--config", str(flat_config(tmp_path, leads)))
    text = _one_line_error(result, "column 'Converted': target must be 0/1, yes/no or true/false",
                           "'Closed Won'", "set columns.outcome and dataset.outcome_values")
    assert "row numbers count data rows" in text


# 4. flat exports cannot be split in time --------------------------------------------------------

def test_4_a_time_split_a_flat_export_cannot_honour_is_an_error(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path), split={"method": "time"})
    result = _invoke("validate", "--config", str(config))
    _one_line_error(result, "split.method: time needs an order", "split.order_by",
                    "split.row_order: true")


def _flat_leads(n: int = 400) -> pd.DataFrame:
    return pd.DataFrame({"lead_id": [f"x{i}" for i in range(n)],
                         "outcome": ["won" if i % 5 == 0 else "lost" for i in range(n)],
                         "outcome_at": pd.NaT, "order_key": np.arange(n)[::-1].astype(float)})


def test_4_row_order_puts_the_last_rows_in_the_test_split():
    ts = build_training_set(_flat_leads(), None, "flat", AsOfRule(), 180,
                            SplitConfig(method="time", row_order=True), seed=1)
    assert (ts.split.to_numpy()[-80:] == "test").all() and (ts.split.to_numpy()[:250] ==
                                                             "train").all()
    assert "split in time by row order" in ts.notes[0]


def test_4_order_by_puts_the_newest_in_the_test_split():
    ts = build_training_set(_flat_leads(), None, "flat", AsOfRule(), 180,
                            SplitConfig(method="time", order_by="Signup"), seed=1)
    # order_key runs backwards: the first rows are the newest
    assert (ts.split.to_numpy()[:80] == "test").all()
    assert "column 'Signup'" in ts.notes[0]


def test_4_order_by_column_is_parsed_and_checked(tmp_path):
    leads = flat_export(tmp_path)
    leads.write_text(leads.read_text().replace("2024-01-02", "not a date", 1))
    config = flat_config(tmp_path, leads, split={"method": "time", "order_by": "Signup Date"})
    _one_line_error(_invoke("validate", "--config", str(config)),
                    "column 'Signup Date': split.order_by: neither a date nor a number (1 row: 5)")


# 5. other config limits -------------------------------------------------------------------------

def test_5_as_of_at_first_contact_is_allowed():
    assert load_config(_write({"as_of": {"days": 0}})).dataset.as_of.days == 0


def _undated_leads() -> pd.DataFrame:
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(300), unit="D") / 4
    outcome = np.where(np.arange(300) % 4 == 0, "won", "lost")
    outcome_at = pd.Series(created + pd.Timedelta(days=30)).where(outcome == "won")
    return pd.DataFrame({"lead_id": [f"L{i}" for i in range(300)], "created_at": created,
                         "outcome": outcome, "outcome_at": outcome_at})


def test_5_lost_leads_without_a_close_date_are_an_error_by_default(tmp_path):
    (tmp_path / "leads.csv").write_text(LEADS.replace("2025-02-01", ""))
    path = _write({})
    path.write_text(path.read_text().replace(str(path.parent / "leads.csv"),
                                             str(tmp_path / "leads.csv")))
    report = ContractReport()
    canonical_leads(pd.read_csv(tmp_path / "leads.csv", dtype=str), load_config(path),
                    "leads.csv", report)
    assert "won/lost lead without a close date (set dataset.missing_outcome_at: drop or " \
           "horizon to accept them) (1 row: 2)" in str(report.violations[0])


@pytest.mark.parametrize("policy", ["drop", "horizon"])
def test_5_missing_outcome_at_drop_or_horizon(policy):
    # purge 0: these leads share a few as_of days, so the horizon gap would purge most of them
    ts = build_training_set(_undated_leads(), None, "events", AsOfRule(days=7), 90,
                            SplitConfig(purge=0), seed=0, snapshot=pd.Timestamp("2025-06-30"),
                            missing_outcome_at=policy)
    if policy == "drop":
        assert ts.excluded["missing_outcome_at"] == 225
        assert len(ts.y) == 75 and ts.y.all()
        assert "225 lost leads without a close date left out" in ts.notes[0]
    else:
        assert "missing_outcome_at" not in ts.excluded
        assert len(ts.y) == 300 and ts.y.sum() == 75  # lost stays lost
        assert "225 lost leads without a close date taken as decided at the end of their " \
               "90-day horizon" in ts.notes[0]


def test_5_lead_id_null_numbers_the_rows(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path), dataset={"columns": {
        "lead_id": None, "target": "Converted"}})
    cfg = load_config(config)
    report = ContractReport()
    leads = canonical_leads(pd.read_csv(cfg.dataset.leads, dtype=str), cfg, "flat.csv", report)
    assert report.ok
    assert leads["lead_id"].head(3).tolist() == ["1", "2", "3"]


# 6. validate passes configs train crashes on -----------------------------------------------------

def test_6_a_declared_column_that_clashes_with_a_derived_feature(tmp_path):
    leads = flat_export(tmp_path)
    frame = pd.read_csv(leads, dtype=str).assign(Seniority="senior")
    frame.to_csv(leads, index=False)
    config = flat_config(tmp_path, leads, features={"title_column": "Job Title",
                                                    "categorical": ["Lead Origin", "Seniority"]})
    _one_line_error(_invoke("validate", "--config", str(config)),
                    f"{config}: features: declared column 'Seniority' gives feature 'seniority'",
                    "already derived from the title")


def test_6_a_misspelled_rule_field_gets_a_suggestion(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("attributes:\n  lead_orign: {referral: 10}\n"
                     "thresholds:\n  Visits: [{min: 3, points: 5}]\n")
    config = flat_config(tmp_path, flat_export(tmp_path), rules=str(rules))
    result = _invoke("validate", "--config", str(config))
    text = _one_line_error(result, "attributes.lead_orign: no such feature (did you mean "
                           "'lead_origin'?)", "thresholds.Visits: no such feature (rule fields "
                           "are feature names: write 'visits')")
    assert "2 problem(s) found" in text


def test_6_a_lightgbm_parameter_typo_is_refused(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path),
                         model={"params": {"num_leafs": 7}})
    _one_line_error(_invoke("validate", "--config", str(config)),
                    "model.params: 'num_leafs' is not a LightGBM parameter (did you mean "
                    "'num_leaves'?)")


def test_6_set_delimiter_comma_is_text_not_a_yaml_error(tmp_path):
    leads = flat_export(tmp_path, sep=";")
    config = flat_config(tmp_path, leads)
    result = _invoke("validate", "--config", str(config), "--set", "dataset.read.delimiter=;")
    assert result.exit_code == 0, result.output
    result = _invoke("validate", "--config", str(config), "--set", "dataset.read.delimiter=,")
    _one_line_error(result, "looks ';'-delimited; set dataset.read.delimiter")


def test_6_one_pass_reports_structure_and_rows_together(tmp_path):
    leads = flat_export(tmp_path)
    frame = pd.read_csv(leads, dtype=str).drop(columns="Lead Origin")
    frame.loc[4, "Prospect ID"] = frame.loc[2, "Prospect ID"]
    frame.loc[7, "Converted"] = "perhaps"
    frame.to_csv(leads, index=False)
    text = _one_line_error(_invoke("validate", "--config", str(flat_config(tmp_path, leads))),
                           "column 'Lead Origin': missing (declared categorical column)",
                           "column 'Prospect ID': duplicate lead id (2 rows: 3, 5)",
                           "column 'Converted': target must be", "(1 row: 8)")
    assert "3 problem(s) found" in text
    assert "column 'lead_id'" not in text  # the user's own column name, not the role


# 7. a rules file is mandatory --------------------------------------------------------------------

def test_7_without_a_rules_file_validate_says_what_stands_in(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path))
    assert load_config(config).rules is None
    result = _invoke("validate", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "no rules file (rules: null): train compares the model with a points table learned" \
           in " ".join(result.output.split())


def test_config_errors_are_all_listed_by_validate(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path), split={"method": "random",
                                                                 "valid_fraction": 0.9},
                         tuning={"trialz": 3})
    text = _one_line_error(_invoke("validate", "--config", str(config)),
                           "split.valid_fraction: Input should be less than 0.5",
                           "tuning.trialz: unknown key (misspelled?)")
    assert "2 problem(s) found" in text
    with pytest.raises(ConfigError, match=r"\(\+1 more\)"):
        load_config(config)


def test_validate_report_json_is_written_only_when_clean(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path))
    report = tmp_path / "v.json"
    assert _invoke("validate", "--config", str(config), "--report", str(report)).exit_code == 0
    assert json.loads(report.read_text())["lead_rows"] == 1500


def test_features_mode_follows_the_dataset_and_a_contradiction_is_refused(tmp_path):
    leads = flat_export(tmp_path)
    tree = yaml.safe_load(flat_config(tmp_path, leads).read_text())
    del tree["features"]["mode"]
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(tree))
    assert load_config(tmp_path / "own.yaml").features.mode == "flat"
    tree["features"]["mode"] = "events"
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(ConfigError, match=r"features.mode \(events\) differs from dataset.mode"):
        load_config(tmp_path / "own.yaml")


def test_a_pii_column_declared_as_a_feature_is_refused(tmp_path):
    config = flat_config(tmp_path, flat_export(tmp_path), dataset={"pii": ["Lead Origin"]})
    _one_line_error(_invoke("validate", "--config", str(config)),
                    "features: ['Lead Origin'] are listed under dataset.pii")


def test_an_as_of_rule_the_pipeline_cannot_compute_is_refused_up_front():
    with pytest.raises(ConfigError, match="'points_threshold' is not available"):
        load_config(_write({"as_of": {"rule": "points_threshold", "points": 50}}))
