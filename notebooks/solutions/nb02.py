"""Solutions to the exercises of notebooks/02_graph_convolution_by_hand.ipynb.

Everything is written with explicit loops over nodes and neighbours, so the tests can check it
against the matrix code in ``gnnedu.mp``.
"""

from __future__ import annotations

import math

import numpy as np

from gnnedu.data import toy


def path_adjacency() -> np.ndarray:
    """Exercise 1: the triangle without the edge v3 - v1, i.e. the path v1 - v2 - v3."""
    a = np.zeros((3, 3))
    for i, j in ((0, 1), (1, 2)):
        a[i, j] = a[j, i] = 1.0
    return a


def _neighbours(adj, i):
    return [j for j in range(len(adj)) if adj[i][j]]


def gcn_round(adj, x, w, b) -> np.ndarray:
    """One GCN round by hand: add self-loops, weight j -> i by 1/sqrt(d~_i d~_j), then
    ReLU(W m + b) (column-vector convention, as in the article's section 4.3)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    loops = [set(_neighbours(adj, i)) | {i} for i in range(n)]
    deg = [len(s) for s in loops]
    out = np.zeros((n, len(b)))
    for i in range(n):
        m = sum(x[j] / math.sqrt(deg[i] * deg[j]) for j in sorted(loops[i]))
        out[i] = np.maximum(np.asarray(w) @ m + b, 0.0)
    return out


def mean_round(adj, x, w, b) -> np.ndarray:
    """One round of the article's rule by hand: ReLU(W mean_{j in N(i)} h_j + b)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros((len(x), len(b)))
    for i in range(len(x)):
        nb = _neighbours(adj, i)
        m = sum(x[j] for j in nb) / len(nb) if nb else np.zeros(x.shape[1])
        out[i] = np.maximum(np.asarray(w) @ m + b, 0.0)
    return out


def path_round(how: str) -> np.ndarray:
    """Exercise 1: one round on the path with the article's W, b and one-hot features.

    ``how`` is ``"mean"`` (the article's rule) or ``"gcn"`` (self-loops, symmetric weights).
    On the path the degrees are 1, 2, 1, so the middle node's messages are weighted
    differently from the end nodes' and mean and symmetric normalisation no longer agree.
    """
    w, b = toy.article_weights()
    x = np.eye(3)
    if how == "mean":
        return mean_round(path_adjacency(), x, w, b)
    if how == "gcn":
        return gcn_round(path_adjacency(), x, w, b)
    raise ValueError("how must be 'mean' or 'gcn'")


def article_42_round(adj, h, w, b) -> np.ndarray:
    """Exercise 2: section 4.2 literally, with row vectors:
    ``h_i' = ReLU(sum_{j in N(i)} h_j W / sqrt(|N(i)|) + b)``."""
    h = np.asarray(h, dtype=float)
    w = np.asarray(w, dtype=float)
    out = np.zeros((len(h), w.shape[1]))
    for i in range(len(h)):
        nb = _neighbours(adj, i)
        z = np.zeros(w.shape[1])
        for j in nb:
            z += (h[j] @ w) / math.sqrt(len(nb))  # row vector times W
        out[i] = np.maximum(z + b, 0.0)
    return out


def complete_adjacency(n: int) -> np.ndarray:
    """Exercise 3: the complete graph on ``n`` nodes (every pair joined, no self-loops)."""
    return np.ones((n, n)) - np.eye(n)


def all_rows_equal(h, tol: float = 1e-12) -> bool:
    """Exercise 3: do all nodes carry the same vector?"""
    h = np.asarray(h, dtype=float)
    return bool(np.abs(h - h[0]).max() <= tol)
