"""Config reference: ``docs/CONFIG.md`` generated from the pydantic schema of the run configuration.

The pydantic schema behind :mod:`pipeline.data.config` is the one source of truth for what a key
means, so the reference is derived from it rather than written beside it: :func:`config_reference`
walks ``model_fields`` from :class:`~pipeline.data.config.Config` down (nested models: headings)
and prints each key's type, default, constraints and meaning (the field's ``description``, else
the clauses of its section's docstring that name it in double backticks). The Default column
prefers ``pipeline/data/defaults.yaml`` over the schema, as that file is what a run starts from.
``python -m pipeline.data.reference`` rewrites ``docs/CONFIG.md``; ``--check`` exits 1 if stale.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import re
import sys
import types
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.data.config import Config
from pipeline.data.io import atomic_path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "CONFIG.md"
PACKAGED_DEFAULTS = Path(__file__).with_name("defaults.yaml")
REGENERATE = "python -m pipeline.data.reference"
SCHEMA = Config.__module__.replace(".", "/") + ".py"  # named as found: the schema may move

_SCALARS = {str: "text", int: "int", float: "float", bool: "bool", Path: "path", PurePath: "path",
            datetime: "date-time", date: "date", time: "time", timedelta: "duration",
            bytes: "bytes", Any: "any", object: "any"}
_SEQUENCES = {list: "list", tuple: "list", set: "set", frozenset: "set"}
_UNIONS = (Union, types.UnionType)
_BOUNDS = {"gt": (">", "<"), "ge": ("≥", "≤"), "lt": ("<", "<"), "le": ("≤", "≤")}
_LENGTHS = {"multiple_of": "multiple of", "min_length": "length ≥", "max_length": "length ≤"}
_MISSING = object()
# A clause ends at "." or ";" but not inside "e.g." / "i.e.".
_CLAUSE = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.;])\s+")
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`]+)`")

INTRO = f"""\
# Configuration reference

<!-- Generated from {SCHEMA} by `{REGENERATE}`: do not edit by hand. -->

Every key of the run configuration, generated from the pydantic schema in `{SCHEMA}`
(root model `Config`; its `features` section is `features.settings.FeatureSettings`).
A run's values are deep-merged from four layers, later ones winning: the packaged defaults
`pipeline/data/defaults.yaml`, then the team's `configs/base.yaml`, then the dataset config (e.g.
`configs/demo.yaml`), then `--set key=value`. `leadscore config --config CFG` prints the effective
config with the layer each value came from. *Default* is the value `pipeline/data/defaults.yaml`
sets, else the schema's; *required* keys have neither and must be set in the dataset config.
Regenerate with `{REGENERATE}` (`--check` fails when this file is stale).
"""


def _type_text(tp: Any, nested: bool = False) -> str:
    """Human-readable type; ``nested`` brackets compound types that would read ambiguously."""
    origin, args = get_origin(tp), get_args(tp)
    compound = True
    if origin is Annotated:
        return _type_text(args[0], nested)
    if origin in _UNIONS:
        parts = [_type_text(a, nested=True) for a in args if a is not type(None)]
        text, compound = " or ".join(parts + ["null"] * (type(None) in args)), len(args) > 1
    elif origin is Literal or (inspect.isclass(tp) and issubclass(tp, enum.Enum)):
        values = args if origin is Literal else [m.value for m in tp]
        text = "one of: " + ", ".join(_scalar_text(v) for v in values)
    elif origin in (dict, Mapping) or tp in (dict, Mapping):
        key, value = args or (Any, Any)
        text = f"mapping {_type_text(key, True)} -> {_type_text(value, True)}"
    elif origin in _SEQUENCES or tp in _SEQUENCES:
        items = [a for a in args if a is not Ellipsis]
        if origin is tuple and len(items) > 1:
            return "tuple of (" + ", ".join(_type_text(a, True) for a in items) + ")"
        return f"{_SEQUENCES[origin or tp]} of {_type_text(items[0], True) if items else 'any'}"
    elif inspect.isclass(tp) and issubclass(tp, BaseModel):
        return "section"
    else:
        return _SCALARS.get(tp) or getattr(tp, "__name__", str(tp))
    return f"({text})" if nested and compound else text


def _scalar_text(value: Any) -> str:
    known = isinstance(value, bool) or value is None  # not a dict lookup: 1 == True, 0 == False
    return {True: "true", False: "false", None: "null"}[value] if known else str(value)


def _constraints(info: FieldInfo) -> str:
    """``> 0``, ``0 ≤ x < 0.5``, ``matches ...`` from the field's annotated-types metadata."""
    # Duck-typed: Gt, Ge, Interval, MinLen and pydantic's pattern holder all carry attributes.
    found = {a: getattr(m, a) for m in info.metadata for a in (*_BOUNDS, *_LENGTHS, "pattern")
             if getattr(m, a, None) is not None}
    low = [a for a in ("gt", "ge") if a in found][:1]
    high = [a for a in ("lt", "le") if a in found][:1]
    if low and high:
        parts = [f"{found[low[0]]} {_BOUNDS[low[0]][1]} x {_BOUNDS[high[0]][1]} "
                 f"{found[high[0]]}"]
    else:
        parts = [f"{_BOUNDS[a][0]} {found[a]}" for a in low + high]
    parts += [f"{label} {found[a]}" for a, label in _LENGTHS.items() if a in found]
    if "pattern" in found:
        parts.append(f"matches `{getattr(found['pattern'], 'pattern', found['pattern'])}`")
    return "; ".join(parts)


def _field_default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        takes_data = getattr(info, "default_factory_takes_data", False)
        return info.default_factory({}) if takes_data else info.default_factory()
    return _MISSING if info.is_required() else info.default


def _plain(value: Any) -> Any:
    """YAML-safe form of a default (paths as text, models as mappings, sets sorted)."""
    if isinstance(value, (BaseModel, enum.Enum)):
        return _plain(value.model_dump() if isinstance(value, BaseModel) else value.value)
    if isinstance(value, (PurePath, datetime, date, time)):
        return value.as_posix() if isinstance(value, PurePath) else value.isoformat()
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]  # a set's order is arbitrary: sorted, for stable bytes
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(getattr(value, "pattern", value))


def _default_text(value: Any) -> str:
    if value is _MISSING:
        return "*required*"
    text = yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False,
                          allow_unicode=True, width=10**6).strip()
    return f"`{text.removesuffix('...').strip()}`"


def _markdown(text: str) -> str:
    """reST inline markup as Markdown, on one line."""
    def role(match: re.Match[str]) -> str:
        target = match.group(2).split("<")[0].strip()
        return f"``{target.rsplit('.', 1)[-1] if match.group(1) else target}``"

    return " ".join(_ROLE.sub(role, text).replace("``", "`").split())


def _paragraphs(model: type[BaseModel]) -> list[str]:
    doc = inspect.cleandoc(model.__dict__.get("__doc__") or "")
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc) if p.strip()]


def _mentions(model: type[BaseModel], name: str) -> str:
    """Clauses of the section docstring that name ``name`` in double backticks."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
    clauses = [c for p in _paragraphs(model) for c in _CLAUSE.split(p)]
    return " ".join(c for c in clauses
                    if any(word.search(s) for s in re.findall(r"``([^`]+)``", c)))


def _models(tp: Any, suffix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Models inside an annotation, with the key suffix their fields live under."""
    origin, args = get_origin(tp), get_args(tp)
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return [(suffix, tp)]
    if origin in (*_UNIONS, Annotated):
        return [m for a in (args[:1] if origin is Annotated else args) for m in _models(a, suffix)]
    if origin in _SEQUENCES:
        return [m for a in args if a is not Ellipsis for m in _models(a, f"{suffix}[]")]
    if origin in (dict, Mapping) and len(args) == 2:
        return _models(args[1], f"{suffix}.<key>")
    return []


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    """Deep key lookup: ``("split", "method")`` -> ``tree["split"]["method"]`` or _MISSING."""
    for part in path:
        if not isinstance(tree, Mapping) or part not in tree:
            return _MISSING
        tree = tree[part]
    return tree


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(model: type[BaseModel], prefix: str, depth: int, parent: dict[str, Any] | None,
             lookup: tuple[str, ...] | None, packaged: Mapping[str, Any],
             missing: list[str], stack: tuple[type, ...]) -> list[str]:
    """Markdown of one model: its table of keys, then each nested section under a heading."""
    rows, subsections = [], []
    fields = [(n, i) for n, i in model.model_fields.items() if i.exclude is not True]
    for name, info in fields:  # exclude=True (Config.source) is bookkeeping, not a setting
        key = f"{prefix}{info.alias or name}"
        schema = parent[name] if parent is not None and name in parent else _field_default(info)
        path = (*lookup, info.alias or name) if lookup is not None else None
        from_file = _lookup(packaged, path) if path is not None else _MISSING
        default = schema if from_file is _MISSING else from_file
        nested = [(s, m) for s, m in _models(info.annotation) if m not in stack]
        # A section's own default instance (``AsOfRule(days=7)``) outranks its class defaults;
        # the packaged file is still consulted key by key below it.
        inherited = schema.model_dump() if isinstance(schema, BaseModel) else (
            schema if isinstance(schema, dict) else None)
        subsections += [(f"{key}{s}", m, None if s else inherited, None if s else path)
                        for s, m in nested]
        if nested and _type_text(info.annotation) == "section":
            continue  # a plain section is its heading; a union with other types also gets a row
        meaning = _markdown(info.description or _mentions(model, name)).rstrip(";,")
        if info.deprecated:
            note = f" ({info.deprecated})" if isinstance(info.deprecated, str) else ""
            meaning = f"Deprecated{note}. {meaning}".strip()
        if not meaning:
            missing.append(key)
        as_section = any(not s for s, _ in nested) and isinstance(default, (BaseModel, Mapping))
        shown = "section (below)" if as_section else _default_text(default)
        rows.append(f"| `{key}` | {_cell(_type_text(info.annotation))} | {_cell(shown)} | "
                    f"{_cell(_constraints(info))} | {_cell(meaning)} |")
    out = ["| Key | Type | Default | Constraint | Meaning |", "|---|---|---|---|---|", *rows,
           ""] if rows else []
    for key, sub, inherited, path in subsections:
        out += [f"{'#' * min(depth + 1, 6)} {key}", ""]
        out += [p for para in _paragraphs(sub) for p in (_markdown(para), "")]
        out += _section(sub, f"{key}.", depth + 1, inherited, path, packaged, missing,
                        (*stack, sub))
    return out


def _packaged_defaults() -> dict[str, Any]:
    """``pipeline/data/defaults.yaml`` as a nested mapping ({} while the file does not exist)."""
    file = PACKAGED_DEFAULTS
    data = yaml.safe_load(file.read_text(encoding="utf-8")) if file.is_file() else {}
    return data if isinstance(data, dict) else {}


def _render(model: type[BaseModel], defaults: Mapping[str, Any] | None) -> tuple[str, list[str]]:
    """The Markdown and the keys left without a meaning."""
    missing: list[str] = []
    packaged = _packaged_defaults() if defaults is None else defaults
    body = _section(model, "", 1, None, (), packaged, missing, (model,))
    if body and body[0].startswith("| Key"):
        body = ["## Top-level keys", "", *body]
    return INTRO + "\n" + "\n".join(body).rstrip() + "\n", missing


def config_reference(model: type[BaseModel] = Config,
                     defaults: Mapping[str, Any] | None = None) -> str:
    """Markdown reference of every key of the run configuration.

    Parameters
    ----------
    model
        Root model to document (the run configuration by default; tests pass a small model).
    defaults
        Nested mapping whose values replace schema defaults in the Default column; ``None``
        reads ``pipeline/data/defaults.yaml`` when it exists.

    Returns
    -------
    str
        The Markdown text; the same schema and defaults always give the same bytes.
    """
    return _render(model, defaults)[0]


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/CONFIG.md``, or with ``--check`` return 1 when it is stale."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DOC, help="file to write or check")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    text, missing = _render(Config, None)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != text:
            shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
            state = "is missing" if current is None else "is out of date with the config schema"
            print(f"{shown} {state}: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    if missing:
        print(f"keys without a description: {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
