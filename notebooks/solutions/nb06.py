"""Solutions to the exercises of notebook 06 (evaluating recommendations)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .checks import attempt


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


# "Your turn" cells ------------------------------------------------------------------------------
# Each check_* function runs the learner's function on cases with known answers and returns
# "pass" or "not yet: <hint>"; it never raises, so the notebook runs top to bottom with the stub.

NOT_WRITTEN = "not yet: replace `raise NotImplementedError` with your code, then run this cell"

# Users A and B of the notebook's hand-worked example: (list, test movies, NDCG@5 by hand).
_USER_A = ([2, 6, 8, 4, 9], {3, 6, 9})
_USER_B = ([7, 3, 0, 8, 2], {3, 4, 5, 7, 8, 9})


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked, relevant, k: int) -> float:
    """Your turn (NDCG@K): DCG of the first ``k`` items over the DCG of a perfect list.

    ``ranked``: item ids, best first (seen items already removed); ``relevant``: the user's
    test items. Position i (1-based) counts 1 / log2(i + 1) when it holds a test item; the
    perfect list puts min(k, |relevant|) test items first.
    """
    relevant = set(relevant)
    if not relevant:
        raise ValueError("relevant must not be empty")
    rel = np.array([item in relevant for item in list(ranked)[:k]], dtype=float)
    dcg = float((rel * _discounts(k)[: len(rel)]).sum())
    idcg = float(_discounts(min(k, len(relevant))).sum())
    return dcg / idcg


def _call(fn, *args):
    """``(result, None)``, or ``(None, hint)`` when the learner's function raised."""
    return attempt(fn, *args, stub_hint=NOT_WRITTEN)


def check_ndcg_at_k(fn) -> str:
    """Check a learner's ``ndcg_at_k(ranked, relevant, k)``: "pass" or "not yet: <hint>"."""
    from gnnedu.metrics import ranking_metrics

    value, hint = _call(fn, *_USER_A, 5)
    if hint:
        return hint
    try:
        value = float(value)
    except (TypeError, ValueError):
        return f"not yet: return one number (a float), not {type(value).__name__}"
    dcg_a = 1 / math.log2(3) + 1 / math.log2(6)
    if math.isclose(value, dcg_a, rel_tol=1e-6):
        return ("not yet: that is DCG; divide it by IDCG, the DCG of a perfect list "
                "(min(k, number of test movies) hits in the first places)")
    if not math.isclose(value, 0.4776, abs_tol=5e-5):
        return (f"not yet: user A ([2, 6, 8, 4, 9], test {{3, 6, 9}}) should get 0.4776, not "
                f"{value:.4f}; position i (1, 2, ...) counts 1 / log2(i + 1) when it is a hit")
    value, hint = _call(fn, *_USER_B, 5)
    if hint:
        return hint
    idcg_six = float(_discounts(6).sum())      # the mistake: IDCG over all 6 test movies
    if math.isclose(float(value), 2.0616 / idcg_six, abs_tol=1e-3):
        return ("not yet: user B has 6 test movies but only 5 places; a perfect list of 5 "
                "holds min(k, 6) = 5 hits, so IDCG sums 5 discounts, not 6")
    if not math.isclose(float(value), 0.6992, abs_tol=5e-5):
        return f"not yet: user B ([7, 3, 0, 8, 2]) should get 0.6992, not {float(value):.4f}"
    rng = np.random.default_rng(0)
    for _ in range(30):
        k = int(rng.integers(1, 12))
        ranked = rng.permutation(40)[:15].tolist()
        relevant = set(rng.choice(40, size=int(rng.integers(1, 14)), replace=False).tolist())
        value, hint = _call(fn, ranked, relevant, k)
        if hint:
            return hint
        hits = torch.tensor([[item in relevant for item in ranked[:k]]])
        expected = float(ranking_metrics(hits, torch.tensor([len(relevant)]), ks=(k,))
                         [f"ndcg@{k}"][0])
        if not math.isclose(float(value), expected, abs_tol=1e-6):
            return (f"not yet: for k={k}, ranked={ranked}, relevant={sorted(relevant)} the answer "
                    f"is {expected:.4f}, yours {float(value):.4f}; use only the first k items")
    return "pass"


def top_k_unseen(scores: torch.Tensor, seen: torch.Tensor, k: int) -> torch.Tensor:
    """Your turn (masking): the ``k`` best items per row of ``scores`` ``[B, I]``, best first,
    never one marked in ``seen`` (bool ``[B, I]``). Returns a LongTensor ``[B, k]``."""
    return torch.topk(scores.masked_fill(seen, float("-inf")), k, dim=1).indices


def check_top_k_unseen(fn) -> str:
    """Check a learner's ``top_k_unseen(scores, seen, k)``: "pass" or "not yet: <hint>"."""
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(6, 30, generator=gen)
    seen = torch.rand(6, 30, generator=gen) < 0.3
    seen[:, scores[0].argmax()] = True   # the best-scoring item is often one already seen
    k = 5
    top, hint = _call(fn, scores.clone(), seen.clone(), k)
    if hint:
        return hint
    top = torch.as_tensor(top)
    if tuple(top.shape) != (6, k):
        return f"not yet: return a [B, k] = [6, {k}] tensor of item indices, not {tuple(top.shape)}"
    if seen.gather(1, top.long()).any():
        return ("not yet: a list holds an item the user has already seen; set the scores of "
                "seen items to -inf (masked_fill) before taking the top k")
    expected = top_k_unseen(scores, seen, k)
    if not torch.equal(top.long().sort(1).values, expected.sort(1).values):
        return "not yet: these are not the k highest-scoring unseen items of each row"
    if not torch.equal(top.long(), expected):
        return "not yet: the right items, in the wrong order: best first (torch.topk sorts them)"
    return "pass"


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1() -> dict:
    """Q1: the best Recall@5 and NDCG@5 any list can give user B (6 test movies, 5 places).

    Recall@5 is at most 5/6 = 0.833: five hits out of six test movies. NDCG@5 can reach 1.0:
    IDCG counts min(K, |R_u|) = 5 hits, so a list of five hits is perfect. Recall asks "how much
    of the test set is in the list", NDCG "is the list as good as a list of this length can be".
    """
    return {"recall@5": 5 / 6, "ndcg@5": 1.0}


def perfect_recall(test, k: int) -> float:
    """Mean over users of min(k, |R_u|) / |R_u|: the Recall@k of a perfect ranking."""
    n_test = np.bincount(np.asarray(test["user"]))
    n_test = n_test[n_test > 0]
    return float(np.mean(np.minimum(k, n_test) / n_test))


def question_2() -> dict:
    """Q2: the Recall@10 of a perfect model on the seed-0 P1 split.

    0.674 (``perfect_recall(test, 10)``), not 1: a user with |R_u| > 10 test movies can recall
    at most 10 / |R_u| of them in ten places. At K = 20 the ceiling is 0.839. EASE's Recall@10
    of 0.24 is about a third of its ceiling.
    """
    return {10: 0.674, 20: 0.839}


def question_3() -> str:
    """Q3: why Random's Recall@10 is about 0.0063, not 10 / 1682 = 0.0059.

    Training movies are masked, so a user with n_u of them draws the list from |I| - n_u movies
    and expects K / (|I| - n_u) of their test movies in it; averaged over users that is 0.0063
    on the seed-0 split. Heavy users, with fewer candidates left, raise the average most.
    """
    return "the mask leaves |I| - n_u candidates: K / (|I| - n_u) per user, 0.0063 on average"


def question_4() -> float:
    """Q4: a test movie with 160 unrated movies above it (of 1,600), 100 sampled negatives.

    The number of sampled negatives from above it is hypergeometric; the movie is in the sampled
    top 10 when fewer than 10 of them are: probability 0.447
    (``expected_sampled_hit(160, 1600, 100, 10)``; with 100 above it, 0.912). A movie the full
    ranking puts at place 161 is a sampled "hit" almost half the time: sampled HR@10 rewards
    being in the top ~10% of the catalogue, not in the top 10.
    """
    return expected_sampled_hit(160, 1600, 100, 10)


def question_5() -> str:
    """Q5: BPR-MF's Recall@10 lead over ItemKNN is small enough for the error bars to overlap
    (0.005, about 1.3 standard deviations of either model), yet p = 0.02.

    The ± is each model's spread over the five splits, and most of it is shared: a split that is
    hard for one model is hard for the other. The paired test looks at the difference on each
    split (+0.005 on average in the notebook), which removes what the splits share; BPR-MF is
    ahead on all five, and five same-signed differences with a small spread give p = 0.02.
    Overlapping error bars do not mean "no difference".
    """
    return "the per-split differences are consistent although each model's spread is large"
