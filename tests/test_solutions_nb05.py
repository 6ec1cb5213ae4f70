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


# Your turn 1: the normalised adjacency -----------------------------------------------------------

def _stub(*args):
    raise NotImplementedError


def test_check_adjacency_passes_the_solution_and_hints_at_a_stub():
    assert nb05.check_adjacency(nb05.normalized_adjacency_by_hand) == "pass"
    assert nb05.check_adjacency(_stub).startswith("not yet: replace")


def _raw_adjacency(users, items, nu, ni):
    a = torch.zeros(nu + ni, nu + ni)
    a[users, items + nu] = 1.0
    a[items + nu, users] = 1.0
    return a


def _divide_by_zero(users, items, nu, ni):
    a = _raw_adjacency(users, items, nu, ni)
    d = a.sum(1)
    return a / torch.sqrt(d[:, None] * d[None, :])


@pytest.mark.parametrize("wrong, words", [
    (lambda u, i, nu, ni: torch.zeros(nu, ni), "one row and column per node"),
    (_divide_by_zero, "degree 0"),
    (_raw_adjacency, "normalise"),
    (lambda u, i, nu, ni: _raw_adjacency(u, i, nu, ni) / _raw_adjacency(u, i, nu, ni).sum(1)
     .clamp(min=1)[:, None], "symmetric weight"),
    (lambda u, i, nu, ni: nb05.normalized_adjacency_by_hand(u, i, nu, ni) + torch.eye(nu + ni),
     "self-loops"),
    (lambda u, i, nu, ni: torch.triu(nb05.normalized_adjacency_by_hand(u, i, nu, ni)),
     "store each rating twice"),
    (lambda u, i, nu, ni: nb05.normalized_adjacency_by_hand(u, i, nu, ni) / 2, "symmetric"),
    (lambda u, i, nu, ni: nb05.normalized_adjacency_by_hand(i, u, ni, nu), "non-zero entries"),
    (lambda u, i, nu, ni: [[0.0]], "torch tensor"),
])
def test_check_adjacency_hints_at_wrong_answers(wrong, words):
    hint = nb05.check_adjacency(wrong)
    assert hint.startswith("not yet:") and words in hint, hint


@needs_movielens
def test_adjacency_by_hand_matches_build_graph_on_a_slice_of_movielens(ml):
    sample = ml.ratings.iloc[::50]
    users = torch.tensor(sample["user"].to_numpy())
    items = torch.tensor(sample["item"].to_numpy())
    by_hand = nb05.normalized_adjacency_by_hand(users, items, ml.num_users, ml.num_items)
    expected = build_graph(sample, ml.num_users, ml.num_items).adj.to_dense()
    assert torch.allclose(by_hand, expected, atol=1e-6)


# Your turn 2: negative sampling ------------------------------------------------------------------

def test_check_negatives_passes_the_solution_and_hints_at_a_stub():
    assert nb05.check_negatives(nb05.sample_negatives_by_hand) == "pass"
    assert nb05.check_negatives(_stub).startswith("not yet: replace")


def _first_unrated(users, seen, generator=None):
    return (~seen[users]).int().argmax(dim=1)


@pytest.mark.parametrize("wrong, words", [
    (lambda users, seen, g=None: torch.randint(seen.shape[1], users.shape, generator=g),
     "already rated"),
    (_first_unrated, "equally"),
    (lambda users, seen, g=None: _first_unrated(users, seen).float(), "integers"),
    (lambda users, seen, g=None: _first_unrated(users, seen)[:5], "one movie per entry"),
    (lambda users, seen, g=None: _first_unrated(users, seen) - 1, "run from 0"),
])
def test_check_negatives_hints_at_wrong_answers(wrong, words):
    hint = nb05.check_negatives(wrong)
    assert hint.startswith("not yet:") and words in hint, hint


def test_sample_negatives_by_hand_refuses_a_user_who_rated_everything():
    with pytest.raises(ValueError, match="every movie"):
        nb05.sample_negatives_by_hand(torch.tensor([0]), torch.ones(1, 3, dtype=torch.bool))


# Check your understanding and the exercises' stated numbers --------------------------------------

def test_understanding_has_five_answers_with_true_arithmetic():
    assert set(nb05.UNDERSTANDING) == {1, 2, 3, 4, 5}
    assert f"{100_000 / (943 * 1682):.4f}" in nb05.UNDERSTANDING[1]
    assert f"{np.log(2):.4f}" in nb05.UNDERSTANDING[3]
    assert f"{np.logaddexp(0, -8):.6f}" in nb05.UNDERSTANDING[3]   # -ln sigmoid(8)


@needs_movielens
def test_stated_numbers_on_movielens(ml):
    from gnnedu import ratings
    from gnnedu.data import split_random

    user_deg, item_deg = ratings.degrees(ml.ratings, ml.num_users, ml.num_items)
    assert round(nb05.gini(item_deg), 3) == 0.629 and round(nb05.gini(user_deg), 3) == 0.472
    train, test = nb05.leave_one_out_split(ml.ratings)
    assert len(set(test["item"]) - set(train["item"])) == 3
    # question 2: recall@20 of a list that holds every test movie first
    split_train, split_test = split_random(ml.ratings, 0.2, seed=0)
    n_test = split_test.groupby("user").size().to_numpy()
    assert round(float(np.mean(np.minimum(20, n_test) / n_test)), 4) == 0.8393
    assert int((n_test > 20).sum()) == 353
    # question 5: the predicted share of false negatives
    n_train = split_train.groupby("user").size().reindex(split_test.groupby("user").size().index)
    predicted = float((n_train * n_test / (ml.num_items - n_train)).sum() / n_train.sum())
    assert round(predicted, 3) == 0.028
    # exercise 4: median training degree of the sampled movies
    graph = build_graph(split_train, ml.num_users, ml.num_items)
    deg = torch.bincount(graph.items, minlength=graph.num_items).numpy()
    medians = [np.median(deg[nb05.popularity_negatives(deg, 80_000, alpha=a, seed=0)])
               for a in (0.0, 0.75, 1.0)]
    assert medians == [21, 91, 114] and np.median(deg[graph.items.numpy()]) == 114
