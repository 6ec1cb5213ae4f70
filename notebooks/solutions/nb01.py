"""Solutions to the exercises of notebooks/01_recommendation_as_a_graph.ipynb."""

from __future__ import annotations

import numpy as np


def user_based_scores(likes, user: int) -> np.ndarray:
    """Exercise 1: user-based CF, ``s_u = sum_{v != u} (L L^T)_{uv} L_v``.

    ``(L L^T)_{uv}`` counts the movies ``u`` and ``v`` both liked. Item-based CF scores
    ``L L^T L`` include the ``v = u`` term ``(L L^T)_{uu} L_u``, which is nonzero only on movies
    ``u`` already liked; after masking seen movies the two methods rank identically whenever
    the similarities are raw counts.
    """
    lk = np.asarray(likes, dtype=float)
    sim = lk @ lk.T
    sim[user, user] = 0.0  # the user is not their own neighbour
    return sim[user] @ lk


def cosine_item_similarity(likes) -> np.ndarray:
    """Exercise 2: ``C_xy / sqrt(C_xx C_yy)`` with ``C = L^T L`` (0 for never-liked movies).

    Dividing by the popularity of both movies stops a movie liked by everyone from being
    "similar" to everything.
    """
    lk = np.asarray(likes, dtype=float)
    c = lk.T @ lk
    d = np.sqrt(np.diag(c))
    denom = np.outer(d, d)
    return np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)


def recommend(likes, seen, similarity) -> list[int]:
    """Best unseen movie per user under item-item ``similarity`` (-1 when every score is 0).

    Scores are ``L @ similarity``; ties go to the lower movie index.
    """
    scores = np.asarray(likes, dtype=float) @ np.asarray(similarity, dtype=float)
    scores = np.where(np.asarray(seen, dtype=bool), -np.inf, scores)
    best = scores.argmax(axis=1)
    return [int(b) if scores[u, b] > 0 else -1 for u, b in enumerate(best)]


def count_walks(adj, i: int, j: int, length: int) -> int:
    """Exercise 3: walks of ``length`` steps from ``i`` to ``j``: ``(A^length)_{ij}``."""
    if length < 0:
        raise ValueError("length must be >= 0")
    a = (np.asarray(adj) > 0).astype(np.int64)
    return int(np.linalg.matrix_power(a, length)[i, j])
