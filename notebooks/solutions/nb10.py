"""Solutions to the exercises, "your turn" cells and questions of
notebooks/10_predicting_ratings.ipynb (rating prediction with a graph autoencoder).

The "your turn" checks (``check_level_sum``, ``check_expected_rating``) compare a learner's
function with ``gnnedu.rating`` on small graphs and return "pass" or "not yet: <hint>"; they
never raise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from gnnedu.rating import GCMC, rating_graph, rmse
from gnnedu.rating.protocol import RANK_K, rank_metrics

from .checks import call

# ---------------------------------------------------------------------------------------------
# Your turn 1: one rating level's normalised sum
# ---------------------------------------------------------------------------------------------


def level_sum(graph, r: int, w: torch.Tensor) -> torch.Tensor:
    """Your turn 1: ``out[i] = sum_{j joined to i by a rating of level index r} w[j] / d_i``.

    ``graph``: a ``RatingGraph`` (left normalisation; ``d_i`` = ``graph.degree[i]``, the
    node's ratings at all levels); ``w``: ``[num_nodes, k]``, row ``j`` the message of node
    ``j``. Users are nodes ``0..U-1``, movie ``i`` is node ``U + i``; every rating is an edge
    in both directions.
    """
    out = torch.zeros_like(w)
    at_level = graph.level == r
    users = graph.users[at_level]
    movies = graph.items[at_level] + graph.num_users      # movie i is node U + i
    deg = graph.degree.unsqueeze(1)
    out.index_add_(0, users, w[movies] / deg[users])     # the user collects the movie's message
    out.index_add_(0, movies, w[users] / deg[movies])    # and the movie the user's
    return out


def _call(fn, *args):
    """``(tensor, None)``, or ``(None, problem)`` when calling ``fn`` fails."""
    return call(fn, *args, convert=lambda out: torch.as_tensor(out, dtype=torch.float64),
                kind="a tensor")


def small_ratings(num_users: int = 6, num_items: int = 5, per_user: int = 3,
                  seed: int = 0) -> pd.DataFrame:
    """A small random ratings table (every level used, users with different degrees)."""
    gen = np.random.default_rng(seed)
    rows = []
    for u in range(num_users):
        for i in gen.choice(num_items, size=min(num_items, per_user + u % 3), replace=False):
            rows.append((u, int(i), int(gen.integers(1, 6))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame.loc[: 4, "rating"] = [1, 2, 3, 4, 5]  # every level present
    return frame


def _level_cases():
    cases = []
    for seed, (nu, ni) in enumerate([(6, 5), (9, 7)]):
        graph = rating_graph(small_ratings(nu, ni, seed=seed), nu, ni, "left")
        w = torch.randn(graph.num_nodes, 3, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
        cases += [(graph, r, w) for r in range(graph.num_levels)]
    return cases


def check_level_sum(fn) -> str:
    """Check a learner's ``level_sum(graph, r, w)`` against ``graph.adjacency[r] @ w``."""
    for graph, r, w in _level_cases():
        got, problem = _call(fn, graph, r, w.clone())
        if problem == "stub":
            return ("not yet: write the body of level_sum (hint: for every rating of level r, "
                    "add w[movie node] / d_user to the user's row and w[user] / d_movie to the "
                    "movie node's row; movie i is node num_users + i)")
        if problem:
            return f"not yet: {problem}"
        want = (graph.adjacency[r].to(torch.float64) @ w)
        if got.shape != want.shape:
            return (f"not yet: the result has shape {tuple(got.shape)}; expected "
                    f"{tuple(want.shape)} (one row per node, users first, then movies)")
        if torch.allclose(got, want, atol=1e-9):
            continue
        u, i = graph.num_users, graph.num_nodes
        deg = graph.degree.double().unsqueeze(1)
        level_deg = torch.zeros(i, dtype=torch.float64)
        at = graph.level == r
        level_deg.index_add_(0, graph.users[at], torch.ones(int(at.sum()), dtype=torch.float64))
        level_deg.index_add_(0, graph.items[at] + u, torch.ones(int(at.sum()),
                                                                dtype=torch.float64))
        if torch.allclose(got, want * deg, atol=1e-9):
            hint = "that is the plain sum: divide each row by d_i, the node's degree"
        elif torch.allclose(got[:u], want[:u], atol=1e-9):
            hint = ("the users' rows are right, the movies' are not: each rating is an edge in "
                    "both directions, so the movie node receives the user's message too")
        elif torch.allclose(got[u:], want[u:], atol=1e-9):
            hint = ("the movies' rows are right, the users' are not: the user receives the "
                    "movie node's message, w[num_users + i]")
        elif torch.allclose(got, want * deg / level_deg.clamp(min=1).unsqueeze(1), atol=1e-9):
            hint = ("d_i counts the node's ratings at all levels, not only at level r: use "
                    "graph.degree")
        elif torch.allclose(got, sum(g.to(torch.float64) @ w for g in graph.adjacency),
                            atol=1e-9):
            hint = "keep only the ratings of level r (graph.level == r)"
        else:
            hint = (f"at level index {r} row 0 should be {np.round(want[0].numpy(), 4)}, "
                    f"yours is {np.round(got[0].numpy(), 4)}")
        return f"not yet: {hint}"
    return "pass"


# ---------------------------------------------------------------------------------------------
# Your turn 2: the expected rating
# ---------------------------------------------------------------------------------------------


def expected_rating(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Your turn 2: ``sum_r levels[r] * softmax(logits)[:, r]``: ``logits`` ``[n, R]``,
    ``levels`` ``[R]`` (the star values 1..5); returns ``[n]``."""
    probs = torch.softmax(logits, dim=1)   # p(r | u, i): each row sums to 1
    return probs @ levels                  # the expectation over the levels


def check_expected_rating(fn) -> str:
    """Check a learner's ``expected_rating(logits, levels)`` on random and extreme logits."""
    gen = torch.Generator().manual_seed(0)
    levels = torch.arange(1.0, 6.0, dtype=torch.float64)
    cases = [torch.randn(7, 5, generator=gen, dtype=torch.float64) * 2,
             torch.tensor([[0.0, 0, 0, 0, 30.0], [30.0, 0, 0, 0, 0], [0.0] * 5],
                          dtype=torch.float64)]
    for logits in cases:
        got, problem = _call(fn, logits.clone(), levels.clone())
        if problem == "stub":
            return ("not yet: write the body of expected_rating (hint: probabilities = "
                    "softmax of the logits over the levels, dim=1; then sum level * "
                    "probability)")
        if problem:
            return f"not yet: {problem}"
        want = torch.softmax(logits, 1) @ levels
        if got.shape != want.shape:
            return (f"not yet: the result has shape {tuple(got.shape)}; expected "
                    f"{tuple(want.shape)}, one number per (user, movie) pair")
        if torch.allclose(got, want, atol=1e-9):
            continue
        if torch.allclose(got, torch.softmax(logits, 0) @ levels, atol=1e-9):
            hint = ("the softmax runs over the pairs (dim=0): it must run over the levels of "
                    "each pair, dim=1")
        elif torch.allclose(got, logits @ levels, atol=1e-9):
            hint = "turn the logits into probabilities with a softmax first"
        elif torch.allclose(got, levels[logits.argmax(1)], atol=1e-9):
            hint = ("that is the most likely level; the prediction is the expectation "
                    "sum_r r p(r), which can fall between two levels")
        elif torch.allclose(got, torch.softmax(logits, 1) @ (levels - 1), atol=1e-9):
            hint = "use the star values 1..5 (levels), not the indices 0..4"
        else:
            hint = (f"for the first pair the expected rating is {want[0]:.4f}, yours is "
                    f"{float(got.flatten()[0]):.4f}")
        return f"not yet: {hint}"
    return "pass"


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

ACTIVITY_EDGES = (0, 50, 100, 200, math.inf)


def rmse_by_activity(predictions: dict, test: pd.DataFrame, base: pd.DataFrame,
                     edges=ACTIVITY_EDGES) -> pd.DataFrame:
    """Exercise 1: RMSE of each model's test predictions, by the user's number of base ratings.

    ``predictions``: ``{name: [len(test)] predictions}`` in the order of ``test``. Returns one
    row per bucket ``[lo, hi)`` with the number of users and test ratings in it and one RMSE
    column per model.
    """
    counts = base.groupby("user").size()
    activity = test["user"].map(counts).fillna(0).to_numpy()
    labels = [f"{lo:g}-{hi - 1:g}" if math.isfinite(hi) else f"{lo:g}+"
              for lo, hi in zip(edges[:-1], edges[1:])]
    rows = []
    for label, lo, hi in zip(labels, edges[:-1], edges[1:]):
        mask = (activity >= lo) & (activity < hi)
        if not mask.any():
            continue
        row = {"ratings in base": label, "users": int(test.loc[mask, "user"].nunique()),
               "test ratings": int(mask.sum())}
        for name, pred in predictions.items():
            row[name] = rmse(np.asarray(pred, dtype=float)[mask], test["rating"].to_numpy()[mask])
        rows.append(row)
    return pd.DataFrame(rows).set_index("ratings in base")


@torch.no_grad()
def rank_by_high_ratings(model: GCMC, base: pd.DataFrame, test: pd.DataFrame,
                         high=(4, 5), k: int = RANK_K) -> pd.DataFrame:
    """Exercise 2: rank every movie by the expected rating, then by ``p(r in high | u, i)``;
    both scored like the notebook's ranking check (top ``k``, base movies masked, relevant:
    test ratings >= 4). Returns a two-row DataFrame."""
    users = torch.arange(model.num_users).repeat_interleave(model.num_items)
    items = torch.arange(model.num_items).repeat(model.num_users)
    probs = model.distribution(users, items).double()
    levels = torch.tensor(model.graph.levels, dtype=torch.float64)
    expected = (probs @ levels).reshape(model.num_users, model.num_items)
    columns = [k for k, v in enumerate(model.graph.levels) if v in high]
    p_high = probs[:, columns].sum(1).reshape(model.num_users, model.num_items)
    rows = {"expected rating": rank_metrics(expected, base, test, k),
            f"p(rating in {tuple(high)})": rank_metrics(p_high, base, test, k)}
    return pd.DataFrame(rows).T


@torch.no_grad()
def leave_one_out_by_graph(model: GCMC, base: pd.DataFrame, user: int, item: int,
                           removed: int) -> tuple[float, float]:
    """Exercise 3: the prediction for ``(user, item)`` with the trained parameters, on the
    base graph and on the base graph without ``user``'s rating of ``removed`` (no retraining).
    Returns ``(with, without)``; ``with - without`` is ``model.contributions``' ``change``."""
    levels = torch.tensor(model.graph.levels, dtype=torch.float32)

    def predict(ratings):
        graph = rating_graph(ratings, model.num_users, model.num_items, model.norm)
        user_emb, item_emb = model.net.encode(graph)
        logits = model.net.decoder(user_emb, item_emb, torch.tensor([user]), torch.tensor([item]))
        return float(torch.softmax(logits, 1)[0] @ levels)

    keep = ~((base["user"] == user) & (base["item"] == removed))
    if keep.all():
        raise ValueError(f"user {user} has no base rating of movie {removed}")
    return predict(base), predict(base[keep])


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1(ratings_per_user: float = 100_000 / 943, movies: int = 1682) -> float:
    """Q1: why can a model with the lower RMSE be the worse recommender?

    RMSE is measured only on pairs that users chose to rate, and a user rates about 106 of
    1,682 movies (returned: the share, 0.063). A recommender must pick, among *all* unseen
    movies, the few a user will watch and like. A rating model is never asked about the
    ~94% of movies the user ignores; ranked by predicted stars, it pushes rarely seen movies
    whose few ratings were high (their biases are large) to the top, and those are not what
    the test users watched. Popularity has no RMSE at all and ranks far better.
    """
    return ratings_per_user / movies


def question_2() -> str:
    """Q2: what does GC-MC without features predict for a movie with no base rating?

    The movie node receives no message at any level, so its hidden vector is ReLU(0) = 0, its
    embedding W_d 0 = 0, every logit e_u^T Q_r 0 = 0, the distribution is uniform and the
    expected rating is exactly 3 for every user. That is why the protocol names a fallback
    (the bias baseline: mu + b_u), and why features (notebook 09's subject) help new movies.
    """
    return "uniform distribution, expected rating 3.0; the fallback predicts mu + b_u"


def question_3() -> str:
    """Q3: left normalisation divides a node's sum by its degree d_i. What would a plain sum
    do to a user with 700 ratings and one with 20?

    The sum grows with the number of ratings: the heavy user's hidden vector would be ~35
    times larger and saturate the decoder's softmax, while the light user's would be small.
    Dividing by d_i makes h_i an average over the user's ratings (per level, weighted by how
    often each level occurs), comparable across users of any activity.
    """
    return "a plain sum scales with the degree; 1/d_i turns it into an average"


def question_4() -> str:
    """Q4: why softmax over levels and an expected rating, rather than one number per pair?

    The decoder treats the five levels as classes, trained with cross-entropy, so it can say
    "either 1 or 5" (a polarising movie) as well as "surely 4". The expected rating turns the
    distribution into the number RMSE scores; it lies strictly between 1 and 5 and can fall
    between levels. Ranking may use another summary of the same distribution (Exercise 2).
    """
    return "a distribution over levels, summarised by its mean for RMSE"


def question_5() -> str:
    """Q5: what does ordinal weight sharing (W_r = T_1 + ... + T_r) assume?

    That the levels are ordered: a 4-star message shares T_1..T_3 with the 1-, 2- and 3-star
    messages and adds only T_4. Rare levels (1 star: about 6% of ratings) then borrow
    strength from the others. The validation runs in gnnedu/results/rating/tuning.json decide
    whether it helps here.
    """
    return "ordered levels share weights; rare levels borrow from frequent ones"
