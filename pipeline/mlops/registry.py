"""MLflow registry: aliases, the promotion gate, and the versions listing.

``@challenger`` becomes ``@champion`` only through :func:`promote_challenger`, which scores the
challenger, the champion and the rules on the split the challenger's training saved (logged with
its run as ``split.parquet``), never on one rebuilt from today's config and data: a challenger
trained with ``--set`` or on a re-exported file is judged on the leads it was evaluated on, and
never on its own training rows. Each package builds those leads' features with its own fitted
builder. The registry uses aliases, not the deprecated stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.config import Config, PromotionConfig
from pipeline.data.errors import ModelError
from pipeline.evaluation.metrics import ranking_metrics
from pipeline.scorers import kinds
from pipeline.stages.prepare import prepare_saved

CHAMPION, CHALLENGER = "champion", "challenger"
SPLIT_ARTIFACT = "split.parquet"


def model_uri(name: str, alias: str) -> str:
    """``models:/<name>@<alias>``."""
    return f"models:/{name}@{alias}"


def alias_version(name: str, alias: str) -> str | None:
    """Version number behind an alias, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def load_registered_package(uri: str):
    """The ScoringPackage inside a logged pyfunc model (``models:/...`` or ``runs:/...``)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline.explain.package import load_package

    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"{uri}: cannot load model ({str(exc).splitlines()[0]})") from None
    path = Path(local) / "artifacts" / "package.pkl"
    return load_package(path)


def saved_split(name: str, version: str) -> pd.DataFrame:
    """The split the training run of a registered version saved (lead_id, as_of, y, split)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    run_id = (MlflowClient().get_model_version(name, version).tags or {}).get("run_id")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=SPLIT_ARTIFACT)
    except (MlflowException, OSError, TypeError):
        raise ModelError(f"{name} v{version}: its training run logged no {SPLIT_ARTIFACT} "
                         "(trained before the gate judged on saved splits); retrain") from None
    return pd.read_parquet(local)


@dataclass(frozen=True)
class GateDecision:
    """Outcome of the promotion gate with the figures behind it."""

    promote: bool
    reasons: tuple[str, ...]
    figures: dict[str, float]

    def summary(self) -> str:
        """One line for the console and the registry tag."""
        verdict = "PROMOTE" if self.promote else "KEEP CHAMPION"
        return f"{verdict}: " + "; ".join(self.reasons)


def gate(challenger: dict[str, float], champion: dict[str, float] | None,
         rules: dict[str, float], policy: PromotionConfig) -> GateDecision:
    """Apply the promotion policy to test metrics measured on the same leads.

    A challenger is promoted only if its AUC is at least the champion's minus the tolerance, it
    beats the rules' AUC by the margin, and its ECE is under the limit.
    """
    reasons, ok = [], True
    figures = {"challenger_auc": challenger["roc_auc"], "challenger_ece": challenger["ece"],
               "rules_auc": rules["roc_auc"]}
    if champion is not None:
        figures["champion_auc"] = champion["roc_auc"]
        floor = champion["roc_auc"] - policy.auc_tolerance
        passed = challenger["roc_auc"] >= floor
        ok &= passed
        reasons.append(f"AUC {challenger['roc_auc']:.4f} {'>=' if passed else '<'} champion "
                       f"{champion['roc_auc']:.4f} - {policy.auc_tolerance}")
    else:
        reasons.append("no champion yet")
    need = rules["roc_auc"] + policy.rules_margin
    passed = challenger["roc_auc"] >= need
    ok &= passed
    reasons.append(f"AUC {challenger['roc_auc']:.4f} {'>=' if passed else '<'} rules "
                   f"{rules['roc_auc']:.4f} + {policy.rules_margin}")
    passed = challenger["ece"] <= policy.max_ece
    ok &= passed
    reasons.append(f"ECE {challenger['ece']:.4f} {'<=' if passed else '>'} {policy.max_ece}")
    return GateDecision(bool(ok), tuple(reasons), figures)


def holdout_metrics(package, config: Config, leads: pd.DataFrame,
                    activities: pd.DataFrame | None, split: pd.DataFrame) -> dict[str, float]:
    """Ranking and calibration metrics of one package on the saved split's test leads."""
    prepared = prepare_saved(config, leads, activities, split, package.builder)
    X, y = prepared.rows("test")
    return ranking_metrics(y, package.scorer.predict_proba(X)[:, 1])


def promote_challenger(config: Config, data, dry_run: bool = False) -> GateDecision:
    """Compare @challenger, @champion and the rules on the challenger's saved split; maybe
    promote the challenger (and the rules version trained with it)."""
    from mlflow import MlflowClient

    leads, activities = data
    name = kinds.get(kinds.CHALLENGER).registered_name(config)
    challenger_version = alias_version(name, CHALLENGER)
    if challenger_version is None:
        raise ModelError(f"{name}: no @challenger version (run `leadscore train` first)")
    champion_version = alias_version(name, CHAMPION)
    split = saved_split(name, challenger_version)

    def measure(uri: str) -> dict[str, float]:
        return holdout_metrics(load_registered_package(uri), config, leads, activities, split)

    challenger_m = measure(model_uri(name, CHALLENGER))
    rules_name = kinds.get(kinds.REFERENCE).registered_name(config)
    rules_alias = CHALLENGER if alias_version(rules_name, CHALLENGER) else CHAMPION
    rules_m = measure(model_uri(rules_name, rules_alias))
    champion_m = None
    if champion_version is not None and champion_version != challenger_version:
        champion_m = measure(model_uri(name, CHAMPION))
    elif champion_version == challenger_version:
        champion_m = challenger_m
    decision = gate(challenger_m, champion_m, rules_m, config.promotion)
    if not dry_run:
        client = MlflowClient()
        client.set_model_version_tag(name, challenger_version, "gate", decision.summary())
        if decision.promote:
            client.set_registered_model_alias(name, CHAMPION, challenger_version)
            version = alias_version(rules_name, rules_alias)
            if version is not None:
                client.set_registered_model_alias(rules_name, CHAMPION, version)
    return decision


def list_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version of every registered kind, newest first."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    rows = []
    for kind in kinds.registered():
        name = kind.registered_name(config)
        try:
            versions = client.search_model_versions(f"name='{name}'")
            # search_model_versions leaves ModelVersion.aliases empty; the model has them.
            aliases = client.get_registered_model(name).aliases or {}
        except MlflowException:
            continue
        by_version: dict[str, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(str(number), []).append(alias)
        for v in sorted(versions, key=lambda v: -int(v.version)):
            metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
            rows.append({
                "model": name, "version": v.version,
                "aliases": ",".join(sorted(by_version.get(str(v.version), []))),
                "roc_auc": f"{metrics['roc_auc']:.4f}" if "roc_auc" in metrics else "",
                "ece": f"{metrics['ece']:.4f}" if "ece" in metrics else "",
                "created": pd.Timestamp(v.creation_timestamp, unit="ms").strftime(
                    "%Y-%m-%d %H:%M"),
                "gate": (v.tags or {}).get("gate", ""),
            })
    return rows
