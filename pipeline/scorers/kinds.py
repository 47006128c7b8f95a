"""The scorer kinds: one table that training, evaluation, tracking, reporting, explanation and
scoring iterate, so that no code outside ``pipeline/scorers/`` asks which scorer it holds.

A kind is a name (evaluation key, ``packages/<name>.pkl``, MLflow child run), what people read
(``display``), the module whose ``build(ctx)`` makes its unfitted scorer from the config, whether
and under which name it is registered in MLflow, and its colour in every plot. Adding a scorer kind
is one module with a :class:`~pipeline.scorers.base.BaseScorer` subclass and a ``build(ctx)``
function, plus one line in :data:`KINDS`.

The ``model`` kind is a choice, not one algorithm: :mod:`pipeline.scorers.selection` fits the
candidates of ``selection.candidates`` (learned points, logistic, LightGBM) and ships the simplest
one not significantly worse than the best on validation.

Roles are named here, not by the callers: :data:`CHALLENGER` is the kind the promotion gate
promotes, :data:`REFERENCE` the kind every AUC difference is measured against (the team's rules),
:data:`POINTS_TABLE` the kind ``leadscore points`` writes out as a rules file by default.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.data.errors import ConfigError

if TYPE_CHECKING:
    from features.spec import FeatureSpec
    from pipeline.data.config import Config
    from pipeline.scorers.base import BaseScorer
    from pipeline.scorers.rules import RulesBook


@dataclass(frozen=True)
class ScorerContext:
    """What a kind's factory may read: the config and what preparation learned."""

    config: Config
    spec: FeatureSpec
    rules: RulesBook | None = None
    rules_source: str = "rules"
    windows: tuple[int, ...] = (7, 30, 90)
    dropped: tuple[str, ...] = ()
    segment: str | None = None
    tuned_params: dict[str, Any] | None = None
    row_time: Any = None  # as_of by lead_id (a pandas Series), None for flat exports
    # the builder's half-life of each decayed_<signal> column: the learned points read them too
    half_lives: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScorerKind:
    """One row of the kinds table."""

    name: str
    display: str
    module: str  # holds the scorer and its ``build(ctx)``; imported on first use, not at start-up
    registered_suffix: str | None  # MLflow name = config.model_name + suffix; None: not registered
    color: str
    aliases: tuple[str, ...] = ()

    def build(self, ctx: ScorerContext) -> BaseScorer:
        """The unfitted scorer of this kind for a prepared training set."""
        return importlib.import_module(self.module).build(ctx)

    def registered_name(self, config: Config) -> str | None:
        """Registered model name in MLflow, or ``None`` when the kind ships otherwise."""
        if self.registered_suffix is None:
            return None
        return config.model_name + self.registered_suffix


KINDS: tuple[ScorerKind, ...] = (
    ScorerKind("rules", "rules (hand-made)", "pipeline.scorers.rules", "-rules", "#d97706",
               aliases=("baseline",)),
    ScorerKind("learned_points", "learned points", "pipeline.scorers.learned_points", "-points",
               "#059669"),
    ScorerKind("model", "model", "pipeline.scorers.selection", "", "#1f6feb"),
)
CHALLENGER = "model"
REFERENCE = "rules"
POINTS_TABLE = "learned_points"  # what `leadscore points` writes out by default
ORACLE_COLOR = "#6b7280"  # the true probability, where a synthetic world knows it


def names() -> tuple[str, ...]:
    """Every kind's name, in table order."""
    return tuple(k.name for k in KINDS)


def get(name: str) -> ScorerKind:
    """The kind called ``name`` (or one of its aliases)."""
    for kind in KINDS:
        if name == kind.name or name in kind.aliases:
            return kind
    raise ConfigError(f"scorer {name!r}: use one of {', '.join(names())}")


def registered() -> tuple[ScorerKind, ...]:
    """The kinds that are registered in MLflow."""
    return tuple(k for k in KINDS if k.registered_suffix is not None)


def display(name: str) -> str:
    """What people read for a kind name (other names, e.g. ``oracle``, as they are)."""
    return next((k.display for k in KINDS if k.name == name), name)


def color(name: str) -> str:
    """Plot colour of a kind (the oracle's grey for anything else)."""
    return next((k.color for k in KINDS if k.name == name), ORACLE_COLOR)
