"""Exact path-dependent TreeSHAP for LightGBM boosters, much faster than ``pred_contrib``.

The values are the ones ``booster.predict(X, pred_contrib=True)`` returns (interventional-free,
"tree_path_dependent" TreeSHAP with node counts as cover, last column the expected value), but
computed with a linear-time algorithm in the spirit of Linear TreeShap (Yu et al., 2022) instead
of the classic O(T·L·D²) recursion of Lundberg et al.

Algorithm
---------
For one leaf ``l`` with value ``v`` and unique path features ``P``, let ``z_j`` be the product of
the cover ratios of the splits on feature ``j`` along the path and ``o_j`` in {0, 1} whether the
row follows all of them. The SHAP value of ``i`` in ``P`` is the Shapley sum

    phi_i = v (o_i - z_i) sum_{S subset of P - i} |S|! (|P| - 1 - |S|)! / |P|! *
            prod_{j in S} o_j prod_{j in P - i - S} z_j,

and because ``int_0^1 t^k (1 - t)^(n - k) dt = k! (n - k)! / (n + 1)!`` this equals

    phi_i = v (o_i - z_i) int_0^1 prod_{j in P - i} F_j(t) dt,   F_j(t) = z_j (1 - t) + o_j t.

The integrand is a polynomial of degree ``|P| - 1``, so an ``m``-point Gauss-Legendre rule with
``2m - 1 >= depth`` integrates it exactly: every polynomial is carried as its ``m`` values at the
Gauss nodes. Per row and tree, one top-down pass builds ``G_n(t) = prod_j F_j(t)`` at every
node (one multiplication per node by the ratio of the new to the old factor of the split
feature, precomputed per edge for the three possible cases), one bottom-up pass sums
``C_n = sum v_l G_l`` over the leaves below each node, and the edge ``e`` into ``n`` (split on
``f``) contributes ``int (o_e - z_e) / F_e(t) * (C_n(t) - sum C_n'(t)) dt`` to ``phi_f``, where
the ``n'`` are the next splits on ``f`` below ``n`` (their leaves belong to a later, more
specific factor of ``f``, so they are integrated there instead).
That is O(m) per node, so O(T·L·D) per row with a small constant and no recursion, which is
what FastTreeSHAP v2 achieves too but without its O(L·2^D) table.

Implementation: the kernel (numba, parallel over blocks of rows) pushes a block of 128 rows
through each tree together, the row index innermost, so every per-node update is a SIMD loop
over rows, the tree's precomputed constants are read once per block, and the data-dependent
choices (did the row follow this edge? did it follow the earlier splits on the feature?) are
0/1 masks instead of branches the CPU would mispredict half of the time.

Decisions replicate LightGBM's ``Tree::NumericalDecision`` / ``CategoricalDecision`` and its
dense-row conversion (values within ``kZeroThreshold`` of zero are read as 0.0).
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd
import scipy.sparse
from numba import njit, prange

logger = logging.getLogger(__name__)

# LightGBM's ``kZeroThreshold`` is the float literal 1e-35f compared in double precision.
K_ZERO_THRESHOLD = float(np.float32(1e-35))

_MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}
# Bound beyond which dump_model clips numbers (LightGBM's Common::AvoidInf).
_AVOID_INF = 1e300
# Rows advanced together through each tree by one parallel task (the kernel's inner SIMD
# loops run over them). 128 measured best on a 300-tree, 31-leaf model (16 to 512 tried): long
# enough for the loop vectoriser, small enough that one tree's scratch (nodes x Gauss points x
# rows, about 0.3 MB) stays in L2.
_LANES = 128


# Per-node arrays the builder fills one entry at a time.
_NODE_COLUMNS = (
    "is_leaf",
    "feature",
    "threshold",
    "is_categorical",
    "missing_type",
    "default_left",
    "left",
    "right",
    "cat_start",
    "cat_len",
    "value",
    "parent",
    "is_left",
    "prev",
    "ratio",
)


class UnsupportedModelError(ValueError):
    """The booster uses a feature this explainer does not implement (callers fall back)."""


@dataclass(frozen=True)
class TreeEnsemble:
    """LightGBM trees flattened into arrays, with the per-edge TreeSHAP constants precomputed.

    Nodes of each tree are stored in pre-order (parents before children), so one forward sweep
    is a top-down pass and one backward sweep a bottom-up pass. Indices in ``parent``, ``left``,
    ``right`` and ``prev`` are local to the tree; add ``tree_start[t]`` for the global row.

    Attributes
    ----------
    n_features
        Number of input columns the booster expects (``max_feature_idx + 1``).
    bias
        Sum over trees of the cover-weighted mean leaf value (the last ``pred_contrib`` column).
    tree_start
        Offsets of each tree's nodes in the node arrays, length ``n_trees + 1``.
    tree_m
        Gauss-Legendre points per tree.
    tree_edge_quad
        Offset of the tree's per-node blocks in ``edge_step`` (``3 m`` values per node) and
        ``edge_kernel`` (``2 m`` per node), in units of ``m`` values per node.
    is_leaf, feature, threshold, is_categorical, missing_type, default_left, left, right
        Node decision data (``feature`` etc. meaningful for internal nodes only).
    cat_start, cat_len, cat_bits
        Category bitsets of categorical splits (32 categories per ``uint32`` word).
    value
        Leaf values (0 for internal nodes).
    parent, is_left, prev, ratio
        Edge into each node: parent, which side, previous edge on the path splitting on the same
        feature (-1 if none), and cover ratio ``count(node) / count(parent)``.
    edge_step
        ``F_new(t) / F_old(t)`` of the edge's feature at the Gauss nodes, for the three cases
        (earlier splits on the feature satisfied and this edge followed / satisfied and not
        followed / not satisfied): ``G(node) = G(parent) * step``.
    edge_kernel
        Gauss weight times ``(o_e - z_e) / F_e(t)`` for ``o_e = 0`` and ``o_e = 1``: the edge's
        contribution is the kernel's dot product with the subtree sum ``C``.
    max_nodes, max_m
        Scratch sizes for the kernel.
    """

    n_features: int
    bias: float
    tree_start: np.ndarray
    tree_m: np.ndarray
    tree_edge_quad: np.ndarray
    is_leaf: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    is_categorical: np.ndarray
    missing_type: np.ndarray
    default_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    cat_start: np.ndarray
    cat_len: np.ndarray
    cat_bits: np.ndarray
    value: np.ndarray
    parent: np.ndarray
    is_left: np.ndarray
    prev: np.ndarray
    ratio: np.ndarray
    edge_step: np.ndarray
    edge_kernel: np.ndarray
    max_nodes: int
    max_m: int

    @property
    def n_trees(self) -> int:
        """Number of trees in the ensemble."""
        return len(self.tree_start) - 1

    @classmethod
    def from_booster(cls, booster: lgb.Booster, num_iteration: int | None = None) -> TreeEnsemble:
        """Flatten a booster's trees (as ``dump_model`` describes them).

        Parameters
        ----------
        booster
            A trained single-output LightGBM booster (binary, regression, ranking...).
        num_iteration
            Iterations to use, with ``Booster.predict``'s meaning: ``None`` takes the best
            iteration when there is one, ``<= 0`` all of them.

        Returns
        -------
        TreeEnsemble

        Raises
        ------
        UnsupportedModelError
            Multiclass / multi-output models, linear trees, unknown decision or missing types,
            nodes with zero count (their cover ratio is undefined).
        """
        return cls.from_dump(booster.dump_model(num_iteration=num_iteration))

    @classmethod
    def from_dump(cls, dump: Mapping[str, Any]) -> TreeEnsemble:
        """Flatten the dictionary returned by ``Booster.dump_model``.

        Parameters
        ----------
        dump
            ``booster.dump_model()`` output.

        Returns
        -------
        TreeEnsemble

        Raises
        ------
        UnsupportedModelError
            See :meth:`from_booster`.
        """
        if int(dump.get("num_tree_per_iteration", 1)) != 1 or int(dump.get("num_class", 1)) != 1:
            raise UnsupportedModelError(
                "multiclass / multi-output models are not supported "
                f"(num_tree_per_iteration={dump.get('num_tree_per_iteration')})"
            )
        n_features = int(dump["max_feature_idx"]) + 1
        builder = _Builder()
        bias = 0.0
        for tree in dump["tree_info"]:
            bias += builder.add_tree(tree)
        return builder.finish(n_features, bias)


class _Builder:
    """Accumulates the node arrays of :class:`TreeEnsemble`, one tree at a time."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {name: [] for name in _NODE_COLUMNS}
        self.cat_bits: list[int] = []
        self.tree_start = [0]
        self.tree_m: list[int] = []
        self.tree_edge_quad = [0]
        self.edge_step: list[np.ndarray] = []
        self.edge_kernel: list[np.ndarray] = []

    def add_tree(self, tree: Mapping[str, Any]) -> float:
        """Flatten one ``tree_info`` entry; returns its expected value (LightGBM's formula)."""
        nodes = _preorder(tree["tree_structure"])
        leaves = [nd for nd, *_ in nodes if "split_index" not in nd]
        if any("leaf_coeff" in leaf or "leaf_const" in leaf for leaf in leaves):
            raise UnsupportedModelError("linear trees (linear_tree=True) are not supported")
        expected = self._expected_value(nodes, leaves)
        n = len(nodes)
        index = {id(nd): j for j, (nd, *_) in enumerate(nodes)}
        counts = np.array([_count(nd) for nd, *_ in nodes], dtype=np.float64)
        if n > 1 and np.any(counts <= 0):
            raise UnsupportedModelError("a node has zero data count (undefined cover ratio)")

        # Per-edge quantities along each root-to-node path.
        feature = np.full(n, -1, dtype=np.int64)
        parent = np.full(n, -1, dtype=np.int64)
        prev = np.full(n, -1, dtype=np.int64)
        ratio = np.ones(n)
        zero = np.ones(n)  # z_e: product of cover ratios of the splits on the edge's feature
        zero_prev = np.ones(n)  # z before this edge (1 when the feature is new on the path)
        depth = np.zeros(n, dtype=np.int64)  # number of distinct features on the path
        last_on_path: list[dict[int, int]] = [{} for _ in range(n)]
        c = self.cols
        for j, (nd, par, side) in enumerate(nodes):
            is_split = "split_index" in nd
            c["is_leaf"].append(not is_split)
            c["value"].append(0.0 if is_split else float(nd["leaf_value"]))
            c["is_left"].append(side)
            if is_split:
                self._add_split(nd, index)
                feature[j] = int(nd["split_feature"])
            else:
                for key, default in (
                    ("feature", -1),
                    ("threshold", 0.0),
                    ("is_categorical", False),
                    ("missing_type", 0),
                    ("default_left", False),
                    ("left", -1),
                    ("right", -1),
                    ("cat_start", 0),
                    ("cat_len", 0),
                ):
                    c[key].append(default)
            if par is None:
                continue
            p = index[id(par)]
            f = int(feature[p])
            parent[j] = p
            seen = last_on_path[p]
            prev[j] = seen.get(f, -1)
            ratio[j] = counts[j] / counts[p]
            zero_prev[j] = zero[prev[j]] if prev[j] >= 0 else 1.0
            zero[j] = zero_prev[j] * ratio[j]
            last_on_path[j] = {**seen, f: j}
            depth[j] = len(last_on_path[j])
        c["parent"].extend(parent.tolist())
        c["prev"].extend(prev.tolist())
        c["ratio"].extend(ratio.tolist())

        # Exact for the integrand's degree (path features - 1): 2m - 1 >= max depth - 1.
        m = max(1, math.ceil(int(depth.max()) / 2))
        x, w = np.polynomial.legendre.leggauss(m)
        t = (x + 1.0) / 2.0
        w = w / 2.0
        zt = zero[:, None] * (1.0 - t)[None, :]
        old = zero_prev[:, None] * (1.0 - t)[None, :] + t[None, :]  # F before the edge, o = 1
        # Step from G(parent) to G(node) for: o_prev=1 and followed / o_prev=1 and not
        # followed / o_prev=0 (then F is z (1 - t) before and after, and the ratio constant).
        step = np.empty((n, 3, m))
        step[:, 0, :] = (zt + t[None, :]) / old
        step[:, 1, :] = zt / old
        step[:, 2, :] = ratio[:, None]
        # Gauss weight times (o_e - z_e) / F_e(t), for o_e = 0 (z_e cancels) and o_e = 1.
        kernel = np.empty((n, 2, m))
        kernel[:, 0, :] = (-w / (1.0 - t))[None, :]
        kernel[:, 1, :] = w[None, :] * (1.0 - zero)[:, None] / (zt + t[None, :])
        self.edge_step.append(step.ravel())
        self.edge_kernel.append(kernel.ravel())
        self.tree_m.append(m)
        self.tree_start.append(self.tree_start[-1] + n)
        self.tree_edge_quad.append(self.tree_edge_quad[-1] + n * m)
        return expected

    @staticmethod
    def _expected_value(nodes: list, leaves: list[Mapping[str, Any]]) -> float:
        # Same order and operations as LightGBM's Tree::ExpectedValue, so the bias column agrees
        # to the last bit: sum over leaf indices of (leaf_count / root_count) * leaf_value.
        if len(leaves) == 1:
            return float(leaves[0]["leaf_value"])
        total = float(nodes[0][0]["internal_count"])
        expected = 0.0
        for leaf in sorted(leaves, key=lambda lf: int(lf["leaf_index"])):
            expected += (float(leaf["leaf_count"]) / total) * float(leaf["leaf_value"])
        return expected

    def _add_split(self, nd: Mapping[str, Any], index: dict[int, int]) -> None:
        c = self.cols
        missing = nd.get("missing_type", "None")
        if missing not in _MISSING_TYPES:
            raise UnsupportedModelError(f"unknown missing_type {missing!r}")
        decision = nd.get("decision_type")
        c["feature"].append(int(nd["split_feature"]))
        c["missing_type"].append(_MISSING_TYPES[missing])
        c["default_left"].append(bool(nd.get("default_left", False)))
        c["left"].append(index[id(nd["left_child"])])
        c["right"].append(index[id(nd["right_child"])])
        if decision == "<=":
            threshold = float(nd["threshold"])
            # dump_model writes infinite thresholds as +-1e300 (Common::AvoidInf); the model
            # itself compares with the infinity (which an input of +-inf or 1e300 can tell).
            if abs(threshold) >= _AVOID_INF:
                threshold = math.copysign(math.inf, threshold)
            c["threshold"].append(threshold)
            c["is_categorical"].append(False)
            c["cat_start"].append(0)
            c["cat_len"].append(0)
        elif decision == "==":
            cats = [int(v) for v in str(nd["threshold"]).split("||") if v != ""]
            words = np.zeros(max(cats, default=0) // 32 + 1, dtype=np.uint64)
            for cat in cats:
                if cat >= 0:
                    words[cat // 32] |= np.uint64(1) << np.uint64(cat % 32)
            c["threshold"].append(0.0)
            c["is_categorical"].append(True)
            c["cat_start"].append(len(self.cat_bits))
            c["cat_len"].append(len(words))
            self.cat_bits.extend(int(v) for v in words)
        else:
            raise UnsupportedModelError(f"unknown decision_type {decision!r}")

    def finish(self, n_features: int, bias: float) -> TreeEnsemble:
        c = self.cols

        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0)

        tree_start = np.asarray(self.tree_start, dtype=np.int64)
        sizes = np.diff(tree_start)
        return TreeEnsemble(
            n_features=n_features,
            bias=float(bias),
            tree_start=tree_start,
            tree_m=np.asarray(self.tree_m, dtype=np.int64),
            tree_edge_quad=np.asarray(self.tree_edge_quad, dtype=np.int64),
            is_leaf=np.asarray(c["is_leaf"], dtype=np.bool_),
            feature=np.asarray(c["feature"], dtype=np.int64),
            threshold=np.asarray(c["threshold"], dtype=np.float64),
            is_categorical=np.asarray(c["is_categorical"], dtype=np.bool_),
            missing_type=np.asarray(c["missing_type"], dtype=np.int64),
            default_left=np.asarray(c["default_left"], dtype=np.bool_),
            left=np.asarray(c["left"], dtype=np.int64),
            right=np.asarray(c["right"], dtype=np.int64),
            cat_start=np.asarray(c["cat_start"], dtype=np.int64),
            cat_len=np.asarray(c["cat_len"], dtype=np.int64),
            cat_bits=np.asarray(self.cat_bits, dtype=np.uint32).reshape(-1),
            value=np.asarray(c["value"], dtype=np.float64),
            parent=np.asarray(c["parent"], dtype=np.int64),
            is_left=np.asarray(c["is_left"], dtype=np.bool_),
            prev=np.asarray(c["prev"], dtype=np.int64),
            ratio=np.asarray(c["ratio"], dtype=np.float64),
            edge_step=cat(self.edge_step),
            edge_kernel=cat(self.edge_kernel),
            max_nodes=int(sizes.max()) if len(sizes) else 1,
            max_m=max(self.tree_m, default=1),
        )


def _preorder(root: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Any, bool]]:
    """Nodes as (node, parent, is_left_child) in pre-order, left subtree first."""
    out = []
    stack: list[tuple[Mapping[str, Any], Any, bool]] = [(root, None, False)]
    while stack:
        nd, par, side = stack.pop()
        out.append((nd, par, side))
        if "split_index" in nd:
            stack.append((nd["right_child"], nd, False))
            stack.append((nd["left_child"], nd, True))
    return out


def _count(nd: Mapping[str, Any]) -> int:
    # LightGBM's Tree::data_count: internal_count for splits, leaf_count for leaves.
    return int(nd["internal_count"] if "split_index" in nd else nd.get("leaf_count", 0))


@njit(cache=True, inline="always")
def _in_category(x, cat_bits, cat_start, cat_len):
    """LightGBM's Tree::CategoricalDecision: True (left) when ``x`` is in the split's set."""
    # static_cast<int> of NaN or of values <= -1 is negative (right child); values in (-1, 0)
    # truncate to category 0; beyond the bitset nothing is in the set.
    if not (x > -1.0 and x < 2147483648.0):
        return False
    cat = int(x)
    word = cat >> 5
    if word >= cat_len:
        return False
    return ((cat_bits[cat_start + word] >> np.uint32(cat & 31)) & np.uint32(1)) != 0


@njit(cache=True, inline="always")
def _decide(xcol, dst, n, is_cat, missing, default_left, threshold, cat_bits, cat_start, cat_len):
    """LightGBM's Tree::NumericalDecision / CategoricalDecision for ``n`` values at one node.

    ``dst[b]`` is True when ``xcol[b]`` goes to the left child. The node-type branch is taken
    once per node; inside, the loops are branch-free (selects), so they vectorise.
    """
    if is_cat:
        for b in range(n):
            dst[b] = _in_category(xcol[b], cat_bits, cat_start, cat_len)
    elif missing == 2:  # NaN: NaN goes the default way (x <= t is False for NaN)
        for b in range(n):
            x = xcol[b]
            dst[b] = (x <= threshold) | ((x != x) & default_left)
    elif missing == 1:  # Zero: NaN is read as 0.0, and 0.0 goes the default way
        for b in range(n):
            x = xcol[b]
            is_zero = (x != x) | ((x >= -K_ZERO_THRESHOLD) & (x <= K_ZERO_THRESHOLD))
            dst[b] = (is_zero & default_left) | (~is_zero & (x <= threshold))
    else:  # None: NaN is read as 0.0
        zero_left = threshold >= 0.0
        for b in range(n):
            x = xcol[b]
            dst[b] = (x <= threshold) | ((x != x) & zero_left)


@njit(parallel=True, cache=True)
def _shap_kernel(
    X,
    out,
    bias,
    tree_start,
    tree_m,
    tree_edge_quad,
    is_leaf,
    feature,
    threshold,
    is_categorical,
    missing_type,
    default_left,
    cat_start,
    cat_len,
    cat_bits,
    value,
    parent,
    is_left,
    prev,
    edge_step,
    edge_kernel,
    max_nodes,
    max_m,
):  # pragma: no cover - compiled
    """Fill ``out`` (n, n_features + 1) with TreeSHAP values; blocks of rows run in parallel."""
    n_rows, n_features = X.shape
    n_trees = tree_start.shape[0] - 1
    n_blocks = (n_rows + _LANES - 1) // _LANES
    for blk in prange(n_blocks):
        r0 = blk * _LANES
        n_valid = min(n_rows, r0 + _LANES) - r0
        # Lanes in use: whole SIMD registers (extra lanes see zeros and are never written out).
        nl = (n_valid + 7) // 8 * 8
        # A block of rows goes through each tree together, the row (lane) index innermost: the
        # per-node polynomial updates become SIMD loops over rows, one tree's constants stay in
        # L1 for the whole block, and the per-row choices (followed or not, earlier splits on
        # the feature satisfied or not) are 0/1 masks instead of mispredicted branches.
        g = np.empty((max_nodes, max_m, _LANES))
        c = np.empty((max_nodes, max_m, _LANES))
        on = np.empty((max_nodes, _LANES))
        go_left = np.empty((max_nodes, _LANES), dtype=np.bool_)
        a0 = np.empty(_LANES)
        a1 = np.empty(_LANES)
        a2 = np.empty(_LANES)
        acc = np.empty(_LANES)
        xt = np.zeros((n_features, _LANES))
        phi = np.zeros((n_features, _LANES))
        for i in range(n_valid):
            for f in range(n_features):
                v = X[r0 + i, f]
                # LightGBM's dense-row reader drops |x| <= kZeroThreshold, i.e. reads it as 0.
                xt[f, i] = 0.0 if abs(v) <= K_ZERO_THRESHOLD else v
        for t in range(n_trees):
            s = tree_start[t]
            nn = tree_start[t + 1] - s
            if nn == 1:
                continue
            m = tree_m[t]
            eq = tree_edge_quad[t]
            for k in range(m):
                for b in range(nl):
                    g[0, k, b] = 1.0
            for b in range(nl):
                on[0, b] = 1.0
            _decide(
                xt[feature[s]],
                go_left[0],
                nl,
                is_categorical[s],
                missing_type[s],
                default_left[s],
                threshold[s],
                cat_bits,
                cat_start[s],
                cat_len[s],
            )
            # Top-down: o_e and G at every node (C = v * G at leaves).
            for j in range(1, nn):
                gj = s + j
                p = parent[gj]
                pv = prev[gj]
                side = is_left[gj]
                for b in range(nl):
                    follow = 1.0 if go_left[p, b] == side else 0.0
                    o_prev = on[pv, b] if pv >= 0 else 1.0
                    o_new = o_prev * follow
                    on[j, b] = o_new
                    a0[b] = o_new
                    a1[b] = o_prev - o_new
                    a2[b] = 1.0 - o_prev
                st = 3 * (eq + j * m)
                for k in range(m):
                    # One-hot masks pick one of the three precomputed steps exactly.
                    s0 = edge_step[st + k]
                    s1 = edge_step[st + m + k]
                    s2 = edge_step[st + 2 * m + k]
                    for b in range(nl):
                        g[j, k, b] = g[p, k, b] * (a0[b] * s0 + a1[b] * s1 + a2[b] * s2)
                if is_leaf[gj]:
                    v = value[gj]
                    for k in range(m):
                        for b in range(nl):
                            c[j, k, b] = v * g[j, k, b]
                else:
                    _decide(
                        xt[feature[gj]],
                        go_left[j],
                        nl,
                        is_categorical[gj],
                        missing_type[gj],
                        default_left[gj],
                        threshold[gj],
                        cat_bits,
                        cat_start[gj],
                        cat_len[gj],
                    )
            # Bottom-up (reverse pre-order: a right child comes before its left sibling).
            for j in range(nn - 1, 0, -1):
                gj = s + j
                p = parent[gj]
                pv = prev[gj]
                kn = 2 * (eq + j * m)
                for b in range(nl):
                    acc[b] = 0.0
                if pv < 0:
                    for k in range(m):
                        q0 = edge_kernel[kn + k]
                        dq = edge_kernel[kn + m + k] - q0
                        for b in range(nl):
                            acc[b] += (q0 + on[j, b] * dq) * c[j, k, b]
                else:
                    # The leaves below j are integrated with j's (later) factor of the
                    # feature, so they are taken out of the earlier split pv's integral.
                    pk = 2 * (eq + pv * m)
                    for k in range(m):
                        q0 = edge_kernel[kn + k]
                        dq = edge_kernel[kn + m + k] - q0
                        p0 = edge_kernel[pk + k]
                        dp = edge_kernel[pk + m + k] - p0
                        for b in range(nl):
                            kern = (q0 + on[j, b] * dq) - (p0 + on[pv, b] * dp)
                            acc[b] += kern * c[j, k, b]
                f = feature[s + p]
                for b in range(nl):
                    phi[f, b] += acc[b]
                if is_left[gj]:
                    for k in range(m):
                        for b in range(nl):
                            c[p, k, b] += c[j, k, b]
                else:
                    for k in range(m):
                        for b in range(nl):
                            c[p, k, b] = c[j, k, b]
        for i in range(n_valid):
            for f in range(n_features):
                out[r0 + i, f] = phi[f, i]
            out[r0 + i, n_features] = bias


@contextmanager
def _numba_threads(n_jobs: int | None):
    """Run with ``n_jobs`` numba threads (None or <= 0: keep the current setting)."""
    if n_jobs is None or n_jobs <= 0:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(min(int(n_jobs), numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(before)


class TreeShapExplainer:
    """Exact TreeSHAP contributions of a LightGBM booster, identical to ``pred_contrib``.

    The trees are flattened once at construction; keep the explainer to reuse them.

    Parameters
    ----------
    booster
        Trained single-output booster (binary, regression, ranking, ...).
    num_iteration
        Iterations to explain, as in ``Booster.predict``: ``None`` uses the best iteration when
        the booster has one, ``<= 0`` all iterations.
    n_jobs
        Default number of numba threads for :meth:`contributions`; ``None`` keeps numba's
        current setting (``numba.set_num_threads``).

    Raises
    ------
    UnsupportedModelError
        For multiclass models, linear trees, unknown decision types (use
        :func:`explain_contributions` to fall back to ``pred_contrib`` automatically).

    Examples
    --------
    >>> explainer = TreeShapExplainer(booster)  # doctest: +SKIP
    >>> phi = explainer.contributions(X)  # doctest: +SKIP
    >>> np.allclose(phi, booster.predict(X, pred_contrib=True))  # doctest: +SKIP
    True
    """

    def __init__(
        self, booster: lgb.Booster, num_iteration: int | None = None, n_jobs: int | None = None
    ) -> None:
        self.booster = booster
        self.num_iteration = num_iteration
        self.n_jobs = n_jobs
        self.ensemble = TreeEnsemble.from_booster(booster, num_iteration=num_iteration)
        self.pandas_categorical = getattr(booster, "pandas_categorical", None)

    @property
    def expected_value(self) -> float:
        """The bias column: the model's expected raw score under the training cover."""
        return self.ensemble.bias

    def to_matrix(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Convert input rows to the float64 matrix LightGBM itself would predict on.

        Parameters
        ----------
        X
            2-D numpy array or pandas DataFrame. Pandas categoricals become their category codes
            in the training categories (unseen or missing: NaN), exactly as in
            ``Booster.predict``; numpy arrays that are neither float32 nor float64 are rounded
            through float32, as LightGBM does.

        Returns
        -------
        numpy.ndarray
            C-contiguous float64 array of shape ``(n, n_features)``.
        """
        if scipy.sparse.issparse(X):
            raise TypeError(
                "sparse input is not supported by the fast explainer; pass a dense array "
                "(explain_contributions falls back to pred_contrib for it)"
            )
        if isinstance(X, pd.DataFrame):
            # LightGBM's own pandas conversion (private, but it is the definition of "the same").
            X = lgb.basic._data_from_pandas(
                data=X,
                feature_name="auto",
                categorical_feature="auto",
                pandas_categorical=self.pandas_categorical,
            )[0]
        else:
            X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float32)
        if X.shape[1] != self.ensemble.n_features:
            raise ValueError(
                f"X has {X.shape[1]} columns but the model was trained on "
                f"{self.ensemble.n_features} features"
            )
        return np.ascontiguousarray(X, dtype=np.float64)

    def contributions(self, X: np.ndarray | pd.DataFrame, n_jobs: int | None = None) -> np.ndarray:
        """Per-feature TreeSHAP values plus the expected value, like ``pred_contrib=True``.

        Parameters
        ----------
        X
            Rows to explain (see :meth:`to_matrix`).
        n_jobs
            Numba threads for this call; defaults to the explainer's ``n_jobs``.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, n_features + 1)``: contributions in raw-score space, last column the
            expected value. Each row sums to the raw prediction.
        """
        mat = self.to_matrix(X)
        e = self.ensemble
        out = np.empty((mat.shape[0], e.n_features + 1), dtype=np.float64)
        if mat.shape[0] == 0:
            return out
        with _numba_threads(self.n_jobs if n_jobs is None else n_jobs):
            _shap_kernel(
                mat,
                out,
                e.bias,
                e.tree_start,
                e.tree_m,
                e.tree_edge_quad,
                e.is_leaf,
                e.feature,
                e.threshold,
                e.is_categorical,
                e.missing_type,
                e.default_left,
                e.cat_start,
                e.cat_len,
                e.cat_bits,
                e.value,
                e.parent,
                e.is_left,
                e.prev,
                e.edge_step,
                e.edge_kernel,
                e.max_nodes,
                e.max_m,
            )
        return out


# One explainer per live booster, so repeated calls do not re-dump and re-flatten the trees.
_EXPLAINERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_explainer(booster: lgb.Booster, num_iteration: int | None) -> TreeShapExplainer:
    # Adding trees (booster.update) changes current_iteration, which invalidates the entry.
    key = (num_iteration, booster.current_iteration(), booster.num_trees())
    try:
        cached_key, explainer = _EXPLAINERS[booster]
        if cached_key == key:
            return explainer
    except (KeyError, TypeError):
        pass
    explainer = TreeShapExplainer(booster, num_iteration=num_iteration)
    with suppress(TypeError):  # not weak-referenceable: just do not cache
        _EXPLAINERS[booster] = (key, explainer)
    return explainer


def explain_contributions(
    booster: lgb.Booster,
    X: np.ndarray | pd.DataFrame,
    n_jobs: int | None = None,
    num_iteration: int | None = None,
) -> np.ndarray:
    """TreeSHAP contributions via the fast explainer, or ``pred_contrib`` when it cannot.

    Parameters
    ----------
    booster
        Trained LightGBM booster.
    X
        Rows to explain (numpy array or pandas DataFrame).
    n_jobs
        Threads (numba threads for the fast path, ``num_threads`` for the fallback).
    num_iteration
        As in ``Booster.predict``.

    Returns
    -------
    numpy.ndarray
        ``(n, n_features + 1)`` contributions, last column the expected value; identical to
        ``booster.predict(X, pred_contrib=True)``.

    Notes
    -----
    The fallback (multiclass models, ``linear_tree=True``, unknown decision types, scipy sparse
    input) logs a warning with the reason and returns LightGBM's own ``pred_contrib`` output:
    ``(n, n_classes * (n_features + 1))`` for multiclass models, a sparse matrix for sparse
    input, and LightGBM 4.x raises its own error for linear trees (it has no SHAP for them).

    The flattened trees are cached per booster object; after editing leaves in place
    (``set_leaf_output``), build a new :class:`TreeShapExplainer` instead.
    """
    reason = None
    if scipy.sparse.issparse(X):
        reason = "sparse input (the fast explainer takes dense arrays and DataFrames)"
    else:
        try:
            explainer = _cached_explainer(booster, num_iteration)
        except UnsupportedModelError as exc:
            reason = str(exc)
    if reason is not None:
        logger.warning(
            "fast TreeSHAP unavailable, falling back to LightGBM pred_contrib: %s", reason
        )
        kwargs: dict[str, Any] = {}
        if n_jobs is not None and n_jobs > 0:
            kwargs["num_threads"] = int(n_jobs)
        return booster.predict(X, pred_contrib=True, num_iteration=num_iteration, **kwargs)
    return explainer.contributions(X, n_jobs=n_jobs)
