"""Solutions to the exercises of notebook 06 (evaluating recommendations)."""

from __future__ import annotations

import math

import numpy as np
import torch


def metrics_at_k(ranked, relevant, k: int) -> dict:
    """Exercise 1: Precision, Recall, NDCG, AP and hit rate at ``k`` for one ranked list.

    ``ranked``: item ids, best first (seen items already removed); ``relevant``: the user's
    test items. Conventions as ``gnnedu.metrics``: Recall divides by |relevant|, AP by
    min(k, |relevant|), IDCG puts min(k, |relevant|) hits first.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    relevant = set(relevant)
    if not relevant:
        raise ValueError("relevant must not be empty")
    top = list(ranked)[:k]
    rel = [1 if item in relevant else 0 for item in top]
    hits = sum(rel)
    dcg = sum(r / math.log2(i + 1) for i, r in enumerate(rel, start=1))
    ideal_hits = min(k, len(relevant))
    idcg = sum(1 / math.log2(i + 1) for i in range(1, ideal_hits + 1))
    # AP: precision at every position that holds a hit
    ap, found = 0.0, 0
    for i, r in enumerate(rel, start=1):
        if r:
            found += 1
            ap += found / i
    return {
        "precision": hits / k,
        "recall": hits / len(relevant),
        "ndcg": dcg / idcg,
        "map": ap / ideal_hits,
        "hit": float(hits > 0),
    }


def expected_random_precision(n_train, n_test, num_items: int, k: int) -> float:
    """Exercise 2: expected Precision@K of uniformly random scores, averaged over users.

    A user with ``n_train`` masked items ranks the other N = num_items - n_train at random, so
    each of the ``k`` places holds a test item with probability n_test / N; the expected
    precision is n_test / N. Users without test items are skipped, as in ``gnnedu.metrics``.
    """
    n_train = np.asarray(n_train, dtype=np.float64)
    n_test = np.asarray(n_test, dtype=np.float64)
    if n_train.shape != n_test.shape:
        raise ValueError("n_train and n_test must have the same length")
    candidates = num_items - n_train
    if (candidates < k).any():
        raise ValueError("a user has fewer than k unseen items")
    if (n_test > candidates).any():
        raise ValueError("a user has more test items than unseen items")
    keep = n_test > 0
    if not keep.any():
        raise ValueError("no user has test items")
    return float(np.mean(n_test[keep] / candidates[keep]))


def expected_sampled_hit(full_rank: int, n_items: int, n_negatives: int = 100,
                         k: int = 10) -> float:
    """Exercise 3: probability that a positive lands in the top ``k`` of a sampled list.

    ``full_rank``: how many of the ``n_items`` possible negatives score above the positive.
    Drawing ``n_negatives`` of them uniformly without replacement, the number X drawn from
    above is hypergeometric; the positive is in the top k when X < k:
    P = sum_{x < k} C(r, x) C(N - r, n - x) / C(N, n).
    """
    r, big_n, n = int(full_rank), int(n_items), int(n_negatives)
    if not 0 <= r <= big_n:
        raise ValueError(f"full_rank must be in 0..n_items, got {r}")
    if not 0 < n <= big_n:
        raise ValueError("n_negatives must be in 1..n_items")
    total = math.comb(big_n, n)
    p = sum(math.comb(r, x) * math.comb(big_n - r, n - x) for x in range(min(k, n + 1)))
    return p / total


def tail_share(model, k: int = 10, head: float = 0.2) -> float:
    """Exercise 4: share of all top-``k`` places taken by movies outside the popular head.

    The head is the ``head`` fraction of items with the most training interactions (ties
    broken by item index); ``model`` is a fitted ``gnnedu.models`` recommender.
    """
    if not 0.0 < head < 1.0:
        raise ValueError(f"head must be in (0, 1), got {head}")
    graph = model.graph
    if graph is None:
        raise RuntimeError("fit the model first")
    popularity = torch.bincount(graph.items, minlength=graph.num_items)
    n_head = int(round(head * graph.num_items))
    # stable sort so that ties go to the smaller index
    order = torch.sort(-popularity, stable=True).indices
    in_head = torch.zeros(graph.num_items, dtype=torch.bool)
    in_head[order[:n_head]] = True
    top = model.recommend(k=k)
    return float((~in_head[top]).double().mean())
