"""docs/CONFIG.md matches the config schema; the generator renders types, defaults and constraints;
docs/FEATURES.md names every summary column and activity type the feature code produces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from features.activity import ACTIVITY_TYPES, SUMMARY_COLUMNS
from features.firmographic import feature_name
from pipeline.data import reference
from pipeline.data.config import Config
from pipeline.data.reference import config_reference

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DOC = ROOT / "docs" / "CONFIG.md"
FEATURES_DOC = ROOT / "docs" / "FEATURES.md"
MINIMAL = {"dataset": {"name": "x", "leads": "l.csv"}}


def _rows(markdown: str) -> dict[str, list[str]]:
    """Table rows by key: ``{"a.b": [type, default, constraint, meaning]}``."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _schema_leaves(schema: dict[str, Any], node: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted leaf keys from the JSON schema: a property is a section when it refers to a model."""
    leaves: set[str] = set()
    for name, prop in node.get("properties", {}).items():
        arms = prop.get("anyOf") or prop.get("allOf") or [prop]
        refs = [a["$ref"].rsplit("/", 1)[-1] for a in arms if "$ref" in a]
        models = [schema["$defs"][r] for r in refs if "properties" in schema["$defs"][r]]
        for model in models:
            leaves |= _schema_leaves(schema, model, f"{prefix}{name}.")
        if len(models) < len(arms):  # other arms (null, a number...) make it a key of its own
            leaves.add(f"{prefix}{name}")
    return leaves


def _flatten(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out


# ------------------------------------------------------------------------------ docs/CONFIG.md
def test_config_md_matches_the_schema():
    current = CONFIG_DOC.read_text(encoding="utf-8") if CONFIG_DOC.is_file() else ""
    assert current == config_reference(), (
        "docs/CONFIG.md is out of date with the config schema: regenerate it with "
        "`python -m pipeline.data.reference`")


def test_every_leaf_key_of_the_schema_is_documented():
    text = config_reference()
    documented = set(_rows(text))
    schema = Config.model_json_schema(mode="serialization")
    leaves = _schema_leaves(schema, schema)
    assert "dataset.columns.lead_id" in leaves and "seed" in leaves  # the walk itself works
    assert sorted(leaves - documented) == []
    # Mapping-valued keys (scoring.bands) flatten further in a dump: their key is documented.
    dumped = _flatten(Config.model_validate(MINIMAL).model_dump(mode="json"))
    undocumented = [k for k in dumped
                    if not any(k == d or k.startswith(f"{d}.") for d in documented)]
    assert undocumented == []
    assert "source" not in documented  # exclude=True: bookkeeping, not a setting


def test_required_keys_and_packaged_defaults_are_shown(tmp_path, monkeypatch):
    rows = _rows(config_reference())
    assert rows["dataset.name"][1] == "*required*"
    assert rows["dataset.leads"][1] == "*required*"
    assert rows["dataset.name"][2].startswith("matches `")
    assert rows["split.method"][0] == "one of: time, random"

    monkeypatch.setattr(reference, "PACKAGED_DEFAULTS", tmp_path / "absent.yaml")
    schema_only = _rows(config_reference())
    seed = Config.model_fields["seed"]
    assert schema_only["seed"][1] == reference._default_text(reference._field_default(seed))

    packaged = tmp_path / "defaults.yaml"
    packaged.write_text("seed: 7\nsplit:\n  valid_fraction: 0.25\n")
    monkeypatch.setattr(reference, "PACKAGED_DEFAULTS", packaged)
    from_file = _rows(config_reference())
    assert from_file["seed"][1] == "`7`"
    assert from_file["split.valid_fraction"][1] == "`0.25`"
    assert from_file["split.method"][1] == schema_only["split.method"][1]


def test_the_output_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    here = config_reference()
    monkeypatch.chdir(tmp_path)
    assert config_reference() == here


def test_check_fails_on_a_stale_file_and_passes_after_writing(tmp_path, capsys):
    out = tmp_path / "CONFIG.md"
    assert reference.main(["--check", "--output", str(out)]) == 1
    assert "is missing" in capsys.readouterr().err
    out.write_text("# stale\n")
    assert reference.main(["--check", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "python -m pipeline.data.reference" in err
    assert reference.main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == config_reference()
    assert [p.name for p in tmp_path.iterdir()] == ["CONFIG.md"]  # no temporary file left
    capsys.readouterr()
    assert reference.main(["--check", "--output", str(out)]) == 0
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------ a made-up schema
class _Inner(BaseModel):
    """How deep to go.

    ``depth`` counts levels below the root (e.g. 2: grandchildren); the root is level 0.
    """

    depth: int = Field(3, ge=1)
    label: str | None = None


class _Toy(BaseModel):
    """A toy root."""

    mode: Literal["fast", "slow"] = "fast"
    rate: float = Field(0.1, ge=0, lt=0.5, description="share of leads")
    weight: float = Field(1.0, gt=0)
    name: str = Field(pattern=r"^[a-z]+$")
    tags: list[str] = Field(default_factory=lambda: ["a", "b"])
    groups: dict[str, list[str]] = {}
    inner: _Inner = _Inner(depth=5)
    either: _Inner | float = 0.5
    hidden: int = Field(0, exclude=True)


def test_a_made_up_model_is_rendered_with_types_defaults_and_constraints():
    text = config_reference(_Toy, defaults={})
    rows = _rows(text)
    assert rows["mode"][:3] == ["one of: fast, slow", "`fast`", ""]
    assert rows["rate"] == ["float", "`0.1`", "0 ≤ x < 0.5", "share of leads"]
    assert rows["weight"][:3] == ["float", "`1.0`", "> 0"]
    assert rows["name"][:3] == ["text", "*required*", "matches `^[a-z]+$`"]
    assert rows["tags"][:2] == ["list of text", "`[a, b]`"]  # default_factory called
    assert rows["groups"][:2] == ["mapping text -> list of text", "`{}`"]
    assert rows["either"][:2] == ["section or float", "`0.5`"]
    assert "hidden" not in rows and "inner" not in rows  # excluded; a plain section is a heading
    assert "\n## inner\n" in text and "\n## either\n" in text
    # The section's default instance wins over the class default; meaning from its docstring.
    assert rows["inner.depth"] == ["int", "`5`", "≥ 1",
                                   "`depth` counts levels below the root (e.g. 2: grandchildren)"]
    assert rows["either.depth"][1] == "`3`"
    assert rows["inner.label"] == ["text or null", "`null`", "", ""]
    assert config_reference(_Toy, defaults={}) == text  # same schema, same bytes


def test_defaults_passed_in_replace_the_schema_defaults():
    rows = _rows(config_reference(_Toy, defaults={"rate": 0.3, "inner": {"label": "x"}}))
    assert rows["rate"][1] == "`0.3`"
    assert rows["inner.label"][1] == "`x`"
    assert rows["inner.depth"][1] == "`5`"


@pytest.mark.parametrize(("annotation", "expected"), [
    (list[Literal["isotonic", "sigmoid"]], "list of (one of: isotonic, sigmoid)"),
    (dict[Literal["won", "lost"], list[str]], "mapping (one of: won, lost) -> list of text"),
    (list[str] | dict[str, list[str]], "list of text or (mapping text -> list of text)"),
    (Path | None, "path or null"),
    (dict[str, float | int | str | bool], "mapping text -> (float or int or text or bool)"),
    (tuple[int, ...], "list of int"),
])
def test_type_forms_read_as_words(annotation, expected):
    assert reference._type_text(annotation) == expected


# ---------------------------------------------------------------------------- docs/FEATURES.md
def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is not None


@pytest.mark.parametrize("name", [*SUMMARY_COLUMNS, *ACTIVITY_TYPES])
def test_features_md_names_every_summary_column_and_activity_type(name):
    assert _mentioned(name, FEATURES_DOC.read_text(encoding="utf-8")), (
        f"docs/FEATURES.md does not mention {name!r} (features/activity.py): document it")


def test_features_md_name_examples_are_what_feature_name_returns():
    text = FEATURES_DOC.read_text(encoding="utf-8")
    section = text.split("## How rule field names are normalised", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"`([^`]+)` -> `([^`]+)`", section)
    assert len(examples) >= 3
    assert [feature_name(raw) for raw, _ in examples] == [name for _, name in examples]
