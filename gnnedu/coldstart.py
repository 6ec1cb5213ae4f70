"""Where graphs earn their keep: new items, new users and sparse data (notebook 09).

Three protocols on MovieLens-100K, each deterministic for a seed, with full ranking, the
user's training items masked and ties broken at random (never by item index):

- **new items** (:func:`split_new_items`): a random ``HOLDOUT_RATIO`` of the movies is held out
  entirely; training holds every rating of the other movies, test every rating of the held-out
  ones. Each model ranks the held-out movies for each test user ("held-out" view) and, as a
  second view, the whole catalogue ("catalogue"). Trained models never draw a held-out movie
  as a negative (``gnnedu.train.TrainConfig.neg_items``).
- **new users** (:func:`split_new_users`): a seeded ``NEW_USER_RATIO`` of the users keeps only
  its k earliest ratings (time ties broken at random), k in ``NEW_USER_KS``; the rest of those
  users' ratings is the test set. Models train without these users' data and fold them in from
  their k ratings (:func:`new_user_scores`): item-item models score r_u B, LightGCN-style
  models use ``gnnedu.explain.fold_in_user`` (with the user's layer-0 embedding from features
  for ``lightgcn-feat``), the heterogeneous GNN embeds them inductively.
- **sparsity** (:func:`subsample_train`): nested subsamples (``DENSITIES``) of each user's
  protocol-P1 training interactions, at least one per user, scored on the same P1 test set
  with the whole P1 training split masked (so every density ranks the same candidates for the
  same test items; only what the model learned from changes).

Why ties matter: EASE, ItemKNN and Popularity give every movie without training ratings the
same score, ``torch.topk`` keeps tied items in index order, and MovieLens item ids follow
popularity (low ids were rated far more often), so an index-ordered tie would rank the
held-out movies by their (hidden) popularity. :func:`break_ties` ranks by (score, a random key
drawn from the seed) instead; every model of a seed gets the same keys (paired comparisons).

API summary
-----------
Splits (deterministic per seed):

- ``NewItemsSplit``, ``split_new_items(ratings, num_items, ratio=0.2, seed=0, among=None)``;
  ``validation_new_items(split, num_items)``: validation movies carved from the warm ones.
- ``NewUsersSplit`` (``kept(k)``, ``test(k)``), ``split_new_users(ratings, num_users,
  ratio=0.2, seed=0)``.
- ``subsample_train(train, densities=DENSITIES, seed=0) -> {density: DataFrame}`` (nested).

Evaluation:

- ``tie_keys(num_users, num_items, seed)``; ``break_ties(scores, keys, exclude=None)``: scores
  without ties, ordered by (score, key).
- ``evaluate_scores(scores, test, exclude, keys, ks=KS, users=None) -> dict``: per-user metrics
  (``gnnedu.metrics.per_user_metrics``) of a dense score matrix after :func:`break_ties`, and
  their means.
- ``chance_recall(candidates, k)``: expected recall@k of a random ranking.
- ``can_fold_in(model)``, ``new_user_scores(model, kept, users)``: fold-in scores of new users.

Running (``gnnedu bench --protocol new-items|new-users|sparsity``):

- ``run_protocol(protocol, models=None, seeds=(0, ..., 4), ml=None, path=None, resume=False,
  epochs=None, progress=True, topk_path=None, split_path=None, ks=NEW_USER_KS,
  densities=DENSITIES) -> dict``: saved after every model and seed, resumable;
  ``PROTOCOL_MODELS`` holds each protocol's default models.
- ``choose_sparse_settings(key, density, ml)``: a model's settings at one density, chosen on
  validation (sparsity).
- ``bench_main(args, argv) -> int``: the ``gnnedu bench`` branch.

Reading results (notebook 09):

- ``load_protocol(name, path=None)`` (the committed ``gnnedu/results/coldstart/*.json``),
  ``load_tuning()``, ``runs_frame(results)``.
- ``summary_table(results, metric)``: models by setting, "mean ± std" over seeds;
  ``choices_table(results)``: the settings chosen per density (sparsity); ``markdown(frame)``.
- ``paired_test(results, a, b, setting, metric)``: paired t-test over seeds;
  ``chance_test(results, model)``: one-sample t-test against the chance level (new items).
- ``draw_bars(results, setting, ...)``, ``draw_curves(results, metric, ...)``: the figures.

Choosing the feature models' settings: ``tune()`` (``python -m gnnedu.coldstart tune``), the
grids ``TUNE_GRIDS``, new-item validation on seed 0; results in
``gnnedu/results/coldstart/tuning.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from gnnedu.metrics import KS, per_user_metrics

__all__ = [
    "HOLDOUT_RATIO", "NEW_USER_RATIO", "NEW_USER_KS", "DENSITIES", "PROTOCOLS",
    "PROTOCOL_MODELS", "VIEWS", "NewItemsSplit", "split_new_items", "validation_new_items",
    "NewUsersSplit", "split_new_users", "subsample_train", "tie_keys", "break_ties",
    "evaluate_scores", "chance_recall", "can_fold_in", "new_user_scores",
    "choose_sparse_settings", "check_arguments", "run_protocol", "load_protocol", "load_tuning",
    "runs_frame", "summary_table", "choices_table", "paired_test", "chance_test", "draw_bars",
    "draw_curves",
    "model_color", "FEATURE_MODELS",
    "markdown", "bench_main", "tune",
    "TUNE_GRIDS",
]

HOLDOUT_RATIO = 0.2          # share of movies held out entirely (new items)
NEW_USER_RATIO = 0.2         # share of users who arrive after training (new users)
NEW_USER_KS = (1, 3, 5, 10)  # ratings a new user has given when we recommend to them
DENSITIES = (0.1, 0.25, 0.5, 1.0)   # share of each user's P1 training interactions kept
TIE_SALT = 9_000_001         # the tie-breaking keys of seed s come from seed TIE_SALT + s


# ---------------------------------------------------------------------------------------------
# The splits
# ---------------------------------------------------------------------------------------------

@dataclass
class NewItemsSplit:
    """``train``: every rating of the warm movies; ``test``: every rating of the held-out
    movies; ``heldout``: their item indices (sorted LongTensor); ``warm``: the others."""

    train: pd.DataFrame
    test: pd.DataFrame
    heldout: torch.Tensor
    warm: torch.Tensor
    seed: int


def split_new_items(ratings: pd.DataFrame, num_items: int, ratio: float = HOLDOUT_RATIO,
                    seed: int = 0, among=None) -> NewItemsSplit:
    """Hold out ``round(ratio * n)`` movies drawn at random (``seed``) from ``among`` (default:
    all ``num_items``; n = how many that is), all their ratings going to test. ``warm``: the
    other movies of ``among``, the only ones ``train`` has ratings of."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be between 0 and 1 (exclusive), got {ratio}")
    pool = np.arange(num_items) if among is None else np.unique(np.asarray(among))
    held = np.sort(np.random.default_rng(seed).permutation(pool)[: int(round(ratio * len(pool)))])
    is_held = np.zeros(num_items, dtype=bool)
    is_held[held] = True
    in_test = is_held[ratings["item"].to_numpy()]
    return NewItemsSplit(train=ratings[~in_test].reset_index(drop=True),
                         test=ratings[in_test].reset_index(drop=True),
                         heldout=torch.from_numpy(held),
                         warm=torch.from_numpy(np.setdiff1d(pool, held)), seed=seed)


def validation_new_items(split: NewItemsSplit, num_items: int, ratio: float = HOLDOUT_RATIO
                         ) -> NewItemsSplit:
    """New-item validation: hold out ``ratio`` of ``split``'s warm movies from its training
    ratings, as :func:`split_new_items` holds out test movies (the test set is never read)."""
    return split_new_items(split.train, num_items, ratio, split.seed, among=split.warm)


@dataclass
class NewUsersSplit:
    """``train``: every rating of the other users; ``new_users``: sorted user indices;
    ``order``: the new users' ratings, earliest first per user (time ties broken at random),
    with a column ``position`` (1 = earliest); ``kept(k)`` and ``test(k)`` split them."""

    train: pd.DataFrame
    new_users: torch.Tensor
    order: pd.DataFrame
    seed: int

    def kept(self, k: int) -> pd.DataFrame:
        """Each new user's ``k`` earliest ratings: what the models may use."""
        return self.order[self.order["position"] <= k].reset_index(drop=True)

    def test(self, k: int) -> pd.DataFrame:
        """The rest of the new users' ratings: the test set at ``k``."""
        return self.order[self.order["position"] > k].reset_index(drop=True)


def split_new_users(ratings: pd.DataFrame, num_users: int, ratio: float = NEW_USER_RATIO,
                    seed: int = 0) -> NewUsersSplit:
    """Draw ``round(ratio * num_users)`` new users (``seed``) and order their ratings by time,
    ties broken by a random key from the same seed (many ratings share a second)."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be between 0 and 1 (exclusive), got {ratio}")
    rng = np.random.default_rng(seed)
    new = np.sort(rng.permutation(num_users)[: int(round(ratio * num_users))])
    is_new = np.zeros(num_users, dtype=bool)
    is_new[new] = True
    mine = is_new[ratings["user"].to_numpy()]
    order = ratings[mine].copy()
    order["_key"] = rng.random(len(order))
    order = order.sort_values(["user", "timestamp", "_key"], kind="stable").drop(columns="_key")
    order["position"] = order.groupby("user").cumcount() + 1
    return NewUsersSplit(train=ratings[~mine].reset_index(drop=True),
                         new_users=torch.from_numpy(new), order=order.reset_index(drop=True),
                         seed=seed)


def subsample_train(train: pd.DataFrame, densities=DENSITIES, seed: int = 0) -> dict:
    """Nested subsamples of each user's training rows: ``{density: DataFrame}``.

    Each user's rows are put in a random order (``seed``) once; density d keeps the first
    ``max(1, round(d * n_u))`` of them, so a sparser sample is contained in every denser one.
    """
    densities = sorted(float(d) for d in densities)
    if not densities or densities[0] <= 0 or densities[-1] > 1:
        raise ValueError(f"densities must lie in (0, 1], got {densities}")
    rng = np.random.default_rng(seed)
    shuffled = train.iloc[rng.permutation(len(train))]
    position = shuffled.groupby("user").cumcount().to_numpy()
    n_user = shuffled.groupby("user")["item"].transform("size").to_numpy()
    out = {}
    for d in densities:
        keep = position < np.maximum(1, np.round(d * n_user))
        out[d] = shuffled[keep].sort_index().reset_index(drop=True)
    return out


# ---------------------------------------------------------------------------------------------
# Evaluation with ties broken at random
# ---------------------------------------------------------------------------------------------

def tie_keys(num_users: int, num_items: int, seed: int) -> torch.Tensor:
    """Random keys ``[num_users, num_items]`` in [0, 1) for seed ``seed`` (the same for every
    model of a seed, so that comparisons are paired)."""
    gen = torch.Generator().manual_seed(TIE_SALT + int(seed))
    return torch.rand(num_users, num_items, generator=gen, dtype=torch.float64)


def break_ties(scores: torch.Tensor, keys: torch.Tensor,
               exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Scores ``[B, I]`` without ties: the returned values order the items by (score, key),
    highest first; excluded items (bool ``[B, I]``) get -inf.

    The items are put in the order of ``keys`` (a random order per user), then sorted by score
    with a stable sort, so tied items keep the random order. The result is I - position
    (float64), which ``torch.topk`` ranks without ties.
    """
    scores = scores.to(torch.float64)
    if exclude is not None:
        scores = scores.masked_fill(exclude, -math.inf)
    shuffle = torch.argsort(keys, dim=1)
    by_score = torch.sort(scores.gather(1, shuffle), dim=1, descending=True, stable=True)
    order = shuffle.gather(1, by_score.indices)            # item at each position, best first
    n = scores.shape[1]
    ranked = torch.empty_like(scores)
    ranked.scatter_(1, order, torch.arange(n, 0, -1, dtype=torch.float64).expand_as(scores))
    if exclude is not None:
        ranked = ranked.masked_fill(exclude, -math.inf)
    return ranked


def evaluate_scores(scores: torch.Tensor, test: pd.DataFrame, exclude: torch.Tensor,
                    keys: torch.Tensor, ks=KS, users: torch.Tensor | None = None) -> dict:
    """Metrics of a dense score matrix with ties broken at random.

    Args:
        scores: ``[n, I]``, one row per user of ``users`` (all users when None).
        test: relevant pairs with ``user`` and ``item`` columns (user indices as in ``users``).
        exclude: bool ``[n, I]``, items never ranked (the user's training items; in the
            held-out view also every warm movie).
        keys: tie-breaking keys ``[num_users, I]`` (:func:`tie_keys`).
    Returns:
        ``{"per_user": per_user_metrics output, "means": {metric: mean}, "users": count}``.
    """
    rows = torch.arange(scores.shape[0]) if users is None else torch.as_tensor(users)
    ranked = break_ties(scores, keys[rows], exclude)
    # per_user_metrics wants rows 0..n-1: renumber the users of `test` to their row
    row_of = {int(u): r for r, u in enumerate(rows.tolist())}
    sub = test[test["user"].isin(row_of)]
    local = pd.DataFrame({"user": sub["user"].map(row_of).to_numpy(), "item": sub["item"]})
    empty = (torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    per_user = per_user_metrics(ranked, empty, local, ks=ks)
    per_user.pop("_topk")
    per_user["users"] = rows.numpy()[per_user["users"]]
    means = {k: float(np.mean(v)) for k, v in per_user.items() if "@" in k}
    return {"per_user": per_user, "means": means, "users": len(per_user["users"])}


def chance_recall(candidates, k: int = 20) -> float:
    """Expected recall@k of a uniformly random ranking, averaged over users: a user with C
    candidates puts each of them in the top k with probability min(k, C) / C."""
    c = np.asarray(candidates, dtype=np.float64)
    return float(np.mean(np.minimum(k, c) / c))



# ---------------------------------------------------------------------------------------------
# Scores for new users
# ---------------------------------------------------------------------------------------------

def can_fold_in(model) -> bool:
    """Whether :func:`new_user_scores` can score new users for ``model`` (before fitting)."""
    from gnnedu.featmodels import HeteroSAGE
    from gnnedu.models import EASE, GCNRecommender, GraphFilter, ItemKNN, Popularity, Random

    if isinstance(model, (Random, Popularity, ItemKNN, EASE, GraphFilter, HeteroSAGE)):
        return True
    return isinstance(model, GCNRecommender) and not (
        model.transform or model.activation is not None or model.self_loops)


@torch.no_grad()
def new_user_scores(model, kept: pd.DataFrame, users) -> torch.Tensor:
    """Scores ``[len(users), num_items]`` for new users from their first ratings ``kept``
    (``user``, ``item`` columns), without retraining.

    - Random, Popularity: their scores (Popularity ignores the ratings).
    - ItemKNN, EASE, GraphFilter: r_u B, with r_u the user's kept items (exact: these models
      never had a user embedding).
    - LightGCN-style models (``gnnedu.explain.fold_in_user``): e_u = alpha_0 e_u^(0) +
      sum_j c_j g_j, with e_u^(0) = 0 for an ID-only model and the layer-0 embedding from the
      user's features for a feature model (cold in training, so without ID embedding).
    - HeteroSAGE: inductive, the network run on the training graph plus the kept ratings.
    """
    from gnnedu import explain
    from gnnedu.featmodels import HeteroSAGE
    from gnnedu.graph import build_graph
    from gnnedu.models import Popularity, Random

    if not can_fold_in(model):
        raise ValueError(f"{model.name} cannot fold in new users (no fold-in without "
                         "retraining); choose an item-item, LightGCN-style or feature model")
    users = torch.as_tensor(users, dtype=torch.long)
    if isinstance(model, (Random, Popularity)):
        return model.score(users)
    rows = {int(u): r for r, u in enumerate(users.tolist())}
    if not kept["user"].isin(rows).all():
        raise ValueError("kept holds a user that is not in users")
    kept_users = torch.from_numpy(kept["user"].map(rows).to_numpy(np.int64, copy=True))
    kept_items = torch.from_numpy(kept["item"].to_numpy(np.int64, copy=True))
    if hasattr(model, "B"):                                  # item-item: r_u B
        r = torch.zeros(len(users), model.num_items, dtype=model.B.dtype)
        r[kept_users, kept_items] = 1.0
        return r @ model.B
    if isinstance(model, HeteroSAGE):                        # inductive forward pass
        g = model.graph
        graph = build_graph((torch.cat([g.users, users[kept_users]]),
                             torch.cat([g.items, kept_items])), g.num_users, g.num_items)
        emb = model.embed(graph)
        return emb[users] @ emb[g.num_users:].T
    out = torch.empty(len(users), model.num_items)
    items_of = kept.groupby("user")["item"].apply(list)
    with explain.frozen_embeddings(model):
        layer0 = model.layer_embeddings()[0]
        has_features = hasattr(model, "encoder")
        for r, u in enumerate(users.tolist()):
            ego = layer0[u] if has_features else None
            out[r] = explain.fold_in_scores(model, items_of[u], ego)
    return out


# ---------------------------------------------------------------------------------------------
# The runner behind gnnedu bench --protocol new-items|new-users|sparsity
# ---------------------------------------------------------------------------------------------

PROTOCOLS = ("new-items", "new-users", "sparsity")
PROTOCOL_MODELS = {       # the default models of each protocol (gnnedu bench without --models)
    "new-items": ("random", "popularity", "itemknn", "ease", "mf", "lightgcn", "features",
                  "mffeat", "lightgcnfeat", "heterosage"),
    "new-users": ("popularity", "itemknn", "ease", "lightgcn", "features", "lightgcnfeat",
                  "heterosage"),
    "sparsity": ("popularity", "itemknn", "ease", "mf", "lightgcn", "lightgcnfeat"),
}
VIEWS = ("held-out", "catalogue")    # new items: rank the held-out movies, or every movie
SETTING_COLUMN = {"new-items": "view", "new-users": "k", "sparsity": "density"}
# sparsity at density 1 is protocol P1: these models keep the defaults tuned there
# (benchmarks/tune_p1.py); every other model and density gets choose_sparse_settings
P1_TUNED = ("mf", "gcn", "lightgcn")
TOPK_SAVED = 50                      # --save-topk list length
SEARCH_SEED = 0                      # sparsity: settings chosen on this seed's validation data
# sparsity: grids for the closed-form models, chosen on validation at each density
EASE_LAMBDAS = (30.0, 100.0, 300.0, 500.0, 1000.0, 2000.0, 5000.0)
KNN_KS = (25, 50, 100, 200, 400)


def canonical_key(name: str) -> str:
    """A model name as ``gnnedu.models.MODELS`` spells its key ("LightGCN-feat" ->
    "lightgcnfeat", "bpr-mf" -> "mf")."""
    from gnnedu.models import MODELS, make_model

    key = name.lower().replace("-", "").replace("_", "")
    if key not in MODELS:
        key = {"bprmf": "mf", "pop": "popularity", "knn": "itemknn"}.get(key, key)
    make_model(key)            # a ValueError naming the valid models if unknown
    return key


def _is_feature_model(model) -> bool:
    return hasattr(model, "encoder")


def _fit(key: str, graph, seed: int, features, epochs=None, neg_items=None,
         model_kwargs=None, fit_options=None, progress=False):
    """Build model ``key`` (``torch.manual_seed(seed)`` first, as ``experiment.run_one``) and
    fit it; returns ``(model, seconds)``."""
    import time

    from gnnedu.models import EmbeddingRecommender, make_model

    torch.manual_seed(seed)
    model = make_model(key, **(model_kwargs or {}))
    options = {"seed": seed, **(fit_options or {})}
    if isinstance(model, EmbeddingRecommender):
        options["progress"] = progress
        if epochs is not None:
            options["epochs"] = epochs
        if neg_items is not None:
            options["neg_items"] = tuple(int(i) for i in neg_items)
    if _is_feature_model(model):
        options["features"] = features
    start = time.perf_counter()
    model.fit(graph, **options)
    return model, time.perf_counter() - start


def _row(model, key, seed, metrics: dict, seconds: float, eval_seconds: float, **extra) -> dict:
    history = getattr(model, "history", None)
    row = {"model": model.name, "key": key, "seed": seed, **extra}
    row.update({m: metrics[m] for m in sorted(metrics)})
    row.update({"train_seconds": seconds, "eval_seconds": eval_seconds,
                "epochs": len(history.epochs) if history else None})
    return row


def _pairs_mask(users, items, num_users: int, num_items: int) -> torch.Tensor:
    from gnnedu.graph import as_index_pairs

    mask = torch.zeros(num_users, num_items, dtype=torch.bool)
    mask[as_index_pairs((users, items))] = True
    return mask


def _topk_table(ranked: torch.Tensor, users, ml, k: int = TOPK_SAVED) -> pd.DataFrame:
    """``user_id, rank, item_id`` (original MovieLens ids) of the best ``k`` per row."""
    top = torch.topk(ranked, k, dim=1).indices.numpy()
    user_ids = ml.users["user_id"].to_numpy()[np.asarray(users)]
    item_ids = ml.items["item_id"].to_numpy()
    return pd.DataFrame({"user_id": np.repeat(user_ids, k),
                         "rank": np.tile(np.arange(1, k + 1), len(user_ids)),
                         "item_id": item_ids[top.reshape(-1)]})


def _run_new_items(keys_, seed, ml, features, epochs, progress, topk, save):
    import time

    split = split_new_items(ml.ratings, ml.num_items, HOLDOUT_RATIO, seed)
    from gnnedu.graph import build_graph

    graph = build_graph(split.train, ml.num_users, ml.num_items)
    keys = tie_keys(ml.num_users, ml.num_items, seed)
    seen = _pairs_mask(graph.users, graph.items, ml.num_users, ml.num_items)
    warm_items = torch.ones(ml.num_items, dtype=torch.bool)
    warm_items[split.heldout] = False
    views = {"held-out": seen | warm_items, "catalogue": seen}
    chance = chance_recall([len(split.heldout)], 20)
    for key in keys_:
        model, seconds = _fit(key, graph, seed, features, epochs, split.warm, progress=progress)
        start = time.perf_counter()
        scores = model.score()
        held = scores[:, split.heldout].to(torch.float64)
        spread = float((held.max(1).values - held.min(1).values).mean())
        rows = []
        for view, exclude in views.items():
            result = evaluate_scores(scores, split.test, exclude, keys)
            rows.append(_row(model, key, seed, result["means"], seconds,
                             time.perf_counter() - start, view=view, group=f"{key}|{view}",
                             users=result["users"], heldout_movies=len(split.heldout),
                             chance_recall_at_20=chance if view == "held-out" else math.nan,
                             heldout_score_spread=spread))
        save(rows)
        if topk is not None:
            users = torch.as_tensor(np.unique(split.test["user"].to_numpy()))
            ranked = break_ties(scores[users], keys[users], views["held-out"][users])
            topk(key, "", _topk_table(ranked, users, ml))
    return split


def _run_new_users(keys_, seed, ml, features, epochs, progress, topk, save, ks):
    import time

    from gnnedu.graph import build_graph

    split = split_new_users(ml.ratings, ml.num_users, NEW_USER_RATIO, seed)
    graph = build_graph(split.train, ml.num_users, ml.num_items)
    keys = tie_keys(ml.num_users, ml.num_items, seed)
    users = split.new_users
    for key in keys_:
        model, seconds = _fit(key, graph, seed, features, epochs, progress=progress)
        rows = []
        for k in ks:
            start = time.perf_counter()
            kept, test = split.kept(k), split.test(k)
            scores = new_user_scores(model, kept, users)
            row_of = {int(u): r for r, u in enumerate(users.tolist())}
            exclude = _pairs_mask(kept["user"].map(row_of), kept["item"], len(users),
                                  ml.num_items)
            result = evaluate_scores(scores, test, exclude, keys, users=users)
            rows.append(_row(model, key, seed, result["means"], seconds,
                             time.perf_counter() - start, k=k, group=f"{key}|k={k}",
                             users=result["users"]))
            if topk is not None:
                ranked = break_ties(scores, keys[users], exclude)
                topk(key, f"_k{k}", _topk_table(ranked, users, ml))
        save(rows)
    return split


def _bucket_recall(per_user: dict, n_train: np.ndarray, metric: str = "recall@20") -> dict:
    from gnnedu.metrics import BUCKET_EDGES, activity_buckets, bucket_labels

    labels = activity_buckets(n_train[per_user["users"]], BUCKET_EDGES)
    values = np.asarray(per_user[metric])
    return {f"{metric} [{b}]": (float(values[labels == b].mean()) if (labels == b).any()
                                else math.nan) for b in bucket_labels(BUCKET_EDGES)}


def choose_sparse_settings(key: str, density: float, ml, features=None, log=print) -> dict:
    """Settings of model ``key`` at ``density``, chosen on validation data of seed
    ``SEARCH_SEED``: its P1 training split, subsampled as the protocol does, is cut again into
    90 % fit / 10 % validation (``gnnedu.train.carve_validation``). EASE: lambda from
    ``EASE_LAMBDAS``; ItemKNN: k from ``KNN_KS`` (recall@20 on validation, ties broken at
    random); trained models: the epoch count, by early stopping on validation recall@20
    (``gnnedu.experiment.EARLY_STOPPING``); others: nothing. The test split is never read."""
    from gnnedu import setup_notebook
    from gnnedu.data import split_random
    from gnnedu.experiment import EARLY_STOPPING, VAL_RATIO
    from gnnedu.graph import build_graph
    from gnnedu.models import EmbeddingRecommender, make_model
    from gnnedu.train import carve_validation

    grids = {"ease": ("lam", EASE_LAMBDAS), "itemknn": ("k", KNN_KS)}
    probe = make_model(key)
    if key not in grids and not isinstance(probe, EmbeddingRecommender):
        return {}
    setup_notebook(seed=SEARCH_SEED)
    train, _test = split_random(ml.ratings, 0.2, seed=SEARCH_SEED)
    sub = subsample_train(train, [density], seed=SEARCH_SEED)[float(density)]
    fit_df, val_df = carve_validation(sub, ratio=VAL_RATIO, seed=SEARCH_SEED)
    graph = build_graph(fit_df, ml.num_users, ml.num_items)
    if key in grids:
        name, values = grids[key]
        keys = tie_keys(ml.num_users, ml.num_items, SEARCH_SEED)
        seen = _pairs_mask(graph.users, graph.items, ml.num_users, ml.num_items)
        scores = {}
        for value in values:
            model = make_model(key, **{name: value}).fit(graph)
            scores[value] = evaluate_scores(model.score(), val_df, seen, keys,
                                            ks=(20,))["means"]["recall@20"]
        best = max(values, key=lambda v: (scores[v], -values.index(v)))
        log(f"  {key} at density {density:g}: {name} = {best:g} (validation recall@20 "
            f"{scores[best]:.4f})")
        return {"model_kwargs": {name: best}, "val_recall@20": scores[best],
                "grid": {str(v): s for v, s in scores.items()}}
    torch.manual_seed(SEARCH_SEED)
    model = make_model(key)
    options = {**model.train_defaults, **EARLY_STOPPING, "seed": SEARCH_SEED}
    if _is_feature_model(model):
        options["features"] = features
    model.fit(graph, val=val_df, **options)
    history = model.history
    log(f"  {key} at density {density:g}: {history.best_epoch} epochs (validation recall@20 "
        f"{history.best_score:.4f})")
    return {"epochs": int(history.best_epoch), "val_recall@20": history.best_score}



def _run_sparsity(keys_, seed, ml, features, epochs, progress, topk, save, skip, densities,
                  choose):
    import time

    from gnnedu.data import split_random
    from gnnedu.graph import build_graph

    train, test = split_random(ml.ratings, 0.2, seed=seed)
    subsets = subsample_train(train, densities, seed)
    keys = tie_keys(ml.num_users, ml.num_items, seed)
    seen = _pairs_mask(train["user"], train["item"], ml.num_users, ml.num_items)
    n_train = np.bincount(train["user"].to_numpy(), minlength=ml.num_users)
    for density, sub in subsets.items():
        graph = build_graph(sub, ml.num_users, ml.num_items)
        for key in keys_:
            if skip(key, density):
                continue
            choice = choose(key, density)
            model, seconds = _fit(key, graph, seed, features,
                                  epochs if epochs is not None else choice.get("epochs"),
                                  model_kwargs=choice.get("model_kwargs"), progress=progress)
            start = time.perf_counter()
            scores = model.score()
            result = evaluate_scores(scores, test, seen, keys)
            save([_row(model, key, seed, result["means"], seconds, time.perf_counter() - start,
                       density=density, users=result["users"], train_interactions=len(sub),
                       group=f"{key}|density={density:g}",
                       **_bucket_recall(result["per_user"], n_train))])
            if topk is not None:
                users = torch.as_tensor(np.unique(test["user"].to_numpy()))
                ranked = break_ties(scores[users], keys[users], seen[users])
                topk(key, f"_d{density:g}", _topk_table(ranked, users, ml))
    return train, test, subsets


def _save_split(protocol: str, path, split, ml) -> None:
    """``--save-split``: the held-out movies (new items), the new users' ratings in protocol
    order (new users), or each P1 training pair's smallest density and the test pairs
    (sparsity), in original MovieLens ids."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    user_ids, item_ids = ml.users["user_id"].to_numpy(), ml.items["item_id"].to_numpy()
    if protocol == "new-items":
        table = pd.DataFrame({"item_id": item_ids[split.heldout.numpy()]})
    elif protocol == "new-users":
        order = split.order
        table = pd.DataFrame({"user_id": user_ids[order["user"]], "position": order["position"],
                              "item_id": item_ids[order["item"]]})
    else:
        train, test, subsets = split
        first = {}
        for density in sorted(subsets, reverse=True):           # the smallest density wins
            for u, i in zip(subsets[density]["user"], subsets[density]["item"]):
                first[(u, i)] = f"{density:g}"
        rows = [(u, i, part) for (u, i), part in first.items()]
        rows += [(u, i, "test") for u, i in zip(test["user"], test["item"])]
        frame = pd.DataFrame(rows, columns=["user", "item", "part"]).sort_values(
            ["user", "item"], kind="stable")
        table = pd.DataFrame({"user_id": user_ids[frame["user"]],
                              "item_id": item_ids[frame["item"]], "part": frame["part"]})
    table.to_csv(path, index=False)


def check_arguments(protocol: str, models=None, seeds=(0,), ks=NEW_USER_KS,
                    densities=DENSITIES) -> tuple:
    """Validate :func:`run_protocol`'s arguments before any data is read; returns
    ``(model keys, seeds, ks, densities)`` normalised, or raises a ``ValueError`` that says
    what to change."""
    from gnnedu.models import make_model

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    keys_ = [canonical_key(m) for m in (models or PROTOCOL_MODELS[protocol])]
    seeds = [int(s) for s in seeds]
    if not keys_ or not seeds:
        raise ValueError("give at least one model and one seed")
    if protocol == "new-users":
        for key in keys_:
            if not can_fold_in(make_model(key)):
                raise ValueError(f"model {key!r} cannot fold in new users without retraining; "
                                 "use an item-item, LightGCN-style or feature model")
    ks = tuple(int(k) for k in ks)
    densities = tuple(sorted(float(d) for d in densities))
    if protocol == "new-users" and (not ks or min(ks) < 1):
        raise ValueError(f"new-user ks must be positive integers, got {list(ks)}")
    if protocol == "sparsity" and (not densities or densities[0] <= 0 or densities[-1] > 1):
        raise ValueError(f"densities must lie in (0, 1], got {list(densities)}")
    return keys_, seeds, ks, densities


def run_protocol(protocol: str, models=None, seeds=(0, 1, 2, 3, 4), ml=None, path=None,
                 resume: bool = False, epochs: int | None = None, progress: bool = True,
                 topk_path=None, split_path=None, ks=NEW_USER_KS, densities=DENSITIES,
                 log=print, command: str | None = None) -> dict:
    """Run ``models`` (default ``PROTOCOL_MODELS[protocol]``) on ``protocol`` for ``seeds``.

    Every model of a seed sees the same split and the same tie-breaking keys. Results are
    saved to ``path`` (JSON) after every model and seed; with ``resume`` the runs already in
    ``path`` for the same protocol settings are kept and not run again. ``topk_path``: the
    first seed's top-50 lists (``user_id,rank,item_id``, original ids; new items: among the
    held-out movies, for every user with a held-out rating); ``split_path``: the first seed's
    split (:func:`_save_split`). ``epochs`` overrides every trained model's epoch count.
    ``command``: recorded in the results (``gnnedu bench`` passes its command line).
    Returns ``{"command", "protocol", "environment", "choices", "runs", "summary"}``; a run is
    one row per model, seed and view (new items), k (new users) or density (sparsity).
    """
    import json
    from pathlib import Path

    from gnnedu import setup_notebook
    from gnnedu.data import load_movielens
    from gnnedu.experiment import machine_info, save_json, summarize
    from gnnedu.featmodels import movielens_features

    keys_, seeds, ks, densities = check_arguments(protocol, models, seeds, ks, densities)
    ml = load_movielens(progress=False) if ml is None else ml
    settings = {
        "name": protocol, "dataset": "MovieLens-100K", "ks": list(KS),
        "ranking": "full, training items masked, ties broken at random (seeded)",
        "epochs_override": epochs,
        **({"holdout_ratio": HOLDOUT_RATIO, "views": list(VIEWS)} if protocol == "new-items"
           else {}),
        **({"new_user_ratio": NEW_USER_RATIO, "new_user_ks": list(ks)}
           if protocol == "new-users" else {}),
        **({"test_ratio": 0.2, "densities": list(densities), "search_seed": SEARCH_SEED}
           if protocol == "sparsity" else {}),
    }
    path = None if path is None else Path(path)
    old = json.loads(path.read_text()) if (resume and path and path.exists()) else {}
    if old and old.get("protocol") != settings:
        raise ValueError(f"{path} holds another protocol's settings; drop --resume or pass "
                         "another --out")
    setup_notebook(seed=seeds[0])
    results = {"command": command, "protocol": settings, "environment": machine_info(),
               "choices": old.get("choices", {}), "runs": []}

    def unit(row) -> tuple:      # what one fit covers: a model and seed (and a density)
        return row["key"], row["seed"], row.get("density")

    done = {unit(r) for r in old.get("runs", []) if r["key"] in keys_ and r["seed"] in seeds}
    results["runs"] = [r for r in old.get("runs", []) if unit(r) in done]
    features = movielens_features(ml)
    per_seed = len(keys_) * (len(densities) if protocol == "sparsity" else 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(seeds) * per_seed - len(done), desc=protocol, unit="run")
        log = bar.write

    def save(rows):
        results["runs"].extend(rows)
        for r in rows:
            column = SETTING_COLUMN[protocol]
            setting = f"{column} {r[column]:g}" if protocol == "sparsity" else \
                f"{column} {r[column]}"
            log(f"{r['model']:<13} seed {r['seed']}  {setting:<12} R@20 {r['recall@20']:.4f}  "
                f"N@20 {r['ndcg@20']:.4f}  train {r['train_seconds']:.1f} s")
        if bar is not None:
            bar.update(1)
        if path is not None:
            save_json(results, path)

    def choose(key, density):
        name = f"{key}@{density:g}"
        if epochs is None and name not in results["choices"]:
            if density == 1.0 and key in P1_TUNED:
                results["choices"][name] = {}     # density 1 is P1: its P1-tuned defaults
            else:
                results["choices"][name] = choose_sparse_settings(key, density, ml, features,
                                                                  log)
            if path is not None:
                save_json(results, path)
        return results["choices"].get(name, {})

    def topk(key, suffix, table):
        target = Path(topk_path)
        stem = target.stem + (f"_{key}" if len(keys_) > 1 else "") + suffix
        target = target.with_name(stem + (target.suffix or ".csv"))
        target.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(target, index=False)

    for seed in seeds:
        setup_notebook(seed=seed)
        lists = topk if (seed == seeds[0] and topk_path is not None) else None

        def skip(key, density=None, seed=seed):
            return (key, seed, density) in done

        todo = [k for k in keys_ if not skip(k)]
        if protocol == "new-items":
            split = _run_new_items(todo, seed, ml, features, epochs, progress, lists, save)
        elif protocol == "new-users":
            split = _run_new_users(todo, seed, ml, features, epochs, progress, lists, save, ks)
        else:
            split = _run_sparsity(keys_, seed, ml, features, epochs, progress, lists, save,
                                  skip, densities, choose)
        if seed == seeds[0] and split_path is not None:
            _save_split(protocol, split_path, split, ml)
    if bar is not None:
        bar.close()
    order = {k: i for i, k in enumerate(keys_)}
    column = SETTING_COLUMN[protocol]

    def place(value):
        return VIEWS.index(value) if protocol == "new-items" else float(value)

    results["runs"].sort(key=lambda r: (order[r["key"]], r["seed"], place(r[column])))
    results["summary"] = summarize(results["runs"], by="group")
    if path is not None:
        save_json(results, path)
    return results


# ---------------------------------------------------------------------------------------------
# Reading results: tables and paired tests
# ---------------------------------------------------------------------------------------------

def load_protocol(name: str, path=None) -> dict:
    """A protocol's results JSON; by default the committed
    ``gnnedu/results/coldstart/<name with _>.json`` (``new_items``, ``new_users``,
    ``sparsity``)."""
    import json
    from pathlib import Path

    from gnnedu.experiment import RESULTS_DIR

    path = RESULTS_DIR / "coldstart" / f"{name.replace('-', '_')}.json" if path is None \
        else Path(path)
    with open(path) as f:
        return json.load(f)


def load_tuning(path=None) -> dict:
    """The validation runs of :func:`tune` (default: the committed
    ``gnnedu/results/coldstart/tuning.json``)."""
    import json

    from gnnedu.experiment import RESULTS_DIR

    with open(RESULTS_DIR / TUNE_PATH if path is None else path) as f:
        return json.load(f)


def runs_frame(results: dict) -> pd.DataFrame:
    """One row per run (model, seed and setting)."""
    return pd.DataFrame(results["runs"])


def summary_table(results: dict, metric: str = "recall@20", digits: int = 3,
                  numbers: bool = False) -> pd.DataFrame:
    """Models (rows, in run order) by setting (columns: view, k or density): ``metric`` as
    "mean ± std" over seeds, or with ``numbers`` the means as floats."""
    column = SETTING_COLUMN[results["protocol"]["name"]]
    frame = runs_frame(results)
    grouped = frame.groupby(["model", column], sort=False)[metric]
    mean, std = grouped.mean().unstack(column), grouped.std(ddof=1).unstack(column)
    order = list(dict.fromkeys(frame["model"]))
    settings = list(dict.fromkeys(frame[column]))
    mean, std = mean.loc[order, settings], std.loc[order, settings].fillna(0.0)
    if numbers:
        return mean
    cells = mean.map(lambda v: f"{v:.{digits}f}") + " ± " + std.map(lambda v: f"{v:.{digits}f}")
    cells.columns.name = column
    return cells


def choices_table(results: dict) -> pd.DataFrame:
    """Sparsity: what :func:`choose_sparse_settings` chose, models by density, as text
    ("lam = 30", "150 epochs", "P1 defaults" or "-" when there is nothing to choose)."""
    rows: dict = {}
    for name, choice in results["choices"].items():
        key, _, density = name.rpartition("@")
        if "model_kwargs" in choice:
            text = ", ".join(f"{k} = {v:g}" for k, v in choice["model_kwargs"].items())
        elif "epochs" in choice:
            text = f"{choice['epochs']} epochs"
        else:
            text = "P1 defaults" if key in P1_TUNED else "-"
        rows.setdefault(key, {})[float(density)] = text
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns.name = "density"
    return frame


def paired_test(results: dict, a: str, b: str, setting=None, metric: str = "recall@20"
                ) -> dict:
    """Paired t-test over seeds of model ``a`` against model ``b`` (keys or display names) at
    one ``setting`` (view, k or density): the same seeds, hence the same splits and
    tie-breaking keys (``gnnedu.experiment.paired_test`` on the rows of ``results``). Returns
    ``{"a", "b", "setting", "seeds", "mean_a", "mean_b", "diff", "diff_std", "t", "p", "wins"}``
    (``p`` two-sided; ``wins``: seeds where a > b)."""
    from gnnedu.experiment import paired_test as experiment_paired_test

    column = SETTING_COLUMN[results["protocol"]["name"]]
    frame = runs_frame(results)
    if setting is not None:
        frame = frame[frame[column] == setting]

    def pick(name):
        rows = frame[(frame["key"] == name) | (frame["model"] == name)]
        if rows.empty:
            raise KeyError(f"no runs of {name!r} at {column} = {setting!r}")
        return rows.set_index("seed")[metric]

    x, y = pick(a), pick(b)
    seeds = sorted(set(x.index) & set(y.index))
    if len(seeds) < 2:
        raise ValueError(f"a paired test needs 2 or more common seeds, got {seeds}")

    def rows(values):
        return [{"seed": seed, metric: float(values.loc[seed])} for seed in seeds]

    test = experiment_paired_test(rows(x), rows(y), metric, method="t")
    return {"a": a, "b": b, "setting": setting, "seeds": seeds, "mean_a": test["mean_a"],
            "mean_b": test["mean_b"], "diff": test["mean_diff"], "diff_std": test["std_diff"],
            "t": test["statistic"], "p": test["p_value"], "wins": test["wins"]}


def chance_test(results: dict, model: str, metric: str = "recall@20") -> dict:
    """New items, held-out view: is ``model`` (key or display name) above chance? A one-sample
    t-test over seeds of its ``metric`` minus the chance level of each seed
    (``chance_recall_at_20``; recall@20 only). Returns ``{"model", "mean", "chance", "diff",
    "t", "p"}`` (``p`` two-sided)."""
    from scipy import stats

    if metric != "recall@20":
        raise ValueError("the chance level is stored for recall@20 only")
    frame = runs_frame(results)
    rows = frame[((frame["key"] == model) | (frame["model"] == model))
                 & (frame["view"] == "held-out")].sort_values("seed")
    if len(rows) < 2:
        raise ValueError(f"a test over seeds needs 2 or more runs of {model!r}")
    diff = rows[metric].to_numpy() - rows["chance_recall_at_20"].to_numpy()
    test = stats.ttest_1samp(diff, 0.0)
    return {"model": rows["model"].iloc[0], "mean": float(rows[metric].mean()),
            "chance": float(rows["chance_recall_at_20"].mean()), "diff": float(diff.mean()),
            "t": float(test.statistic), "p": float(test.pvalue)}


# The feature models of notebook 09: drawn dashed in its line figures (their colours are in
# gnnedu.plot.MODEL_COLORS, the one colour map).
FEATURE_MODELS = ("Features", "MF-feat", "LightGCN-feat", "HeteroSAGE")


def model_color(name: str) -> str:
    """A model's colour: ``gnnedu.plot.model_color`` (kept here for notebook 09's imports)."""
    from gnnedu import plot

    return plot.model_color(name)


def draw_bars(results: dict, setting, metric: str = "recall@20", chance: float | None = None,
              title: str | None = None, ax=None):
    """Horizontal bars: each model's ``metric`` at one ``setting`` (mean ± std over seeds),
    in run order, with an optional dashed chance line. Returns the figure."""
    from gnnedu import plot

    fig, ax = plot.axes_for(ax, figsize=(7.5, 4.2))
    column = SETTING_COLUMN[results["protocol"]["name"]]
    frame = runs_frame(results)
    frame = frame[frame[column] == setting]
    grouped = frame.groupby("model", sort=False)[metric]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    y = np.arange(len(mean))[::-1]
    ax.barh(y, mean.to_numpy(), xerr=std.to_numpy(), capsize=3,
            color=[model_color(m) for m in mean.index])
    right = float((mean + std).max())
    for yi, value, spread in zip(y, mean.to_numpy(), std.to_numpy()):
        ax.text(value + spread + 0.01 * right, yi, f"{value:.3f}", va="center", fontsize=8)
    if chance is not None:
        ax.axvline(chance, color="black", linestyle="--", linewidth=1,
                   label=f"chance ({chance:.3f})")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(y, list(mean.index))
    ax.set_xlabel(f"test {metric} (mean ± std over {frame['seed'].nunique()} seeds)")
    ax.set_xlim(0, 1.2 * float((mean + std).max()))
    ax.set_title(title or f"{results['protocol']['name']}: {column} = {setting}")
    ax.grid(axis="x", alpha=0.3)
    return fig


def draw_curves(results: dict, metric: str = "recall@20", models=None, logx: bool = False,
                title: str | None = None, ax=None):
    """One line per model: ``metric`` (mean ± std over seeds) against the setting (k for new
    users, density for sparsity). Returns the figure."""
    from gnnedu import plot

    fig, ax = plot.axes_for(ax, figsize=(7.0, 4.2))
    column = SETTING_COLUMN[results["protocol"]["name"]]
    frame = runs_frame(results)
    for name, rows in frame.groupby("model", sort=False):
        if models is not None and name not in models and rows["key"].iloc[0] not in models:
            continue
        stats_ = rows.groupby(column)[metric].agg(["mean", "std"]).fillna(0.0)
        ax.errorbar(stats_.index, stats_["mean"], yerr=stats_["std"], marker="o", capsize=2,
                    color=model_color(name), label=name,
                    linestyle="--" if name in FEATURE_MODELS else "-")
    if logx:
        ax.set_xscale("log")
    values = sorted(frame[column].unique())
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.set_xlabel({"k": "ratings a new user has given (k)",
                   "density": "share of each user's training data kept"}.get(column, column))
    ax.set_ylabel(f"test {metric}")
    ax.set_title(title or f"{results['protocol']['name']}: {metric} (mean ± std over seeds)")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return fig


def markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (index first)."""
    head = [frame.columns.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join([str(frame.index.name or "model")] + head[1:]) + " |",
             "|---|" + "|".join("---:" for _ in frame.columns) + "|"]
    for name, row in frame.iterrows():
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# gnnedu bench --protocol new-items|new-users|sparsity
# ---------------------------------------------------------------------------------------------

def _numbers(text: str, kind):
    return tuple(kind(x) for x in str(text).replace(" ", "").split(",") if x)


def bench_main(args, argv) -> int:
    """The ``gnnedu bench`` branch for the protocols of this module (``args`` from
    ``gnnedu.bench.build_parser``): runs :func:`run_protocol`, writes ``OUT.json`` (after
    every run) and ``OUT.csv``, prints one table per metric. Exit status 2 for bad arguments,
    1 for missing or bad data."""
    import sys
    from pathlib import Path

    from gnnedu.bench import DEFAULT_MODELS
    from gnnedu.data import DataError, load_movielens
    from gnnedu.experiment import write_results

    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    protocol = args.protocol
    if protocol == "p1":
        return fail("--save-split, --new-user-ks, --densities and --resume need --protocol "
                    "new-items, new-users or sparsity")
    if args.split is not None or args.threshold is not None or args.test_ratio != 0.2:
        return fail(f"--split, --threshold and --test-ratio apply to --protocol p1 only, not "
                    f"{protocol}")
    if args.new_user_ks and protocol != "new-users":
        return fail("--new-user-ks needs --protocol new-users")
    if args.densities and protocol != "sparsity":
        return fail("--densities needs --protocol sparsity")
    try:
        ks = _numbers(args.new_user_ks, int) if args.new_user_ks else NEW_USER_KS
        densities = _numbers(args.densities, float) if args.densities else DENSITIES
        seeds = _numbers(args.seeds, int)
    except ValueError:
        return fail("--seeds, --new-user-ks and --densities take comma-separated numbers")
    given = args.models.replace(" ", "")
    models = None if given == ",".join(DEFAULT_MODELS) else [m for m in given.split(",") if m]
    try:
        check_arguments(protocol, models, seeds, ks, densities)
    except ValueError as err:
        return fail(str(err))
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return fail(f"cannot write to {out.parent}: {err.strerror}")
    command = "gnnedu bench " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        ml = load_movielens(args.data, progress=not args.no_progress)
        results = run_protocol(protocol, models, seeds, ml, out.with_suffix(".json"),
                               args.resume, args.epochs, not args.no_progress,
                               args.save_topk, args.save_split, ks, densities, command=command)
    except (ValueError, KeyError) as err:
        return fail(str(err).strip("'\""))
    except DataError as err:
        print(f"gnnedu bench: {err}", file=sys.stderr)
        return 1
    json_path, csv_path = write_results(results, out)
    for metric in ("recall@20", "ndcg@20"):
        print(f"\n{protocol}, {metric} (mean ± std over seeds {', '.join(map(str, seeds))}):")
        print(markdown(summary_table(results, metric)))
    extra = [f"top-50 lists: {args.save_topk}"] if args.save_topk else []
    extra += [f"split: {args.save_split}"] if args.save_split else []
    print(f"\nwrote {json_path} and {csv_path}" + ("; " + "; ".join(extra) if extra else ""))
    return 0


# ---------------------------------------------------------------------------------------------
# Choosing the feature models' settings on validation movies (python -m gnnedu.coldstart tune)
# ---------------------------------------------------------------------------------------------

# Each entry: model key -> configurations (model keyword arguments and TrainConfig fields
# together; the ones that are TrainConfig fields go to fit). Small on purpose: a busy 2-core
# machine runs the whole grid in about half an hour.
TUNE_GRIDS = {
    "features": [{"reg": 1e-3}, {"reg": 1e-2}],
    "mffeat": [{"id_dropout": 0.0}, {"id_dropout": 0.5}],
    "lightgcnfeat": [
        {"item_layer0": False, "id_dropout": 0.0, "reg": 1e-2},
        {"item_layer0": False, "id_dropout": 0.5, "reg": 1e-2},
        {"item_layer0": False, "id_dropout": 0.0, "reg": 1e-3},
        {"item_layer0": True, "id_dropout": 0.0, "reg": 1e-2},
        {"item_layer0": True, "id_dropout": 0.0, "reg": 1e-3}],
    "heterosage": [
        {"item_layer0": False, "id_dropout": 0.0, "lr": 5e-3},
        {"item_layer0": False, "id_dropout": 0.5, "lr": 5e-3},
        {"item_layer0": False, "id_dropout": 0.0, "lr": 1e-2},
        {"item_layer0": True, "id_dropout": 0.0, "lr": 5e-3}],
}
TUNE_STOPPING = dict(epochs=150, eval_every=5, patience=3, metric="recall@20", ks=(20,))
TUNE_SEED = 0
TUNE_PATH = "coldstart/tuning.json"        # under gnnedu/results


def _split_options(config: dict) -> tuple[dict, dict]:
    """``config`` as (model keyword arguments, TrainConfig fields)."""
    from dataclasses import fields

    from gnnedu.train import TrainConfig

    train_fields = {f.name for f in fields(TrainConfig)}
    return ({k: v for k, v in config.items() if k not in train_fields},
            {k: v for k, v in config.items() if k in train_fields})


def tune(models=tuple(TUNE_GRIDS), ml=None, path=None, log=print) -> dict:
    """Train every configuration of ``TUNE_GRIDS`` on the seed-0 new-item validation split
    (:func:`validation_new_items`: 20 % of the warm movies held out of training) with early
    stopping on recall@20 among the validation movies; saves ``path`` after every
    configuration and keeps the ones already there (resumable). Returns the results."""
    import json
    import time
    from pathlib import Path

    from gnnedu import setup_notebook
    from gnnedu.data import load_movielens
    from gnnedu.experiment import RESULTS_DIR, machine_info, save_json
    from gnnedu.featmodels import movielens_features
    from gnnedu.graph import build_graph
    from gnnedu.models import make_model

    path = Path(RESULTS_DIR / TUNE_PATH if path is None else path)
    ml = load_movielens(progress=False) if ml is None else ml
    old = json.loads(path.read_text()) if path.exists() else {}
    done = {(r["key"], json.dumps(r["config"], sort_keys=True)): r for r in old.get("runs", [])}
    setup_notebook(seed=TUNE_SEED)
    results = {"command": "python -m gnnedu.coldstart tune", "seed": TUNE_SEED,
               "protocol": "new items: validation movies = 20% of the seed-0 warm movies, "
                           "ranked among themselves; test movies never read",
               "stopping": TUNE_STOPPING, "environment": machine_info(),
               "runs": [r for r in old.get("runs", []) if r["key"] not in models]}
    split = split_new_items(ml.ratings, ml.num_items, HOLDOUT_RATIO, TUNE_SEED)
    val = validation_new_items(split, ml.num_items)
    graph = build_graph(val.train, ml.num_users, ml.num_items)
    features = movielens_features(ml)
    for key in models:
        for config in TUNE_GRIDS[key]:
            name = json.dumps(config, sort_keys=True)
            if (key, name) in done:
                results["runs"].append(done[(key, name)])
                continue
            model_kwargs, options = _split_options(config)
            setup_notebook(seed=TUNE_SEED)
            model = make_model(key, **model_kwargs)
            start = time.perf_counter()
            model.fit(graph, val=val.test, features=features, val_items=val.heldout,
                      **{**model.train_defaults, **TUNE_STOPPING, **options,
                         "seed": TUNE_SEED, "neg_items": val.warm.tolist()})
            h = model.history
            row = {"key": key, "config": config, "best_epoch": h.best_epoch,
                   "val_recall@20": h.best_score, "epochs_run": len(h.epochs),
                   "seconds": time.perf_counter() - start,
                   "curve": [{k: round(v, 5) for k, v in r.items()} for r in h.val]}
            results["runs"].append(row)
            log(f"{key:13s} {name:45s} best epoch {h.best_epoch:4d}  val R@20 "
                f"{h.best_score:.4f}  ({row['seconds']:.0f} s)")
            save_json(results, path)
    best = {}
    for row in results["runs"]:
        if row["key"] not in best or row["val_recall@20"] > best[row["key"]]["val_recall@20"]:
            best[row["key"]] = row
    results["best"] = {k: {"config": r["config"], "epochs": r["best_epoch"],
                           "val_recall@20": r["val_recall@20"]} for k, r in best.items()}
    save_json(results, path)
    return results


def main(argv=None) -> int:
    """``python -m gnnedu.coldstart tune [--models KEYS]``: the validation runs of the feature
    models (``TUNE_GRIDS``)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m gnnedu.coldstart",
                                description="Choose the feature models' settings on "
                                            "validation movies (resumable).")
    p.add_argument("command", choices=["tune"])
    p.add_argument("--models", default=",".join(TUNE_GRIDS),
                   help="comma-separated keys of TUNE_GRIDS (default: %(default)s)")
    p.add_argument("--out", default=None, help="results file (default: gnnedu/results/"
                                                f"{TUNE_PATH})")
    args = p.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(TUNE_GRIDS)
    if unknown:
        print(f"error: no grid for {sorted(unknown)}; choose from {list(TUNE_GRIDS)}",
              file=__import__("sys").stderr)
        return 2
    results = tune(models, path=args.out)
    for key, best in results["best"].items():
        print(f"{key}: {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
