"""Solutions to the exercises of notebooks/03_message_passing_explorer.ipynb."""

from __future__ import annotations

import numpy as np

from gnnedu import mp


def receptive_field_sizes(adj, node: int, k_max: int, self_loops: bool = True) -> list[int]:
    """Exercise 1: ``|R_k(node)|`` for ``k = 0..k_max``."""
    return [len(mp.receptive_field(adj, node, k, self_loops)) for k in range(k_max + 1)]


def layers_to_cover(adj, node: int) -> int:
    """Exercise 1: the fewest layers (with self-loops) after which every node of ``node``'s
    connected component can influence it. This is the eccentricity of ``node``: the largest
    hop distance to a reachable node."""
    component = set(np.flatnonzero(mp.hop_distances(adj, node) >= 0))
    k = 0
    while set(mp.receptive_field(adj, node, k, self_loops=True)) != component:
        k += 1
    return k


def appnp_propagate(adj, h0, alpha: float, depth: int) -> list[np.ndarray]:
    """Exercise 2: ``H <- (1 - alpha) A_hat H + alpha H0`` with the GCN matrix
    ``A_hat = D~^-1/2 (A + I) D~^-1/2`` (APPNP, Klicpera et al. 2019). ``alpha = 0`` is plain
    symmetric propagation."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    a_hat = mp.propagation_matrix(adj, "sym", self_loops=True)
    h0 = np.asarray(h0, dtype=float)
    hs = [h0]
    for _ in range(depth):
        hs.append((1 - alpha) * a_hat @ hs[-1] + alpha * h0)
    return hs


def appnp_spread(adj, h0, alpha: float, depth: int) -> np.ndarray:
    """Exercise 2: ``mp.spread`` after 0..depth APPNP steps. With ``alpha > 0`` it levels off
    above 0 because every step re-injects a share ``alpha`` of the distinct start vectors."""
    return np.array([mp.spread(h) for h in appnp_propagate(adj, h0, alpha, depth)])


def recommend_from_signal(adj, user: int, n_users: int, seen, hops: int = 3, how: str = "sum",
                          average: bool = False) -> int:
    """Exercise 3: best unseen item for ``user`` from a one-hot signal after ``hops`` hops
    (or the mean over hops 0..hops); -1 when no unseen item gets a positive score.

    With ``hops=1`` the signal sits only on items the user already interacted with, which are
    all masked, so nothing is recommended.
    """
    sig = mp.propagate_one_hot(adj, user, hops, how=how)
    scores = (sig.mean(axis=0) if average else sig[hops])[n_users:]
    scores = np.where(np.asarray(seen[user], dtype=bool), -np.inf, scores)
    best = int(np.argmax(scores))
    return best if scores[best] > 0 else -1
