"""Looking at a ratings table before modelling it (taught in notebook 05).

API summary
-----------
- ``summary(ratings, num_users, num_items) -> dict``: counts, density, sparsity, ratings per
  user and per item.
- ``degrees(ratings, num_users, num_items) -> (user_degree, item_degree)``: int numpy arrays.
- ``degree_counts(degree) -> (k, n_k)``: how many nodes have each degree ``k >= 1``, for a
  log-log plot of the long tail.
- ``head_share(item_degree, head=0.2) -> float``: fraction of all interactions that go to the
  ``head`` most popular fraction of items.
- ``split_report(train, test) -> dict``: what a train/test split looks like (users with test
  items, cold test items, test ratings older than the newest training rating).

Related: the node features and ``HeteroData`` form are in :mod:`gnnedu.data.features`; the
leakage checks of notebook 05 are ``gnnedu.graph.propagation_scores``,
``gnnedu.metrics.heldout_ranks`` and ``gnnedu.train.false_negative_rate``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnnedu.graph import as_index_pairs

__all__ = ["summary", "degrees", "degree_counts", "head_share", "split_report"]


def _pairs(table) -> tuple[np.ndarray, np.ndarray]:
    users, items = as_index_pairs(table)
    return users.numpy(), items.numpy()


def degrees(ratings: pd.DataFrame, num_users: int, num_items: int):
    """Ratings per user and per item as two int numpy arrays (length num_users, num_items)."""
    users, items = _pairs(ratings)
    if len(users) and (users.max() >= num_users or items.max() >= num_items):
        raise ValueError("an index exceeds num_users or num_items")
    return (np.bincount(users, minlength=num_users), np.bincount(items, minlength=num_items))


def summary(ratings: pd.DataFrame, num_users: int, num_items: int) -> dict:
    """Counts and sparsity of an interaction table.

    density = interactions / (num_users * num_items); sparsity = 1 - density.
    """
    user_deg, item_deg = degrees(ratings, num_users, num_items)
    n = int(len(ratings))
    density = n / (num_users * num_items)
    return {
        "users": int(num_users), "items": int(num_items), "interactions": n,
        "density": density, "sparsity": 1.0 - density,
        "min_per_user": int(user_deg.min()), "median_per_user": float(np.median(user_deg)),
        "max_per_user": int(user_deg.max()),
        "min_per_item": int(item_deg.min()), "median_per_item": float(np.median(item_deg)),
        "max_per_item": int(item_deg.max()),
    }


def degree_counts(degree) -> tuple[np.ndarray, np.ndarray]:
    """Distinct degrees ``k >= 1`` and the number of nodes with each (for log-log plots)."""
    degree = np.asarray(degree)
    if degree.ndim != 1 or (degree < 0).any():
        raise ValueError("degree must be a 1-D array of non-negative counts")
    k, n_k = np.unique(degree[degree > 0], return_counts=True)
    return k, n_k


def head_share(item_degree, head: float = 0.2) -> float:
    """Share of all interactions received by the top ``head`` fraction of items by degree."""
    if not 0.0 < head <= 1.0:
        raise ValueError(f"head must be in (0, 1], got {head}")
    deg = np.sort(np.asarray(item_degree))[::-1]
    total = deg.sum()
    if total == 0:
        raise ValueError("no interactions")
    n_head = max(1, int(round(head * len(deg))))
    return float(deg[:n_head].sum() / total)


def split_report(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """What a split does to users, items and time.

    - ``test_users``: users with at least one test interaction;
    - ``cold_test_users``: of those, users with no training interaction;
    - ``cold_test_items``: items in test that never occur in train (no model that learns from
      train alone can rank them well);
    - ``test_before_train_end``: fraction of test interactions older than the newest training
      interaction (0 only for a global time split; a model then trains on "the future").
    """
    tr_users, tr_items = _pairs(train)
    te_users, te_items = _pairs(test)
    test_users = np.unique(te_users)
    report = {
        "train": int(len(train)), "test": int(len(test)),
        "test_users": int(len(test_users)),
        "cold_test_users": int(len(np.setdiff1d(test_users, tr_users))),
        "cold_test_items": int(len(np.setdiff1d(np.unique(te_items), tr_items))),
    }
    if "timestamp" in train.columns and "timestamp" in test.columns and len(test):
        newest = train["timestamp"].max()
        report["test_before_train_end"] = float((test["timestamp"] < newest).mean())
    return report
