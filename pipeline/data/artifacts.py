"""Where a dataset's outputs live under ``artifacts/<dataset>/`` and how they are written.

Every write goes through :func:`pipeline.data.io.atomic_path`: a crashed stage never leaves a file
that a later stage (or DVC) would take for a finished one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline.data.io import atomic_path


@dataclass(frozen=True)
class Paths:
    """The output layout of one dataset."""

    root: Path

    @property
    def data(self) -> Path:
        """Synthetic inputs (demo only)."""
        return self.root / "data"

    @property
    def packages(self) -> Path:
        """The scoring packages, one per scorer kind (one folder: a new kind adds no path)."""
        return self.root / "packages"

    def package(self, kind: str) -> Path:
        """The scoring package of one scorer kind (``packages/<kind>.pkl``)."""
        return self.packages / f"{kind}.pkl"

    @property
    def split(self) -> Path:
        """lead_id, as_of, y, split of the eligible training leads."""
        return self.root / "split.parquet"

    @property
    def metrics(self) -> Path:
        """evaluation.json: the full evaluation (every scorer, interval, age bucket, segment,
        note) that the report, MLflow and the gate read; a stage output, not a DVC metric."""
        return self.root / "evaluation.json"

    @property
    def headline(self) -> Path:
        """``artifacts/metrics/<dataset>.json``: the few numbers ``dvc metrics show`` prints.

        One folder for every dataset, named as a folder in dvc.yaml's top-level ``metrics``: DVC
        reads the files that are there, so a dataset that has not run yet is no "failed to load".
        """
        return self.root.parent / "metrics" / f"{self.root.name}.json"

    @property
    def audit(self) -> Path:
        """Leakage audit table."""
        return self.root / "audit.csv"

    @property
    def features(self) -> Path:
        """Feature table."""
        return self.root / "features.parquet"

    @property
    def best_params(self) -> Path:
        """Tuned LightGBM parameters (read by train)."""
        return self.root / "best_params.yaml"

    @property
    def plots(self) -> Path:
        """PNG and CSV plots."""
        return self.root / "plots"

    @property
    def test_scores(self) -> Path:
        """Scores, points and reasons of the test leads (report, notebook)."""
        return self.root / "test_scores.parquet"

    @property
    def test_scores_public(self) -> Path:
        """Test scores as logged to MLflow (ids, labels, scores, reasons: no PII)."""
        return self.root / "test_scores.parquet"

    @property
    def report(self) -> Path:
        """Self-contained HTML report."""
        return self.root / "report.html"

    @property
    def scores(self) -> Path:
        """Batch scores of the open leads."""
        return self.root / "scores.parquet"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON (NaN/inf written as null so every JSON reader accepts it)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    """Atomic YAML."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(_clean(data), sort_keys=False))


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Atomic Parquet or CSV by suffix."""
    with atomic_path(path, suffix=path.suffix + ".tmp") as tmp:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def write_bytes(path: Path, data: bytes) -> None:
    """Atomic binary file (PNG)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
