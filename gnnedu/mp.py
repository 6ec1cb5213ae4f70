"""Message passing as small, pure functions on dense matrices.

One graph-convolution round, for every node ``i``, in five sub-steps (``SUBSTEPS``)::

    gather     the neighbours' vectors h_j, j in N(i)                 (the messages)
    aggregate  m_i = AGG({h_j})       sum, mean, max, article, sym      (see AGGREGATORS)
    transform  z_i = W m_i            ("Wh", column vectors, the article's section 4.3)
               z_i = m_i W            ("hW", row vectors, the article's section 4.2)
    bias       z_i + b
    activate   h_i' = ReLU(z_i + b)

Taught in ``notebooks/02_graph_convolution_by_hand.ipynb`` (the article's triangle, two rounds,
step by step and in matrix form, three torch implementations) and
``notebooks/03_message_passing_explorer.ipynb`` (receptive fields, aggregators, self-loops,
over-smoothing, and a user's one-hot signal on the user-item graph).

Attention as aggregation (one graph-attention head, Velickovic et al. 2018): scores
``e_ij = LeakyReLU(a^T [W h_i || W h_j])``, a softmax over ``N(i) + {i}``, the weighted sum;
worked by hand in notebook 02 (section 10, checked against plain torch and PyG's ``GATConv``)
and explored in notebook 03 (section 7).

Graphs are dense numpy adjacency matrices ``adj`` (n x n, ``adj[i, j] != 0`` when ``j`` sends
to ``i``); node features are the rows of ``h`` (n x d). Everything here is small-graph teaching
code: ``O(n^2)`` memory, float64, no hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch_geometric.nn import MessagePassing

SUBSTEPS = ("gather", "aggregate", "transform", "bias", "activate")
# Linear aggregators are a matrix P with AGG(H) = P @ H (see propagation_matrix); max is not.
LINEAR_AGGREGATORS = ("sum", "mean", "article", "sym")
AGGREGATORS = ("sum", "mean", "max", "article", "sym")
AGGREGATOR_LABELS = {
    "sum": "sum over N(i)",
    "mean": "mean over N(i)",
    "max": "element-wise max over N(i)",
    "article": "sum / sqrt(|N(i)|) (article 4.2)",
    "sym": "D^-1/2 A D^-1/2 (symmetric)",
}
ACTIVATIONS = ("relu", "none")
CONVENTIONS = ("Wh", "hW")


# ---------------------------------------------------------------------------------------------
# Graph helpers
# ---------------------------------------------------------------------------------------------


def check_adjacency(adj) -> np.ndarray:
    """Return ``adj`` as a float64 square matrix with non-negative entries, or raise ValueError."""
    a = np.asarray(adj, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be a square matrix, got shape {a.shape}")
    if (a < 0).any():
        raise ValueError("adjacency entries must be non-negative")
    return a


def _check_features(h, n: int) -> np.ndarray:
    x = np.asarray(h, dtype=float)
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError(f"features must be an (n, d) matrix with n={n}, got shape {x.shape}")
    return x


def _check_aggregator(how: str) -> None:
    if how not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {how!r}; choose one of {AGGREGATORS}")


def with_self_loops(adj) -> np.ndarray:
    """``A~ = A + I``: every node also sends its own vector to itself."""
    a = check_adjacency(adj)
    return a + np.eye(a.shape[0])


def adjacency_from_edges(edges, num_nodes: int, directed: bool = False) -> np.ndarray:
    """Dense 0/1 adjacency from ``(i, j)`` pairs (both directions unless ``directed``)."""
    a = np.zeros((num_nodes, num_nodes))
    for i, j in edges:
        if not (0 <= i < num_nodes and 0 <= j < num_nodes):
            raise ValueError(f"edge ({i}, {j}) is outside 0..{num_nodes - 1}")
        a[i, j] = 1.0
        if not directed:
            a[j, i] = 1.0
    return a


def degrees(adj, self_loops: bool = False) -> np.ndarray:
    """Row sums of ``A`` (or of ``A + I``): ``|N(i)|`` for a 0/1 adjacency."""
    a = with_self_loops(adj) if self_loops else check_adjacency(adj)
    return a.sum(axis=1)


def neighbours(adj, i: int, self_loops: bool = False) -> np.ndarray:
    """Indices ``j`` that send a message to node ``i``, ascending (``i`` itself with self-loops)."""
    a = with_self_loops(adj) if self_loops else check_adjacency(adj)
    return np.flatnonzero(a[i])


# ---------------------------------------------------------------------------------------------
# The five sub-steps
# ---------------------------------------------------------------------------------------------


def propagation_matrix(adj, how: str = "mean", self_loops: bool = False) -> np.ndarray:
    """The propagation matrix ``P`` with ``AGG(H) = P @ H`` for a linear aggregator.

    With ``A`` (or ``A~ = A + I`` when ``self_loops``) and its degree matrix ``D``:

    * ``sum``:     ``P = A``
    * ``mean``:    ``P = D^-1 A``             (row ``i`` averages the neighbours)
    * ``article``: ``P = D^-1/2 A``           (the article's 4.2 formula, ``1/sqrt(|N(i)|)``)
    * ``sym``:     ``P = D^-1/2 A D^-1/2``    (``A_hat`` of notebooks/notation.md; with
      ``self_loops`` it is the GCN matrix ``S = D~^-1/2 A~ D~^-1/2`` of Kipf & Welling 2017)

    A node without neighbours gets a zero row. ``max`` is not linear and raises ValueError.
    """
    _check_aggregator(how)
    if how == "max":
        raise ValueError("max aggregation is not a matrix product; use aggregate(..., 'max')")
    a = with_self_loops(adj) if self_loops else check_adjacency(adj)
    deg = a.sum(axis=1)
    safe = np.where(deg > 0, deg, 1.0)
    if how == "sum":
        return a
    if how == "mean":
        return a / safe[:, None]
    inv_sqrt = np.where(deg > 0, 1.0 / np.sqrt(safe), 0.0)
    if how == "article":
        return inv_sqrt[:, None] * a
    return inv_sqrt[:, None] * a * inv_sqrt[None, :]


def gather(h, adj, i: int, self_loops: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: the messages arriving at node ``i``: ``(indices j, their vectors h_j)``."""
    a = check_adjacency(adj)
    x = _check_features(h, a.shape[0])
    idx = neighbours(a, i, self_loops)
    return idx, x[idx]


def aggregate(h, adj, how: str = "mean", self_loops: bool = False) -> np.ndarray:
    """Step 2 for every node at once: row ``i`` is ``AGG({h_j : j in N(i)})``.

    ``max`` takes the element-wise maximum over the neighbours (zeros for an isolated node);
    the other aggregators are ``propagation_matrix(adj, how, self_loops) @ h``.
    """
    _check_aggregator(how)
    a = check_adjacency(adj)
    x = _check_features(h, a.shape[0])
    if how != "max":
        return propagation_matrix(a, how, self_loops) @ x
    out = np.zeros_like(x)
    for i in range(a.shape[0]):
        idx = neighbours(a, i, self_loops)
        if idx.size:
            out[i] = x[idx].max(axis=0)
    return out


def transform(m, w, convention: str = "Wh") -> np.ndarray:
    """Step 3: apply the weight matrix to each row of ``m``.

    ``"Wh"`` treats node vectors as columns, ``z_i = W m_i`` (returned as ``m @ W.T``): the
    article's section 4.3 and PyTorch's ``Linear``. ``"hW"`` treats them as rows,
    ``z_i = m_i W`` (``m @ W``): the article's section 4.2 and the GCN paper. The two agree only
    when ``W`` is symmetric.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    m = np.asarray(m, dtype=float)
    w = np.asarray(w, dtype=float)
    return m @ w.T if convention == "Wh" else m @ w


def add_bias(z, b) -> np.ndarray:
    """Step 4: ``z_i + b`` for every row."""
    return np.asarray(z, dtype=float) + np.asarray(b, dtype=float)


def activate(z, activation: str = "relu") -> np.ndarray:
    """Step 5: ``ReLU`` (``max(0, z)`` element-wise) or ``"none"`` (identity)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    z = np.asarray(z, dtype=float)
    return np.maximum(z, 0.0) if activation == "relu" else z.copy()


def gcn_layer(
    h,
    adj,
    w,
    b,
    how: str = "mean",
    self_loops: bool = False,
    activation: str = "relu",
    convention: str = "Wh",
) -> np.ndarray:
    """One round for all nodes: ``activate(transform(aggregate(h)) + b)``."""
    m = aggregate(h, adj, how, self_loops)
    return activate(add_bias(transform(m, w, convention), b), activation)


def layer_matrix_form(h, adj, w, b, how: str = "mean", self_loops: bool = False) -> np.ndarray:
    """The same round written as one matrix expression: ``ReLU(P H W^T + 1 b^T)``.

    ``P`` is ``propagation_matrix(adj, how, self_loops)`` (linear aggregators only).
    """
    c = propagation_matrix(adj, how, self_loops)
    x = _check_features(h, c.shape[0])
    return np.maximum(c @ x @ np.asarray(w, dtype=float).T + np.asarray(b, dtype=float), 0.0)


def gcn_rounds(h0, adj, w, b, rounds: int, **layer_kwargs) -> list[np.ndarray]:
    """``[H^(0), H^(1), ..., H^(rounds)]``, reusing the same ``W`` and ``b`` each round
    (as the article does). ``layer_kwargs`` go to :func:`gcn_layer`."""
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    hs = [np.asarray(h0, dtype=float)]
    for _ in range(rounds):
        hs.append(gcn_layer(hs[-1], adj, w, b, **layer_kwargs))
    return hs


def propagate_features(h0, adj, how: str = "mean", depth: int = 1, self_loops: bool = True):
    """Aggregation only, no weights or activation: ``[H, AGG(H), AGG(AGG(H)), ...]``.

    This is the propagation of SGC (Wu et al. 2019) and LightGCN (He et al. 2020); it isolates
    what repeated aggregation does to node vectors (notebook 03, over-smoothing).
    """
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    a = check_adjacency(adj)
    hs = [_check_features(h0, a.shape[0])]
    for _ in range(depth):
        hs.append(aggregate(hs[-1], a, how, self_loops))
    return hs


# ---------------------------------------------------------------------------------------------
# Step-by-step traces (notebook 02 and its stepper widget)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeStep:
    """Every intermediate value of one node in one round."""

    round: int  # 1-based
    node: int
    how: str
    sources: np.ndarray  # indices j whose messages arrive, ascending
    coefficients: np.ndarray | None  # P[i, j] for each source (None for max)
    gathered: np.ndarray  # (k, d): the messages h_j^(round-1)
    aggregated: np.ndarray  # m_i
    transformed: np.ndarray  # W m_i (or m_i W)
    biased: np.ndarray  # + b
    activated: np.ndarray  # h_i^(round)
    convention: str = "Wh"  # how W was applied (see transform)

    def value(self, substep: str) -> np.ndarray:
        """The node's vector after ``substep`` (for ``gather``: its own input vector is not
        defined here, so the gathered messages are returned)."""
        if substep not in SUBSTEPS:
            raise ValueError(f"substep must be one of {SUBSTEPS}, got {substep!r}")
        return {
            "gather": self.gathered,
            "aggregate": self.aggregated,
            "transform": self.transformed,
            "bias": self.biased,
            "activate": self.activated,
        }[substep]


def trace(
    h0,
    adj,
    w,
    b,
    rounds: int = 2,
    how: str = "mean",
    self_loops: bool = False,
    activation: str = "relu",
    convention: str = "Wh",
) -> list[list[NodeStep]]:
    """Run ``rounds`` rounds node by node; ``trace(...)[r - 1][i]`` is node ``i`` in round ``r``.

    Each node is computed on its own from its gathered messages (a loop, not a matrix
    product), so comparing with :func:`gcn_layer` / :func:`layer_matrix_form` is a real check.
    """
    _check_aggregator(how)
    a = check_adjacency(adj)
    h = _check_features(h0, a.shape[0])
    w = np.asarray(w, dtype=float)
    b = np.asarray(b, dtype=float)
    coeff = None if how == "max" else propagation_matrix(a, how, self_loops)
    out = []
    for r in range(1, rounds + 1):
        steps = []
        for i in range(a.shape[0]):
            idx, msgs = gather(h, a, i, self_loops)
            if how == "max":
                c = None
                m = msgs.max(axis=0) if len(idx) else np.zeros(h.shape[1])
            else:
                c = coeff[i, idx]
                m = (c[:, None] * msgs).sum(axis=0)
            z = transform(m[None, :], w, convention)[0]
            zb = add_bias(z, b)
            steps.append(NodeStep(r, i, how, idx, c, msgs, m, z, zb, activate(zb, activation),
                                  convention))
        out.append(steps)
        h = np.stack([s.activated for s in steps])
    return out


def trace_matrix(steps: list[NodeStep], substep: str) -> np.ndarray:
    """Stack one round's per-node vectors after ``substep`` into an (n, d) matrix
    (``gather`` is not a per-node vector and raises ValueError)."""
    if substep == "gather":
        raise ValueError("gather yields several messages per node; use NodeStep.gathered")
    return np.stack([s.value(substep) for s in steps])


def step_table(step: NodeStep, names=None, columns=None) -> pd.DataFrame:
    """One node's round as a small table: a row per message ``h_j``, then ``m`` (aggregate),
    ``W m`` (transform), ``W m + b`` (bias) and ``h_i`` (after the activation); a column per
    component (named by ``columns``)."""
    def name(j):
        return str(names[j]) if names is not None else str(j)

    wm = "W m" if step.convention == "Wh" else "m W"
    rows = {f"h^({step.round - 1})_{name(j)}": msg for j, msg in zip(step.sources, step.gathered)}
    rows.update({
        f"m ({step.how})": step.aggregated,
        wm: step.transformed,
        f"{wm} + b": step.biased,
        f"h^({step.round})_{name(step.node)}": step.activated,
    })
    return pd.DataFrame(rows, index=columns).T


def round_table(steps: list[NodeStep], names=None, columns=None) -> pd.DataFrame:
    """:func:`step_table` for every node of one round, stacked (row index: node, quantity)."""
    def name(j):
        return str(names[j]) if names is not None else str(j)

    return pd.concat({name(s.node): step_table(s, names, columns) for s in steps},
                     names=["node", "quantity"])


def _fmt(x: float, decimals: int) -> str:
    s = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _vec(v, decimals: int) -> str:
    return "[" + ", ".join(_fmt(x, decimals) for x in np.asarray(v)) + "]"


def arithmetic(
    step: NodeStep,
    w,
    b,
    names=None,
    upto: str = "activate",
    decimals: int = 4,
    activation: str = "relu",
) -> str:
    """The arithmetic of ``step`` written out line by line, up to sub-step ``upto``.

    ``names`` labels the nodes (default ``0, 1, ...``). Numbers are shown with at most
    ``decimals`` decimals and trailing zeros dropped.
    """
    if upto not in SUBSTEPS:
        raise ValueError(f"upto must be one of {SUBSTEPS}, got {upto!r}")
    w = np.asarray(w, dtype=float)
    b = np.asarray(b, dtype=float)
    last = SUBSTEPS.index(upto)
    convention = step.convention

    def name(j):
        return str(names[j]) if names is not None else str(j)

    r, i = step.round, step.node
    hin = f"h^({r - 1})"
    src = ", ".join(name(j) for j in step.sources) or "(none)"
    lines = [f"Round {r}, node {name(i)}", f"1 gather   : N({name(i)}) = {{{src}}}"]
    for j, msg in zip(step.sources, step.gathered):
        lines.append(f"             {hin}_{name(j)} = {_vec(msg, decimals)}")
    if last >= 1:
        m = _vec(step.aggregated, decimals)
        if step.how == "max":
            lines.append(f"2 aggregate: m = element-wise max of the messages = {m}")
        elif len(step.sources) == 0:
            lines.append(f"2 aggregate: no messages, m = {m}")
        else:
            terms = " + ".join(
                f"{_fmt(c, decimals)}*{_vec(msg, decimals)}"
                for c, msg in zip(step.coefficients, step.gathered)
            )
            lines.append(f"2 aggregate: m = {terms}")
            lines.append(f"               = {m}")
    if last >= 2:
        mat = w if convention == "Wh" else w.T  # z_k = sum_c mat[k, c] * m_c
        label = "W m" if convention == "Wh" else "m W"
        for k in range(mat.shape[0]):
            terms = " + ".join(
                f"{_fmt(mat[k, c], decimals)}*{_fmt(step.aggregated[c], decimals)}"
                for c in range(mat.shape[1])
            )
            head = "3 transform:" if k == 0 else "            "
            lines.append(f"{head} ({label})_{k} = {terms} = {_fmt(step.transformed[k], decimals)}")
    if last >= 3:
        lines.append(
            f"4 bias     : {_vec(step.transformed, decimals)} + {_vec(b, decimals)}"
            f" = {_vec(step.biased, decimals)}"
        )
    if last >= 4:
        fn = "ReLU" if activation == "relu" else "identity"
        out = _vec(step.activated, decimals)
        lines.append(f"5 activate : {fn}(...) = h^({r})_{name(i)} = {out}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Three torch implementations of the mean round (notebook 02)
# ---------------------------------------------------------------------------------------------


def torch_mean_layer(x: torch.Tensor, edge_index: torch.Tensor, w: torch.Tensor, b: torch.Tensor):
    """One mean-aggregation round in plain torch, before the activation.

    ``edge_index[0]`` holds the sources ``j``, ``edge_index[1]`` the targets ``i``.
    """
    src, dst = edge_index
    n = x.size(0)
    # Step 1: gather -- one row per edge, the vector of its source node
    messages = x[src]
    # Step 2: aggregate -- add the messages up per target, then divide by the count
    summed = torch.zeros(n, x.size(1), dtype=x.dtype).index_add_(0, dst, messages)
    count = torch.zeros(n, dtype=x.dtype).index_add_(0, dst, torch.ones_like(src, dtype=x.dtype))
    mean = summed / count.clamp(min=1).unsqueeze(1)
    # Steps 3-4: transform (W m, i.e. m @ W^T for row vectors) and add the bias
    return mean @ w.T + b


class MeanConv(MessagePassing):
    """The article's round as a PyG ``MessagePassing`` layer: ``W mean_j(h_j) + b``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(aggr="mean")  # Step 2: mean over the incoming messages
        self.lin = torch.nn.Linear(in_channels, out_channels)  # Steps 3-4: W m + b

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        m = self.propagate(edge_index, x=x)  # Steps 1-2: gather and aggregate
        return self.lin(m)

    def message(self, x_j: torch.Tensor) -> torch.Tensor:
        return x_j  # Step 1: the message from j is simply its vector h_j


def run_rounds(layer, x: torch.Tensor, edge_index: torch.Tensor, rounds: int = 2):
    """Apply ``ReLU(layer(x, edge_index))`` ``rounds`` times (same layer each round);
    returns ``[x, h1, h2, ...]``."""
    hs = [x]
    for _ in range(rounds):
        hs.append(torch.relu(layer(hs[-1], edge_index)))
    return hs


# ---------------------------------------------------------------------------------------------
# Attention as aggregation: one graph-attention (GAT) head (notebooks 02 and 03)
# ---------------------------------------------------------------------------------------------

# Slope of LeakyReLU for negative scores: Velickovic et al. (2018), section 2.1, and the
# default ``negative_slope`` of PyG's GATConv.
LEAKY_SLOPE = 0.2
# The small attention vector of notebook 02's worked example, a = (a_target, a_source): the
# receiving node's score rewards component 0 of W h_i over component 1, the sender's rewards
# component 1 over component 2.
TRIANGLE_ATTENTION = (1.0, -1.0, 0.0, 0.0, 2.0, -2.0)


def leaky_relu(x, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """``x`` where ``x >= 0``, ``slope * x`` elsewhere (element-wise)."""
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, x, slope * x)


def split_attention(a, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the attention vector ``a`` (``2d`` numbers) into ``(a_target, a_source)``.

    ``a^T [W h_i || W h_j] = a_target . W h_i + a_source . W h_j``: the first half scores the
    receiving node ``i``, the second half the sending node ``j``. PyG's ``GATConv`` stores them
    as ``att_dst`` and ``att_src``.
    """
    a = np.asarray(a, dtype=float).ravel()
    if a.size != 2 * d:
        raise ValueError(f"the attention vector needs 2 * {d} = {2 * d} entries, got {a.size}")
    return a[:d], a[d:]


def attention_scores(h, adj, w, a, self_loops: bool = True, slope: float = LEAKY_SLOPE
                     ) -> np.ndarray:
    """The raw scores ``e_ij = LeakyReLU(a^T [W h_i || W h_j])`` for every message ``j -> i``.

    Returns an ``(n, n)`` matrix with ``e[i, j]`` where ``j`` sends to ``i`` (``i`` itself too
    with ``self_loops``) and ``nan`` elsewhere. ``W`` acts on column vectors (``z = h @ W.T``),
    as in the article's section 4.3.
    """
    a_mat = check_adjacency(adj)
    x = _check_features(h, a_mat.shape[0])
    z = transform(x, w, "Wh")                              # Step 1: z_j = W h_j for every node
    a_target, a_source = split_attention(a, z.shape[1])
    raw = (z @ a_target)[:, None] + (z @ a_source)[None, :]  # Step 2: a^T [z_i || z_j]
    scores = leaky_relu(raw, slope)                        # Step 3: LeakyReLU
    edges = (with_self_loops(a_mat) if self_loops else a_mat) > 0
    return np.where(edges, scores, np.nan)


def softmax_rows(scores) -> np.ndarray:
    """Softmax of each row over its finite entries (``nan`` / ``-inf`` mean "no edge", weight 0).

    A row without any finite entry (an isolated node without a self-loop) is all zeros. The row
    maximum is subtracted first, which changes nothing mathematically and avoids overflow.
    """
    e = np.asarray(scores, dtype=float)
    finite = np.isfinite(e)
    top = np.where(finite.any(axis=1), np.where(finite, e, -np.inf).max(axis=1), 0.0)
    ex = np.where(finite, np.exp(np.where(finite, e, 0.0) - top[:, None]), 0.0)
    total = ex.sum(axis=1, keepdims=True)
    return ex / np.where(total > 0, total, 1.0)


def attention_coefficients(h, adj, w, a, self_loops: bool = True, slope: float = LEAKY_SLOPE
                           ) -> np.ndarray:
    """``alpha[i, j] = softmax_j(e_ij)`` over ``i``'s neighbourhood (self included with
    ``self_loops``): each row is a set of weights that sums to 1, zero off the edges.

    With ``a = 0`` every score is 0 and ``alpha`` is ``propagation_matrix(adj, "mean",
    self_loops)``: attention with a zero vector is the mean aggregator.
    """
    return softmax_rows(attention_scores(h, adj, w, a, self_loops, slope))


def gat_layer(h, adj, w, a, b=None, self_loops: bool = True, slope: float = LEAKY_SLOPE,
              activation: str = "none") -> np.ndarray:
    """One attention head for all nodes: ``h_i' = act(sum_j alpha_ij W h_j + b)``.

    Without an activation this is what PyG's ``GATConv`` (one head) returns when ``W``, ``a``
    and ``b`` are copied into it (``lin.weight = W``, ``att_dst, att_src = split_attention(a)``).
    """
    alpha = attention_coefficients(h, adj, w, a, self_loops, slope)
    z = alpha @ transform(_check_features(h, alpha.shape[0]), w, "Wh")
    if b is not None:
        z = add_bias(z, b)
    return activate(z, activation)


def gat_multihead(h, adj, ws, attention_vectors, b=None, combine: str = "mean",
                  self_loops: bool = True, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """``K`` heads, head ``k`` with its own ``W_k`` and ``a_k``, outputs averaged (``"mean"``,
    GAT's output layer) or concatenated (``"concat"``, its hidden layers); then ``+ b``."""
    if combine not in ("mean", "concat"):
        raise ValueError(f"combine must be 'mean' or 'concat', got {combine!r}")
    if len(ws) != len(attention_vectors) or not len(ws):
        raise ValueError("need one W and one attention vector per head (at least one head)")
    outs = [gat_layer(h, adj, w, a, None, self_loops, slope) for w, a in
            zip(ws, attention_vectors)]
    z = np.mean(outs, axis=0) if combine == "mean" else np.concatenate(outs, axis=1)
    return z if b is None else add_bias(z, b)


def head_coefficients(h, adj, attention_vectors, w=None, self_loops: bool = True,
                      slope: float = LEAKY_SLOPE) -> np.ndarray:
    """The ``alpha`` matrices of several heads that share ``W`` (identity by default):
    an array ``(heads, n, n)``. Their mean over heads is the propagation matrix of the
    head-averaged layer, since ``mean_k alpha^k W H = (mean_k alpha^k) W H``."""
    x = np.asarray(h, dtype=float)
    w = np.eye(x.shape[1]) if w is None else w
    return np.stack([attention_coefficients(x, adj, w, a, self_loops, slope)
                     for a in attention_vectors])


def attention_entropy(alpha) -> np.ndarray:
    """Per row, the entropy of the weights divided by its largest possible value (``log`` of
    the number of nonzero-able entries, the row's neighbourhood size): 1 for uniform weights
    (the mean), towards 0 when one neighbour takes all. Rows with fewer than two neighbours
    give 1."""
    p = np.asarray(alpha, dtype=float)
    size = (p > 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
        out = np.where(size > 1, ent / np.log(np.maximum(size, 2)), 1.0)
    return out


def attention_arithmetic(h, adj, w, a, i: int, names=None, self_loops: bool = True,
                         slope: float = LEAKY_SLOPE, decimals: int = 4) -> str:
    """The attention of node ``i`` written out: ``z_j = W h_j``, each score, the softmax and the
    weighted sum (before any bias or activation)."""
    a_mat = check_adjacency(adj)
    x = _check_features(h, a_mat.shape[0])
    z = transform(x, w, "Wh")
    a_target, a_source = split_attention(a, z.shape[1])
    e = attention_scores(x, a_mat, w, a, self_loops, slope)
    alpha = softmax_rows(e)
    idx = neighbours(a_mat, i, self_loops)

    def name(j):
        return str(names[j]) if names is not None else str(j)

    def f(v):
        return _fmt(v, decimals)

    lines = [f"Attention at node {name(i)}: N~({name(i)}) = {{{', '.join(name(j) for j in idx)}}}"]
    for j in idx:
        lines.append(f"  z_{name(j)} = W h_{name(j)} = {_vec(z[j], decimals)}")
    lines.append(f"  a_target . z_{name(i)} = {f(z[i] @ a_target)}")
    for j in idx:
        raw = z[i] @ a_target + z[j] @ a_source
        lines.append(f"  e_{name(i)}{name(j)} = LeakyReLU({f(z[i] @ a_target)} + "
                     f"{f(z[j] @ a_source)}) = LeakyReLU({f(raw)}) = {f(e[i, j])}")
    total = sum(np.exp(e[i, j]) for j in idx)
    for j in idx:
        lines.append(f"  alpha_{name(i)}{name(j)} = exp({f(e[i, j])}) / {f(total)} = "
                     f"{f(alpha[i, j])}")
    out = alpha[i] @ z
    lines.append(f"  sum_j alpha_{name(i)}j z_j = {_vec(out, decimals)}")
    return "\n".join(lines)


def torch_gat_layer(x: torch.Tensor, edge_index: torch.Tensor, w: torch.Tensor, a: torch.Tensor,
                    b: torch.Tensor | None = None, slope: float = LEAKY_SLOPE) -> torch.Tensor:
    """One attention head in plain torch: self-loops added, then ``sum_j alpha_ij W h_j + b``.

    ``edge_index[0]`` holds the sources ``j``, ``edge_index[1]`` the targets ``i`` (each
    undirected edge in both directions, no self-loops: they are added here).
    """
    w, a = torch.as_tensor(w, dtype=x.dtype), torch.as_tensor(a, dtype=x.dtype)
    n, d_out = x.size(0), w.size(0)
    # Step 1: add a self-loop j = i to every node
    loops = torch.arange(n)
    src = torch.cat([edge_index[0], loops])
    dst = torch.cat([edge_index[1], loops])
    # Step 2: transform every node once, z_j = W h_j
    z = x @ w.T
    # Step 3: score every edge, e_ij = LeakyReLU(a_target . z_i + a_source . z_j)
    e = torch.nn.functional.leaky_relu(z[dst] @ a[:d_out] + z[src] @ a[d_out:], slope)
    # Step 4: softmax over the edges that arrive at the same node i
    top = torch.full((n,), -torch.inf, dtype=x.dtype).scatter_reduce(0, dst, e, "amax")
    ex = torch.exp(e - top[dst])
    alpha = ex / torch.zeros(n, dtype=x.dtype).index_add_(0, dst, ex)[dst]
    # Step 5: weighted sum of the transformed messages, then the bias
    out = torch.zeros(n, d_out, dtype=x.dtype).index_add_(0, dst, alpha[:, None] * z[src])
    return out if b is None else out + b


def gatconv_with_weights(w, a, b=None, slope: float = LEAKY_SLOPE):
    """PyG's ``GATConv`` (one head, float64) with ``W``, ``a`` and ``b`` copied in."""
    from torch_geometric.nn import GATConv

    w = torch.as_tensor(np.asarray(w, dtype=float))
    d_out, d_in = w.shape
    a_target, a_source = split_attention(a, d_out)
    conv = GATConv(d_in, d_out, heads=1, negative_slope=slope, bias=b is not None).double()
    with torch.no_grad():
        conv.lin.weight.copy_(w)
        conv.att_dst.copy_(torch.as_tensor(a_target).view(1, 1, -1))
        conv.att_src.copy_(torch.as_tensor(a_source).view(1, 1, -1))
        if b is not None:
            conv.bias.copy_(torch.as_tensor(np.asarray(b, dtype=float)))
    return conv


# ---------------------------------------------------------------------------------------------
# Receptive fields (notebook 03)
# ---------------------------------------------------------------------------------------------


def hop_distances(adj, node: int) -> np.ndarray:
    """Breadth-first hop distance from ``node`` to every node (-1 if unreachable)."""
    a = check_adjacency(adj) > 0
    n = a.shape[0]
    if not 0 <= node < n:
        raise ValueError(f"node {node} is outside 0..{n - 1}")
    dist = np.full(n, -1)
    dist[node] = 0
    frontier = [node]
    d = 0
    while frontier:
        d += 1
        nxt = []
        for u in frontier:
            for v in np.flatnonzero(a[u] | a[:, u]):
                if dist[v] < 0:
                    dist[v] = d
                    nxt.append(v)
        frontier = nxt
    return dist


def receptive_field(adj, node: int, k: int, self_loops: bool = True) -> np.ndarray:
    """Nodes whose input vectors can reach ``node`` through ``k`` rounds, ascending.

    These are the ``j`` with a walk of exactly ``k`` steps from ``j`` to ``node`` in ``A``
    (``A + I`` with self-loops): the nonzero pattern of row ``node`` of ``(A~)^k``. With
    self-loops that is every node within ``k`` hops; without them only walks of length exactly
    ``k`` count, so on a bipartite graph an even ``k`` never reaches the other side.
    """
    a = check_adjacency(adj)
    n = a.shape[0]
    if not 0 <= node < n:
        raise ValueError(f"node {node} is outside 0..{n - 1}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    step = (with_self_loops(a) if self_loops else a) > 0
    reach = np.zeros(n, dtype=bool)
    reach[node] = True
    for _ in range(k):  # boolean vector-matrix products: no overflow for large k
        reach = step[reach].any(axis=0) if reach.any() else reach
    return np.flatnonzero(reach)


# ---------------------------------------------------------------------------------------------
# Smoothness / over-smoothing (notebook 03)
# ---------------------------------------------------------------------------------------------


def dirichlet_energy(h, adj) -> float:
    """``E(H) = 1/2 sum_ij A_ij ||h_i - h_j||^2 = trace(H^T L H)``, ``L = D - A``.

    Zero exactly when connected nodes have equal vectors.
    """
    a = check_adjacency(adj)
    x = _check_features(h, a.shape[0])
    diff = x[:, None, :] - x[None, :, :]
    return float(0.5 * (a * (diff**2).sum(axis=2)).sum())


def relative_dirichlet_energy(h, adj) -> float:
    """``E(H) / ||H||_F^2``: the Dirichlet energy with the overall scale divided out (so that a
    sum aggregator's growing vectors do not hide the trend). 0 for an all-zero ``H``."""
    x = np.asarray(h, dtype=float)
    norm2 = float((x**2).sum())
    return dirichlet_energy(x, adj) / norm2 if norm2 > 0 else 0.0


def spread(h) -> float:
    """How different the directions of the node vectors are, in ``[0, 1]``.

    Each nonzero row is scaled to unit length; the result is the root-mean-square distance of
    these unit vectors from their mean, ``sqrt(1 - ||mean||^2)``. It is 0 exactly when all
    node vectors point the same way (they differ at most by a positive factor), which is where
    repeated aggregation drives them: over-smoothing.
    """
    x = np.asarray(h, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"h must be an (n, d) matrix, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1)
    units = x[norms > 0] / norms[norms > 0, None]
    if len(units) == 0:
        return 0.0
    dev = units - units.mean(axis=0)  # equals sqrt(1 - ||mean||^2), without the cancellation
    return float(np.sqrt((dev**2).sum(axis=1).mean()))


def smoothness_by_depth(
    h0, adj, depth: int, aggregators=AGGREGATORS, self_loops: bool = True, measure=spread
) -> dict[str, np.ndarray]:
    """For each aggregator, ``measure`` of the features after 0, 1, ..., ``depth`` rounds of
    :func:`propagate_features`. ``measure`` takes ``H`` (or ``(H, adj)`` if it is
    :func:`dirichlet_energy` / :func:`relative_dirichlet_energy`)."""
    a = check_adjacency(adj)
    needs_graph = measure in (dirichlet_energy, relative_dirichlet_energy)
    out = {}
    for how in aggregators:
        hs = propagate_features(h0, a, how, depth, self_loops)
        out[how] = np.array([measure(x, a) if needs_graph else measure(x) for x in hs])
    return out


# ---------------------------------------------------------------------------------------------
# A one-hot signal on the user-item graph (notebook 03)
# ---------------------------------------------------------------------------------------------


def propagate_one_hot(adj, node: int, hops: int, how: str = "sum", self_loops: bool = False):
    """Start with 1 on ``node`` and 0 elsewhere and aggregate ``hops`` times.

    Returns an array ``(hops + 1, n)``; row ``k`` is ``P^k e_node`` read at every node. With
    ``how="sum"`` on a 0/1 graph, entry ``[k, j]`` counts the walks of length ``k`` between
    ``node`` and ``j`` (for a symmetric graph); on the user-item graph the odd rows are
    scores on the items.
    """
    a = check_adjacency(adj)
    n = a.shape[0]
    if not 0 <= node < n:
        raise ValueError(f"node {node} is outside 0..{n - 1}")
    x = np.zeros((n, 1))
    x[node, 0] = 1.0
    hs = propagate_features(x, a, how, hops, self_loops)
    return np.stack([h[:, 0] for h in hs])
