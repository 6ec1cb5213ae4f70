"""Small synthetic data sets shared by several test files (no download, no randomness left)."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

NUM_USERS, NUM_ITEMS = 30, 40


def two_taste_groups(seed: int = 0) -> pd.DataFrame:
    """Ratings of two taste groups: users 0-14 mostly rate items 0-19, users 15-29 items 20-39,
    plus two random items each; columns ``user, item, rating, timestamp, user_id, item_id``."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(NUM_USERS):
        home = 0 if u < NUM_USERS // 2 else NUM_ITEMS // 2
        n = int(rng.integers(4, 14))
        mine = rng.choice(np.arange(home, home + NUM_ITEMS // 2), size=n, replace=False)
        other = rng.choice(NUM_ITEMS, size=2, replace=False)
        for t, i in enumerate(sorted(set(mine.tolist()) | set(other.tolist()))):
            rows.append((u, i, int(rng.integers(1, 6)), 1000 * u + t))
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    df["user_id"], df["item_id"] = df["user"] + 1, df["item"] + 1
    return df


def tiny_movielens(num_users=40, num_items=60, per_user=12, seed=0):
    """A MovieLens-shaped object: users share a taste (low item indices are more likely)."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for u in range(num_users):
        items = torch.multinomial(torch.linspace(2.0, 0.2, num_items), per_user,
                                  generator=gen)
        rows += [(u, int(i), 4, t) for t, i in enumerate(items)]
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return SimpleNamespace(ratings=ratings, num_users=num_users, num_items=num_items)


def example_runs() -> list[dict]:
    """Three result rows as ``gnnedu.experiment.run_one`` writes them (two seeds of EASE, one
    of Popularity whose peak memory is unknown)."""
    return [
        {"model": "EASE", "key": "ease", "seed": 0, "recall@10": 0.2, "ndcg@10": 0.3,
         "precision@10": 0.1, "recall@20": 0.36, "ndcg@20": 0.44, "train_seconds": 1.0,
         "peak_mem_mb": 100.0, "epochs": None},
        {"model": "EASE", "key": "ease", "seed": 1, "recall@10": 0.4, "ndcg@10": 0.3,
         "precision@10": 0.1, "recall@20": 0.38, "ndcg@20": 0.44, "train_seconds": 3.0,
         "peak_mem_mb": 120.0, "epochs": None},
        {"model": "Popularity", "key": "popularity", "seed": 0, "recall@10": 0.1,
         "ndcg@10": 0.2, "precision@10": 0.2, "recall@20": 0.17, "ndcg@20": 0.21,
         "train_seconds": 0.0, "peak_mem_mb": math.nan, "epochs": None},
    ]
