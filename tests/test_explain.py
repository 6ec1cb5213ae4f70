"""gnnedu.explain (notebook 08): profiles (existing, edited and new users), top-K, fold-in
scores and the exact score decompositions of a LightGCN recommendation.

gnnedu.explain's fold-in and first-step contribution functions are also checked in
test_models.py on a larger synthetic set."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from synthetic import NUM_ITEMS, NUM_USERS, two_taste_groups

from gnnedu import explain
from gnnedu.graph import build_graph
from gnnedu.models import MF, GCNRecommender, LightGCN


@pytest.fixture(scope="module")
def data():
    ratings = two_taste_groups()
    # hold out each user's last rating as test
    last = ratings.groupby("user")["timestamp"].transform("max") == ratings["timestamp"]
    train = ratings[~last].reset_index(drop=True)
    return SimpleNamespace(train=train, graph=build_graph(train, NUM_USERS, NUM_ITEMS))


def _lightgcn(graph, **kwargs) -> LightGCN:
    return LightGCN(dim=8, **kwargs).fit(graph, epochs=3, batch_size=64, seed=0)


@pytest.fixture(scope="module")
def model(data):
    return _lightgcn(data.graph)


# ---------------------------------------------------------------------------------------------
# Profiles and top-K
# ---------------------------------------------------------------------------------------------


def test_make_profile_existing_edited_and_new(model):
    history = set(model.graph.item_lists()[3].tolist())
    plain = explain.make_profile(model, 3)
    assert set(plain.items.tolist()) == history and not plain.edited
    assert torch.equal(plain.ego, model.embedding.detach()[3])

    drop = min(history)
    extra = next(i for i in range(NUM_ITEMS) if i not in history)
    edited = explain.make_profile(model, 3, remove=[drop], add=[extra])
    assert set(edited.items.tolist()) == (history - {drop}) | {extra}
    assert edited.edited and edited.user == 3

    # adding a movie already in the history changes nothing
    assert not explain.make_profile(model, 3, add=[drop]).edited

    new = explain.make_profile(model, None, add=[5, 2, 5])
    assert new.items.tolist() == [2, 5] and new.ego is None and new.user is None and new.edited


def test_make_profile_rejects_bad_input(model):
    with pytest.raises(ValueError, match="empty"):
        explain.make_profile(model, None)
    all_items = model.graph.item_lists()[0].tolist()
    with pytest.raises(ValueError, match="empty"):
        explain.make_profile(model, 0, remove=all_items)
    with pytest.raises(IndexError):
        explain.make_profile(model, NUM_USERS)
    with pytest.raises(IndexError):
        explain.make_profile(model, None, add=[NUM_ITEMS])


@pytest.mark.parametrize("argument", ["add", "remove"])
@pytest.mark.parametrize("bad", [10**6, -1])
def test_make_profile_out_of_range_edit_names_the_argument_and_range(model, argument, bad):
    message = rf"^{argument}: .*\b0\.\.{NUM_ITEMS - 1}\b"
    with pytest.raises(IndexError, match=message) as err:
        explain.make_profile(model, 0, **{argument: [3, bad]})
    assert str(bad) in str(err.value)
    # a new user too, even when the rest of the history is fine
    edits = {"add": [1, bad]} if argument == "add" else {"add": [1], "remove": [bad]}
    with pytest.raises(IndexError, match=message):
        explain.make_profile(model, None, **edits)


def test_item_index_set_names_the_argument():
    assert explain.item_index_set([3, 1, 3], 5) == {1, 3}
    assert explain.item_index_set([], 5) == set()
    with pytest.raises(IndexError, match=r"^extra: .*0\.\.4"):
        explain.item_index_set([5], 5, "extra")


def test_top_k_matches_recommend_and_masks_history(model):
    for user in (0, 7, 22):
        items, scores = explain.top_k(model, explain.make_profile(model, user), 5)
        assert torch.equal(items, model.recommend([user], 5)[0])
        assert torch.all(scores[:-1] >= scores[1:])
    edited = explain.make_profile(model, 0, add=[39, 38])
    items, _ = explain.top_k(model, edited, 10)
    assert not set(items.tolist()) & set(edited.items.tolist())
    with pytest.raises(ValueError):
        explain.top_k(model, edited, NUM_ITEMS)


def test_profile_scores_fold_in_reproduces_model_score(model):
    """An unedited user takes model.score; folding the same history in gives the same numbers."""
    for user in range(0, NUM_USERS, 5):
        prof = explain.make_profile(model, user)
        folded = explain.fold_in_scores(model, prof.items, prof.ego)
        assert torch.allclose(explain.profile_scores(model, prof), folded, atol=1e-5)
    new = explain.make_profile(model, None, add=[1, 2, 3])
    assert torch.allclose(explain.profile_scores(model, new),
                          explain.fold_in_scores(model, [1, 2, 3]))


# ---------------------------------------------------------------------------------------------
# Decompositions
# ---------------------------------------------------------------------------------------------


def _dense_adj(model) -> torch.Tensor:
    return model.graph.adj.to_dense().double()


def test_propagation_weights_are_walk_weights(model):
    """p = sum_k alpha_k A^(k-1) x, and alpha_0 e^(0) + p E^(0) is the user's final embedding."""
    adj = _dense_adj(model)
    alphas = model.alphas()
    layer0 = model.embedding.detach().double()
    final_users, _ = model.embeddings()
    for user in (0, 11, 29):
        p = explain.propagation_weights(model, explain.make_profile(model, user))
        x = adj[user]                       # the user's row of A: 1/sqrt(d_u d_j) on its items
        expected = sum(alphas[k] * torch.linalg.matrix_power(adj, k - 1) @ x
                       for k in range(1, model.num_layers + 1))
        assert torch.allclose(p, expected, atol=1e-10)
        e_u = alphas[0] * layer0[user] + p @ layer0
        assert torch.allclose(e_u, final_users[user].double(), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2}, {"num_layers": 1},
                                    {"num_layers": 3, "layer_weights": [0.1, 0.5, 0.3, 0.1]}])
def test_both_splits_sum_to_the_score(data, kwargs):
    model = _lightgcn(data.graph, **kwargs)
    profiles = [explain.make_profile(model, 4), explain.make_profile(model, 4, remove=[
        int(model.graph.item_lists()[4][0])], add=[33]),
        explain.make_profile(model, None, add=[0, 9])]
    for prof in profiles:
        scores = explain.profile_scores(model, prof)
        for item in (0, 17, 35):
            dec = explain.score_decomposition(model, prof, item)
            assert dec["score"] == pytest.approx(float(scores[item]))
            total_first = dec["self"] + float(dec["first_contributions"].sum())
            total_origin = dec["self"] + float(dec["origin"].sum())
            assert total_first == pytest.approx(dec["score"], abs=1e-5)
            assert total_origin == pytest.approx(dec["score"], abs=1e-5)
            assert sum(dec["groups"].values()) == pytest.approx(dec["score"], abs=1e-5)
            assert set(dec["groups"]) == set(explain.ORIGIN_GROUPS)
            assert explain.check_decomposition(dec) < 1e-5
            # first-step terms: one per history movie, sorted, largest first
            assert sorted(dec["first_items"].tolist()) == prof.items.tolist()
            assert torch.all(dec["first_contributions"][:-1] >= dec["first_contributions"][1:])


def test_first_step_split_is_explain_score_contributions(model):
    item = 12
    dec = explain.score_decomposition(model, explain.make_profile(model, 6), item)
    ref = explain.score_contributions(model, 6, item)
    assert torch.equal(dec["first_items"], ref["items"])
    assert torch.allclose(dec["first_contributions"], ref["contributions"].double())
    assert dec["self"] == pytest.approx(ref["self"], abs=1e-6)


def test_origin_groups_follow_path_lengths(data):
    """One layer reaches only the user's movies; two layers add the user and neighbour users;
    other movies need three steps. A new user has no layer-0 embedding of their own."""
    one = _lightgcn(data.graph, num_layers=1)
    g = explain.score_decomposition(one, explain.make_profile(one, 2), 5)["groups"]
    assert g["neighbour users"] == 0 and g["other movies"] == 0
    two = _lightgcn(data.graph, num_layers=2)
    g = explain.score_decomposition(two, explain.make_profile(two, 2), 5)["groups"]
    assert g["other movies"] == 0 and g["neighbour users"] != 0
    three = _lightgcn(data.graph, num_layers=3)
    dec = explain.score_decomposition(three, explain.make_profile(three, 2), 5)
    assert dec["groups"]["other movies"] != 0
    # nodes beyond three steps of user 2 contribute exactly nothing
    adj = _dense_adj(three)
    reach = (torch.linalg.matrix_power(adj + torch.eye(adj.shape[0], dtype=adj.dtype), 3)[2]
             > 0)
    assert torch.all(dec["origin"][~reach] == 0)
    new = explain.score_decomposition(three, explain.make_profile(three, None, add=[1, 2]), 5)
    assert new["self"] == 0.0


def test_check_decomposition_catches_a_wrong_sum(model):
    dec = explain.score_decomposition(model, explain.make_profile(model, 1), 3)
    broken = dict(dec, origin=dec["origin"] * 1.5)
    broken["groups"] = dict(dec["groups"])
    with pytest.raises(AssertionError, match="do not sum"):
        explain.check_decomposition(broken)
    # a gap within the tolerance passes and is returned
    nudged = dict(dec, score=dec["score"] + explain.TOLERANCE / 10)
    assert explain.check_decomposition(nudged) >= explain.TOLERANCE / 20
    with pytest.raises(IndexError):
        explain.score_decomposition(model, explain.make_profile(model, 1), NUM_ITEMS)


def test_frozen_embeddings_reuses_one_propagation(model):
    calls = []
    real = type(model).layer_embeddings

    def counting(self):
        calls.append(1)
        return real(self)

    type(model).layer_embeddings = counting
    try:
        with explain.frozen_embeddings(model):
            with explain.frozen_embeddings(model):
                # what the explorer's recommendation table does: top-K, then one
                # decomposition per recommended movie
                prof = explain.make_profile(model, 2, add=[39])
                items, _ = explain.top_k(model, prof, 4)
                for item in items.tolist():
                    explain.score_decomposition(model, prof, item)
                explain.fold_in_scores(model, [1, 2])
            assert len(calls) == 1
        assert "layer_embeddings" not in vars(model)
        model.score([0])
        assert len(calls) == 2                 # outside the block: propagated afresh
    finally:
        type(model).layer_embeddings = real


def test_decomposition_needs_linear_propagation(data):
    mf = MF(dim=4).fit(data.graph, epochs=1, batch_size=64)
    with pytest.raises(TypeError):
        explain.propagation_weights(mf, explain.make_profile(mf, 0))


def test_check_linear_accepts_only_a_fitted_lightgcn(data, model):
    explain.check_linear(model)                 # a fitted LightGCN: nothing raised
    with pytest.raises(TypeError):
        explain.check_linear(MF(dim=4).fit(data.graph, epochs=1, batch_size=64))
    with pytest.raises(ValueError, match="linear"):
        explain.check_linear(GCNRecommender(dim=4))           # transform and activation on
    with pytest.raises(RuntimeError, match="not fitted"):
        explain.check_linear(LightGCN(dim=4))
