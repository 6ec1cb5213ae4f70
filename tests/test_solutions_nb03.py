"""Exercise solutions of notebook 03 (notebooks/solutions/nb03.py)."""


import networkx as nx
import numpy as np
import pytest

from gnnedu import mp
from gnnedu.data import toy
from notebooks.solutions import nb03 as sol

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


def stub(*args):
    raise NotImplementedError("your turn")


def test_receptive_field_solution_and_checks():
    for k in range(6):
        for loops in (True, False):
            np.testing.assert_array_equal(sol.receptive_field(A_K, 16, k, loops),
                                          mp.receptive_field(A_K, 16, k, loops))
    assert sol.check_receptive_field(sol.receptive_field) == "pass"
    assert sol.check_receptive_field(stub).startswith("not yet: write the body")
    always_loops = sol.check_receptive_field(lambda a, n, k, loops: sol.receptive_field(a, n, k))
    assert "exactly k steps" in always_loops
    never_loops = sol.check_receptive_field(
        lambda a, n, k, loops: sol.receptive_field(a, n, k, False))
    assert "(A + I)^k" in never_loops

    def mask(a, n, k, loops):
        out = np.zeros(len(a), dtype=bool)
        out[sol.receptive_field(a, n, k, loops)] = True
        return out

    assert "not a 0/1 mask" in sol.check_receptive_field(mask)

    def empty_at_zero(a, n, k, loops):
        return sol.receptive_field(a, n, k, loops) if k else []

    assert "hears only itself" in sol.check_receptive_field(empty_at_zero)


def test_dirichlet_energy_solution_and_checks():
    # 3 edges, each with ||e_i - e_j||^2 = 2
    assert sol.dirichlet_energy(np.eye(3), toy.triangle_adjacency()) == 6.0
    assert sol.check_dirichlet_energy(sol.dirichlet_energy) == "pass"
    assert sol.check_dirichlet_energy(stub).startswith("not yet: write the body")
    assert "multiply by 1/2" in sol.check_dirichlet_energy(
        lambda h, a: 2 * mp.dirichlet_energy(h, a))
    assert "relative energy" in sol.check_dirichlet_energy(mp.relative_dirichlet_energy)
    assert "one number" in sol.check_dirichlet_energy(lambda h, a: "big")


def test_check_your_understanding_answers():
    assert sol.question_1() == {16: 5, 0: 3}
    assert sol.question_2() == {"sum": 16.0, "mean": 1.0, "max": 1.0, "article": 4.0}
    assert sol.question_3() == 34 and sol.question_3(3) == 33
    assert sol.question_4() == ["Ana", "Ben"]
