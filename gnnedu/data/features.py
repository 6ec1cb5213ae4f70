"""Node features of MovieLens-100K and the graph as PyG ``HeteroData`` (notebook 05).

API summary
-----------
- ``user_features(users) -> (x, names)``: scaled age, gender and occupation one-hot.
- ``movie_features(items, genres) -> (x, names)``: genre multi-hot, scaled release year and a
  "year unknown" flag.
- ``to_hetero_data(ml, ratings) -> HeteroData``: node types ``user`` and ``movie`` with those
  features, edge type ``('user', 'rates', 'movie')`` carrying ``rating`` and ``time``, and the
  reverse edges ``('movie', 'rev_rates', 'user')``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

__all__ = ["user_features", "movie_features", "to_hetero_data", "AGE_SCALE"]

AGE_SCALE = 100.0  # ages in ML-100K run from 7 to 73: age / 100 stays in [0, 1]


def user_features(users: pd.DataFrame) -> tuple[torch.Tensor, list[str]]:
    """User features: age / 100, gender one-hot (F, M), occupation one-hot (sorted names)."""
    missing = [c for c in ("age", "gender", "occupation") if c not in users.columns]
    if missing:
        raise ValueError(f"users table lacks column(s) {missing}")
    age = users[["age"]].to_numpy(np.float32) / AGE_SCALE
    gender = pd.get_dummies(users["gender"], prefix="gender", dtype=np.float32)
    occupation = pd.get_dummies(users["occupation"], prefix="occ", dtype=np.float32)
    x = np.hstack([age, gender.to_numpy(), occupation.to_numpy()])
    names = ["age"] + list(gender.columns) + list(occupation.columns)
    return torch.from_numpy(x), names


def movie_features(items: pd.DataFrame, genres: list[str]) -> tuple[torch.Tensor, list[str]]:
    """Movie features: the genre columns, release year scaled to [0, 1], a year-unknown flag.

    A movie with no release year gets the scaled year 0 and the flag 1.
    """
    missing = [c for c in list(genres) + ["year"] if c not in items.columns]
    if missing:
        raise ValueError(f"items table lacks column(s) {missing}")
    genre_x = items[list(genres)].to_numpy(np.float32)
    year = items["year"].astype("float64").to_numpy()
    unknown = np.isnan(year)
    lo, hi = np.nanmin(year), np.nanmax(year)
    scaled = np.where(unknown, 0.0, (year - lo) / max(hi - lo, 1.0))
    x = np.hstack([genre_x, scaled[:, None], unknown[:, None]]).astype(np.float32)
    names = list(genres) + ["year_scaled", "year_unknown"]
    return torch.from_numpy(x), names


def to_hetero_data(ml, ratings: pd.DataFrame | None = None):
    """The user-movie graph of ``ratings`` (default: all of ``ml.ratings``) as PyG ``HeteroData``.

    Node types ``user`` (features from :func:`user_features`) and ``movie`` (features from
    :func:`movie_features`); edge type ``('user', 'rates', 'movie')`` with edge attributes
    ``rating`` and ``time``; ``ToUndirected`` adds ``('movie', 'rev_rates', 'user')``.
    """
    import torch_geometric.transforms as T
    from torch_geometric.data import HeteroData

    ratings = ml.ratings if ratings is None else ratings
    users = ratings["user"].to_numpy(np.int64)
    items = ratings["item"].to_numpy(np.int64)
    data = HeteroData()
    data["user"].x = user_features(ml.users)[0]
    data["movie"].x = movie_features(ml.items, ml.genres)[0]
    edge = data["user", "rates", "movie"]
    edge.edge_index = torch.from_numpy(np.stack([users, items]))
    edge.rating = torch.tensor(ratings["rating"].to_numpy(np.int64))
    edge.time = torch.tensor(ratings["timestamp"].to_numpy(np.int64))
    return T.ToUndirected()(data)
