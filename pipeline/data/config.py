"""Typed configuration: YAML parsed once, at the edge, into the frozen models of the schema.

Four layers are deep-merged, later ones winning: the packaged defaults
(``pipeline/data/defaults.yaml``, always), the team's ``base.yaml`` (beside the dataset config,
else ``configs/base.yaml`` of the current directory), the dataset config (``configs/demo.yaml``,
or a file anywhere) and ``--set``. :func:`effective_config` says which layer each value came
from. A bad config raises :class:`~pipeline.data.errors.ConfigError` naming the file and the
dotted key, e.g. ``configs/demo.yaml: split.valid_fraction: Input should be less than 0.5``.
YAML is read as the user wrote it: ``yes`` and ``no`` stay text (:func:`read_yaml_text`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.data.errors import ConfigError
from pipeline.data.schema import (  # noqa: F401 - the schema is imported from here by the core
    REGEX_PREFIX,
    ActivityColumns,
    ActivityMapping,
    AsOfRule,
    AuditConfig,
    CalibrationConfig,
    Config,
    DatasetConfig,
    DisqualifyConfig,
    GuardConfig,
    LeadColumns,
    MlflowConfig,
    ModelConfig,
    MonitorConfig,
    PointsConfig,
    PromotionConfig,
    ReadOptions,
    ScoringConfig,
    SplitConfig,
    SynthConfig,
    TuningConfig,
    _flatten,
    as_text,
    lightgbm_parameter_names,
)

BASE_CONFIG_NAME = "base.yaml"


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class _YamlLoader(yaml.SafeLoader):
    """YAML as the user wrote it: only ``true``/``false`` are booleans (YAML 1.2).

    PyYAML follows YAML 1.1, where ``yes``, ``no``, ``on``, ``off``, ``y`` and ``n`` are booleans:
    ``won: [yes]`` would reach the schema as ``True`` and a rules sheet's ``{yes: -20}`` would key
    on a boolean.
    """


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def read_yaml_text(text: str) -> Any:
    """Parse YAML text with the project's loader (yes/no stay text)."""
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = read_yaml_text(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    return data


def _has_key(tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def packaged_defaults_path() -> Path:
    """The project defaults shipped inside the package (``pipeline/data/defaults.yaml``)."""
    return Path(__file__).with_name("defaults.yaml")


def base_config_path(path: Path) -> Path | None:
    """The team's ``base.yaml``: beside the dataset config, else ``configs/`` of the cwd."""
    for candidate in (path.parent / BASE_CONFIG_NAME, Path("configs") / BASE_CONFIG_NAME):
        if candidate.is_file() and candidate.resolve() != path.resolve():
            return candidate
    return None


@dataclass(frozen=True)
class ConfigLayer:
    """One source of config values, lowest first: defaults, base, the dataset file, --set."""

    origin: str
    values: dict[str, Any]


def config_layers(path: str | Path, overrides: dict[str, Any] | None = None
                  ) -> list[ConfigLayer]:
    """The layers :func:`load_config` merges, in order (later layers win)."""
    path = Path(path)
    data = _read_yaml(path)
    layers = [ConfigLayer("default", _read_yaml(packaged_defaults_path()))]
    base = base_config_path(path)
    if base is not None:
        layers.append(ConfigLayer(str(base), _read_yaml(base)))
    layers.append(ConfigLayer(str(path), data))
    if overrides:
        layers.append(ConfigLayer("--set", overrides))
    return layers


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Load a dataset config merged over the packaged defaults and the team's ``base.yaml``.

    Parameters
    ----------
    path
        The dataset config, e.g. ``configs/demo.yaml``; it may live anywhere.
    overrides
        Nested mapping applied last (tests and the CLI's ``--set``).

    Raises
    ------
    ConfigError
        Naming the file and the dotted key at fault; ``details`` lists every problem.
    """
    path = Path(path)
    layers = config_layers(path, overrides)
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer.values)
    try:
        return Config.model_validate({**merged, "source": path})
    except ValidationError as exc:
        problems = [_describe(err, layers) for err in exc.errors()]
        raise ConfigError(problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1
                                         else ""), details=problems) from None


def _describe(err: Any, layers: list[ConfigLayer]) -> str:
    loc = tuple(err["loc"])
    if not loc:  # a whole-config check; its message starts with the keys it is about
        return f"{layers[-1].origin if layers[-1].origin != '--set' else layers[-2].origin}: " \
            + err["msg"].removeprefix("Value error, ")
    key = ".".join(str(p) for p in loc)
    origin = next((layer.origin for layer in reversed(layers) if _has_key(layer.values, loc)),
                  None)
    if origin is None:  # a model-level check: blame the file that holds the section
        origin = next((layer.origin for layer in reversed(layers)
                       if _has_key(layer.values, loc[:1])), layers[-1].origin)
    message = "unknown key (misspelled?)" if err["type"] == "extra_forbidden" else \
        err["msg"].removeprefix("Value error, ")
    return f"--set {key}: {message}" if origin == "--set" else f"{origin}: {key}: {message}"


def effective_config(path: str | Path, overrides: dict[str, Any] | None = None
                     ) -> list[tuple[str, Any, str]]:
    """Every effective value as ``(dotted key, value, origin)``; origin ``default (schema)``
    when no layer sets it (the pydantic default)."""
    config = load_config(path, overrides)
    layers = config_layers(path, overrides)
    rows = []
    for key, value in _flatten(config.model_dump(mode="json")).items():
        loc = tuple(key.split("."))
        origin = next((layer.origin for layer in reversed(layers) if _has_key(layer.values, loc)),
                      None)
        if origin is None:
            # a mapping set as a whole (``bands: {...}``) owns its keys
            origin = next((layer.origin for layer in reversed(layers) for n in range(len(loc) - 1,
                           0, -1) if _has_key(layer.values, loc[:n])
                           and not isinstance(_get(layer.values, loc[:n]), dict)),
                          "default (schema)")
        rows.append((key, value, origin))
    return rows


def _get(tree: dict[str, Any], loc: tuple[Any, ...]) -> Any:
    node: Any = tree
    for part in loc:
        node = node[part]
    return node


def parse_assignment(items: list[str]) -> dict[str, Any]:
    """Turn ``["model.n_estimators=50", "seed=1"]`` into a nested override mapping."""
    tree: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. model.n_estimators=50")
        key, raw = item.split("=", 1)
        node = tree
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        try:
            value = read_yaml_text(raw)
        except yaml.YAMLError:
            value = raw  # "," or "a: b" are not YAML scalars; the user meant the text
        node[parts[-1]] = value
    return tree
