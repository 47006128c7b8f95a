"""docs/ARCHITECTURE.md's map matches the tree: all it names exists, every package is named."""

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


def test_every_package_is_named():
    # Modules may come and go inside a package (a new scorer kind is one module and one line in
    # the kinds table); a package is a layer or a part of one, and the map must show it.
    packages = {f"{p.parent.relative_to(ROOT)}/" for p in ROOT.glob("pipeline/**/__init__.py")}
    packages |= {"features/"}
    assert sorted(packages - _named()) == []


def test_the_layer_table_lists_the_import_linter_layers():
    import tomllib

    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"][0]["layers"]
    text = DOC.read_text()
    for layer in layers:
        for package in layer.split("|"):
            assert f"`{package.strip().replace('.', '/')}/`" in text, package
