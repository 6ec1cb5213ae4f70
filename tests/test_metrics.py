"""Tests for gnnedu.metrics: hand-computed cases and agreement with torch_geometric.metrics;
held-out ranks and sampled evaluation (notebook 05/06); metrics by user activity and popularity
bias (notebook 08)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic import NUM_ITEMS, NUM_USERS, two_taste_groups
from torch_geometric.metrics import (
    LinkPredAveragePopularity,
    LinkPredCoverage,
    LinkPredF1,
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from gnnedu import metrics
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate, hit_matrix, per_user_metrics, ranking_metrics, topk_masked
from gnnedu.models import LightGCN, Popularity


def test_hand_computed_single_user():
    # top-5 list with hits at ranks 1 and 3; the user has 4 test items.
    hits = torch.tensor([[1, 0, 1, 0, 0]], dtype=torch.bool)
    m = ranking_metrics(hits, torch.tensor([4]), ks=(5, 2))
    assert m["precision@5"].item() == pytest.approx(2 / 5)
    assert m["recall@5"].item() == pytest.approx(2 / 4)
    assert m["f1@5"].item() == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, 5))
    assert m["ndcg@5"].item() == pytest.approx(dcg / idcg)
    # AP@5 = (P@1 + P@3) / min(5, 4) = (1 + 2/3) / 4
    assert m["map@5"].item() == pytest.approx((1 + 2 / 3) / 4)
    assert m["hit@5"].item() == 1.0
    assert m["mrr@5"].item() == 1.0
    # at k=2 only rank 1 counts; min(2, 4) = 2 in the MAP and IDCG denominators
    assert m["precision@2"].item() == pytest.approx(0.5)
    assert m["map@2"].item() == pytest.approx(1 / 2)
    assert m["ndcg@2"].item() == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_hand_computed_miss_and_late_hit():
    hits = torch.tensor([[0, 0, 0], [0, 0, 1]], dtype=torch.bool)
    m = ranking_metrics(hits, torch.tensor([2, 1]), ks=(3,))
    assert m["recall@3"].tolist() == [0.0, 1.0]
    assert m["mrr@3"].tolist() == pytest.approx([0.0, 1 / 3])
    assert m["hit@3"].tolist() == [0.0, 1.0]
    assert m["f1@3"].tolist() == pytest.approx([0.0, 2 * (1 / 3) / (1 / 3 + 1)])
    assert m["map@3"].tolist() == pytest.approx([0.0, 1 / 3])


def test_topk_masked_never_returns_excluded_items():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    exclude = torch.tensor([[True, False, True, False], [False, False, False, True]])
    assert topk_masked(scores, 2, exclude).tolist() == [[1, 3], [2, 1]]
    assert topk_masked(scores, 1).tolist() == [[0], [3]]
    with pytest.raises(ValueError):
        topk_masked(scores, 5)
    assert hit_matrix(torch.tensor([[1, 3]]), torch.tensor([[0, 0, 0, 1]]).bool()).tolist() == [
        [False, True]]


def _random_case(seed, num_users=60, num_items=40):
    g = torch.Generator().manual_seed(seed)
    pairs = torch.rand(num_users, num_items, generator=g)
    train = pairs < 0.2
    test = (pairs > 0.85) & ~train
    test[:5] = False                      # users without test items are skipped
    scores = torch.randn(num_users, num_items, generator=g)
    return train, test, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_torch_geometric_metrics(seed):
    train, test, scores = _random_case(seed)
    num_users, num_items = scores.shape
    tr, te = train.nonzero().T, test.nonzero().T
    ks = (5, 10)
    ours = evaluate(scores, build_graph((tr[0], tr[1]), num_users, num_items), (te[0], te[1]),
                    ks=ks)
    # PyG on the same masked top-K lists, users with test items only.
    keep = test.any(1)
    topk = topk_masked(scores, max(ks), train)[keep]
    label_index = test[keep].nonzero().T
    popularity = train.sum(0).float() / num_users
    for k in ks:
        for name, cls in [("precision", LinkPredPrecision), ("recall", LinkPredRecall),
                          ("f1", LinkPredF1), ("ndcg", LinkPredNDCG), ("map", LinkPredMAP),
                          ("hit", LinkPredHitRatio), ("mrr", LinkPredMRR)]:
            metric = cls(k)
            metric.update(topk, label_index)
            assert ours[f"{name}@{k}"] == pytest.approx(metric.compute().item(), abs=1e-6), name
        cov = LinkPredCoverage(k, num_items)
        cov.update(topk, label_index)
        assert ours[f"coverage@{k}"] == pytest.approx(cov.compute().item())
        arp = LinkPredAveragePopularity(k, popularity)
        arp.update(topk, label_index)
        assert ours[f"arp@{k}"] == pytest.approx(arp.compute().item(), abs=1e-6)
    assert ours["users"] == int(keep.sum())


def test_per_user_arrays_and_batching_agree():
    train, test, scores = _random_case(3)
    tr, te = train.nonzero().T, test.nonzero().T
    graph = build_graph((tr[0], tr[1]), *scores.shape)
    one = per_user_metrics(scores, graph, (te[0], te[1]), ks=(10,), batch_size=1000)
    many = per_user_metrics(scores, graph, (te[0], te[1]), ks=(10,), batch_size=7)
    assert set(one) >= {"users", "n_train", "n_test", "recall@10", "ndcg@10"}
    for key in one:
        np.testing.assert_array_equal(one[key], many[key])
    assert len(one["users"]) == len(one["recall@10"]) == int(test.any(1).sum())
    np.testing.assert_array_equal(one["n_test"], test.sum(1)[one["users"]].numpy())
    np.testing.assert_array_equal(one["n_train"], train.sum(1)[one["users"]].numpy())
    # restricting to some users gives their rows
    sub = per_user_metrics(scores, graph, (te[0], te[1]), ks=(10,), users=[7, 9, 11])
    assert sub["users"].tolist() == [7, 9, 11]
    np.testing.assert_allclose(sub["recall@10"], one["recall@10"][np.isin(one["users"],
                                                                          [7, 9, 11])])


def test_training_items_are_masked():
    # the model loves the one training item of user 0; it must not be counted or recommended
    scores = torch.tensor([[9.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    graph = build_graph(([0, 1], [0, 2]), 2, 3)
    m = evaluate(scores, graph, ([0, 1], [2, 1]), ks=(1,))
    assert m["precision@1"] == 1.0 and m["coverage@1"] == pytest.approx(2 / 3)


def test_bad_inputs():
    graph = build_graph(([0], [0]), 1, 2)
    with pytest.raises(ValueError):
        evaluate(torch.zeros(1, 2), graph, ([0], [5]))
    with pytest.raises(ValueError):
        evaluate(torch.zeros(1, 2), graph, ([0], [1]), ks=(0,))


# metric names --------------------------------------------------------------------------------

def test_check_metric_splits_name_and_k():
    assert metrics.check_metric("recall@20") == ("recall", 20)
    assert metrics.check_metric("ndcg@5") == ("ndcg", 5)
    for name in metrics.METRIC_NAMES:
        for k in metrics.KS:
            assert metrics.check_metric(f"{name}@{k}") == (name, k)
    for bad in ("foo@3", "recall@0", "recall", "recall@", "recall@-1", "recall@x", "@10"):
        with pytest.raises(ValueError):
            metrics.check_metric(bad)
    with pytest.raises(ValueError, match="recall"):       # the message lists the valid names
        metrics.check_metric("foo@3")


def test_metric_names_are_what_ranking_metrics_computes():
    hits = torch.zeros(1, max(metrics.KS), dtype=torch.bool)
    hits[0, [0, 2]] = True
    keys = set(ranking_metrics(hits, torch.tensor([2]), ks=metrics.KS))
    assert keys == {f"{m}@{k}" for m in metrics.METRIC_NAMES for k in metrics.KS}


# held-out ranks and sampled evaluation ---------------------------------------------------------

def _table(pairs):
    users, items = zip(*pairs)
    return pd.DataFrame({"user": users, "item": items, "rating": 4, "timestamp": 0})


def test_heldout_ranks_by_hand():
    scores = torch.tensor([[0.9, 0.1, 0.5, 0.5, 0.2],
                           [0.3, 0.8, 0.1, 0.7, 0.0]])
    train = _table([(0, 0), (1, 1)])
    test = _table([(0, 2), (0, 4), (1, 3)])
    # user 0 ranks items 1..4 (item 0 masked): item 2 ties item 3 -> rank 1 (ties count against)
    # item 4 is beaten by 2 and 3 -> rank 2; user 1: item 3 is first among 0, 2, 3, 4 -> rank 0
    assert metrics.heldout_ranks(scores, train, test).tolist() == [1, 2, 0]


def test_sample_candidates_shape_and_exclusions():
    rng = np.random.default_rng(0)
    pairs = {(u, int(i)) for u in range(6) for i in rng.choice(40, 8, replace=False)}
    df = _table(sorted(pairs))
    train, test = df.iloc[::2], df.iloc[1::2]
    users, cand = metrics.sample_candidates(train, test, 40, num_negatives=10, seed=3)
    assert cand.shape == (len(test), 11)
    assert torch.equal(users, torch.tensor(test["user"].to_numpy()))
    assert torch.equal(cand[:, 0], torch.tensor(test["item"].to_numpy()))
    for u, row in zip(users.tolist(), cand.tolist()):
        negatives = row[1:]
        assert len(set(negatives)) == 10
        assert not set(negatives) & {i for (v, i) in pairs if v == u}
    again = metrics.sample_candidates(train, test, 40, num_negatives=10, seed=3)[1]
    assert torch.equal(cand, again)
    with pytest.raises(ValueError):
        metrics.sample_candidates(train, test, 40, num_negatives=40)


def test_sampled_rank_counts_ties_against_the_positive():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1],
                           [1.0, 1.0, 1.0, 1.0]])
    users = torch.tensor([0, 1])
    cand = torch.tensor([[0, 1, 2, 3],     # positive 0.5: beaten by 0.9, tied with 0.5 -> 2
                         [3, 0, 1, 2]])    # a constant scorer ranks the positive last -> 3
    assert metrics.sampled_rank(scores, users, cand).tolist() == [2, 3]


def test_sampled_hits_and_evaluate_match_the_formulas():
    ranks = torch.tensor([0, 2, 5])
    hits = metrics.sampled_hits(ranks, 3)
    assert hits.tolist() == [[True, False, False], [False, False, True],
                             [False, False, False]]
    per_row = ranking_metrics(hits, torch.ones(3), ks=(3,))
    assert per_row["hit@3"].tolist() == [1.0, 1.0, 0.0]
    # scores whose sampled ranks are 0, 2 and 5 (one user per row)
    scores = torch.tensor([[9.0, 1, 2, 3, 4, 5],
                           [4.0, 1, 2, 3, 5, 6],
                           [0.0, 1, 2, 3, 4, 5]])
    cand = torch.arange(6).repeat(3, 1)
    out = metrics.sampled_evaluate(scores, torch.arange(3), cand, ks=(3,))
    assert out["hit@3"] == pytest.approx(2 / 3)
    assert out["ndcg@3"] == pytest.approx((1.0 + 1 / math.log2(4)) / 3)


# user activity and popularity bias -------------------------------------------------------------



def _two_taste_groups(seed: int = 0):
    """:func:`synthetic.two_taste_groups` with each user's last rating (by time) held out."""
    ratings = two_taste_groups(seed)[["user", "item", "rating", "timestamp"]]
    last = ratings.groupby("user")["timestamp"].transform("max") == ratings["timestamp"]
    return ratings[~last].reset_index(drop=True), ratings[last].reset_index(drop=True)


def test_activity_buckets_edges():
    labels = metrics.activity_buckets([1, 25, 26, 50, 51, 200, 201, 700])
    assert labels.tolist() == ["1-25", "1-25", "26-50", "26-50", "51-100", "101-200", ">200",
                               ">200"]
    assert metrics.bucket_labels((0, 10, 20)) == ["1-10", "11-20"]
    assert metrics.bucket_labels() == metrics.bucket_labels(metrics.BUCKET_EDGES)
    with pytest.raises(ValueError):
        metrics.activity_buckets([0])
    with pytest.raises(ValueError):
        metrics.activity_buckets([25], edges=(0, 10, 20))
    with pytest.raises(ValueError):
        metrics.bucket_labels((0, 20, 10))


def test_metrics_by_bucket_means():
    per_user = {"n_train": np.array([5, 30, 10, 300, 40]),
                "recall@20": np.array([0.2, 0.4, 0.6, 0.1, 0.8]),
                "ndcg@20": np.array([1.0, 0.0, 0.0, 0.5, 1.0])}
    table = metrics.metrics_by_bucket(per_user)
    assert list(table.index) == ["1-25", "26-50", ">200"]
    assert table["users"].tolist() == [2, 2, 1]
    assert table["recall@20"].tolist() == pytest.approx([0.4, 0.6, 0.1])
    assert table["ndcg@20"].tolist() == pytest.approx([0.5, 0.5, 0.5])


def test_long_tail_share():
    degree = np.array([10, 9, 1, 1, 0, 0, 0, 0, 0, 0])       # head (20%) = items 0 and 1
    topk = np.array([[0, 1], [2, 0], [3, 4]])
    assert metrics.long_tail_share(topk, degree, head=0.2) == pytest.approx(3 / 6)
    assert metrics.long_tail_share(topk, degree, head=0.0) == 1.0


def test_bias_table_agrees_with_evaluate():
    train, test = _two_taste_groups()
    graph = build_graph(train, NUM_USERS, NUM_ITEMS)
    lightgcn = LightGCN(dim=8).fit(graph, epochs=3, batch_size=64, seed=0)
    models = {"Popularity": Popularity().fit(graph), "LightGCN": lightgcn}
    per_user = {n: per_user_metrics(m, graph, test, ks=(10, 20)) for n, m in models.items()}
    table = metrics.bias_table(per_user, graph, k=10)
    for name, m in models.items():
        ref = evaluate(m, graph, test, ks=(10, 20))
        for key in ("recall@10", "ndcg@10", "coverage@10", "arp@10"):
            assert table.loc[name, key] == pytest.approx(ref[key])
    # popularity recommends, to each user, the most popular items they have not seen
    seen = graph.item_lists()
    degree = graph.item_degree
    for u, top in zip(per_user["Popularity"]["users"], per_user["Popularity"]["_topk"]):
        unseen = torch.ones(NUM_ITEMS, dtype=torch.bool)
        unseen[seen[u]] = False
        tenth = torch.sort(degree[unseen], descending=True).values[9]
        assert unseen[top[:10]].all() and (degree[top[:10]] >= tenth).all()
    assert table.loc["Popularity", "arp@10"] > table.loc["LightGCN", "arp@10"]
