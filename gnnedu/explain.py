"""The maths of looking inside a trained LightGCN: fold-in and exact score decompositions
(notebook 08; the widget that shows them is ``gnnedu.widgets.recommendations``).

API summary
-----------
- ``fold_in_user(model, items, ego=None) -> Tensor [dim]``: the final embedding a user with
  training items ``items`` would get, computed from the trained item embeddings, no retraining.
- ``fold_in_scores(model, items, ego=None) -> Tensor [num_items]`` and
  ``recommend_for_items(model, items, k=10) -> LongTensor [k]`` (``items`` masked).
- ``score_contributions(model, user, item) -> dict``: splits ``score(user, item)`` exactly into
  one term per training item of the user plus a term for the user's own layer-0 embedding:
  ``{"items", "contributions", "self", "score"}``, items sorted by contribution (largest first).
  ``explain_items(model, items, item)`` does the same for a folded-in user.
- ``similar_items(model, item, k=10) -> (items, cosine)``: nearest items by final embedding.
- ``check_linear(model)``: raises unless ``model`` is a fitted LightGCN-style model (linear
  propagation, no self-loops), the condition for everything here.

A user to recommend for (:class:`Profile`):

- ``make_profile(model, user=None, remove=(), add=()) -> Profile``: a user of the training
  graph (``user``) with some movies removed from or added to their history ("what if"), or a
  new user (``user=None``) who liked the movies in ``add``. Edited and new users are folded in
  with :func:`fold_in_user` (no retraining).
- ``profile_scores(model, profile)``, ``top_k(model, profile, k) -> (items, scores)``:
  the profile's items are never recommended.
- ``frozen_embeddings(model)``: a context in which the propagated embeddings are computed once.

Explaining a score exactly (two ways of grouping the same sum; derivation below):

- ``propagation_weights(model, profile) -> [num_nodes]`` (float64): how much of each node's
  layer-0 embedding the profile's final embedding holds.
- ``score_decomposition(model, profile, item) -> dict``: the score of ``item`` split by the
  *first step* of propagation (one term per movie of the history: "because you watched ...",
  from :func:`explain_items`) and by *origin* (one term per node whose layer-0 embedding
  reaches the user: the user, their movies, neighbour users, other movies). Each split sums to
  the score (checked by :func:`check_decomposition`).

The maths (LightGCN, no self-loops). A user u with items N(u) has, at layer k >= 1,
e_u^(k) = sum_{j in N(u)} c_uj e_j^(k-1), c_uj = 1 / sqrt(|N(u)| d_j), and final embedding
e_u = alpha_0 e_u^(0) + sum_{k=1..L} alpha_k e_u^(k). Swapping the two sums,

    e_u = alpha_0 e_u^(0) + sum_{j in N(u)} c_uj * g_j,   g_j = sum_{k=1..L} alpha_k e_j^(k-1),

so score(u, i) = e_u . e_i is alpha_0 e_u^(0) . e_i plus one term c_uj g_j . e_i per item j:
"because you watched j". For a user already in the graph this reproduces the trained embedding
exactly (pass ``ego`` = their layer-0 embedding). For a new user the item embeddings are taken
as trained: we ignore that the new user would raise each item's degree by one and shift the
items' own propagated embeddings; ``ego`` defaults to zero, since a new user has no trained
layer-0 embedding.

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

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from gnnedu.models import GCNRecommender

__all__ = [
    "fold_in_user", "fold_in_scores", "recommend_for_items", "score_contributions",
    "explain_items", "similar_items", "check_linear", "Profile", "make_profile", "item_index_set",
    "profile_scores", "top_k", "frozen_embeddings", "propagation_weights",
    "score_decomposition", "check_decomposition", "ORIGIN_GROUPS", "TOLERANCE",
]

ORIGIN_GROUPS = ("you", "your movies", "neighbour users", "other movies")
TOLERANCE = 1e-4  # |sum of contributions - score| allowed, relative to max(1, |score|)


def check_linear(model) -> None:
    """Raise unless ``model`` is a fitted ``GCNRecommender`` with linear propagation and no
    self-loops (LightGCN): the condition under which fold-in and the decompositions are exact."""
    if not isinstance(model, GCNRecommender):
        raise TypeError("fold-in and score decomposition need a LightGCN-style GCNRecommender")
    if model.transform or model.activation is not None or model.self_loops:
        raise ValueError("fold-in needs linear propagation without self-loops (LightGCN): "
                         "transform=False, activation=None, self_loops=False")
    model._check_fitted()


def _items(model, items) -> torch.Tensor:
    items = torch.unique(torch.as_tensor(items, dtype=torch.long).reshape(-1))
    if items.numel() == 0:
        raise ValueError("a folded-in user needs at least one item")
    if items.min() < 0 or items.max() >= model.num_items:
        raise IndexError(f"item index out of range 0..{model.num_items - 1}")
    return items


@torch.no_grad()
def _item_messages(model, items: torch.Tensor):
    """Per item j of ``items``: c_j = 1/sqrt(|items| d_j) and g_j = sum_k alpha_k e_j^(k-1)."""
    layers = model.layer_embeddings()
    alphas = model.alphas()
    nodes = model.num_users + items
    g = torch.zeros(items.numel(), model.dim)
    for k in range(1, model.num_layers + 1):
        if alphas[k] != 0.0:
            g += alphas[k] * layers[k - 1][nodes]
    deg = model.graph.item_degree[items].clamp(min=1.0)
    coef = 1.0 / torch.sqrt(items.numel() * deg)
    return coef, g


@torch.no_grad()
def _item_embeddings(model) -> torch.Tensor:
    return model.final_embeddings()[model.num_users:]


@torch.no_grad()
def fold_in_user(model, items, ego: torch.Tensor | None = None) -> torch.Tensor:
    """Final embedding ``[dim]`` of a user whose training items are ``items``."""
    check_linear(model)
    items = _items(model, items)
    coef, g = _item_messages(model, items)
    out = (coef.unsqueeze(1) * g).sum(0)
    if ego is not None:
        out = out + model.alphas()[0] * torch.as_tensor(ego, dtype=out.dtype)
    return out


@torch.no_grad()
def fold_in_scores(model, items, ego: torch.Tensor | None = None) -> torch.Tensor:
    """Scores ``[num_items]`` of every item for a folded-in user."""
    return _item_embeddings(model) @ fold_in_user(model, items, ego)


@torch.no_grad()
def recommend_for_items(model, items, k: int = 10) -> torch.Tensor:
    """Top-``k`` items for a new user who liked ``items`` (which are never recommended)."""
    scores = fold_in_scores(model, items)
    scores[_items(model, items)] = float("-inf")
    return torch.topk(scores, k).indices


@torch.no_grad()
def _decompose(model, items, ego, item: int) -> dict:
    coef, g = _item_messages(model, items)
    target = _item_embeddings(model)[item]
    contributions = coef * (g @ target)
    self_term = float(model.alphas()[0] * (ego @ target)) if ego is not None else 0.0
    order = torch.argsort(contributions, descending=True, stable=True)
    return {
        "items": items[order],
        "contributions": contributions[order],
        "self": self_term,
        "score": float(contributions.sum()) + self_term,
    }


def score_contributions(model, user: int, item: int) -> dict:
    """Split ``model.score([user])[0, item]`` into per-training-item terms (see module doc).

    ``contributions.sum() + self == score`` up to float rounding.
    """
    check_linear(model)
    if not 0 <= int(user) < model.num_users:
        raise IndexError(f"user index out of range 0..{model.num_users - 1}")
    if not 0 <= int(item) < model.num_items:
        raise IndexError(f"item index out of range 0..{model.num_items - 1}")
    items = model.graph.item_lists()[int(user)]
    if items.numel() == 0:
        raise ValueError(f"user {user} has no training items")
    ego = model.embedding.detach()[int(user)]
    return _decompose(model, items, ego, int(item))


def explain_items(model, items, item: int) -> dict:
    """Like :func:`score_contributions`, for a new user folded in from ``items``."""
    check_linear(model)
    return _decompose(model, _items(model, items), None, int(item))


@torch.no_grad()
def similar_items(model, item: int, k: int = 10):
    """The ``k`` items whose final embeddings have the highest cosine with ``item``'s."""
    model._check_fitted()
    _, emb = model.embeddings()
    emb = torch.nn.functional.normalize(emb, dim=1)
    cos = emb @ emb[int(item)]
    cos[int(item)] = float("-inf")
    top = torch.topk(cos, k)
    return top.indices, top.values


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



def item_index_set(values, num_items: int, name: str = "items") -> set[int]:
    """``values`` as a set of item indices; an ``IndexError`` names the argument ``name`` and
    the valid range when one is outside ``0..num_items - 1``."""
    out = {int(v) for v in np.asarray(list(values), dtype=np.int64).reshape(-1)}
    bad = [v for v in out if not 0 <= v < num_items]
    if bad:
        raise IndexError(f"{name}: item index out of range 0..{num_items - 1}: "
                         f"{sorted(bad)[:5]}")
    return out


def make_profile(model, user: int | None = None, remove: Sequence = (), add: Sequence = ()
                 ) -> Profile:
    """The history of ``user`` (a training-graph user index) minus ``remove`` plus ``add``;
    with ``user=None``, a new user whose history is ``add``. Raises ``ValueError`` when the
    history ends up empty (nothing to fold in)."""
    model._check_fitted()
    removed = item_index_set(remove, model.num_items, "remove")
    added = item_index_set(add, model.num_items, "add")
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
    return fold_in_scores(model, profile.items, profile.ego)


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
    check_linear(model)
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
      first step goes to j (:func:`gnnedu.explain_items`), largest first;
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
    first = explain_items(model, profile.items, item)
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
