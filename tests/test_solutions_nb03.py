"""Exercise solutions of notebook 03 (notebooks/solutions/nb03.py)."""

import importlib.util
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from gnnedu import mp
from gnnedu.data import toy

_spec = importlib.util.spec_from_file_location(
    "nb03_solutions", Path(__file__).parents[1] / "notebooks" / "solutions" / "nb03.py")
sol = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sol)

KARATE = nx.karate_club_graph()
A_K = nx.to_numpy_array(KARATE, nodelist=range(34), weight=None)
A_T = toy.toy_adjacency(threshold=toy.LIKE_THRESHOLD)
SEEN = toy.toy_biadjacency() > 0


def test_receptive_field_sizes_grow_to_the_whole_graph():
    sizes = sol.receptive_field_sizes(A_K, 16, 6)
    assert sizes[0] == 1 and sizes[1] == KARATE.degree[16] + 1
    assert all(a <= b for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1] == 34


@pytest.mark.parametrize("node", [0, 16, 33, 26])
def test_layers_to_cover_is_the_eccentricity(node):
    assert sol.layers_to_cover(A_K, node) == nx.eccentricity(KARATE, node)


def test_layers_to_cover_stays_inside_a_component():
    g = toy.toy_bipartite_graph(threshold=toy.LIKE_THRESHOLD)
    eli = toy.toy_users().index("Eli")
    sub = g.subgraph(nx.node_connected_component(g, eli))
    assert sol.layers_to_cover(A_T, eli) == nx.eccentricity(sub, eli)


def test_appnp_reduces_to_sym_and_stops_over_smoothing():
    h0 = np.eye(34)
    plain = mp.propagate_features(h0, A_K, "sym", 10, self_loops=True)
    for a, b in zip(sol.appnp_propagate(A_K, h0, 0.0, 10), plain):
        np.testing.assert_allclose(a, b, atol=1e-12)
    sym_spread = sol.appnp_spread(A_K, h0, 0.0, 30)
    appnp_spread = sol.appnp_spread(A_K, h0, 0.1, 30)
    assert appnp_spread[-1] > 5 * sym_spread[-1]
    assert abs(appnp_spread[-1] - appnp_spread[-2]) < 1e-3  # it levels off
    with pytest.raises(ValueError):
        sol.appnp_propagate(A_K, h0, 1.5, 3)


def test_recommend_from_signal_matches_the_path_counts():
    n_users = len(toy.toy_users())
    likes = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
    paths = likes @ likes.T @ likes
    for u in range(n_users):
        expected_scores = np.where(SEEN[u], -np.inf, paths[u])
        best = int(np.argmax(expected_scores))
        expected = best if expected_scores[best] > 0 else -1
        assert sol.recommend_from_signal(A_T, u, n_users, SEEN) == expected
        # one hop only reaches movies the user already liked: all masked
        assert sol.recommend_from_signal(A_T, u, n_users, SEEN, hops=1) == -1
    star_wars = toy.toy_movies().index("Star Wars")
    for how, average in (("sum", False), ("sym", False), ("sym", True)):
        assert sol.recommend_from_signal(A_T, 1, n_users, SEEN, how=how,
                                         average=average) == star_wars
    assert sol.recommend_from_signal(A_T, toy.toy_users().index("Eli"), n_users, SEEN) == -1
