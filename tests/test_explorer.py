"""Tests for gnnedu.explorer (notebook 08): profiles, exact score decompositions, tables, PCA,
bias and cold-start helpers, drawings and the RecommendationExplorer widget."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from gnnedu import explain
from gnnedu import explorer as ex
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate, per_user_metrics
from gnnedu.models import MF, LightGCN, Popularity

NUM_USERS, NUM_ITEMS = 30, 40
GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi"]


def _ratings(seed: int = 0) -> pd.DataFrame:
    """Two taste groups: users 0-14 mostly rate items 0-19, users 15-29 items 20-39."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(NUM_USERS):
        home = 0 if u < NUM_USERS // 2 else NUM_ITEMS // 2
        n = int(rng.integers(4, 14))
        mine = rng.choice(np.arange(home, home + NUM_ITEMS // 2), size=n, replace=False)
        other = rng.choice(NUM_ITEMS, size=2, replace=False)
        for t, i in enumerate(sorted(set(mine.tolist()) | set(other.tolist()))):
            rows.append((u, i, int(rng.integers(1, 6)), 1000 * u + t))
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    df["user_id"], df["item_id"] = df["user"] + 1, df["item"] + 1
    return df


def _fake_ml() -> SimpleNamespace:
    """What the explorer reads from a ``MovieLens`` object: titles, genre flags, user ids."""
    rng = np.random.default_rng(1)
    flags = (rng.random((NUM_ITEMS, len(GENRES))) < 0.3).astype(int)
    items = pd.DataFrame(flags, columns=GENRES)
    items.insert(0, "title", [f"Movie {i}" for i in range(NUM_ITEMS)])
    users = pd.DataFrame({"user_id": np.arange(1, NUM_USERS + 1)})
    return SimpleNamespace(items=items, users=users, genres=GENRES, num_users=NUM_USERS,
                           num_items=NUM_ITEMS)


@pytest.fixture(scope="module")
def data():
    ratings = _ratings()
    # hold out each user's last rating as test
    last = ratings.groupby("user")["timestamp"].transform("max") == ratings["timestamp"]
    train, test = ratings[~last].reset_index(drop=True), ratings[last].reset_index(drop=True)
    graph = build_graph(train, NUM_USERS, NUM_ITEMS)
    return SimpleNamespace(train=train, test=test, graph=graph, ml=_fake_ml())


def _lightgcn(graph, **kwargs) -> LightGCN:
    return LightGCN(dim=8, **kwargs).fit(graph, epochs=3, batch_size=64, seed=0)


@pytest.fixture(scope="module")
def model(data):
    return _lightgcn(data.graph)


# ---------------------------------------------------------------------------------------------
# Profiles and top-K
# ---------------------------------------------------------------------------------------------


def test_make_profile_existing_edited_and_new(model, data):
    history = set(data.graph.item_lists()[3].tolist())
    plain = ex.make_profile(model, 3)
    assert set(plain.items.tolist()) == history and not plain.edited
    assert torch.equal(plain.ego, model.embedding.detach()[3])

    drop = min(history)
    extra = next(i for i in range(NUM_ITEMS) if i not in history)
    edited = ex.make_profile(model, 3, remove=[drop], add=[extra])
    assert set(edited.items.tolist()) == (history - {drop}) | {extra}
    assert edited.edited and edited.user == 3

    # adding a movie already in the history changes nothing
    assert not ex.make_profile(model, 3, add=[drop]).edited

    new = ex.make_profile(model, None, add=[5, 2, 5])
    assert new.items.tolist() == [2, 5] and new.ego is None and new.user is None and new.edited
    assert ex.profile_label(data.ml, new) == "new user"
    assert ex.profile_label(data.ml, edited) == "user 4 (edited history)"
    assert ex.profile_label(data.ml, plain) == "user 4"


def test_make_profile_rejects_bad_input(model):
    with pytest.raises(ValueError, match="empty"):
        ex.make_profile(model, None)
    all_items = model.graph.item_lists()[0].tolist()
    with pytest.raises(ValueError, match="empty"):
        ex.make_profile(model, 0, remove=all_items)
    with pytest.raises(IndexError):
        ex.make_profile(model, NUM_USERS)
    with pytest.raises(IndexError):
        ex.make_profile(model, None, add=[NUM_ITEMS])


def test_top_k_matches_recommend_and_masks_history(model):
    for user in (0, 7, 22):
        items, scores = ex.top_k(model, ex.make_profile(model, user), 5)
        assert torch.equal(items, model.recommend([user], 5)[0])
        assert torch.all(scores[:-1] >= scores[1:])
    edited = ex.make_profile(model, 0, add=[39, 38])
    items, _ = ex.top_k(model, edited, 10)
    assert not set(items.tolist()) & set(edited.items.tolist())
    with pytest.raises(ValueError):
        ex.top_k(model, edited, NUM_ITEMS)


def test_profile_scores_fold_in_reproduces_model_score(model):
    """An unedited user takes model.score; folding the same history in gives the same numbers."""
    for user in range(0, NUM_USERS, 5):
        prof = ex.make_profile(model, user)
        folded = explain.fold_in_scores(model, prof.items, prof.ego)
        assert torch.allclose(ex.profile_scores(model, prof), folded, atol=1e-5)
    new = ex.make_profile(model, None, add=[1, 2, 3])
    assert torch.allclose(ex.profile_scores(model, new), explain.fold_in_scores(model, [1, 2, 3]))


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
        p = ex.propagation_weights(model, ex.make_profile(model, user))
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
    profiles = [ex.make_profile(model, 4), ex.make_profile(model, 4, remove=[
        int(model.graph.item_lists()[4][0])], add=[33]), ex.make_profile(model, None, add=[0, 9])]
    for prof in profiles:
        scores = ex.profile_scores(model, prof)
        for item in (0, 17, 35):
            dec = ex.score_decomposition(model, prof, item)
            assert dec["score"] == pytest.approx(float(scores[item]))
            total_first = dec["self"] + float(dec["first_contributions"].sum())
            total_origin = dec["self"] + float(dec["origin"].sum())
            assert total_first == pytest.approx(dec["score"], abs=1e-5)
            assert total_origin == pytest.approx(dec["score"], abs=1e-5)
            assert sum(dec["groups"].values()) == pytest.approx(dec["score"], abs=1e-5)
            assert ex.check_decomposition(dec) < 1e-5
            # first-step terms: one per history movie, sorted, largest first
            assert sorted(dec["first_items"].tolist()) == prof.items.tolist()
            assert torch.all(dec["first_contributions"][:-1] >= dec["first_contributions"][1:])


def test_first_step_split_is_explain_score_contributions(model):
    item = 12
    dec = ex.score_decomposition(model, ex.make_profile(model, 6), item)
    ref = explain.score_contributions(model, 6, item)
    assert torch.equal(dec["first_items"], ref["items"])
    assert torch.allclose(dec["first_contributions"], ref["contributions"].double())
    assert dec["self"] == pytest.approx(ref["self"], abs=1e-6)


def test_origin_groups_follow_path_lengths(data):
    """One layer reaches only the user's movies; two layers add the user and neighbour users;
    other movies need three steps. A new user has no layer-0 embedding of their own."""
    one = _lightgcn(data.graph, num_layers=1)
    g = ex.score_decomposition(one, ex.make_profile(one, 2), 5)["groups"]
    assert g["neighbour users"] == 0 and g["other movies"] == 0
    two = _lightgcn(data.graph, num_layers=2)
    g = ex.score_decomposition(two, ex.make_profile(two, 2), 5)["groups"]
    assert g["other movies"] == 0 and g["neighbour users"] != 0
    three = _lightgcn(data.graph, num_layers=3)
    dec = ex.score_decomposition(three, ex.make_profile(three, 2), 5)
    assert dec["groups"]["other movies"] != 0
    # nodes beyond three steps of user 2 contribute exactly nothing
    adj = _dense_adj(three)
    reach = (torch.linalg.matrix_power(adj + torch.eye(adj.shape[0], dtype=adj.dtype), 3)[2]
             > 0)
    assert torch.all(dec["origin"][~reach] == 0)
    new = ex.score_decomposition(three, ex.make_profile(three, None, add=[1, 2]), 5)
    assert new["self"] == 0.0


def test_check_decomposition_catches_a_wrong_sum(model):
    dec = ex.score_decomposition(model, ex.make_profile(model, 1), 3)
    broken = dict(dec, origin=dec["origin"] * 1.5)
    broken["groups"] = dict(dec["groups"])
    with pytest.raises(AssertionError, match="do not sum"):
        ex.check_decomposition(broken)
    with pytest.raises(IndexError):
        ex.score_decomposition(model, ex.make_profile(model, 1), NUM_ITEMS)


def test_frozen_embeddings_reuses_one_propagation(model):
    calls = []
    real = type(model).layer_embeddings

    def counting(self):
        calls.append(1)
        return real(self)

    type(model).layer_embeddings = counting
    try:
        with ex.frozen_embeddings(model):
            with ex.frozen_embeddings(model):
                ex.recommendation_table(model, _fake_ml(), ex.make_profile(model, 2), k=4)
            assert len(calls) == 1
        assert "layer_embeddings" not in vars(model)
        model.score([0])
        assert len(calls) == 2                 # outside the block: propagated afresh
    finally:
        type(model).layer_embeddings = real


def test_decomposition_needs_linear_propagation(data):
    mf = MF(dim=4).fit(data.graph, epochs=1, batch_size=64)
    with pytest.raises(TypeError):
        ex.propagation_weights(mf, ex.make_profile(mf, 0))


# ---------------------------------------------------------------------------------------------
# Tables and the user view
# ---------------------------------------------------------------------------------------------


def test_find_movies_by_title():
    items = pd.DataFrame({"title": ["A (1990)", "B (1991)", "A (1990)", "C (1992)"]})
    ml = SimpleNamespace(items=items)
    assert ex.find_movies(ml, ["C (1992)", "B (1991)"]) == [3, 1]
    assert ex.find_movies(ml, ["A (1990)"]) == [0]          # a duplicated title: first item
    with pytest.raises(KeyError, match="D"):
        ex.find_movies(ml, ["B (1991)", "D (1993)"])


def test_history_table_marks_removed_and_added(data):
    user = 5
    own = data.train.loc[data.train["user"] == user]
    drop = int(own["item"].iloc[0])
    extra = next(i for i in range(NUM_ITEMS) if i not in set(own["item"]))
    table = ex.history_table(data.ml, data.train, user, remove=[drop], add=[extra])
    assert len(table) == len(own) + 1
    assert table.loc[table["item"] == drop, "status"].item() == "removed"
    row = table.loc[table["item"] == extra].iloc[0]
    assert row["status"] == "added" and math.isnan(row["rating"])
    assert row["movie"] == f"Movie {extra}"
    flags = data.ml.items.loc[extra, GENRES].to_numpy()
    assert row["genres"] == "|".join(g for g, f in zip(GENRES, flags) if f)
    rated = table.loc[table["status"] != "added", "rating"].to_numpy()
    assert np.all(rated[:-1] >= rated[1:])           # best rated first
    new = ex.history_table(data.ml, data.train, None, add=[3, 1])
    assert new["item"].tolist() == [1, 3] and set(new["status"]) == {"added"}


def test_recommendation_table(model, data):
    prof = ex.make_profile(model, 8)
    table = ex.recommendation_table(model, data.ml, prof, k=6)
    items, scores = ex.top_k(model, prof, 6)
    assert table["item"].tolist() == items.tolist()
    assert np.allclose(table["score"], scores.double().numpy())
    assert table["rank"].tolist() == list(range(1, 7))
    for _, row in table.iterrows():
        dec = ex.score_decomposition(model, prof, int(row["item"]))
        assert row["because you watched"] == f"Movie {int(dec['first_items'][0])}"
        users = dec["origin"][:NUM_USERS].clone()
        users[8] = -math.inf
        assert row["top neighbour (user id)"] == int(torch.argmax(users)) + 1


def test_compare_recommendations():
    def table(items, scores):
        return pd.DataFrame({"rank": range(1, len(items) + 1), "item": items,
                             "movie": [f"Movie {i}" for i in items], "score": scores})

    before = table([5, 6, 7, 8], [4.0, 3.0, 2.0, 1.0])
    after = table([6, 5, 9, 7], [3.5, 3.4, 2.5, 2.4])
    cmp = ex.compare_recommendations(before, after)
    assert cmp["movie"].tolist() == ["Movie 6", "Movie 5", "Movie 9", "Movie 7", "Movie 8"]
    assert cmp["change"].tolist() == ["up", "down", "entered", "down", "left"]
    assert cmp["rank before"].tolist()[:2] == [2, 1] and pd.isna(cmp["rank before"][2])
    assert pd.isna(cmp["rank after"][4]) and cmp["score before"][4] == 1.0
    assert cmp["score after"].tolist()[:4] == [3.5, 3.4, 2.5, 2.4]
    same = ex.compare_recommendations(before, before)
    assert set(same["change"]) == {"same"}


def test_explanation_tables_sum_to_the_score(model, data):
    prof = ex.make_profile(model, 10)
    tables = ex.explanation_tables(model, data.ml, prof, item=25, top=3)
    assert tables["movies"]["contribution"].sum() == pytest.approx(tables["score"], abs=1e-5)
    assert tables["groups"]["contribution"].sum() == pytest.approx(tables["score"], abs=1e-5)
    assert len(tables["movies"]) == min(3, len(prof.items)) + (len(prof.items) > 3) + 1
    nb = tables["neighbours"]
    assert len(nb) == 3 and 11 not in nb["user id"].tolist()        # the user is not a neighbour
    assert np.all(np.diff(nb["contribution"].to_numpy()) <= 0)
    lists = model.graph.item_lists()
    history = set(prof.items.tolist())
    for uid, shared in zip(nb["user id"], nb["shared movies"]):
        assert shared == len(history & set(lists[uid - 1].tolist()))


def test_user_view_state(model, data):
    state = ex.user_view_state(model, data.ml, data.train, 3, k=5, explain_rank=2)
    assert state["message"] is None and len(state["recommendations"]) == 5
    assert state["explanation"]["item"] == state["recommendations"]["item"].iloc[1]
    m = state["map"]
    assert m["coords"].shape == (NUM_ITEMS, 2) and m["user"].shape == (2,)
    assert m["recommended"].tolist() == state["recommendations"]["item"].tolist()
    empty = ex.user_view_state(model, data.ml, data.train, None)
    assert empty["recommendations"] is None and empty["message"] == ex.EMPTY_MESSAGE
    with pytest.raises(ValueError):
        ex.user_view_state(model, data.ml, data.train, 3, k=5, explain_rank=6)


# ---------------------------------------------------------------------------------------------
# PCA and the map
# ---------------------------------------------------------------------------------------------


def test_pca_2d_matches_covariance_eigenvectors():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=gen) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.2]) + 2.0
    pca = ex.pca_2d(x)
    xc = x.double() - x.double().mean(0)
    evals, evecs = torch.linalg.eigh(xc.T @ xc)
    top = evecs[:, [-1, -2]]
    assert torch.allclose(pca["components"].abs(), top.abs(), atol=1e-8)
    eye = torch.eye(2, dtype=torch.float64)
    assert torch.allclose(pca["components"].T @ pca["components"], eye)
    assert torch.allclose(pca["explained"], evals[[-1, -2]] / evals.sum())
    # variance along each axis is the eigenvalue; coordinates are centred
    assert torch.allclose((pca["coords"] ** 2).sum(0), evals[[-1, -2]])
    assert torch.allclose(pca["coords"].mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-10)
    # sign rule: the largest loading of each axis is positive
    for c in range(2):
        col = pca["components"][:, c]
        assert col[col.abs().argmax()] > 0
    assert torch.allclose(ex.project(x, pca), pca["coords"])
    with pytest.raises(ValueError):
        ex.pca_2d(torch.zeros(1, 3))


def test_primary_genre_takes_the_rarest_listed_genre():
    items = pd.DataFrame({"A": [1, 1, 1, 0, 0], "B": [1, 0, 0, 1, 0], "C": [0, 0, 0, 0, 1]})
    ml = SimpleNamespace(items=items)
    assert ex.primary_genre(ml, ["A", "B"]).tolist() == ["B", "A", "A", "B", "other"]


# ---------------------------------------------------------------------------------------------
# Bias and cold start
# ---------------------------------------------------------------------------------------------


def test_activity_buckets_edges():
    labels = ex.activity_buckets([1, 25, 26, 50, 51, 200, 201, 700])
    assert labels.tolist() == ["1-25", "1-25", "26-50", "26-50", "51-100", "101-200", ">200",
                               ">200"]
    assert ex.bucket_labels((0, 10, 20)) == ["1-10", "11-20"]
    with pytest.raises(ValueError):
        ex.activity_buckets([0])
    with pytest.raises(ValueError):
        ex.activity_buckets([25], edges=(0, 10, 20))
    with pytest.raises(ValueError):
        ex.bucket_labels((0, 20, 10))


def test_metrics_by_bucket_means():
    per_user = {"n_train": np.array([5, 30, 10, 300, 40]),
                "recall@20": np.array([0.2, 0.4, 0.6, 0.1, 0.8]),
                "ndcg@20": np.array([1.0, 0.0, 0.0, 0.5, 1.0])}
    table = ex.metrics_by_bucket(per_user)
    assert list(table.index) == ["1-25", "26-50", ">200"]
    assert table["users"].tolist() == [2, 2, 1]
    assert table["recall@20"].tolist() == pytest.approx([0.4, 0.6, 0.1])
    assert table["ndcg@20"].tolist() == pytest.approx([0.5, 0.5, 0.5])


def test_long_tail_share():
    degree = np.array([10, 9, 1, 1, 0, 0, 0, 0, 0, 0])       # head (20%) = items 0 and 1
    topk = np.array([[0, 1], [2, 0], [3, 4]])
    assert ex.long_tail_share(topk, degree, head=0.2) == pytest.approx(3 / 6)
    assert ex.long_tail_share(topk, degree, head=0.0) == 1.0


def test_bias_table_agrees_with_evaluate(data, model):
    models = {"Popularity": Popularity().fit(data.graph), "LightGCN": model}
    per_user = {n: per_user_metrics(m, data.graph, data.test, ks=(10, 20))
                for n, m in models.items()}
    table = ex.bias_table(per_user, data.graph, k=10)
    for name, m in models.items():
        ref = evaluate(m, data.graph, data.test, ks=(10, 20))
        for key in ("recall@10", "ndcg@10", "coverage@10", "arp@10"):
            assert table.loc[name, key] == pytest.approx(ref[key])
    # popularity recommends, to each user, the most popular items they have not seen
    seen = model.graph.item_lists()
    degree = data.graph.item_degree
    for u, top in zip(per_user["Popularity"]["users"], per_user["Popularity"]["_topk"]):
        unseen = torch.ones(NUM_ITEMS, dtype=torch.bool)
        unseen[seen[u]] = False
        tenth = torch.sort(degree[unseen], descending=True).values[9]
        assert unseen[top[:10]].all() and (degree[top[:10]] >= tenth).all()
    assert table.loc["Popularity", "arp@10"] > table.loc["LightGCN", "arp@10"]


# ---------------------------------------------------------------------------------------------
# Drawings
# ---------------------------------------------------------------------------------------------


def test_drawings_are_labelled(model, data):
    state = ex.user_view_state(model, data.ml, data.train, 3, k=5)
    fig = ex.draw_user_view(state)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    bars, emb = fig.axes
    assert bars.get_title().startswith("Why") and bars.get_xlabel()
    assert emb.get_xlabel().startswith("PC 1") and emb.get_ylabel().startswith("PC 2")
    assert "user 4" in emb.get_title() and emb.get_legend() is not None
    note = ex.draw_user_view(ex.user_view_state(model, data.ml, data.train, None))
    assert note.axes[0].get_title() == "Nothing to recommend yet"

    per_user = per_user_metrics(model, data.graph, data.test, ks=(20,))
    tables = {"LightGCN": ex.metrics_by_bucket(per_user, edges=(0, 5, 10, math.inf))}
    fig = ex.draw_buckets(tables)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "recall@20" and ax.get_legend() is not None
    assert len(ax.patches) == len(tables["LightGCN"])
    bias = ex.bias_table({"LightGCN": per_user}, data.graph, k=20)
    ax = ex.draw_bias(bias).axes[0]
    assert ax.get_xlabel().startswith("ARP@20") and ax.get_ylabel().startswith("coverage@20")


# ---------------------------------------------------------------------------------------------
# The widget, driven from pytest
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def explorer(model, data):
    return ex.RecommendationExplorer(model, data.ml, data.train, user=0, k=5, max_k=8,
                                     n_candidates=20)


def _html(w) -> str:
    return w.out.outputs[0]["data"]["text/html"]


def test_explorer_initial_view(explorer, model):
    w = explorer
    assert w.redraws == 1 and isinstance(w.figure, Figure)
    assert w.state["user"] == 0 and len(w.state["recommendations"]) == 5
    history = set(model.graph.item_lists()[0].tolist())
    assert len(w.remove.options) == len(history)
    popular = torch.argsort(-model.graph.item_degree, stable=True)[:20].tolist()
    assert [v for _, v in w.add.options] == [i for i in popular if i not in history]
    assert list(w.explain.options) == [1, 2, 3, 4, 5]
    assert "gnnedu-recommendations" in w.widget._dom_classes
    kinds = [o["data"] for o in w.out.outputs]
    assert "text/html" in kinds[0] and "image/png" in kinds[1]
    assert "Top 5 for user 1" in _html(w)


def test_explorer_user_dropdown(explorer, model):
    w = explorer
    before = _html(w)
    w.user.value = 17
    assert w.state["user"] == 17 and w.redraws == 2            # one redraw per move
    history = set(model.graph.item_lists()[17].tolist())
    assert {v for _, v in w.remove.options} == history
    assert not history & {v for _, v in w.add.options}     # only movies outside the history
    assert "user 18" in w.figure.axes[1].get_title() and _html(w) != before
    assert w.state["recommendations"]["item"].tolist() == model.recommend([17], 5)[0].tolist()


def test_explorer_k_slider_and_explain_dropdown(explorer):
    w = explorer
    w.explain.value = 4
    first_title = w.figure.axes[0].get_title()
    assert w.state["explain_rank"] == 4
    w.k.value = 3                    # the explained rank is clamped to the new K
    assert len(w.state["recommendations"]) == 3 and w.explain.value == 3
    assert list(w.explain.options) == [1, 2, 3]
    w.k.value = 8
    assert len(w.state["recommendations"]) == 8 and "Top 8" in _html(w)
    w.explain.value = 1
    assert w.figure.axes[0].get_title() != first_title or w.state["explain_rank"] == 1


def test_explorer_what_if_remove_add_reset(explorer, model):
    w = explorer
    base = w.state["recommendations"]["score"].to_numpy()
    drop = w.remove.options[0][1]
    w.remove.value = (drop,)
    hist = w.state["history"]
    assert hist.loc[hist["item"] == drop, "status"].item() == "removed"
    assert w.state["profile"].edited and drop not in w.state["profile"].items.tolist()
    assert not np.allclose(w.state["recommendations"]["score"].to_numpy(), base)
    extra = next(v for _, v in w.add.options if v not in w.state["profile"].items.tolist())
    w.add.value = (extra,)
    assert extra in w.state["profile"].items.tolist()
    assert extra not in w.state["recommendations"]["item"].tolist()
    dec = w.state["explanation"]["decomposition"]
    assert ex.check_decomposition(dec) < 1e-5
    w.reset.click()
    assert w.remove.value == () and w.add.value == ()
    assert not w.state["profile"].edited
    assert np.allclose(w.state["recommendations"]["score"].to_numpy(), base)


def test_explorer_new_user_checkbox(explorer):
    w = explorer
    w.new_user.value = True
    assert w.state["message"] == ex.EMPTY_MESSAGE
    assert "Nothing to recommend" in w.figure.axes[0].get_title()
    assert len(w.out.outputs) == 1 and ex.EMPTY_MESSAGE in _html(w).replace("&#x27;", "'")
    assert w.user.disabled and w.remove.options == ()
    picks = tuple(v for _, v in w.add.options[:3])
    w.add.value = picks
    assert w.state["profile"].user is None
    assert w.state["profile"].items.tolist() == sorted(picks)
    assert not set(picks) & set(w.state["recommendations"]["item"].tolist())
    assert "new user" in w.figure.axes[1].get_title()
    w.new_user.value = False
    assert w.state["user"] == 0 and not w.user.disabled and w.add.value == ()
