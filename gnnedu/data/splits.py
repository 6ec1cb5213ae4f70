"""Train/test splits of a ratings table (taught in notebook 05).

Every split is deterministic for a seed, disjoint, and covers the (thresholded) data:
``len(train) + len(test) == len(ratings)``.

API summary
-----------
- ``implicit(ratings, threshold)``: the ratings ``>= threshold`` (all when None).
- ``split_random(ratings, test_ratio=0.2, seed=0, threshold=None)``: per-user random holdout
  (protocol P1 uses it).
- ``split_temporal(ratings, n_test=10, threshold=None)``: each user's newest ratings to test.
- ``SPLITS``: every split name ``load_split`` accepts: "random" and MovieLens' official ones.
- ``load_split(ml, split="random", seed=0, threshold=None, test_ratio=0.2) -> (train, test)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnnedu.data.movielens import OFFICIAL_SPLITS

REQUIRED = ("user", "item", "rating", "timestamp")
SPLITS = ("random",) + OFFICIAL_SPLITS


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
    kept = ratings[ratings["rating"] >= threshold].reset_index(drop=True)
    if len(ratings) and kept.empty:
        low, high = ratings["rating"].min(), ratings["rating"].max()
        raise ValueError(f"threshold {threshold:g} leaves no ratings: ratings run from {low:g} "
                         f"to {high:g}, so use a threshold of at most {high:g}")
    return kept


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


def load_split(ml, split: str = "random", seed: int = 0, threshold: float | None = None,
               test_ratio: float = 0.2):
    """``(train, test)`` DataFrames of MovieLens ``ml`` for a split name in :data:`SPLITS`.

    "random" is :func:`split_random` with ``test_ratio`` and ``seed``; an official split
    ("u1".."u5", "ua", "ub") ignores both. ``threshold`` keeps the ratings ``>= threshold``.
    """
    if split == "random":
        return split_random(ml.ratings, test_ratio=test_ratio, seed=seed, threshold=threshold)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    train, test = ml.official_split(split)
    return implicit(train, threshold), implicit(test, threshold)
