"""``leadscore tune``: Optuna over LightGBM on the training split, each trial an MLflow run."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.data.artifacts import Paths, write_yaml
from pipeline.data.config import Config
from pipeline.cli.console import err, out, progress
from pipeline.data.dataset import build_training_set
from pipeline.scorers.lightgbm import LeadScorer
from pipeline.stages.train import _activities_of, excluded_by_audit, feature_settings, run_audit
from pipeline.stages.tune import tune_lightgbm


def run_tuning(config: Config, paths: Paths, data, trials: int | None, timeout: float | None,
               track: bool) -> dict:
    """Search, write best_params.yaml, print default vs best validation figures."""
    from features.build import FeatureBuilder

    leads, activities = data
    trials = trials or config.tuning.trials
    timeout = timeout if timeout is not None else config.tuning.timeout_seconds
    ts = build_training_set(
        leads, activities, config.dataset.mode, config.dataset.as_of, config.dataset.horizon_days,
        config.split, config.seed,
        snapshot=pd.Timestamp(config.dataset.snapshot) if config.dataset.snapshot else None)
    settings = feature_settings(config, excluded_by_audit(run_audit(ts, config)))
    train_ids, valid_ids = ts.part("train"), ts.part("valid")
    as_of = ts.as_of if config.dataset.mode == "events" else None
    builder = FeatureBuilder(settings).fit(
        ts.leads.loc[train_ids].reset_index(drop=True), _activities_of(activities, train_ids),
        None if as_of is None else as_of.loc[train_ids])
    ids = train_ids.append(valid_ids)
    X = builder.transform(ts.leads.loc[ids].reset_index(drop=True), activities,
                          None if as_of is None else as_of.loc[ids])
    mc = config.model
    scorer = LeadScorer(spec=builder.spec_, params=dict(mc.params), n_estimators=mc.n_estimators,
                        early_stopping_rounds=mc.early_stopping_rounds,
                        class_weight=mc.class_weight, monotone=dict(mc.monotone),
                        use_spec_monotone=mc.use_spec_monotone, random_state=config.seed,
                        n_jobs=mc.n_jobs)
    logger = None
    parent = None
    if track:
        import mlflow

        parent = mlflow.start_run(run_name=f"tune-{config.dataset.name}",
                                  tags={"dataset": config.dataset.name, "stage": "tune"})

        def logger(number, params, value, state):
            with mlflow.start_run(run_name=f"trial-{number}", nested=True,
                                  tags={"state": state}):
                mlflow.log_params({k: str(v) for k, v in params.items()})
                if value is not None and math.isfinite(value):
                    mlflow.log_metric(f"valid_{config.tuning.objective}", value)
    try:
        with progress("trials") as bar:
            task = bar.add_task("tune", total=trials, rate="")

            def on_trial(study, trial):
                elapsed = bar.tasks[task].elapsed or 1e-9
                bar.update(task, advance=1, rate=f"{len(study.trials) / elapsed:.2f}")

            result = tune_lightgbm(
                scorer, X.loc[train_ids], ts.y.loc[train_ids].to_numpy(), X.loc[valid_ids],
                ts.y.loc[valid_ids].to_numpy(), trials, timeout, config.tuning.objective,
                config.seed, on_trial=on_trial, trial_logger=logger)
        if parent is not None:
            import mlflow

            mlflow.log_metrics({"best_value": result.best_value,
                                "default_value": result.default_value})
            mlflow.log_params({f"best.{k}": str(v) for k, v in result.best_params.items()})
    finally:
        if parent is not None:
            import mlflow

            mlflow.end_run()
    summary = {
        "objective": f"valid_{result.objective}", "default": result.default_value,
        "best": result.best_value, "trials": result.trials, "pruned": result.pruned,
        "interrupted": result.interrupted, "best_iteration": result.best_iteration,
    }
    write_yaml(paths.best_params, {"params": result.best_params, "summary": summary})
    if result.interrupted:
        err.print("[yellow]interrupted: kept the best trial so far[/]")
    out.print(f"validation {result.objective}: defaults {result.default_value:.5f} -> best "
              f"{result.best_value:.5f} after {result.trials} trials ({result.pruned} pruned); "
              f"wrote {paths.best_params}")
    return summary
