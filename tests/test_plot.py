"""Plot helpers (gnnedu/plot.py): every function returns a labelled Figure, nothing leaks."""

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest

from gnnedu import plot
from gnnedu.data import toy


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_figures_are_not_registered_with_pyplot_and_render_png():
    before = plt.get_fignums()
    fig = plot.curves([0, 1, 2], {"a": [1, 2, 3]}, title="t", xlabel="x", ylabel="y")
    assert plt.get_fignums() == before
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.figure_to_png(fig)[:4] == b"\x89PNG"
    assert isinstance(fig, plot.Figure)


def test_curves_labels_and_lines():
    fig = plot.curves([1, 2, 3], {"mean": [3, 2, 1], "sum": [1, 2, 4]}, title="Spread",
                      xlabel="depth", ylabel="spread", logy=True)
    ax = fig.axes[0]
    assert ax.get_title() == "Spread" and ax.get_xlabel() == "depth"
    assert ax.get_ylabel() == "spread" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mean", "sum"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1, 2, 4])
    fig2 = plot.curves({"a": [0, 5], "b": [0, 1, 2]}, {"a": [1, 1], "b": [2, 2, 2]},
                       title="t", xlabel="x", ylabel="y")
    assert list(fig2.axes[0].lines[0].get_xdata()) == [0, 5]
    with pytest.raises(ValueError, match="x values"):
        plot.curves([0, 1], {"a": [1, 2, 3]}, title="t", xlabel="x", ylabel="y")


def test_heatmap_annotations_labels_and_colorbar():
    m = np.arange(6.0).reshape(2, 3)
    fig = plot.heatmap(m, row_labels=["u1", "u2"], col_labels=["a", "b", "c"], title="R",
                       xlabel="item", ylabel="user", fmt="{:.0f}", colorbar_label="rating")
    ax = fig.axes[0]
    assert ax.get_title() == "R" and ax.get_xlabel() == "item" and ax.get_ylabel() == "user"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["u1", "u2"]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "2", "3", "4", "5"]
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "rating"
    big = plot.heatmap(np.zeros((20, 20)), title="big")
    assert len(big.axes[0].texts) == 0  # too many cells to annotate by default
    with pytest.raises(ValueError):
        plot.heatmap(np.zeros(3), title="bad")


def test_heatmap_row_shares_a_scale():
    fig = plot.heatmap_row([np.zeros((3, 2)), np.ones((3, 2)) * 4], titles=["a", "b"],
                           suptitle="layers", xlabel="feature", ylabel="node")
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert [im.get_clim() for im in images] == [(0.0, 4.0), (0.0, 4.0)]
    assert fig.get_suptitle() == "layers"
    with pytest.raises(ValueError, match="title"):
        plot.heatmap_row([np.zeros((2, 2))], titles=["a", "b"], suptitle="x")


def test_draw_graph_colours_highlight_and_dim():
    g = nx.karate_club_graph()
    pos = plot.spring_positions(g, seed=0)
    fig = plot.draw_graph(g, pos, title="Karate", node_color=np.arange(34.0),
                          colorbar_label="id", highlight=[0], dim=[5, 6])
    ax = fig.axes[0]
    assert ax.get_title() == "Karate"
    assert len(fig.axes) == 2  # the colour bar
    assert {"0", "33"} <= set(_texts(fig))
    with pytest.raises(ValueError, match="node_color"):
        plot.draw_graph(g, pos, node_color=[1.0, 2.0])
    legend_fig = plot.draw_graph(toy.triangle_graph(), legend={"node": "red"}, title="tri")
    assert [t.get_text() for t in legend_fig.axes[0].get_legend().get_texts()] == ["node"]


def test_layouts_are_deterministic():
    g = nx.karate_club_graph()
    assert plot.spring_positions(g, seed=1) == plot.spring_positions(g, seed=1)
    pos = plot.two_column_positions(["a", "b"], ["x", "y", "z"])
    assert pos["a"] == (0.0, 0.5) and pos["z"] == (2.0, -1.0)
    bp = plot.bipartite_positions(toy.toy_bipartite_graph())
    assert all(bp[u][0] == 0.0 for u in range(5))
    assert all(bp[i][0] == 2.0 for i in range(5, 11))


def test_draw_bipartite_writes_names_and_ratings():
    g = toy.toy_bipartite_graph()
    fig = plot.draw_bipartite(g, title="Toy ratings", user_label="user", item_label="movie")
    texts = _texts(fig)
    for name in toy.toy_users() + toy.toy_movies():
        assert name in texts
    ratings = sorted(t for t in texts if t.isdigit())
    assert ratings == sorted(str(r) for r in toy.toy_ratings()["rating"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["user", "movie", "edge: rating"]


def test_messages_and_vectors_on_nodes():
    g = toy.triangle_graph()
    pos = {0: (0.0, 1.0), 1: (-1.0, 0.0), 2: (1.0, 0.0)}
    fig = plot.draw_graph(g, pos, title="tri")
    ax = fig.axes[0]
    plot.draw_messages(ax, pos, [1, 2], 0, labels={1: "m1", 2: "m2"})
    plot.annotate_vectors(ax, pos, {0: [0.5, 0.5, 0.65], 1: [1, 0, 0]})
    texts = _texts(fig)
    assert {"m1", "m2", "[0.5, 0.5, 0.65]", "[1, 0, 0]"} <= set(texts)
    arrows = [t for t in ax.texts if t.get_text() == "" and t.arrow_patch is not None]
    assert len(arrows) == 2
    box = next(t for t in ax.texts if t.get_text() == "[0.5, 0.5, 0.65]")
    assert box.get_position()[1] > pos[0][1]  # the top node's box sits above it
    assert plot.format_vector([0.125, -0.0001, 2.0], 2) == "[0.12, 0, 2]"


def test_drawing_into_a_shared_figure():
    fig, (ax1, ax2) = plot.new_figure(1, 2, figsize=(8, 3))
    out1 = plot.curves([0, 1], {"a": [0, 1]}, ax=ax1, title="left", xlabel="x", ylabel="y")
    out2 = plot.heatmap(np.eye(2), ax=ax2, title="right")
    assert out1 is fig and out2 is fig
    assert plot.axes_for(ax1) == (fig, ax1)
    new_fig, new_ax = plot.axes_for(None, figsize=(2, 2))
    assert new_fig is not fig and tuple(new_fig.get_size_inches()) == (2.0, 2.0)
