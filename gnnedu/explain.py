"""Looking inside a trained LightGCN: fold in a new user, decompose a score (notebook 08).

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
"""

from __future__ import annotations

import torch

from gnnedu.models import GCNRecommender

__all__ = [
    "fold_in_user", "fold_in_scores", "recommend_for_items", "score_contributions",
    "explain_items", "similar_items",
]


def _check_linear(model) -> None:
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
    _check_linear(model)
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
    _check_linear(model)
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
    _check_linear(model)
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
