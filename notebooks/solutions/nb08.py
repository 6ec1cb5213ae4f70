"""Solutions to the exercises of notebook 08 (exploring a trained LightGCN).

Each function takes a trained LightGCN (``experiment.run_one("lightgcn", ...)`` in the notebook) and
the protocol-P1 split, and returns a small table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from gnnedu import explain
from gnnedu.graph import as_index_pairs
from gnnedu.metrics import (
    BUCKET_EDGES,
    activity_buckets,
    bucket_labels,
    evaluate,
    hit_matrix,
    per_user_metrics,
    ranking_metrics,
    topk_masked,
)


def _item_sets(pairs, num_users: int) -> list[list[int]]:
    users, items = as_index_pairs(pairs)
    out: list[list[int]] = [[] for _ in range(num_users)]
    for u, i in zip(users.tolist(), items.tolist()):
        out[u].append(i)
    return out


def exercise_1(model, train: pd.DataFrame, test: pd.DataFrame, ns=(1, 3, 5, 10, 20),
               min_train: int = 40, k: int = 20) -> dict:
    """How many movies does a new user need?

    For every user with at least ``min_train`` training movies and some test movies, fold the
    user in (no layer-0 embedding) from only their first ``n`` training movies by time, rank the
    catalogue with *all* their training movies masked (so the lists compete for the same test
    movies as the trained user's), and average recall@k. Returns ``{"folded": Series indexed by
    n, "trained": the same users' recall@k as trained users, "users": how many}``.
    """
    graph = model.graph
    n_train = graph.user_degree.long()
    tests = _item_sets(test, graph.num_users)
    users = [u for u in range(graph.num_users) if n_train[u] >= min_train and tests[u]]
    if not users:
        raise ValueError(f"no user has {min_train} training movies and test movies")
    ordered = train.sort_values(["user", "timestamp"], kind="stable")
    first_items = {u: g["item"].tolist() for u, g in ordered.groupby("user") if u in set(users)}
    seen = graph.item_lists()
    folded = {}
    with explain.frozen_embeddings(model):
        for n in ns:
            recalls = []
            for u in users:
                scores = explain.fold_in_scores(model, first_items[u][:n]).unsqueeze(0)
                mask = torch.zeros_like(scores, dtype=torch.bool)
                mask[0, seen[u]] = True
                relevant = torch.zeros_like(mask)
                relevant[0, tests[u]] = True
                hits = hit_matrix(topk_masked(scores, k, mask), relevant)
                recall = ranking_metrics(hits, torch.tensor([len(tests[u])]), ks=(k,))
                recalls.append(float(recall[f"recall@{k}"][0]))
            folded[n] = float(np.mean(recalls))
        trained = per_user_metrics(model, graph, test, ks=(k,), users=users)
    return {"folded": pd.Series(folded, name=f"recall@{k}").rename_axis("first n movies"),
            "trained": float(trained[f"recall@{k}"].mean()), "users": len(users)}


def exercise_2(model, n_users: int = 100, k: int = 10, edges=BUCKET_EDGES,
               seed: int = 0) -> pd.DataFrame:
    """Where does a score come from?

    For ``n_users`` users drawn at random (``seed``), split each of their top-``k`` scores by
    origin (:func:`gnnedu.explain.score_decomposition`), turn each group into a share of the
    score, average over the list and then over the users of each activity bucket. Rows: buckets
    (with the number of users); columns: the four origin groups (each row sums to 1).
    """
    graph = model.graph
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(graph.num_users, size=min(n_users, graph.num_users),
                               replace=False))
    rows = []
    with explain.frozen_embeddings(model):
        for u in users.tolist():
            profile = explain.make_profile(model, u)
            items, _ = explain.top_k(model, profile, k)
            shares = []
            for item in items.tolist():
                dec = explain.score_decomposition(model, profile, item)
                shares.append([dec["groups"][g] / dec["score"] for g in explain.ORIGIN_GROUPS])
            rows.append(np.mean(shares, axis=0))
    frame = pd.DataFrame(rows, columns=list(explain.ORIGIN_GROUPS))
    frame["bucket"] = activity_buckets(graph.user_degree[users].numpy(), edges)
    grouped = frame.groupby("bucket", sort=False)
    out = grouped[list(explain.ORIGIN_GROUPS)].mean()
    out.insert(0, "users", grouped.size())
    return out.reindex([b for b in bucket_labels(edges) if b in out.index])


def exercise_3(model, test: pd.DataFrame, betas=(0.0, 0.25, 0.5, 1.0, 2.0), k: int = 20
               ) -> pd.DataFrame:
    """Trading accuracy for coverage: rank by ``score - beta * log(1 + degree)``.

    Returns one row per ``beta`` with recall@k, coverage@k and ARP@k from
    :func:`gnnedu.metrics.evaluate` on the re-ranked score matrix (training movies masked).
    """
    graph = model.graph
    scores = model.score()
    penalty = torch.log1p(graph.item_degree).to(scores.dtype)
    rows = {}
    for beta in betas:
        result = evaluate(scores - beta * penalty, graph, test, ks=(k,))
        rows[float(beta)] = {key: result[key] for key in
                             (f"recall@{k}", f"coverage@{k}", f"arp@{k}")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("beta")


# ---------------------------------------------------------------------------------------------
# "Your turn" cells: each check returns "pass" or "not yet: <hint>" and never raises
# ---------------------------------------------------------------------------------------------

NOT_WRITTEN = "not yet: replace `raise NotImplementedError` with your code, then run this cell"


@torch.no_grad()
def fold_in_by_hand(model, items, shift: int = 1, weighted: bool = True) -> torch.Tensor:
    """Your turn 1: scores ``[num_items]`` of every movie for a new user who liked ``items``.

    e_u = sum_{j in S} c_j g_j with c_j = 1 / sqrt(|S| d_j) and g_j = sum_{k=1..L} alpha_k
    e_j^(k-1) (movie j is node num_users + j); the score of movie i is e_u . e_i with the final
    item embeddings. ``shift`` and ``weighted`` exist to build the typical mistakes the check
    recognises (``shift=0``: layer k instead of k - 1; ``weighted=False``: no c_j).
    """
    items = torch.unique(torch.as_tensor(items, dtype=torch.long))
    layers, alphas = model.layer_embeddings(), model.alphas()
    nodes = model.num_users + items
    g = sum(alphas[k] * layers[k - shift][nodes] for k in range(1, len(layers)))
    c = 1.0 / torch.sqrt(len(items) * model.graph.item_degree[items]) if weighted \
        else torch.ones(len(items))
    e_u = (c.unsqueeze(1) * g).sum(0)
    return model.final_embeddings()[model.num_users:] @ e_u


def _close(a, b) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-6))


def check_fold_in(fn, model) -> str:
    """Check a learner's ``fold_in_by_hand(model, items)`` against
    ``gnnedu.explain.fold_in_scores`` on a fitted LightGCN, for three histories."""
    from gnnedu import explain

    popular = torch.argsort(model.graph.item_degree, descending=True, stable=True)
    histories = [popular[:4].tolist(), [int(popular[10])], popular[20:50:3].tolist()]
    for items in histories:
        try:
            with torch.no_grad():
                got = fn(model, list(items))
        except NotImplementedError:
            return NOT_WRITTEN
        except Exception as err:  # a learner's bug becomes a hint, never a traceback
            return f"not yet: your function raised {type(err).__name__}: {err}"
        got = torch.as_tensor(got).detach().reshape(-1) if got is not None else torch.empty(0)
        if got.numel() != model.num_items:
            return (f"not yet: return one score per movie ({model.num_items} numbers), not "
                    f"{got.numel()}")
        want = explain.fold_in_scores(model, items)
        if _close(got, want):
            continue
        if _close(got, fold_in_by_hand(model, items, shift=0)):
            return ("not yet: weight alpha_k goes with layer k - 1 of the movie, g_j = "
                    "sum_{k=1..L} alpha_k e_j^(k-1): one propagation step is the hop from the "
                    "movie to the user")
        if _close(got, fold_in_by_hand(model, items, weighted=False)):
            return ("not yet: weight each movie by c_j = 1 / sqrt(|S| d_j) (|S| movies in the "
                    "history, d_j = model.graph.item_degree[j]), the entry of A-hat")
        return (f"not yet: for the movies {items} your scores differ from "
                f"explain.fold_in_scores by up to {float((got - want).abs().max()):.3g}; score "
                f"with the final item embeddings, model.final_embeddings()[num_users:]")
    return "pass"


def coverage_at_k(top: torch.Tensor, num_items: int) -> float:
    """Your turn 2: share of the catalogue that appears in at least one top-K list
    (``top``: ``[users, K]`` movie indices)."""
    return torch.unique(top).numel() / num_items


def check_coverage(fn) -> str:
    """Check a learner's ``coverage_at_k(top, num_items)`` against
    ``gnnedu.metrics.coverage``."""
    from gnnedu.metrics import coverage

    cases = [(torch.tensor([[0, 1], [1, 0], [0, 2]]), 10),   # 3 distinct of 10: 0.3
             (torch.arange(12).reshape(4, 3), 12),            # every movie: 1.0
             (torch.randint(50, (30, 5), generator=torch.Generator().manual_seed(0)), 50)]
    for top, num_items in cases:
        try:
            got = float(fn(top.clone(), num_items))
        except NotImplementedError:
            return NOT_WRITTEN
        except Exception as err:
            return f"not yet: your function raised {type(err).__name__}: {err}"
        want = coverage(top, num_items)
        if abs(got - want) <= 1e-9:
            continue
        if abs(got - top.numel() / num_items) <= 1e-9:
            return ("not yet: you counted list places; a movie recommended to many users counts "
                    "once: count the distinct movies (torch.unique)")
        if abs(got - torch.unique(top).numel()) <= 1e-9:
            return "not yet: divide the number of distinct movies by the catalogue size"
        return f"not yet: for {top.tolist()} and {num_items} movies the answer is {want}, not {got}"
    return "pass"


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1() -> float:
    """Q1: user 41 has 42 training movies. What weight c_j does a movie watched by 300 users get
    in the first-step split, and how does it compare with Hamlet (73 viewers, weight 0.0181)?

    c_j = 1 / sqrt(|S| d_j) = 1 / sqrt(42 * 300) = 0.0089, about half of Hamlet's 0.0181
    (sqrt(300 / 73) = 2.03): a rarely watched movie speaks louder per unit of alignment.
    """
    return 1.0 / (42 * 300) ** 0.5


def question_2() -> str:
    """Q2: why does Star Wars come back as the first recommendation after it is removed?

    It is no longer in the history, so it is no longer masked; the rest of the history (its
    movies' embeddings are close to Star Wars') and the user's own layer-0 embedding, trained
    while Star Wars was in the history, still point at it. Its score (7.04) is higher than any
    score of the original list (6.40 for the first).
    """
    return "unmasked, and the trained embedding and the other movies still point at it"


def question_3() -> dict:
    """Q3: what is the largest recall@20 a perfect model can reach for a user with 80 test
    movies, and for one with 5?

    20 / 80 = 0.25 and 5 / 5 = 1: with 20 places a heavy user's recall is capped at
    20 / |R_u|. That cap is a large part of why recall falls across the activity buckets
    (LightGCN: 0.486 for the coldest users, 0.203 for the heaviest). NDCG's ideal list is capped
    at K places instead, so a heavy user's many test movies make a good top 20 easy: after a
    small dip from the first bucket to the second, NDCG rises (0.733 for the heaviest).
    """
    return {80: 20 / 80, 5: 1.0}


def question_4(num_items: int = 1682) -> int:
    """Q4: Popularity's coverage@20 is 0.0464 on the seed-0 split. How many different movies is
    that, and why so few?

    0.0464 * 1682 = 78 movies: Popularity gives everybody the same list, so the union of all
    lists is the top 20 plus the popular movies that some users had already rated (masked)
    and that the next ones in the ranking replaced.
    """
    return round(0.0464 * num_items)
