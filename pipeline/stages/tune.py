"""Optuna search over a scorer's parameters, judged on the validation split.

The scorer tuned is the one its kind builds (:meth:`~pipeline.scorers.base.BaseScorer.
tuning_target`: the LightGBM model, the global one under per-segment models), and every trial
fits it through its own ``fit``, so a trial trains exactly what training will. TPE (seeded by the
config seed) proposes parameters from the scorer's ``search_space``; each trial trains with early
stopping on the validation rows and reports the validation metric every few rounds, so the median
pruner stops trials that are clearly worse early. The config's default parameters are enqueued
as the first trial: the search can only return something at least as good as the defaults on
validation.
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
from sklearn.base import clone
from sklearn.metrics import log_loss, roc_auc_score

from pipeline.data.config import Config
from pipeline.data.errors import ConfigError
from pipeline.scorers import kinds
from pipeline.scorers.base import BaseScorer
from pipeline.scorers.rules import RulesBook
from pipeline.stages.prepare import prepare

REPORT_EVERY = 10


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


def _valid_metric(objective: str, y: np.ndarray, raw: np.ndarray) -> float:
    p = 1.0 / (1.0 + np.exp(-raw))
    if objective == "auc":
        return float(roc_auc_score(y, p))
    return float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))


def tune_scorer(
    scorer: BaseScorer,
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
    sample_weight: np.ndarray | None = None,
) -> TuningResult:
    """Search the parameters of ``scorer``'s tuning target on the validation split.

    Parameters
    ----------
    scorer
        An unfitted scorer (as its kind builds it); its fixed settings (monotone constraints,
        seed, threads, class weight) every trial keeps.
    trials, timeout
        Budget (whichever ends first).
    objective
        ``"logloss"`` (minimise) or ``"auc"`` (maximise) on the validation split.
    on_trial
        Called after each trial (progress bars).
    trial_logger
        Called with (number, params, value, state) for each trial (MLflow nested runs).
    """
    target = scorer.tuning_target()
    if target is None:
        raise ConfigError(f"{type(scorer).__name__} has no parameters to tune")
    y_train = np.asarray(y_train)
    y_valid = np.asarray(y_valid)
    direction = "maximize" if objective == "auc" else "minimize"
    fixed = target.lightgbm_params(y_train)
    iterations: dict[int, int] = {}

    def run(trial: optuna.Trial) -> float:
        # min_child_samples varies per trial, which LightGBM only bins for without pre-filtering.
        params = {**(target.params or {}), **target.search_space(trial),
                  "metric": "auc" if objective == "auc" else "binary_logloss",
                  "feature_pre_filter": False}

        def prune(env: lgb.callback.CallbackEnv) -> None:
            if env.iteration % REPORT_EVERY:
                return
            value = env.evaluation_result_list[0][2]
            trial.report(value, env.iteration)
            if trial.should_prune():
                raise optuna.TrialPruned()

        # the raw model only: the trial is judged on raw log-odds, so no calibrator is fitted
        fitted = clone(target).set_params(params=params).fit_raw(
            X_train, y_train, X_valid, y_valid, sample_weight=sample_weight, callbacks=[prune])
        iterations[trial.number] = fitted.best_iteration_
        return _valid_metric(objective, y_valid, fitted.decision_function(X_valid))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
    )
    searched = set(_fixed_point(target.search_space))
    start = {**getattr(target, "search_start", {}), **(target.params or {})}
    defaults = {k: v for k, v in start.items() if k in searched}
    study.enqueue_trial(defaults, skip_if_exists=True)

    def after(study_: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial_logger is not None:
            trial_logger(trial.number, {**fixed, **trial.params}, trial.value,
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


def _fixed_point(space: Callable[[optuna.Trial], dict[str, Any]]) -> dict[str, Any]:
    """One point of a search space (its names are what the enqueued defaults may set)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    space(trial)
    return trial.params


def tune(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    trials: int,
    timeout: float | None,
    kind: str = kinds.CHALLENGER,
    rules: RulesBook | None = None,
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    trial_logger: Callable[[int, dict[str, Any], float | None, str], None] | None = None,
    split: pd.Series | None = None,
) -> TuningResult:
    """Prepare the training and validation rows and tune the scorer of ``kind`` on them.

    ``split`` (train/valid/test by lead_id) replaces the configured split, as in
    :func:`pipeline.stages.train.train_scorers`: a cross-validation fold tunes on its own rows.
    """
    prepared = prepare(config, leads, activities, split=split, parts=("train", "valid"))
    scorer = kinds.get(kind).build(prepared.scorer_context(rules))
    return tune_scorer(scorer, *prepared.fit_rows(), trials, timeout, config.tuning.objective,
                       config.seed, on_trial=on_trial, trial_logger=trial_logger,
                       sample_weight=prepared.weights())
