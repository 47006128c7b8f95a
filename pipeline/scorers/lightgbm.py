"""LeadScorer: LightGBM on the feature table, calibrated on the validation split.

Native categoricals (the feature table's pandas categories), early stopping on the validation
rows, optional monotone constraints (business directions from the feature spec and the config),
deterministic for a seed. Its additive raw space is log-odds; the exact per-feature shares come
from TreeSHAP (:mod:`pipeline.scorers.treeshap`, identical to LightGBM's ``pred_contrib``).
"""

from __future__ import annotations

import functools
import os
import re
import time
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.spec import FeatureSpec
from pipeline.scorers.base import BaseScorer, monotone_directions
from pipeline.scorers.treeshap import explain_contributions

if TYPE_CHECKING:
    import optuna

    from pipeline.scorers.kinds import ScorerContext

_NUM_THREADS = re.compile(r"^\[num_threads: \d+\]$", re.MULTILINE)
FIXED_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
}


class LeadScorer(BaseScorer):
    """Calibrated LightGBM lead scorer.

    Parameters
    ----------
    spec
        Feature spec of the table it is fitted on (factor of each column, monotone directions).
    params
        LightGBM parameters (tuned values go here).
    n_estimators
        Upper bound on boosting rounds; early stopping on the valid split picks the number.
    early_stopping_rounds
        Patience of early stopping.
    class_weight
        ``"none"`` or ``"balanced"`` (reweights positives by negatives/positives; the calibrator
        maps the raw value back to a true probability either way).
    monotone
        ``{feature: -1|0|+1}``: constraints on top of the spec's.
    use_spec_monotone
        Apply the spec's business directions as constraints.
    calibration_methods, cv_folds
        Calibrator candidates and the folds that choose among them.
    random_state
        Seed for bagging and feature sampling.
    n_jobs
        LightGBM and TreeSHAP threads (the trees are the same for any number:
        ``deterministic``), or ``"auto"``: kept as given, so a saved model does not depend on how
        busy the training machine was, and resolved once per process where it is used
        (:attr:`threads`, :func:`auto_threads`).
    init_model
        A fitted booster to continue from (its trees come first, ``n_estimators`` more rounds
        at most): how a product line's model refines the global one on its own leads.
    """


    def __init__(
        self,
        spec: FeatureSpec,
        params: dict[str, Any] | None = None,
        n_estimators: int = 2000,
        early_stopping_rounds: int = 100,
        class_weight: str = "none",
        monotone: dict[str, int] | None = None,
        use_spec_monotone: bool = True,
        calibration_methods: tuple[str, ...] = ("isotonic", "sigmoid"),
        cv_folds: int = 5,
        random_state: int = 42,
        n_jobs: int | str = 2,
        init_model: lgb.Booster | None = None,
    ):
        self.spec = spec
        self.params = params
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.class_weight = class_weight
        self.monotone = monotone
        self.use_spec_monotone = use_spec_monotone
        self.calibration_methods = calibration_methods
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.init_model = init_model

    @property
    def threads(self) -> int:
        """The threads ``n_jobs`` means in this process."""
        return threads_for(self.n_jobs)

    def lightgbm_params(self, y: np.ndarray | None = None) -> dict[str, Any]:
        """The full LightGBM parameter set used for training."""
        params = {**(self.params or {}), **FIXED_PARAMS}
        params["seed"] = self.random_state
        params["num_threads"] = self.threads
        constraints = self.monotone_constraints()
        if any(constraints):
            params["monotone_constraints"] = constraints
        if self.class_weight == "balanced" and y is not None:
            positives = max(int(np.sum(y)), 1)
            params["scale_pos_weight"] = (len(y) - positives) / positives
        return params

    def monotone_constraints(self) -> list[int]:
        """Constraint per feature (0 for categoricals, which LightGBM cannot constrain)."""
        return monotone_directions(self.spec, self.monotone, self.use_spec_monotone)

    def _fit_raw(self, X, y, X_valid, y_valid, sample_weight=None, callbacks=()) -> None:
        params = self.lightgbm_params(y)
        train = lgb.Dataset(X, label=y, weight=sample_weight, free_raw_data=False)
        valid = lgb.Dataset(X_valid, label=y_valid, reference=train, free_raw_data=False)
        # the validation metric per round: its last digits depend on the thread count, so it is
        # not kept (a saved model would then depend on how busy the machine was), only its length
        evals: dict[str, Any] = {}
        self.booster_ = lgb.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            valid_sets=[valid],
            valid_names=["valid"],
            init_model=self.init_model,
            callbacks=[
                lgb.early_stopping(self.early_stopping_rounds, verbose=False),
                lgb.record_evaluation(evals),
                *callbacks,
            ],
        )
        self.rounds_grown_ = len(next(iter(evals["valid"].values())))
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.num_trees())
        # Keep only the trees early stopping chose, so every later call sees one model. The
        # model string's parameters would record this run's thread count: 0 (OpenMP's default)
        # in its place keeps the saved model the same on a busy machine and a quiet one.
        self.booster_ = lgb.Booster(model_str=_NUM_THREADS.sub(
            "[num_threads: 0]", self.booster_.model_to_string(num_iteration=self.best_iteration_)))
        # The expected raw value of the ensemble; for one row LightGBM's own pred_contrib is
        # cheaper than building the fast explainer (0.75 s per model, which tuning paid per
        # trial), and gives the same bits.
        self.base_raw_ = float(self.booster_.predict(X.iloc[:1], pred_contrib=True,
                                                     num_threads=self.threads)[0, -1])

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds per lead."""
        return self.booster_.predict(X, raw_score=True, num_threads=self.threads)

    def _raw_contributions(self, X: pd.DataFrame) -> np.ndarray:
        # The fast exact explainer (equal to pred_contrib to 1e-6); it falls back to pred_contrib
        # itself, with a logged reason, for models it cannot read.
        return explain_contributions(self.booster_, X, n_jobs=self.threads)

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
        """Exact TreeSHAP log-odds shares per feature, and the expected log-odds."""
        contrib = self._raw_contributions(X)
        shares = pd.DataFrame(contrib[:, :-1], index=X.index, columns=list(self.spec.names))
        return shares, float(contrib[0, -1]) if len(contrib) else self.base_raw_

    # -- hooks ----------------------------------------------------------------------------------
    def fit_metrics(self) -> dict[str, float]:
        """Boosting rounds early stopping kept."""
        return {"best_iteration": self.best_iteration_}

    def tracking_params(self) -> dict[str, str]:
        """The full LightGBM parameter set, as logged to MLflow."""
        return {f"lightgbm.{k}": str(v) for k, v in self.lightgbm_params().items()}

    def tuning_target(self) -> LeadScorer:
        """Itself: ``leadscore tune`` searches its LightGBM ``params``."""
        return self

    @staticmethod
    def search_space(trial: optuna.Trial) -> dict[str, Any]:
        """Optuna's proposal for one trial (``bagging_freq`` fixed: bagging every round).

        Shaped after FLAML's LightGBM space, which beat the narrower one on X Education and the
        demo world: trees from 4 leaves and leaves from 2 leads (a weak or small data set wants
        tiny, heavily regularised trees), L1/L2 penalties over six orders of magnitude, column
        sampling down to 10 % and the histogram resolution (``max_bin``) searched too. Unlike
        FLAML the number of rounds is not searched: early stopping on the validation rows picks
        it for every learning rate, which costs one fit where FLAML spends several.
        """
        return {
            "num_leaves": trial.suggest_int("num_leaves", 4, 256, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 2, 256, log=True),
            "lambda_l1": trial.suggest_float("lambda_l1", 1 / 1024, 1024.0, log=True),
            "lambda_l2": trial.suggest_float("lambda_l2", 1 / 1024, 1024.0, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.1, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "max_bin": trial.suggest_int("max_bin", 15, 1023, log=True),
            "bagging_freq": 1,
        }

    #: Where the first trial starts for the searched names the config leaves unset: LightGBM's
    #: own histogram and (almost) no L1 penalty, so that trial is the untuned model.
    search_start: dict[str, Any] = {"max_bin": 255, "lambda_l1": 1 / 1024}


def other_processes_load(interval: float = 0.25) -> float:
    """Cores' worth of CPU that other processes used over the next ``interval`` seconds.

    Sampled now rather than read from the load average, which lags a minute behind: a job that
    just started is what makes OpenMP threads wait on each other.
    """
    import psutil

    def busy(t) -> float:
        return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)

    me = psutil.Process()
    before, own_before = busy(psutil.cpu_times()), sum(me.cpu_times()[:2])
    time.sleep(interval)
    own = sum(me.cpu_times()[:2]) - own_before
    return max(busy(psutil.cpu_times()) - before - own, 0.0) / interval


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_n_jobs(n_jobs: int | str) -> tuple[int, str]:
    """LightGBM and TreeSHAP threads for ``model.n_jobs``, and how they were chosen.

    A number is used as is. ``auto`` takes the usable cores minus the cores other processes keep
    busy (rounded), at least one: a thread that has to share its core with another job makes every
    other thread wait for it at each boosting round. The trees do not depend on the count
    (``deterministic``), so neither does the model.
    """
    if n_jobs != "auto":
        return int(n_jobs), "model.n_jobs"
    cores, load = usable_cores(), other_processes_load()
    threads = max(1, min(cores, cores - round(load)))
    return threads, f"model.n_jobs auto: {cores} usable cores, other processes busy on {load:.1f}"


@functools.cache
def auto_threads() -> tuple[int, str]:
    """``model.n_jobs: auto`` decided once per process: every model of a run (tuning trials,
    candidates, segments) then uses the count the CLI states."""
    return resolve_n_jobs("auto")


def threads_for(n_jobs: int | str) -> int:
    """The threads ``model.n_jobs`` means in this process (``auto``: :func:`auto_threads`)."""
    return auto_threads()[0] if n_jobs == "auto" else int(n_jobs)


def build(ctx: ScorerContext) -> BaseScorer:
    """The ``model`` kind: LightGBM from ``model:`` (tuned params on top), per segment when
    ``dataset.segment`` is set."""
    from pipeline.scorers.segmented import SegmentedScorer

    config = ctx.config
    mc = config.model
    model = LeadScorer(
        spec=ctx.spec, params={**mc.params, **(ctx.tuned_params or {})},
        n_estimators=mc.n_estimators, early_stopping_rounds=mc.early_stopping_rounds,
        class_weight=mc.class_weight, monotone=dict(mc.monotone),
        use_spec_monotone=mc.use_spec_monotone,
        calibration_methods=tuple(config.calibration.methods),
        cv_folds=config.calibration.cv_folds, random_state=config.seed,
        n_jobs=mc.n_jobs,
    )
    if ctx.segment is None:
        return model
    guard = config.guard
    return SegmentedScorer(model, ctx.segment, guard.min_segment_conversions,
                           guard.min_segment_valid_conversions, mc.segment_min_auc_gain)
