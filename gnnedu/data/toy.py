"""Small hand-made graphs whose every number can be checked by hand.

Two examples, each as plain functions that return fresh numpy / torch / networkx / pandas
objects (so a caller may modify what it gets):

* The source article's worked example (section 4.3): a triangle ``v1 - v2 - v3`` with one-hot
  features, a 3x3 weight matrix ``W`` and a bias ``b``, ReLU and mean aggregation.
  Taught in ``notebooks/02_graph_convolution_by_hand.ipynb``.
* A toy ratings table: five users, six movies (all six are in MovieLens-100K), fifteen ratings.
  Taught in ``notebooks/01_recommendation_as_a_graph.ipynb``.

Node numbering in the user-item graph follows the convention of the later notebooks:
users are nodes ``0 .. U-1`` and item ``j`` is node ``U + j``.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import torch

# ---------------------------------------------------------------------------------------------
# The article's triangle (section 4.3)
# ---------------------------------------------------------------------------------------------

TRIANGLE_NODES = ("v1", "v2", "v3")
# Undirected edges of the triangle, 0-based: (v1, v2), (v2, v3), (v3, v1).
TRIANGLE_EDGES = ((0, 1), (1, 2), (2, 0))
# The article's weight matrix W^(0) and bias b^(0); the article uses them in both rounds.
_ARTICLE_W = ((0.2, 0.3, 0.5), (0.4, 0.1, 0.5), (0.3, 0.2, 0.5))
_ARTICLE_B = (0.1, 0.2, 0.3)


def triangle_graph() -> nx.Graph:
    """The article's triangle as a networkx graph: nodes 0, 1, 2 with ``label`` v1, v2, v3."""
    graph = nx.Graph()
    for i, name in enumerate(TRIANGLE_NODES):
        graph.add_node(i, label=name)
    graph.add_edges_from(TRIANGLE_EDGES)
    return graph


def triangle_adjacency() -> np.ndarray:
    """Symmetric 0/1 adjacency matrix (3x3, float64, no self-loops) of the triangle."""
    adj = np.zeros((3, 3))
    for i, j in TRIANGLE_EDGES:
        adj[i, j] = adj[j, i] = 1.0
    return adj


def triangle_edge_index() -> torch.Tensor:
    """PyG-style ``edge_index`` (2 x 6, int64): each undirected edge in both directions.

    Row 0 holds the source ``j`` and row 1 the target ``i`` of a message ``j -> i``.
    """
    pairs = [(i, j) for i, j in TRIANGLE_EDGES] + [(j, i) for i, j in TRIANGLE_EDGES]
    return torch.tensor(pairs, dtype=torch.long).t().contiguous()


def triangle_features() -> np.ndarray:
    """One-hot node features: row ``i`` is ``h_i^(0)`` (the 3x3 identity)."""
    return np.eye(3)


def article_weights() -> tuple[np.ndarray, np.ndarray]:
    """The article's ``W`` (3x3) and ``b`` (3,), as float64 numpy arrays.

    The article writes ``h_i' = ReLU(W . AGG(...) + b)`` with column vectors, so ``W[r, c]``
    multiplies input component ``c`` to give output component ``r``.
    """
    return np.array(_ARTICLE_W), np.array(_ARTICLE_B)


def article_printed_values() -> pd.DataFrame:
    """What the article prints for its example, one row per (round, node).

    Columns: ``round``, ``node``, ``expression`` (the arithmetic as the article writes it),
    ``printed`` (the number the article gives for that expression and for ``h_i``; the article
    reports one scalar per node). These are facts quoted from the article so the notebook can
    compare them with the correct computation; nothing here is recomputed.
    """
    rows = []
    for rnd, inp, printed in ((1, 0.5, 0.8), (2, 0.8, 0.9)):
        for i, name in enumerate(TRIANGLE_NODES):
            w = _ARTICLE_W[i]
            expr = " + ".join(f"{wk}*{inp}" for wk in w) + f" + {_ARTICLE_B[i]}"
            rows.append({"round": rnd, "node": name, "expression": expr, "printed": printed})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The toy ratings table (notebook 01)
# ---------------------------------------------------------------------------------------------

TOY_USERS = ("Ana", "Ben", "Chen", "Dara", "Eli")
# (short title, MovieLens-100K item id) -- all six films are in ML-100K.
TOY_MOVIES = (
    ("Toy Story", 1),
    ("Aladdin", 95),
    ("Star Wars", 50),
    ("Alien", 183),
    ("Titanic", 313),
    ("Casablanca", 483),
)
# (user, movie, rating 1-5). Two taste groups (animation, science fiction) bridged by Ana,
# plus Eli, whose favourites nobody else rated highly.
_TOY_RATINGS = (
    ("Ana", "Toy Story", 5),
    ("Ana", "Aladdin", 4),
    ("Ana", "Star Wars", 4),
    ("Ben", "Toy Story", 4),
    ("Ben", "Aladdin", 5),
    ("Ben", "Titanic", 2),
    ("Chen", "Star Wars", 5),
    ("Chen", "Alien", 4),
    ("Chen", "Toy Story", 2),
    ("Dara", "Star Wars", 4),
    ("Dara", "Alien", 5),
    ("Dara", "Casablanca", 3),
    ("Eli", "Titanic", 5),
    ("Eli", "Casablanca", 4),
    ("Eli", "Aladdin", 3),
)
LIKE_THRESHOLD = 4  # a rating >= 4 counts as "liked" (implicit feedback)


def toy_users() -> list[str]:
    """User names; the position in the list is the user index."""
    return list(TOY_USERS)


def toy_movies() -> list[str]:
    """Movie titles; the position in the list is the item index."""
    return [title for title, _ in TOY_MOVIES]


def toy_ratings() -> pd.DataFrame:
    """The toy ratings as a DataFrame, one row per rating.

    Columns: ``user`` and ``item`` (0-based indices, as in ``gnnedu.data.load_movielens``),
    ``rating`` (1-5), ``user_name``, ``title`` and ``item_id`` (the MovieLens-100K id).
    """
    users = {name: u for u, name in enumerate(TOY_USERS)}
    items = {title: j for j, (title, _) in enumerate(TOY_MOVIES)}
    rows = [
        {
            "user": users[u],
            "item": items[m],
            "rating": r,
            "user_name": u,
            "title": m,
            "item_id": TOY_MOVIES[items[m]][1],
        }
        for u, m, r in _TOY_RATINGS
    ]
    df = pd.DataFrame(rows).sort_values(["user", "item"], ignore_index=True)
    return df.astype({"user": "int64", "item": "int64", "rating": "int64", "item_id": "int64"})


def toy_biadjacency(threshold: float | None = None) -> np.ndarray:
    """The users x movies matrix ``R`` (5 x 6, float64).

    With ``threshold=None`` entries are the ratings (0 = not rated). With a threshold the matrix
    is binary: 1 where ``rating >= threshold`` (e.g. ``LIKE_THRESHOLD``).
    """
    df = toy_ratings()
    mat = np.zeros((len(TOY_USERS), len(TOY_MOVIES)))
    mat[df["user"].to_numpy(), df["item"].to_numpy()] = df["rating"].to_numpy()
    if threshold is not None:
        mat = (mat >= threshold).astype(float)
    return mat


def toy_adjacency(threshold: float | None = None) -> np.ndarray:
    """Adjacency of the user-item graph, ``[[0, R], [R^T, 0]]`` ((5+6) x (5+6))."""
    r = toy_biadjacency(threshold)
    n_u, n_i = r.shape
    adj = np.zeros((n_u + n_i, n_u + n_i))
    adj[:n_u, n_u:] = r
    adj[n_u:, :n_u] = r.T
    return adj


def toy_bipartite_graph(threshold: float | None = None) -> nx.Graph:
    """The user-item graph as networkx.

    Nodes ``0..4`` are users, ``5..10`` movies; node attributes ``label`` (name or title) and
    ``bipartite`` (0 = user, 1 = item); edge attribute ``rating``. With ``threshold`` only the
    ratings ``>= threshold`` become edges.
    """
    n_u = len(TOY_USERS)
    graph = nx.Graph()
    for u, name in enumerate(TOY_USERS):
        graph.add_node(u, label=name, bipartite=0)
    for j, (title, _) in enumerate(TOY_MOVIES):
        graph.add_node(n_u + j, label=title, bipartite=1)
    for row in toy_ratings().itertuples():
        if threshold is None or row.rating >= threshold:
            graph.add_edge(row.user, n_u + row.item, rating=int(row.rating))
    return graph
