"""docs/ARCHITECTURE.md's map matches the tree: nothing it names is missing, nothing is left out."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
NAMED = re.compile(r"`((?:pipeline|features)/[\w/.]*)`")


def _named() -> set[str]:
    return set(NAMED.findall(DOC.read_text()))


def test_every_path_the_doc_names_exists():
    missing = sorted(p for p in _named() if not (ROOT / p).exists())
    assert missing == []


def test_every_package_and_module_is_named():
    named = _named()
    packages = {f"{p.parent.relative_to(ROOT)}/" for p in ROOT.glob("pipeline/**/__init__.py")}
    packages |= {"features/"}
    modules = {str(p.relative_to(ROOT)) for folder in ("pipeline", "features")
               for p in (ROOT / folder).rglob("*.py") if p.name != "__init__.py"}
    assert sorted(packages - named) == []
    assert sorted(modules - named) == []


def test_the_layer_table_lists_the_import_linter_layers():
    import tomllib

    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"][0]["layers"]
    text = DOC.read_text()
    for layer in layers:
        for package in layer.split("|"):
            assert f"`{package.strip().replace('.', '/')}/`" in text, package
