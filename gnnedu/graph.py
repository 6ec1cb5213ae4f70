"""The user-item bipartite graph and its normalized adjacency (taught in notebook 05).

API summary
-----------
- ``build_graph(train, num_users, num_items) -> BipartiteGraph``: ``train`` is a DataFrame with
  columns ``user``, ``item`` (0-based indices) or a pair ``(users, items)`` of index arrays.
- ``BipartiteGraph`` fields and helpers:

  - ``num_users``, ``num_items``, ``num_nodes`` (users first, then items);
  - ``users``, ``items``: the training interactions (int64 tensors, duplicates removed);
  - ``edge_index``: PyG ``[2, 2E]`` tensor, user ``u`` is node ``u``, item ``i`` is node
    ``num_users + i``, each interaction stored in both directions;
  - ``degree``: float tensor ``[num_nodes]``; ``user_degree``, ``item_degree``;
  - ``adj``: D^-1/2 A D^-1/2 as a torch sparse CSR matrix ``[num_nodes, num_nodes]``;
  - ``adjacency(self_loops=True)``: the GCNConv-style D~^-1/2 (A + I) D~^-1/2 (cached);
  - ``interactions``: the binary user x item matrix R as sparse CSR; ``item_lists()``;
  - ``propagate(x, self_loops=False)``: ``adj @ x`` through :func:`propagate`;
  - ``to(device)``: a copy on another device (training on a GPU, notebook 11).
- ``to_edge_index(users, items, num_users)``, ``node_degree(edge_index, num_nodes)``,
  ``normalized_adjacency(edge_index, num_nodes, self_loops=False)``: the pieces, exposed for the
  notebook that derives them.
- ``propagate(adj, x)``: sparse-dense product ``adj @ x`` whose backward pass reuses ``adj``
  (valid because the normalized adjacency is symmetric: d(adj @ x)/dx^T = adj^T = adj).
  ``spmm(adj, x)`` is the product itself, done in column blocks of ``SPMM_BLOCK``.

- ``as_graph(train, num_users, num_items)``: ``train`` if it is a ``BipartiteGraph``, else
  ``build_graph(...)``.
- ``propagation_scores(graph, layers)``: the user-item block of ``adj ** layers``, a
  recommender with no parameters (notebook 05's leakage demonstration).

Why a custom autograd function: ``torch.sparse.mm`` would build the transpose of ``adj`` in every
backward pass (about 3x slower here), and PyG message passing over ``edge_index`` gathers and
scatters one message per edge. One fused CSR product forward and one backward is the whole cost
of a LightGCN layer; a LightGCN epoch on MovieLens-100K was about 40x faster than PyG's
``LightGCN`` over ``edge_index`` (``benchmarks/speed_lightgcn.py``, output in
``benchmarks/README.md``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "BipartiteGraph", "build_graph", "to_edge_index", "node_degree", "normalized_adjacency",
    "propagate", "SymmetricPropagate", "spmm", "SPMM_BLOCK", "as_index_pairs", "as_graph",
    "propagation_scores",
]


def _long(values) -> torch.Tensor:
    """A 1-D int64 tensor from a tensor, array, Series or list (copied, so writable)."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(torch.long).reshape(-1).clone()
    return torch.from_numpy(np.array(values, dtype=np.int64).reshape(-1))


def as_index_pairs(data) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(users, items)`` int64 tensors from a DataFrame (columns ``user``, ``item``),
    a ``BipartiteGraph``, or a pair of index arrays."""
    if isinstance(data, BipartiteGraph):
        return data.users, data.items
    if hasattr(data, "columns"):
        missing = [c for c in ("user", "item") if c not in data.columns]
        if missing:
            raise ValueError(f"interaction table lacks column(s) {missing}")
        users, items = data["user"].to_numpy(), data["item"].to_numpy()
    else:
        try:
            users, items = data
        except (TypeError, ValueError):
            raise TypeError("expected a DataFrame with user/item columns, a BipartiteGraph "
                            "or a (users, items) pair") from None
    users, items = _long(users), _long(items)
    if users.shape != items.shape:
        raise ValueError(f"users and items differ in length: {len(users)} vs {len(items)}")
    return users, items


def to_edge_index(users: torch.Tensor, items: torch.Tensor, num_users: int) -> torch.Tensor:
    """PyG ``edge_index`` of the bipartite graph: user->item edges, then item->user edges.

    Item ``i`` becomes node ``num_users + i`` so users and items share one node numbering.
    """
    item_nodes = items + num_users
    return torch.stack([torch.cat([users, item_nodes]), torch.cat([item_nodes, users])])


def node_degree(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Number of edges leaving each node (float tensor ``[num_nodes]``)."""
    return torch.bincount(edge_index[0], minlength=num_nodes).to(torch.get_default_dtype())


def normalized_adjacency(edge_index: torch.Tensor, num_nodes: int,
                         self_loops: bool = False) -> torch.Tensor:
    """Symmetric normalized adjacency as a sparse CSR matrix.

    ``self_loops=False``: D^-1/2 A D^-1/2 (LightGCN, NGCF).
    ``self_loops=True``:  D~^-1/2 (A + I) D~^-1/2 with D~ = D + I (Kipf & Welling's GCN, PyG's
    ``GCNConv``). Entry (i, j) is 1 / sqrt(d_i d_j); nodes of degree 0 get an all-zero row.
    """
    row, col = edge_index[0], edge_index[1]
    if self_loops:
        loops = torch.arange(num_nodes)
        row, col = torch.cat([row, loops]), torch.cat([col, loops])
    deg = torch.bincount(row, minlength=num_nodes).to(torch.get_default_dtype())
    # Step 1: D^-1/2, with 0 for isolated nodes instead of inf.
    inv_sqrt = deg.pow(-0.5)
    inv_sqrt[deg == 0] = 0.0
    # Step 2: each edge weight is 1/sqrt(d_i d_j).
    values = inv_sqrt[row] * inv_sqrt[col]
    # Step 3: coalesce (sorts, merges duplicates) and convert to CSR for fast products.
    return _to_csr(torch.stack([row, col]), values, (num_nodes, num_nodes))


def _to_csr(index: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    """Sparse CSR matrix from COO ``index``/``values`` (duplicates summed)."""
    coo = torch.sparse_coo_tensor(index, values, shape, check_invariants=True)
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        csr = coo.coalesce().to_sparse_csr()
        # int32 indices: the sparse-dense product reads less memory (one of the details that
        # each took a few percent off an epoch, benchmarks/README.md).
        return torch.sparse_csr_tensor(csr.crow_indices().int(), csr.col_indices().int(),
                                       csr.values(), shape, check_invariants=False)


# Column block width for sparse @ dense: two products with 32 columns instead of one with 64 keep
# the dense operand and result in cache (a few percent per epoch; benchmarks/README.md).
SPMM_BLOCK = 32


def spmm(adj: torch.Tensor, x: torch.Tensor, block: int = SPMM_BLOCK) -> torch.Tensor:
    """``adj @ x`` (sparse CSR times dense), computed ``block`` columns at a time."""
    if x.dim() != 2 or x.shape[1] <= block:
        return adj @ x
    return torch.cat([adj @ x[:, i: i + block].contiguous()
                      for i in range(0, x.shape[1], block)], dim=1)


class SymmetricPropagate(torch.autograd.Function):
    """``adj @ x`` for a symmetric sparse ``adj``; the backward pass is ``adj @ grad``."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return spmm(adj, x)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        # d loss / d x = adj^T @ grad_out = adj @ grad_out because adj is symmetric.
        return None, spmm(ctx.adj, grad_out)


def propagate(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One propagation step ``adj @ x``; ``adj`` must be symmetric (not checked: it is by
    construction in :func:`normalized_adjacency`). Gradients flow to ``x`` only."""
    if x.requires_grad and torch.is_grad_enabled():
        return SymmetricPropagate.apply(adj, x)
    return spmm(adj, x)


@dataclass
class BipartiteGraph:
    """Training interactions as a bipartite graph (see the module docstring)."""

    num_users: int
    num_items: int
    users: torch.Tensor
    items: torch.Tensor
    edge_index: torch.Tensor
    degree: torch.Tensor
    adj: torch.Tensor
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_nodes(self) -> int:
        return self.num_users + self.num_items

    @property
    def num_interactions(self) -> int:
        return int(self.users.numel())

    @property
    def user_degree(self) -> torch.Tensor:
        return self.degree[: self.num_users]

    @property
    def item_degree(self) -> torch.Tensor:
        return self.degree[self.num_users:]

    def adjacency(self, self_loops: bool = False) -> torch.Tensor:
        """The normalized adjacency without (``adj``) or with self-loops (GCNConv style)."""
        if not self_loops:
            return self.adj
        if "adj_loops" not in self._cache:
            self._cache["adj_loops"] = normalized_adjacency(self.edge_index, self.num_nodes, True)
        return self._cache["adj_loops"]

    def propagate(self, x: torch.Tensor, self_loops: bool = False) -> torch.Tensor:
        """``adjacency(self_loops) @ x`` with the symmetric backward pass."""
        return propagate(self.adjacency(self_loops), x)

    @property
    def interactions(self) -> torch.Tensor:
        """Binary user x item matrix R (sparse CSR, float)."""
        if "R" not in self._cache:
            self._cache["R"] = _to_csr(torch.stack([self.users, self.items]),
                                       torch.ones(self.num_interactions),
                                       (self.num_users, self.num_items))
        return self._cache["R"]

    def item_lists(self) -> list[torch.Tensor]:
        """Each user's training items (sorted), as a list of tensors."""
        r = self.interactions
        ptr, col = r.crow_indices(), r.col_indices()
        return [col[ptr[u]: ptr[u + 1]] for u in range(self.num_users)]

    def to(self, device) -> BipartiteGraph:
        """A copy with every tensor on ``device`` (e.g. "cuda"); cached matrices are rebuilt
        there on first use. ``self`` if it is already there."""
        device = torch.device(device)
        if self.adj.device == device:
            return self
        return BipartiteGraph(
            num_users=self.num_users, num_items=self.num_items, users=self.users.to(device),
            items=self.items.to(device), edge_index=self.edge_index.to(device),
            degree=self.degree.to(device), adj=self.adj.to(device))

    def __repr__(self) -> str:
        return (f"BipartiteGraph(num_users={self.num_users}, num_items={self.num_items}, "
                f"interactions={self.num_interactions}, edges={self.edge_index.shape[1]})")


def build_graph(train, num_users: int | None = None, num_items: int | None = None
                ) -> BipartiteGraph:
    """Build the bipartite graph of the training interactions.

    ``train``: DataFrame with ``user`` and ``item`` columns (0-based indices), or a pair
    ``(users, items)``. Pass ``num_users``/``num_items`` (e.g. ``ml.num_users``) so that users
    or items absent from the training split still get a node; by default they are 1 + the
    largest index seen. Duplicate interactions count once.
    """
    users, items = as_index_pairs(train)
    if users.numel() and (users.min() < 0 or items.min() < 0):
        raise ValueError("user and item indices must be >= 0")
    num_users = int(users.max()) + 1 if num_users is None else int(num_users)
    num_items = int(items.max()) + 1 if num_items is None else int(num_items)
    if users.numel() and (users.max() >= num_users or items.max() >= num_items):
        raise ValueError(f"an index exceeds num_users={num_users} or num_items={num_items}")
    # Deduplicate (user, item) pairs and sort them by user, then item.
    key = torch.unique(users * num_items + items)
    users, items = key // num_items, key % num_items
    edge_index = to_edge_index(users, items, num_users)
    num_nodes = num_users + num_items
    return BipartiteGraph(
        num_users=num_users, num_items=num_items, users=users, items=items,
        edge_index=edge_index, degree=node_degree(edge_index, num_nodes),
        adj=normalized_adjacency(edge_index, num_nodes),
    )


def propagation_scores(graph, layers: int = 3) -> torch.Tensor:
    """User-item block of ``graph.adj ** layers``: ``[num_users, num_items]`` scores.

    Start from a one-hot vector on every item node and propagate ``layers`` times; the score of
    item i for user u is the weighted number of length-``layers`` paths between them (weights
    1/sqrt(d_a d_b) per edge). Odd ``layers`` connect users to items.
    """
    if int(layers) != layers or layers < 1:
        raise ValueError(f"layers must be a positive integer, got {layers}")
    x = torch.zeros(graph.num_nodes, graph.num_items)
    x[graph.num_users + torch.arange(graph.num_items), torch.arange(graph.num_items)] = 1.0
    for _ in range(int(layers)):
        x = graph.adj @ x  # one hop: a weighted sum over neighbours, weights 1/sqrt(d_a d_b)
    return x[: graph.num_users]


def as_graph(train, num_users: int | None = None, num_items: int | None = None
             ) -> BipartiteGraph:
    """``train`` itself if it is a ``BipartiteGraph``, else ``build_graph(train, num_users,
    num_items)``: what every ``fit(train, ...)`` accepts."""
    if isinstance(train, BipartiteGraph):
        return train
    return build_graph(train, num_users, num_items)
