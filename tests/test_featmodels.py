"""gnnedu.featmodels (notebook 09): feature encoders, the feature-only model, the feature-aware
LightGCN and the heterogeneous GraphSAGE, on a small synthetic data set (and the real
MovieLens features where said)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from synthetic import NUM_ITEMS, NUM_USERS, two_taste_groups

from gnnedu import explain
from gnnedu.featmodels import (
    YEAR_BINS,
    FeatureIDMF,
    FeatureLightGCN,
    FeatureMF,
    HeteroSAGE,
    NodeEncoder,
    NodeFeatures,
    movielens_features,
    year_bins,
)
from gnnedu.graph import build_graph
from gnnedu.models import MODELS, make_model

COLD_ITEM = NUM_ITEMS - 1       # given no training interaction below
COLD_USER = NUM_USERS - 1


def _features(seed: int = 0) -> NodeFeatures:
    """Random features: 5 per user, 7 per item; items 0-19 share feature 0 (the taste group)."""
    gen = torch.Generator().manual_seed(seed)
    user = torch.rand(NUM_USERS, 5, generator=gen)
    item = torch.rand(NUM_ITEMS, 7, generator=gen)
    item[:, 0] = (torch.arange(NUM_ITEMS) < NUM_ITEMS // 2).float()
    return NodeFeatures(user, item, [f"u{i}" for i in range(5)], [f"i{i}" for i in range(7)])


@pytest.fixture(scope="module")
def graph():
    ratings = two_taste_groups()
    keep = (ratings["item"] != COLD_ITEM) & (ratings["user"] != COLD_USER)
    return build_graph(ratings[keep], NUM_USERS, NUM_ITEMS)


@pytest.fixture(scope="module")
def features():
    return _features()


def _fit(model, graph, features, epochs=15, **options):
    torch.manual_seed(0)
    return model.fit(graph, features=features, epochs=epochs, batch_size=64, seed=0,
                     **options)


# --- features ------------------------------------------------------------------------------

def test_year_bins_one_hot():
    x, names = year_bins([1955.0, 1975.0, 1990.0, 1997.0, 1998.0, np.nan])
    assert x.shape == (6, len(YEAR_BINS)) and len(names) == len(YEAR_BINS)
    assert x[:5].sum(1).tolist() == [1.0] * 5 and x[5].sum() == 0      # unknown: no bin
    assert [names[int(i)] for i in x[:5].argmax(1)] == [
        "year<1960", "year 1970-1979", "year 1990", "year 1997", "year>=1998"]


def test_movielens_features_shapes(ml):
    f = movielens_features(ml)
    assert f.user.shape == (943, 24) and f.item.shape == (1682, 21 + len(YEAR_BINS))
    assert len(f.user_names) == 24 and len(f.item_names) == f.item.shape[1]
    assert f.item_names[:2] == ["unknown", "Action"] and "year 1995" in f.item_names
    # one year bin per movie with a known year
    bins = f.item[:, 21:]
    known = ~ml.items["year"].isna().to_numpy()
    assert torch.equal(bins.sum(1), torch.from_numpy(known.astype(np.float32)))


def test_features_must_match_the_graph(graph):
    bad = NodeFeatures(torch.zeros(3, 2), torch.zeros(NUM_ITEMS, 2), [], [])
    with pytest.raises(ValueError, match="features have 3 users"):
        FeatureLightGCN(dim=4).fit(graph, features=bad, epochs=1)


# --- the encoder: a cold node depends on its features only ----------------------------------

def test_encoder_shapes_and_cold_nodes(graph, features):
    enc = NodeEncoder(dim=8, ids=True)
    enc.build(graph, features)
    enc.reset_parameters(torch.Generator().manual_seed(0))
    out = enc()
    assert out.shape == (NUM_USERS + NUM_ITEMS, 8)
    cold = NUM_USERS + COLD_ITEM
    assert enc.warm[cold] == 0 and enc.warm[COLD_USER] == 0 and enc.warm[0] == 1
    with torch.no_grad():
        enc.id_embedding[cold] += 100.0                 # a cold node's ID row is never read
        enc.id_embedding[0] += 100.0
    after = enc()
    assert torch.equal(after[cold], out[cold]) and not torch.equal(after[0], out[0])
    # ... its features are
    enc.features.item[COLD_ITEM, 1] += 1.0
    assert not torch.equal(enc()[cold], out[cold])
    enc.features.item[COLD_ITEM, 1] -= 1.0


def test_id_dropout_only_in_training(graph, features):
    enc = NodeEncoder(dim=4, ids=True, id_dropout=0.5)
    enc.build(graph, features)
    enc.reset_parameters()
    enc.eval()
    assert torch.equal(enc.id_mask(), enc.warm)
    enc.train()
    torch.manual_seed(0)
    mask = enc.id_mask()
    assert 0 < mask.sum() < enc.warm.sum() and (mask <= enc.warm).all()
    with pytest.raises(ValueError):
        NodeEncoder(id_dropout=1.0)


# --- models --------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [FeatureMF, FeatureIDMF, FeatureLightGCN, HeteroSAGE])
def test_fit_scores_and_determinism(cls, graph, features, deterministic):
    a = _fit(cls(dim=8), graph, features)
    b = _fit(cls(dim=8), graph, features)
    scores = a.score()
    assert scores.shape == (NUM_USERS, NUM_ITEMS) and torch.isfinite(scores).all()
    assert torch.equal(scores, b.score())
    assert a.history.loss[-1] < a.history.loss[0]
    assert a.recommend(k=5).shape == (NUM_USERS, 5)


def test_new_item_embedding_depends_only_on_features_and_graph(graph, features):
    warm = [i for i in range(NUM_ITEMS) if i != COLD_ITEM]     # negatives never the cold item
    model = _fit(FeatureLightGCN(dim=8, item_layer0=False), graph, features, neg_items=warm)
    final = model.embed()
    node = NUM_USERS + COLD_ITEM
    with torch.no_grad():              # isolated in training: alpha_0 (x W + b), nothing else
        expected = model.alphas()[0] * model.encoder.item_map(features.item[COLD_ITEM])
        assert torch.allclose(final[node], expected, atol=1e-6)
        model.encoder.id_embedding[node] = 1e3       # its ID row changes nothing anywhere
        assert torch.equal(model.embed(), final)
    # a second model trained on the same graph, whose features differ only for the cold item:
    # training never reads them, so every other node keeps its embedding
    other = NodeFeatures(features.user, features.item.clone(), [], [])
    other.item[COLD_ITEM] += 1.0
    second = _fit(FeatureLightGCN(dim=8, item_layer0=False), graph, other,
                  neg_items=warm).embed()
    keep = torch.ones(len(final), dtype=torch.bool)
    keep[node] = False
    assert torch.allclose(second[keep], final[keep], atol=1e-6)
    assert not torch.allclose(second[node], final[node])


def test_item_layer0_scores_items_from_layer0(graph, features):
    model = _fit(FeatureLightGCN(dim=8, item_layer0=True), graph, features)
    layers = model.layer_embeddings()
    final = model.embed()
    nu = NUM_USERS
    assert torch.allclose(final[nu:], layers[0][nu:])
    assert torch.allclose(final[:nu], sum(a * h for a, h in zip(model.alphas(), layers))[:nu])


def test_feature_only_model_has_no_identity(features):
    ratings = two_taste_groups()
    graph = build_graph(ratings, NUM_USERS, NUM_ITEMS)
    twin = NodeFeatures(features.user.clone(), features.item, [], [])
    twin.user[1] = twin.user[0]            # users 0 and 1: same features, different ratings
    model = _fit(FeatureMF(dim=8), graph, twin)
    assert model.encoder.id_embedding is None
    scores = model.score([0, 1])
    assert torch.allclose(scores[0], scores[1], atol=1e-6)
    assert not hasattr(model, "embedding") or model.embedding is None


def test_fold_in_matches_the_trained_user(graph, features):
    """explain.fold_in_user with ego = the user's layer-0 embedding gives back a user of the
    graph exactly: the same fold-in serves new users (notebook 09)."""
    model = _fit(FeatureLightGCN(dim=8), graph, features)
    items = graph.item_lists()
    with explain.frozen_embeddings(model):
        layer0, final = model.layer_embeddings()[0], model.final_embeddings()
        for user in (0, 7, 20):
            folded = explain.fold_in_user(model, items[user], ego=layer0[user])
            assert torch.allclose(folded, final[user], atol=1e-5)


def test_hetero_sage_is_inductive(graph, features):
    model = _fit(HeteroSAGE(dim=8), graph, features)
    base = model.embed()
    # the cold user gets edges at test time: the network embeds it from them
    more = build_graph((torch.cat([graph.users, torch.tensor([COLD_USER, COLD_USER])]),
                        torch.cat([graph.items, torch.tensor([0, 1])])), NUM_USERS, NUM_ITEMS)
    after = model.embed(more)
    assert not torch.allclose(after[COLD_USER], base[COLD_USER])
    # a cold node's ID row is never read, even with edges (the warm mask is training's)
    with torch.no_grad():
        model.encoder.id_embedding[COLD_USER] += 1e3
    assert torch.equal(model.embed(more), after)


def test_val_items_restrict_validation_only(graph, features):
    ratings = two_taste_groups()
    val = ratings[ratings["item"] == COLD_ITEM]
    model = FeatureLightGCN(dim=8)
    _fit(model, graph, features, epochs=4, val=val, val_items=[COLD_ITEM, 0, 1],
         eval_every=2, ks=(2,), metric="recall@2")
    # three candidates, lists of two: a user with the cold item as test item hits it unless
    # it is ranked third, so the validation recall is well above the unrestricted chance
    assert model.history.val and model.history.best_score > 0
    assert model._rank_only is None                        # scoring is unrestricted again
    assert torch.isfinite(model.score()).all()


def test_registry_and_help():
    for name, cls in {"features": FeatureMF, "lightgcn-feat": FeatureLightGCN,
                      "hetero-sage": HeteroSAGE, "mf-feat": FeatureIDMF}.items():
        assert type(make_model(name)) is cls
    assert {"features", "mffeat", "lightgcnfeat", "heterosage"} <= set(MODELS)
    assert make_model("lightgcn-feat", dim=8).dim == 8
    env = {**os.environ, "COLUMNS": "400"}                 # no line breaks inside names
    out = subprocess.run([sys.executable, "-m", "gnnedu.bench", "--help"], capture_output=True,
                         text=True, check=True, env=env).stdout
    assert "lightgcnfeat" in out and "heterosage" in out and "--protocol" in out
