"""Exercise solutions of notebook 02 (notebooks/solutions/nb02.py)."""


import numpy as np
import pytest

from gnnedu import mp
from gnnedu.data import toy
from notebooks.solutions import nb02 as sol

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


def stub(*args):
    raise NotImplementedError("your turn")


def test_mean_round_solution_and_checks():
    assert sol.check_mean_round(sol.mean_round) == "pass"
    assert sol.check_mean_round(stub).startswith("not yet: write the body of mean_round")

    def rows_times_w(adj, h, w, b):
        return np.maximum(mp.aggregate(h, adj, "mean") @ w + b, 0)

    assert "m @ W.T" in sol.check_mean_round(rows_times_w)

    def summed(adj, h, w, b):
        return np.maximum(adj @ h @ w.T + b, 0)

    assert "divide each row by the node's degree" in sol.check_mean_round(summed)

    def with_loops(adj, h, w, b):
        return mp.gcn_layer(h, adj, w, b, "mean", self_loops=True)

    assert "not its own neighbour" in sol.check_mean_round(with_loops)

    def no_relu(adj, h, w, b):
        return mp.gcn_layer(h, adj, w, b, "mean", activation="none")

    assert "ReLU" in sol.check_mean_round(no_relu)

    def no_bias(adj, h, w, b):
        return np.maximum(mp.aggregate(h, adj, "mean") @ w.T, 0)

    assert "add the bias" in sol.check_mean_round(no_bias)

    def divides_by_zero(adj, h, w, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            m = (adj @ h) / adj.sum(axis=1, keepdims=True)
        return np.maximum(m @ w.T + b, 0)

    assert "degree 0" in sol.check_mean_round(divides_by_zero)


def test_gcn_matrix_solution_and_checks():
    np.testing.assert_allclose(sol.gcn_matrix(toy.triangle_adjacency()), np.full((3, 3), 1 / 3))
    assert sol.check_gcn_matrix(sol.gcn_matrix) == "pass"
    assert sol.check_gcn_matrix(stub).startswith("not yet: write the body of gcn_matrix")
    assert "without self-loops" in sol.check_gcn_matrix(lambda a: mp.propagation_matrix(a, "sym"))
    assert "a mean" in sol.check_gcn_matrix(
        lambda a: mp.propagation_matrix(a, "mean", self_loops=True))

    def degrees_of_a(adj):  # self-loops added, but the degrees of A used
        d = np.maximum(adj.sum(axis=1), 1)
        return (adj + np.eye(len(adj))) / np.sqrt(np.outer(d, d))

    assert "degrees of A~" in sol.check_gcn_matrix(degrees_of_a)


def test_check_your_understanding_answers():
    np.testing.assert_allclose(sol.question_1(), [0.5, 0.5, 0.0])
    p = sol.question_2()
    assert not np.allclose(p["mean"], p["sym"])
    assert p["sym"][0, 1] == pytest.approx(1 / np.sqrt(2)) and p["mean"][0, 1] == 1.0
    assert p["sym"][1, 0] == pytest.approx(1 / np.sqrt(2)) and p["mean"][1, 0] == 0.5
    h1 = sol.question_3()
    np.testing.assert_allclose(h1, [[0.5, 0.5, 0.65], [0.45, 0.65, 0.7], [0.35, 0.45, 0.55]])
    assert not sol.all_rows_equal(h1)
    growth = sol.question_4()
    assert 2.4 < growth["with b"] < 2.7 and growth["mean entry with b"] == pytest.approx(2.52,
                                                                                       abs=0.01)
    assert growth["b = 0"] <= 1.0


def test_attention_coefficient_by_hand():
    got = sol.attention_coefficient_by_hand()
    assert got["e_31"] == pytest.approx(0.2) and got["e_33"] == pytest.approx(0.0, abs=1e-12)
    assert got["e_32"] == pytest.approx(-0.04)  # LeakyReLU(-0.2) = 0.2 * -0.2
    alpha = mp.attention_coefficients(toy.triangle_features(), toy.triangle_adjacency(), W,
                                      mp.TRIANGLE_ATTENTION)
    assert got["alpha_31"] == pytest.approx(alpha[2, 0])
    assert got["alpha_31"] == pytest.approx(np.exp(0.2) / (np.exp(0.2) + np.exp(-0.04) + 1))


@pytest.mark.parametrize("adj", [toy.triangle_adjacency(), sol.path_adjacency(),
                                 mp.adjacency_from_edges([(0, 1), (0, 2), (0, 3)], 5)])
def test_zero_attention_is_the_mean_with_self_loops(adj):  # triangle, path, star + isolated
    rng = np.random.default_rng(len(adj))
    h, w = rng.normal(size=(len(adj), 3)), rng.normal(size=(2, 3))
    mine = sol.zero_attention_round(adj, h, w)
    np.testing.assert_allclose(mine, mp.gat_layer(h, adj, w, np.zeros(4)), atol=1e-12)
    np.testing.assert_allclose(mine, mp.gcn_layer(h, adj, w, np.zeros(2), "mean",
                                                  self_loops=True, activation="none"))


def test_gcn_rows_do_not_sum_to_one_on_the_path():
    sums = sol.gcn_row_sums_on_the_path()
    np.testing.assert_allclose(sums, [0.5 + 1 / np.sqrt(6), 2 / np.sqrt(6) + 1 / 3,
                                      0.5 + 1 / np.sqrt(6)])
    assert not np.allclose(sums, 1.0)
