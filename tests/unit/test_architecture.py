"""The layout holds: layer contracts, module sizes, no scorer-name branches, a true map in the docs.

docs/ARCHITECTURE.md explains the layers; pyproject.toml's ``[tool.importlinter]`` enforces them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipeline"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 500
LONG_ON_PURPOSE = {"pipeline/scorers/treeshap.py"}  # the exact TreeSHAP kernel, kept in one piece


def _lint_imports(project: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.is_file():
        pytest.fail(f"{LINT_IMPORTS} missing: import-linter is a dev dependency (make install)")
    env = {**os.environ, "COLUMNS": "200"}  # no wrapped module names in the report
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True,
                          text=True, timeout=120, env=env)


def test_layer_contracts_are_kept():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


@pytest.mark.parametrize(("module", "line", "message"), [
    # a core module reaching up into the command line breaks the layers
    ("pipeline/scorers/base.py", "from pipeline.cli.app import app",
     "pipeline.scorers is not allowed to import pipeline.cli"),
    # an edge-only library in the core breaks purity
    ("pipeline/evaluation/metrics.py", "import mlflow",
     "pipeline.evaluation is not allowed to import mlflow"),
    # siblings of one layer stay independent
    ("pipeline/batch/local.py", "import pipeline.mlops.serving",
     "pipeline.batch is not allowed to import pipeline.mlops"),
])
def test_breaking_a_layer_fails_the_contract(tmp_path, module, line, message):
    for folder in ("pipeline", "features"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}\n")
    run = _lint_imports(tmp_path)
    assert run.returncode == 1, run.stdout
    assert message in run.stdout


def test_pipeline_top_level_holds_only_packages():
    modules = sorted(p.name for p in PIPELINE.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py"]
    assert not list(PIPELINE.rglob("*_cli.py"))


def test_no_module_over_the_size_limit():
    too_long = {str(p.relative_to(ROOT)): n for p in sorted(PIPELINE.rglob("*.py"))
                if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(too_long) <= LONG_ON_PURPOSE, too_long


# Each pattern is a way code outside pipeline/scorers/ could ask which scorer it holds.
_NAME = r"(model|rules|learned_points|baseline)"
SCORER_BRANCHES = {
    "compares a scorer name": rf"['\"]{_NAME}['\"]\s*(==|!=|\bin\b)|(==|!=)\s*['\"]{_NAME}['\"]",
    "indexes by a scorer name": rf"\[\s*['\"]{_NAME}['\"]\s*\]",
    "lists scorer names": rf"[(\[{{,]\s*['\"]{_NAME}['\"]\s*,\s*['\"]{_NAME}['\"]",
    "names a scorer class": r"\b(LeadScorer|RuleScorer|SegmentedScorer|LearnedPointsScorer)\b",
    "reads scorer internals": r"\.(global_|booster_|book|selection_|learned_|scorers_)\b",
    "probes a scorer": r"\b(hasattr|getattr|isinstance)\([^)]*scorer",
    "tests a kind against a literal": r"\bkind\s*(==|!=)\s*['\"]",
}


def scorer_branches(root: Path) -> list[str]:
    """Lines outside ``pipeline/scorers/`` that branch on which scorer they hold."""
    found = []
    for path in sorted((root / "pipeline").rglob("*.py")):
        if path.relative_to(root).parts[1] == "scorers":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(root)}:{number}: {what}: {line.strip()}"
                      for what, pattern in SCORER_BRANCHES.items() if re.search(pattern, code)]
    return found


def test_no_code_outside_scorers_branches_on_a_scorer():
    assert scorer_branches(ROOT) == []


@pytest.mark.parametrize("line", [
    'if name == "model":',
    'probs = metrics["rules"]',
    'for name in ("rules", "learned_points"):',
    "from pipeline.scorers.rules import RuleScorer",
    "trees = package.scorer.global_.booster_",
    'if hasattr(package.scorer, "book"):',
    'if kind == "learned_points":',
])
def test_the_branch_check_catches_each_way(tmp_path, line):
    module = tmp_path / "pipeline" / "stages" / "example.py"
    module.parent.mkdir(parents=True)
    module.write_text(f"{line}\n")
    assert len(scorer_branches(tmp_path)) >= 1
