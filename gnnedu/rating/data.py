"""Rating prediction data: the official splits, the rating-level graph, RMSE and MAE (notebook 10).

API summary
-----------
- ``RATING_SPLITS``: ``("u1", ..., "u5")``, MovieLens-100K's official five folds (80/20).
- ``RATING_LEVELS``: ``(1, 2, 3, 4, 5)``, the star ratings; level ``r`` has index ``r - 1``.
- ``load_rating_split(ml, split) -> (base, test)``: the ``uN.base`` ratings and the ``uN.test``
  ratings **in the order of the file** (columns ``user, item, rating, timestamp, user_id,
  item_id``; ``user``/``item`` are the 0-based indices of ``ml.users``/``ml.items``).
- ``rating_graph(ratings, num_users, num_items, norm="left") -> RatingGraph``: one edge type
  per rating level, with the normalised weights of GC-MC's encoder.
- ``rmse(pred, truth)``, ``mae(pred, truth)``: the two error measures.
- ``rating_tensors(ratings) -> (users, items, ratings)``: the columns as tensors;
  ``as_index(values)``: indices of any kind as an int64 tensor.
- ``seen_mask(ratings, users, items, num_users, num_items) -> (user_seen, item_seen)``: which
  users and items of a query have at least one rating in ``ratings``.

The rating-level graph (van den Berg, Kipf and Welling, 2017): nodes are users ``0..U-1`` and
movies ``U..U+I-1`` (users first, as everywhere in ``gnnedu``); a rating ``r`` of user ``u`` for
movie ``i`` is an edge of type ``r`` in both directions. The message from ``j`` to ``i`` along
an edge is scaled by

- ``"left"``: ``1 / d_i``, the receiving node's degree over all levels (a mean over all the
  node's ratings; GC-MC's setting for MovieLens-100K), or
- ``"symmetric"``: ``1 / sqrt(d_i d_j)``.

``RatingGraph.adjacency[r]`` is the level-``r`` matrix ``C_r`` (``[N, N]``, sparse CSR, row =
receiving node), so that one level's convolution is ``C_r @ X``; ``sum_r C_r`` has rows that sum
to 1 under ``"left"`` (for every node with a rating).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

__all__ = [
    "RATING_SPLITS", "RATING_LEVELS", "NORMS", "load_rating_split", "RatingGraph", "rating_tensors",
    "rating_graph", "rmse", "mae", "seen_mask", "as_index",
]

RATING_SPLITS = ("u1", "u2", "u3", "u4", "u5")
RATING_LEVELS = (1, 2, 3, 4, 5)
NORMS = ("left", "symmetric")
_FILE_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


def load_rating_split(ml, split: str = "u1") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(base, test)`` of the official split ``split`` ("u1".."u5") of MovieLens ``ml``.

    ``base`` is ``ml.official_split(split)[0]``; ``test`` keeps the line order of
    ``uN.test`` (sorted by user id, then movie id), so a prediction file written from it has
    one row per line of the test file, in the same order.
    """
    if split not in RATING_SPLITS:
        raise ValueError(f"unknown split {split!r} for rating prediction; choose one of "
                         f"{', '.join(RATING_SPLITS)}")
    base, _ = ml.official_split(split)
    raw = pd.read_csv(io.BytesIO(ml.source.read(f"{split}.test")), sep="\t", header=None,
                      names=_FILE_COLUMNS)
    user_index = pd.Series(ml.users.index, index=ml.users["user_id"])
    item_index = pd.Series(ml.items.index, index=ml.items["item_id"])
    test = raw.assign(user=user_index.loc[raw["user_id"]].to_numpy(),
                      item=item_index.loc[raw["item_id"]].to_numpy())
    test = test[["user", "item", "rating", "timestamp", "user_id", "item_id"]]
    return base, test.reset_index(drop=True)


def rating_tensors(ratings) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(users, items, ratings)`` of a ratings table: int64, int64 and float64 ``[E]``."""
    missing = [c for c in ("user", "item", "rating") if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings table lacks column(s) {missing}; pass a DataFrame with "
                         "columns user, item, rating (e.g. from load_rating_split)")
    return (torch.from_numpy(ratings["user"].to_numpy(np.int64, copy=True)),
            torch.from_numpy(ratings["item"].to_numpy(np.int64, copy=True)),
            torch.from_numpy(ratings["rating"].to_numpy(np.float64, copy=True)))


def _csr(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n))
        return coo.coalesce().to_sparse_csr()


@dataclass
class RatingGraph:
    """Base-file ratings as a graph with one edge type per rating level (module docstring).

    Fields: ``num_users``, ``num_items``; ``users``, ``items`` (int64 ``[E]``) and ``level``
    (int64 ``[E]``, index into ``levels``) of each rating; ``levels`` (the rating values);
    ``degree`` (float ``[N]``, ratings per node over all levels); ``norm``; and for PyG,
    ``edge_index`` (``[2, 2E]``, row 0 the sender, row 1 the receiver; each rating once as
    movie -> user, then once as user -> movie), ``edge_type`` (``[2E]`` level index) and
    ``edge_weight`` (``[2E]`` normalisation of each message).
    """

    num_users: int
    num_items: int
    users: torch.Tensor
    items: torch.Tensor
    level: torch.Tensor
    levels: tuple
    degree: torch.Tensor
    norm: str
    edge_index: torch.Tensor
    edge_type: torch.Tensor
    edge_weight: torch.Tensor
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_nodes(self) -> int:
        return self.num_users + self.num_items

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def level_counts(self) -> list[int]:
        """Number of ratings at each level, lowest level first."""
        return torch.bincount(self.level, minlength=self.num_levels).tolist()

    @property
    def adjacency(self) -> list[torch.Tensor]:
        """``C_r`` for each level: sparse CSR ``[N, N]``, entry ``(i, j)`` the weight of ``j``'s
        message to ``i`` (``edge_weight``); ``C_r @ X`` is level ``r``'s normalised sum."""
        if "adj" not in self._cache:
            src, dst = self.edge_index
            self._cache["adj"] = [
                _csr(dst[m], src[m], self.edge_weight[m], self.num_nodes)
                for m in (self.edge_type == r for r in range(self.num_levels))]
        return self._cache["adj"]

    @property
    def adjacency_t(self) -> list[torch.Tensor]:
        """The transposes of :attr:`adjacency` (for the backward pass of ``C_r @ X``)."""
        if "adj_t" not in self._cache:
            src, dst = self.edge_index
            self._cache["adj_t"] = [
                _csr(src[m], dst[m], self.edge_weight[m], self.num_nodes)
                for m in (self.edge_type == r for r in range(self.num_levels))]
        return self._cache["adj_t"]

    def neighbours(self, node: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(senders, level indices)`` of the messages that ``node`` receives."""
        mask = self.edge_index[1] == node
        return self.edge_index[0, mask], self.edge_type[mask]

    def __repr__(self) -> str:
        counts = ", ".join(f"{r}: {n}" for r, n in zip(self.levels, self.level_counts()))
        return (f"RatingGraph(num_users={self.num_users}, num_items={self.num_items}, "
                f"ratings={self.users.numel()}, norm={self.norm!r}, per level {{{counts}}})")


def rating_graph(ratings: pd.DataFrame, num_users: int, num_items: int, norm: str = "left",
                 levels=RATING_LEVELS) -> RatingGraph:
    """The rating-level graph of ``ratings`` (columns ``user``, ``item``, ``rating``).

    Args:
        ratings: one row per rating; a (user, item) pair must appear once.
        num_users, num_items: graph size (e.g. ``ml.num_users``), so users or movies without a
            rating still get a node (they receive no message).
        norm: ``"left"`` (``1/d_i``) or ``"symmetric"`` (``1/sqrt(d_i d_j)``).
        levels: the rating values; every rating must be one of them.

    Returns:
        A :class:`RatingGraph`.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    users, items, values = rating_tensors(ratings)
    if users.numel() and (users.min() < 0 or users.max() >= num_users
                          or items.min() < 0 or items.max() >= num_items):
        raise ValueError(f"a user or item index is outside 0..{num_users - 1} / "
                         f"0..{num_items - 1}; pass the dataset's num_users and num_items")
    level_values = torch.tensor([float(v) for v in levels], dtype=torch.float64)
    match = values.unsqueeze(1) == level_values.unsqueeze(0)
    if not bool(match.any(1).all()):
        bad = sorted(set(values[~match.any(1)].tolist()))[:5]
        raise ValueError(f"ratings {bad} are not among the levels {tuple(levels)}")
    if torch.unique(users * num_items + items).numel() != users.numel():
        raise ValueError("a (user, item) pair is rated twice; keep one rating per pair")
    level = match.to(torch.int64).argmax(1)
    n = num_users + num_items
    item_nodes = items + num_users
    degree = torch.zeros(n, dtype=torch.float64)
    degree.index_add_(0, users, torch.ones(users.numel(), dtype=torch.float64))
    degree.index_add_(0, item_nodes, torch.ones(items.numel(), dtype=torch.float64))
    # Each rating twice: movie -> user (the user collects), then user -> movie.
    src = torch.cat([item_nodes, users])
    dst = torch.cat([users, item_nodes])
    if norm == "left":
        weight = 1.0 / degree[dst]
    else:
        weight = 1.0 / torch.sqrt(degree[dst] * degree[src])
    return RatingGraph(
        num_users=int(num_users), num_items=int(num_items), users=users, items=items,
        level=level, levels=tuple(levels), degree=degree.float(), norm=norm,
        edge_index=torch.stack([src, dst]), edge_type=torch.cat([level, level]),
        edge_weight=weight.float())


def as_index(values) -> torch.Tensor:
    """A 1-D int64 tensor (a copy) from a tensor, array, Series or list of indices."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.int64).reshape(-1).clone()
    return torch.from_numpy(np.array(values, dtype=np.int64).reshape(-1))


def _pair(pred, truth) -> tuple[torch.Tensor, torch.Tensor]:
    def as_float(x):
        if isinstance(x, torch.Tensor):
            return x.detach().to(torch.float64).reshape(-1)
        return torch.from_numpy(np.array(x, dtype=np.float64).reshape(-1))

    pred, truth = as_float(pred), as_float(truth)
    if pred.shape != truth.shape or pred.numel() == 0:
        raise ValueError(f"pred and truth need the same non-empty length, got "
                         f"{pred.numel()} and {truth.numel()}")
    return pred, truth


def rmse(pred, truth) -> float:
    """Root mean squared error ``sqrt(mean((pred - truth)^2))``."""
    pred, truth = _pair(pred, truth)
    return float(torch.sqrt(((pred - truth) ** 2).mean()))


def mae(pred, truth) -> float:
    """Mean absolute error ``mean(|pred - truth|)``."""
    pred, truth = _pair(pred, truth)
    return float((pred - truth).abs().mean())


def seen_mask(ratings: pd.DataFrame, users, items, num_users: int, num_items: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(user_seen, item_seen)``: bool tensors, True where the query's user (item) has at least
    one rating in ``ratings``; the others get a model's fallback."""
    u, i, _ = rating_tensors(ratings)
    has_user = torch.zeros(num_users, dtype=torch.bool)
    has_item = torch.zeros(num_items, dtype=torch.bool)
    has_user[u] = True
    has_item[i] = True
    users, items = as_index(users), as_index(items)
    return has_user[users], has_item[items]
