"""Grades: the fit grade (A-D) and the engagement level (1-4) of each lead.

The fit factors' points make the grade, the engagement factors' points the engagement level, with
cut points learned as quantiles of the training leads' points and stored with the model; the score
band (hot / warm / cold) is cut by :mod:`pipeline.explain.thresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.spec import FeatureSpec

GRADES = ("A", "B", "C", "D")
LEVELS = (1, 2, 3, 4)


def factor_groups(spec: FeatureSpec) -> dict[str, str]:
    """Group (fit / engagement) of each factor: the group of its first feature."""
    groups: dict[str, str] = {}
    for info in spec.features:
        groups.setdefault(info.factor, info.group)
    return groups


@dataclass(frozen=True)
class GradeCuts:
    """Cut points on fit points (grade A-D) and engagement points (level 1-4), best first."""

    fit_cuts: tuple[float, ...]
    engagement_cuts: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        fit_points: np.ndarray,
        engagement_points: np.ndarray,
        grade_quantiles: list[float],
        engagement_quantiles: list[float],
    ) -> GradeCuts:
        """Learn the cut points as quantiles of the training leads' points."""
        return cls(
            tuple(float(np.quantile(fit_points, q)) for q in sorted(grade_quantiles, reverse=True)),
            tuple(float(np.quantile(engagement_points, q))
                  for q in sorted(engagement_quantiles, reverse=True)),
        )

    def grade(self, fit_points: np.ndarray) -> np.ndarray:
        """A (best) .. D for each lead."""
        index = np.searchsorted(-np.asarray(self.fit_cuts), -np.asarray(fit_points), side="right")
        return np.asarray(GRADES)[index]

    def level(self, engagement_points: np.ndarray) -> np.ndarray:
        """1 (most engaged) .. 4 for each lead."""
        index = np.searchsorted(-np.asarray(self.engagement_cuts), -np.asarray(engagement_points),
                                side="right")
        return np.asarray(LEVELS)[index]

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-able form (stored with the model)."""
        return {"fit_cuts": list(self.fit_cuts), "engagement_cuts": list(self.engagement_cuts)}


def group_points(points: pd.DataFrame, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sum of fit-factor points and of engagement-factor points per lead."""
    groups = factor_groups(spec)
    fit_cols = [c for c in points.columns if groups.get(c) == "fit"]
    eng_cols = [c for c in points.columns if groups.get(c) == "engagement"]
    return points[fit_cols].sum(axis=1).to_numpy(), points[eng_cols].sum(axis=1).to_numpy()
