"""gnnedu.widgets.recommendations (notebook 08): the tables, the user view state, the drawings
and the RecommendationExplorer widget, on a small synthetic data set and a fake catalogue."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from synthetic import NUM_ITEMS, NUM_USERS, two_taste_groups

from gnnedu import explain
from gnnedu.data.movielens import find_movies
from gnnedu.graph import build_graph
from gnnedu.models import LightGCN
from gnnedu.widgets import recommendations as rec
from gnnedu.widgets.base import Explorer

GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi"]


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
    ratings = two_taste_groups()
    # hold out each user's last rating as test
    last = ratings.groupby("user")["timestamp"].transform("max") == ratings["timestamp"]
    train, test = ratings[~last].reset_index(drop=True), ratings[last].reset_index(drop=True)
    graph = build_graph(train, NUM_USERS, NUM_ITEMS)
    return SimpleNamespace(train=train, test=test, graph=graph, ml=_fake_ml())


@pytest.fixture(scope="module")
def model(data):
    return LightGCN(dim=8).fit(data.graph, epochs=3, batch_size=64, seed=0)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def test_profile_label(model, data):
    plain = explain.make_profile(model, 3)
    edited = explain.make_profile(model, 3, remove=[int(plain.items[0])])
    new = explain.make_profile(model, None, add=[5, 2, 5])
    assert rec.profile_label(data.ml, new) == "new user"
    assert rec.profile_label(data.ml, edited) == "user 4 (edited history)"
    assert rec.profile_label(data.ml, plain) == "user 4"


def test_find_movies_by_title():
    # gnnedu.data.movielens.find_movies: how notebook 08 names the movies of a new user
    items = pd.DataFrame({"title": ["A (1990)", "B (1991)", "A (1990)", "C (1992)"]})
    ml = SimpleNamespace(items=items)
    assert find_movies(ml, ["C (1992)", "B (1991)"]) == [3, 1]
    assert find_movies(ml, ["A (1990)"]) == [0]          # a duplicated title: first item
    with pytest.raises(KeyError, match="D"):
        find_movies(ml, ["B (1991)", "D (1993)"])


def test_history_table_marks_removed_and_added(data):
    user = 5
    own = data.train.loc[data.train["user"] == user]
    drop = int(own["item"].iloc[0])
    extra = next(i for i in range(NUM_ITEMS) if i not in set(own["item"]))
    table = rec.history_table(data.ml, data.train, user, remove=[drop], add=[extra])
    assert len(table) == len(own) + 1
    assert table.loc[table["item"] == drop, "status"].item() == "removed"
    row = table.loc[table["item"] == extra].iloc[0]
    assert row["status"] == "added" and math.isnan(row["rating"])
    assert row["movie"] == f"Movie {extra}"
    flags = data.ml.items.loc[extra, GENRES].to_numpy()
    assert row["genres"] == "|".join(g for g, f in zip(GENRES, flags) if f)
    rated = table.loc[table["status"] != "added", "rating"].to_numpy()
    assert np.all(rated[:-1] >= rated[1:])           # best rated first
    new = rec.history_table(data.ml, data.train, None, add=[3, 1])
    assert new["item"].tolist() == [1, 3] and set(new["status"]) == {"added"}


def test_recommendation_table(model, data):
    prof = explain.make_profile(model, 8)
    table = rec.recommendation_table(model, data.ml, prof, k=6)
    items, scores = explain.top_k(model, prof, 6)
    assert table["item"].tolist() == items.tolist()
    assert np.allclose(table["score"], scores.double().numpy())
    assert table["rank"].tolist() == list(range(1, 7))
    for _, row in table.iterrows():
        dec = explain.score_decomposition(model, prof, int(row["item"]))
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
    cmp = rec.compare_recommendations(before, after)
    assert cmp["movie"].tolist() == ["Movie 6", "Movie 5", "Movie 9", "Movie 7", "Movie 8"]
    assert cmp["change"].tolist() == ["up", "down", "entered", "down", "left"]
    assert cmp["rank before"].tolist()[:2] == [2, 1] and pd.isna(cmp["rank before"][2])
    assert pd.isna(cmp["rank after"][4]) and cmp["score before"][4] == 1.0
    assert cmp["score after"].tolist()[:4] == [3.5, 3.4, 2.5, 2.4]
    same = rec.compare_recommendations(before, before)
    assert set(same["change"]) == {"same"}


def test_explanation_tables_sum_to_the_score(model, data):
    prof = explain.make_profile(model, 10)
    tables = rec.explanation_tables(model, data.ml, prof, item=25, top=3)
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


def test_primary_genre_takes_the_rarest_listed_genre():
    items = pd.DataFrame({"A": [1, 1, 1, 0, 0], "B": [1, 0, 0, 1, 0], "C": [0, 0, 0, 0, 1]})
    ml = SimpleNamespace(items=items)
    assert rec.primary_genre(ml, ["A", "B"]).tolist() == ["B", "A", "A", "B", "other"]


# ---------------------------------------------------------------------------------------------
# The user view state
# ---------------------------------------------------------------------------------------------


def test_user_view_state(model, data):
    state = rec.user_view_state(model, data.ml, data.train, 3, k=5, explain_rank=2)
    assert state["message"] is None and len(state["recommendations"]) == 5
    assert state["explanation"]["item"] == state["recommendations"]["item"].iloc[1]
    m = state["map"]
    assert m["coords"].shape == (NUM_ITEMS, 2) and m["user"].shape == (2,)
    assert m["recommended"].tolist() == state["recommendations"]["item"].tolist()
    empty = rec.user_view_state(model, data.ml, data.train, None)
    assert empty["recommendations"] is None and empty["message"] == rec.EMPTY_MESSAGE
    with pytest.raises(ValueError):
        rec.user_view_state(model, data.ml, data.train, 3, k=5, explain_rank=6)


@pytest.mark.parametrize("k", [0, -3, NUM_ITEMS + 1])
def test_user_view_state_rejects_k_outside_the_catalogue(model, data, k):
    with pytest.raises(ValueError, match=rf"k must be in 1\.\.{NUM_ITEMS}\b"):
        rec.user_view_state(model, data.ml, data.train, user=0, k=k)


@pytest.mark.parametrize("argument", ["add", "remove"])
@pytest.mark.parametrize("user", [0, None])
def test_user_view_state_rejects_out_of_range_edits(model, data, argument, user):
    """An IndexError names the control and the valid range, for a new user too (whose history
    would otherwise be empty and give the 'nothing to recommend' message)."""
    with pytest.raises(IndexError, match=rf"^{argument}: .*\b0\.\.{NUM_ITEMS - 1}\b") as err:
        rec.user_view_state(model, data.ml, data.train, user=user, **{argument: [10**6]})
    assert str(10**6) in str(err.value)


# ---------------------------------------------------------------------------------------------
# Drawings
# ---------------------------------------------------------------------------------------------


def test_drawings_are_labelled(model, data):
    state = rec.user_view_state(model, data.ml, data.train, 3, k=5)
    fig = rec.draw_user_view(state)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    bars, emb = fig.axes
    assert bars.get_title().startswith("Why") and bars.get_xlabel()
    assert emb.get_xlabel().startswith("PC 1") and emb.get_ylabel().startswith("PC 2")
    assert "user 4" in emb.get_title() and emb.get_legend() is not None
    note = rec.draw_user_view(rec.user_view_state(model, data.ml, data.train, None))
    assert note.axes[0].get_title() == "Nothing to recommend yet"


# ---------------------------------------------------------------------------------------------
# The widget, driven from pytest
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def explorer(model, data):
    return rec.RecommendationExplorer(model, data.ml, data.train, user=0, k=5, max_k=8,
                                      n_candidates=20)


def _html(w) -> str:
    return w.out.outputs[0]["data"]["text/html"]


def test_explorer_initial_view(explorer, model):
    w = explorer
    assert isinstance(w, Explorer)
    assert w.redraws == 1 and isinstance(w.figure, Figure)
    assert w.state["user"] == 0 and len(w.state["recommendations"]) == 5
    history = set(model.graph.item_lists()[0].tolist())
    assert len(w.remove.options) == len(history)
    popular = torch.argsort(-model.graph.item_degree, stable=True)[:20].tolist()
    assert [v for _, v in w.add.options] == [i for i in popular if i not in history]
    assert list(w.explain.options) == [1, 2, 3, 4, 5]
    assert {"gnnedu-widget", "gnnedu-recommendations"} <= set(w.widget._dom_classes)
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
    assert explain.check_decomposition(dec) < 1e-5
    w.reset.click()
    assert w.remove.value == () and w.add.value == ()
    assert not w.state["profile"].edited
    assert np.allclose(w.state["recommendations"]["score"].to_numpy(), base)


def test_explorer_new_user_checkbox(explorer):
    w = explorer
    w.new_user.value = True
    assert w.state["message"] == rec.EMPTY_MESSAGE
    assert "Nothing to recommend" in w.figure.axes[0].get_title()
    assert len(w.out.outputs) == 1 and rec.EMPTY_MESSAGE in _html(w).replace("&#x27;", "'")
    assert w.user.disabled and w.remove.options == ()
    picks = tuple(v for _, v in w.add.options[:3])
    w.add.value = picks
    assert w.state["profile"].user is None
    assert w.state["profile"].items.tolist() == sorted(picks)
    assert not set(picks) & set(w.state["recommendations"]["item"].tolist())
    assert "new user" in w.figure.axes[1].get_title()
    w.new_user.value = False
    assert w.state["user"] == 0 and not w.user.disabled and w.add.value == ()
