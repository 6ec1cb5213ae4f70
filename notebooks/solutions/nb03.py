"""Solutions to the exercises, "your turn" cells and questions of
notebooks/03_message_passing_explorer.ipynb."""

from __future__ import annotations

import networkx as nx
import numpy as np

from gnnedu import mp
from gnnedu.data import toy

from .checks import call


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
    """Exercise 2: ``H <- (1 - alpha) S H + alpha H0`` with the GCN matrix
    ``S = D~^-1/2 (A + I) D~^-1/2`` (APPNP, Klicpera et al. 2019). ``alpha = 0`` is plain
    symmetric propagation."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    s = mp.propagation_matrix(adj, "sym", self_loops=True)
    h0 = np.asarray(h0, dtype=float)
    hs = [h0]
    for _ in range(depth):
        hs.append((1 - alpha) * s @ hs[-1] + alpha * h0)
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


def receptive_field(adj, node: int, k: int, self_loops: bool = True) -> np.ndarray:
    """Your turn 1: the nodes ``j`` with ``(A~^k)[node, j] != 0`` (``A^k`` without
    self-loops), ascending. Boolean powers avoid overflowing counts for large ``k``."""
    a = np.asarray(adj, dtype=float)
    step = (a + np.eye(len(a)) if self_loops else a) > 0
    power = np.eye(len(a), dtype=bool)            # A^0 = I: a node hears itself
    for _ in range(k):
        power = (power.astype(int) @ step.astype(int)) > 0
    return np.flatnonzero(power[node])


def dirichlet_energy(h, adj) -> float:
    """Your turn 2: ``E(H) = 1/2 sum_ij A_ij ||h_i - h_j||^2``, one edge at a time."""
    h = np.asarray(h, dtype=float)
    a = np.asarray(adj, dtype=float)
    total = 0.0
    for i in range(len(a)):
        for j in range(len(a)):
            if a[i, j]:
                total += a[i, j] * float(((h[i] - h[j]) ** 2).sum())
    return 0.5 * total  # every undirected edge appeared twice, as (i, j) and (j, i)


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1() -> dict[int, int]:
    """Q1: how many layers (with self-loops) until node 16 hears all 34 members? Node 0?

    Node 16's receptive field grows 1, 3, 6, 18, 26, 34: five layers, its eccentricity (the
    hop distance to the farthest member). The hub node 0 needs three. Returns
    ``{node: layers}`` = ``{16: 5, 0: 3}``.
    """
    a = nx.to_numpy_array(nx.karate_club_graph(), nodelist=range(34), weight=None)
    return {node: layers_to_cover(a, node) for node in (16, 0)}


def question_2() -> dict[str, float]:
    """Q2: feed every node the constant 1. What does each aggregator give at node 0 (degree 16)?

    Sum gives the degree, 16; the article's weights give its square root, 4; mean and max give
    1 whatever the degree, so they hide it. Returns the value of each aggregator at node 0,
    without self-loops.
    """
    a = nx.to_numpy_array(nx.karate_club_graph(), nodelist=range(34), weight=None)
    ones = np.ones((34, 1))
    return {how: float(mp.aggregate(ones, a, how)[0, 0]) for how in ("sum", "mean", "max",
                                                                      "article")}


def question_3(depth: int = 4) -> int:
    """Q3: why does the max aggregator place no member correctly from depth 4 on?

    The two leader features are indicators (1 at a leader, 0 elsewhere). With max, a member's
    feature becomes 1 as soon as the leader is within reach and stays 1. Node 0 reaches every
    member in 3 hops and node 33 in 4 (their eccentricities), so from depth 4 on both features
    are 1 at every member, the vote is a tie everywhere, and a tie counts as wrong. Returns the
    number of tied members at ``depth``: 34 at depth 4 (33 at depth 3, where one member is
    still out of node 33's reach and is placed correctly).
    """
    a = nx.to_numpy_array(nx.karate_club_graph(), nodelist=range(34), weight=None)
    leaders = np.zeros((34, 2))
    leaders[0, 0] = leaders[33, 1] = 1.0
    h = mp.propagate_features(leaders, a, "max", depth, self_loops=True)[-1]
    return int((h[:, 0] == h[:, 1]).sum())


def question_4() -> list[str]:
    """Q4: without self-loops, whom does Ben hear after two layers, and why not his movies?

    Only Ana and himself: every edge joins a user and a movie, so a walk of exactly two steps
    from Ben ends on a user; the movies he liked are one step away and drop out. Self-loops
    (or LightGCN's average over layers) keep them.
    """
    a = toy.toy_adjacency(threshold=toy.LIKE_THRESHOLD)
    names = toy.toy_users() + toy.toy_movies()
    ben = toy.toy_users().index("Ben")
    return [names[j] for j in mp.receptive_field(a, ben, 2, self_loops=False)]


# ---------------------------------------------------------------------------------------------
# "Your turn" checks: each returns "pass" or "not yet: <hint>" and never raises
# ---------------------------------------------------------------------------------------------


_call = call  # call(fn, *args) -> (result, None) or (None, problem)


def _graphs():
    karate = nx.to_numpy_array(nx.karate_club_graph(), nodelist=range(34), weight=None)
    return {"karate club": (karate, (0, 16)),
            "toy likes graph": (toy.toy_adjacency(threshold=toy.LIKE_THRESHOLD), (1, 4))}


def check_receptive_field(fn) -> str:
    """Check a learner's ``receptive_field(adj, node, k, self_loops)`` against
    ``mp.receptive_field``."""
    for name, (adj, nodes) in _graphs().items():
        for node in nodes:
            for loops in (True, False):
                for k in range(5):
                    got, problem = _call(fn, adj.copy(), node, k, loops)
                    if problem == "stub":
                        return ("not yet: write the body of receptive_field (hint: the "
                                "nonzero entries of row `node` of np.linalg.matrix_power(A~, k),"
                                " A~ = A + I with self-loops, A without)")
                    if problem:
                        return f"not yet: {problem}"
                    got = np.asarray(got).ravel()
                    if got.dtype == bool or (len(got) == len(adj) and set(got) <= {0, 1}
                                             and k > 0):
                        return ("not yet: return the node indices (np.flatnonzero), not a "
                                "0/1 mask")
                    got = sorted(int(j) for j in got)
                    want = mp.receptive_field(adj, node, k, loops).tolist()
                    if got == want:
                        continue
                    where = f"{name}, node {node}, k={k}, self_loops={loops}"
                    if k == 0:
                        hint = "after 0 layers a node hears only itself: A^0 = I"
                    elif not loops and got == mp.receptive_field(adj, node, k, True).tolist():
                        hint = ("without self-loops only walks of exactly k steps count: use "
                                "A^k, not (A + I)^k")
                    elif loops and got == mp.receptive_field(adj, node, k, False).tolist():
                        hint = "with self-loops a walk may pause: use (A + I)^k"
                    else:
                        hint = f"expected {want}, got {got}"
                    return f"not yet: {where}: {hint}"
    return "pass"


def check_dirichlet_energy(fn) -> str:
    """Check a learner's ``dirichlet_energy(h, adj)`` against ``mp.dirichlet_energy``."""
    rng = np.random.default_rng(4)
    cases = [("triangle, one-hot", toy.triangle_adjacency(), np.eye(3))]
    for name, (adj, _) in _graphs().items():
        cases.append((name, adj, rng.normal(size=(len(adj), 2))))
    for name, adj, h in cases:
        got, problem = _call(fn, h.copy(), adj.copy())
        if problem == "stub":
            return ("not yet: write the body of dirichlet_energy (hint: loop over i, j and add "
                    "A[i, j] * ||h_i - h_j||^2, then halve)")
        if problem:
            return f"not yet: {problem}"
        try:
            got = float(got)
        except (TypeError, ValueError):
            return "not yet: return one number (a float), the energy of the whole graph"
        want = mp.dirichlet_energy(h, adj)
        if np.isclose(got, want):
            continue
        if np.isclose(got, 2 * want):
            hint = ("twice the energy: the double sum meets every edge twice, as (i, j) and "
                    "(j, i); multiply by 1/2")
        elif np.isclose(got, mp.relative_dirichlet_energy(h, adj)):
            hint = "that is the relative energy: do not divide by ||H||^2 here"
        else:
            hint = f"expected {want:.4f}, got {got:.4f} (square the distances ||h_i - h_j||)"
        return f"not yet: on the {name}, {hint}"
    return "pass"
