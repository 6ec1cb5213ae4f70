"""Tests for gnnedu.metrics: hand-computed cases and agreement with torch_geometric.metrics."""

import math

import numpy as np
import pytest
import torch
from torch_geometric.metrics import (LinkPredAveragePopularity, LinkPredCoverage, LinkPredF1,
                                     LinkPredHitRatio, LinkPredMAP, LinkPredMRR, LinkPredNDCG,
                                     LinkPredPrecision, LinkPredRecall)

from gnnedu.graph import build_graph
from gnnedu.metrics import (evaluate, hit_matrix, per_user_metrics, ranking_metrics,
                            topk_masked)


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
