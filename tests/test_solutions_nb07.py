"""Exercise solutions of notebook 07, checked on small random graphs against independent code."""

import pytest
import torch

from gnnedu.graph import build_graph
from gnnedu.models import LightGCN
from gnnedu.train import carve_validation
from notebooks.solutions import nb07


def random_interactions(num_users=30, num_items=40, per_user=6, seed=0):
    """A small ratings table (user, item, rating, timestamp): ``per_user`` items per user."""
    import pandas as pd

    gen = torch.Generator().manual_seed(seed)
    rows = [(u, int(i), 5, t) for u in range(num_users)
            for t, i in enumerate(torch.randperm(num_items, generator=gen)[:per_user])]
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


@pytest.fixture(scope="module")
def graph():
    return build_graph(random_interactions(), 30, 40)


# Exercise 1 -------------------------------------------------------------------------------------

def test_linear_layers_collapse_into_one_weight_matrix(graph):
    gen = torch.Generator().manual_seed(1)
    emb = torch.randn(graph.num_nodes, 8, generator=gen, dtype=torch.float64)
    weights = [torch.randn(8, 8, generator=gen, dtype=torch.float64) for _ in range(3)]
    adj = graph.adj.to_dense().double()
    stacked = nb07.stacked_linear_gcn(adj, emb, weights)
    collapsed = nb07.collapsed_linear_gcn(adj, emb, weights)
    assert stacked.shape == (graph.num_nodes, 8)
    torch.testing.assert_close(stacked, collapsed)


def test_stacked_linear_gcn_is_a_plain_gcn_without_activation(graph):
    # against an independent loop: H <- A H W, written out for two layers
    gen = torch.Generator().manual_seed(2)
    emb = torch.randn(graph.num_nodes, 4, generator=gen, dtype=torch.float64)
    w1, w2 = (torch.randn(4, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    adj = graph.adj.to_dense().double()
    expected = adj @ ((adj @ emb) @ w1) @ w2
    torch.testing.assert_close(nb07.stacked_linear_gcn(adj, emb, [w1, w2]), expected)


def test_a_relu_between_layers_breaks_the_collapse(graph):
    # the collapse needs linearity: with a ReLU in between the two sides differ
    gen = torch.Generator().manual_seed(3)
    emb = torch.randn(graph.num_nodes, 8, generator=gen, dtype=torch.float64)
    w1, w2 = (torch.randn(8, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    adj = graph.adj.to_dense().double()
    with_relu = adj @ torch.relu((adj @ emb) @ w1) @ w2
    assert not torch.allclose(with_relu, nb07.collapsed_linear_gcn(adj, emb, [w1, w2]))


# Exercise 2 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_lightgcn_by_hand_matches_gnnedu(graph, num_layers):
    model = LightGCN(dim=8, num_layers=num_layers).fit(graph, epochs=0, seed=4)
    alphas = model.alphas()
    with torch.no_grad():
        expected = model.final_embeddings()
        got = nb07.lightgcn_by_hand(graph.adj, model.embedding, alphas)
    torch.testing.assert_close(got, expected)


def test_lightgcn_by_hand_matches_pyg(graph):
    from torch_geometric.nn.models import LightGCN as PygLightGCN

    pyg = PygLightGCN(graph.num_nodes, embedding_dim=8, num_layers=2)
    with torch.no_grad():
        expected = pyg.get_embedding(graph.edge_index)
        got = nb07.lightgcn_by_hand(graph.adj, pyg.embedding.weight, [1 / 3, 1 / 3, 1 / 3])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_lightgcn_by_hand_needs_a_layer_zero_weight(graph):
    with pytest.raises(ValueError):
        nb07.lightgcn_by_hand(graph.adj, torch.zeros(graph.num_nodes, 2), [])


# Exercise 3 -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted():
    ratings = random_interactions(num_users=40, num_items=50, per_user=10, seed=5)
    fit, val = carve_validation(ratings, ratio=0.2, seed=0)
    graph = build_graph(fit, 40, 50)
    model = LightGCN(dim=8, num_layers=2).fit(graph, epochs=5, batch_size=64, seed=0)
    return model, graph, val


def test_choose_layer_weights_returns_the_best_candidate(fitted):
    model, graph, val = fitted
    candidates = [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1], [0.5, 0.5, 0]]
    best, table = nb07.choose_layer_weights(model, graph, val, candidates, k=5)
    assert len(table) == len(candidates)
    assert best in [[float(a) for a in c] for c in candidates]
    assert table["recall@5"].max() == table.loc[table["alphas"] == tuple(best), "recall@5"].max()


def test_choose_layer_weights_scores_agree_with_a_weighted_lightgcn(fitted):
    # independent path: a LightGCN built with those layer_weights and the same layer-0 table
    from gnnedu.metrics import evaluate

    model, graph, val = fitted
    candidates = [[0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]]
    _, table = nb07.choose_layer_weights(model, graph, val, candidates, k=5)
    for row, alphas in zip(table.itertuples(index=False), candidates):
        other = LightGCN(dim=8, num_layers=2, layer_weights=alphas)
        other.attach(graph)
        with torch.no_grad():
            other.embedding.copy_(model.embedding)
        other.eval()
        expected = evaluate(other, graph, val, ks=(5,))
        assert row[1] == pytest.approx(expected["recall@5"])
        assert row[2] == pytest.approx(expected["ndcg@5"])


def test_choose_layer_weights_rejects_a_wrong_length(fitted):
    model, graph, val = fitted
    with pytest.raises(ValueError):
        nb07.choose_layer_weights(model, graph, val, [[0.5, 0.5]], k=5)


# "Your turn" checks: the solution passes, each typical mistake gets its hint, nothing raises --

def stub(*args):
    raise NotImplementedError("your turn")


def test_bpr_loss_solution_matches_gnnedu_and_passes_the_check():
    from gnnedu.train import bpr_loss

    gen = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(10, generator=gen), torch.randn(10, 3, generator=gen)
    torch.testing.assert_close(nb07.bpr_loss(pos, neg), bpr_loss(pos, neg))
    # by hand: -log sigmoid(x) for every (positive, negative) pair, averaged
    by_hand = -torch.log(torch.sigmoid(pos.unsqueeze(1) - neg)).mean()
    torch.testing.assert_close(nb07.bpr_loss(pos, neg), by_hand)
    assert nb07.check_bpr_loss(nb07.bpr_loss) == "pass"


def naive_log_sigmoid(pos, neg):       # right formula, unstable for large gaps
    if neg.dim() == 2:
        pos = pos.unsqueeze(1)
    return -torch.log(torch.sigmoid(pos - neg)).mean()


@pytest.mark.parametrize("wrong, hint", [
    (stub, "replace `raise NotImplementedError`"),
    (lambda pos, neg: nb07.bpr_loss(neg, pos), "sign is reversed"),
    (lambda pos, neg: torch.nn.functional.softplus(neg - pos), "return one number"),
    (lambda pos, neg: torch.nn.functional.softplus(neg - pos).sum(), "should be"),
    (lambda pos, neg: torch.nn.functional.softplus(neg - pos).mean(), "[B, n]"),
    (naive_log_sigmoid, "use torch.nn.functional.logsigmoid"),
])
def test_check_bpr_loss_gives_the_hint(wrong, hint):
    message = nb07.check_bpr_loss(wrong)
    assert message.startswith("not yet: ") and hint in message


def test_combine_layers_solution_matches_lightgcn_and_passes_the_check():
    layers, mean = nb07._small_lightgcn()
    torch.testing.assert_close(nb07.combine_layers(layers), mean)
    with pytest.raises(ValueError, match="one weight per layer"):
        nb07.combine_layers(layers, [1.0])
    assert nb07.check_combine_layers(nb07.combine_layers) == "pass"


def last_layer_only(layers, weights=None):
    return layers[-1]


def normalised_weights(layers, weights=None):
    weights = [1.0] * len(layers) if weights is None else weights
    if len(weights) != len(layers):
        raise ValueError("wrong number of weights")
    return sum(w * h for w, h in zip(weights, layers)) / sum(weights) * 2


def no_length_check(layers, weights=None):
    weights = [1 / len(layers)] * len(layers) if weights is None else weights
    return sum(w * h for w, h in zip(weights, layers))


def index_error(layers, weights=None):
    weights = [1 / len(layers)] * len(layers) if weights is None else weights
    return sum(weights[k] * layers[k] for k in range(len(layers)))


@pytest.mark.parametrize("wrong, hint", [
    (stub, "replace `raise NotImplementedError`"),
    (last_layer_only, "mean of the layers"),
    (lambda layers, weights=None: sum(layers) / len(layers), "layer 0 alone"),
    (normalised_weights, "mean of the layers"),
    (no_length_check, "should raise a ValueError"),
    (index_error, "raised IndexError"),
])
def test_check_combine_layers_gives_the_hint(wrong, hint):
    message = nb07.check_combine_layers(wrong)
    assert message.startswith("not yet: ") and hint in message


# Check your understanding -----------------------------------------------------------------

def test_question_1_extra_parameters_of_the_article_gcn():
    from gnnedu.models import GCNRecommender

    gcn, light = GCNRecommender(dim=64, num_layers=2), LightGCN(dim=64, num_layers=2)
    graph = build_graph(random_interactions(), 30, 40)
    gcn.attach(graph)
    light.attach(graph)
    extra = sum(p.numel() for p in gcn.parameters()) - sum(p.numel() for p in light.parameters())
    assert extra == nb07.question_1() == 8320


def test_question_4_layer_weights():
    answer = nb07.question_4()
    layers, mean = nb07._small_lightgcn()
    torch.testing.assert_close(nb07.combine_layers(layers, answer["mean"]), mean)
    half = LightGCN(dim=4, num_layers=3, layer_weights=answer["half"])
    assert half.alphas()[0] == 0.5 and sum(half.alphas()) == pytest.approx(1.0)


def test_question_2_numbers_in_the_committed_sweeps():
    tests = nb07.question_2()
    mean_step = ("no_self_loops", "lightgcn")
    assert tests["recall@20_change"].abs().idxmax() == mean_step
    assert tests.loc[mean_step, "recall@20_change"] == pytest.approx(0.053, abs=5e-4)
    assert tests.loc[mean_step, "recall@20_wins"] == 5
    assert tests.loc[mean_step, "recall@20_p"] == pytest.approx(4.2e-5, abs=5e-7)
    assert tests.loc[("article", "no_dropout"), "recall@20_p"] == pytest.approx(0.39, abs=0.005)
    assert tests.loc[("no_dropout", "no_relu"), "recall@20_p"] == pytest.approx(0.51, abs=0.005)


def test_question_5_numbers_in_the_committed_results():
    answer = nb07.question_5()
    recall, ndcg = answer["recall@20"], answer["ndcg@20"]
    assert recall["mean_diff"] == pytest.approx(-0.0013, abs=5e-5) and recall["wins"] == 2
    assert recall["p_value"] == pytest.approx(0.47, abs=0.005)
    assert ndcg["mean_diff"] == pytest.approx(0.0064, abs=5e-5) and ndcg["wins"] == 5
    assert ndcg["p_value"] == pytest.approx(0.008, abs=0.0005)
