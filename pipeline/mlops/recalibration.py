"""``leadscore recalibrate`` in MLflow: the champion recalibrated, registered and gated.

The champion (``@champion`` of the model's registered name) is loaded, its calibrator alone is
refitted on the recent matured leads of an export (:mod:`pipeline.stages.recalibrate`), and the
result is logged as a new version of the same registered model, the way ``train`` logs a
package, with its lineage in version tags (``leadscore.recalibrated_from`` and the rest) and
alias ``@challenger``. The promotion gate (:func:`~pipeline.mlops.registry.gate`) then judges it
against the champion, the rules and the learned points on the recent holdout: the newest leads,
which the calibrator did not see. A passed gate moves ``@champion`` as ``promote`` does. The
run logs the recent split as ``split.parquet``, so the version's record says which leads fitted
its calibrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.data.config import Config
from pipeline.data.errors import ModelError
from pipeline.evaluation.metrics import bootstrap_calibration, ranking_metrics
from pipeline.mlops.registry import (
    CHALLENGER,
    CHAMPION,
    SPLIT_ARTIFACT,
    GateDecision,
    alias_version,
    gate,
    holdout_probabilities,
    load_registered_package,
    model_uri,
    saved_split,
)
from pipeline.scorers import kinds
from pipeline.stages.recalibrate import (
    FIT,
    HOLDOUT,
    RecentLeads,
    recalibrate_package,
    recent_leads,
)

LINEAGE = "leadscore.recalibrated_from"


@dataclass
class Recalibration:
    """What ``recalibrate`` did: the recent leads, the new calibrator, the gate, the version."""

    name: str
    champion_version: str
    recent: RecentLeads
    method: str
    champion_method: str
    holdout: dict[str, dict[str, float]]  # champion / recalibrated: mean p, ECE with interval
    observed: float
    decision: GateDecision
    version: str | None = None  # None: a dry run registered nothing
    tags: dict[str, str] = field(default_factory=dict)


def _companion_p(config: Config, kind: str, leads, activities, holdout) -> np.ndarray | None:
    # the rules and learned points serving beside the champion (their @champion, else the
    # @challenger trained with it)
    name = kinds.get(kind).registered_name(config)
    for alias in (CHAMPION, CHALLENGER):
        if alias_version(name, alias) is not None:
            package = load_registered_package(model_uri(name, alias))
            return holdout_probabilities(package, config, leads, activities, holdout)[1]
    return None


def _calibration(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> dict[str, float]:
    bounds = bootstrap_calibration(y, p, n_boot, seed)
    figures = ranking_metrics(y, p)
    return {"mean_probability": float(np.mean(p)), "ece_adaptive": figures["ece_adaptive"],
            "ece_adaptive_ci_low": bounds["ece_adaptive_ci_low"],
            "ece_adaptive_ci_high": bounds["ece_adaptive_ci_high"], "ece": figures["ece"],
            "roc_auc": figures["roc_auc"], "brier": figures["brier"]}


def recalibrate_champion(config: Config, leads: pd.DataFrame, activities: pd.DataFrame | None,
                         since: pd.Timestamp | None = None, holdout_share: float = 0.3,
                         dry_run: bool = False) -> Recalibration:
    """Recalibrate ``@champion`` on the export's recent matured leads, gate it, register it.

    ``since``: only leads created after it (default: the newest as_of of the champion's saved
    split, so no lead of its training, validation or test rows is reused). ``dry_run``: fit and
    gate, register and change nothing.
    """
    name = kinds.get(kinds.CHALLENGER).registered_name(config)
    champion_version = alias_version(name, CHAMPION)
    if champion_version is None:
        raise ModelError(f"{name}: no @champion version to recalibrate (run `leadscore train` "
                         "and `leadscore promote` first)")
    champion = load_registered_package(model_uri(name, CHAMPION))
    champion.check_settings(config.features, str(config.source))
    if since is None:
        since = pd.Timestamp(saved_split(name, champion_version)["as_of"].max())
    recent = recent_leads(config, leads, activities, since, holdout_share)
    source = f"{name} v{champion_version}"
    package = recalibrate_package(champion, config, leads, activities, recent, source)

    holdout = recent.split[recent.split["split"] == HOLDOUT]
    y, new_p = holdout_probabilities(package, config, leads, activities, holdout)
    old_p = holdout_probabilities(champion, config, leads, activities, holdout)[1]
    rules_p = _companion_p(config, kinds.REFERENCE, leads, activities, holdout)
    if rules_p is None:
        raise ModelError(f"{kinds.get(kinds.REFERENCE).registered_name(config)}: no registered "
                         "rules version for the gate (run `leadscore train`)")
    points_p = _companion_p(config, kinds.POINTS_TABLE, leads, activities, holdout)
    first, last = recent.as_of_range(HOLDOUT)
    decision = gate(y, new_p, config.promotion, rules=rules_p, points=points_p, champion=old_p,
                    holdout=f"newest recent leads (as_of {first:%Y-%m-%d} to {last:%Y-%m-%d})",
                    seed=config.seed)
    n_boot = config.promotion.n_boot
    result = Recalibration(
        name, champion_version, recent, package.scorer.calibrator_.method_,
        str(champion.metadata.get("calibration", "")),
        {"champion": _calibration(y, old_p, n_boot, config.seed),
         "recalibrated": _calibration(y, new_p, n_boot, config.seed)},
        float(np.mean(y)), decision)
    result.tags = lineage_tags(result)
    if not dry_run:
        result.version = _register(config, package, result, leads, activities)
    return result


def lineage_tags(result: Recalibration) -> dict[str, str]:
    """The version tags that say where a recalibrated version comes from."""
    recent = result.recent
    fit_leads, fit_won = recent.count(FIT)
    hold_leads, hold_won = recent.count(HOLDOUT)
    first, last = recent.as_of_range()
    return {
        LINEAGE: result.champion_version,
        "leadscore.calibration": result.method,
        "leadscore.recent_since": f"{recent.since:%Y-%m-%dT%H:%M:%S}",
        "leadscore.recent_as_of": f"{first:%Y-%m-%d} to {last:%Y-%m-%d}",
        "leadscore.recent_leads": str(fit_leads + hold_leads),
        "leadscore.recent_fit": f"{fit_leads} leads, {fit_won} conversions",
        "leadscore.recent_holdout": f"{hold_leads} leads, {hold_won} conversions",
        "leadscore.snapshot": f"{recent.snapshot:%Y-%m-%dT%H:%M:%S}",
    }


def _register(config: Config, package, result: Recalibration, leads: pd.DataFrame,
              activities: pd.DataFrame | None) -> str:
    """Log the recalibrated package as a new version; tags, @challenger, maybe @champion."""
    import tempfile

    import mlflow
    from mlflow import MlflowClient

    from pipeline.mlops.tracking import (
        _input_example,
        git_commit,
        log_package,
        numeric_metrics,
        package_versions,
    )

    tags = {"dataset": config.dataset.name, "stage": "recalibrate", **package_versions(),
            **result.tags}
    commit = git_commit()
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    client = MlflowClient()
    with mlflow.start_run(run_name=f"recalibrate-{config.dataset.name}", tags=tags) as run:
        mlflow.log_params({"calibration.method": result.method,
                           "calibration.champion_method": result.champion_method,
                           "recalibrated_from": result.champion_version})
        mine = result.holdout["recalibrated"]
        # the names `leadscore models` lists, here measured on this version's own holdout
        mlflow.log_metrics({"roc_auc": mine["roc_auc"], "ece": mine["ece"],
                            "ece_adaptive": mine["ece_adaptive"],
                            **numeric_metrics(result.holdout, "holdout."),
                            "holdout.observed": result.observed,
                            **numeric_metrics(result.decision.figures, "gate.")})
        with tempfile.TemporaryDirectory() as tmp:
            split = Path(tmp) / SPLIT_ARTIFACT
            result.recent.split.to_parquet(split, index=False)
            mlflow.log_artifact(str(split))
        example, params = _input_example(package, leads, activities, config.dataset.pii,
                                         config.features.email_column)
        info = log_package(package, kinds.CHALLENGER, result.name, example, params)
        version = str(info.registered_model_version)
        for key, value in {**result.tags, "run_id": run.info.run_id,
                           "package_version": info.package_version,
                           "gate": result.decision.summary()}.items():
            client.set_model_version_tag(result.name, version, key, value)
        client.set_registered_model_alias(result.name, CHALLENGER, version)
        if result.decision.promote:
            client.set_registered_model_alias(result.name, CHAMPION, version)
    return version
