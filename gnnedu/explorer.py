"""Exploring a trained LightGCN's recommendations (taught in notebook 08).

The pure functions compute what the explorer shows; the ``draw_*`` functions turn their results
into labelled figures; :class:`RecommendationExplorer` only wires core ipywidgets to them.

API summary
-----------
A user to recommend for (:class:`Profile`):

- ``make_profile(model, user=None, remove=(), add=()) -> Profile``: a user of the training
  graph (``user``) with some movies removed from or added to their history ("what if"), or a
  new user (``user=None``) who liked the movies in ``add``. Edited and new users are folded in
  with :func:`gnnedu.explain.fold_in_user` (no retraining).
- ``profile_scores(model, profile)``, ``top_k(model, profile, k) -> (items, scores)``:
  the profile's items are never recommended.

Explaining a score exactly (two ways of grouping the same sum; derivation below):

- ``propagation_weights(model, profile) -> [num_nodes]`` (float64): how much of each node's
  layer-0 embedding the profile's final embedding holds.
- ``score_decomposition(model, profile, item) -> dict``: the score of ``item`` split by the
  *first step* of propagation (one term per movie of the history: "because you watched ...",
  from :func:`gnnedu.explain.explain_items`) and by *origin* (one term per node whose layer-0
  embedding reaches the user: the user, their movies, neighbour users, other movies). Each
  split sums to the score (checked by :func:`check_decomposition`).

Tables and the user view:

- ``history_table``, ``recommendation_table``, ``explanation_tables``, ``user_view_state``.

Embedding map: ``pca_2d(x)`` (torch SVD, no scikit-learn), ``project``, ``primary_genre``,
``embedding_map_state``.

Bias and cold start: ``activity_buckets``, ``metrics_by_bucket``, ``long_tail_share``,
``bias_table``.

Drawing: ``draw_explanation``, ``draw_embedding_map``, ``draw_user_view``, ``draw_buckets``,
``draw_bias``.

Derivation of the origin split
------------------------------
LightGCN (no self-loops) propagates E^(k) = A E^(k-1) with the symmetric normalized adjacency
A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2 and scores with the final embeddings
E = sum_{k=0..L} alpha_k E^(k) = (sum_k alpha_k A^k) E^(0). A user with history S gets
(:mod:`gnnedu.explain`)

    e_u = alpha_0 e_u^(0) + sum_{j in S} c_j g_j,  c_j = 1/sqrt(|S| d_j),
    g_j = sum_{k=1..L} alpha_k e_j^(k-1) = sum_{k=1..L} alpha_k [A^(k-1) E^(0)]_j .

Let x be the vector over graph nodes with x_j = c_j on the nodes of the items in S and 0
elsewhere. Then sum_j c_j g_j = sum_k alpha_k (x^T A^(k-1)) E^(0), and since A is symmetric,
x^T A^(k-1) = (A^(k-1) x)^T. With p = sum_{k=1..L} alpha_k A^(k-1) x (L - 1 sparse products),

    e_u = alpha_0 e_u^(0) + sum_v p_v e_v^(0),
    score(u, i) = e_u . e_i = alpha_0 e_u^(0) . e_i + sum_v p_v (e_v^(0) . e_i),

one term per node v of the graph: p_v is the total weight of the walks of length 1..L that start
at the user and end at v, and e_v^(0) . e_i is what v's trained layer-0 embedding says about i.
For L = 3, v is one of the user's movies (1 or 3 steps), another user (2 steps: a neighbour who
shares movies with the user), the user themself (2 steps out and back) or another movie (3
steps). For a user of the graph, x is exactly the user's row of A, so the split reproduces
``model.score``; for a new user it reproduces the fold-in score.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from gnnedu import explain, plot
from gnnedu.metrics import average_popularity, coverage

__all__ = [
    "Profile", "profile_label", "make_profile", "frozen_embeddings", "profile_scores", "top_k",
    "propagation_weights", "score_decomposition", "check_decomposition", "find_movies",
    "history_table", "recommendation_table", "compare_recommendations", "explanation_tables",
    "user_view_state", "pca_2d", "project", "primary_genre", "embedding_map_state",
    "activity_buckets", "bucket_labels", "metrics_by_bucket", "long_tail_share", "bias_table",
    "draw_explanation", "draw_embedding_map", "draw_user_view", "draw_buckets", "draw_bias",
    "RecommendationExplorer", "MAP_GENRES", "BUCKET_EDGES", "ORIGIN_GROUPS",
    "EMPTY_MESSAGE",
]

# Genres that get their own colour on the embedding map (the rest are "other").
MAP_GENRES = ("Drama", "Comedy", "Action", "Thriller", "Romance", "Children's", "Horror",
              "Sci-Fi")
# Training interactions per user: bucket b holds EDGES[b] < n_train <= EDGES[b + 1].
BUCKET_EDGES = (0, 25, 50, 100, 200, math.inf)
ORIGIN_GROUPS = ("you", "your movies", "neighbour users", "other movies")
EMPTY_MESSAGE = ("No movies in the history: choose some in 'add' (Ctrl- or Shift-click to "
                 "choose several).")
TOLERANCE = 1e-4  # |sum of contributions - score| allowed, relative to max(1, |score|)


# ---------------------------------------------------------------------------------------------
# Profiles: an existing user, an edited one ("what if"), or a new one
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A history to recommend for.

    ``items``: sorted item indices (the history the scores use); ``user``: the training-graph
    user it starts from, or None for a new user; ``ego``: that user's trained layer-0 embedding
    (None for a new user, who has none); ``edited``: the history differs from the user's
    training items (then the user is folded in, see :func:`profile_scores`).
    """

    items: torch.Tensor
    user: int | None
    ego: torch.Tensor | None
    edited: bool



def profile_label(ml, profile: Profile) -> str:
    """``"user 1"`` (MovieLens id), ``"user 1 (edited history)"`` or ``"new user"``."""
    if profile.user is None:
        return "new user"
    who = f"user {int(ml.users['user_id'].iloc[profile.user])}"
    return who + (" (edited history)" if profile.edited else "")


def _index_set(values, num_items: int) -> set[int]:
    out = {int(v) for v in np.asarray(list(values), dtype=np.int64).reshape(-1)}
    bad = [v for v in out if not 0 <= v < num_items]
    if bad:
        raise IndexError(f"item index out of range 0..{num_items - 1}: {sorted(bad)[:5]}")
    return out


def make_profile(model, user: int | None = None, remove: Sequence = (), add: Sequence = ()
                 ) -> Profile:
    """The history of ``user`` (a training-graph user index) minus ``remove`` plus ``add``;
    with ``user=None``, a new user whose history is ``add``. Raises ``ValueError`` when the
    history ends up empty (nothing to fold in)."""
    model._check_fitted()
    removed = _index_set(remove, model.num_items)
    added = _index_set(add, model.num_items)
    if user is None:
        base: set[int] = set()
        ego = None
    else:
        user = int(user)
        if not 0 <= user < model.num_users:
            raise IndexError(f"user index out of range 0..{model.num_users - 1}")
        base = set(model.graph.item_lists()[user].tolist())
        ego = model.embedding.detach()[user].clone()
    items = (base - removed) | added
    if not items:
        raise ValueError("the history is empty: keep or add at least one movie")
    return Profile(items=torch.tensor(sorted(items), dtype=torch.long), user=user, ego=ego,
                   edited=user is None or items != base)


@torch.no_grad()
def profile_scores(model, profile: Profile) -> torch.Tensor:
    """Scores ``[num_items]``: ``model.score`` for an unedited training user (the path that
    ``model.recommend`` and the metrics take), the fold-in score otherwise."""
    if profile.user is not None and not profile.edited:
        return model.score([profile.user])[0]
    return explain.fold_in_scores(model, profile.items, profile.ego)


@torch.no_grad()
def top_k(model, profile: Profile, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best items outside the profile's history and their scores (best first)."""
    scores = profile_scores(model, profile).clone()
    if not 1 <= k <= model.num_items - profile.items.numel():
        raise ValueError(f"k must be in 1..{model.num_items - profile.items.numel()}, got {k}")
    scores[profile.items] = float("-inf")
    top = torch.topk(scores, k)
    return top.indices, top.values


# ---------------------------------------------------------------------------------------------
# Exact score decompositions
# ---------------------------------------------------------------------------------------------


@contextmanager
def frozen_embeddings(model):
    """Within the block, ``model.layer_embeddings()`` returns one precomputed list.

    A trained model's embeddings do not change while we look at it, but every score, fold-in
    and decomposition would propagate through the whole graph again; the tables below need
    dozens of them. Nested blocks reuse the outer list; the model is unchanged afterwards.
    """
    if "layer_embeddings" in vars(model):           # already frozen by an outer block
        yield model
        return
    with torch.no_grad():
        layers = [h.detach() for h in model.layer_embeddings()]
    model.layer_embeddings = lambda: layers
    try:
        yield model
    finally:
        del model.layer_embeddings


def _adjacency64(model) -> torch.Tensor:
    adj = model.graph.adj
    return torch.sparse_csr_tensor(adj.crow_indices(), adj.col_indices(), adj.values().double(),
                                   adj.shape, check_invariants=False)


@torch.no_grad()
def propagation_weights(model, profile: Profile) -> torch.Tensor:
    """p = sum_{k=1..L} alpha_k A^(k-1) x over all graph nodes (float64; module docstring),
    with x_j = 1/sqrt(|S| d_j) on the nodes of the history's items S."""
    explain._check_linear(model)
    items = profile.items
    deg = model.graph.item_degree[items].double().clamp(min=1.0)
    x = torch.zeros(model.graph.num_nodes, dtype=torch.float64)
    x[model.num_users + items] = 1.0 / torch.sqrt(items.numel() * deg)
    adj = _adjacency64(model)
    alphas = model.alphas()
    p = torch.zeros_like(x)
    walk = x                                            # A^(k-1) x, starting at k = 1
    for k in range(1, model.num_layers + 1):
        if k > 1:
            walk = adj @ walk
        p += alphas[k] * walk
    return p


@torch.no_grad()
def score_decomposition(model, profile: Profile, item: int) -> dict:
    """Split the score of ``item`` for ``profile`` exactly, two ways.

    Returns a dict with
    - ``score``: the score from :func:`profile_scores`;
    - ``self``: alpha_0 e_u^(0) . e_i, the user's own layer-0 embedding (0 for a new user);
    - ``first_items``, ``first_contributions``: one term per history movie j, the walks whose
      first step goes to j (:func:`gnnedu.explain.explain_items`), largest first;
      ``self + sum(first_contributions) == score``;
    - ``origin``: float64 tensor ``[num_nodes]``, p_v (e_v^(0) . e_i) per node v (module
      docstring); ``self + sum(origin) == score``;
    - ``groups``: ``origin`` summed by :data:`ORIGIN_GROUPS` (``you`` includes ``self``);
      the four numbers sum to the score.
    """
    item = int(item)
    if not 0 <= item < model.num_items:
        raise IndexError(f"item index out of range 0..{model.num_items - 1}")
    final = model.final_embeddings().detach()
    target = final[model.num_users + item]
    alpha0 = model.alphas()[0]
    self_term = 0.0 if profile.ego is None else float(alpha0 * (profile.ego.double()
                                                                @ target.double()))
    first = explain.explain_items(model, profile.items, item)
    layer0 = model.embedding.detach().double()
    origin = propagation_weights(model, profile) * (layer0 @ target.double())

    is_user = torch.zeros(model.graph.num_nodes, dtype=torch.bool)
    is_user[: model.num_users] = True
    own = torch.zeros_like(is_user)
    own[model.num_users + profile.items] = True
    me = torch.zeros_like(is_user)
    if profile.user is not None:
        me[profile.user] = True
    groups = {
        "you": self_term + float(origin[me].sum()),
        "your movies": float(origin[own].sum()),
        "neighbour users": float(origin[is_user & ~me].sum()),
        "other movies": float(origin[~is_user & ~own].sum()),
    }
    return {
        "item": item,
        "score": float(profile_scores(model, profile)[item]),
        "self": self_term,
        "first_items": first["items"],
        "first_contributions": first["contributions"].double(),
        "origin": origin,
        "groups": groups,
    }


def check_decomposition(dec: Mapping, tol: float = TOLERANCE) -> float:
    """Assert that both splits of :func:`score_decomposition` add up to the score; return the
    largest gap (float rounding only: the model computes in float32)."""
    score = dec["score"]
    sums = {
        "first step": dec["self"] + float(dec["first_contributions"].sum()),
        "origin": dec["self"] + float(dec["origin"].sum()),
        "groups": float(sum(dec["groups"].values())),
    }
    gaps = {name: abs(total - score) for name, total in sums.items()}
    worst = max(gaps.values())
    if worst > tol * max(1.0, abs(score)):
        raise AssertionError(f"contributions do not sum to the score {score:.6f}: {sums}")
    return worst


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _titles(ml, items) -> list[str]:
    return [str(t) for t in ml.items["title"].to_numpy()[np.asarray(items, dtype=np.int64)]]


def _genres(ml, items) -> list[str]:
    flags = ml.items[list(ml.genres)].to_numpy()[np.asarray(items, dtype=np.int64)]
    return ["|".join(g for g, f in zip(ml.genres, row) if f) for row in flags]


def find_movies(ml, titles: Sequence[str]) -> list[int]:
    """Item indices of movies given by exact title (``"Toy Story (1995)"``), in order; a
    ``KeyError`` names the titles that are not in the catalogue. A title listed twice (the
    MovieLens-100K catalogue has 18 such duplicates) gives its first item."""
    index = {}
    for item, title in zip(ml.items.index, ml.items["title"]):
        index.setdefault(str(title), int(item))
    missing = [t for t in titles if t not in index]
    if missing:
        raise KeyError(f"not in the catalogue: {missing}")
    return [index[t] for t in titles]


def history_table(ml, train: pd.DataFrame, user: int | None = None, remove: Sequence = (),
                  add: Sequence = ()) -> pd.DataFrame:
    """The history of ``user`` (from ``train``, best rated first) with a ``status`` column:
    ``rated``, ``removed`` (what-if) or ``added`` (what-if / new user, no rating)."""
    removed = {int(i) for i in remove}
    added = [int(i) for i in add]
    if user is None:
        rows = pd.DataFrame({"item": pd.Series([], dtype=np.int64),
                             "rating": pd.Series([], dtype=float)})
    else:
        rows = train.loc[train["user"] == int(user), ["item", "rating", "timestamp"]]
        rows = rows.sort_values(["rating", "timestamp"], ascending=[False, True],
                                kind="stable")[["item", "rating"]].astype({"rating": float})
    status = ["removed" if i in removed else "rated" for i in rows["item"]]
    have = set(rows["item"].tolist())
    extra = [i for i in sorted(set(added)) if i not in have]
    items = rows["item"].tolist() + extra
    table = pd.DataFrame({
        "item": np.asarray(items, dtype=np.int64),
        "movie": _titles(ml, items),
        "genres": _genres(ml, items),
        "rating": rows["rating"].tolist() + [np.nan] * len(extra),
        "status": status + ["added"] * len(extra),
    })
    return table


def recommendation_table(model, ml, profile: Profile, k: int = 10) -> pd.DataFrame:
    """Top-``k`` movies with their scores and a one-line explanation each: the history movie
    with the largest first-step term and the neighbour user with the largest origin term
    (both from :func:`score_decomposition`)."""
    with frozen_embeddings(model):
        return _recommendation_table(model, ml, profile, k)


def _recommendation_table(model, ml, profile: Profile, k: int) -> pd.DataFrame:
    items, scores = top_k(model, profile, k)
    because, neighbour, share = [], [], []
    for item in items.tolist():
        dec = score_decomposition(model, profile, item)
        check_decomposition(dec)
        best = int(dec["first_items"][0])
        because.append(_titles(ml, [best])[0])
        share.append(float(dec["first_contributions"][0]) / dec["score"]
                     if dec["score"] else np.nan)
        users = dec["origin"][: model.num_users].clone()
        if profile.user is not None:
            users[profile.user] = -math.inf
        neighbour.append(int(ml.users["user_id"].iloc[int(torch.argmax(users))]))
    return pd.DataFrame({
        "rank": np.arange(1, len(items) + 1),
        "item": items.numpy(),
        "movie": _titles(ml, items),
        "genres": _genres(ml, items),
        "score": scores.double().numpy(),
        "because you watched": because,
        "share of score": share,
        "top neighbour (user id)": neighbour,
    })


def compare_recommendations(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """What an edit did to a top-K list: one row per movie in either table
    (:func:`recommendation_table` output), with its rank and score before and after (missing
    when outside that list) and ``change``: "entered", "left", "up", "down" or "same"; ordered
    by the new ranking, then the movies that left."""
    b = before.set_index("item")
    a = after.set_index("item")
    items = list(a.index) + [i for i in b.index if i not in a.index]
    rows = []
    for i in items:
        rb = int(b.loc[i, "rank"]) if i in b.index else None
        ra = int(a.loc[i, "rank"]) if i in a.index else None
        movie = a.loc[i, "movie"] if ra is not None else b.loc[i, "movie"]
        if rb is None:
            change = "entered"
        elif ra is None:
            change = "left"
        else:
            change = "up" if ra < rb else "down" if ra > rb else "same"
        rows.append((movie, rb, ra, float(b.loc[i, "score"]) if rb is not None else np.nan,
                     float(a.loc[i, "score"]) if ra is not None else np.nan, change))
    out = pd.DataFrame(rows, columns=["movie", "rank before", "rank after", "score before",
                                      "score after", "change"])
    return out.astype({"rank before": "Int64", "rank after": "Int64"})


def explanation_tables(model, ml, profile: Profile, item: int, top: int = 5
                       ) -> dict[str, object]:
    """The decomposition of one score as tables: ``movies`` (the ``top`` history movies by
    first-step term, with how many users watched each (``watched by``, the degree d_j), its
    ``weight`` c_j = 1/sqrt(|S| d_j) and ``alignment`` g_j . e_i, whose product is the
    ``contribution``; then one row for the rest and one for the user's own layer-0 embedding,
    weight alpha_0 and alignment e_u^(0) . e_i),
    ``neighbours`` (the ``top`` neighbour users by origin term, with how many of the
    profile's movies each shares), ``groups`` (origin split by group), ``decomposition`` (the
    raw dict). In ``movies`` and ``groups`` the ``contribution`` column sums to the score."""
    with frozen_embeddings(model):
        dec = score_decomposition(model, profile, item)
    check_decomposition(dec)
    first_items, first = dec["first_items"], dec["first_contributions"]
    n = min(top, first_items.numel())
    shown = first_items[:n]
    degree = model.graph.item_degree[shown].double()
    # contribution = weight c_j * alignment g_j . e_i, with c_j = 1 / sqrt(|S| d_j)
    weight = (1.0 / torch.sqrt(first_items.numel() * degree.clamp(min=1.0))).tolist()
    values = first[:n].tolist()
    rows = [(t, int(d), w, v / w, v) for t, d, w, v in
            zip(_titles(ml, shown), degree.tolist(), weight, values)]
    if first_items.numel() > n:
        rows.append((f"other {first_items.numel() - n} movies of the history", None, None,
                     None, float(first[n:].sum())))
    if profile.user is None:
        rows.append(("own layer-0 embedding (none: new user)", None, 0.0, None, 0.0))
    else:
        alpha0 = model.alphas()[0]
        rows.append(("your own layer-0 embedding", None, alpha0,
                     dec["self"] / alpha0 if alpha0 else None, dec["self"]))
    movies = pd.DataFrame(rows, columns=["through", "watched by", "weight", "alignment",
                                         "contribution"])
    movies["watched by"] = movies["watched by"].astype("Int64")

    users = dec["origin"][: model.num_users].clone()
    if profile.user is not None:
        users[profile.user] = -math.inf
    order = torch.argsort(users, descending=True, stable=True)[:top]
    lists = model.graph.item_lists()
    history = set(profile.items.tolist())
    neighbours = pd.DataFrame({
        "user id": ml.users["user_id"].to_numpy()[order.numpy()],
        "shared movies": [len(history & set(lists[int(v)].tolist())) for v in order],
        "contribution": users[order].numpy(),
    })
    groups = pd.DataFrame({"origin": list(dec["groups"]),
                           "contribution": list(dec["groups"].values())})
    return {"item": int(item), "movie": _titles(ml, [item])[0], "score": dec["score"],
            "movies": movies, "neighbours": neighbours, "groups": groups, "decomposition": dec}


# ---------------------------------------------------------------------------------------------
# Embedding map
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def pca_2d(x: torch.Tensor) -> dict:
    """Principal components of the rows of ``x`` by SVD of the centred matrix (torch only).

    Returns ``coords`` ``[n, 2]``, ``mean`` ``[d]``, ``components`` ``[d, 2]`` (unit columns;
    each column's sign is fixed so its largest-magnitude loading is positive) and
    ``explained`` (share of the total variance on each axis).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"pca_2d needs a matrix with at least 2 rows and 2 columns, got "
                         f"{tuple(x.shape)}")
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    comps = vh[:2].T.clone()
    for c in range(2):
        if comps[comps[:, c].abs().argmax(), c] < 0:
            comps[:, c] = -comps[:, c]
    var = s.pow(2)
    return {"coords": (x - mean) @ comps, "mean": mean, "components": comps,
            "explained": var[:2] / var.sum()}


def project(x: torch.Tensor, pca: Mapping) -> torch.Tensor:
    """Coordinates of rows ``x`` (or one vector) on the axes of ``pca`` (:func:`pca_2d`)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    return (x - pca["mean"]) @ pca["components"]


def primary_genre(ml, genres: Sequence[str] = MAP_GENRES) -> np.ndarray:
    """One colour label per movie: among its genres that appear in ``genres``, the rarest in
    the catalogue (so a comedy-romance is "Romance"); "other" when none is in ``genres``.
    Genres that ``ml.items`` lacks are skipped."""
    genres = [g for g in genres if g in ml.items.columns]
    counts = {g: int(ml.items[g].sum()) for g in genres}
    by_rarity = sorted(genres, key=lambda g: (counts[g], g))
    flags = ml.items[by_rarity].to_numpy()
    out = np.full(len(ml.items), "other", dtype=object)
    for row, f in enumerate(flags):
        hit = np.flatnonzero(f)
        if hit.size:
            out[row] = by_rarity[hit[0]]
    return out


@torch.no_grad()
def embedding_map_state(model, ml, profile: Profile, recommended, pca: Mapping | None = None
                        ) -> dict:
    """Items' final embeddings on their first two principal axes, the profile's final
    embedding projected on the same axes, the history and the recommended items."""
    _, item_emb = model.embeddings()
    pca = pca if pca is not None else pca_2d(item_emb)
    if profile.user is not None and not profile.edited:
        user_vec = model.embeddings()[0][profile.user]
    else:
        user_vec = explain.fold_in_user(model, profile.items, profile.ego)
    return {
        "coords": pca["coords"].numpy(),
        "explained": pca["explained"].numpy(),
        "genre": primary_genre(ml),
        "user": project(user_vec, pca).numpy(),
        "history": profile.items.numpy(),
        "recommended": np.asarray(recommended, dtype=np.int64),
        "label": profile_label(ml, profile),
    }


# ---------------------------------------------------------------------------------------------
# The user view: everything the explorer shows, as one pure function
# ---------------------------------------------------------------------------------------------


def user_view_state(model, ml, train: pd.DataFrame, user: int | None = 0, remove: Sequence = (),
                    add: Sequence = (), k: int = 10, explain_rank: int = 1, top: int = 5,
                    pca: Mapping | None = None) -> dict:
    """What the user view shows for ``user`` (None: a new user built from ``add``) with the
    what-if edits ``remove``/``add``: ``history``, ``recommendations`` (top ``k``), the
    ``explanation`` of the recommendation at ``explain_rank`` (1-based) and the ``map``.
    ``message`` is :data:`EMPTY_MESSAGE` (and the rest is None) when the history is empty."""
    with frozen_embeddings(model):
        return _user_view_state(model, ml, train, user, remove, add, k, explain_rank, top, pca)


def _user_view_state(model, ml, train, user, remove, add, k, explain_rank, top, pca) -> dict:
    history = history_table(ml, train, user, remove, add)
    state = {"user": user, "remove": tuple(int(i) for i in remove),
             "add": tuple(int(i) for i in add), "k": k, "explain_rank": explain_rank,
             "history": history, "profile": None, "recommendations": None,
             "explanation": None, "map": None, "message": None}
    try:
        profile = make_profile(model, user, remove, add)
    except ValueError:
        state["message"] = EMPTY_MESSAGE
        return state
    if not 1 <= explain_rank <= k:
        raise ValueError(f"explain_rank must be in 1..{k}, got {explain_rank}")
    recs = recommendation_table(model, ml, profile, k)
    state["profile"] = profile
    state["recommendations"] = recs
    state["explanation"] = explanation_tables(model, ml, profile,
                                              int(recs["item"].iloc[explain_rank - 1]), top)
    state["map"] = embedding_map_state(model, ml, profile, recs["item"].to_numpy(), pca)
    return state


# ---------------------------------------------------------------------------------------------
# Bias and cold start
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
    recall@k and NDCG@k (means, as ``gnnedu.metrics.evaluate``), coverage@k and ARP@k (the
    same functions ``evaluate`` uses) and the long-tail share of the recommended slots."""
    # training popularity as gnnedu.metrics.evaluate computes it (same dtype, same numbers)
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


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------

GENRE_COLORS = {
    "Drama": "#4c72b0", "Comedy": "#dd8452", "Action": "#55a868", "Thriller": "#8172b3",
    "Romance": "#da8bc3", "Children's": "#ccb974", "Horror": "#937860", "Sci-Fi": "#64b5cd",
    "other": "#c7c7c7",
}


def _short(text: str, n: int = 34) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def draw_explanation(tables: Mapping, ax=None, figsize=(6.2, 4.2)) -> Figure:
    """Horizontal bars: the score of one recommendation split by first step (history movies,
    the rest, the user's own embedding) and by origin group; a line marks the score."""
    fig, ax = plot._axes(ax, figsize)
    movies, groups = tables["movies"], tables["groups"]
    labels = [_short(t) for t in movies["through"]] + [f"origin: {g}" for g in groups["origin"]]
    values = list(movies["contribution"]) + list(groups["contribution"])
    colors = [plot.ITEM_COLOR] * len(movies) + [plot.USER_COLOR] * len(groups)
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0.0, color="#444444", lw=0.8)
    ax.axvline(tables["score"], color=plot.HIGHLIGHT_COLOR, ls="--", lw=1.2,
               label=f"score {tables['score']:.3f}")
    ax.set_xlabel("contribution to the score")
    ax.set_title(_short(f"Why '{tables['movie']}'?", 48))
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=plot.ITEM_COLOR, label="first step (sums to score)"),
                       Patch(color=plot.USER_COLOR, label="origin groups (sum to score)"),
                       ax.get_lines()[-1]], fontsize=7, loc="lower right")
    return fig


def draw_embedding_map(state: Mapping, ax=None, figsize=(6.2, 4.8)) -> Figure:
    """Items on the first two principal axes of their final embeddings, coloured by primary
    genre; the history (black rings), the recommendations (red stars) and the user (cross)."""
    fig, ax = plot._axes(ax, figsize)
    coords, genre = state["coords"], state["genre"]
    for g, color in GENRE_COLORS.items():
        mask = genre == g
        if mask.any():
            ax.scatter(coords[mask, 0], coords[mask, 1], s=7, color=color, alpha=0.55,
                       label=g, lw=0)
    hist = coords[state["history"]]
    ax.scatter(hist[:, 0], hist[:, 1], s=26, facecolors="none", edgecolors="black", lw=0.8,
               label="history")
    rec = coords[state["recommended"]]
    ax.scatter(rec[:, 0], rec[:, 1], s=90, marker="*", color=plot.HIGHLIGHT_COLOR,
               edgecolors="black", lw=0.5, label="recommended")
    ax.scatter([state["user"][0]], [state["user"][1]], s=120, marker="X", color="black",
               label="user")
    ev = state["explained"]
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}% of variance)")
    ax.set_title(f"Item embeddings (PCA): {state['label']}")
    ax.legend(fontsize=7, markerscale=1.2, ncol=2, loc="best")
    return fig


def draw_user_view(state: Mapping, figsize=(13.0, 4.8)) -> Figure:
    """The explanation of the selected recommendation beside the embedding map; a note when
    the history is empty."""
    if state["message"] is not None:
        fig, ax = plot.new_figure(figsize=(6.0, 1.6))
        ax.axis("off")
        ax.set_title("Nothing to recommend yet")
        ax.text(0.5, 0.4, state["message"], ha="center", va="center", fontsize=10,
                transform=ax.transAxes, wrap=True)
        return fig
    fig, axes = plot.new_figure(1, 2, figsize=figsize)
    draw_explanation(state["explanation"], ax=axes[0])
    draw_embedding_map(state["map"], ax=axes[1])
    return fig


def draw_buckets(tables: Mapping[str, pd.DataFrame], metric: str = "recall@20",
                 figsize=(6.8, 4.0)) -> Figure:
    """Grouped bars: ``metric`` per activity bucket, one bar per model (``tables``: name ->
    :func:`metrics_by_bucket` output); the number of users per bucket under each group."""
    fig, ax = plot.new_figure(figsize=figsize)
    names = list(tables)
    buckets = list(next(iter(tables.values())).index)
    width = 0.8 / max(1, len(names))
    x = np.arange(len(buckets))
    for i, name in enumerate(names):
        vals = tables[name].reindex(buckets)[metric].to_numpy()
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=name)
    users = next(iter(tables.values())).reindex(buckets)["users"].to_numpy()
    ax.set_xticks(x, [f"{b}\n({u} users)" for b, u in zip(buckets, users)])
    ax.set_xlabel("training interactions per user")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by user activity: cold (left) to heavy (right)")
    ax.legend(fontsize=8)
    return fig


def draw_bias(table: pd.DataFrame, k: int = 20, figsize=(6.8, 4.2)) -> Figure:
    """Each model as a point: coverage@k against ARP@k (average recommended popularity); the
    marker area grows with recall@k, which the legend lists."""
    fig, ax = plot.new_figure(figsize=figsize)
    rec = table[f"recall@{k}"].to_numpy()
    sizes = 40 + 600 * (rec / max(rec.max(), 1e-12)) ** 2
    for (name, row), s in zip(table.iterrows(), sizes):
        ax.scatter(row[f"arp@{k}"], row[f"coverage@{k}"], s=s, alpha=0.7,
                   label=f"{name} (recall@{k} {row[f'recall@{k}']:.3f})")
    ax.set_xlabel(f"ARP@{k}: mean training popularity of recommended items")
    ax.set_ylabel(f"coverage@{k}: share of the catalogue recommended")
    ax.set_title("Popularity bias against catalogue coverage")
    ax.margins(0.15)
    legend = ax.legend(fontsize=8, loc="best")
    for handle in legend.legend_handles:
        handle.set_sizes([50])
    return fig


# ---------------------------------------------------------------------------------------------
# The widget
# ---------------------------------------------------------------------------------------------


def _html_table(frame: pd.DataFrame, caption: str, max_rows: int = 12) -> str:
    shown = frame.head(max_rows)
    more = (f"<div style='font-size:11px;color:#666'>... {len(frame) - max_rows} more rows"
            "</div>") if len(frame) > max_rows else ""
    return (f"<div style='margin:4px 12px 4px 0'><b>{html.escape(caption)}</b>"
            + shown.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="",
                            border=0) + more + "</div>")


def _bundle(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


class RecommendationExplorer:
    """The user view of notebook 08, wired to :func:`user_view_state`.

    Controls (attributes; set ``.value`` from code or move them in the page):

    - ``user`` (Dropdown "user", value = user index, labels show the MovieLens user id);
    - ``new_user`` (Checkbox "new user"): ignore ``user`` and build a user from ``add``;
    - ``remove`` (SelectMultiple "remove"): movies of the history to leave out (what-if);
    - ``add`` (SelectMultiple "add"): popular movies outside the history, to add (what-if / new
      user);
    - ``k`` (IntSlider "K"): how many recommendations;
    - ``explain`` (Dropdown "explain #"): which recommendation the bars explain;
    - ``reset`` (Button "reset edits"): clear ``remove`` and ``add``.

    After any change ``state`` (the dict of :func:`user_view_state`) and ``figure`` hold the
    new result, ``out`` (an ``Output``) shows the history and recommendation tables and the
    figure, and ``redraws`` counts the redraws. ``widget`` is the displayed ``VBox`` (CSS
    classes ``gnnedu-widget`` and ``gnnedu-recommendations``).
    """

    css_class = "gnnedu-recommendations"

    def __init__(self, model, ml, train: pd.DataFrame, *, user: int = 0, k: int = 10,
                 max_k: int = 20, n_candidates: int = 200, figure_dpi: int = 72):
        import ipywidgets as widgets

        self.model, self.ml, self.train = model, ml, train
        self.figure_dpi = figure_dpi
        _, item_emb = model.embeddings()
        self.pca = pca_2d(item_emb)
        popular = torch.argsort(-model.graph.item_degree, stable=True)[:n_candidates]
        self._candidates = [(_short(t, 40), int(i)) for t, i in
                            zip(_titles(ml, popular), popular.tolist())]
        user_ids = ml.users["user_id"].to_numpy()
        degree = model.graph.user_degree.long().tolist()
        self.user = widgets.Dropdown(
            options=[(f"user {uid} ({d} movies)", u) for u, (uid, d) in
                     enumerate(zip(user_ids, degree))], value=int(user), description="user",
            layout=widgets.Layout(width="260px"))
        self.new_user = widgets.Checkbox(value=False, description="new user", indent=False,
                                         layout=widgets.Layout(width="110px"))
        self.k = widgets.IntSlider(value=k, min=1, max=max_k, description="K",
                                   continuous_update=False, layout=widgets.Layout(width="260px"))
        self.explain = widgets.Dropdown(options=list(range(1, k + 1)), value=1,
                                        description="explain #",
                                        layout=widgets.Layout(width="170px"))
        self.reset = widgets.Button(description="reset edits", layout=widgets.Layout(width="110px"))
        self.remove = widgets.SelectMultiple(options=[], rows=7, description="remove",
                                             layout=widgets.Layout(width="400px"))
        self.add = widgets.SelectMultiple(options=[], rows=7, description="add",
                                          layout=widgets.Layout(width="400px"))
        self.out = widgets.Output()
        self.figure: Figure | None = None
        self.state: dict = {}
        self.redraws = 0
        self._holding = False

        row1 = widgets.HBox([self.user, self.new_user, self.k, self.explain, self.reset])
        row2 = widgets.HBox([self.remove, self.add])
        self.widget = widgets.VBox([row1, row2, self.out])
        self.widget.add_class("gnnedu-widget")
        self.widget.add_class(self.css_class)

        self._refresh_history_options()
        for control in (self.remove, self.add, self.explain):
            control.observe(self._on_change, names="value")
        self.user.observe(self._on_user, names="value")
        self.new_user.observe(self._on_user, names="value")
        self.k.observe(self._on_k, names="value")
        self.reset.on_click(self._on_reset)
        self.update()

    # -- wiring --------------------------------------------------------------------------------

    @contextmanager
    def _hold(self):
        """Change several controls, then redraw once."""
        held, self._holding = self._holding, True
        try:
            yield
        finally:
            self._holding = held

    def _refresh_history_options(self):
        """``remove`` offers the user's history, ``add`` the candidates outside it."""
        with self._hold():
            self.remove.value = ()
            self.add.value = ()
            if self.new_user.value:
                items = []
            else:
                items = self.model.graph.item_lists()[self.user.value].tolist()
            self.remove.options = [(_short(t, 40), i) for t, i in
                                   zip(_titles(self.ml, items), items)]
            history = set(items)
            self.add.options = [c for c in self._candidates if c[1] not in history]
            self.user.disabled = self.new_user.value
            self.remove.disabled = self.new_user.value

    def _on_user(self, _change=None):
        with self._hold():
            self._refresh_history_options()
            self.explain.value = 1
        self.update()

    def _on_k(self, _change=None):
        with self._hold():
            keep = min(self.explain.value, self.k.value)
            self.explain.options = list(range(1, self.k.value + 1))
            self.explain.value = keep
        self.update()

    def _on_reset(self, _button=None):
        with self._hold():
            self.remove.value = ()
            self.add.value = ()
        self.update()

    def _on_change(self, _change=None):
        if not self._holding:
            self.update()

    # -- drawing -------------------------------------------------------------------------------

    def update(self):
        """Recompute the state from the controls and redraw ``out``."""
        user = None if self.new_user.value else self.user.value
        self.state = user_view_state(self.model, self.ml, self.train, user,
                                     self.remove.value, self.add.value, self.k.value,
                                     self.explain.value, pca=self.pca)
        self.figure = draw_user_view(self.state)
        outputs = [_bundle({"text/html": self.tables_html(), "text/plain": self.summary()})]
        if self.state["message"] is None:       # an empty history has nothing to draw
            png = plot.figure_to_png(self.figure, dpi=self.figure_dpi)
            outputs.append(_bundle({"image/png": base64.b64encode(png).decode("ascii"),
                                    "text/plain": "<figure: explanation and embedding map>"}))
        self.out.outputs = tuple(outputs)
        self.redraws += 1

    def summary(self) -> str:
        """One line naming what is shown (also the plain-text form of the output)."""
        s = self.state
        if s["message"] is not None:
            return s["message"]
        recs = s["recommendations"]
        who = profile_label(self.ml, s["profile"])
        return (f"{who}: {len(s['profile'].items)} movies in the history; "
                f"top {len(recs)}: " + "; ".join(recs["movie"].head(3)) + " ...")

    def tables_html(self) -> str:
        """The history and recommendation tables side by side, as HTML."""
        s = self.state
        hist = s["history"][["movie", "genres", "rating", "status"]]
        parts = [_html_table(hist, f"History ({s['history']['status'].ne('removed').sum()} "
                                   "movies used)")]
        if s["message"] is not None:
            parts.append(f"<div><b>{html.escape(s['message'])}</b></div>")
        else:
            recs = s["recommendations"][["rank", "movie", "score", "because you watched",
                                         "top neighbour (user id)"]]
            who = profile_label(self.ml, s["profile"])
            parts.append(_html_table(recs, f"Top {len(recs)} for {who}", max_rows=len(recs)))
            ex = s["explanation"]
            parts.append(_html_table(ex["neighbours"], f"Neighbours behind #{s['explain_rank']}"
                                     f" ({_short(ex['movie'], 30)})"))
        return "<div style='display:flex;flex-wrap:wrap'>" + "".join(parts) + "</div>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
