"""gnnedu.explore: statistics, the HeteroData builder, leakage and sampled-evaluation helpers."""

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gnnedu import explore
from gnnedu.graph import build_graph
from gnnedu.metrics import ranking_metrics

ZIP = Path(os.environ.get("GNNEDU_DATA", Path(__file__).parents[2] / "shared" / "data")) \
    / "ml-100k.zip"
needs_movielens = pytest.mark.skipif(not ZIP.is_file(), reason=f"no MovieLens copy at {ZIP}")


def table(pairs, timestamps=None):
    users, items = zip(*pairs)
    df = pd.DataFrame({"user": users, "item": items, "rating": 4})
    df["timestamp"] = timestamps if timestamps is not None else range(len(df))
    return df


# 3 users, 4 items; item 3 has no interaction
TOY = table([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)])


# statistics ------------------------------------------------------------------------------------

def test_degrees_and_summary_by_hand():
    user_deg, item_deg = explore.degrees(TOY, 3, 4)
    assert user_deg.tolist() == [3, 2, 1]
    assert item_deg.tolist() == [3, 2, 1, 0]
    s = explore.summary(TOY, 3, 4)
    assert s["interactions"] == 6
    assert s["density"] == pytest.approx(6 / 12)
    assert s["sparsity"] == pytest.approx(0.5)
    assert (s["min_per_item"], s["max_per_item"], s["median_per_user"]) == (0, 3, 2.0)


def test_degrees_rejects_out_of_range_and_bad_tables():
    with pytest.raises(ValueError):
        explore.degrees(TOY, 2, 4)
    with pytest.raises(ValueError):
        explore.degrees(pd.DataFrame({"u": [0]}), 1, 1)


def test_degree_counts_skips_zero():
    k, n_k = explore.degree_counts([0, 1, 1, 3, 0, 3, 3])
    assert k.tolist() == [1, 3] and n_k.tolist() == [2, 3]
    with pytest.raises(ValueError):
        explore.degree_counts([1, -1])


def test_head_share():
    assert explore.head_share([1, 10, 3, 5, 1], head=0.2) == pytest.approx(10 / 20)
    assert explore.head_share([1, 10, 3, 5, 1], head=1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        explore.head_share([1, 2], head=0.0)
    with pytest.raises(ValueError):
        explore.head_share([0, 0])


def test_split_report_counts_cold_users_items_and_time():
    train = table([(0, 0), (0, 1), (1, 1)], timestamps=[5, 6, 9])
    test = table([(0, 2), (1, 0), (2, 1)], timestamps=[10, 3, 8])
    r = explore.split_report(train, test)
    assert r["test_users"] == 3
    assert r["cold_test_users"] == 1        # user 2 has no training row
    assert r["cold_test_items"] == 1        # item 2 never in train
    assert r["test_before_train_end"] == pytest.approx(2 / 3)   # t=3 and t=8 are before t=9


# features and HeteroData ------------------------------------------------------------------------

def test_user_features_one_hot():
    users = pd.DataFrame({"age": [20, 50], "gender": ["M", "F"],
                          "occupation": ["writer", "artist"]})
    x, names = explore.user_features(users)
    assert x.shape == (2, len(names)) == (2, 5)
    assert names == ["age", "gender_F", "gender_M", "occ_artist", "occ_writer"]
    assert torch.allclose(x[:, 0], torch.tensor([0.2, 0.5]))
    assert x[:, 1:3].sum(1).tolist() == [1.0, 1.0] and x[:, 3:].sum(1).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        explore.user_features(users.drop(columns="gender"))


def test_movie_features_year_unknown_flag():
    items = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1],
                          "year": pd.array([1990, None, 2000], dtype="Int64")})
    x, names = explore.movie_features(items, ["A", "B"])
    assert names == ["A", "B", "year_scaled", "year_unknown"]
    assert torch.allclose(x[:, 2], torch.tensor([0.0, 0.0, 1.0]))
    assert x[:, 3].tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        explore.movie_features(items, ["A", "C"])


@needs_movielens
def test_to_hetero_data_on_movielens(ml):
    sample = ml.ratings.iloc[::10]
    data = explore.to_hetero_data(ml, sample)
    fwd = data["user", "rates", "movie"]
    rev = data["movie", "rev_rates", "user"]
    assert data["user"].num_nodes == ml.num_users and data["movie"].num_nodes == ml.num_items
    assert fwd.edge_index.shape == (2, len(sample))
    assert torch.equal(rev.edge_index, fwd.edge_index.flip(0))
    assert torch.equal(fwd.rating, torch.tensor(sample["rating"].to_numpy()))
    assert data["movie"].x[:, : len(ml.genres)].sum() == ml.items[ml.genres].to_numpy().sum()


# propagation and ranks ---------------------------------------------------------------------------

def dense_adj_power(graph, layers):
    a = graph.adj.to_dense().double()
    return torch.linalg.matrix_power(a, layers)[: graph.num_users, graph.num_users:]


def test_propagation_scores_are_powers_of_the_adjacency():
    graph = build_graph(TOY, 3, 4)
    # one step: 1 / sqrt(d_u d_i) on edges, 0 elsewhere
    one = explore.propagation_scores(graph, 1)
    assert one[0, 0] == pytest.approx(1 / math.sqrt(3 * 3))
    assert one[2, 1] == 0.0
    for layers in (1, 3):
        assert torch.allclose(explore.propagation_scores(graph, layers).double(),
                              dense_adj_power(graph, layers), atol=1e-6)
    with pytest.raises(ValueError):
        explore.propagation_scores(graph, 0)


def test_heldout_ranks_by_hand():
    scores = torch.tensor([[0.9, 0.1, 0.5, 0.5, 0.2],
                           [0.3, 0.8, 0.1, 0.7, 0.0]])
    train = table([(0, 0), (1, 1)])
    test = table([(0, 2), (0, 4), (1, 3)])
    # user 0 ranks items 1..4 (item 0 masked): item 2 ties item 3 -> rank 1 (ties count against)
    # item 4 is beaten by 2 and 3 -> rank 2; user 1: item 3 is first among 0, 2, 3, 4 -> rank 0
    assert explore.heldout_ranks(scores, train, test).tolist() == [1, 2, 0]


# negatives ---------------------------------------------------------------------------------------

def test_false_negative_rate_extremes():
    train = table([(0, 0), (1, 1)])
    # every item a user has not trained on is in their test set -> every negative is false
    all_test = table([(0, 1), (0, 2), (1, 0), (1, 2)])
    assert explore.false_negative_rate(train, all_test, 3, num_samples=200) == 1.0
    none_test = table([(0, 0), (1, 1)])      # test items are training items: never drawn
    assert explore.false_negative_rate(train, none_test, 3, num_samples=200) == 0.0


# sampled evaluation ------------------------------------------------------------------------------

def test_sample_candidates_shape_and_exclusions():
    rng = np.random.default_rng(0)
    pairs = {(u, int(i)) for u in range(6) for i in rng.choice(40, 8, replace=False)}
    df = table(sorted(pairs))
    train, test = df.iloc[::2], df.iloc[1::2]
    users, cand = explore.sample_candidates(train, test, 40, num_negatives=10, seed=3)
    assert cand.shape == (len(test), 11)
    assert torch.equal(users, torch.tensor(test["user"].to_numpy()))
    assert torch.equal(cand[:, 0], torch.tensor(test["item"].to_numpy()))
    for u, row in zip(users.tolist(), cand.tolist()):
        negatives = row[1:]
        assert len(set(negatives)) == 10
        assert not set(negatives) & {i for (v, i) in pairs if v == u}
    again = explore.sample_candidates(train, test, 40, num_negatives=10, seed=3)[1]
    assert torch.equal(cand, again)
    with pytest.raises(ValueError):
        explore.sample_candidates(train, test, 40, num_negatives=40)


def test_sampled_rank_counts_ties_against_the_positive():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1],
                           [1.0, 1.0, 1.0, 1.0]])
    users = torch.tensor([0, 1])
    cand = torch.tensor([[0, 1, 2, 3],     # positive 0.5: beaten by 0.9, tied with 0.5 -> 2
                         [3, 0, 1, 2]])    # a constant scorer ranks the positive last -> 3
    assert explore.sampled_rank(scores, users, cand).tolist() == [2, 3]


def test_sampled_hits_and_evaluate_match_the_formulas():
    ranks = torch.tensor([0, 2, 5])
    hits = explore.sampled_hits(ranks, 3)
    assert hits.tolist() == [[True, False, False], [False, False, True],
                             [False, False, False]]
    per_row = ranking_metrics(hits, torch.ones(3), ks=(3,))
    assert per_row["hit@3"].tolist() == [1.0, 1.0, 0.0]
    # scores whose sampled ranks are 0, 2 and 5 (one user per row)
    scores = torch.tensor([[9.0, 1, 2, 3, 4, 5],
                           [4.0, 1, 2, 3, 5, 6],
                           [0.0, 1, 2, 3, 4, 5]])
    cand = torch.arange(6).repeat(3, 1)
    out = explore.sampled_evaluate(scores, torch.arange(3), cand, ks=(3,))
    assert out["hit@3"] == pytest.approx(2 / 3)
    assert out["ndcg@3"] == pytest.approx((1.0 + 1 / math.log2(4)) / 3)
