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
