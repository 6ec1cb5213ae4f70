"""Looking at a ratings table before modelling it (taught in notebooks 05 and 06).

API summary
-----------
Statistics (notebook 05):

- ``summary(ratings, num_users, num_items) -> dict``: counts, density, sparsity, ratings per
  user and per item.
- ``degrees(ratings, num_users, num_items) -> (user_degree, item_degree)``: int numpy arrays.
- ``degree_counts(degree) -> (k, n_k)``: how many nodes have each degree ``k >= 1``, for a
  log-log plot of the long tail.
- ``head_share(item_degree, head=0.2) -> float``: fraction of all interactions that go to the
  ``head`` most popular fraction of items.
- ``split_report(train, test) -> dict``: what a train/test split looks like (users with test
  items, cold test items, test ratings older than the newest training rating).

The graph as PyG ``HeteroData`` (notebook 05):

- ``user_features(users) -> (x, names)``: scaled age, gender and occupation one-hot.
- ``movie_features(items, genres) -> (x, names)``: genre multi-hot, scaled release year and a
  "year unknown" flag.
- ``to_hetero_data(ml, ratings) -> HeteroData``: node types ``user`` and ``movie`` with those
  features, edge type ``('user', 'rates', 'movie')`` carrying ``rating`` and ``time``, and the
  reverse edges ``('movie', 'rev_rates', 'user')``.

Leakage and negative sampling (notebook 05):

- ``propagation_scores(graph, layers) -> [num_users, num_items]``: the user-item block of
  ``adj^layers``, a recommender with no parameters at all (every score is a weighted count of
  paths of length ``layers``); used to show what test edges in the graph do to a score.
- ``heldout_ranks(scores, train, test) -> LongTensor [T]``: 0-based rank of each test item among
  all items the user has not interacted with in train (the full-ranking view of one positive).
- ``false_negative_rate(train, test, num_items, num_samples, seed)``: how often a negative
  drawn as in BPR training is in fact one of that user's held-out positives.

Sampled evaluation (notebook 06):

- ``sample_candidates(train, test, num_items, num_negatives, seed) -> (users, candidates)``:
  for every test interaction, the positive item followed by ``num_negatives`` items the user
  never interacted with (Krichene & Rendle 2020's "sampled" protocol).
- ``sampled_rank(scores, users, candidates) -> ranks``: 0-based rank of the positive among its
  candidates (ties count against the positive).
- ``sampled_hits(ranks, k)``: the hit matrix of those short lists, for
  ``gnnedu.metrics.ranking_metrics``; ``sampled_evaluate(model, users, candidates, ks)``: the
  mean sampled metrics (hit@K, NDCG@K, ...) in one call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

__all__ = [
    "summary", "degrees", "degree_counts", "head_share", "split_report",
    "user_features", "movie_features", "to_hetero_data",
    "propagation_scores", "heldout_ranks", "false_negative_rate",
    "sample_candidates", "sampled_rank", "sampled_hits", "sampled_evaluate",
]

AGE_SCALE = 100.0  # ages in ML-100K run from 7 to 73: age / 100 stays in [0, 1]


def _pairs(table) -> tuple[np.ndarray, np.ndarray]:
    if not hasattr(table, "columns") or not {"user", "item"} <= set(table.columns):
        raise ValueError("expected a DataFrame with columns 'user' and 'item'")
    # np.array copies: pandas may hand out read-only views, which torch.from_numpy warns about
    return np.array(table["user"], dtype=np.int64), np.array(table["item"], dtype=np.int64)


def degrees(ratings: pd.DataFrame, num_users: int, num_items: int):
    """Ratings per user and per item as two int numpy arrays (length num_users, num_items)."""
    users, items = _pairs(ratings)
    if len(users) and (users.max() >= num_users or items.max() >= num_items):
        raise ValueError("an index exceeds num_users or num_items")
    return (np.bincount(users, minlength=num_users), np.bincount(items, minlength=num_items))


def summary(ratings: pd.DataFrame, num_users: int, num_items: int) -> dict:
    """Counts and sparsity of an interaction table.

    density = interactions / (num_users * num_items); sparsity = 1 - density.
    """
    user_deg, item_deg = degrees(ratings, num_users, num_items)
    n = int(len(ratings))
    density = n / (num_users * num_items)
    return {
        "users": int(num_users), "items": int(num_items), "interactions": n,
        "density": density, "sparsity": 1.0 - density,
        "min_per_user": int(user_deg.min()), "median_per_user": float(np.median(user_deg)),
        "max_per_user": int(user_deg.max()),
        "min_per_item": int(item_deg.min()), "median_per_item": float(np.median(item_deg)),
        "max_per_item": int(item_deg.max()),
    }


def degree_counts(degree) -> tuple[np.ndarray, np.ndarray]:
    """Distinct degrees ``k >= 1`` and the number of nodes with each (for log-log plots)."""
    degree = np.asarray(degree)
    if degree.ndim != 1 or (degree < 0).any():
        raise ValueError("degree must be a 1-D array of non-negative counts")
    k, n_k = np.unique(degree[degree > 0], return_counts=True)
    return k, n_k


def head_share(item_degree, head: float = 0.2) -> float:
    """Share of all interactions received by the top ``head`` fraction of items by degree."""
    if not 0.0 < head <= 1.0:
        raise ValueError(f"head must be in (0, 1], got {head}")
    deg = np.sort(np.asarray(item_degree))[::-1]
    total = deg.sum()
    if total == 0:
        raise ValueError("no interactions")
    n_head = max(1, int(round(head * len(deg))))
    return float(deg[:n_head].sum() / total)


def split_report(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """What a split does to users, items and time.

    - ``test_users``: users with at least one test interaction;
    - ``cold_test_users``: of those, users with no training interaction;
    - ``cold_test_items``: items in test that never occur in train (no model that learns from
      train alone can rank them well);
    - ``test_before_train_end``: fraction of test interactions older than the newest training
      interaction (0 only for a global time split; a model then trains on "the future").
    """
    tr_users, tr_items = _pairs(train)
    te_users, te_items = _pairs(test)
    test_users = np.unique(te_users)
    report = {
        "train": int(len(train)), "test": int(len(test)),
        "test_users": int(len(test_users)),
        "cold_test_users": int(len(np.setdiff1d(test_users, tr_users))),
        "cold_test_items": int(len(np.setdiff1d(np.unique(te_items), tr_items))),
    }
    if "timestamp" in train.columns and "timestamp" in test.columns and len(test):
        newest = train["timestamp"].max()
        report["test_before_train_end"] = float((test["timestamp"] < newest).mean())
    return report


def user_features(users: pd.DataFrame) -> tuple[torch.Tensor, list[str]]:
    """User features: age / 100, gender one-hot (F, M), occupation one-hot (sorted names)."""
    missing = [c for c in ("age", "gender", "occupation") if c not in users.columns]
    if missing:
        raise ValueError(f"users table lacks column(s) {missing}")
    age = users[["age"]].to_numpy(np.float32) / AGE_SCALE
    gender = pd.get_dummies(users["gender"], prefix="gender", dtype=np.float32)
    occupation = pd.get_dummies(users["occupation"], prefix="occ", dtype=np.float32)
    x = np.hstack([age, gender.to_numpy(), occupation.to_numpy()])
    names = ["age"] + list(gender.columns) + list(occupation.columns)
    return torch.from_numpy(x), names


def movie_features(items: pd.DataFrame, genres: list[str]) -> tuple[torch.Tensor, list[str]]:
    """Movie features: the genre columns, release year scaled to [0, 1], a year-unknown flag.

    A movie with no release year gets the scaled year 0 and the flag 1.
    """
    missing = [c for c in list(genres) + ["year"] if c not in items.columns]
    if missing:
        raise ValueError(f"items table lacks column(s) {missing}")
    genre_x = items[list(genres)].to_numpy(np.float32)
    year = items["year"].astype("float64").to_numpy()
    unknown = np.isnan(year)
    lo, hi = np.nanmin(year), np.nanmax(year)
    scaled = np.where(unknown, 0.0, (year - lo) / max(hi - lo, 1.0))
    x = np.hstack([genre_x, scaled[:, None], unknown[:, None]]).astype(np.float32)
    names = list(genres) + ["year_scaled", "year_unknown"]
    return torch.from_numpy(x), names


def to_hetero_data(ml, ratings: pd.DataFrame | None = None):
    """The user-movie graph of ``ratings`` (default: all of ``ml.ratings``) as PyG ``HeteroData``.

    Node types ``user`` (features from :func:`user_features`) and ``movie`` (features from
    :func:`movie_features`); edge type ``('user', 'rates', 'movie')`` with edge attributes
    ``rating`` and ``time``; ``ToUndirected`` adds ``('movie', 'rev_rates', 'user')``.
    """
    import torch_geometric.transforms as T
    from torch_geometric.data import HeteroData

    ratings = ml.ratings if ratings is None else ratings
    users, items = _pairs(ratings)
    data = HeteroData()
    data["user"].x = user_features(ml.users)[0]
    data["movie"].x = movie_features(ml.items, ml.genres)[0]
    edge = data["user", "rates", "movie"]
    edge.edge_index = torch.from_numpy(np.stack([users, items]))
    edge.rating = torch.tensor(ratings["rating"].to_numpy(np.int64))
    edge.time = torch.tensor(ratings["timestamp"].to_numpy(np.int64))
    return T.ToUndirected()(data)


def propagation_scores(graph, layers: int = 3) -> torch.Tensor:
    """User-item block of ``graph.adj ** layers``: ``[num_users, num_items]`` scores.

    Start from a one-hot vector on every item node and propagate ``layers`` times; the score of
    item i for user u is the weighted number of length-``layers`` paths between them (weights
    1/sqrt(d_a d_b) per edge). Odd ``layers`` connect users to items.
    """
    if int(layers) != layers or layers < 1:
        raise ValueError(f"layers must be a positive integer, got {layers}")
    x = torch.zeros(graph.num_nodes, graph.num_items)
    x[graph.num_users + torch.arange(graph.num_items), torch.arange(graph.num_items)] = 1.0
    for _ in range(int(layers)):
        x = graph.adj @ x  # one hop: every node averages its neighbours (symmetric weights)
    return x[: graph.num_users]


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


def _keys(table, num_items: int) -> torch.Tensor:
    users, items = _pairs(table)
    return torch.unique(torch.from_numpy(users * num_items + items))  # sorted


def false_negative_rate(train: pd.DataFrame, test: pd.DataFrame, num_items: int,
                        num_samples: int = 100_000, seed: int = 0) -> float:
    """Fraction of sampled negatives that are really held-out positives.

    Draw ``num_samples`` training interactions at random, and for each one negative the way
    BPR training does (``gnnedu.train.sample_negatives``: uniform over the items the user has
    not interacted with in train). Return the fraction of negatives in the user's test set.
    """
    from gnnedu.train import sample_negatives

    gen = torch.Generator().manual_seed(seed)
    users = torch.from_numpy(_pairs(train)[0])
    drawn = users[torch.randint(len(users), (num_samples,), generator=gen)]
    neg = sample_negatives(drawn, num_items, 1, _keys(train, num_items), gen)[:, 0]
    test_keys = _keys(test, num_items)
    keys = drawn * num_items + neg
    pos = torch.searchsorted(test_keys, keys).clamp(max=max(len(test_keys) - 1, 0))
    return float((test_keys[pos] == keys).double().mean()) if len(test_keys) else 0.0


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

    Feed it to ``gnnedu.metrics.ranking_metrics(hits, n_relevant=1, ...)``: with one relevant
    item per list, hit@K = recall@K and NDCG@K = 1/log2(rank + 2).
    """
    return ranks.unsqueeze(1) == torch.arange(k).unsqueeze(0)


def sampled_evaluate(model, users: torch.Tensor, candidates: torch.Tensor, ks=(10,)) -> dict:
    """Mean sampled metrics over the test interactions, through ``gnnedu.metrics``.

    ``model``: a dense score matrix ``[num_users, num_items]`` or an object with ``score()``.
    """
    from gnnedu.metrics import ranking_metrics

    scores = model if isinstance(model, torch.Tensor) else model.score()
    ranks = sampled_rank(scores, users, candidates)
    hits = sampled_hits(ranks, max(ks))
    per_row = ranking_metrics(hits, torch.ones(len(ranks)), ks)
    return {key: float(value.mean()) for key, value in per_row.items()}
