"""Solutions to the exercises, "your turn" cells and questions of
notebooks/02_graph_convolution_by_hand.ipynb.

Everything is written with explicit loops over nodes and neighbours, so the tests can check it
against the matrix code in ``gnnedu.mp``.
"""

from __future__ import annotations

import math

import numpy as np

from gnnedu import mp
from gnnedu.data import toy

from .checks import call


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
    """Your turn 1: one round of the article's rule for every node,
    ``ReLU(W mean_{j in N(i)} h_j + b)``; row ``i`` of the result is ``h_i'``."""
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


def gcn_matrix(adj) -> np.ndarray:
    """Your turn 2: the GCN propagation matrix ``S = D~^-1/2 (A + I) D~^-1/2``.

    Entry ``(i, j)`` is ``1/sqrt(d~_i d~_j)`` when ``j`` is ``i`` or one of its neighbours, with
    ``d~_i = d_i + 1``; on the triangle every entry is 1/3.
    """
    a_tilde = np.asarray(adj, dtype=float) + np.eye(len(adj))  # Step 1: add self-loops
    d_tilde = a_tilde.sum(axis=1)                               # Step 2: their degrees
    inv_sqrt = 1.0 / np.sqrt(d_tilde)
    return inv_sqrt[:, None] * a_tilde * inv_sqrt[None, :]     # Step 3: both sides


def attention_coefficient_by_hand() -> dict[str, float]:
    """Exercise 4: ``alpha_{v3 v1}`` with ``a = mp.TRIANGLE_ATTENTION``, on paper.

    ``z_j = W h_j`` is column ``j`` of ``W``: ``z1 = (0.2, 0.4, 0.3)``, ``z2 = (0.3, 0.1, 0.2)``,
    ``z3 = (0.5, 0.5, 0.5)``. The receiver's part is ``a_target . z3 = 0.5 - 0.5 + 0 = 0``; the
    senders' parts ``a_source . z_j = 2 z_j1 - 2 z_j2`` are ``0.2`` (v1), ``-0.2`` (v2) and
    ``0`` (v3). LeakyReLU keeps 0.2 and 0, and turns -0.2 into -0.04, so ``e_31 = 0.2``,
    ``e_32 = -0.04``, ``e_33 = 0``, and ``alpha_31 = e^0.2 / (e^0.2 + e^-0.04 + e^0) =
    1.2214 / 3.1822 = 0.3838``. Returns the three scores and ``alpha_31``.
    """
    w, _ = toy.article_weights()
    a_target, a_source = mp.TRIANGLE_ATTENTION[:3], mp.TRIANGLE_ATTENTION[3:]
    z = [w[:, j] for j in range(3)]                      # W times a one-hot vector
    to_v3 = sum(a * c for a, c in zip(a_target, z[2]))   # a_target . z3
    scores = {}
    for j in range(3):
        raw = to_v3 + sum(a * c for a, c in zip(a_source, z[j]))
        scores[f"e_3{j + 1}"] = raw if raw >= 0 else mp.LEAKY_SLOPE * raw
    total = sum(math.exp(e) for e in scores.values())
    return {**scores, "alpha_31": math.exp(scores["e_31"]) / total}


def zero_attention_round(adj, h, w) -> np.ndarray:
    """Exercise 5: one GAT head with ``a = 0`` (no bias), by hand.

    Every score is ``LeakyReLU(0) = 0``, so every ``exp(e_ij) = 1`` and the softmax gives each
    of the ``|N(i)| + 1`` messages (self included) the weight ``1 / (|N(i)| + 1)``: the mean
    over ``N(i) | {i}``, followed by ``W``. Written as that mean, with a loop.
    """
    h = np.asarray(h, dtype=float)
    out = np.zeros((len(h), np.asarray(w).shape[0]))
    for i in range(len(h)):
        senders = _neighbours(adj, i) + [i]
        out[i] = np.asarray(w) @ (sum(h[j] for j in senders) / len(senders))
    return out


def gcn_row_sums_on_the_path() -> np.ndarray:
    """Exercise 5, last question: attention weights are a softmax, so each row sums to 1 for
    every ``a``. ``GCNConv``'s ``S`` on the path has row sums ``1/2 + 1/sqrt(6) = 0.9082`` (ends)
    and ``2/sqrt(6) + 1/3 = 1.1498`` (middle), not 1, so no ``a`` reproduces it. Returns the
    row sums of ``S``."""
    return gcn_matrix(path_adjacency()).sum(axis=1)


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1() -> np.ndarray:
    """Q1: in round 1, what is ``m`` for ``v3``, and why does ReLU change nothing?

    ``v3``'s neighbours are ``v1`` and ``v2``, so ``m = (h1 + h2) / 2 = (0.5, 0.5, 0)``; then
    ``W m = (0.25, 0.25, 0.25)`` and ``h = (0.35, 0.45, 0.55)``. Every entry of ``W``, ``b`` and
    the one-hot inputs is non-negative, so every ``W m + b`` is positive and ReLU keeps it.
    Returns ``m`` for ``v3``.
    """
    w, b = toy.article_weights()
    steps = mp.trace(toy.triangle_features(), toy.triangle_adjacency(), w, b, rounds=1)
    return steps[0][2].aggregated


def question_2() -> dict[str, np.ndarray]:
    """Q2: mean and symmetric normalisation agree on the triangle. Why, and do they on the path
    ``v1 - v2 - v3``?

    The weight of ``j``'s message at ``i`` is ``1/d_i`` (mean) or ``1/sqrt(d_i d_j)``
    (symmetric); they are equal when ``d_i = d_j``, which holds on the triangle (every degree
    2). On the path the degrees are 1, 2, 1: the middle node's messages to the ends weigh
    ``1/sqrt(2) = 0.7071`` instead of 1, and the ends' messages to the middle weigh 0.7071
    instead of 0.5. Returns both propagation matrices of the path.
    """
    a = path_adjacency()
    return {"mean": mp.propagation_matrix(a, "mean"), "sym": mp.propagation_matrix(a, "sym")}


def question_3() -> np.ndarray:
    """Q3: one ``GCNConv`` layer makes the three nodes equal. Would the symmetric matrix
    ``A_hat = D^-1/2 A D^-1/2`` (no self-loops) do that too?

    No. Without self-loops each node averages only its two neighbours, which differ from node
    to node, so the rows stay distinct: on the triangle ``A_hat`` equals ``D^-1 A`` and round 1
    gives (0.5, 0.5, 0.65), (0.45, 0.65, 0.7), (0.35, 0.45, 0.55). ``S`` averages all three
    nodes, the same set for everybody. Returns ``H^(1)`` with ``A_hat``.
    """
    w, b = toy.article_weights()
    return mp.gcn_layer(toy.triangle_features(), toy.triangle_adjacency(), w, b, "sym")


def question_4(rounds: int = 10) -> dict[str, float]:
    """Q4: with the mean, the article's ``W`` and ``b``, how large are the entries after 10
    rounds, and what would keep them bounded?

    They grow by about 0.22 per round: 2.43 to 2.62 after round 10 (mean entry 2.52). Every
    row of ``W`` sums to 1 and is non-negative, so ``W m`` is a weighted average of ``m``'s
    entries and never exceeds them; the mean is an average too. What makes the vectors grow is
    the bias, added again every round. With ``b = 0`` every entry stays at most 1 (the largest
    input); here they settle near 1/3 (0.3335 after round 10). Returns the largest entry after
    ``rounds`` rounds with ``b`` and with ``b = 0``, and the mean entry with ``b``.
    """
    w, b = toy.article_weights()
    x, a = toy.triangle_features(), toy.triangle_adjacency()
    with_b = mp.gcn_rounds(x, a, w, b, rounds, how="mean")[-1]
    without = mp.gcn_rounds(x, a, w, np.zeros_like(b), rounds, how="mean")[-1]
    return {"with b": float(with_b.max()), "b = 0": float(without.max()),
            "mean entry with b": float(with_b.mean())}


# ---------------------------------------------------------------------------------------------
# "Your turn" checks: each returns "pass" or "not yet: <hint>" and never raises
# ---------------------------------------------------------------------------------------------


def _call(fn, *args):
    """``(matrix, None)``, or ``(None, problem)`` when calling ``fn`` fails."""
    return call(fn, *args, convert=lambda out: np.asarray(out, dtype=float), kind="a matrix")


def _graphs():
    """Named test graphs: the triangle, the path, a star and a random graph with an isolated
    node (unequal degrees make the usual mistakes visible)."""
    rng = np.random.default_rng(2)
    star = np.zeros((4, 4))
    star[0, 1:] = star[1:, 0] = 1.0
    upper = np.triu((rng.random((6, 6)) < 0.5).astype(float), 1)
    rand = upper + upper.T
    rand[5, :] = rand[:, 5] = 0.0
    return {"triangle": toy.triangle_adjacency(), "path v1 - v2 - v3": path_adjacency(),
            "star": star, "random graph": rand}


def check_mean_round(fn) -> str:
    """Check a learner's ``mean_round(adj, h, w, b)`` against ``mp.gcn_layer(..., "mean")``."""
    rng = np.random.default_rng(3)
    w, b = toy.article_weights()
    cases = [("triangle", toy.triangle_features(), w, b)]
    for name, adj in _graphs().items():  # signed inputs, so ReLU and W's side matter
        n = len(adj)
        cases.append((name, rng.normal(size=(n, 3)), rng.normal(size=(2, 3)),
                      rng.normal(size=2)))
    graphs = _graphs()
    for name, h, w_, b_ in cases:
        adj = graphs[name]
        got, problem = _call(fn, adj.copy(), h.copy(), w_.copy(), b_.copy())
        if problem == "stub":
            return ("not yet: write the body of mean_round (hint: P = D^-1 A averages the "
                    "neighbours' rows; then @ w.T, + b, and ReLU)")
        if problem:
            return f"not yet: {problem}"
        want = mp.gcn_layer(h, adj, w_, b_, "mean")
        if got.shape != want.shape:
            return (f"not yet: on the {name} the result has shape {got.shape}; expected "
                    f"{want.shape} (one row per node, one column per row of W)")
        if np.allclose(got, want, atol=1e-9):
            continue
        m = mp.aggregate(h, adj, "mean")
        if w_.shape[0] == w_.shape[1] and np.allclose(got, np.maximum(m @ w_ + b_, 0)):
            hint = ("you multiplied the rows by W; the article applies W to column vectors, so "
                    "with rows the product is m @ W.T")
        elif np.isnan(got).any():
            hint = ("a node without neighbours has degree 0: give it m = 0 instead of dividing "
                    "by 0")
        elif np.allclose(got, mp.gcn_layer(h, adj, w_, b_, "sum")):
            hint = "that is the sum of the messages: divide each row by the node's degree"
        elif np.allclose(got, mp.gcn_layer(h, adj, w_, b_, "mean", self_loops=True)):
            hint = ("a node is not its own neighbour in the article's rule: average over "
                    "N(i) only, without a self-loop")
        elif np.allclose(got, mp.gcn_layer(h, adj, w_, b_, "mean", activation="none")):
            hint = "apply ReLU at the end: np.maximum(z, 0)"
        elif np.allclose(got, np.maximum(m @ w_.T, 0)):
            hint = "add the bias b before the ReLU"
        else:
            hint = f"row 0 should be {np.round(want[0], 4)}, yours is {np.round(got[0], 4)}"
        return f"not yet: on the {name}, {hint}"
    return "pass"


def check_gcn_matrix(fn) -> str:
    """Check a learner's ``gcn_matrix(adj)`` against ``mp.propagation_matrix(adj, "sym",
    self_loops=True)``."""
    for name, adj in _graphs().items():
        got, problem = _call(fn, adj.copy())
        if problem == "stub":
            return ("not yet: write the body of gcn_matrix (hint: A~ = A + I, d~ = its row "
                    "sums, then divide entry (i, j) by sqrt(d~_i * d~_j))")
        if problem:
            return f"not yet: {problem}"
        want = mp.propagation_matrix(adj, "sym", self_loops=True)
        if got.shape != want.shape:
            return f"not yet: on the {name} the result has shape {got.shape}; expected {want.shape}"
        if np.allclose(got, want):
            continue
        a_tilde = mp.with_self_loops(adj)
        if np.allclose(got, mp.propagation_matrix(adj, "sym")):
            hint = "that is A_hat, without self-loops: add them first, A~ = A + I"
        elif np.allclose(got, mp.propagation_matrix(adj, "mean", self_loops=True)):
            hint = ("that is D~^-1 A~, a mean: normalise on both sides, by sqrt(d~_i) and "
                    "sqrt(d~_j)")
        elif not np.allclose(got, got.T):
            hint = "S is symmetric: divide entry (i, j) by sqrt(d~_i) and by sqrt(d~_j)"
        elif np.allclose(np.diag(got), 0) and np.diag(a_tilde).all():
            hint = "the diagonal holds the self-loops: it should be 1 / d~_i, not 0"
        else:
            hint = ("use the degrees of A~ (d_i + 1), and divide by their square roots; "
                    f"row 0 should be {np.round(want[0], 4)}")
        return f"not yet: on the {name}, {hint}"
    return "pass"
