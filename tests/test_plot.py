"""Plot helpers (gnnedu/plot.py): every function returns a labelled Figure, nothing leaks."""

import math

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch

from gnnedu import metrics, plot
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


# --- PCA (the embedding maps of notebooks 04 and 08) ------------------------------------------

def test_pca_2d_matches_covariance_eigenvectors():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=gen) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.2]) + 2.0
    pca = plot.pca_2d(x)
    xc = x.double() - x.double().mean(0)
    evals, evecs = torch.linalg.eigh(xc.T @ xc)
    top = evecs[:, [-1, -2]]
    assert torch.allclose(pca["components"].abs(), top.abs(), atol=1e-8)
    eye = torch.eye(2, dtype=torch.float64)
    assert torch.allclose(pca["components"].T @ pca["components"], eye)
    assert torch.allclose(pca["explained"], evals[[-1, -2]] / evals.sum())
    assert torch.allclose(pca["mean"], x.double().mean(0))
    # variance along each axis is the eigenvalue; coordinates are centred
    assert torch.allclose((pca["coords"] ** 2).sum(0), evals[[-1, -2]])
    assert torch.allclose(pca["coords"].mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-10)
    # sign rule: the largest loading of each axis is positive
    for c in range(2):
        col = pca["components"][:, c]
        assert col[col.abs().argmax()] > 0
    assert torch.allclose(plot.project(x, pca), pca["coords"])
    with pytest.raises(ValueError):
        plot.pca_2d(torch.zeros(1, 3))


def test_pca_2d_coords_keep_the_largest_variance_with_a_fixed_sign():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 3, generator=g) * torch.tensor([5.0, 2.0, 0.1])
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=g))
    h = z @ rotation.T + torch.tensor([10.0, -3.0, 1.0])
    p = plot.pca_2d(h)["coords"]
    assert p.shape == (500, 2)
    assert torch.allclose(p.mean(0), torch.zeros(2, dtype=p.dtype), atol=1e-4)
    var = p.var(0)
    assert var[0] > var[1] > 1.0
    # the projection keeps almost all the variance (the third direction has sd 0.1)
    assert var.sum() / h.double().var(0).sum() > 0.99
    # deterministic sign: re-running on a permutation of the rows gives the permuted rows
    perm = torch.randperm(500, generator=g)
    assert torch.allclose(plot.pca_2d(h[perm])["coords"], p[perm], atol=1e-4)
    with pytest.raises(ValueError):
        plot.pca_2d(torch.ones(5, 1))


# --- metrics by user activity, popularity bias (notebook 08) ----------------------------------

def test_draw_buckets_and_bias_are_labelled():
    per_user = {"n_train": np.array([3, 4, 7, 9, 12, 30]),
                "recall@20": np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
                "ndcg@20": np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])}
    edges = (0, 5, 10, math.inf)
    tables = {"LightGCN": metrics.metrics_by_bucket(per_user, edges=edges)}
    fig = plot.draw_buckets(tables)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "recall@20" and ax.get_legend() is not None
    assert len(ax.patches) == len(tables["LightGCN"]) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "1-5\n(2 users)", "6-10\n(2 users)", ">10\n(2 users)"]
    two = {**tables, "Popularity": tables["LightGCN"] / 2}
    assert len(plot.draw_buckets(two, metric="ndcg@20").axes[0].patches) == 2 * 3

    bias = pd.DataFrame({"recall@20": [0.3, 0.1], "arp@20": [0.2, 0.5],
                         "coverage@20": [0.4, 0.05]}, index=["LightGCN", "Popularity"])
    ax = plot.draw_bias(bias).axes[0]
    assert ax.get_xlabel().startswith("ARP@20") and ax.get_ylabel().startswith("coverage@20")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["LightGCN (recall@20 0.300)", "Popularity (recall@20 0.100)"]


def test_one_colour_map_with_distinct_colours():
    from gnnedu import coldstart

    colours = list(plot.MODEL_COLORS.values())
    assert len(set(colours)) == len(colours)                 # no two models share a colour
    for name in coldstart.FEATURE_MODELS:                     # notebook 09 draws from this map
        assert coldstart.model_color(name) == plot.MODEL_COLORS[name]
    assert plot.model_color("GC-MC") == plot.model_color("GC-MC")   # unlisted: stable
