"""Message passing helpers (gnnedu/mp.py): sub-steps, traces, torch layers, fields, smoothness."""

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnedu import mp
from gnnedu.data import toy

PATH = mp.adjacency_from_edges([(0, 1), (1, 2), (2, 3)], 4)  # 0 - 1 - 2 - 3
STAR_PLUS_ISOLATED = mp.adjacency_from_edges([(0, 1), (0, 2), (0, 3)], 5)  # node 4 isolated


def _random_graph(n=7, p=0.5, seed=3):
    g = nx.gnp_random_graph(n, p, seed=seed)
    return nx.to_numpy_array(g, nodelist=range(n), weight=None)


@pytest.fixture
def article():
    w, b = toy.article_weights()
    return toy.triangle_adjacency(), toy.triangle_features(), w, b


# --- the sub-steps --------------------------------------------------------------------------


def test_propagation_matrices_match_their_definitions():
    a = STAR_PLUS_ISOLATED
    deg = a.sum(axis=1)  # [3, 1, 1, 1, 0]
    np.testing.assert_array_equal(mp.propagation_matrix(a, "sum"), a)
    mean = mp.propagation_matrix(a, "mean")
    np.testing.assert_allclose(mean.sum(axis=1), [1, 1, 1, 1, 0])
    np.testing.assert_allclose(mean[0, 1:4], 1 / 3)
    art = mp.propagation_matrix(a, "article")
    np.testing.assert_allclose(art[0, 1:4], 1 / np.sqrt(3))
    np.testing.assert_allclose(art[1, 0], 1.0)
    sym = mp.propagation_matrix(a, "sym")
    np.testing.assert_allclose(sym, sym.T)
    np.testing.assert_allclose(sym[0, 1], 1 / np.sqrt(deg[0] * deg[1]))
    np.testing.assert_array_equal(sym[4], 0)
    loops = mp.propagation_matrix(a, "sym", self_loops=True)
    np.testing.assert_allclose(loops[4, 4], 1.0)  # the isolated node only hears itself
    np.testing.assert_allclose(loops[0, 0], 1 / 4)  # degree 3 + 1
    with pytest.raises(ValueError, match="not a matrix product"):
        mp.propagation_matrix(a, "max")
    with pytest.raises(ValueError, match="unknown aggregator"):
        mp.propagation_matrix(a, "median")


def test_aggregate_max_and_isolated_nodes():
    h = np.array([[1.0, -5.0], [2.0, 0.0], [-1.0, 3.0], [0.0, 1.0], [7.0, 7.0]])
    out = mp.aggregate(h, STAR_PLUS_ISOLATED, "max")
    np.testing.assert_array_equal(out[0], [2.0, 3.0])  # max over rows 1, 2, 3
    np.testing.assert_array_equal(out[1], h[0])
    np.testing.assert_array_equal(out[4], [0.0, 0.0])  # no neighbours, no messages
    out_loops = mp.aggregate(h, STAR_PLUS_ISOLATED, "max", self_loops=True)
    np.testing.assert_array_equal(out_loops[4], h[4])
    np.testing.assert_allclose(mp.aggregate(h, STAR_PLUS_ISOLATED, "mean")[0], h[1:4].mean(0))


def test_transform_conventions_bias_and_activation():
    w = np.array([[1.0, 2.0], [0.0, 1.0]])
    m = np.array([[1.0, 1.0]])
    np.testing.assert_array_equal(mp.transform(m, w, "Wh"), [[3.0, 1.0]])  # W m
    np.testing.assert_array_equal(mp.transform(m, w, "hW"), [[1.0, 3.0]])  # m W
    sym_w = w + w.T
    np.testing.assert_array_equal(mp.transform(m, sym_w, "Wh"), mp.transform(m, sym_w, "hW"))
    np.testing.assert_array_equal(mp.add_bias([[1.0, 2.0]], [0.5, -3.0]), [[1.5, -1.0]])
    np.testing.assert_array_equal(mp.activate([[-1.0, 2.0]]), [[0.0, 2.0]])
    np.testing.assert_array_equal(mp.activate([[-1.0, 2.0]], "none"), [[-1.0, 2.0]])
    with pytest.raises(ValueError):
        mp.activate([[1.0]], "sigmoid")
    with pytest.raises(ValueError):
        mp.transform(m, w, "WhT")


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="square"):
        mp.check_adjacency(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        mp.check_adjacency([[0, -1], [-1, 0]])
    with pytest.raises(ValueError, match="features"):
        mp.aggregate(np.zeros((3, 2)), PATH)
    with pytest.raises(ValueError, match="outside"):
        mp.adjacency_from_edges([(0, 5)], 3)
    with pytest.raises(ValueError):
        mp.receptive_field(PATH, 9, 1)
    with pytest.raises(ValueError):
        mp.receptive_field(PATH, 0, -1)
    with pytest.raises(ValueError):
        mp.gcn_rounds(np.eye(4), PATH, np.eye(4), np.zeros(4), rounds=-1)


# --- the article's example ------------------------------------------------------------------


def test_article_round_one_by_hand(article):
    a, x, w, b = article
    h1 = mp.gcn_layer(x, a, w, b, how="mean")
    # v1: m = (h2 + h3)/2 = (0, .5, .5); W m = (.3*.5+.5*.5, .1*.5+.5*.5, .2*.5+.5*.5)
    #     = (.4, .3, .35); + b = (.5, .5, .65)
    # v2: m = (.5, 0, .5); W m = (.35, .45, .4); + b = (.45, .65, .7)
    # v3: m = (.5, .5, 0); W m = (.25, .25, .25); + b = (.35, .45, .55)
    expected = [[0.5, 0.5, 0.65], [0.45, 0.65, 0.7], [0.35, 0.45, 0.55]]
    np.testing.assert_allclose(h1, expected, atol=1e-12)


def test_article_round_two_by_hand(article):
    a, x, w, b = article
    h2 = mp.gcn_rounds(x, a, w, b, rounds=2)[2]
    # v1: m = mean(h2, h3) = (.4, .55, .625)
    #     W m = (.08+.165+.3125, .16+.055+.3125, .12+.11+.3125) = (.5575, .5275, .5425)
    np.testing.assert_allclose(h2[0], [0.6575, 0.7275, 0.8425], atol=1e-12)
    assert (h2 > 0).all()  # ReLU never clips in this example


def test_trace_matches_layer_and_matrix_form(article):
    a, x, w, b = article
    steps = mp.trace(x, a, w, b, rounds=2)
    hs = mp.gcn_rounds(x, a, w, b, rounds=2)
    for r in (1, 2):
        np.testing.assert_allclose(mp.trace_matrix(steps[r - 1], "activate"), hs[r])
        np.testing.assert_allclose(mp.layer_matrix_form(hs[r - 1], a, w, b), hs[r])
        for step in steps[r - 1]:
            np.testing.assert_array_equal(step.sources, mp.neighbours(a, step.node))
            np.testing.assert_array_equal(step.gathered, hs[r - 1][step.sources])
            np.testing.assert_allclose(step.biased, step.transformed + b)


@pytest.mark.parametrize("how", mp.AGGREGATORS)
@pytest.mark.parametrize("self_loops", [False, True])
def test_trace_equals_gcn_layer_on_random_graphs(how, self_loops):
    rng = np.random.default_rng(0)
    a = _random_graph()
    x = rng.normal(size=(7, 3))
    w, b = rng.normal(size=(4, 3)), rng.normal(size=4)
    w2 = rng.normal(size=(4, 4))
    h1 = mp.gcn_layer(x, a, w, b, how, self_loops)
    steps = mp.trace(x, a, w, b, 1, how, self_loops)
    np.testing.assert_allclose(mp.trace_matrix(steps[0], "activate"), h1, atol=1e-12)
    np.testing.assert_allclose(mp.trace_matrix(steps[0], "aggregate"),
                               mp.aggregate(x, a, how, self_loops), atol=1e-12)
    if how != "max":
        np.testing.assert_allclose(mp.layer_matrix_form(x, a, w, b, how, self_loops), h1,
                                   atol=1e-12)
    # row convention: z = m W, so W must be (in, out)
    h_row = mp.gcn_layer(h1, a, w2, b, how, self_loops, convention="hW")
    np.testing.assert_allclose(h_row, np.maximum(mp.aggregate(h1, a, how, self_loops) @ w2 + b,
                                                 0), atol=1e-12)


def test_arithmetic_writes_the_steps(article):
    a, x, w, b = article
    step = mp.trace(x, a, w, b, rounds=1)[0][0]
    text = mp.arithmetic(step, w, b, toy.TRIANGLE_NODES)
    assert "N(v1) = {v2, v3}" in text
    assert "0.5*[0, 1, 0] + 0.5*[0, 0, 1]" in text
    assert "0.2*0 + 0.3*0.5 + 0.5*0.5 = 0.4" in text
    assert text.strip().endswith("[0.5, 0.5, 0.65]")
    short = mp.arithmetic(step, w, b, toy.TRIANGLE_NODES, upto="aggregate")
    assert "transform" not in short and "= [0, 0.5, 0.5]" in short
    with pytest.raises(ValueError):
        mp.arithmetic(step, w, b, upto="fly")


def test_step_and_round_tables(article):
    a, x, w, b = article
    steps = mp.trace(x, a, w, b, rounds=2)
    t = mp.step_table(steps[1][2], toy.TRIANGLE_NODES)
    assert list(t.index) == ["h^(1)_v1", "h^(1)_v2", "m (mean)", "W m", "W m + b", "h^(2)_v3"]
    np.testing.assert_allclose(t.loc["m (mean)"], (t.iloc[0] + t.iloc[1]) / 2)
    big = mp.round_table(steps[0], toy.TRIANGLE_NODES)
    assert big.index.names == ["node", "quantity"] and len(big) == 3 * 6


# --- the torch implementations --------------------------------------------------------------


def _tensors(article):
    a, x, w, b = article
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in dict(x=x, w=w, b=b).items()}
    return t["x"], toy.triangle_edge_index(), t["w"], t["b"]


def test_torch_layer_and_messagepassing_match_numpy(article):
    a, x_np, w_np, b_np = article
    x, ei, w, b = _tensors(article)
    expected = mp.gcn_rounds(x_np, a, w_np, b_np, rounds=2)
    plain = mp.run_rounds(lambda h, e: mp.torch_mean_layer(h, e, w, b), x, ei, rounds=2)
    conv = mp.MeanConv(3, 3).double()
    with torch.no_grad():
        conv.lin.weight.copy_(w)
        conv.lin.bias.copy_(b)
        pyg = mp.run_rounds(conv, x, ei, rounds=2)
    for r in (1, 2):
        np.testing.assert_allclose(plain[r].numpy(), expected[r], atol=1e-12)
        np.testing.assert_allclose(pyg[r].numpy(), expected[r], atol=1e-12)
        np.testing.assert_array_equal(np.round(pyg[r].numpy(), 4), np.round(expected[r], 4))


def test_gcnconv_matches_symmetric_normalisation_with_self_loops(article):
    a, x_np, w_np, b_np = article
    x, ei, w, b = _tensors(article)
    conv = GCNConv(3, 3).double()
    with torch.no_grad():
        conv.lin.weight.copy_(w)
        conv.bias.copy_(b)
        out = mp.run_rounds(conv, x, ei, rounds=2)
    expected = mp.gcn_rounds(x_np, a, w_np, b_np, rounds=2, how="sym", self_loops=True)
    for r in (1, 2):
        np.testing.assert_allclose(out[r].numpy(), expected[r], atol=1e-12)
    # With self-loops every node of the triangle hears all three nodes with weight 1/3, so
    # round 1 gives every node W (1/3, 1/3, 1/3) + b = 1/3 * row sums (all 1) + b.
    np.testing.assert_allclose(expected[1], np.tile(1 / 3 + b_np, (3, 1)), atol=1e-12)


def test_torch_layer_on_a_graph_with_an_isolated_node():
    a = STAR_PLUS_ISOLATED
    rng = np.random.default_rng(1)
    x_np, w_np, b_np = rng.normal(size=(5, 2)), rng.normal(size=(2, 2)), rng.normal(size=2)
    src, dst = np.nonzero(a.T)  # a[i, j] != 0 means j -> i
    ei = torch.tensor(np.stack([src, dst]), dtype=torch.long)
    out = mp.torch_mean_layer(*(torch.tensor(v) for v in (x_np,)), ei, torch.tensor(w_np),
                              torch.tensor(b_np))
    expected = mp.transform(mp.aggregate(x_np, a, "mean"), w_np) + b_np
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)


# --- receptive fields ------------------------------------------------------------------------


def test_receptive_field_on_a_path():
    assert mp.receptive_field(PATH, 0, 0).tolist() == [0]
    assert mp.receptive_field(PATH, 0, 2).tolist() == [0, 1, 2]
    # without self-loops only walks of length exactly 2: 0-1-0 and 0-1-2
    assert mp.receptive_field(PATH, 0, 2, self_loops=False).tolist() == [0, 2]
    assert mp.receptive_field(PATH, 0, 3, self_loops=False).tolist() == [1, 3]
    np.testing.assert_array_equal(mp.hop_distances(PATH, 1), [1, 0, 1, 2])
    np.testing.assert_array_equal(mp.hop_distances(STAR_PLUS_ISOLATED, 1), [1, 0, 2, 2, -1])


def test_receptive_field_parity_on_the_bipartite_toy_graph():
    a = toy.toy_adjacency(threshold=toy.LIKE_THRESHOLD)
    users = set(range(5))
    for k in (2, 4):
        assert set(mp.receptive_field(a, 1, k, self_loops=False)) <= users
    for k in (1, 3):
        assert not set(mp.receptive_field(a, 1, k, self_loops=False)) & users
    with_loops = set(mp.receptive_field(a, 1, 3))
    assert with_loops == {j for j, d in enumerate(mp.hop_distances(a, 1)) if 0 <= d <= 3}


def test_receptive_field_equals_nonzeros_of_matrix_power():
    a = _random_graph(9, 0.3, seed=5)
    for k in range(5):
        power = np.linalg.matrix_power(a + np.eye(9), k)
        assert mp.receptive_field(a, 2, k).tolist() == np.flatnonzero(power[2]).tolist()


# --- smoothness ------------------------------------------------------------------------------


def test_dirichlet_energy_and_spread_by_hand():
    two = mp.adjacency_from_edges([(0, 1)], 2)
    assert mp.dirichlet_energy([[0.0], [2.0]], two) == 4.0  # 1/2 (4 + 4)
    assert mp.dirichlet_energy(np.ones((4, 3)), PATH) == 0.0
    rng = np.random.default_rng(2)
    h = rng.normal(size=(4, 3))
    lap = np.diag(PATH.sum(1)) - PATH
    assert mp.dirichlet_energy(h, PATH) == pytest.approx(np.trace(h.T @ lap @ h))
    assert mp.relative_dirichlet_energy(3 * h, PATH) == pytest.approx(
        mp.relative_dirichlet_energy(h, PATH))
    assert mp.relative_dirichlet_energy(np.zeros((4, 2)), PATH) == 0.0
    assert mp.spread([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]]) == pytest.approx(0.0, abs=1e-7)
    assert mp.spread([[1.0, 0.0], [0.0, 1.0]]) == pytest.approx(np.sqrt(0.5))
    assert mp.spread([[1.0, 0.0], [-1.0, 0.0]]) == pytest.approx(1.0)


def test_over_smoothing_on_karate():
    g = nx.karate_club_graph()
    a = nx.to_numpy_array(g, weight=None)
    curves = mp.smoothness_by_depth(np.eye(34), a, depth=12)
    assert set(curves) == set(mp.AGGREGATORS)
    for how, values in curves.items():
        assert values[-1] < 0.5 * values[0], how
    # one-hot features and max with self-loops: after k rounds node i holds the indicator of
    # its k-hop ball; once k reaches the diameter every node holds all ones
    diameter = nx.diameter(g)
    assert curves["max"][diameter] == pytest.approx(0.0, abs=1e-12)
    assert curves["max"][diameter - 1] > 0
    energy = mp.smoothness_by_depth(np.eye(34), a, 30, ["mean"],
                                    measure=mp.relative_dirichlet_energy)
    assert energy["mean"][-1] < 0.05 * energy["mean"][0]


def test_propagate_one_hot_counts_walks():
    liked = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
    a = toy.toy_adjacency(threshold=toy.LIKE_THRESHOLD)
    sig = mp.propagate_one_hot(a, 1, hops=3)
    assert sig.shape == (4, 11)
    np.testing.assert_array_equal(sig[0], np.eye(11)[1])
    np.testing.assert_array_equal(sig[1, 5:], liked[1])  # the movies Ben liked
    np.testing.assert_array_equal(sig[3, 5:], (liked @ liked.T @ liked)[1])
    np.testing.assert_array_equal(sig[3, :5], 0)  # odd hops land on movies only


# --- attention (GAT) ------------------------------------------------------------------------


def test_attention_scores_on_the_triangle_by_hand(article):
    a_adj, x, w, _ = article
    # z_j = W h_j is column j of W: z1 = (.2, .4, .3), z2 = (.3, .1, .2), z3 = (.5, .5, .5);
    # a_target . z = (-.2, .2, 0), a_source . z = (.2, -.2, 0); negatives are multiplied by 0.2
    e = mp.attention_scores(x, a_adj, w, mp.TRIANGLE_ATTENTION)
    np.testing.assert_allclose(e, [[0.0, -0.08, -0.04], [0.4, 0.0, 0.2], [0.2, -0.04, 0.0]],
                               atol=1e-12)
    alpha = mp.attention_coefficients(x, a_adj, w, mp.TRIANGLE_ATTENTION)
    expected = np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(alpha, expected, atol=1e-12)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    assert alpha[1, 0] > alpha[1, 2] > alpha[1, 1]  # v2 listens most to v1


def test_attention_without_self_loops_and_missing_edges():
    h = np.arange(8.0).reshape(4, 2)
    a = np.array([0.3, -0.1, 0.5, 0.2])
    e = mp.attention_scores(h, PATH, np.eye(2), a, self_loops=False)
    assert np.isnan(e[0, 0]) and np.isnan(e[0, 2]) and np.isfinite(e[0, 1])
    alpha = mp.attention_coefficients(h, PATH, np.eye(2), a, self_loops=False)
    assert alpha[0, 1] == 1.0 and alpha[3, 2] == 1.0  # a single neighbour gets weight 1
    np.testing.assert_array_equal(alpha == 0, PATH == 0)
    iso = mp.attention_coefficients(np.ones((5, 2)), STAR_PLUS_ISOLATED, np.eye(2), a,
                                    self_loops=False)
    np.testing.assert_array_equal(iso[4], 0.0)  # an isolated node hears nothing
    with pytest.raises(ValueError, match="2 \\* 2"):
        mp.attention_scores(h, PATH, np.eye(2), [1.0, 2.0])


def test_softmax_rows_is_stable_for_large_scores():
    e = np.array([[1000.0, 1000.0, np.nan], [np.nan, np.nan, np.nan], [-1e4, 0.0, np.nan]])
    p = mp.softmax_rows(e)
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zero_attention_vector_is_the_mean_with_self_loops(seed):
    rng = np.random.default_rng(seed)
    adj = _random_graph(seed=seed)
    h, w = rng.normal(size=(7, 3)), rng.normal(size=(2, 3))
    alpha = mp.attention_coefficients(h, adj, w, np.zeros(4))
    np.testing.assert_allclose(alpha, mp.propagation_matrix(adj, "mean", self_loops=True))
    np.testing.assert_allclose(mp.gat_layer(h, adj, w, np.zeros(4)),
                               mp.aggregate(h, adj, "mean", self_loops=True) @ w.T)


def test_gat_layer_numpy_torch_and_gatconv_agree(article):
    a_adj, x, w, b = article
    h_np = mp.gat_layer(x, a_adj, w, mp.TRIANGLE_ATTENTION, b)
    xt, ei = torch.tensor(x), toy.triangle_edge_index()
    h_torch = mp.torch_gat_layer(xt, ei, torch.tensor(w), torch.tensor(mp.TRIANGLE_ATTENTION),
                                 torch.tensor(b))
    conv = mp.gatconv_with_weights(w, mp.TRIANGLE_ATTENTION, b)
    with torch.no_grad():
        h_pyg, (index, alpha_pyg) = conv(xt, ei, return_attention_weights=True)
    np.testing.assert_allclose(h_torch.numpy(), h_np, atol=1e-12)
    np.testing.assert_allclose(h_pyg.numpy(), h_np, atol=1e-12)
    alpha = mp.attention_coefficients(x, a_adj, w, mp.TRIANGLE_ATTENTION)
    src, dst = index.numpy()
    np.testing.assert_allclose(alpha_pyg[:, 0].numpy(), alpha[dst, src], atol=1e-12)
    # by hand for v1: sum_j alpha_1j z_j + b
    np.testing.assert_allclose(h_np[0], alpha[0] @ (x @ w.T) + b)


def test_gat_agrees_with_gatconv_on_a_random_graph():
    rng = np.random.default_rng(5)
    adj = _random_graph(n=9, p=0.4, seed=5)
    h, w, a, b = (rng.normal(size=(9, 4)), rng.normal(size=(3, 4)), 2 * rng.normal(size=6),
                  rng.normal(size=3))
    src, dst = np.nonzero(adj.T)  # adj[i, j]: j sends to i
    ei = torch.tensor(np.stack([src, dst]))
    conv = mp.gatconv_with_weights(w, a, b)
    with torch.no_grad():
        out = conv(torch.tensor(h), ei).numpy()
    np.testing.assert_allclose(out, mp.gat_layer(h, adj, w, a, b), atol=1e-10)
    torch_out = mp.torch_gat_layer(torch.tensor(h), ei, torch.tensor(w), torch.tensor(a),
                                   torch.tensor(b))
    np.testing.assert_allclose(torch_out.numpy(), out, atol=1e-10)


def test_multihead_mean_and_concat():
    rng = np.random.default_rng(1)
    adj = _random_graph(seed=1)
    h = rng.normal(size=(7, 3))
    ws = [rng.normal(size=(2, 3)) for _ in range(3)]
    avs = [rng.normal(size=4) for _ in range(3)]
    heads = [mp.gat_layer(h, adj, w, a) for w, a in zip(ws, avs)]
    np.testing.assert_allclose(mp.gat_multihead(h, adj, ws, avs), np.mean(heads, axis=0))
    cat = mp.gat_multihead(h, adj, ws, avs, combine="concat")
    assert cat.shape == (7, 6)
    np.testing.assert_allclose(cat[:, 2:4], heads[1])
    with pytest.raises(ValueError):
        mp.gat_multihead(h, adj, ws, avs, combine="max")
    with pytest.raises(ValueError):
        mp.gat_multihead(h, adj, ws, avs[:2])
    # heads sharing W: averaging their outputs == propagating with the averaged alphas
    w = ws[0]
    avs4 = [rng.normal(size=4) for _ in range(4)]
    alphas = mp.head_coefficients(h @ w.T, adj, avs4)  # W = identity on z = h W^T
    assert alphas.shape == (4, 7, 7)
    np.testing.assert_allclose(mp.gat_multihead(h, adj, [w] * 4, avs4),
                               alphas.mean(axis=0) @ h @ w.T, atol=1e-12)


def test_attention_entropy():
    uniform = mp.propagation_matrix(_random_graph(), "mean", self_loops=True)
    np.testing.assert_allclose(mp.attention_entropy(uniform), 1.0)
    peaked = np.array([[0.98, 0.01, 0.01], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    ent = mp.attention_entropy(peaked)
    assert ent[0] < 0.15 and ent[1] == 1.0 and ent[2] == pytest.approx(1.0)


def test_attention_arithmetic_lists_scores_and_weights(article):
    a_adj, x, w, _ = article
    text = mp.attention_arithmetic(x, a_adj, w, mp.TRIANGLE_ATTENTION, 1, ["v1", "v2", "v3"])
    assert "N~(v2) = {v1, v2, v3}" in text
    assert "e_v2v1 = LeakyReLU(0.2 + 0.2) = LeakyReLU(0.4) = 0.4" in text
    alpha = mp.attention_coefficients(x, a_adj, w, mp.TRIANGLE_ATTENTION)
    assert f"alpha_v2v1 = exp(0.4) / {np.exp([0.4, 0.0, 0.2]).sum():.4f}" in text
    assert f"= {alpha[1, 0]:.4f}" in text
