"""Tests for gnnedu.graph: edge_index layout, degrees, normalized adjacency, propagation."""

import math

import pandas as pd
import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.nn.models import LightGCN as PygLightGCN
from torch_geometric.utils import to_dense_adj

from gnnedu.graph import (
    build_graph,
    node_degree,
    normalized_adjacency,
    propagate,
    propagation_scores,
    spmm,
    to_edge_index,
)

# 3 users, 4 items; user 2 and item 3 have one interaction each.
USERS = [0, 0, 1, 1, 1, 2]
ITEMS = [0, 1, 1, 2, 3, 0]


@pytest.fixture
def graph():
    return build_graph(pd.DataFrame({"user": USERS, "item": ITEMS}), 3, 4)


def test_edge_index_users_first_items_offset_both_directions(graph):
    ei = graph.edge_index
    assert ei.shape == (2, 12)
    pairs = set(zip(ei[0].tolist(), ei[1].tolist()))
    for u, i in zip(USERS, ITEMS):
        assert (u, 3 + i) in pairs and (3 + i, u) in pairs
    assert len(pairs) == 12
    assert ei.max() == graph.num_nodes - 1 == 6


def test_degrees(graph):
    assert graph.user_degree.tolist() == [2.0, 3.0, 1.0]
    assert graph.item_degree.tolist() == [2.0, 2.0, 1.0, 1.0]
    assert torch.equal(node_degree(graph.edge_index, 7), graph.degree)


def test_normalized_adjacency_matches_dense_formula(graph):
    a = to_dense_adj(graph.edge_index, max_num_nodes=7)[0]
    d = a.sum(1)
    expected = a / torch.sqrt(d.unsqueeze(0) * d.unsqueeze(1))
    dense = graph.adj.to_dense()
    assert graph.adj.layout == torch.sparse_csr
    torch.testing.assert_close(dense, expected)
    torch.testing.assert_close(dense, dense.T)
    # entry (user 2, item 0): 1 / sqrt(1 * 2)
    assert dense[2, 3].item() == pytest.approx(2 ** -0.5)


def test_self_loop_adjacency_matches_gcnconv(graph):
    torch.manual_seed(0)
    conv = GCNConv(5, 5, bias=False)
    x = torch.randn(7, 5)
    expected = conv(x, graph.edge_index)
    ours = graph.adjacency(self_loops=True) @ conv.lin(x)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
    assert graph.adjacency(True) is graph.adjacency(True)  # cached


def test_isolated_node_gets_zero_row():
    g = build_graph((torch.tensor([0]), torch.tensor([0])), num_users=2, num_items=2)
    dense = g.adj.to_dense()
    assert torch.all(dense[1] == 0) and torch.all(dense[:, 3] == 0)
    assert torch.isfinite(dense).all()


def test_duplicates_count_once_and_sizes_inferred():
    g = build_graph(([0, 0, 1], [2, 2, 0]))
    assert (g.num_users, g.num_items, g.num_interactions) == (2, 3, 2)
    assert g.interactions.to_dense().tolist() == [[0, 0, 1], [1, 0, 0]]
    assert [t.tolist() for t in g.item_lists()] == [[2], [0]]


def test_bad_input_raises():
    with pytest.raises(ValueError, match="exceeds"):
        build_graph(([0, 5], [0, 1]), num_users=3, num_items=4)
    with pytest.raises(ValueError, match=">= 0"):
        build_graph(([0, -1], [0, 1]))
    with pytest.raises(ValueError, match="lacks"):
        build_graph(pd.DataFrame({"u": [0], "item": [0]}))
    with pytest.raises(ValueError, match="differ"):
        build_graph(([0, 1], [0]))


def test_propagate_gradient_equals_dense_autograd(graph):
    adj = graph.adj
    x = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    adj64 = torch.sparse_csr_tensor(adj.crow_indices(), adj.col_indices(),
                                    adj.values().double(), adj.shape, check_invariants=True)

    weights = torch.randn(7, 4, dtype=torch.float64)
    (propagate(adj64, propagate(adj64, x)) * weights).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    dense = adj64.to_dense()
    (dense @ (dense @ x) * weights).sum().backward()
    torch.testing.assert_close(ours, x.grad)
    assert torch.autograd.gradcheck(lambda t: propagate(adj64, t), (x.detach().requires_grad_(),))


def test_propagate_matches_pyg_lightgcn_embedding(graph):
    torch.manual_seed(0)
    pyg = PygLightGCN(num_nodes=7, embedding_dim=8, num_layers=3)
    expected = pyg.get_embedding(graph.edge_index)
    h = pyg.embedding.weight
    layers = [h]
    for _ in range(3):
        layers.append(graph.propagate(layers[-1]))
    ours = sum(layers) / 4
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)


def test_to_edge_index_and_normalized_adjacency_standalone():
    ei = to_edge_index(torch.tensor([0, 1]), torch.tensor([0, 0]), num_users=2)
    assert ei.tolist() == [[0, 1, 2, 2], [2, 2, 0, 1]]
    adj = normalized_adjacency(ei, 3).to_dense()
    assert adj[0, 2].item() == pytest.approx(1 / 2 ** 0.5)


@pytest.mark.parametrize("width", [1, 32, 33, 70])
def test_blocked_spmm_equals_one_product(graph, width):
    x = torch.randn(7, width)
    torch.testing.assert_close(spmm(graph.adj, x), graph.adj.to_dense() @ x)
    torch.testing.assert_close(spmm(graph.adj, x, block=8), graph.adj @ x)


def _dense_adj_power(graph, layers):
    a = graph.adj.to_dense().double()
    return torch.linalg.matrix_power(a, layers)[: graph.num_users, graph.num_users:]


def test_propagation_scores_are_powers_of_the_adjacency():
    # 3 users, 4 items; item 3 has no interaction
    toy = pd.DataFrame({"user": [0, 0, 0, 1, 1, 2], "item": [0, 1, 2, 0, 1, 0]})
    graph = build_graph(toy, 3, 4)
    # one step: 1 / sqrt(d_u d_i) on edges, 0 elsewhere
    one = propagation_scores(graph, 1)
    assert one[0, 0] == pytest.approx(1 / math.sqrt(3 * 3))
    assert one[2, 1] == 0.0
    for layers in (1, 3):
        assert torch.allclose(propagation_scores(graph, layers).double(),
                              _dense_adj_power(graph, layers), atol=1e-6)
    with pytest.raises(ValueError):
        propagation_scores(graph, 0)
