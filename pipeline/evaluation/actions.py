"""The model's next best action against a known truth: top-1 agreement and rank correlation.

Only a synthetic world knows what an action truly does (:mod:`pipeline.synth.oracle`); there the
model's predicted gains (:mod:`pipeline.explain.whatif`) are judged by how often its best action
is the true best one, and by the Spearman correlation of predicted and true gains over every
(lead, action) pair. Both come with bootstrap intervals over leads, like every quality figure.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr


def action_agreement(predicted: np.ndarray, true: np.ndarray, n_boot: int = 200,
                     seed: int = 0, confidence: float = 0.95) -> dict[str, float]:
    """Top-1 agreement and Spearman of predicted vs true gains, leads x actions.

    Returns ``top1``, ``top1_low``, ``top1_high``, ``spearman``, ``spearman_low``,
    ``spearman_high``, ``leads`` and ``tie_share`` (leads whose true best two actions are within
    1 % of each other, where a disagreement says little).
    """
    predicted, true = np.asarray(predicted, dtype="float64"), np.asarray(true, dtype="float64")
    if predicted.shape != true.shape or predicted.ndim != 2:
        raise ValueError("predicted and true gains must be leads x actions of one shape")
    n = len(predicted)
    hit = predicted.argmax(axis=1) == true.argmax(axis=1)

    def rho(rows: np.ndarray) -> float:
        return float(spearmanr(predicted[rows].ravel(), true[rows].ravel()).statistic)

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    top1 = hit[draws].mean(axis=1)
    rhos = np.array([rho(rows) for rows in draws])
    tail = (1 - confidence) / 2 * 100
    ordered = np.sort(true, axis=1)
    tie = (ordered[:, -1] - ordered[:, -2]) <= 0.01 * np.abs(ordered[:, -1])
    return {
        "leads": n, "top1": float(hit.mean()),
        "top1_low": float(np.percentile(top1, tail)),
        "top1_high": float(np.percentile(top1, 100 - tail)),
        "spearman": rho(np.arange(n)),
        "spearman_low": float(np.percentile(rhos, tail)),
        "spearman_high": float(np.percentile(rhos, 100 - tail)),
        "tie_share": float(tie.mean()),
    }
