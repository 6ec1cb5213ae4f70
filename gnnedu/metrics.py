"""Top-K ranking metrics over the full catalogue (taught in notebook 06).

API summary
-----------
- ``evaluate(model, train, test, ks=(10, 20), batch_size=1024, users=None) -> dict``:
  mean metrics over the users that have test items, e.g. ``{"recall@20": 0.36, ...}``.
  ``train`` (a ``BipartiteGraph``, DataFrame or ``(users, items)`` pair) gives the items to mask;
  ``test`` the relevant items. ``model`` is any object with ``score(users) -> [B, num_items]``
  (every ``gnnedu.models`` recommender) or a dense score matrix ``[num_users, num_items]``.
- ``per_user_metrics(model, train, test, ks=(10, 20), ...) -> dict`` of 1-D arrays, one entry per
  evaluated user (``users``, ``n_train``, ``n_test`` and every metric), for bucketing users.
- ``topk_masked(scores, k, exclude=None) -> LongTensor [B, k]``: top-K with excluded items at -inf.
- ``hit_matrix(topk, relevant) -> BoolTensor [B, k]`` with ``relevant`` a dense bool ``[B, I]``.
- ``ranking_metrics(hits, n_relevant, ks) -> dict`` of per-user tensors (the formulas below).
- ``coverage(topk, num_items)``, ``average_popularity(topk, popularity)``.
- ``heldout_ranks(scores, train, test) -> LongTensor [T]``: 0-based rank of each test item among
  all items the user has not interacted with in train (the full-ranking view of one positive;
  notebook 05).

Sampled evaluation (notebook 06):

- ``sample_candidates(train, test, num_items, num_negatives, seed) -> (users, candidates)``:
  for every test interaction, the positive item followed by ``num_negatives`` items the user
  never interacted with (Krichene & Rendle 2020's "sampled" protocol).
- ``sampled_rank(scores, users, candidates) -> ranks``: 0-based rank of the positive among its
  candidates (ties count against the positive).
- ``sampled_hits(ranks, k)``: the hit matrix of those short lists, for :func:`ranking_metrics`;
  ``sampled_evaluate(model, users, candidates, ks)``: the mean sampled metrics in one call.

Who the metrics serve (notebook 08):

- ``activity_buckets(n_train, edges=BUCKET_EDGES)``, ``bucket_labels(edges)``,
  ``metrics_by_bucket(per_user, edges, metrics)``: per-user metrics by training activity.
- ``long_tail_share(topk, item_degree, head=0.2)``: share of recommended slots outside the most
  popular ``head`` fraction of items; ``bias_table(per_user, graph, k)``: one row per model.

Definitions (user u, ranked list r_1..r_K with seen training items removed, relevance
rel_i = 1 if r_i is a test item of u, R_u = number of test items of u; a metric is averaged over
the users with R_u > 0; they match ``torch_geometric.metrics`` ``LinkPred*`` classes):

- Precision@K = sum_i rel_i / K
- Recall@K = sum_i rel_i / R_u
- F1@K = 2 P R / (P + R), per user (0 when P = R = 0), then averaged
- NDCG@K = DCG / IDCG, DCG = sum_i rel_i / log2(i + 1), IDCG = sum_{i <= min(K, R_u)} 1/log2(i + 1)
- MAP@K: AP@K = (1 / min(K, R_u)) * sum_i rel_i * Precision@i, averaged over users
  (dividing by min(K, R_u), not R_u, makes a perfect list score 1 even when R_u > K).
- HitRate@K = 1 if any rel_i = 1 else 0
- MRR@K = 1 / (rank of the first relevant item), 0 if none in the top K
- Coverage@K = (distinct items in all evaluated users' top-K lists) / num_items
- ARP@K (average recommendation popularity) = mean over users and list positions of the item's
  training popularity, measured as the fraction of users who interacted with it in train
  (higher = the lists lean on popular items).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from gnnedu.graph import BipartiteGraph, as_index_pairs

__all__ = [
    "evaluate", "per_user_metrics", "topk_masked", "hit_matrix", "ranking_metrics",
    "coverage", "average_popularity", "heldout_ranks", "sample_candidates", "sampled_rank",
    "sampled_hits", "sampled_evaluate", "activity_buckets", "bucket_labels",
    "metrics_by_bucket", "long_tail_share", "bias_table", "METRIC_NAMES", "KS",
    "BUCKET_EDGES", "check_metric",
]

# The one list of ranking metrics (every table, the bench and validation use it).
METRIC_NAMES = ("precision", "recall", "f1", "ndcg", "map", "hit", "mrr")
# The default cut-offs of every reported table (gnnedu bench, the sweeps, the notebooks).
KS = (10, 20)
# Training interactions per user: bucket b holds EDGES[b] < n_train <= EDGES[b + 1].
BUCKET_EDGES = (0, 25, 50, 100, 200, math.inf)


def check_metric(metric: str) -> tuple[str, int]:
    """Split a metric key such as ``"recall@20"`` into ``("recall", 20)``; a ``ValueError``
    names the valid metrics when ``metric`` is not one of :data:`METRIC_NAMES` at a K >= 1."""
    name, _, k = str(metric).partition("@")
    if name not in METRIC_NAMES or not k.isdigit() or int(k) < 1:
        raise ValueError(f"unknown metric {metric!r}; use NAME@K with NAME one of "
                         f"{', '.join(METRIC_NAMES)} and K >= 1")
    return name, int(k)


def topk_masked(scores: torch.Tensor, k: int, exclude: torch.Tensor | None = None
                ) -> torch.Tensor:
    """Indices of the ``k`` highest scores per row; ``exclude`` (bool, same shape) rows get -inf.

    Ties are broken by ``torch.topk`` (deterministic on CPU for a given input).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > scores.shape[1]:
        raise ValueError(f"k={k} exceeds the number of items ({scores.shape[1]})")
    if exclude is not None:
        scores = scores.masked_fill(exclude, float("-inf"))
    return torch.topk(scores, k, dim=1).indices


def hit_matrix(topk: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """``hits[b, i]`` is True when ``topk[b, i]`` is relevant (``relevant``: bool ``[B, I]``)."""
    return relevant.gather(1, topk)


def ranking_metrics(hits: torch.Tensor, n_relevant: torch.Tensor, ks=(10, 20)
                    ) -> dict[str, torch.Tensor]:
    """Per-user metrics (float64 tensors ``[B]``) from a hit matrix ``[B, >= max(ks)]``.

    Keys are ``f"{name}@{k}"`` for every name in :data:`METRIC_NAMES`; see the module docstring
    for the formulas. Users with ``n_relevant == 0`` get 0 everywhere (callers drop them).
    """
    hits = hits.to(torch.float64)
    n_rel = n_relevant.to(torch.float64)
    ranks = torch.arange(1, hits.shape[1] + 1, dtype=torch.float64)
    discount = 1.0 / torch.log2(ranks + 1.0)
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64), discount.cumsum(0)])
    out = {}
    for k in ks:
        if k > hits.shape[1]:
            raise ValueError(f"k={k} exceeds the list length {hits.shape[1]}")
        h = hits[:, :k]
        n_hits = h.sum(1)
        capped = torch.clamp(n_rel, max=k)
        safe = lambda x: torch.where(x > 0, x, torch.ones_like(x))  # noqa: E731 (avoid /0)
        precision = n_hits / k
        recall = n_hits / safe(n_rel)
        f1 = 2 * precision * recall / safe(precision + recall)
        ndcg = (h * discount[:k]).sum(1) / safe(ideal[capped.long()])
        ap = (h * h.cumsum(1) / ranks[:k]).sum(1) / safe(capped)
        hit = (n_hits > 0).to(torch.float64)
        mrr = (h / ranks[:k]).max(1).values
        for name, value in zip(METRIC_NAMES, (precision, recall, f1, ndcg, ap, hit, mrr)):
            out[f"{name}@{k}"] = value
    return out


def coverage(topk: torch.Tensor, num_items: int) -> float:
    """Share of the catalogue that appears in at least one top-K list."""
    return torch.unique(topk).numel() / num_items


def average_popularity(topk: torch.Tensor, popularity: torch.Tensor) -> float:
    """Mean popularity of the recommended items (ARP)."""
    return float(popularity.to(torch.float64)[topk].mean())


def _csr_rows(users: torch.Tensor, items: torch.Tensor, num_users: int):
    """Row pointers of (users, items) pairs sorted by user: the items of user u are
    ``items[ptr[u]:ptr[u+1]]``."""
    order = torch.argsort(users, stable=True)
    users, items = users[order], items[order]
    ptr = torch.zeros(num_users + 1, dtype=torch.long)
    ptr[1:] = torch.bincount(users, minlength=num_users).cumsum(0)
    return ptr, users, items


def _dense_rows(ptr, users, items, start: int, stop: int, num_items: int) -> torch.Tensor:
    """Dense bool matrix ``[stop - start, num_items]`` of the pairs of users start..stop-1."""
    lo, hi = int(ptr[start]), int(ptr[stop])
    out = torch.zeros(stop - start, num_items, dtype=torch.bool)
    out[users[lo:hi] - start, items[lo:hi]] = True
    return out


def _sizes(model, train, test):
    if isinstance(train, BipartiteGraph):
        return train.num_users, train.num_items
    if isinstance(model, torch.Tensor):
        return model.shape
    if getattr(model, "num_users", None) is not None:
        return model.num_users, model.num_items
    raise ValueError("cannot tell the number of users and items: pass train as a BipartiteGraph")


def _score_batch(model, users: torch.Tensor) -> torch.Tensor:
    if isinstance(model, torch.Tensor):
        return model[users]
    return model.score(users)


@torch.no_grad()
def per_user_metrics(model, train, test, ks=(10, 20), batch_size: int = 1024,
                     users=None) -> dict[str, np.ndarray]:
    """Metrics for each user with test items, as numpy arrays of equal length.

    Keys: ``users`` (index), ``n_train``, ``n_test``, then ``f"{name}@{k}"`` for each metric.
    ``users`` restricts the evaluation to those user indices. Also stores, under ``"_topk"``,
    the top-``max(ks)`` lists (``[n_users, max(ks)]`` int64) for coverage and popularity.
    """
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must hold positive integers, got {ks}")
    num_users, num_items = _sizes(model, train, test)
    tr_users, tr_items = as_index_pairs(train)
    te_users, te_items = as_index_pairs(test)
    if te_users.numel() and (int(te_users.max()) >= num_users or int(te_items.max()) >= num_items):
        raise ValueError("test holds a user or item index outside the training graph")
    tr = _csr_rows(tr_users, tr_items, num_users)
    te = _csr_rows(te_users, te_items, num_users)
    n_train = (tr[0][1:] - tr[0][:-1])
    n_test = (te[0][1:] - te[0][:-1])
    selected = torch.zeros(num_users, dtype=torch.bool)
    if users is None:
        selected[:] = True
    else:
        selected[torch.as_tensor(np.asarray(users), dtype=torch.long)] = True
    selected &= n_test > 0

    kmax = ks[-1]
    parts: dict[str, list] = {}
    topk_parts = []
    for start in range(0, num_users, batch_size):
        stop = min(start + batch_size, num_users)
        keep = selected[start:stop]
        if not keep.any():
            continue
        batch = torch.arange(start, stop)
        scores = _score_batch(model, batch).to(torch.get_default_dtype())
        seen = _dense_rows(*tr, start, stop, num_items)
        topk = topk_masked(scores, kmax, seen)[keep]
        relevant = _dense_rows(*te, start, stop, num_items)[keep]
        hits = hit_matrix(topk, relevant)
        for key, value in ranking_metrics(hits, n_test[start:stop][keep], ks).items():
            parts.setdefault(key, []).append(value)
        topk_parts.append(topk)
    idx = torch.nonzero(selected).flatten()
    out = {"users": idx.numpy(), "n_train": n_train[idx].numpy(), "n_test": n_test[idx].numpy()}
    for key, values in parts.items():
        out[key] = torch.cat(values).numpy()
    out["_topk"] = (torch.cat(topk_parts) if topk_parts
                    else torch.zeros(0, kmax, dtype=torch.long)).numpy()
    return out


def evaluate(model, train, test, ks=(10, 20), batch_size: int = 1024, users=None
             ) -> dict[str, float]:
    """Mean full-ranking metrics of ``model`` on ``test`` with ``train`` items masked.

    Returns ``{"precision@10": ..., "recall@10": ..., ..., "coverage@20": ..., "arp@20": ...,
    "users": n}`` (every metric of :data:`METRIC_NAMES` at every k, plus coverage and ARP).
    """
    per_user = per_user_metrics(model, train, test, ks, batch_size, users)
    num_users, num_items = _sizes(model, train, test)
    topk = torch.from_numpy(per_user.pop("_topk"))
    n = len(per_user["users"])
    out: dict[str, float] = {}
    for key, values in per_user.items():
        if "@" in key:
            out[key] = float(values.mean()) if n else math.nan
    tr_users, tr_items = as_index_pairs(train)
    popularity = torch.bincount(torch.unique(tr_users * num_items + tr_items) % num_items,
                                minlength=num_items) / num_users
    for k in sorted(set(int(k) for k in ks)):
        out[f"coverage@{k}"] = coverage(topk[:, :k], num_items) if n else math.nan
        out[f"arp@{k}"] = average_popularity(topk[:, :k], popularity) if n else math.nan
    out["users"] = n
    return out


# ---------------------------------------------------------------------------------------------
# One held-out positive at a time (notebook 05) and sampled evaluation (notebook 06)
# ---------------------------------------------------------------------------------------------


def _pairs(table) -> tuple[np.ndarray, np.ndarray]:
    users, items = as_index_pairs(table)
    return users.numpy(), items.numpy()


def heldout_ranks(scores: torch.Tensor, train: pd.DataFrame, test: pd.DataFrame,
                  batch_size: int = 4096) -> torch.Tensor:
    """0-based rank of each test interaction's item in its user's full ranking.

    The ranking holds every item the user has not interacted with in ``train`` (other test
    items included, as in full-ranking evaluation). rank = number of those other items scored
    >= the test item (ties count against it). Returns a LongTensor with one entry per row of
    ``test``, in order.
    """
    tr_users, tr_items = _pairs(train)
    te_users, te_items = _pairs(test)
    masked = scores.to(torch.float64).clone()
    masked[torch.from_numpy(tr_users), torch.from_numpy(tr_items)] = float("-inf")
    users, items = torch.from_numpy(te_users), torch.from_numpy(te_items)
    out = []
    for lo in range(0, len(users), batch_size):
        u, i = users[lo: lo + batch_size], items[lo: lo + batch_size]
        rows = masked[u]                                   # [B, num_items]
        own = rows.gather(1, i.unsqueeze(1))               # the test item's score
        out.append((rows >= own).sum(dim=1) - 1)           # minus the item itself
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def sample_candidates(train: pd.DataFrame, test: pd.DataFrame, num_items: int,
                      num_negatives: int = 100, seed: int = 0):
    """Candidates for sampled evaluation: one row per test interaction.

    Returns ``(users, candidates)``: ``users`` is ``[T]``, ``candidates`` is
    ``[T, 1 + num_negatives]`` with the test item in column 0 and ``num_negatives`` distinct
    items drawn uniformly from those the user has in neither train nor test.
    """
    rng = np.random.default_rng(seed)
    tr_users, tr_items = _pairs(train)
    te_users, te_items = _pairs(test)
    known = np.zeros((max(tr_users.max(initial=-1), te_users.max(initial=-1)) + 1, num_items),
                     dtype=bool)
    known[tr_users, tr_items] = True
    known[te_users, te_items] = True
    rows = np.empty((len(te_users), 1 + num_negatives), dtype=np.int64)
    rows[:, 0] = te_items
    for u in np.unique(te_users):          # one user at a time, all of their test rows at once
        where = np.flatnonzero(te_users == u)
        pool = np.flatnonzero(~known[u])
        if len(pool) < num_negatives:
            raise ValueError(f"user {u} has fewer than {num_negatives} unseen items")
        # random keys, argsort: each row is an independent draw without replacement
        order = np.argsort(rng.random((len(where), len(pool))), axis=1)[:, :num_negatives]
        rows[where, 1:] = pool[order]
    return torch.from_numpy(te_users), torch.from_numpy(rows)


def sampled_rank(scores: torch.Tensor, users: torch.Tensor, candidates: torch.Tensor):
    """0-based rank of column 0 (the positive) among each row's candidates.

    rank = number of negatives whose score is >= the positive's; counting ties against the
    positive means a constant scorer ranks every positive last instead of first.
    """
    cand_scores = scores[users[:, None], candidates]
    return (cand_scores[:, 1:] >= cand_scores[:, :1]).sum(dim=1)


def sampled_hits(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Hit matrix ``[T, k]`` of the sampled lists: True at position ``rank`` if ``rank < k``.

    Feed it to ``ranking_metrics(hits, n_relevant=1, ...)``: with one relevant
    item per list, hit@K = recall@K and NDCG@K = 1/log2(rank + 2).
    """
    return ranks.unsqueeze(1) == torch.arange(k).unsqueeze(0)


def sampled_evaluate(model, users: torch.Tensor, candidates: torch.Tensor, ks=(10,)) -> dict:
    """Mean sampled metrics over the test interactions, through ``gnnedu.metrics``.

    ``model``: a dense score matrix ``[num_users, num_items]`` or an object with ``score()``.
    """
    scores = model if isinstance(model, torch.Tensor) else model.score()
    ranks = sampled_rank(scores, users, candidates)
    hits = sampled_hits(ranks, max(ks))
    per_row = ranking_metrics(hits, torch.ones(len(ranks)), ks)
    return {key: float(value.mean()) for key, value in per_row.items()}


# ---------------------------------------------------------------------------------------------
# Who the metrics serve: user activity and popularity bias (notebook 08)
# ---------------------------------------------------------------------------------------------


def activity_buckets(n_train, edges: Sequence[float] = BUCKET_EDGES) -> np.ndarray:
    """Label each user by training activity: ``"26-50"`` means 25 < n_train <= 50 (the last
    bucket reads ``">200"``). ``edges`` must increase."""
    labels = bucket_labels(edges)
    n = np.asarray(n_train)
    idx = np.searchsorted(np.asarray(edges[1:], dtype=float), n, side="left")
    if (n <= edges[0]).any() or (idx >= len(labels)).any():
        raise ValueError(f"n_train outside the buckets ({edges[0]}, {edges[-1]}]")
    return np.asarray(labels, dtype=object)[idx]


def bucket_labels(edges: Sequence[float] = BUCKET_EDGES) -> list[str]:
    """The labels of :func:`activity_buckets`, in order (integer edges read naturally)."""
    edges = list(edges)
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be an increasing sequence of at least 2 numbers: {edges}")
    return [(f">{edges[b]:g}" if math.isinf(edges[b + 1]) else
             f"{edges[b] + 1:g}-{edges[b + 1]:g}") for b in range(len(edges) - 1)]


def metrics_by_bucket(per_user: Mapping, edges: Sequence[float] = BUCKET_EDGES,
                      metrics: Sequence[str] = ("recall@20", "ndcg@20")) -> pd.DataFrame:
    """Mean per-user metrics (``gnnedu.metrics.per_user_metrics`` output) in each activity
    bucket, with the number of users; buckets in increasing order of activity."""
    labels = activity_buckets(per_user["n_train"], edges)
    frame = pd.DataFrame({"bucket": labels, **{m: np.asarray(per_user[m]) for m in metrics}})
    order = bucket_labels(edges)
    grouped = frame.groupby("bucket", sort=False)
    out = grouped[list(metrics)].mean()
    out.insert(0, "users", grouped.size())
    return out.reindex([b for b in order if b in out.index])


def long_tail_share(topk, item_degree, head: float = 0.2) -> float:
    """Share of recommended slots that go to items outside the ``head`` fraction of most
    popular items (by training degree; ties broken by item index)."""
    topk = torch.as_tensor(np.asarray(topk), dtype=torch.long)
    degree = torch.as_tensor(np.asarray(item_degree), dtype=torch.float64)
    n_head = int(round(head * degree.numel()))
    order = torch.argsort(-degree, stable=True)
    is_head = torch.zeros(degree.numel(), dtype=torch.bool)
    is_head[order[:n_head]] = True
    return float((~is_head[topk]).double().mean())


def bias_table(per_user: Mapping[str, Mapping], graph, k: int = 20, head: float = 0.2
               ) -> pd.DataFrame:
    """One row per model (``per_user``: name -> ``per_user_metrics`` output with ``_topk``):
    recall@k and NDCG@k (means, as :func:`evaluate`), coverage@k and ARP@k (the
    same functions ``evaluate`` uses) and the long-tail share of the recommended slots."""
    # training popularity as evaluate computes it (same dtype, same numbers)
    popularity = torch.bincount(graph.items, minlength=graph.num_items) / graph.num_users
    rows = {}
    for name, pu in per_user.items():
        topk = torch.as_tensor(np.asarray(pu["_topk"])[:, :k])
        rows[name] = {
            f"recall@{k}": float(np.mean(pu[f"recall@{k}"])),
            f"ndcg@{k}": float(np.mean(pu[f"ndcg@{k}"])),
            f"coverage@{k}": coverage(topk, graph.num_items),
            f"arp@{k}": average_popularity(topk, popularity),
            f"long tail share@{k}": long_tail_share(topk, graph.item_degree, head),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
