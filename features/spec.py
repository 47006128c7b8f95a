"""Feature spec: every feature column tagged with its business factor, kind, group and template.

Later stages sum explanations per *factor* ("Pricing page interest"), split the fit axis from the
engagement axis of the grade by *group*, and voice reasons through each feature's *template*.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["fit", "engagement", "negative"]
Group = Literal["fit", "engagement"]
DType = Literal["numeric", "categorical", "boolean"]


@dataclass(frozen=True)
class FeatureInfo:
    """One feature column.

    Attributes
    ----------
    name
        Column name in the feature table.
    factor
        Human-readable business factor it belongs to.
    kind
        What it measures: ``fit``, ``engagement`` or ``negative`` (a signal against buying).
    group
        Which grade axis its points add to: ``fit`` (grade A-D) or ``engagement`` (level 1-4).
    dtype
        ``numeric``, ``categorical`` or ``boolean`` (0/1 floats).
    monotone
        Direction the business expects (+1 more is better, -1 more is worse, 0 no constraint).
    template
        Reason sentence with ``{value}``, e.g. ``"Visited pricing {value:.0f}x in 30 days"``.
    """

    name: str
    factor: str
    kind: Kind
    group: Group
    dtype: DType
    monotone: int = 0
    template: str = "{value}"


class FeatureSpec:
    """Ordered, immutable collection of :class:`FeatureInfo`."""

    def __init__(self, features: list[FeatureInfo] | tuple[FeatureInfo, ...]):
        self.features: tuple[FeatureInfo, ...] = tuple(features)
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("duplicate feature names in spec")
        self._by_name = {f.name: f for f in self.features}

    def __iter__(self) -> Iterator[FeatureInfo]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, name: str) -> FeatureInfo:
        return self._by_name[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureSpec) and self.features == other.features

    def __hash__(self) -> int:
        return hash(self.features)

    @property
    def names(self) -> list[str]:
        """Column names in table order."""
        return [f.name for f in self.features]

    @property
    def factors(self) -> list[str]:
        """Factor names, in order of first appearance."""
        return list(dict.fromkeys(f.factor for f in self.features))

    def factor_of(self, name: str) -> str:
        """Factor of a feature column."""
        return self._by_name[name].factor

    def by_group(self, group: str) -> list[FeatureInfo]:
        """Features adding to one grade axis."""
        return [f for f in self.features if f.group == group]

    def features_of_factor(self, factor: str) -> list[FeatureInfo]:
        """Feature columns of one factor."""
        return [f for f in self.features if f.factor == factor]

    def monotone_constraints(self) -> list[int]:
        """Monotone direction per column, aligned with :attr:`names`."""
        return [f.monotone for f in self.features]

    def without(self, names: set[str]) -> FeatureSpec:
        """A spec without some columns."""
        return FeatureSpec([f for f in self.features if f.name not in names])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with the model, logged to MLflow)."""
        return {"features": [asdict(f) for f in self.features]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`."""
        return cls([FeatureInfo(**f) for f in data["features"]])
