"""Solutions to the exercises of notebook 05 (MovieLens-100K as a graph)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def gini(degrees) -> float:
    """Exercise 1: Gini coefficient of a degree sequence.

    With the degrees sorted increasingly, x_1 <= ... <= x_n,
    G = sum_i (2i - n - 1) x_i / (n sum_i x_i): 0 when all degrees are equal, (n - 1) / n when
    one node holds every edge.
    """
    x = np.sort(np.asarray(degrees, dtype=np.float64))
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("degrees must be a non-empty 1-D sequence")
    if (x < 0).any():
        raise ValueError("degrees must be non-negative")
    total = x.sum()
    if total == 0:
        raise ValueError("all degrees are zero")
    n = len(x)
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def leave_one_out_split(ratings: pd.DataFrame):
    """Exercise 2: each user's most recent rating goes to test, the rest to train.

    Ties in time are broken by the larger item index. Users with a single rating keep it in
    train. Returns ``(train, test)`` with a fresh index.
    """
    missing = [c for c in ("user", "item", "timestamp") if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings lacks column(s) {missing}")
    ordered = ratings.sort_values(["user", "timestamp", "item"], kind="stable")
    is_last = ~ordered["user"].duplicated(keep="last")
    has_more = ordered.groupby("user")["user"].transform("size") > 1
    in_test = is_last & has_more
    train = ordered[~in_test].sort_index().reset_index(drop=True)
    test = ordered[in_test].sort_index().reset_index(drop=True)
    return train, test


def hetero_to_offset(data, edge_type=("user", "rates", "movie")) -> torch.Tensor:
    """Exercise 3: the ``[2, 2E]`` offset ``edge_index`` of a user-movie ``HeteroData``.

    User u keeps number u, movie i becomes ``num_users + i``; user->movie edges come first,
    then the same edges reversed (the layout of ``gnnedu.graph.to_edge_index``).
    """
    src_type, _, dst_type = edge_type
    users, items = data[edge_type].edge_index
    num_users = data[src_type].num_nodes
    if num_users is None:
        raise ValueError(f"the HeteroData does not say how many {src_type!r} nodes it has")
    if data[dst_type].num_nodes is None:
        raise ValueError(f"the HeteroData does not say how many {dst_type!r} nodes it has")
    movie_nodes = items + num_users
    return torch.stack([torch.cat([users, movie_nodes]), torch.cat([movie_nodes, users])])


def popularity_negatives(item_degree, num_samples: int, alpha: float = 0.75, seed: int = 0
                         ) -> np.ndarray:
    """Exercise 4: draw items with probability proportional to degree ** alpha.

    ``alpha = 0`` is uniform over all items (degree 0 included); for ``alpha > 0`` an item of
    degree 0 is never drawn.
    """
    deg = np.asarray(item_degree, dtype=np.float64)
    if deg.ndim != 1 or len(deg) == 0 or (deg < 0).any():
        raise ValueError("item_degree must be a non-empty 1-D array of non-negative counts")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    weights = np.ones_like(deg) if alpha == 0 else deg ** alpha
    if weights.sum() == 0:
        raise ValueError("no item has a positive degree")
    rng = np.random.default_rng(seed)
    return rng.choice(len(deg), size=num_samples, p=weights / weights.sum())
