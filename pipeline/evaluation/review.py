"""Helpers for reviewing a training run's explanations (``notebooks/review_explanations.ipynb``).

The notebook is for marketing analysts: its cells call these functions and show what they
return, so every table and figure it shows is made (and unit-tested) here, from the files that
``leadscore train`` writes under ``artifacts/<dataset>/``. Nothing here scores or re-explains a
lead: the points, grades and reasons are read back from ``test_scores.parquet`` exactly as the
report shows them, so notebook and report can never disagree.

Scorers are named by their kinds (``pipeline/scorers/kinds.py``); the side-by-side views compare
the challenger (``model``) with the team's ``rules``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.data.artifacts import Paths
from pipeline.data.errors import DataError, ModelError
from pipeline.evaluation.plots import comparison_figure, waterfall_figure  # noqa: F401
from pipeline.evaluation.report import METRIC_ROWS, example_leads, points_of
from pipeline.explain.grades import factor_groups
from pipeline.explain.package import ScoringPackage, load_package
from pipeline.scorers import kinds

ENV_ARTIFACTS = "LEADSCORE_ARTIFACTS"
ENV_CONFIG = "LEADSCORE_CONFIG"

#: The two scorers an analyst compares side by side: the challenger and the team's rules.
SCORERS = (kinds.CHALLENGER, kinds.REFERENCE)

#: Named grade / engagement-level patterns: (grades, engagement levels). Grade A is the best fit,
#: engagement level 1 the most engaged.
PATTERNS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "high fit, high engagement": (("A", "B"), (1, 2)),
    "high fit, low engagement": (("A", "B"), (3, 4)),
    "low fit, high engagement": (("C", "D"), (1, 2)),
    "low fit, low engagement": (("C", "D"), (3, 4)),
}

_LOWER_IS_BETTER = {"brier", "log_loss", "ece"}


def _prefix(scorer: str) -> str:
    """Prefix of a scorer's columns in ``test_scores.parquet`` (its kind's name)."""
    if scorer not in kinds.names():
        raise ValueError(f"scorer {scorer!r}: use one of {', '.join(kinds.names())}")
    return scorer


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``pyproject.toml``.

    Jupyter starts a notebook's kernel in the notebook's folder, while the run's paths
    (``artifacts/demo``, ``configs/demo.yaml``) are relative to the project root.

    Parameters
    ----------
    start
        Where to look from (default: the current directory).

    Returns
    -------
    Path
        The project root, or ``start`` itself when no ``pyproject.toml`` is found above it.
    """
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def resolve_run(
    artifacts: str | Path,
    config: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    root: str | Path | None = None,
) -> tuple[Path, Path | None]:
    """Where the run to review lives: the notebook's parameters, overridden by the environment.

    Parameters
    ----------
    artifacts
        The run's output folder, e.g. ``artifacts/demo``.
    config
        The dataset config it was trained with, e.g. ``configs/demo.yaml`` (optional).
    environ
        Environment (default :data:`os.environ`): ``LEADSCORE_ARTIFACTS`` and
        ``LEADSCORE_CONFIG``, when set and not empty, replace the two parameters, so a test or
        a scheduled job can point the notebook at another run without editing it.
    root
        Folder that relative paths are relative to (default: :func:`project_root`).

    Returns
    -------
    tuple of Path
        Absolute artifacts folder and config path (None when no config is given).
    """
    environ = os.environ if environ is None else environ
    artifacts = environ.get(ENV_ARTIFACTS) or artifacts
    config = environ.get(ENV_CONFIG) or config
    base = Path(root) if root is not None else project_root()

    def absolute(path: str | Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else (base / path).resolve()

    return absolute(artifacts), None if config is None else absolute(config)


@dataclass
class Run:
    """What a training run left for review.

    Attributes
    ----------
    root
        The artifacts folder.
    packages
        The scoring package of every kind, by kind name.
    test_scores
        One row per test lead: label ``y``, each scorer's score, grade, engagement level,
        band, reasons and ``<scorer>_points::<factor>`` columns.
    metrics
        ``evaluation.json``: per scorer kind (maybe ``oracle`` too) and ``split``.
    config
        The dataset config (``pipeline.data.config.Config``) when one was given.
    """

    root: Path
    packages: dict[str, ScoringPackage]
    test_scores: pd.DataFrame
    metrics: dict[str, Any]
    config: Any = None

    def package(self, scorer: str) -> ScoringPackage:
        """The package of one scorer kind."""
        return self.packages[_prefix(scorer)]

    @property
    def spec(self):
        """The feature spec every package shares (one feature builder per run)."""
        return next(iter(self.packages.values())).spec


def load_run(artifacts: str | Path, config: str | Path | None = None) -> Run:
    """Load the packages, test scores and metrics of a training run.

    Parameters
    ----------
    artifacts
        The run's output folder (``artifacts/<dataset>``).
    config
        The dataset config; when given, the packages must have been trained with its feature
        settings (the same check batch scoring makes).

    Returns
    -------
    Run
        The loaded run.

    Raises
    ------
    ModelError
        When the folder has no finished evaluation, or the config's feature settings differ.
    """
    paths = Paths(Path(artifacts))
    for path in (paths.test_scores, paths.metrics):
        if not path.is_file():
            raise ModelError(f"{path}: not found (run `leadscore train` with evaluation first)")
    packages = {name: load_package(paths.package(name)) for name in kinds.names()
                if paths.package(name).is_file()}
    cfg = None
    if config is not None:
        from pipeline.data.config import load_config

        cfg = load_config(config)
        for package in packages.values():
            package.check_settings(cfg.features, str(config))
    test_scores = pd.read_parquet(paths.test_scores)
    test_scores["lead_id"] = test_scores["lead_id"].astype(str)
    metrics = json.loads(paths.metrics.read_text())
    return Run(paths.root, packages, test_scores, metrics, cfg)


def package_summary(run: Run) -> pd.DataFrame:
    """What each scoring package is, side by side: kind, calibration, factors, cut points.

    Parameters
    ----------
    run
        A loaded run.

    Returns
    -------
    pandas.DataFrame
        One row per property, one column per scorer (``model``, ``rules``).
    """
    def describe(package: ScoringPackage) -> dict[str, str]:
        def cuts(values: Sequence[float]) -> str:
            return " / ".join(f"{v:+.1f}" for v in values)

        return {
            "scorer": type(package.scorer).__name__,
            "calibration": str(package.metadata.get("calibration", "")),
            "business factors": str(len(package.spec.factors)),
            "fit points for grade A / B / C": cuts(package.grade_cuts.fit_cuts),
            "engagement points for level 1 / 2 / 3": cuts(package.grade_cuts.engagement_cuts),
            "score bands": package.bands.describe(package.scale),
            "MQL line": package.mql.describe(package.scale),
        }

    return pd.DataFrame({name: describe(run.package(name)) for name in SCORERS})


def metrics_table(metrics: Mapping[str, Any], formatted: bool = True) -> pd.DataFrame:
    """Test-split metrics of the model and the rules, with which of the two does better.

    Parameters
    ----------
    metrics
        The content of ``evaluation.json``.
    formatted
        Format values as the report does (``"0.847"``, ``"50.4%"``); False keeps floats.

    Returns
    -------
    pandas.DataFrame
        Index: metric names as in the report; columns ``model``, ``rules``, ``better``.
        Metrics missing for both scorers are left out.
    """
    rows = []
    for label, key, fmt in METRIC_ROWS:
        values = {name: metrics.get(name, {}).get(key) for name in SCORERS}
        if all(v is None for v in values.values()):
            continue
        better = ""
        challenger, reference = (values[name] for name in SCORERS)
        if challenger is not None and reference is not None and challenger != reference:
            challenger_wins = (challenger < reference) == (key in _LOWER_IS_BETTER)
            better = SCORERS[0] if challenger_wins else SCORERS[1]
        if formatted:
            values = {n: "" if v is None else fmt.format(v) for n, v in values.items()}
        rows.append({"metric": label, **values, "better": better})
    return pd.DataFrame(rows).set_index("metric")


def lead_row(test_scores: pd.DataFrame, lead_id: str) -> pd.Series:
    """The ``test_scores`` row of one lead.

    Raises
    ------
    DataError
        When the lead is not among the test leads.
    """
    match = test_scores.index[test_scores["lead_id"].astype(str) == str(lead_id)]
    if len(match) == 0:
        raise DataError(f"lead {lead_id!r} is not in the test split")
    return test_scores.loc[match[0]]


def pick_lead(test_scores: pd.DataFrame, which: str = "disagreement") -> str:
    """The id of the report's example lead: ``hot``, ``cold`` or ``disagreement``.

    ``disagreement`` is the lead whose model and rules scores differ most: the one where an
    analyst learns most by comparing the two explanations.
    """
    examples = example_leads(test_scores)
    if which not in examples:
        raise ValueError(f"which={which!r}: use one of {sorted(examples)}")
    return str(test_scores["lead_id"].iloc[examples[which]])


def lead_points(test_scores: pd.DataFrame, lead_id: str,
                scorer: str = kinds.CHALLENGER) -> pd.Series:
    """Score points per business factor of one lead (they add up to score minus base score)."""
    row = lead_row(test_scores, lead_id)
    points = points_of(test_scores.loc[[row.name]], _prefix(scorer)).iloc[0]
    return points.rename(f"{scorer} points")


def lead_summary(test_scores: pd.DataFrame, lead_id: str,
                 scorer: str = kinds.CHALLENGER) -> dict[str, Any]:
    """Score, band, grade, engagement level, outcome and reasons of one lead.

    Returns
    -------
    dict
        Keys ``lead_id, scorer, score, base_score, band, grade, engagement_level, converted,
        reasons`` (the non-empty reasons, largest effect first).
    """
    row = lead_row(test_scores, lead_id)
    p = _prefix(scorer)
    reasons = [str(row[f"{p}_reason_{k}"]) for k in (1, 2, 3)
               if f"{p}_reason_{k}" in row and isinstance(row[f"{p}_reason_{k}"], str)
               and row[f"{p}_reason_{k}"]]
    return {
        "lead_id": str(lead_id), "scorer": scorer, "score": int(row[f"{p}_score"]),
        "base_score": round(float(row[f"{p}_base_score"]), 1), "band": str(row[f"{p}_band"]),
        "grade": str(row[f"{p}_grade"]), "engagement_level": int(row[f"{p}_engagement_level"]),
        "converted": bool(row["y"]), "reasons": reasons,
    }


def lead_waterfall(test_scores: pd.DataFrame, lead_id: str,
                   scorer: str = kinds.CHALLENGER) -> Figure:
    """The lead's waterfall: from the base score to its score, one bar per factor.

    Parameters
    ----------
    test_scores
        The run's test scores.
    lead_id
        A test lead.
    scorer
        ``model`` or ``rules``.

    Returns
    -------
    matplotlib.figure.Figure
        See :func:`pipeline.evaluation.plots.waterfall_figure`.
    """
    info = lead_summary(test_scores, lead_id, scorer)
    title = (f"Lead {lead_id} ({scorer}): score {info['score']}, "
             f"grade {info['grade']}{info['engagement_level']}")
    return waterfall_figure(lead_points(test_scores, lead_id, scorer), info["base_score"],
                            info["score"], title)


def find_leads(
    test_scores: pd.DataFrame,
    grades: Sequence[str] | None = None,
    levels: Sequence[int] | None = None,
    reason: str | None = None,
    scorer: str = kinds.CHALLENGER,
) -> pd.DataFrame:
    """Test leads by grade, engagement level and/or the text of their reasons, best score first.

    Parameters
    ----------
    test_scores
        The run's test scores.
    grades
        Keep these fit grades (e.g. ``("A", "B")``); None keeps all.
    levels
        Keep these engagement levels (1 is the most engaged); None keeps all.
    reason
        Regular expression (case-insensitive) that one of the lead's top reasons must match,
        e.g. ``"pricing"`` or ``"free-mail"``; None keeps all.
    scorer
        Whose grades, levels and reasons to filter on: ``model`` or ``rules``.

    Returns
    -------
    pandas.DataFrame
        Columns ``lead_id, score, band, grade, engagement_level, converted, reason_1..3``.
    """
    p = _prefix(scorer)
    keep = pd.Series(True, index=test_scores.index)
    if grades is not None:
        keep &= test_scores[f"{p}_grade"].isin(list(grades))
    if levels is not None:
        keep &= test_scores[f"{p}_engagement_level"].isin([int(v) for v in levels])
    reason_cols = [f"{p}_reason_{k}" for k in (1, 2, 3) if f"{p}_reason_{k}" in test_scores]
    if reason:
        pattern = re.compile(reason, re.IGNORECASE)
        hits = pd.Series(False, index=test_scores.index)
        for col in reason_cols:
            hits |= test_scores[col].fillna("").astype(str).str.contains(pattern)
        keep &= hits
    part = test_scores.loc[keep]
    out = pd.DataFrame({
        "lead_id": part["lead_id"].astype(str),
        "score": part[f"{p}_score"].astype(int),
        "band": part[f"{p}_band"],
        "grade": part[f"{p}_grade"],
        "engagement_level": part[f"{p}_engagement_level"].astype(int),
        "converted": part["y"].astype(bool),
    })
    for k, col in enumerate(reason_cols, start=1):
        out[f"reason_{k}"] = part[col].fillna("")
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def leads_by_pattern(test_scores: pd.DataFrame, pattern: str,
                     scorer: str = kinds.CHALLENGER) -> pd.DataFrame:
    """Test leads of a named pattern from :data:`PATTERNS`, e.g. ``"high fit, low engagement"``.

    Returns
    -------
    pandas.DataFrame
        As :func:`find_leads`.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r}: use one of {list(PATTERNS)}")
    grades, levels = PATTERNS[pattern]
    return find_leads(test_scores, grades=grades, levels=levels, scorer=scorer)


def pattern_summary(test_scores: pd.DataFrame, scorer: str = kinds.CHALLENGER) -> pd.DataFrame:
    """Size and conversion rate of each named pattern (how much each cell of the grid matters).

    Returns
    -------
    pandas.DataFrame
        Index: pattern names; columns ``leads``, ``share``, ``conversion_rate``,
        ``mean_score`` (shares and rates as fractions, rounded for reading).
    """
    rows = {}
    for name in PATTERNS:
        part = leads_by_pattern(test_scores, name, scorer)
        rows[name] = {
            "leads": len(part),
            "share": len(part) / max(len(test_scores), 1),
            "conversion_rate": float(part["converted"].mean()) if len(part) else np.nan,
            "mean_score": float(part["score"].mean()) if len(part) else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.round({"share": 3, "conversion_rate": 3, "mean_score": 1})


def compare_points(test_scores: pd.DataFrame, lead_id: str, spec: Any = None,
                   top: int | None = 12) -> pd.DataFrame:
    """One lead's points per factor under the model and under the rules, side by side.

    Parameters
    ----------
    test_scores
        The run's test scores.
    lead_id
        A test lead.
    spec
        Feature spec (``run.spec``); when given, a ``group`` column says whether the
        factor counts towards the fit grade or the engagement level.
    top
        Keep the factors with the largest points under either scorer; None keeps all.

    Returns
    -------
    pandas.DataFrame
        Index: factor; columns ``model``, ``rules``, ``difference`` (model minus rules), and
        ``group`` with a spec. Rounded to 0.1 point, largest effect first.
    """
    table = pd.concat([lead_points(test_scores, lead_id, name).rename(name) for name in SCORERS],
                      axis=1).fillna(0.0)
    size = table.abs().max(axis=1)
    table = table.loc[size.sort_values(ascending=False, kind="stable").index]
    if top is not None:
        table = table.head(top)
    # rounded before differencing so that the three shown columns add up
    table = table.round(1)
    challenger, reference = SCORERS
    table["difference"] = (table[challenger] - table[reference]).round(1)
    table.index.name = "factor"
    if spec is not None:
        groups = factor_groups(spec)
        table["group"] = [groups.get(f, "") for f in table.index]
    return table
