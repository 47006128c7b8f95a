"""Shared fixtures: project paths, the real X Education data, small synthetic worlds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
X_EDUCATION = SHARED_DATA / "x_education" / "leads.csv"

# Tests never talk to a team MLflow server by accident.
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def x_education_config(monkeypatch) -> Path:
    """configs/x_education.yaml, run from the project root (its paths are relative to it)."""
    if not X_EDUCATION.is_file():
        pytest.skip(f"real data not found at {X_EDUCATION} (the shared/ folder beside the project)")
    monkeypatch.chdir(ROOT)
    return ROOT / "configs" / "x_education.yaml"
