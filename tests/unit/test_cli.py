"""The command line's own ergonomics: --version, completion, help on every option, a light start.

The table formats (``--format table|json|csv``) are exercised on real artifacts in
tests/e2e/test_cli_formats.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import typer.main
from typer.testing import CliRunner

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
# what `leadscore --help` and `validate` must not load: edge libraries, each seconds to import
HEAVY = ("mlflow", "pyspark", "shap", "matplotlib")


def _commands() -> dict[str, click.Command]:
    return typer.main.get_command(app).commands


def test_version_is_the_installed_distribution():
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0, done.output
    assert done.stdout == f"leadscore {version('leadscore')}\n"


def test_completion_is_installable_and_completes_commands():
    assert {"--install-completion", "--show-completion"} <= {
        opt for p in typer.main.get_command(app).params for opt in p.opts}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "_LEADSCORE_COMPLETE": "complete_bash",
           "COMP_WORDS": "leadscore eva", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "pipeline"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["evaluate"]


def test_every_option_and_argument_of_every_command_has_help():
    root = typer.main.get_command(app)
    missing = [f"{name} {'/'.join(param.opts)}"
               for name, command in [("leadscore", root), *_commands().items()]
               for param in command.params if not (getattr(param, "help", None) or "").strip()]
    assert missing == []


def test_every_table_command_offers_json_and_csv(tmp_path):
    # the commands that print a table; score, validate, synth, features and report print none
    config = ["--config", str(ROOT / "configs" / "demo.yaml")]
    tables = {name: config for name in ("train", "evaluate", "points", "cv", "audit", "models",
                                        "promote", "recalibrate", "explain")}
    tables["drift"] = [*config, "--input", str(tmp_path / "leads.csv")]
    tables["monitor"] = [*config, "--scores", str(tmp_path / "scores.parquet"), "--outcomes",
                         str(tmp_path / "leads.csv")]
    tables["init"] = ["--leads", str(tmp_path / "leads.csv"), "--out", str(tmp_path / "c.yaml")]
    for name, args in tables.items():
        refused = runner.invoke(app, [name, *args, "--format", "xml"])
        assert refused.exit_code == 2, (name, refused.output)
        # checked before anything runs: one line, like every other user mistake
        assert refused.stderr == "error: --format 'xml': use table, json or csv\n", name
        assert "--format" in refused.output and not list(tmp_path.iterdir())
    # config keeps its tsv beside the three
    refused = runner.invoke(app, ["config", *config, "--format", "xml"])
    assert refused.exit_code == 2 and "table, json, csv or tsv" in refused.output


def _loaded_after(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``leadscore ARGS`` in a fresh interpreter; the heavy modules it loaded."""
    probe = ("import runpy, sys, json\n"
             f"sys.argv = ['leadscore', *{args!r}]\n"
             "try:\n    runpy.run_module('pipeline', run_name='__main__')\n"
             "except SystemExit as exc:\n    code = exc.code\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})),"
             " file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADSCORE_NO_TRACKING": "1"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_and_validate_load_no_edge_library(tmp_path):
    from pipeline.synth.world import write_world
    from tests.conftest import write_demo_config

    helped, loaded = _loaded_after(["--help"], tmp_path)
    assert helped.returncode == 0 and "validate" in helped.stdout
    assert loaded == []
    write_world(tmp_path / "data", 2_000, seed=5)
    config = write_demo_config(tmp_path, tmp_path / "data")
    checked, loaded = _loaded_after(["validate", "--config", str(config),
                                     "--set", "guard.min_train_conversions=20"], tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok ")
    assert loaded == []


def test_stage_progress_shows_the_stage_on_a_terminal_and_nothing_in_a_pipe(monkeypatch):
    from rich.console import Console

    from pipeline.cli import console

    for terminal in (True, False):
        buffer = io.StringIO()
        monkeypatch.setattr(console, "err", Console(file=buffer, force_terminal=terminal,
                                                    width=120))
        with console.stage_progress("tune model", total=3, unit="trials") as bar:
            for number in range(3):
                bar(f"trial {number} complete")
                bar.advance()
        if terminal:
            assert "tune model: trial 2 complete" in buffer.getvalue()
            assert "3/3" in buffer.getvalue()
        else:
            assert buffer.getvalue() == ""
