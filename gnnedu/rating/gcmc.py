"""GC-MC: a graph autoencoder that predicts ratings (van den Berg, Kipf and Welling, 2017).

Built step by step in notebook 10. The pieces, in the order of the forward pass:

1. **Node dropout.** During training each node is dropped with probability ``dropout``: all its
   outgoing messages are zeroed, and the kept ones scaled by ``1 / (1 - dropout)``.
2. **Rating convolution** (:class:`RatingConv`, a PyG ``MessagePassing`` layer). For each rating
   level ``r`` a node ``i`` sums the messages ``c_ij W_r x_j`` of the neighbours ``j`` that it is
   joined to by a rating ``r`` (``c_ij``: ``gnnedu.rating.data.rating_graph``'s normalisation).
   Without features ``x_j`` is the one-hot vector of node ``j``, so ``W_r x_j`` is row ``j`` of
   ``W_r``. With ``weight_sharing`` the level matrices share weights in rating order,
   ``W_r = T_1 + ... + T_r`` (the paper's ordinal weight sharing: a 4-star message reuses what
   the 1- to 3-star messages learned). The five sums are stacked side by side (``"stack"``) or
   added (``"sum"``), then ReLU: ``h_i``.
3. **Dense layer.** ``e_i = W_d h_i`` (dropout on ``h_i`` during training; no bias, no
   nonlinearity, one matrix for users and movies). With side features (``gcmc-feat``),
   ``f_i = ReLU(W_f x^f_i + b_f)`` (separate ``W_f``, ``b_f`` for users and movies, whose
   features differ) and ``e_i = W_d [h_i, f_i]``, dropout on all of ``[h_i, f_i]`` as in the
   paper's code (without it the features, nearly unique per node, bypass node dropout), and
   one ``W_d`` for both or, as in the paper's code, one each (``shared_dense``).
4. **Bilinear decoder** (:class:`BilinearDecoder`). For each level ``r``, the logit
   ``e_u^T Q_r e_i`` with ``Q_r = sum_s a_rs P_s`` built from ``num_basis`` shared basis
   matrices; a softmax over the levels gives ``p(r | u, i)`` and the prediction is the expected
   rating ``sum_r r p(r | u, i)``.

Training (:meth:`GCMC.fit`): full batch (every base rating in every step), cross-entropy of the
observed level, Adam, and an exponential moving average of the parameters (decay 0.995, with
the warm-up ``min(decay, (1 + t) / (10 + t))``) that is used for every evaluation and becomes
the model's parameters at the end. Defaults are the paper's MovieLens-100K settings where it
gives them (hidden 500 stacked, 75, two basis matrices, dropout 0.7, learning rate 0.01, left
normalisation); the rest (epochs, weight sharing) were chosen on validation data carved from
u1.base (``python -m gnnedu.rating tune``, ``gnnedu/results/rating/tuning.json``).

API summary
-----------
- ``RatingConv(in_channels, out_channels, num_levels=5, accumulate="stack",
  weight_sharing=True)``; ``forward(x, graph, keep=None)`` (fused sparse products) and
  ``forward_edges(x, graph, keep=None)`` (explicit PyG messages over ``edge_index``; the same
  numbers, slower).
- ``BilinearDecoder(dim, num_levels=5, num_basis=2)``; ``forward(user_emb, item_emb, users,
  items) -> logits [n, num_levels]``; ``forward_pairs(user_emb, item_emb, pairs)`` for a CSR
  pattern of pairs (``pair_pattern(users, items, U, I) -> (pairs, order)``; training).
- ``level_cross_entropy(logits, target)``: the training loss.
- ``GCMCNet``: the network (encoder, dense layer, decoder).
- ``GCMC(features=False, ...)``: the rating model (``gnnedu.rating.baselines.RatingModel``):
  ``fit``, ``predict``, ``distribution(users, items) -> [n, 5]``, ``embeddings()``,
  ``contributions(user, item) -> DataFrame`` and ``history`` (``RatingHistory``).
- ``node_dropout_mask(num_nodes, p, generator)``: the mask of step 1.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from gnnedu.graph import spmm
from gnnedu.rating.baselines import RatingModel
from gnnedu.rating.data import RatingGraph, rating_graph, rmse

__all__ = [
    "RatingConv", "BilinearDecoder", "GCMCNet", "GCMC", "RatingHistory", "node_dropout_mask",
    "ACCUMULATIONS", "TUNED", "pair_pattern", "level_cross_entropy",
]

ACCUMULATIONS = ("stack", "sum")
# Chosen on validation data carved from u1.base (python -m gnnedu.rating tune, written to
# gnnedu/results/rating/tuning.json): with and without features, the variant with the lower
# validation RMSE and its best epoch (at most 1,200, to train in under 2 minutes on one core).
TUNED = {
    False: dict(weight_sharing=True, epochs=1150, shared_dense=True),   # gcmc: 0.9053
    True: dict(weight_sharing=True, epochs=1075, shared_dense=True),    # gcmc-feat: 0.9027
}
# BilinearDecoder.forward scores all user-movie pairs with two matrix products (and keeps the
# wanted ones) when gradients are needed or the pairs are at least 1/DENSE_SHARE of all; fewer
# pairs are gathered. Training uses forward_pairs, which computes only the training pairs
# (sampled products): about 23 ms per step forward and backward, against 39 ms for all pairs
# and about 70 ms for gathering rows, on one thread here.
DENSE_SHARE = 20


def glorot_(weight: torch.Tensor, fan_in: int, fan_out: int, generator=None) -> torch.Tensor:
    """Fill ``weight`` uniformly in ``+-sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio)."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return weight.uniform_(-bound, bound, generator=generator)


def node_dropout_mask(num_nodes: int, p: float, generator=None) -> torch.Tensor:
    """``[num_nodes, 1]``: 0 for a dropped node (probability ``p``), ``1 / (1 - p)`` otherwise."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    keep = torch.rand(num_nodes, 1, generator=generator) >= p
    return keep.float() / (1.0 - p)


class _LevelProduct(torch.autograd.Function):
    """``C @ x`` for a sparse ``C`` whose transpose is given: the backward pass is ``C^T @ g``
    (one CSR product each way, no transpose built during training)."""

    @staticmethod
    def forward(ctx, adj, adj_t, x):
        ctx.adj_t = adj_t
        return spmm(adj, x)

    @staticmethod
    def backward(ctx, grad):
        return None, None, spmm(ctx.adj_t, grad)


class RatingConv(MessagePassing):
    """GC-MC's graph convolution: one weight matrix per rating level, normalised sums.

    Args:
        in_channels: input size (the number of nodes for one-hot inputs, ``x=None``).
        out_channels: output size; with ``"stack"`` each level gets ``out_channels //
            num_levels`` columns.
        num_levels: number of rating levels (edge types).
        accumulate: ``"stack"`` (concatenate the levels) or ``"sum"``.
        weight_sharing: ordinal sharing, ``W_r = T_1 + ... + T_r``.
        generator: seeds the initialisation.
    """

    def __init__(self, in_channels: int, out_channels: int, num_levels: int = 5,
                 accumulate: str = "stack", weight_sharing: bool = True, generator=None):
        super().__init__(aggr="add")
        if accumulate not in ACCUMULATIONS:
            raise ValueError(f"accumulate must be one of {ACCUMULATIONS}, got {accumulate!r}")
        if accumulate == "stack" and out_channels % num_levels:
            raise ValueError(f"out_channels={out_channels} must be a multiple of "
                             f"num_levels={num_levels} to stack the levels")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_levels, self.accumulate = num_levels, accumulate
        self.weight_sharing = weight_sharing
        per_level = out_channels // num_levels if accumulate == "stack" else out_channels
        self.weight = nn.Parameter(torch.empty(num_levels, in_channels, per_level))  # T_1..T_R
        glorot_(self.weight, in_channels, out_channels, generator)

    def level_weights(self) -> torch.Tensor:
        """``[num_levels, in_channels, per_level]``: ``W_r`` (cumulative sums with sharing)."""
        return self.weight.cumsum(0) if self.weight_sharing else self.weight

    def _messages(self, x, w_r, keep):
        h = w_r if x is None else x @ w_r  # row j: W_r x_j (one-hot x: row j of W_r)
        return h if keep is None else h * keep  # node dropout: dropped senders send zeros

    def _combine(self, per_level: list[torch.Tensor]) -> torch.Tensor:
        if self.accumulate == "stack":
            return torch.cat(per_level, dim=1)
        return torch.stack(per_level).sum(0)

    def forward(self, x: torch.Tensor | None, graph: RatingGraph,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-activation ``[N, out_channels]``: level by level ``C_r @ (W_r x)``, stacked.

        ``x``: ``[N, in_channels]`` or None (one-hot); ``keep``: ``[N, 1]`` node dropout mask.
        """
        weights = self.level_weights()
        out = []
        for r in range(self.num_levels):
            h = self._messages(x, weights[r], keep)
            out.append(self.propagate(graph.adjacency[r], x=h, reverse=graph.adjacency_t[r],
                                      edge_weight=None))
        return self._combine(out)

    def forward_edges(self, x: torch.Tensor | None, graph: RatingGraph,
                      keep: torch.Tensor | None = None) -> torch.Tensor:
        """The same as :meth:`forward`, one PyG message per edge of ``graph.edge_index``."""
        weights = self.level_weights()
        out = []
        for r in range(self.num_levels):
            mask = graph.edge_type == r
            h = self._messages(x, weights[r], keep)
            out.append(self.propagate(graph.edge_index[:, mask], x=h, reverse=None,
                                      edge_weight=graph.edge_weight[mask],
                                      size=(graph.num_nodes, graph.num_nodes)))
        return self._combine(out)

    def message(self, x_j: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return edge_weight.view(-1, 1) * x_j  # c_ij W_r x_j

    def message_and_aggregate(self, adj_t: torch.Tensor, x: torch.Tensor, reverse: torch.Tensor):
        return _LevelProduct.apply(adj_t, reverse, x)  # all messages of a level in one product

    def __repr__(self) -> str:
        return (f"RatingConv({self.in_channels}, {self.out_channels}, levels={self.num_levels}, "
                f"accumulate={self.accumulate!r}, weight_sharing={self.weight_sharing})")


class BilinearDecoder(nn.Module):
    """Logits ``e_u^T Q_r e_i`` for each level ``r``, with ``Q_r = sum_s a_rs P_s``.

    ``basis``: ``[num_basis, dim, dim]`` (orthogonal initialisation), ``coef``:
    ``[num_basis, num_levels]`` (the ``a_rs``).
    """

    def __init__(self, dim: int, num_levels: int = 5, num_basis: int = 2, generator=None):
        super().__init__()
        self.basis = nn.Parameter(torch.empty(num_basis, dim, dim))
        for s in range(num_basis):
            nn.init.orthogonal_(self.basis.data[s], generator=generator)
        self.coef = nn.Parameter(glorot_(torch.empty(num_basis, num_levels), num_basis,
                                         num_levels, generator))

    def level_matrices(self) -> torch.Tensor:
        """``[num_levels, dim, dim]``: the ``Q_r``."""
        return torch.einsum("sr,sde->rde", self.coef, self.basis)

    def forward(self, user_emb: torch.Tensor, item_emb: torch.Tensor, users: torch.Tensor,
                items: torch.Tensor) -> torch.Tensor:
        """Logits ``[n, num_levels]`` of the pairs ``(users[k], items[k])``."""
        num_items = item_emb.shape[0]
        few = users.numel() * DENSE_SHARE < user_emb.shape[0] * num_items
        if few and not torch.is_grad_enabled():  # e_u^T P_s once per user, then the pairs
            left = torch.einsum("ud,sde->use", user_emb, self.basis)
            basis_scores = (left[users] * item_emb[items].unsqueeze(1)).sum(-1)  # [n, S]
        else:  # every (user, item) score per basis, then pick (fast BLAS; training)
            every = torch.stack([(user_emb @ p) @ item_emb.T for p in self.basis])
            basis_scores = every.reshape(len(self.basis), -1).index_select(
                1, users * num_items + items).T
        return basis_scores @ self.coef

    def forward_pairs(self, user_emb: torch.Tensor, item_emb: torch.Tensor,
                      pairs: torch.Tensor) -> torch.Tensor:
        """Logits ``[nnz, num_levels]`` of the pairs stored in ``pairs`` (a sparse CSR
        ``[U, I]`` pattern), in its row-major order: only those scores are computed (sampled
        dense-dense product), forward and backward. The training path."""
        scores = [torch.sparse.sampled_addmm(pairs, user_emb @ p, item_emb.T).values()
                  for p in self.basis]
        return torch.stack(scores, 1) @ self.coef


def pair_pattern(users: torch.Tensor, items: torch.Tensor, num_users: int, num_items: int):
    """``(pairs, order)``: the (user, item) pairs as a sparse CSR ``[U, I]`` pattern (zero
    values) for :meth:`BilinearDecoder.forward_pairs`, and the permutation that puts per-pair
    arrays (e.g. the observed levels) in the pattern's row-major order."""
    order = torch.argsort(users * num_items + items, stable=True)
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        pairs = torch.sparse_coo_tensor(torch.stack([users[order], items[order]]),
                                        torch.zeros(users.numel()), (num_users, num_items))
        return pairs.coalesce().to_sparse_csr(), order


def level_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy ``-log softmax(logits)[target]``, written as
    ``logsumexp(logits) - logits[target]`` (the same number; for five classes about 3x faster
    than ``torch.nn.functional.cross_entropy`` on one thread here)."""
    return (torch.logsumexp(logits, 1) - logits.gather(1, target.unsqueeze(1)).squeeze(1)).mean()


class GCMCNet(nn.Module):
    """Encoder (node dropout, :class:`RatingConv`, ReLU, dense layer) and
    :class:`BilinearDecoder`; see the module docstring. ``features``: ``(user_x, item_x)``
    side features or None."""

    def __init__(self, num_users: int, num_items: int, num_levels: int = 5, hidden: int = 500,
                 dim: int = 75, num_basis: int = 2, accumulate: str = "stack",
                 weight_sharing: bool = True, features=None, feature_hidden: int = 10,
                 shared_dense: bool = False, generator=None):
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.conv = RatingConv(num_users + num_items, hidden, num_levels, accumulate,
                               weight_sharing, generator)
        self.with_features = features is not None
        if self.with_features:
            user_x, item_x = (torch.as_tensor(f, dtype=torch.float32) for f in features)
            if len(user_x) != num_users or len(item_x) != num_items:
                raise ValueError(f"features need {num_users} user rows and {num_items} item "
                                 f"rows, got {len(user_x)} and {len(item_x)}")
            self.register_buffer("user_x", user_x)
            self.register_buffer("item_x", item_x)
            self.user_side = nn.Linear(user_x.shape[1], feature_hidden)
            self.item_side = nn.Linear(item_x.shape[1], feature_hidden)
            if shared_dense:  # one W_d for [h, f] of users and movies
                self.dense = nn.Linear(hidden + feature_hidden, dim, bias=False)
                dense = [self.dense]
            else:
                self.user_dense = nn.Linear(hidden + feature_hidden, dim, bias=False)
                self.item_dense = nn.Linear(hidden + feature_hidden, dim, bias=False)
                dense = [self.user_dense, self.item_dense]
            for layer in [self.user_side, self.item_side] + dense:
                glorot_(layer.weight, layer.in_features, layer.out_features, generator)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
        else:
            self.dense = nn.Linear(hidden, dim, bias=False)
            glorot_(self.dense.weight, hidden, dim, generator)
        self.decoder = BilinearDecoder(dim, num_levels, num_basis, generator)

    def with_side(self, h: torch.Tensor, side: str, index=None) -> torch.Tensor:
        """The dense layer's input for ``side`` ("user" or "item"): ``h`` or, with features,
        ``[h, ReLU(W_f x^f + b_f)]``; ``index`` picks the feature rows matching ``h``."""
        if not self.with_features:
            return h
        x, side_layer = ((self.user_x, self.user_side) if side == "user"
                         else (self.item_x, self.item_side))
        x = x if index is None else x[index]
        return torch.cat([h, torch.relu(side_layer(x))], 1)

    def dense_for(self, side: str) -> nn.Linear:
        """``W_d`` of ``side``: one for both, or (features, not ``shared_dense``) one each."""
        if hasattr(self, "dense"):
            return self.dense
        return self.user_dense if side == "user" else self.item_dense

    def embed(self, h: torch.Tensor, side: str, index=None) -> torch.Tensor:
        """``e = W_d h`` or, with features, ``W_d [h, f]`` (no dropout: evaluation)."""
        return self.dense_for(side)(self.with_side(h, side, index))

    def encode(self, graph: RatingGraph, dropout: float = 0.0, generator=None):
        """``(user_emb [U, dim], item_emb [I, dim])``; ``dropout > 0`` only in training."""
        keep = node_dropout_mask(graph.num_nodes, dropout, generator) if dropout else None
        h = torch.relu(self.conv(None, graph, keep))
        u = self.num_users
        x = torch.cat([self.with_side(h[:u], "user"), self.with_side(h[u:], "item")]) \
            if self.with_features else h
        if dropout:  # ordinary dropout on the dense layer's input, [h, f] with features
            x = x * ((torch.rand(x.shape, generator=generator) >= dropout) / (1.0 - dropout))
        return self.dense_for("user")(x[:u]), self.dense_for("item")(x[u:])

    def forward(self, graph, users, items, dropout: float = 0.0, generator=None):
        """Logits ``[n, num_levels]`` of the pairs ``(users[k], items[k])``."""
        user_emb, item_emb = self.encode(graph, dropout, generator)
        return self.decoder(user_emb, item_emb, users, items)


@dataclass
class RatingHistory:
    """What :meth:`GCMC.fit` recorded: the training loss of every epoch, the validation RMSE
    every ``eval_every`` epochs (averaged parameters), wall and CPU seconds."""

    loss: list = field(default_factory=list)
    val_epochs: list = field(default_factory=list)
    val_rmse: list = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def best_epoch(self) -> int | None:
        """The evaluated epoch with the lowest validation RMSE (None without validation)."""
        if not self.val_rmse:
            return None
        return self.val_epochs[int(np.argmin(self.val_rmse))]

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch: ``epoch``, ``loss``, ``val_rmse`` (NaN where not evaluated)."""
        frame = pd.DataFrame({"epoch": np.arange(1, len(self.loss) + 1), "loss": self.loss})
        val = pd.Series(self.val_rmse, index=self.val_epochs, dtype=float)
        frame["val_rmse"] = frame["epoch"].map(val)
        return frame


class _Average:
    """Exponential moving average of a module's parameters (decay with warm-up)."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay, self.steps = decay, 0
        self.shadow = [p.detach().clone() for p in module.parameters()]

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        for s, p in zip(self.shadow, module.parameters()):
            s.mul_(d).add_(p.detach(), alpha=1.0 - d)

    @torch.no_grad()
    def swap(self, module: nn.Module) -> None:
        """Exchange the module's parameters with the averages (call twice to undo)."""
        for s, p in zip(self.shadow, module.parameters()):
            tmp = p.detach().clone()
            p.copy_(s)
            s.copy_(tmp)


class GCMC(RatingModel):
    """GC-MC as a rating model; ``features=True`` adds user and movie side features
    (``fit(..., features=(user_x, item_x))``). See the module docstring for the layers."""

    name = "GC-MC"
    key = "gcmc"
    train_defaults = dict(lr=0.01, ema=0.995, eval_every=25)

    def __init__(self, features: bool = False, hidden: int = 500, dim: int = 75,
                 num_basis: int = 2, accumulate: str = "stack",
                 weight_sharing: bool | None = None, norm: str = "left", dropout: float = 0.7,
                 feature_hidden: int = 10, shared_dense: bool | None = None,
                 epochs: int | None = None):
        super().__init__()
        tuned = TUNED[bool(features)]
        self.features, self.hidden, self.dim, self.num_basis = features, hidden, dim, num_basis
        self.accumulate, self.norm = accumulate, norm
        self.weight_sharing = tuned["weight_sharing"] if weight_sharing is None else weight_sharing
        self.epochs = tuned["epochs"] if epochs is None else int(epochs)
        self.shared_dense = tuned["shared_dense"] if shared_dense is None else shared_dense
        self.dropout, self.feature_hidden = dropout, feature_hidden
        self.uses_features = features
        if features:
            self.name, self.key = "GC-MC + features", "gcmc-feat"
        self.net: GCMCNet | None = None
        self.history = RatingHistory()

    def _fit(self, ratings, val=None, seed: int = 0, progress: bool = False, features=None,
             epochs: int | None = None, lr: float | None = None, eval_every: int | None = None,
             ema: float | None = None, **_):
        cfg = dict(self.train_defaults, epochs=self.epochs)
        cfg.update({k: v for k, v in dict(epochs=epochs, lr=lr, eval_every=eval_every,
                                          ema=ema).items() if v is not None})
        if self.features and features is None:
            raise ValueError(f"{self.key} needs features=(user_x, item_x), e.g. "
                             "gnnedu.rating.side_features(ml)")
        self.graph = rating_graph(ratings, self.num_users, self.num_items, self.norm)
        gen = torch.Generator().manual_seed(seed)
        self.net = GCMCNet(self.num_users, self.num_items, self.graph.num_levels, self.hidden,
                           self.dim, self.num_basis, self.accumulate, self.weight_sharing,
                           features if self.features else None, self.feature_hidden,
                           self.shared_dense, gen)
        self.levels = torch.tensor(self.graph.levels, dtype=torch.float32)
        pairs, order = pair_pattern(self.graph.users, self.graph.items, self.num_users,
                                    self.num_items)
        target = self.graph.level[order]  # observed levels, in the pattern's order
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg["lr"])
        average = _Average(self.net, cfg["ema"])
        self.history = history = RatingHistory()
        bar = range(1, int(cfg["epochs"]) + 1)
        if progress:
            from tqdm.auto import tqdm

            # leave=True: the finished bar stays in the notebook (a closed widget bar would
            # leave an empty widget output behind)
            bar = tqdm(bar, desc=self.key, leave=True)
        start, cpu_start = time.perf_counter(), time.process_time()
        for epoch in bar:
            opt.zero_grad()
            user_emb, item_emb = self.net.encode(self.graph, self.dropout, gen)
            logits = self.net.decoder.forward_pairs(user_emb, item_emb, pairs)
            loss = level_cross_entropy(logits, target)
            loss.backward()
            opt.step()
            average.update(self.net)
            history.loss.append(loss.item())
            if val is not None and (epoch % cfg["eval_every"] == 0 or epoch == cfg["epochs"]):
                average.swap(self.net)  # evaluate the averaged parameters
                history.val_epochs.append(epoch)
                history.val_rmse.append(rmse(self.predict(val["user"], val["item"]),
                                             val["rating"]))
                average.swap(self.net)
                if progress:
                    bar.set_postfix(loss=f"{loss.item():.4f}",
                                    val_rmse=f"{history.val_rmse[-1]:.4f}")
        history.seconds = time.perf_counter() - start
        history.cpu_seconds = time.process_time() - cpu_start
        average.swap(self.net)  # the model keeps the averaged parameters

    @torch.no_grad()
    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(user_emb [U, dim], item_emb [I, dim])`` of the fitted model (no dropout)."""
        self._check_fitted()
        return self.net.encode(self.graph)

    @torch.no_grad()
    def distribution(self, users, items) -> torch.Tensor:
        """``p(r | u, i)``: ``[n, 5]``, each row sums to 1 (no fallback: the raw model)."""
        users, items = self._query(users, items)
        user_emb, item_emb = self.embeddings()
        return torch.softmax(self.net.decoder(user_emb, item_emb, users, items), dim=1)

    def _predict_known(self, users, items):
        user_emb, item_emb = self.net.encode(self.graph)
        probs = torch.softmax(self.net.decoder(user_emb, item_emb, users, items), dim=1)
        return probs @ self.levels  # expected rating sum_r r p(r | u, i)

    @torch.no_grad()
    def contributions(self, user: int, item: int) -> pd.DataFrame:
        """How much each of ``user``'s base ratings moves the prediction for ``item``.

        Leave-one-out, exact for this one-layer encoder: the user's hidden vector is recomputed
        without the message of one rated movie, with the normalisation of a user who has one
        rating fewer. The movie's side does not change (exact unless ``item`` is that rated
        movie). Returns one row per rated movie, largest ``|change|`` first: ``item``,
        ``rating``, ``without`` (the expected rating without it) and ``change`` (the
        prediction minus ``without``; positive: this rating pushed the prediction up).
        """
        self._check_fitted()
        user, item = int(user), int(item)
        net = self.net
        senders, level = self.graph.neighbours(user)
        n = senders.numel()
        if n == 0:
            return pd.DataFrame(columns=["item", "rating", "without", "change"])
        weights = net.conv.level_weights()                        # [R, N, per]
        scale = self.graph.edge_weight[self.graph.edge_index[1] == user]
        messages = weights[level, senders] * scale.unsqueeze(1)  # c_uj W_r[j], [n, per]
        if net.conv.accumulate == "stack":  # message k fills the block of its level
            full = torch.zeros(n, weights.shape[0], weights.shape[2])
            full[torch.arange(n), level] = messages
            full = full.reshape(n, -1)
        else:
            full = messages
        z = full.sum(0, keepdim=True)
        # without message k, at the normalisation of a user with n - 1 ratings
        if n == 1:  # without its only rating the user receives nothing
            renorm = 0.0
        else:
            renorm = n / (n - 1) if self.norm == "left" else math.sqrt(n / (n - 1))
        h = torch.relu(torch.cat([z, (z - full) * renorm]))
        user_emb = net.embed(h, "user", index=torch.full((n + 1,), user))
        _, item_emb = self.embeddings()
        left = torch.einsum("nd,sde->nse", user_emb, net.decoder.basis)
        logits = (left * item_emb[item]).sum(-1) @ net.decoder.coef
        expected = torch.softmax(logits, 1) @ self.levels
        frame = pd.DataFrame({
            "item": (senders - self.num_users).numpy(),
            "rating": [self.graph.levels[int(r)] for r in level],
            "without": expected[1:].double().numpy(),
        })
        frame["change"] = float(expected[0]) - frame["without"]
        order = frame["change"].abs().sort_values(ascending=False, kind="stable").index
        return frame.loc[order].reset_index(drop=True)

    def __repr__(self) -> str:
        return (f"GCMC(features={self.features}, hidden={self.hidden}, dim={self.dim}, "
                f"num_basis={self.num_basis}, accumulate={self.accumulate!r}, "
                f"weight_sharing={self.weight_sharing}, norm={self.norm!r}, "
                f"dropout={self.dropout}, epochs={self.epochs}"
                + (f", shared_dense={self.shared_dense})" if self.features else ")"))
