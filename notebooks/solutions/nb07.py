"""Solutions to the exercises of notebook 07 (GCN recommendation on MovieLens-100K)."""

from __future__ import annotations

import math

import pandas as pd
import torch

from gnnedu.metrics import evaluate

from .checks import attempt


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


# ---------------------------------------------------------------------------------------------
# "Your turn" cells: each check returns "pass" or "not yet: <hint>" and never raises
# ---------------------------------------------------------------------------------------------

NOT_WRITTEN = "not yet: replace `raise NotImplementedError` with your code, then run this cell"


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Your turn 1: the BPR loss, the mean of -log sigmoid(s_ui - s_uj) over every pair.

    ``pos_scores``: ``[B]``; ``neg_scores``: ``[B]`` (one negative per positive) or ``[B, n]``
    (n negatives: each positive is compared with each of its own negatives). Written with
    ``softplus(-x) = -log sigmoid(x)``, which stays finite for any score gap.
    """
    if neg_scores.dim() == 2:
        pos_scores = pos_scores.unsqueeze(1)      # [B, 1] against [B, n]
    return torch.nn.functional.softplus(neg_scores - pos_scores).mean()


def _call(fn, *args):
    """``(result, None)``, or ``(None, hint)`` when the learner's function raised."""
    return attempt(fn, *args, stub_hint=NOT_WRITTEN)


def _scalar(value):
    """``(float, None)`` for a one-element tensor or number, else ``(None, hint)``."""
    value = torch.as_tensor(value)
    if value.numel() != 1:
        return None, (f"not yet: return one number, the mean over the batch (you returned "
                      f"shape {tuple(value.shape)}; end with .mean())")
    return float(value), None


def check_bpr_loss(fn) -> str:
    """Check a learner's ``bpr_loss(pos_scores, neg_scores)`` against ``gnnedu.train``."""
    from gnnedu.train import bpr_loss as reference

    gen = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
    value, hint = _call(fn, pos.clone(), neg.clone())
    if hint:
        return hint
    value, hint = _scalar(value)
    if hint:
        return hint
    if math.isclose(value, float(reference(neg, pos)), rel_tol=1e-5):
        return ("not yet: the sign is reversed; the loss must fall as the positive's score "
                "rises above the negative's: -log sigmoid(pos - neg)")
    if not math.isclose(value, float(reference(pos, neg)), rel_tol=1e-5, abs_tol=1e-6):
        return (f"not yet: with one negative per positive the loss should be "
                f"{float(reference(pos, neg)):.4f}, yours is {value:.4f}; it is the mean of "
                f"-log sigmoid(pos - neg)")
    many = torch.randn(64, 4, generator=gen)
    value, hint = _call(fn, pos.clone(), many.clone())
    if hint or _scalar(value)[1] or not math.isclose(
            _scalar(value)[0], float(reference(pos, many)), rel_tol=1e-5, abs_tol=1e-6):
        return ("not yet: with n negatives per positive neg_scores is [B, n]; compare each "
                "positive with each of its own negatives: pos_scores.unsqueeze(1) - neg_scores")
    gaps = torch.tensor([-200.0, -50.0, 0.0, 50.0])      # scores far apart
    value, hint = _call(fn, gaps, torch.zeros(4))
    if hint:
        return hint
    value, hint = _scalar(value)
    if hint:
        return hint
    if not math.isfinite(value) or not math.isclose(value, float(reference(gaps, torch.zeros(4))),
                                                    rel_tol=1e-5):
        return (f"not yet: for a score gap of -200 your loss is {value}; sigmoid(-200) rounds to "
                f"0 and log(0) = -inf: use torch.nn.functional.logsigmoid (or softplus), "
                f"which stay finite")
    return "pass"


def combine_layers(layers, weights=None) -> torch.Tensor:
    """Your turn 2: LightGCN's final embedding from its layers, with a layer-weight option.

    ``layers``: the L + 1 tensors ``[E^(0), ..., E^(L)]`` (each ``[num_nodes, d]``);
    ``weights``: None for LightGCN's mean (alpha_k = 1/(L+1)), or L + 1 numbers alpha_k.
    Returns sum_k alpha_k E^(k).
    """
    if weights is None:
        weights = [1.0 / len(layers)] * len(layers)
    weights = [float(w) for w in weights]
    if len(weights) != len(layers):
        raise ValueError(f"need one weight per layer: {len(layers)} (layers 0..L), "
                         f"got {len(weights)}")
    return sum(w * h for w, h in zip(weights, layers))


def _small_lightgcn(num_layers: int = 3, weights=None):
    """A LightGCN on a small random graph with random layer-0 embeddings, and its layers."""
    import pandas as pd

    from gnnedu.graph import build_graph
    from gnnedu.models import LightGCN

    gen = torch.Generator().manual_seed(1)
    rows = [(u, int(i)) for u in range(12) for i in torch.randperm(15, generator=gen)[:4]]
    graph = build_graph(pd.DataFrame(rows, columns=["user", "item"]), 12, 15)
    model = LightGCN(dim=4, num_layers=num_layers, layer_weights=weights)
    model.attach(graph)
    with torch.no_grad():
        model.embedding.copy_(torch.randn(graph.num_nodes, 4, generator=gen))
        return [h.clone() for h in model.layer_embeddings()], model.final_embeddings()


def check_combine_layers(fn) -> str:
    """Check a learner's ``combine_layers(layers, weights=None)`` against ``gnnedu``'s
    ``LightGCN`` (default mean, and ``layer_weights``)."""
    layers, mean = _small_lightgcn()
    value, hint = _call(fn, [h.clone() for h in layers])
    if hint:
        return hint
    if not torch.allclose(torch.as_tensor(value), mean, atol=1e-6):
        return ("not yet: without weights, return LightGCN's mean of the layers, "
                "alpha_k = 1/(L+1) for each of the L+1 layers (layer 0 included)")
    value, hint = _call(fn, [h.clone() for h in layers], [1.0, 0.0, 0.0, 0.0])
    if hint:
        return hint
    if not torch.allclose(torch.as_tensor(value), layers[0], atol=1e-6):
        return ("not yet: weights [1, 0, 0, 0] should give layer 0 alone: weight k multiplies "
                "layer k, layer 0 first")
    weights = [0.4, 0.3, 0.2, 0.1]
    expected = _small_lightgcn(weights=weights)[1]
    value, hint = _call(fn, [h.clone() for h in layers], weights)
    if hint:
        return hint
    if not torch.allclose(torch.as_tensor(value), expected, atol=1e-6):
        return ("not yet: with weights [0.4, 0.3, 0.2, 0.1] the result should be "
                "sum_k alpha_k E^(k), as LightGCN(layer_weights=...) computes; do not rescale")
    try:
        fn([h.clone() for h in layers], [0.5, 0.5])
    except ValueError:
        return "pass"
    except Exception as err:
        return (f"not yet: 2 weights for 4 layers raised {type(err).__name__}; raise a "
                f"ValueError that says how many weights are needed")
    return ("not yet: 2 weights for 4 layers should raise a ValueError that says how many are "
            "needed, not return a result")


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1(dim: int = 64, num_layers: int = 2) -> int:
    """Q1: how many parameters does the two-layer article GCN have beyond LightGCN's embedding
    table, and why can its linear version (no ReLU, no bias) express nothing more?

    Each layer has a d x d matrix W and a bias b: 2 * (64 * 64 + 64) = 8,320 parameters (the
    notebook prints 176,320 against 168,000 = 2,625 nodes x 64). Without ReLU and bias,
    S (S E W1) W2 = S^2 (E W1 W2): E W1 W2 is just another embedding table, and E is free, so
    every score the linear GCN can give, a model without W can give too.
    """
    return num_layers * (dim * dim + dim)


def question_3() -> str:
    """Q3: why does the one-step check of the hand-built training run in float64?

    Adam's first step moves each parameter by lr * g / (|g| + eps): the gradient divided by its
    own size. A full-batch step averages over 71,981 pairs, so many gradients are tiny (around
    eps = 1e-8); there a float32 rounding difference between two correct ways of summing
    changes the step visibly (the notebook prints 4.0e-6, above the 1e-6 asked for). In float64
    the rounding is ~1e-16 and the two codes agree to 3.4e-15 after the step and 2.6e-15 after
    an epoch.
    """
    return "Adam divides by each gradient's size: float32 rounding of tiny gradients shows"


def question_4(num_layers: int = 3) -> dict:
    """Q4: what weight does LightGCN (L = 3) give layer 0, and which layer weights would give the
    node's own embedding half of the final embedding, sharing the rest equally?

    alpha_k = 1 / (L + 1) = 0.25 for each of the four layers. ``LightGCN(num_layers=3,
    layer_weights=[0.5, 1/6, 1/6, 1/6])`` (``combine_layers(layers, [0.5, 1/6, 1/6, 1/6])``).
    """
    rest = 0.5 / num_layers
    return {"mean": [1.0 / (num_layers + 1)] * (num_layers + 1),
            "half": [0.5] + [rest] * num_layers}


def question_2(results=None) -> dict:
    """Q2: which ablation step changes recall@20 the most, and which change nothing measurable?

    Averaging the layers (the step from "- self-loops" to LightGCN): +0.053 recall@20
    (0.301 -> 0.355), up on all five splits, paired t-test p = 4e-5. Removing dropout
    (-0.003, p = 0.39) and then the ReLU (-0.001, p = 0.51) are up or down by chance: on two of
    the five splits the metric even rose. Returns ``gnnedu.sweeps.step_tests`` of the committed
    sweeps, indexed by ``(before, after)``.
    """
    from gnnedu import sweeps

    results = sweeps.load_sweeps() if results is None else results
    return sweeps.step_tests(results).set_index(["before", "after"])


def question_5(results=None, p1=None) -> dict:
    """Q5: EASE against the two-layer LightGCN of the depth sweep (the same five splits).

    Recall@20: EASE - LightGCN(L=2) = -0.001, EASE ahead on 2 of 5 splits, p = 0.47: no
    difference. NDCG@20: +0.006, EASE ahead on all five, p = 0.008: EASE puts the right movies
    higher in the list. Equal recall says the two lists hold as many test movies; NDCG says where
    in the list they are. A comparison on one metric would have called the two models equal.
    Returns the two ``gnnedu.experiment.paired_test`` results.
    """
    from gnnedu import experiment, sweeps

    results = sweeps.load_sweeps() if results is None else results
    p1 = experiment.load_results() if p1 is None else p1
    ease = [r for r in p1["runs"] if r["key"] == "ease"]
    two_layers = sweeps.runs_for(results, "prop_mean", 2)
    return {m: experiment.paired_test(ease, two_layers, m) for m in ("recall@20", "ndcg@20")}
