"""ROC-AUC under many bootstrap resamples at once: what the model choice and the metrics share.

The model choice (:mod:`pipeline.scorers.selection`) compares candidates on the validation leads
and the evaluation (:mod:`pipeline.evaluation.metrics`) compares scorers on the test leads, both
with paired bootstrap intervals; one implementation serves both layers from here, the lower one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Resample-count matrices are built in blocks of about this many cells (8 bytes each: 160 MB).
BLOCK_CELLS = 20_000_000


def weighted_aucs(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``p`` under each row of ``weights`` (resample counts), ties counted half.

    Equal to ``roc_auc_score`` on the resampled rows, for all resamples at once: one sort, then
    per score level the positive weight times the negative weight below it (plus half the tied).
    A resample with one outcome only gives NaN.
    """
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * y[order], starts, axis=1)
    neg = np.add.reduceat(w * (1 - y[order]), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(divide="ignore", invalid="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Blocks of bootstrap count matrices (resamples x rows) over ``n`` rows, ``n_boot`` in all."""
    block = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        yield np.stack([np.bincount(rng.integers(0, n, n), minlength=n)
                        for _ in range(size)]).astype("float64")
