"""Solutions to the exercises of notebook 07 (GCN recommendation on MovieLens-100K)."""

from __future__ import annotations

import pandas as pd
import torch

from gnnedu.metrics import evaluate


def stacked_linear_gcn(adj: torch.Tensor, emb: torch.Tensor, weights) -> torch.Tensor:
    """Exercise 1, left side: L linear GCN layers, H^(l) = A H^(l-1) W^(l), no bias, no activation.

    ``adj``: normalized adjacency ``[n, n]`` (dense or sparse); ``emb``: ``[n, d]``;
    ``weights``: a list of ``[d, d]`` matrices, applied in order.
    """
    h = emb
    for w in weights:
        h = (adj @ h) @ w
    return h


def collapsed_linear_gcn(adj: torch.Tensor, emb: torch.Tensor, weights) -> torch.Tensor:
    """Exercise 1, right side: the same output as ``A^L (E W)`` with ``W = W^(1) ... W^(L)``.

    Matrix products associate, and A acts on rows while W acts on columns, so the L weight
    matrices multiply into one. ``E W`` is just another ``[n, d]`` embedding table: training E
    directly can reach every output the stacked linear layers can, so the transforms add
    parameters but no expressive power.
    """
    w = torch.eye(emb.shape[1], dtype=emb.dtype)
    for layer_w in weights:
        w = w @ layer_w
    h = emb @ w
    for _ in weights:
        h = adj @ h
    return h


def lightgcn_by_hand(adj: torch.Tensor, emb0: torch.Tensor, alphas) -> torch.Tensor:
    """Exercise 2: LightGCN's final embeddings, sum_k alpha_k A^k E^(0), k = 0..L.

    ``adj``: the normalized adjacency without self-loops (``graph.adj``); ``emb0``: the layer-0
    table ``[num_nodes, d]``; ``alphas``: L + 1 layer weights, layer 0 first.
    """
    alphas = [float(a) for a in alphas]
    if not alphas:
        raise ValueError("alphas needs at least one weight (layer 0)")
    layer = emb0
    out = alphas[0] * layer
    for alpha in alphas[1:]:
        layer = adj @ layer              # E^(k) = A E^(k-1)
        out = out + alpha * layer        # accumulate alpha_k E^(k)
    return out


@torch.no_grad()
def choose_layer_weights(model, train, val, candidates, k: int = 20,
                         metric: str = "recall") -> tuple[list[float], pd.DataFrame]:
    """Exercise 3: pick LightGCN's layer weights on validation data, after training.

    ``model``: a fitted ``GCNRecommender``/``LightGCN`` (its layer embeddings are reused, not
    retrained); ``train``: the interactions to mask (the graph it was fitted on); ``val``: the
    held-out validation interactions (never the test set); ``candidates``: lists of L + 1
    weights. Returns the best weights by ``metric@k`` and a table with one row per candidate.
    """
    layers = model.layer_embeddings()
    num_users = model.graph.num_users
    rows = []
    for alphas in candidates:
        alphas = [float(a) for a in alphas]
        if len(alphas) != len(layers):
            raise ValueError(f"each candidate needs {len(layers)} weights (layers 0..L)")
        final = sum(a * h for a, h in zip(alphas, layers))
        scores = final[:num_users] @ final[num_users:].T
        result = evaluate(scores, train, val, ks=(k,))
        rows.append({"alphas": tuple(alphas), f"recall@{k}": result[f"recall@{k}"],
                     f"ndcg@{k}": result[f"ndcg@{k}"]})
    table = pd.DataFrame(rows)
    best = table[f"{metric}@{k}"].idxmax()
    return list(table.loc[best, "alphas"]), table
