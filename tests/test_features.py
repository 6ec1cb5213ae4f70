"""gnnedu.data.features: MovieLens node features and the graph as PyG HeteroData (notebook 05)."""

import pandas as pd
import pytest
import torch

from gnnedu import data
from gnnedu.data import features


def test_user_features_one_hot():
    users = pd.DataFrame({"age": [20, 50], "gender": ["M", "F"],
                          "occupation": ["writer", "artist"]})
    x, names = features.user_features(users)
    assert x.shape == (2, len(names)) == (2, 5)
    assert names == ["age", "gender_F", "gender_M", "occ_artist", "occ_writer"]
    assert torch.allclose(x[:, 0], torch.tensor([0.2, 0.5]))
    assert x[:, 1:3].sum(1).tolist() == [1.0, 1.0] and x[:, 3:].sum(1).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        features.user_features(users.drop(columns="gender"))


def test_movie_features_year_unknown_flag():
    items = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1],
                          "year": pd.array([1990, None, 2000], dtype="Int64")})
    x, names = features.movie_features(items, ["A", "B"])
    assert names == ["A", "B", "year_scaled", "year_unknown"]
    assert torch.allclose(x[:, 2], torch.tensor([0.0, 0.0, 1.0]))
    assert x[:, 3].tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        features.movie_features(items, ["A", "C"])


def test_exported_from_gnnedu_data():
    assert data.user_features is features.user_features
    assert data.movie_features is features.movie_features
    assert data.to_hetero_data is features.to_hetero_data


def test_to_hetero_data_on_movielens(ml):
    sample = ml.ratings.iloc[::10]
    hetero = features.to_hetero_data(ml, sample)
    fwd = hetero["user", "rates", "movie"]
    rev = hetero["movie", "rev_rates", "user"]
    assert hetero["user"].num_nodes == ml.num_users and hetero["movie"].num_nodes == ml.num_items
    assert fwd.edge_index.shape == (2, len(sample))
    assert torch.equal(rev.edge_index, fwd.edge_index.flip(0))
    assert torch.equal(fwd.rating, torch.tensor(sample["rating"].to_numpy()))
    assert hetero["movie"].x[:, : len(ml.genres)].sum() == ml.items[ml.genres].to_numpy().sum()
