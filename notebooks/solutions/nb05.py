"""Solutions to notebook 05 (MovieLens-100K as a graph).

Three parts:

- the "your turn" cells: a solution (``normalized_adjacency_by_hand``,
  ``sample_negatives_by_hand``) and the check the notebook runs on the learner's version
  (``check_adjacency``, ``check_negatives``). A check never raises: it returns ``"pass"`` or
  ``"not yet: <hint>"``;
- the exercises, each docstring stating the numbers the solution gives on MovieLens-100K;
- ``UNDERSTANDING``: the answers to the "check your understanding" questions, with the reasoning
  (their numbers are checked in ``tests/test_solutions_nb05.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .checks import attempt

# ---------------------------------------------------------------------------------------------
# Your turn
# ---------------------------------------------------------------------------------------------


NOT_WRITTEN = "not yet: replace the line `raise NotImplementedError` with your code"


def _call(fn, *args):
    """``(result, None)``, or ``(None, hint)`` when the learner's function raised."""
    return attempt(fn, *args, stub_hint=NOT_WRITTEN)


def normalized_adjacency_by_hand(users, items, num_users: int, num_items: int) -> torch.Tensor:
    """Your turn 1: the dense ``A_hat = D^-1/2 A D^-1/2`` of the user-movie graph, no self-loops.

    Args: ``users``, ``items``: 1-D integer tensors, one entry per rating (0-based indices).
    Returns: ``[n, n]`` float tensor, ``n = num_users + num_items``; user ``u`` is node ``u``,
    movie ``i`` is node ``num_users + i``. A node without ratings keeps a zero row and column.
    """
    n = num_users + num_items
    a = torch.zeros(n, n)
    users, movies = torch.as_tensor(users), torch.as_tensor(items) + num_users
    a[users, movies] = 1.0                         # Step 1: the block R ...
    a[movies, users] = 1.0                         # ... and its transpose R^T
    degree = a.sum(dim=1)                          # Step 2: d_v = number of neighbours
    inv_sqrt = torch.where(degree > 0, degree.rsqrt(), torch.zeros_like(degree))
    return inv_sqrt[:, None] * a * inv_sqrt[None, :]   # Step 3: A_vw / sqrt(d_v d_w)


def _small_ratings():
    """Three users, four movies; movie 3 has no rating (an isolated node)."""
    users = torch.tensor([0, 0, 1, 1, 1, 2])
    items = torch.tensor([0, 1, 0, 1, 2, 0])
    return users, items, 3, 4


def check_adjacency(fn) -> str:
    """The check of your turn 1, against ``gnnedu.graph.build_graph(...).adj`` on 3 users and
    4 movies (one movie has no rating)."""
    from gnnedu.graph import build_graph

    users, items, nu, ni = _small_ratings()
    out, hint = _call(fn, users, items, nu, ni)
    if hint:
        return hint
    n = nu + ni
    if not isinstance(out, torch.Tensor):
        return f"not yet: return a torch tensor, got {type(out).__name__}"
    out = out.to_dense() if out.layout != torch.strided else out
    if out.shape != (n, n):
        return (f"not yet: one row and column per node, users then movies: shape ({n}, {n}), "
                f"got {tuple(out.shape)}")
    if not torch.isfinite(out).all():
        return ("not yet: a movie without ratings has degree 0: keep its row and column at zero "
                "instead of dividing by 0")
    expected = build_graph((users, items), nu, ni).adj.to_dense()
    out = out.float()
    if torch.allclose(out, expected, atol=1e-6):
        return "pass"
    pattern, expected_pattern = out != 0, expected != 0
    if torch.equal(pattern, expected_pattern):      # right entries, wrong values
        if torch.allclose(out, expected_pattern.float()):
            return "not yet: normalise: divide the entry (v, w) by sqrt(d_v d_w)"
        return "not yet: use the symmetric weight 1 / sqrt(d_v d_w), with d the number of ratings"
    if pattern.diagonal().any():
        return "not yet: A_hat has no self-loops here (see the notation page): keep the diagonal 0"
    if not torch.equal(pattern, pattern.T):
        return "not yet: store each rating twice, A[u, |U| + i] and A[|U| + i, u]: A is symmetric"
    return "not yet: the non-zero entries should sit at (u, |U| + i) and (|U| + i, u) for a rating"


def sample_negatives_by_hand(users: torch.Tensor, seen: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    """Your turn 2: one movie per entry of ``users``, uniform over the movies that user has not
    rated.

    Args: ``users`` LongTensor ``[B]``; ``seen`` BoolTensor ``[num_users, num_items]``, True where
    the user rated the movie in training; ``generator`` for the random draws.
    Returns: LongTensor ``[B]``. Draw uniformly over all movies, then redraw the draws that hit a
    rated movie until none does (each accepted draw is uniform over the unrated ones).
    """
    if bool(seen[users].all(dim=1).any()):
        raise ValueError("a user has rated every movie: there is no negative to draw")
    num_items = seen.shape[1]
    neg = torch.randint(num_items, users.shape, generator=generator)
    clash = seen[users, neg]
    while clash.any():
        neg[clash] = torch.randint(num_items, (int(clash.sum()),), generator=generator)
        clash = seen[users, neg]
    return neg


def check_negatives(fn) -> str:
    """The check of your turn 2: 3 users and 6 movies, 6,000 draws per user; every draw must
    avoid the user's rated movies and the unrated ones must come up equally often (within 3
    percentage points)."""
    seen = torch.tensor([[1, 1, 0, 0, 1, 1],      # user 0 may get movies 2 and 3
                         [0, 0, 0, 0, 0, 1],      # user 1: movies 0-4
                         [1, 0, 1, 1, 1, 1]], dtype=torch.bool)   # user 2: movie 1 only
    users = torch.arange(3).repeat(6000)
    out, hint = _call(fn, users, seen, torch.Generator().manual_seed(0))
    if hint:
        return hint
    if not isinstance(out, torch.Tensor) or out.shape != users.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return f"not yet: return one movie per entry of users: {tuple(users.shape)}, got {shape}"
    if out.is_floating_point() or out.dtype == torch.bool:
        return "not yet: return movie indices as integers (torch.long)"
    if out.min() < 0 or out.max() >= seen.shape[1]:
        return f"not yet: movie indices run from 0 to {seen.shape[1] - 1}"
    if seen[users, out].any():
        return "not yet: some draws are movies the user already rated: redraw those"
    for u in range(3):
        allowed = (~seen[u]).nonzero().flatten()
        share = torch.bincount(out[users == u], minlength=seen.shape[1])[allowed] / 6000
        if (share - 1 / len(allowed)).abs().max() > 0.03:
            return (f"not yet: user {u} should get each of movies {allowed.tolist()} equally "
                    f"often, got shares {[round(v, 2) for v in share.tolist()]}")
    return "pass"


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------


def gini(degrees) -> float:
    """Exercise 1: Gini coefficient of a degree sequence.

    With the degrees sorted increasingly, x_1 <= ... <= x_n,
    G = sum_i (2i - n - 1) x_i / (n sum_i x_i): 0 when all degrees are equal, (n - 1) / n when
    one node holds every edge.

    Answer on MovieLens-100K (all ratings): 0.629 for movies, 0.472 for users. Popularity is
    far more unequal among movies (degrees 1 to 583) than activity among users (every user has
    at least 20 ratings).
    """
    x = np.sort(np.asarray(degrees, dtype=np.float64))
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("degrees must be a non-empty 1-D sequence")
    if (x < 0).any():
        raise ValueError("degrees must be non-negative")
    total = x.sum()
    if total == 0:
        raise ValueError("all degrees are zero")
    n = len(x)
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def leave_one_out_split(ratings: pd.DataFrame):
    """Exercise 2: each user's most recent rating goes to test, the rest to train.

    Ties in time are broken by the larger item index. Users with a single rating keep it in
    train. Returns ``(train, test)`` with a fresh index.

    Answer on MovieLens-100K: 943 test ratings (one per user) and 99,057 training ratings; 3 of
    the test movies never appear in training (cold), one test rating each.
    """
    missing = [c for c in ("user", "item", "timestamp") if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings lacks column(s) {missing}")
    ordered = ratings.sort_values(["user", "timestamp", "item"], kind="stable")
    is_last = ~ordered["user"].duplicated(keep="last")
    has_more = ordered.groupby("user")["user"].transform("size") > 1
    in_test = is_last & has_more
    train = ordered[~in_test].sort_index().reset_index(drop=True)
    test = ordered[in_test].sort_index().reset_index(drop=True)
    return train, test


def hetero_to_offset(data, edge_type=("user", "rates", "movie")) -> torch.Tensor:
    """Exercise 3: the ``[2, 2E]`` offset ``edge_index`` of a user-movie ``HeteroData``.

    User u keeps number u, movie i becomes ``num_users + i``; user->movie edges come first,
    then the same edges reversed (the layout of ``gnnedu.graph.to_edge_index``).
    """
    src_type, _, dst_type = edge_type
    users, items = data[edge_type].edge_index
    num_users = data[src_type].num_nodes
    if num_users is None:
        raise ValueError(f"the HeteroData does not say how many {src_type!r} nodes it has")
    if data[dst_type].num_nodes is None:
        raise ValueError(f"the HeteroData does not say how many {dst_type!r} nodes it has")
    movie_nodes = items + num_users
    return torch.stack([torch.cat([users, movie_nodes]), torch.cat([movie_nodes, users])])


def popularity_negatives(item_degree, num_samples: int, alpha: float = 0.75, seed: int = 0
                         ) -> np.ndarray:
    """Exercise 4: draw items with probability proportional to degree ** alpha.

    ``alpha = 0`` is uniform over all items (degree 0 included); for ``alpha > 0`` an item of
    degree 0 is never drawn.

    Answer on the P1 training set (seed 0), 80,000 draws each: the median training degree of
    the sampled movies is 21 for alpha = 0, 91 for alpha = 0.75 and 114 for alpha = 1, the
    same as the median over positives (114): with alpha = 1 a negative is drawn exactly like a
    random training edge's movie, so the curve of the negatives moves right onto the curve of
    the positives as alpha grows from 0 to 1.
    """
    deg = np.asarray(item_degree, dtype=np.float64)
    if deg.ndim != 1 or len(deg) == 0 or (deg < 0).any():
        raise ValueError("item_degree must be a non-empty 1-D array of non-negative counts")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    weights = np.ones_like(deg) if alpha == 0 else deg ** alpha
    if weights.sum() == 0:
        raise ValueError("no item has a positive degree")
    rng = np.random.default_rng(seed)
    return rng.choice(len(deg), size=num_samples, p=weights / weights.sum())


# ---------------------------------------------------------------------------------------------
# Check your understanding
# ---------------------------------------------------------------------------------------------

UNDERSTANDING = {
    1: "Density = |E| / (|U| |I|) = 100,000 / (943 * 1,682) = 0.0630: 6.3% of the user-movie "
       "pairs are rated, so a recommender must rank the other 93.7% for each user. Dense for "
       "recommendation data, yet most of the matrix is unknown, and unknown is not 'disliked'.",
    2: "On the leaky graph with L = 1 every test movie of a user scores above every other "
       "unrated movie, so the top 20 holds min(20, n_u) of the user's n_u test movies: recall "
       "is min(20, n_u) / n_u, below 1 for the 353 users with more than 20 test movies. Its "
       "mean over users is 0.8393, exactly the recall the notebook printed: the leak reads the "
       "test set back as far as a list of 20 allows.",
    3: "Every score of the constant model is 8, so each BPR difference is 0 and the loss is "
       "-ln sigmoid(0) = ln 2 = 0.6931; the positive-only loss -ln sigmoid(8) = 0.000335 is "
       "almost zero. A loss that rewards the model for scoring everything high is minimised by "
       "ranking nothing; BPR only falls when positives rank above negatives.",
    4: "The 30 runs are equally good by construction (the same scorer plus noise), so which one "
       "is best on test is luck, and that luck does not carry over to the validation slice: "
       "the best run on test scored 0.2806 on validation against a mean of 0.2804. Reporting "
       "the best of N test scores adds this luck to the number.",
    5: "A test positive is a movie the user has not rated in training, so a uniform draw over "
       "the unrated movies can hit it: for user u with n_u training and t_u test movies the "
       "chance is t_u / (1,682 - n_u). Averaged over the training edges this predicts 2.8% on "
       "the P1 seed-0 split; the notebook measured 2.77%.",
}
