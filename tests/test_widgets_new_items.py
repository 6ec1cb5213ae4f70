"""gnnedu.widgets.new_items (notebook 09): the new-movie state, its exact score splits, the
drawing and the NewItemExplorer widget, on MovieLens-100K with a briefly trained model."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from gnnedu import coldstart as cs
from gnnedu.featmodels import FeatureLightGCN, movielens_features
from gnnedu.graph import build_graph
from gnnedu.widgets import new_items as ni
from gnnedu.widgets.base import Explorer


@pytest.fixture(scope="module")
def fitted(ml):
    features = movielens_features(ml)
    split = cs.split_new_items(ml.ratings, ml.num_items, seed=0)
    graph = build_graph(split.train, ml.num_users, ml.num_items)
    torch.manual_seed(0)
    model = FeatureLightGCN(dim=16).fit(graph, features=features, epochs=2, seed=0,
                                        neg_items=split.warm.tolist())
    return model, features, split


def test_movie_vector(ml, fitted):
    _, features, _ = fitted
    assert torch.equal(ni.movie_vector(ml, features, item=5), features.item[5])
    x = ni.movie_vector(ml, features, ["Comedy", "Romance"], 1996)
    names = features.item_names
    assert x[names.index("Comedy")] == 1 and x[names.index("Romance")] == 1
    assert x[names.index("year 1996")] == 1 and x[names.index("year_unknown")] == 0
    # a catalogue movie from 1996 with the same genres has the same features
    same = ml.items[(ml.items["year"] == 1996) & (ml.items[ml.genres].sum(1) == 2)
                    & (ml.items["Comedy"] == 1) & (ml.items["Romance"] == 1)]
    if len(same):
        assert torch.allclose(features.item[same.index[0]], x)
    unknown = ni.movie_vector(ml, features, ["Drama"])
    assert unknown[names.index("year_unknown")] == 1
    with pytest.raises(ValueError, match="unknown genre"):
        ni.movie_vector(ml, features, ["Space Opera"])


def test_state_parts_add_up(ml, fitted):
    model, features, split = fitted
    item = int(split.heldout[0])
    state = ni.new_item_state(model, ml, features.item[item], k=7)
    table = state["table"]
    assert len(table) == 7 and list(table.columns[-3:]) == list(ni.USER_PARTS)
    assert torch.allclose(torch.tensor(table[list(ni.USER_PARTS)].sum(axis=1).to_numpy()),
                          torch.tensor(table["score"].to_numpy()), atol=1e-4)
    assert state["movie_parts"].sum() == pytest.approx(table["score"].sum(), abs=1e-3)
    # the held-out movie is new to the model: its scores are the model's own scores
    assert torch.allclose(state["scores"], model.score()[:, item], atol=1e-5)
    assert table["score"].is_monotonic_decreasing and state["gap"] < 1e-3
    with pytest.raises(ValueError, match="features"):
        ni.new_item_state(model, ml, torch.zeros(3))


def test_draw_and_explorer(ml, fitted):
    model, features, split = fitted
    state = ni.new_item_state(model, ml, features.item[int(split.heldout[0])], k=5)
    fig = ni.draw_new_item(state)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ex = ni.NewItemExplorer(model, ml, features, movie=int(split.heldout[0]), k=5)
    assert isinstance(ex, Explorer) and ex.redraws == 1 and len(ex.state["table"]) == 5
    first = ex.state["table"]["user id"].tolist()
    ex.genres.value = ("Horror",)                    # editing makes the movie a made-up one
    assert ex.movie.value == ex.MADE_UP and ex.redraws == 2
    assert ex.vector()[features.item_names.index("Horror")] == 1
    ex.k.value = 8
    assert len(ex.state["table"]) == 8
    ex.movie.value = int(split.heldout[0])           # back to the movie: its own features
    assert ex.state["table"]["user id"].tolist()[:5] == first
    assert "gnnedu-new-items" in ex.widget._dom_classes
