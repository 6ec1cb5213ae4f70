"""Recommenders with one small interface (baselines in notebook 06, graph models in notebook 07).

API summary
-----------
Every model is a ``Recommender`` (a ``torch.nn.Module``)::

    model = LightGCN()                      # hyper-parameters in the constructor
    model.fit(train, val=None, **options)   # train: BipartiteGraph or DataFrame; returns model
    model.score(users)                      # FloatTensor [len(users), num_items]
    model.recommend(users=None, k=10)       # LongTensor [len(users), k], training items masked
    model.graph                             # the BipartiteGraph it was fitted on

Models (``make_model(name, **kwargs)`` builds one by its ``MODELS`` key; ``MODELS`` is the one
list of model names: ``gnnedu bench --help`` and ``benchmarks/tune_p1.py`` read it):

- ``Random()`` — "random": uniform random scores from a generator seeded by ``fit(..., seed=)``,
  the floor every model must clear.
- ``Popularity()`` — "popularity": the same ranking for everyone, by training count.
- ``ItemKNN(k=200)`` — "itemknn": cosine item-item similarity, top-``k`` neighbours per item.
- ``EASE(lam=500.0)`` — "ease": Steck's closed-form linear autoencoder (WWW 2019).
- ``GraphFilter()`` — "graphfilter": training-free low-pass filter, score = r_u R~^T R~ (the
  item-item block of two LightGCN propagation steps; the linear filter of Shen et al.,
  CIKM 2021, "GF-CF").
- Graph filters that scale, defined in ``gnnedu.filters`` (notebook 11): "gfcf" (``GFCF``,
  the linear filter plus an ideal low-pass filter, scored in user blocks) and "bspm" (``BSPM``,
  blurring-sharpening process, Choi et al., SIGIR 2023).
- ``MF(dim=64)`` — "mf" (alias "bpr-mf"): matrix factorisation trained with BPR.
- ``GCNRecommender(dim=64, num_layers=2, transform=True, activation="relu", dropout=0.3,
  self_loops=True, combine="last", layer_weights=None, bias=True)`` — "gcn": the source article's
  formulation,
  H^(l+1) = act(A~ H^(l) W^(l) + b^(l)) with GCNConv normalisation A~ = D~^-1/2 (A + I) D~^-1/2,
  dropout between layers, scores from the last layer. Each ingredient is a flag, so notebook 07's
  ablation turns them off one by one.
- ``LightGCN(dim=64, num_layers=3, layer_weights=None)`` — "lightgcn": ``GCNRecommender`` with no
  transforms, no nonlinearity, no dropout, no self-loops, and final embedding
  sum_k alpha_k E^(k) with alpha_k = 1/(L+1) unless ``layer_weights`` is given (He et al.,
  SIGIR 2020).
- Models with node features, defined in ``gnnedu.featmodels`` (notebook 09): "features"
  (``FeatureMF``, features only, no graph, no IDs), "mffeat" (``FeatureIDMF``, features plus
  ID embeddings, no graph), "lightgcnfeat" (``FeatureLightGCN``, LightGCN whose layer 0 comes
  from features), "heterosage" (``HeteroSAGE``, PyG ``SAGEConv`` made heterogeneous with
  ``to_hetero``); ``make_model`` also takes "lightgcn-feat", "hetero-sage", "mf-feat".

Trained models (``EmbeddingRecommender``: MF, GCNRecommender, LightGCN) also offer
``embeddings() -> (user_emb, item_emb)`` (final, used for scoring), ``layer_embeddings()`` (list of
``[num_nodes, dim]``, layer 0 first) and ``history`` (``gnnedu.train.History``) after ``fit``.
``fit(train, val=None, config=None, **options)``: ``options`` are ``gnnedu.train.TrainConfig``
fields (``epochs``, ``batch_size``, ``lr``, ``reg``, ``num_neg``, ``seed``, ``progress``, ...);
a model's defaults are its ``train_defaults``, chosen on a validation slice of the training data
(``benchmarks/tune_p1.py``; see the comments). Item-item models (ItemKNN, EASE, GraphFilter)
keep ``R`` (users x items) and ``B`` (items x items) with score = R[users] @ B.
Fold-in of new users and score explanations: ``gnnedu.explain``.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from gnnedu.graph import BipartiteGraph, as_graph, propagate
from gnnedu.train import TrainConfig, train_bpr

__all__ = [
    "Recommender", "Random", "Popularity", "ItemKNN", "EASE", "GraphFilter",
    "EmbeddingRecommender", "MF", "GCNRecommender", "LightGCN", "MODELS", "make_model",
]


class Recommender(nn.Module):
    """Base class: subclasses implement ``fit`` and ``score``."""

    name = "recommender"

    def __init__(self):
        super().__init__()
        self.graph: BipartiteGraph | None = None

    @property
    def num_users(self) -> int | None:
        return None if self.graph is None else self.graph.num_users

    @property
    def num_items(self) -> int | None:
        return None if self.graph is None else self.graph.num_items

    def attach(self, graph: BipartiteGraph) -> None:
        """Remember the training graph (its items are masked by ``recommend``)."""
        self.graph = graph

    def _check_fitted(self) -> None:
        if self.graph is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(train) first")

    def _users(self, users) -> torch.Tensor:
        self._check_fitted()
        if users is None:
            return torch.arange(self.graph.num_users)
        users = torch.as_tensor(users, dtype=torch.long).reshape(-1)
        if users.numel() and (users.min() < 0 or users.max() >= self.graph.num_users):
            raise IndexError(f"user index out of range 0..{self.graph.num_users - 1}")
        return users

    def fit(self, train, val=None, num_users: int | None = None, num_items: int | None = None,
            **options) -> Recommender:
        raise NotImplementedError

    def score(self, users=None) -> torch.Tensor:
        """Scores ``[len(users), num_items]`` (higher = recommend first); all users if None."""
        raise NotImplementedError

    @torch.no_grad()
    def recommend(self, users=None, k: int = 10, exclude_seen: bool = True) -> torch.Tensor:
        """Top-``k`` item indices per user, best first; training items are never recommended."""
        from gnnedu.metrics import topk_masked

        users = self._users(users)
        scores = self.score(users)
        seen = None
        if exclude_seen:
            r = self.graph.interactions
            seen = torch.zeros(users.numel(), self.graph.num_items, dtype=torch.bool)
            ptr, col = r.crow_indices(), r.col_indices()
            for row, u in enumerate(users.tolist()):
                seen[row, col[ptr[u]: ptr[u + 1]]] = True
        return topk_masked(scores, k, seen)

    def extra_repr(self) -> str:
        return ""


def _dense_interactions(graph: BipartiteGraph, dtype=torch.float64) -> torch.Tensor:
    r = torch.zeros(graph.num_users, graph.num_items, dtype=dtype)
    r[graph.users, graph.items] = 1.0
    return r


class Random(Recommender):
    """Uniform random scores (seeded): the floor every model must clear. ``fit(train, seed=s)``
    draws the whole ``[num_users, num_items]`` score matrix from a generator seeded with ``s``."""

    name = "Random"

    def fit(self, train, val=None, num_users=None, num_items=None, seed: int = 0, **options):
        self.attach(as_graph(train, num_users, num_items))
        gen = torch.Generator().manual_seed(int(seed))
        self.scores = torch.rand(self.graph.num_users, self.graph.num_items, generator=gen)
        return self

    def score(self, users=None):
        return self.scores[self._users(users)]


class Popularity(Recommender):
    """Recommend the items most users interacted with in training (same list for everyone)."""

    name = "Popularity"

    def fit(self, train, val=None, num_users=None, num_items=None, **options):
        self.attach(as_graph(train, num_users, num_items))
        self.counts = torch.bincount(self.graph.items, minlength=self.graph.num_items).float()
        return self

    def score(self, users=None):
        users = self._users(users)
        return self.counts.unsqueeze(0).expand(users.numel(), -1).clone()


class _ItemItem(Recommender):
    """Score = R_u @ B for an item-item matrix B computed in ``fit``."""

    def _item_matrix(self, r: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fit(self, train, val=None, num_users=None, num_items=None, **options):
        self.attach(as_graph(train, num_users, num_items))
        r = _dense_interactions(self.graph)
        self.B = self._item_matrix(r).to(torch.get_default_dtype())
        self.R = r.to(torch.get_default_dtype())
        return self

    def score(self, users=None):
        users = self._users(users)
        return self.R[users] @ self.B


class ItemKNN(_ItemItem):
    """Item-based nearest neighbours: cosine similarity between item columns of R, keeping the
    ``k`` most similar items per item; a user's score for j sums the similarities of j to the
    user's items."""

    name = "ItemKNN"

    # Chosen on a 10% validation slice of the P1 training data (seed 0), by recall@20,
    # from k in {25, 50, 100, 200, 400, all} (benchmarks/tune_p1.py).
    def __init__(self, k: int = 200):
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k

    def _item_matrix(self, r):
        co = r.T @ r                                      # co-occurrence counts
        norm = co.diagonal().sqrt()
        sim = co / (norm.unsqueeze(0) * norm.unsqueeze(1)).clamp(min=1e-12)
        sim.fill_diagonal_(0.0)
        k = min(self.k, sim.shape[0] - 1)
        # keep, for each target item j (a column), its k most similar items i
        top = torch.topk(sim, k, dim=0).indices
        keep = torch.zeros_like(sim, dtype=torch.bool).scatter_(0, top, True)
        return sim * keep

    def extra_repr(self):
        return f"k={self.k}"


class EASE(_ItemItem):
    """Embarrassingly shallow autoencoder (Steck, WWW 2019): the item-item matrix B minimising
    ||R - R B||^2 + lam ||B||^2 with diag(B) = 0, in closed form: P = (R^T R + lam I)^-1,
    B_ij = -P_ij / P_jj, B_jj = 0."""

    name = "EASE"

    # lam chosen on a 10% validation slice of the P1 training data (seed 0), by recall@20,
    # from {50, 100, 200, 300, 500, 1000} (benchmarks/tune_p1.py).
    def __init__(self, lam: float = 500.0):
        super().__init__()
        if lam <= 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        self.lam = lam

    def _item_matrix(self, r):
        gram = r.T @ r
        gram.diagonal().add_(self.lam)
        p = torch.linalg.inv(gram)
        b = -p / p.diagonal().unsqueeze(0)
        b.fill_diagonal_(0.0)
        return b

    def extra_repr(self):
        return f"lam={self.lam}"


class GraphFilter(_ItemItem):
    """Training-free graph filter: score = r_u R~^T R~ with R~ = D_U^-1/2 R D_I^-1/2.

    R~^T R~ is the item-item block of A_hat^2 for the bipartite normalized adjacency A_hat, i.e.
    two steps of LightGCN-style propagation; as a filter on the item-item graph it keeps the
    smooth (low-frequency) signals (the linear filter of GF-CF, Shen et al., CIKM 2021).
    """

    name = "GraphFilter"

    def _item_matrix(self, r):
        du = r.sum(1).clamp(min=1.0)
        di = r.sum(0).clamp(min=1.0)
        rt = r / du.sqrt().unsqueeze(1) / di.sqrt().unsqueeze(0)
        return rt.T @ rt


class EmbeddingRecommender(Recommender):
    """A model with a layer-0 embedding per user and item, trained with BPR."""

    name = "embedding"
    # Overridden per subclass; keys are TrainConfig fields.
    train_defaults: dict = {}

    def __init__(self, dim: int = 64, init_std: float = 0.1):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.init_std = init_std
        self.embedding: nn.Parameter | None = None   # [num_users + num_items, dim], users first
        self.history = None

    def attach(self, graph: BipartiteGraph) -> None:
        """Bind to a graph, creating the embedding table for its users and items."""
        super().attach(graph)
        if self.embedding is None or self.embedding.shape[0] != graph.num_nodes:
            self.embedding = nn.Parameter(torch.empty(graph.num_nodes, self.dim))
            self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        if self.embedding is not None:
            with torch.no_grad():
                self.embedding.normal_(0.0, self.init_std, generator=generator)

    def param_groups(self, weight_decay: float = 0.0) -> list[dict]:
        """Adam parameter groups: embeddings (regularised in the loss) and other weights."""
        other = [p for n, p in self.named_parameters() if n != "embedding"]
        groups = [{"params": [self.embedding], "weight_decay": 0.0}]
        if other:
            groups.append({"params": other, "weight_decay": weight_decay})
        return groups

    def layer_embeddings(self) -> list[torch.Tensor]:
        """Node embeddings after each layer, layer 0 (the free embeddings) first."""
        return [self.embedding]

    def final_embeddings(self) -> torch.Tensor:
        """Node embeddings used for scoring ``[num_nodes, dim]``."""
        return self.layer_embeddings()[-1]

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(user_emb [num_users, d], item_emb [num_items, d])``, final, without gradients."""
        self._check_fitted()
        with torch.no_grad():
            out = self.final_embeddings()
        return out[: self.graph.num_users], out[self.graph.num_users:]

    def bpr_scores(self, graph, users, pos, neg):
        """Scores of (user, positive) ``[B]`` and (user, negatives) ``[B, n]``, and the mean over
        the batch of the squared norms of its layer-0 embeddings (user + positive + the mean over
        the negatives), for the L2 term. ``neg`` ``[B, n, M]`` holds M candidates per negative
        (hard negatives, ``TrainConfig.neg_candidates``): the highest-scoring one is used."""
        out = self.final_embeddings()
        nu = graph.num_users
        if neg.dim() == 3:  # pick each negative among its candidates by the current scores
            neg = self._hardest(out.detach(), nu, users, neg)
        b, n_neg = users.numel(), neg.shape[1]
        # Score all (user, item) pairs at once: b positives, then b * n_neg negatives.
        src = torch.cat([users, users.repeat_interleave(n_neg)])
        dst = nu + torch.cat([pos, neg.reshape(-1)])
        scores = (out.index_select(0, src) * out.index_select(0, dst)).sum(-1)
        pos_scores, neg_scores = scores[:b], scores[b:].view(b, n_neg)
        # sum over batch rows of ||e||^2 = sum over nodes of (times in batch) * ||e||^2:
        # squaring the table once is cheaper than gathering the batch's rows a second time.
        times = (torch.bincount(src[:b], minlength=graph.num_nodes)
                 + torch.bincount(dst[:b], minlength=graph.num_nodes)
                 + torch.bincount(dst[b:], minlength=graph.num_nodes) / n_neg)
        l2 = (times * self.embedding.pow(2).sum(1)).sum() / b
        return pos_scores, neg_scores, l2

    # Users per block when picking hard negatives: the candidates' embeddings of a block
    # (256 x n x M x d floats, 8 MB for n=4, M=32, d=64) stay in cache; one block for the whole
    # batch (537 MB at batch 16,384) was three times slower. Each score is the same either way.
    HARD_NEGATIVE_BLOCK = 256

    @torch.no_grad()
    def _hardest(self, out, num_users, users, neg):
        """``[B, n]``: of each negative's M candidates ``neg[b, j, :]``, the highest-scoring for
        user ``users[b]`` under the final embeddings ``out``."""
        picked = torch.empty(neg.shape[:2], dtype=neg.dtype, device=neg.device)
        step = self.HARD_NEGATIVE_BLOCK
        for lo in range(0, users.numel(), step):
            block = neg[lo: lo + step]
            cand = out.index_select(0, num_users + block.reshape(-1)).view(*block.shape, -1)
            best = (cand * out.index_select(0, users[lo: lo + step])[:, None, None]).sum(-1)
            picked[lo: lo + step] = block.gather(2, best.argmax(2, keepdim=True)).squeeze(2)
        return picked

    @torch.no_grad()
    def score(self, users=None):
        users = self._users(users)
        frozen = getattr(self, "_frozen_embeddings", None)
        user_emb, item_emb = frozen if frozen is not None else self.embeddings()
        # on a GPU (training with device="cuda"): score there, return the scores on the CPU
        return (user_emb[users.to(user_emb.device)] @ item_emb.T).cpu()

    @contextlib.contextmanager
    def frozen_scores(self):
        """Within the block, ``score`` reuses one computation of the final embeddings instead of
        propagating the whole graph at every call (a full-ranking evaluation scores users in
        batches). The parameters must not change inside the block."""
        self._frozen_embeddings = self.embeddings()
        try:
            yield self
        finally:
            self._frozen_embeddings = None

    def fit(self, train, val=None, num_users=None, num_items=None,
            config: TrainConfig | None = None, **options):
        """Train with BPR (``gnnedu.train.train_bpr``). Settings: ``config`` (a ``TrainConfig``)
        if given, else the model's ``train_defaults``; ``options`` (``TrainConfig`` fields)
        override either. ``val``: interactions held out of ``train`` for early stopping."""
        graph = as_graph(train, num_users, num_items)
        if config is None:  # the model's defaults, then the options given here
            config = TrainConfig(**self.train_defaults)
        self.history = train_bpr(self, graph, val=val, config=config, **options)
        return self


class MF(EmbeddingRecommender):
    """Matrix factorisation: score(u, i) = e_u . e_i, trained with BPR (Rendle et al., 2009)."""

    name = "BPR-MF"
    # Chosen on a 10% validation slice of the P1 seed-0 training data by recall@20
    # (benchmarks/tune_p1.py: lr in {1e-2, 3e-3} x reg in {1e-4, 1e-3, 1e-2, 3e-2, 1e-1};
    # epochs = the early-stopping best epoch).
    train_defaults = dict(epochs=70, batch_size=4096, lr=3e-3, reg=3e-2, num_neg=4)


_ACTIVATIONS = {
    None: None, "none": None, "relu": torch.relu, "tanh": torch.tanh,
    "leaky_relu": nn.functional.leaky_relu, "sigmoid": torch.sigmoid,
}


class GCNRecommender(EmbeddingRecommender):
    """Graph convolutional recommender; every ingredient is a switch (notebook 07's ablation).

    Layer l (1..L): H^(l) = A H^(l-1) W^(l) + b^(l), with ``A`` the normalized adjacency (with
    self-loops, GCNConv style, if ``self_loops``); between layers (not after the last)
    ``activation`` and ``dropout``. ``transform=False`` drops W and b. The final embedding is
    ``combine``: "last" (H^(L), the article), "mean" (the mean of H^(0..L), LightGCN) or a
    weighted sum with ``layer_weights`` (L + 1 numbers, layer 0 first).
    """

    name = "GCN"
    # Chosen on a 10% validation slice of the P1 seed-0 training data by recall@20
    # (benchmarks/tune_p1.py: layers in {1, 2, 3} x dropout in {0, 0.1, 0.3}; 2 layers with
    # dropout 0.3 won; epochs = the early-stopping best epoch).
    train_defaults = dict(epochs=55, batch_size=4096, lr=1e-2, reg=1e-3, num_neg=4,
                          weight_decay=0.0)

    def __init__(self, dim: int = 64, num_layers: int = 2, transform: bool = True,
                 activation: str | None = "relu", dropout: float = 0.3, self_loops: bool = True,
                 combine: str = "last", layer_weights=None, bias: bool = True,
                 init_std: float = 0.1):
        super().__init__(dim, init_std)
        if num_layers < 0:
            raise ValueError(f"num_layers must be >= 0, got {num_layers}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(map(str, _ACTIVATIONS))}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if combine not in ("last", "mean", "weights"):
            raise ValueError("combine must be 'last', 'mean' or 'weights'")
        if layer_weights is not None:
            layer_weights = [float(w) for w in layer_weights]
            if len(layer_weights) != num_layers + 1:
                raise ValueError(f"layer_weights needs {num_layers + 1} numbers (layers 0..L)")
            combine = "weights"
        elif combine == "weights":
            raise ValueError("combine='weights' needs layer_weights")
        self.num_layers = num_layers
        self.transform = transform
        self.activation = activation
        self.dropout = dropout
        self.self_loops = self_loops
        self.combine = combine
        self.layer_weights = layer_weights
        self.bias = bias
        self.linears = nn.ModuleList(
            nn.Linear(dim, dim, bias=bias) for _ in range(num_layers if transform else 0))

    def reset_parameters(self, generator=None):
        super().reset_parameters(generator)
        with torch.no_grad():
            for lin in getattr(self, "linears", []):
                bound = math.sqrt(6.0 / (2 * self.dim))   # Glorot uniform, as GCNConv
                lin.weight.uniform_(-bound, bound, generator=generator)
                if lin.bias is not None:
                    lin.bias.zero_()

    def alphas(self) -> list[float]:
        """Weights of layers 0..L in the final embedding."""
        if self.combine == "last":
            return [0.0] * self.num_layers + [1.0]
        if self.combine == "mean":
            return [1.0 / (self.num_layers + 1)] * (self.num_layers + 1)
        return list(self.layer_weights)

    def layer_embeddings(self):
        self._check_fitted()
        adj = self.graph.adjacency(self.self_loops)
        act = _ACTIVATIONS[self.activation]
        h = self.embedding
        layers = [h]
        for layer in range(self.num_layers):
            h = propagate(adj, h)                           # A h: mean of neighbours, normalized
            if self.transform:
                h = self.linears[layer](h)                  # h W + b
            if layer < self.num_layers - 1:
                if act is not None:
                    h = act(h)
                if self.dropout > 0:
                    h = nn.functional.dropout(h, self.dropout, self.training)
            layers.append(h)
        return layers

    def final_embeddings(self):
        layers = self.layer_embeddings()
        if self.combine == "last":
            return layers[-1]
        out = None
        for alpha, h in zip(self.alphas(), layers):
            if alpha != 0.0:  # out += alpha * h in one fused operation
                out = alpha * h if out is None else torch.add(out, h, alpha=alpha)
        return out if out is not None else torch.zeros_like(layers[0])

    def extra_repr(self):
        return (f"dim={self.dim}, num_layers={self.num_layers}, transform={self.transform}, "
                f"activation={self.activation}, dropout={self.dropout}, "
                f"self_loops={self.self_loops}, combine={self.combine}")


class LightGCN(GCNRecommender):
    """LightGCN (He et al., SIGIR 2020): E^(k) = A_hat E^(k-1), final = sum_k alpha_k E^(k).

    The same class as ``GCNRecommender`` with transforms, nonlinearity, dropout and self-loops
    switched off and the layers averaged (or weighted by ``layer_weights``).
    """

    name = "LightGCN"
    # Chosen on a 10% validation slice of the P1 seed-0 training data by recall@20
    # (benchmarks/tune_p1.py: layers in {2, 3, 4} x reg in {1e-4, 1e-3, 1e-2}, then around the
    # winner reg in {5e-4, 2e-3, 3e-3, 5e-3}, lr 5e-3 and 2e-2, dim 128, 8 negatives, batch
    # 2048, 2 and 4 layers; 3 layers, dim 64, reg 2e-3 won (2 layers tied on recall, 0.3287 vs
    # 0.3284, and lost on NDCG); epochs = the early-stopping best epoch).
    train_defaults = dict(epochs=80, batch_size=4096, lr=1e-2, reg=2e-3, num_neg=4)

    def __init__(self, dim: int = 64, num_layers: int = 3, layer_weights=None,
                 init_std: float = 0.1):
        super().__init__(dim=dim, num_layers=num_layers, transform=False, activation=None,
                         dropout=0.0, self_loops=False, combine="mean",
                         layer_weights=layer_weights, init_std=init_std)

    def extra_repr(self):
        return f"dim={self.dim}, num_layers={self.num_layers}, alphas={self.alphas()}"


MODELS = {
    "random": Random,
    "popularity": Popularity,
    "itemknn": ItemKNN,
    "ease": EASE,
    "graphfilter": GraphFilter,
    "mf": MF,
    "gcn": GCNRecommender,
    "lightgcn": LightGCN,
}

# -- models defined in other modules (notebooks 09 and 11) --
# The feature models (gnnedu.featmodels) and the graph filters GF-CF and BSPM (gnnedu.filters)
# subclass Recommender from this module: registered here by a builder that imports them on
# first use, so that neither module imports the other at load time.


def _lazy(module: str, class_name: str):
    """A builder for ``gnnedu.<module>.<class_name>(**kwargs)`` that imports on first call."""
    def build(**kwargs):
        import importlib

        return getattr(importlib.import_module(f"gnnedu.{module}"), class_name)(**kwargs)

    build.__name__ = build.__qualname__ = class_name
    return build


MODELS.update(features=_lazy("featmodels", "FeatureMF"),
              mffeat=_lazy("featmodels", "FeatureIDMF"),
              lightgcnfeat=_lazy("featmodels", "FeatureLightGCN"),
              heterosage=_lazy("featmodels", "HeteroSAGE"),
              gfcf=_lazy("filters", "GFCF"), bspm=_lazy("filters", "BSPM"))


def make_model(name: str, **kwargs) -> Recommender:
    """Build a model by its key in :data:`MODELS` (case-insensitive)."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"bprmf": "mf", "pop": "popularity", "knn": "itemknn"}
    key = aliases.get(key, key)
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[key](**kwargs)
