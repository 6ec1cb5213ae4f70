"""Exercise solutions of notebook 05, checked on small hand-made inputs and on MovieLens-100K."""

import numpy as np
import pandas as pd
import pytest
import torch
from datafind import needs_movielens

from gnnedu.data import to_hetero_data
from gnnedu.graph import build_graph
from notebooks.solutions import nb05

# Exercise 1 -------------------------------------------------------------------------------------

def test_gini_equal_degrees_is_zero():
    assert nb05.gini([4, 4, 4, 4]) == pytest.approx(0.0)


def test_gini_one_node_with_everything():
    n = 5
    assert nb05.gini([0, 0, 0, 0, 7]) == pytest.approx((n - 1) / n)


def test_gini_matches_mean_absolute_difference():
    # G = sum_ij |x_i - x_j| / (2 n^2 mean): an independent formula
    x = np.random.default_rng(0).integers(0, 50, size=40).astype(float)
    expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert nb05.gini(x) == pytest.approx(expected)
    assert nb05.gini(3 * x) == pytest.approx(expected)   # scale does not matter


@pytest.mark.parametrize("bad", [[], [0, 0], [1, -1]])
def test_gini_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        nb05.gini(bad)


# Exercise 2 -------------------------------------------------------------------------------------

def small_ratings():
    return pd.DataFrame({
        "user": [0, 0, 0, 1, 1, 2],
        "item": [3, 1, 2, 0, 4, 1],
        "rating": [5, 4, 3, 2, 1, 5],
        "timestamp": [10, 30, 30, 5, 1, 7],
    })


def test_leave_one_out_by_hand():
    train, test = nb05.leave_one_out_split(small_ratings())
    # user 0: items 1 and 2 tie at t=30, the larger index (2) is the test item;
    # user 1: latest is item 0 (t=5); user 2 has one rating and keeps it in train.
    assert sorted(zip(test["user"], test["item"])) == [(0, 2), (1, 0)]
    assert sorted(zip(train["user"], train["item"])) == [(0, 1), (0, 3), (1, 4), (2, 1)]


@needs_movielens
def test_leave_one_out_on_movielens(ml):
    train, test = nb05.leave_one_out_split(ml.ratings)
    assert len(test) == ml.num_users and test["user"].is_unique
    assert len(train) + len(test) == len(ml.ratings)
    latest = ml.ratings.groupby("user")["timestamp"].max()
    assert (test.set_index("user")["timestamp"] == latest).all()
    keys = lambda df: set(zip(df["user"], df["item"]))  # noqa: E731
    assert not keys(train) & keys(test)


# Exercise 3 -------------------------------------------------------------------------------------

def test_hetero_to_offset_small():
    from torch_geometric.data import HeteroData

    data = HeteroData()
    data["user"].num_nodes = 3
    data["movie"].num_nodes = 2
    data["user", "rates", "movie"].edge_index = torch.tensor([[0, 2, 2], [1, 0, 1]])
    out = nb05.hetero_to_offset(data)
    expected = torch.tensor([[0, 2, 2, 4, 3, 4], [4, 3, 4, 0, 2, 2]])
    assert torch.equal(out, expected)


@pytest.mark.filterwarnings("ignore:Unable to accurately infer")
def test_hetero_to_offset_needs_node_counts():
    from torch_geometric.data import HeteroData

    data = HeteroData()
    data["user", "rates", "movie"].edge_index = torch.tensor([[0], [0]])
    with pytest.raises(ValueError):
        nb05.hetero_to_offset(data)


@needs_movielens
def test_hetero_to_offset_matches_build_graph(ml):
    sample = ml.ratings.iloc[::7]
    out = nb05.hetero_to_offset(to_hetero_data(ml, sample))
    graph = build_graph(sample, ml.num_users, ml.num_items)
    key = lambda ei: torch.sort(ei[0] * graph.num_nodes + ei[1]).values  # noqa: E731
    assert torch.equal(key(out), key(graph.edge_index))


# Exercise 4 -------------------------------------------------------------------------------------

def test_popularity_negatives_alpha_zero_is_uniform():
    deg = np.array([0, 1, 10, 100])
    draws = nb05.popularity_negatives(deg, 40_000, alpha=0.0, seed=0)
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert np.allclose(freq, 0.25, atol=0.01)


def test_popularity_negatives_alpha_one_follows_degree():
    deg = np.array([0, 1, 3, 6])
    draws = nb05.popularity_negatives(deg, 50_000, alpha=1.0, seed=1)
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert freq[0] == 0.0                       # degree 0 is never drawn
    assert np.allclose(freq, deg / deg.sum(), atol=0.01)


def test_popularity_negatives_larger_alpha_prefers_popular_items():
    deg = np.arange(1, 51)
    mean_deg = [deg[nb05.popularity_negatives(deg, 5_000, alpha=a, seed=2)].mean()
                for a in (0.0, 0.75, 1.5)]
    assert mean_deg[0] < mean_deg[1] < mean_deg[2]


def test_popularity_negatives_seeded_and_checked():
    deg = np.array([1, 2, 3])
    a = nb05.popularity_negatives(deg, 100, seed=3)
    assert np.array_equal(a, nb05.popularity_negatives(deg, 100, seed=3))
    with pytest.raises(ValueError):
        nb05.popularity_negatives(deg, 10, alpha=-1.0)
    with pytest.raises(ValueError):
        nb05.popularity_negatives([0, 0], 10, alpha=1.0)
