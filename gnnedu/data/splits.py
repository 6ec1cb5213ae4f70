"""Train/test splits of a ratings table (taught in notebook 05).

Every split is deterministic for a seed, disjoint, and covers the (thresholded) data:
``len(train) + len(test) == len(ratings)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REQUIRED = ("user", "item", "rating", "timestamp")


def _check(ratings: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in ratings.columns]
    if missing:
        raise ValueError(
            f"ratings table lacks column(s) {missing}; pass `load_movielens().ratings` or a "
            f"DataFrame with columns {list(REQUIRED)}"
        )


def implicit(ratings: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """Keep the rows with ``rating >= threshold`` (all rows when ``threshold`` is None)."""
    _check(ratings)
    if threshold is None:
        return ratings.reset_index(drop=True)
    return ratings[ratings["rating"] >= threshold].reset_index(drop=True)


def _holdout(ratings: pd.DataFrame, n_test: np.ndarray, order: np.ndarray):
    """Put each user's first ``n_test`` rows of ``order`` in test, the rest in train."""
    ranked = ratings.iloc[order]
    position = ranked.groupby("user").cumcount().to_numpy()
    in_test = position < n_test[ranked["user"].to_numpy()]
    train = ranked[~in_test].sort_index()
    test = ranked[in_test].sort_index()
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _counts(ratings: pd.DataFrame) -> np.ndarray:
    n_users = int(ratings["user"].max()) + 1 if len(ratings) else 0
    return np.bincount(ratings["user"].to_numpy(), minlength=n_users)


def split_random(ratings: pd.DataFrame, test_ratio: float = 0.2, seed: int = 0,
                 threshold: float | None = None):
    """Per-user random holdout: about ``test_ratio`` of each user's ratings go to test.

    A user with at least 2 ratings keeps at least 1 in train and 1 in test; a user with one
    rating keeps it in train. Returns ``(train, test)``.
    """
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f"test_ratio must be between 0 and 1 (exclusive), got {test_ratio}")
    ratings = implicit(ratings, threshold)
    counts = _counts(ratings)
    n_test = np.where(counts >= 2,
                      np.clip(np.round(counts * test_ratio), 1, counts - 1), 0).astype(int)
    order = np.random.default_rng(seed).permutation(len(ratings))
    return _holdout(ratings, n_test, order)


def split_temporal(ratings: pd.DataFrame, n_test: int = 10, threshold: float | None = None):
    """Per-user temporal holdout: each user's last ``n_test`` ratings (by timestamp) go to test.

    A user keeps at least one rating in train, so users with few ratings give fewer to test.
    Ties in time are broken by item index, so the split is deterministic.
    """
    if int(n_test) != n_test or n_test < 1:
        raise ValueError(f"n_test must be a positive integer, got {n_test}")
    ratings = implicit(ratings, threshold)
    counts = _counts(ratings)
    per_user = np.minimum(n_test, np.maximum(counts - 1, 0))
    newest_first = np.lexsort((-ratings["item"].to_numpy(), -ratings["timestamp"].to_numpy()))
    return _holdout(ratings, per_user, newest_first)
