"""Solutions to notebook 09 (new items, new users and sparse data): the "your turn" functions
and their checks, the answers to "check your understanding", and the exercises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from gnnedu import coldstart as cs

from .checks import call

# ---------------------------------------------------------------------------------------------
# Your turn 1: top-k with ties broken at random
# ---------------------------------------------------------------------------------------------


def top_k_random_ties(scores: torch.Tensor, keys: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` best items per row ``[B, k]``: highest score first, and among equal scores
    the item with the smallest key first (``keys``: random numbers, one per item and row).

    Shuffle the items by their keys, sort the shuffled scores with a *stable* sort (ties keep
    the shuffled order), and map the positions back to item indices.
    """
    shuffle = torch.argsort(keys, dim=1)
    order = torch.sort(scores.gather(1, shuffle), dim=1, descending=True, stable=True).indices
    return shuffle.gather(1, order)[:, :k]


_call = call  # call(fn, *args) -> (result, None) or (None, problem)


def check_top_k_random_ties(fn) -> str:
    """Check a learner's ``top_k_random_ties(scores, keys, k)``: the same lists as
    :func:`gnnedu.coldstart.break_ties` followed by ``torch.topk``."""
    gen = torch.Generator().manual_seed(0)
    cases = [
        (torch.tensor([[1.0, 1.0, 1.0, 5.0, 0.0]]),
         torch.tensor([[0.9, 0.1, 0.5, 0.3, 0.2]]), 4),
        (torch.zeros(3, 8), torch.rand(3, 8, generator=gen), 5),              # all tied
        (torch.randint(0, 3, (4, 10), generator=gen).float(), torch.rand(4, 10, generator=gen),
         6),
    ]
    for scores, keys, k in cases:
        got, problem = _call(fn, scores.clone(), keys.clone(), k)
        if problem == "stub":
            return ("not yet: write the body of top_k_random_ties (hint: torch.argsort(keys) "
                    "shuffles the items; then torch.sort(..., descending=True, stable=True))")
        if problem:
            return f"not yet: {problem}"
        got = torch.as_tensor(got)
        want = torch.topk(cs.break_ties(scores, keys.double()), k, dim=1).indices
        if got.shape != want.shape:
            return f"not yet: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        if torch.equal(got, want):
            continue
        by_index = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
        if torch.equal(got, by_index):
            return ("not yet: tied items come out in index order, the leak this notebook is "
                    "about; order them by their keys (shuffle by keys before a stable sort)")
        if torch.equal(got, torch.flip(want, [1])) or torch.equal(
                scores.gather(1, got), torch.sort(scores, dim=1)[0][:, :k]):
            return "not yet: the lowest scores come first; sort in descending order"
        return f"not yet: for scores {scores[0].tolist()} expected {want[0].tolist()}"
    return "pass"


# ---------------------------------------------------------------------------------------------
# Your turn 2: the feature-only model's scores
# ---------------------------------------------------------------------------------------------


def feature_scores(x_user, x_item, w_user, b_user, w_item, b_item) -> torch.Tensor:
    """score(u, i) = (x_u W_U + b_U) . (x_i W_I + b_I) for every user and item:
    ``[num_users, num_items]``. ``w_user`` is ``[Fu, d]``, ``w_item`` ``[Fi, d]``."""
    return (x_user @ w_user + b_user) @ (x_item @ w_item + b_item).T


def _feature_model():
    """A small ``FeatureMF`` with random weights (no training needed to check the formula)."""
    from gnnedu.featmodels import FeatureMF, NodeFeatures
    from gnnedu.graph import build_graph

    gen = torch.Generator().manual_seed(1)
    features = NodeFeatures(torch.rand(6, 3, generator=gen), torch.rand(9, 4, generator=gen),
                            [], [])
    graph = build_graph(([0, 1, 2, 3, 4, 5], [0, 2, 4, 6, 8, 1]), 6, 9)
    torch.manual_seed(0)
    model = FeatureMF(dim=5).fit(graph, features=features, epochs=0, seed=0)
    with torch.no_grad():               # non-zero biases, so that forgetting one shows
        model.encoder.user_map.bias.normal_(0.0, 1.0, generator=gen)
        model.encoder.item_map.bias.normal_(0.0, 1.0, generator=gen)
    return model, features


def check_feature_scores(fn) -> str:
    """Check a learner's ``feature_scores`` against ``gnnedu.featmodels.FeatureMF.score``."""
    model, f = _feature_model()
    enc = model.encoder
    args = (f.user, f.item, enc.user_map.weight.detach().T, enc.user_map.bias.detach(),
            enc.item_map.weight.detach().T, enc.item_map.bias.detach())
    got, problem = _call(fn, *args)
    if problem == "stub":
        return ("not yet: write the body of feature_scores (hint: one embedding per user, "
                "x_user @ w_user + b_user, one per item, then all dot products with @ and .T)")
    if problem:
        return f"not yet: {problem}"
    got = torch.as_tensor(got)
    want = model.score()
    if got.shape != want.shape:
        return (f"not yet: expected one score per user and item, shape {tuple(want.shape)}, "
                f"got {tuple(got.shape)}")
    if torch.allclose(got, want, atol=1e-5):
        return "pass"
    if torch.allclose(got, feature_scores(f.user, f.item, args[2], 0, args[4], 0), atol=1e-5):
        return "not yet: the biases b_user and b_item are missing"
    return "not yet: the scores differ from FeatureMF.score(); check each factor's formula"


# ---------------------------------------------------------------------------------------------
# Check your understanding
# ---------------------------------------------------------------------------------------------


def question_1(graph, item: int) -> float:
    """Q1: why does EASE give every held-out movie the same score?

    EASE's item-item matrix comes from R^T R. A movie with no training interaction has an
    all-zero column in R, so its row and column of R^T R are zero except lambda on the
    diagonal; then P = (R^T R + lambda I)^-1 has P_jj = 1 / lambda and no other entry in row
    or column j, and B_ij = -P_ij / P_jj = 0 for every i. Every user's score r_u B_:j is 0.
    Returns the largest |B| entry in the held-out movie's column (0).
    """
    from gnnedu.models import EASE

    model = EASE().fit(graph)
    return float(model.B[:, item].abs().max())


def question_2(ml) -> float:
    """Q2: why would ranking tied movies by index beat chance on MovieLens-100K?

    The item ids follow popularity: the correlation between an item's index and its number of
    ratings is strongly negative (returned), so the lowest-indexed held-out movies, the ones an
    index-ordered tie puts first, are the ones most users rated.
    """
    counts = np.bincount(ml.ratings["item"], minlength=ml.num_items)
    return float(np.corrcoef(np.arange(ml.num_items), counts)[0, 1])


def question_3() -> str:
    """Q3: a new movie has no edges. What can message passing add to its embedding?

    Nothing on the movie's own side: propagation averages over neighbours and it has none, so
    its embedding is x_i W_I + b_I. The graph can only shape the *users* it is scored against
    (their embeddings average the movies they watched). That is also why scoring warm movies
    from their propagated embeddings hurts new ones: the model learns to rely on neighbour
    information a new movie will never have.
    """
    return "only through the users' embeddings"


def question_4() -> str:
    """Q4: why can EASE fold in a new user without retraining, and BPR-MF not?

    EASE scores a user as r_u B: B describes items only, and r_u is the user's history, so a
    new user's few ratings give a score at once. BPR-MF scores with a free user embedding
    that only training can set; a new user has none (a fold-in would mean solving a small
    optimisation problem per user). LightGCN sits in between: its user embedding is, apart
    from layer 0, an average of item embeddings, which is what explain.fold_in_user computes.
    """
    return "EASE's user is its history; BPR-MF's user is a trained vector"


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------


def exercise_1(ml, seeds=(0, 1, 2), k: int = 20) -> pd.DataFrame:
    """Exercise 1: the tie leak, measured. For each seed of the new-items protocol, EASE's
    recall@k among the held-out movies with ties in index order (what ``torch.topk`` does),
    with ties broken at random, and the chance level. Rows: seeds (plus "mean")."""
    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate
    from gnnedu.models import EASE

    rows = {}
    for seed in seeds:
        split = cs.split_new_items(ml.ratings, ml.num_items, seed=seed)
        graph = build_graph(split.train, ml.num_users, ml.num_items)
        scores = EASE().fit(graph).score()
        warm = torch.ones(ml.num_items, dtype=torch.bool)
        warm[split.heldout] = False
        exclude = warm.expand(ml.num_users, -1)
        by_index = evaluate(scores.masked_fill(exclude, -np.inf), graph, split.test, ks=(k,))
        keys = cs.tie_keys(ml.num_users, ml.num_items, seed)
        random = cs.evaluate_scores(scores, split.test, exclude, keys, ks=(k,))
        rows[seed] = {"ties by index": by_index[f"recall@{k}"],
                      "ties at random": random["means"][f"recall@{k}"],
                      "chance": cs.chance_recall([len(split.heldout)], k)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["mean"] = table.mean()
    return table


def exercise_2(model, split) -> float:
    """Exercise 2: what does the feature-only model know about a new movie? The Spearman
    correlation, over the held-out movies, between the model's mean score (over all users)
    and the number of test ratings each movie has: the popularity it never saw."""
    from scipy.stats import spearmanr

    scores = model.score()[:, split.heldout].double().mean(0).numpy()
    counts = split.test["item"].value_counts().reindex(split.heldout.numpy(), fill_value=0)
    return float(spearmanr(scores, counts.to_numpy()).statistic)


def exercise_3(model, ml, features, genres=("Drama",), years=range(1930, 1999, 5)
               ) -> pd.Series:
    """Exercise 3: what did the model learn about release years? The mean score over all
    users of a made-up new movie with ``genres``, for each release year in ``years``."""
    from gnnedu.widgets.new_items import movie_vector

    user_emb, _ = model.embeddings()
    out = {}
    with torch.no_grad():
        for year in years:
            x = movie_vector(ml, features, genres, year)
            out[year] = float((user_emb @ model.encoder.item_map(x)).mean())
    return pd.Series(out, name="mean score").rename_axis("release year")
