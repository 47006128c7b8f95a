"""The README's "Your own CRM export" lines, run as they stand on a Salesforce-shaped export."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.foreign.exports import salesforce
from tests.foreign.pipeline_run import check_scored, check_trained, leadscore

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_lines() -> list[str]:
    """The commands of the first bash block under "## Your own CRM export"."""
    section = README.read_text().split("## Your own CRM export", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no bash block under 'Your own CRM export'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_path_starts_with_init():
    lines = readme_lines()
    assert lines[0].startswith("leadscore init ")
    assert [line.split()[1] for line in lines] == ["init", "validate", "train", "score"]


def test_the_readme_own_export_lines_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a fresh project folder: the lines' paths are relative to it
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    export = salesforce(tmp_path / "exports")
    lines = readme_lines()
    assert "exports/Lead.csv" in lines[0] and "exports/Task_Event.csv" in lines[0]
    for line in lines:
        leadscore(line)
    check_trained(tmp_path, "acme", export)
    check_scored(tmp_path / "artifacts" / "acme" / "scores.parquet", export, open_only=True)
    assert (tmp_path / "configs" / "rules" / "acme.yaml").is_file()
    assert (tmp_path / "artifacts" / "mlflow.db").is_file()  # tracked, as train does by default
