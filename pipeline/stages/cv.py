"""Cross-validation: every fold repeats the whole preparation and training on its own split.

Each fold is the test split once; the other folds are split into train and valid with the
configured valid fraction, so every fold repeats the whole procedure (audit, features, early
stopping, calibration) through :func:`pipeline.stages.train.train_scorers`. One random test split
of a few thousand leads moves the AUC by about +-0.01; the fold mean is the figure to compare.
"""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from pipeline.data.config import Config
from pipeline.scorers import kinds
from pipeline.scorers.rules import RulesBook
from pipeline.stages.prepare import training_set
from pipeline.stages.train import train_scorers

FOLD_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "capture_top_20")


def fold_splits(config: Config, leads: pd.DataFrame, activities: pd.DataFrame | None,
                folds: int) -> list[pd.Series]:
    """Train/valid/test by lead_id for each of ``folds`` stratified folds."""
    base = training_set(config, leads, activities)
    ids, y = base.y.index, base.y.to_numpy()
    out = []
    kfold = StratifiedKFold(folds, shuffle=True, random_state=config.seed)
    for k, (rest, test) in enumerate(kfold.split(ids.to_numpy(), y), start=1):
        share = config.split.valid_fraction / (1.0 - 1.0 / folds)
        _, valid = train_test_split(rest, test_size=share, stratify=y[rest],
                                    random_state=config.seed + k)
        split = pd.Series("train", index=ids, dtype=object)
        split.iloc[valid] = "valid"
        split.iloc[test] = "test"
        out.append(split)
    return out


def cross_validate(
    config: Config,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    rules: RulesBook,
    folds: int = 5,
    rules_source: str = "rules",
    on_fold=None,
    progress=None,
) -> pd.DataFrame:
    """Test metrics of every scorer kind on each of ``folds`` stratified folds.

    ``on_fold(k, folds)`` is called after each fold, ``progress`` with each stage's name."""
    rows = []
    for k, split in enumerate(fold_splits(config, leads, activities, folds), start=1):
        def stage(name: str, k: int = k) -> None:
            if progress is not None:
                progress(f"fold {k} of {folds}: {name}")

        result = train_scorers(config, leads, activities, rules, rules_source=rules_source,
                               split=split, n_boot=0, progress=stage)
        for name in kinds.names():
            m = result.metrics[name]
            rows.append({"fold": k, "scorer": name, **{key: m[key] for key in FOLD_METRICS}})
        if on_fold is not None:
            on_fold(k, folds)
    return pd.DataFrame(rows)
