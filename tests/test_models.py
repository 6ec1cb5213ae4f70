"""Tests for gnnedu.models and gnnedu.explain on a small synthetic low-rank data set."""

import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnedu.explain import (
    explain_items,
    fold_in_scores,
    fold_in_user,
    recommend_for_items,
    score_contributions,
    similar_items,
)
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate
from gnnedu.models import (
    EASE,
    MF,
    GCNRecommender,
    GraphFilter,
    ItemKNN,
    LightGCN,
    Popularity,
    make_model,
)

FAST = dict(epochs=8, batch_size=256, num_neg=2, lr=0.02)


def synthetic(num_users=100, num_items=70, rank=3, seed=0):
    """Users like the items closest to their taste (a rank-3 model); 20% held out."""
    g = torch.Generator().manual_seed(seed)
    taste = torch.randn(num_users, rank, generator=g) @ torch.randn(rank, num_items, generator=g)
    taste = taste + 0.3 * torch.randn(num_users, num_items, generator=g)
    liked = taste > taste.quantile(0.8, dim=1, keepdim=True)
    users, items = liked.nonzero().T
    held = torch.rand(users.numel(), generator=g) < 0.2
    graph = build_graph((users[~held], items[~held]), num_users, num_items)
    return graph, (users[held], items[held])


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def lightgcn(data):
    graph, _ = data
    return LightGCN(dim=16, num_layers=2).fit(graph, **FAST, seed=1)


@pytest.mark.parametrize("name", ["popularity", "itemknn", "ease", "graphfilter", "mf", "gcn",
                                  "lightgcn"])
def test_interface_and_masking(data, name):
    graph, test = data
    kwargs = {"dim": 16} if name in ("mf", "gcn", "lightgcn") else {}
    model = make_model(name, **kwargs)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score([0])
    options = FAST if name in ("mf", "gcn", "lightgcn") else {}
    assert model.fit(graph, **options) is model
    scores = model.score(torch.tensor([0, 5, 9]))
    assert scores.shape == (3, graph.num_items) and torch.isfinite(scores).all()
    recs = model.recommend([0, 5, 9], k=10)
    assert recs.shape == (3, 10)
    seen = graph.item_lists()
    for row, u in enumerate([0, 5, 9]):
        assert not set(recs[row].tolist()) & set(seen[u].tolist())
        assert len(set(recs[row].tolist())) == 10
    assert model.recommend(k=3).shape == (graph.num_users, 3)
    with pytest.raises(IndexError):
        model.score([graph.num_users])


def test_models_beat_popularity_on_structured_data(data):
    graph, test = data
    pop = evaluate(Popularity().fit(graph), graph, test, ks=(10,))["recall@10"]
    for model in [EASE(lam=10.0), ItemKNN(k=20), MF(dim=16), LightGCN(dim=16, num_layers=2)]:
        options = dict(FAST, epochs=25) if isinstance(model, MF) else FAST
        model.fit(graph, **options)
        assert evaluate(model, graph, test, ks=(10,))["recall@10"] > pop + 0.05, model.name


def test_popularity_ranks_by_training_count(data):
    graph, _ = data
    model = Popularity().fit(graph)
    counts = torch.bincount(graph.items, minlength=graph.num_items)
    assert torch.equal(model.score([0])[0], counts.float())


def test_ease_is_the_constrained_least_squares_solution(data):
    graph, _ = data
    lam = 7.0
    b = EASE(lam=lam).fit(graph).B.double()
    r = graph.interactions.to_dense().double()
    gram = r.T @ r
    assert torch.all(b.diagonal() == 0)
    # Stationarity: (G + lam I) B - G is diagonal (the Lagrange multipliers of diag(B) = 0).
    residual = (gram + lam * torch.eye(len(gram))) @ b - gram
    off = residual - torch.diag(residual.diagonal())
    assert off.abs().max() < 1e-3


def test_itemknn_keeps_k_neighbours_of_cosine(data):
    graph, _ = data
    model = ItemKNN(k=5).fit(graph)
    assert ((model.B != 0).sum(0) <= 5).all()
    r = graph.interactions.to_dense()
    cos = torch.nn.functional.cosine_similarity(r[:, 0:1], r[:, 1:2], dim=0).item()
    full = ItemKNN(k=graph.num_items).fit(graph)
    assert full.B[0, 1].item() == pytest.approx(cos, abs=1e-5)
    with pytest.raises(ValueError):
        ItemKNN(k=0)


def test_graph_filter_is_two_propagation_steps(data):
    graph, _ = data
    model = GraphFilter().fit(graph)
    a = graph.adj.to_dense()
    nu = graph.num_users
    torch.testing.assert_close(model.B, (a @ a)[nu:, nu:], rtol=1e-4, atol=1e-6)


def test_gcn_layer_equals_pyg_gcnconv(data):
    graph, _ = data
    model = GCNRecommender(dim=8, num_layers=1, dropout=0.0)
    model.attach(graph)
    conv = GCNConv(8, 8)
    with torch.no_grad():
        conv.lin.weight.copy_(model.linears[0].weight)
        conv.bias.copy_(torch.randn(8))
        model.linears[0].bias.copy_(conv.bias)
    model.eval()
    expected = conv(model.embedding, graph.edge_index)
    torch.testing.assert_close(model.final_embeddings(), expected, rtol=1e-4, atol=1e-5)


def test_gcn_switched_off_is_lightgcn(data):
    graph, _ = data
    plain = GCNRecommender(dim=8, num_layers=2, transform=False, activation=None, dropout=0.0,
                           self_loops=False, combine="mean")
    light = LightGCN(dim=8, num_layers=2)
    plain.attach(graph)
    light.attach(graph)
    with torch.no_grad():
        light.embedding.copy_(plain.embedding)
    torch.testing.assert_close(plain.final_embeddings(), light.final_embeddings())
    # layer weights (1, 0, 0) is plain matrix factorisation on the layer-0 embeddings
    only_ego = LightGCN(dim=8, num_layers=2, layer_weights=[1, 0, 0])
    only_ego.attach(graph)
    torch.testing.assert_close(only_ego.final_embeddings(), only_ego.embedding)
    with pytest.raises(ValueError):
        LightGCN(num_layers=2, layer_weights=[1, 0])
    with pytest.raises(ValueError):
        GCNRecommender(activation="swish")


def test_dropout_only_in_training(data):
    graph, _ = data
    model = GCNRecommender(dim=8, num_layers=2, dropout=0.5)
    model.attach(graph)
    model.eval()
    a, b = model.final_embeddings(), model.final_embeddings()
    assert torch.equal(a, b)
    model.train()
    assert not torch.equal(model.final_embeddings(), model.final_embeddings())


def test_fold_in_reproduces_a_trained_user(data, lightgcn):
    graph, _ = data
    user_emb, _ = lightgcn.embeddings()
    for u in [0, 17, 42]:
        items = graph.item_lists()[u]
        folded = fold_in_user(lightgcn, items, ego=lightgcn.embedding.detach()[u])
        torch.testing.assert_close(folded, user_emb[u], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fold_in_scores(lightgcn, items, lightgcn.embedding[u]),
                                   lightgcn.score([u])[0], rtol=1e-4, atol=1e-5)



def test_fold_in_new_user_recommendations(data, lightgcn):
    items = [1, 2, 3]
    recs = recommend_for_items(lightgcn, items, k=5)
    assert recs.shape == (5,) and not set(recs.tolist()) & set(items)
    with pytest.raises(ValueError):
        fold_in_user(lightgcn, [])
    with pytest.raises(IndexError):
        fold_in_user(lightgcn, [10_000])
    with pytest.raises(ValueError, match="linear"):
        fold_in_user(GCNRecommender(dim=8).fit(data[0], epochs=1), items)


def test_score_contributions_sum_to_the_score(data, lightgcn):
    graph, _ = data
    for u, i in [(0, 3), (8, 50), (33, 1)]:
        parts = score_contributions(lightgcn, u, i)
        assert sorted(parts["items"].tolist()) == graph.item_lists()[u].tolist()
        assert torch.all(parts["contributions"][:-1] >= parts["contributions"][1:])
        total = parts["contributions"].sum().item() + parts["self"]
        score = lightgcn.score([u])[0, i].item()
        assert total == pytest.approx(score, abs=1e-4)
        assert parts["score"] == pytest.approx(score, abs=1e-4)
    new = explain_items(lightgcn, [4, 5], 6)
    assert new["score"] == pytest.approx(fold_in_scores(lightgcn, [4, 5])[6].item(), abs=1e-5)


def test_similar_items(lightgcn):
    items, cos = similar_items(lightgcn, 3, k=4)
    assert 3 not in items.tolist() and items.shape == (4,)
    assert torch.all(cos[:-1] >= cos[1:]) and torch.all(cos <= 1.0 + 1e-6)


def test_make_model_aliases_and_errors():
    assert isinstance(make_model("BPR-MF"), MF)
    assert isinstance(make_model("LightGCN", num_layers=2), LightGCN)
    with pytest.raises(ValueError, match="unknown model"):
        make_model("svd++")


@pytest.mark.parametrize("block", [1, 7, 10_000])
def test_hard_negatives_are_the_best_scoring_candidates_whatever_the_block(block, monkeypatch):
    """``bpr_scores`` with candidates ``[B, n, M]`` keeps, per negative, the candidate with the
    highest dot product with the user's final embedding; the user blocks of ``_hardest`` (a
    speed detail) do not change the choice."""
    graph, _ = synthetic()
    model = LightGCN(dim=8)
    model.attach(graph)
    model.reset_parameters(torch.Generator().manual_seed(0))
    monkeypatch.setattr(LightGCN, "HARD_NEGATIVE_BLOCK", block)
    gen = torch.Generator().manual_seed(1)
    users = torch.randint(graph.num_users, (20,), generator=gen)
    neg = torch.randint(graph.num_items, (20, 3, 5), generator=gen)
    with torch.no_grad():
        users_emb, items_emb = model.embeddings()
        picked = model._hardest(model.final_embeddings(), graph.num_users, users, neg)
    for b in range(20):
        for j in range(3):
            scores = items_emb[neg[b, j]] @ users_emb[users[b]]
            assert picked[b, j] == neg[b, j, scores.argmax()]
