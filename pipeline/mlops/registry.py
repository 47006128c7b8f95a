"""Registry lifecycle: re-evaluate challenger, champion and rules on today's test split, gate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.data.config import Config
from pipeline.data.dataset import build_training_set
from pipeline.data.errors import ModelError
from pipeline.evaluation.metrics import ranking_metrics
from pipeline.mlops.tracking import (
    CHALLENGER,
    CHAMPION,
    GateDecision,
    alias_version,
    gate,
    load_registered_package,
    model_uri,
)


def _test_metrics(package, ts, activities, config: Config) -> dict[str, float]:
    test_ids = ts.part("test")
    leads = ts.leads.loc[test_ids].reset_index(drop=True)
    as_of = ts.as_of.loc[test_ids] if config.dataset.mode == "events" else None
    X = package.features(leads, activities, as_of)
    p = package.scorer.predict_proba(X)[:, 1]
    return ranking_metrics(ts.y.loc[test_ids].to_numpy(), p)


def promote_challenger(config: Config, data, dry_run: bool = False,
                       truth: pd.Series | None = None) -> GateDecision:
    """Compare @challenger, @champion and the rules on the current test split; maybe promote."""
    from mlflow import MlflowClient

    leads, activities = data
    name = config.model_name
    challenger_version = alias_version(name, CHALLENGER)
    if challenger_version is None:
        raise ModelError(f"{name}: no @challenger version (run `leadscore train` first)")
    champion_version = alias_version(name, CHAMPION)
    ts = build_training_set(
        leads, activities, config.dataset.mode, config.dataset.as_of, config.dataset.horizon_days,
        config.split, config.seed,
        snapshot=pd.Timestamp(config.dataset.snapshot) if config.dataset.snapshot else None)
    challenger = load_registered_package(model_uri(name, CHALLENGER))
    baseline_name = config.baseline_model_name
    baseline_alias = CHALLENGER if alias_version(baseline_name, CHALLENGER) else CHAMPION
    baseline = load_registered_package(model_uri(baseline_name, baseline_alias))
    challenger_m = _test_metrics(challenger, ts, activities, config)
    baseline_m = _test_metrics(baseline, ts, activities, config)
    champion_m = None
    if champion_version is not None and champion_version != challenger_version:
        champion = load_registered_package(model_uri(name, CHAMPION))
        champion_m = _test_metrics(champion, ts, activities, config)
    elif champion_version == challenger_version:
        champion_m = challenger_m
    decision = gate(challenger_m, champion_m, baseline_m, config.promotion)
    if not dry_run:
        client = MlflowClient()
        client.set_model_version_tag(name, challenger_version, "gate", decision.summary())
        if decision.promote:
            client.set_registered_model_alias(name, CHAMPION, challenger_version)
            version = alias_version(baseline_name, baseline_alias)
            if version is not None:
                client.set_registered_model_alias(baseline_name, CHAMPION, version)
    return decision


def list_versions(config: Config) -> list[dict[str, Any]]:
    """Every registered version of the model and its rules baseline, newest first."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    rows = []
    for name in (config.model_name, config.baseline_model_name):
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


