"""``monitor`` in MLflow: the summary, page, plot and figures on each model version's own run.

A registered version (``model_version`` a number in the score file) is traced back to the run
that trained it: its ``run_id`` tag (the training's parent run, set by
:func:`pipeline.mlops.tracking.log_training`), else the run that logged the model. The files go
under ``monitor/<snapshot date>/`` of that run and the figures are metrics named
``monitor.<month>.<figure>`` (``all`` for every month of the version), so a later monitor adds
a new folder and a new step rather than overwriting. A package file (``file:<digest>``) has no
run and is skipped; the caller says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the figures of a group logged as metrics
METRICS = ("matured", "pending", "conversions", "observed", "mean_probability", "ece_adaptive",
           "ece_adaptive_ci_low", "ece_adaptive_ci_high", "brier", "brier_ci_low",
           "brier_ci_high", "roc_auc", "auc_ci_low", "auc_ci_high", "mql_precision", "mql_recall")


@dataclass
class Logged:
    """Where the monitor went: run ids by version, and the versions skipped (with why)."""

    runs: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def training_run(name: str, version: str) -> str | None:
    """The run that trained registered ``name`` version ``version`` (None: not registered)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        registered = MlflowClient().get_model_version(name, version)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")):
            return None
        raise
    return (registered.tags or {}).get("run_id") or registered.run_id


def _metrics(groups: list[dict[str, Any]]) -> dict[str, float]:
    import math

    out = {}
    for group in groups:
        for key in METRICS:
            value = group.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) \
                    and math.isfinite(value):
                out[f"monitor.{group['month']}.{key}"] = float(value)
    return out


def log_monitor(summary: dict[str, Any], files: dict[str, Path], step: int) -> Logged:
    """Log ``files`` and each version's figures on the training run of every registered version.

    ``step`` orders successive monitors of one run (the snapshot as days since the epoch).
    """
    import mlflow

    logged = Logged()
    by_version: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for group in summary["groups"]:
        by_version.setdefault((group["model_name"], group["model_version"]), []).append(group)
    folder = f"monitor/{summary['snapshot'][:10]}"
    for (name, version), groups in by_version.items():
        label = f"{name} {version}".strip()
        if not version.isdigit():
            logged.skipped[label] = ("a package file, not a registered version"
                                     if version.startswith("file") else "not a registry version")
            continue
        run_id = training_run(name, version)
        if run_id is None:
            logged.skipped[label] = "not in this registry"
            continue
        with mlflow.start_run(run_id=run_id):
            for path in files.values():
                mlflow.log_artifact(str(path), folder)
            mlflow.log_metrics(_metrics(groups), step=step)
        logged.runs[label] = run_id
    return logged
