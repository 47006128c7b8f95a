"""The fault catalogue: bad inputs, bad options and a hostile environment, across the commands.

Each case states the command, how its input is broken, the exit code (2 user error, 1 the
environment) and words the one-line message must contain (the file, the user's column, the
option). Every case also checks that no traceback is printed and that the output folder holds
nothing afterwards: no partial output, no temp file, no parts.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.faults.conftest import AS_OF, FaultWorld

pytestmark = pytest.mark.slow
runner = CliRunner()


@dataclass
class Inputs:
    """One case's files: what the commands read and where they write."""

    leads: Path
    activities: Path
    output: Path
    model: Path
    config: Path
    folder: Path


Frame = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class Case:
    """A catalogue entry."""

    name: str
    command: str
    exit: int
    expect: tuple[str, ...]
    leads: Frame | None = None
    activities: Frame | None = None
    fmt: str = "parquet"            # how the inputs are written: parquet, csv, csv-latin1, csv-;
    args: Callable[[Inputs], list[str]] | None = None   # replaces the command's default options
    extra: tuple[str, ...] = ()
    prepare: Callable[[Inputs, FaultWorld], None] | None = None
    tags: dict = field(default_factory=dict)


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    if isinstance(value, str) and frame[column].dtype != object:
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def _dup(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[7]]], ignore_index=True)


def _rename(old: str, new: str) -> Frame:
    return lambda f: f.rename(columns={old: new})


def _drop(column: str) -> Frame:
    return lambda f: f.drop(columns=column)


def _header_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.head(0)


def _late_event(frame: pd.DataFrame) -> pd.DataFrame:
    return _set(frame, 3, "occurred_at", pd.Timestamp("2031-01-01"))


def _early_event(frame: pd.DataFrame) -> pd.DataFrame:
    return _set(frame, 4, "occurred_at", pd.Timestamp("2001-01-01"))


def _stranger_event(frame: pd.DataFrame) -> pd.DataFrame:
    return _set(frame, 5, "lead_id", "NOBODY-1")


def _score(i: Inputs) -> list[str]:
    return ["score", "--config", str(i.config), "--model", str(i.model), "--input", str(i.leads),
            "--activities", str(i.activities), "--output", str(i.output), "--as-of", AS_OF,
            "--batch-size", "500"]


def _validate(i: Inputs) -> list[str]:
    return ["validate", "--config", str(i.config), "--set", f"dataset.leads={i.leads}",
            "--set", f"dataset.activities={i.activities}"]


def _train(i: Inputs) -> list[str]:
    return ["train", "--config", str(i.config), "--no-track", "--no-evaluate",
            "--set", f"dataset.leads={i.leads}", "--set", f"dataset.activities={i.activities}",
            "--set", f"artifacts_dir={i.output.parent / 'artifacts'}"]


def _explain(i: Inputs) -> list[str]:
    return ["explain", "--config", str(i.config), "--best-open",
            "--set", f"artifacts_dir={i.folder / 'artifacts'}"]


def _drift(i: Inputs) -> list[str]:
    return ["drift", "--config", str(i.config), "--model", str(i.model), "--input", str(i.leads),
            "--activities", str(i.activities), "--output", str(i.output), "--as-of", AS_OF]


def _promote(i: Inputs) -> list[str]:
    return ["promote", "--config", str(i.config), "--dry-run"]


COMMANDS = {"score": _score, "validate": _validate, "train": _train, "explain": _explain,
            "drift": _drift, "promote": _promote}


def _old_format_model(i: Inputs, world: FaultWorld) -> None:
    with open(world.model, "rb") as fh:
        package = pickle.load(fh)
    package.format = 2
    i.model = i.folder / "in" / "old.pkl"
    i.model.write_bytes(pickle.dumps(package))


def _garbage_model(i: Inputs, world: FaultWorld) -> None:
    i.model = i.folder / "in" / "model.pkl"
    i.model.write_bytes(b"this is not a model")


def _zero_byte(which: str) -> Callable[[Inputs, FaultWorld], None]:
    def prepare(i: Inputs, world: FaultWorld) -> None:
        getattr(i, which).write_bytes(b"")
    return prepare


def _output_is(which: str) -> Callable[[Inputs, FaultWorld], None]:
    def prepare(i: Inputs, world: FaultWorld) -> None:
        i.output = getattr(i, which)
    return prepare


def _output_under_a_file(i: Inputs, world: FaultWorld) -> None:
    blocker = i.output.parent / "blocker"
    blocker.write_text("a file, not a folder")
    i.output = blocker / "scores.parquet"


def _config_copy(i: Inputs, world: FaultWorld, text: str) -> None:
    """A copy of the world's config (with its base.yaml) holding ``text``."""
    i.config = i.folder / "in" / "configs" / "demo.yaml"
    i.config.parent.mkdir(parents=True)
    (i.config.parent / "base.yaml").write_text((world.config.parent / "base.yaml").read_text())
    i.config.write_text(text)


def _other_features_config(i: Inputs, world: FaultWorld) -> None:
    text = world.config.read_text()
    _config_copy(i, world, text.replace("features:\n", "features:\n  half_life_days: 3\n", 1))


def _no_tracking_store(i: Inputs, world: FaultWorld) -> None:
    _config_copy(i, world, re.sub(r"tracking_uri: .*", "tracking_uri: http://127.0.0.1:9",
                                  world.config.read_text()))


CATALOGUE = [
    # --- score: the leads file
    Case("missing column", "score", 2, ("column 'industry': missing",), leads=_drop("industry")),
    Case("misspelled column", "score", 2, ("column 'industry': missing", "did you mean 'Industry'"),
         leads=_rename("industry", "Industry")),
    Case("size column absent", "score", 2, ("column 'employees': missing", "company_employees"),
         leads=_drop("employees")),
    Case("duplicate id", "score", 2, ("duplicate lead id",), leads=_dup),
    Case("empty ids", "score", 2, ("column 'lead_id': empty lead id (2 rows",),
         leads=lambda f: _set(_set(_text(f), 3, "lead_id", ""), 9, "lead_id", ""), fmt="csv"),
    Case("empty leads file", "score", 2, ("leads.parquet: file is empty",),
         prepare=_zero_byte("leads")),
    Case("header-only leads", "score", 2, ("no rows",), leads=_header_only, fmt="csv"),
    Case("unparseable date", "score", 2, ("column 'created_at': unparseable date",),
         leads=lambda f: _set(_text(f), 2, "created_at", "31/02/2026 25:61"), fmt="csv"),
    Case("text in employees", "score", 2, ("column 'employees': not a number",),
         leads=lambda f: _set(_text(f), 6, "employees", "lots"), fmt="csv"),
    Case("inf in revenue", "score", 2, ("column 'annual_revenue': infinite value",),
         leads=lambda f: _set(f, 6, "annual_revenue", np.inf)),
    Case("negative employees", "score", 2, ("column 'employees': negative value",),
         leads=lambda f: _set(f, 6, "employees", -40.0)),
    Case("latin-1 csv", "score", 2, ("dataset.read.encoding",),
         leads=lambda f: _set(_text(f), 1, "job_title", "Directeur Général"), fmt="csv-latin1"),
    Case("semicolon csv", "score", 2, ("';'-delimited", "dataset.read.delimiter"), fmt="csv-;"),
    # --- score: the activity log
    Case("event in the future", "score", 2, ("column 'occurred_at': event in the future",),
         activities=_late_event),
    Case("event before creation", "score", 2, ("event before the lead was created",),
         activities=_early_event),
    Case("event of an unknown lead", "score", 2, ("lead id not in the leads file",),
         activities=_stranger_event),
    Case("unknown activity type", "score", 2,
         ("activity types not covered by dataset.activity_types: 'fax' (1)",),
         activities=lambda f: _set(f, 2, "activity_type", "fax")),
    Case("empty activities file", "score", 2, ("activities.parquet: file is empty",),
         prepare=_zero_byte("activities")),
    # --- score: options
    Case("as-of garbage", "score", 2, ("--as-of 'soon': not a date",), extra=("--as-of", "soon")),
    Case("as-of before creation", "score", 2,
         ("column 'created_at': created after the scoring as_of 2020-01-01 00:00",),
         extra=("--as-of", "2020-01-01")),
    Case("bad engine", "score", 2, ("--engine 'gpu'",), extra=("--engine", "gpu")),
    Case("bad format", "score", 2, ("--format 'xlsx'",), extra=("--format", "xlsx")),
    Case("output is the input", "score", 2, ("is the --input file",), prepare=_output_is("leads")),
    Case("output is the activities", "score", 2, ("is the --activities file",),
         prepare=_output_is("activities")),
    Case("set typo", "score", 2, ("--set scoring.batch_sise: unknown key",),
         extra=("--set", "scoring.batch_sise=10")),
    Case("set bad value", "score", 2, ("--set scoring.top_reasons",),
         extra=("--set", "scoring.top_reasons=99")),
    # --- score: the model
    Case("model file missing", "score", 2, ("model file not found",),
         prepare=lambda i, w: setattr(i, "model", i.folder / "in" / "nope.pkl")),
    Case("model file garbage", "score", 2, ("not a LeadScore model",), prepare=_garbage_model),
    Case("wrong model version", "score", 2, ("model format 2, this LeadScore reads",),
         prepare=_old_format_model),
    Case("model trained on other features", "score", 2, ("features section differs",),
         prepare=_other_features_config),
    # --- score: the environment
    Case("output under a file", "score", 1, ("blocker: is a file where a folder is needed",),
         prepare=_output_under_a_file),
    # --- validate
    Case("validate: every problem at once", "validate", 2,
         ("column 'lead_id': duplicate lead id", "column 'created_at': unparseable date",
          "2 problem(s) found"),
         leads=lambda f: _set(_text(_dup(f)), 2, "created_at", "yesterday-ish"), fmt="csv"),
    Case("validate: missing config", "validate", 2, ("config file not found",),
         args=lambda i: ["validate", "--config", str(i.folder / "in" / "nope.yaml")]),
    Case("validate: broken yaml", "validate", 2, ("not valid YAML",),
         prepare=lambda i, w: setattr(i, "config", _write(i.folder / "in" / "bad.yaml",
                                                          "dataset: [unclosed\n"))),
    # --- train
    Case("train: lightgbm param typo", "train", 2,
         ("model.params", "'num_leafs' is not a LightGBM parameter", "did you mean 'num_leaves'"),
         extra=("--set", "model.params.num_leafs=8")),
    Case("train: text in employees", "train", 2, ("column 'employees': not a number",),
         leads=lambda f: _set(_text(f), 6, "employees", "n/a-ish"), fmt="csv"),
    Case("train: negative employees", "train", 2, ("negative value",),
         leads=lambda f: _set(f, 6, "employees", -3.0)),
    Case("train: empty leads file", "train", 2, ("file is empty",), prepare=_zero_byte("leads")),
    # --- explain
    Case("explain: as-of garbage", "explain", 2, ("--as-of 'someday': not a date",),
         extra=("--as-of", "someday")),
    Case("explain: format yaml", "explain", 2, ("--format 'yaml'",), extra=("--format", "yaml")),
    Case("explain: no trained model", "explain", 2, ("model file not found",)),
    # --- drift
    Case("drift: as-of garbage", "drift", 2, ("--as-of 'later'",), extra=("--as-of", "later")),
    Case("drift: missing input", "drift", 2, ("file not found",),
         prepare=lambda i, w: setattr(i, "leads", i.folder / "in" / "gone.parquet")),
    Case("drift: duplicate id", "drift", 2, ("duplicate lead id",), leads=_dup),
    Case("drift: as-of before creation", "drift", 2,
         ("column 'created_at': created after the scoring as_of 2020-01-01 00:00",),
         extra=("--as-of", "2020-01-01")),
    # --- promote
    Case("promote: tracking store unreachable", "promote", 1,
         ("MLflow tracking store http://127.0.0.1:9", "unreachable"),
         prepare=_no_tracking_store),
]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
        return path
    path = path.with_suffix(".csv")
    sep = ";" if fmt == "csv-;" else ","
    encoding = "latin-1" if fmt == "csv-latin1" else "utf-8"
    frame.to_csv(path, index=False, sep=sep, encoding=encoding, errors="replace")
    return path


def make_inputs(case: Case, world: FaultWorld, folder: Path) -> Inputs:
    """Write the case's inputs under ``in/``; outputs go to the empty ``out/``."""
    (folder / "in").mkdir()
    (folder / "out").mkdir()
    leads = case.leads(world.leads) if case.leads else world.leads
    acts = case.activities(world.activities) if case.activities else world.activities
    inputs = Inputs(
        leads=_write_frame(leads, folder / "in" / "leads.parquet", case.fmt),
        activities=_write_frame(acts, folder / "in" / "activities.parquet",
                                "parquet" if case.fmt != "csv" else "csv"),
        output=folder / "out" / "scores.parquet", model=world.model, config=world.config,
        folder=folder,
    )
    if case.prepare:
        case.prepare(inputs, world)
    return inputs


def assert_one_line_failure(output: str, exit_code: int, case: Case) -> str:
    """The exit code, no traceback, and one error line holding every expected fragment."""
    assert exit_code == case.exit, f"{case.name}: exit {exit_code}\n{output}"
    assert "Traceback" not in output, f"{case.name}: traceback\n{output}"
    lines = [line for line in output.splitlines() if line.strip()]
    if case.command == "validate" and case.exit == 2 and "problem(s) found" in output:
        text = "\n".join(lines)
    else:
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1, f"{case.name}: expected one error line\n{output}"
        text = errors[0]
    for fragment in case.expect:
        assert fragment in text, f"{case.name}: {fragment!r} not in\n{output}"
    return text


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.name for c in CATALOGUE])
def test_fault(case: Case, fault_world: FaultWorld, tmp_path, monkeypatch, record_property):
    monkeypatch.setenv("LEADSCORE_NO_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    monkeypatch.delenv("LEADSCORE_DEBUG", raising=False)
    inputs = make_inputs(case, fault_world, tmp_path)
    before_in = sorted(p.name for p in (tmp_path / "in").iterdir())
    argv = (case.args or COMMANDS[case.command])(inputs) + list(case.extra)
    result = runner.invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{case.name}: {result.exception!r}\n{result.output}")
    message = assert_one_line_failure(result.output, result.exit_code, case)
    # the catalogue as a table: pytest --junitxml keeps these per case
    record_property("exit", result.exit_code)
    record_property("message", message.replace(str(tmp_path), "<tmp>"))
    leftovers = [p.name for p in (tmp_path / "out").rglob("*") if p.name != "blocker"]
    assert leftovers == [], f"{case.name}: left behind {leftovers}"
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == before_in
