"""Solutions and checks of notebook 11 (Scaling up: a million interactions)."""

from __future__ import annotations

import math

import numpy as np
import torch

GIB = 2 ** 30
FLOAT32 = 4   # bytes
INDEX = 4     # bytes of an int32 index


# "Your turn" 1 -------------------------------------------------------------------------------

def layer_response(mu, alphas):
    """Gain of sum_k alpha_k A_hat^k on an eigenvector of A_hat with eigenvalue ``mu``:
    sum_k alpha_k mu^k (layer 0 first). Works elementwise on arrays."""
    mu = np.asarray(mu, dtype=np.float64)
    return sum(float(a) * mu ** k for k, a in enumerate(alphas))


def _small_adjacency(seed: int = 0):
    """A_hat (dense float64) of a small random bipartite graph, and its eigen-decomposition."""
    from gnnedu.graph import build_graph

    gen = torch.Generator().manual_seed(seed)
    users = torch.arange(12).repeat_interleave(4)
    items = torch.stack([torch.randperm(9, generator=gen)[:4] for _ in range(12)]).reshape(-1)
    adj = build_graph((users, items), 12, 9).adj.to_dense().double().numpy()
    mu, vectors = np.linalg.eigh(adj)
    return adj, mu, vectors


def _call(fn, *args):
    try:
        return fn(*args), None
    except NotImplementedError as err:
        if "your turn" in str(err):
            return None, "not yet: replace the `raise NotImplementedError` line with your code"
        return None, f"not yet: torch cannot do one of your operations: {str(err)[:120]}"
    except Exception as err:  # the hint names what went wrong, the notebook keeps running
        return None, f"not yet: your function raised {type(err).__name__}: {err}"


def check_layer_response(fn) -> str:
    """Check a learner's ``layer_response(mu, alphas)``: applied to the eigenvalues of a small
    graph's A_hat it must equal what the propagation does to each eigenvector."""
    adj, mu, vectors = _small_adjacency()
    for alphas in ([0.25, 0.25, 0.25, 0.25], [0.5, 0.3, 0.2], [0.0, 0.0, 1.0]):
        value, hint = _call(fn, mu.copy(), list(alphas))
        if hint:
            return hint
        value = np.asarray(value, dtype=np.float64)
        if value.shape != mu.shape:
            return (f"not yet: return one gain per eigenvalue (shape {mu.shape}), "
                    f"got shape {value.shape}")
        # what the filter does: sum_k alpha_k A^k applied to each eigenvector, divided by it
        operator = sum(a * np.linalg.matrix_power(adj, k) for k, a in enumerate(alphas))
        truth = np.einsum("ik,ij,jk->k", vectors, operator, vectors)   # v_k^T (...) v_k
        if not np.allclose(value, truth, atol=1e-8):
            if np.allclose(value, sum(a * mu ** (k + 1) for k, a in enumerate(alphas))):
                return ("not yet: layer 0 is the embedding itself, A_hat^0 = I, so alpha_0 "
                        "multiplies mu^0 = 1")
            return (f"not yet: for weights {alphas} the gains should be sum_k alpha_k mu^k "
                    f"(e.g. {truth[-1]:.4f} at mu = {mu[-1]:.4f}); yours gives {value[-1]:.4f}")
    return "pass"


# "Your turn" 2 -------------------------------------------------------------------------------

def linear_filter_scores(normalized: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Scores r_u R~^T R~ for a block of user rows ``rows`` ``[B, num_items]`` (dense), with
    ``normalized`` = R~ (sparse ``[num_users, num_items]``): first ``rows @ R~^T`` ([B, U]),
    then times R~ ([B, I]); the items x items matrix R~^T R~ is never formed."""
    co_users = normalized @ rows.T      # [U, B]: how much each user shares with the block
    return co_users.T @ normalized      # [B, U] @ [U, I] -> [B, I]


def check_linear_filter_scores(fn) -> str:
    """Check a learner's ``linear_filter_scores(normalized, rows)`` against
    ``gnnedu.filters.GFCF(alpha=0)`` on a small random graph."""
    from gnnedu.filters import GFCF
    from gnnedu.graph import build_graph

    gen = torch.Generator().manual_seed(3)
    users = torch.arange(40).repeat_interleave(5)
    items = torch.stack([torch.randperm(30, generator=gen)[:5] for _ in range(40)]).reshape(-1)
    graph = build_graph((users, items), 40, 30)
    model = GFCF(alpha=0.0).fit(graph)
    block = torch.tensor([0, 7, 39])
    rows = model.user_block(block).T.contiguous()      # [3, 30] dense 0/1 rows of R
    value, hint = _call(fn, model.normalized, rows.clone())
    if hint:
        return hint
    value = torch.as_tensor(value).to_dense() if torch.is_tensor(value) else torch.as_tensor(
        value)
    expected = model.score(block)
    if tuple(value.shape) != tuple(expected.shape):
        return (f"not yet: return one row of item scores per user, shape "
                f"{tuple(expected.shape)}; got {tuple(value.shape)}")
    rt = model.normalized.to_dense()
    if torch.allclose(value.float(), rows @ rt.T @ rt @ rt.T @ rt, atol=1e-5):
        return "not yet: that is two steps of the filter (P~ twice); apply R~^T R~ once"
    if not torch.allclose(value.float(), expected, atol=1e-5):
        return ("not yet: the scores should be rows R~^T R~, e.g. first rows @ R~^T "
                "(a [B, users] block), then that times R~")
    return "pass"


# Exercise 1 ----------------------------------------------------------------------------------

def memory_budget(users: int, items: int, interactions: int, dim: int = 64) -> dict:
    """Bytes (in GiB) that each object of this notebook needs at a given size, float32:

    - ``embeddings``: the layer-0 table, (U + I) x d, times 4 for training (the table, its
      gradient and Adam's two moments);
    - ``adjacency``: the normalised adjacency in CSR, 2E stored entries (value + int32 column
      index) plus one int32 row pointer per node;
    - ``item_item``: a dense items x items matrix (EASE, a dense GF-CF);
    - ``all_scores``: a dense users x items score matrix (why evaluation goes in blocks).
    """
    nodes = users + items
    return {
        "embeddings": 4 * nodes * dim * FLOAT32 / GIB,
        "adjacency": (2 * interactions * (FLOAT32 + INDEX) + (nodes + 1) * INDEX) / GIB,
        "item_item": items ** 2 * FLOAT32 / GIB,
        "all_scores": users * items * FLOAT32 / GIB,
    }


# Exercise 2 ----------------------------------------------------------------------------------

def time_to_reach(curve, target: float, metric: str = "recall@20",
                  clock: str = "train_cpu_seconds") -> float:
    """Seconds of ``clock`` at the first point of ``curve`` (a list of dicts, in training
    order) whose ``metric`` is at least ``target``, interpolated linearly from the point
    before; ``math.inf`` if the curve never gets there."""
    previous = None
    for point in curve:
        if point[metric] >= target:
            if previous is None or point[metric] == previous[metric]:
                return float(point[clock])
            share = (target - previous[metric]) / (point[metric] - previous[metric])
            return float(previous[clock] + share * (point[clock] - previous[clock]))
        previous = point
    return math.inf


# Exercise 3 ----------------------------------------------------------------------------------

def choose_alpha(graph, val, alphas=(0.0, 0.1, 0.3, 0.5, 1.0), k: int = 256, users=None,
                 metric: str = "recall@20") -> tuple[float, dict]:
    """GF-CF's low-pass weight alpha chosen on validation data, with one SVD for all values
    (``ItemFilter.fit_like``). ``graph``: the fit part of the training data; ``val``: the
    held-out validation pairs (never the test set); ``users``: score only these. Returns the
    best alpha and ``{alpha: metric}``."""
    from gnnedu.filters import GFCF
    from gnnedu.metrics import evaluate

    base = GFCF(k=k).fit(graph)
    cutoff = int(metric.split("@")[1])
    scores = {}
    for alpha in alphas:
        model = GFCF(k=k, alpha=alpha).fit_like(base)
        scores[alpha] = evaluate(model, graph, val, ks=(cutoff,), users=users)[metric]
    return max(scores, key=scores.get), scores


# Check your understanding ----------------------------------------------------------------------

def question_1() -> str:
    """LightGCN with L = 2 and uniform weights."""
    gains = {mu: float(layer_response(mu, [1 / 3] * 3)) for mu in (1.0, 0.0, -1.0)}
    return (f"Gains (1 + mu + mu^2) / 3: {gains[1.0]:.3f} at mu = 1, {gains[0.0]:.3f} at mu = 0, "
            f"{gains[-1.0]:.3f} at mu = -1. With an even depth the last term mu^L is positive at "
            "mu = -1, so the alternating sum 1 - 1 + 1 ... does not cancel: the highest "
            "frequency (a signal that flips sign across every edge of the bipartite graph) "
            "passes at 1/3. Odd depths cut it to exactly 0.")


def question_2() -> str:
    """Why a four times larger batch is not four times faster."""
    return ("Each step propagates the whole graph (three sparse products forward, three "
            "backward) whatever the batch size, so a 4x batch makes an epoch about 4x cheaper in "
            "steps but not in the work per step, and it also takes 4x fewer optimiser steps: "
            "with the same learning rate the model learns less per epoch. The learning rate "
            "and schedule must change with the batch, and accuracy per step is what matters.")


def question_3() -> str:
    """BSPM's sharpening step as a polynomial."""
    from gnnedu.filters import frequency_response

    lam = np.array([0.1, 0.5, 1.0])
    sharpened = frequency_response("bspm", lam, beta=0.0) / lam
    return ("The sharpening equation ds/dt = -s P~ is linear, so every Runge-Kutta stage is a "
            "matrix polynomial applied to s: one RK4 step of length T multiplies s by "
            "1 - T P~ + (T P~)^2/2 - (T P~)^3/6 + (T P~)^4/24, the degree-4 Taylor polynomial of "
            "exp(-T P~). On an eigenvector it multiplies the blurred gain by that polynomial of "
            f"T lambda: with T = 2.5 by {sharpened[0]:.2f} at lambda = 0.1, "
            f"{sharpened[1]:.2f} at 0.5 and {sharpened[2]:.2f} at 1. The middle of the spectrum "
            "loses most, the two ends less; times the blurred gain (about lambda), the top of "
            "the spectrum ends far above the middle: a sharper low-pass than the linear filter.")


def question_4() -> str:
    """What data parallelism splits and what it repeats in full-graph LightGCN."""
    return ("Split: the per-example work of each step (gathering the batch's embeddings, "
            "scoring positives and negatives, the loss and its gradient into those rows). "
            "Repeated: the propagation of the whole graph, forward and backward, which every "
            "process does in full because every slice's embeddings depend on all of it; plus an "
            "all-reduce of the dense gradient of the embedding table at every step. Since "
            "propagation dominates a step on Gowalla, two processes do nearly twice the work "
            "for the same steps: no speed-up on two cores.")


def question_5() -> str:
    """What breaks first at 100 M interactions."""
    budget = memory_budget(5_000_000, 1_000_000, 100_000_000)
    return (f"Memory first: a dense items x items matrix needs {budget['item_item']:,.0f} GiB "
            f"and a dense score matrix {budget['all_scores']:,.0f} GiB, so EASE and one-shot "
            f"evaluation are out; the embedding training state ({budget['embeddings']:.1f} GiB) "
            f"and the CSR adjacency ({budget['adjacency']:.1f} GiB) still fit. Then time: a "
            "full-graph LightGCN epoch grows with E^2/B once propagation dominates (section 6: "
            "the per-edge cost of a step, extrapolated, gives far more than a power law fitted "
            "where fixed costs dominate), and training needs many epochs. Large systems sample "
            "neighbourhoods for each mini-batch (GraphSAGE, PinSage), partition the graph "
            "across machines, shard the embedding table, and retrieve candidates with "
            "approximate nearest-neighbour search instead of scoring every item.")
