"""Exercise solutions of notebook 02 (notebooks/solutions/nb02.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gnnedu import mp
from gnnedu.data import toy

_spec = importlib.util.spec_from_file_location(
    "nb02_solutions", Path(__file__).parents[1] / "notebooks" / "solutions" / "nb02.py")
sol = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sol)

W, B = toy.article_weights()


def test_path_round_mean_by_hand():
    h = sol.path_round("mean")
    # v1 and v3 hear only v2: m = e1, W m = column 1 of W = (.3, .1, .2), + b = (.4, .3, .5)
    # v2 hears v1 and v3: m = (.5, 0, .5), W m = (.35, .45, .4), + b = (.45, .65, .7)
    np.testing.assert_allclose(h, [[0.4, 0.3, 0.5], [0.45, 0.65, 0.7], [0.4, 0.3, 0.5]],
                               atol=1e-12)
    np.testing.assert_allclose(h, mp.gcn_layer(np.eye(3), sol.path_adjacency(), W, B, "mean"))


def test_path_round_gcn_matches_symmetric_normalisation():
    h = sol.path_round("gcn")
    expected = mp.gcn_layer(np.eye(3), sol.path_adjacency(), W, B, "sym", self_loops=True)
    np.testing.assert_allclose(h, expected, atol=1e-12)
    # v1: degree with self-loop 2, v2: 3 -> m_v1 = e0 / 2 + e1 / sqrt(6)
    m_v1 = np.array([0.5, 1 / np.sqrt(6), 0.0])
    np.testing.assert_allclose(h[0], W @ m_v1 + B, atol=1e-12)
    # mean and symmetric (no self-loops) now differ, unlike on the triangle
    a = sol.path_adjacency()
    assert not np.allclose(mp.propagation_matrix(a, "mean"), mp.propagation_matrix(a, "sym"))
    with pytest.raises(ValueError):
        sol.path_round("max")


def test_article_42_literal_matches_the_readings_table():
    a, x = toy.triangle_adjacency(), toy.triangle_features()
    h1 = sol.article_42_round(a, x, W, B)
    np.testing.assert_allclose(h1, mp.gcn_layer(x, a, W, B, "article", convention="hW"))
    # v1: (h2 + h3) W / sqrt(2) = (rows 2 and 3 of W summed) / sqrt(2) = (.7, .3, 1) / sqrt(2)
    np.testing.assert_allclose(h1[0], np.array([0.7, 0.3, 1.0]) / np.sqrt(2) + B)
    h2 = sol.article_42_round(a, h1, W, B)
    np.testing.assert_allclose(h2, mp.gcn_rounds(x, a, W, B, 2, how="article",
                                                   convention="hW")[2])


@pytest.mark.parametrize("n", [3, 4, 6])
def test_gcn_collapses_complete_graphs_for_any_input(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3))
    w, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    a = sol.complete_adjacency(n)
    h = sol.gcn_round(a, x, w, b)
    assert sol.all_rows_equal(h)
    np.testing.assert_allclose(h, mp.gcn_layer(x, a, w, b, "sym", self_loops=True), atol=1e-12)
    # the mean without self-loops leaves each node out of its own average: rows differ
    assert not sol.all_rows_equal(sol.mean_round(a, x, w, np.abs(b) + 5))
