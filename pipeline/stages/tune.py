"""Optuna search over LightGBM parameters, judged on the validation split.

TPE (seeded by the config seed) proposes parameters; each trial trains with early stopping on the
validation rows and reports the validation metric every few rounds, so the median pruner stops
trials that are clearly worse early. The config's default parameters are enqueued as the first
trial: the search can only return something at least as good as the defaults on validation.
Ctrl-C stops the search and keeps the best trial so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from pipeline.scorers.lightgbm import LeadScorer

REPORT_EVERY = 10
SEARCHED = ("num_leaves", "learning_rate", "min_child_samples", "lambda_l1", "lambda_l2",
            "feature_fraction", "bagging_fraction")


@dataclass
class TuningResult:
    """Best parameters and how they compare with the defaults."""

    best_params: dict[str, Any]
    best_value: float
    default_value: float
    best_iteration: int
    trials: int
    pruned: int
    interrupted: bool
    objective: str


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The search space."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 300, log=True),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": 1,
    }


def _valid_metric(objective: str, y: np.ndarray, raw: np.ndarray) -> float:
    p = 1.0 / (1.0 + np.exp(-raw))
    if objective == "auc":
        return float(roc_auc_score(y, p))
    return float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))


def tune_lightgbm(
    scorer: LeadScorer,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    trials: int,
    timeout: float | None,
    objective: str = "logloss",
    seed: int = 42,
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    trial_logger: Callable[[int, dict[str, Any], float | None, str], None] | None = None,
) -> TuningResult:
    """Search LightGBM parameters for ``scorer``'s feature table.

    Parameters
    ----------
    scorer
        An unfitted :class:`LeadScorer` whose fixed settings (monotone constraints, seed,
        threads, class weight) every trial keeps.
    trials, timeout
        Budget (whichever ends first).
    objective
        ``"logloss"`` (minimise) or ``"auc"`` (maximise) on the validation split.
    on_trial
        Called after each trial (progress bars).
    trial_logger
        Called with (number, params, value, state) for each trial (MLflow nested runs).
    """
    y_train = np.asarray(y_train)
    y_valid = np.asarray(y_valid)
    direction = "maximize" if objective == "auc" else "minimize"
    # min_child_samples varies per trial, which LightGBM only allows without pre-filtering.
    train = lgb.Dataset(X_train, label=y_train, free_raw_data=False,
                        params={"feature_pre_filter": False})
    valid = lgb.Dataset(X_valid, label=y_valid, reference=train, free_raw_data=False)
    base_params = scorer.lightgbm_params(y_train)
    iterations: dict[int, int] = {}

    def run(trial: optuna.Trial) -> float:
        params = {**base_params, **suggest(trial)}
        params["metric"] = "auc" if objective == "auc" else "binary_logloss"

        def prune(env: lgb.callback.CallbackEnv) -> None:
            if env.iteration % REPORT_EVERY:
                return
            value = env.evaluation_result_list[0][2]
            trial.report(value, env.iteration)
            if trial.should_prune():
                raise optuna.TrialPruned()

        booster = lgb.train(
            params, train, num_boost_round=scorer.n_estimators, valid_sets=[valid],
            callbacks=[lgb.early_stopping(scorer.early_stopping_rounds, verbose=False), prune],
        )
        iterations[trial.number] = int(booster.best_iteration or booster.num_trees())
        raw = booster.predict(X_valid, raw_score=True, num_iteration=iterations[trial.number])
        return _valid_metric(objective, y_valid, raw)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
    )
    defaults = {k: v for k, v in (scorer.params or {}).items() if k in SEARCHED}
    study.enqueue_trial(defaults, skip_if_exists=True)

    def after(study_: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial_logger is not None:
            trial_logger(trial.number, {**base_params, **trial.params}, trial.value,
                         trial.state.name)
        if on_trial is not None:
            on_trial(study_, trial)

    interrupted = False
    try:
        study.optimize(run, n_trials=trials, timeout=timeout, callbacks=[after],
                       catch=(lgb.basic.LightGBMError,))
    except KeyboardInterrupt:
        interrupted = True
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError("no tuning trial completed")
    best = study.best_trial
    default_value = complete[0].value if complete[0].number == 0 else float("nan")
    params = {k: v for k, v in best.params.items()}
    params["bagging_freq"] = 1
    return TuningResult(
        best_params=params,
        best_value=float(best.value),
        default_value=float(default_value),
        best_iteration=iterations.get(best.number, 0),
        trials=len(study.trials),
        pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        interrupted=interrupted,
        objective=objective,
    )
