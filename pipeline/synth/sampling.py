"""Vectorised draws shared by the generators: logistic, category codes, picks within groups.

Each helper consumes the caller's ``numpy`` generator in a fixed order and amount, which is what
keeps a seed's bytes stable across the modules that use them: changing how one of them draws
changes every world, so they live once, here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _codes(rng: np.random.Generator, p: Sequence[float], size: int) -> np.ndarray:
    """Category codes drawn with probabilities ``p``."""
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(size), side="right"), len(p) - 1)


class _Grouped:
    """Variable-length lists of values per group, flattened for vectorised picks."""

    def __init__(self, groups: Sequence[Sequence], dtype: type = object) -> None:
        self.values = np.asarray([v for g in groups for v in g], dtype=dtype)
        self.count = np.array([len(g) for g in groups])
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])

    def pick(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        """Index into ``values`` of a uniform pick within each element's group."""
        return self.start[group] + (rng.random(group.size) * self.count[group]).astype(np.int64)
