"""The hand-made graphs of notebooks 01-02 (gnnedu/data/toy.py)."""

import numpy as np

from gnnedu.data import toy


def test_triangle_matrices_agree():
    adj = toy.triangle_adjacency()
    assert adj.shape == (3, 3)
    np.testing.assert_array_equal(adj, adj.T)
    np.testing.assert_array_equal(np.diag(adj), 0)
    np.testing.assert_array_equal(adj.sum(axis=1), [2, 2, 2])  # a triangle: every node has 2
    ei = toy.triangle_edge_index()
    assert ei.shape == (2, 6) and str(ei.dtype) == "torch.int64"
    from_ei = np.zeros((3, 3))
    from_ei[ei[1].numpy(), ei[0].numpy()] = 1  # message j -> i sets adj[i, j]
    np.testing.assert_array_equal(from_ei, adj)
    g = toy.triangle_graph()
    assert sorted(g.edges) == [(0, 1), (0, 2), (1, 2)]
    assert [g.nodes[i]["label"] for i in range(3)] == ["v1", "v2", "v3"]
    np.testing.assert_array_equal(toy.triangle_features(), np.eye(3))


def test_article_weights_are_fresh_copies():
    w, b = toy.article_weights()
    assert w.shape == (3, 3) and b.shape == (3,)
    assert w[0, 1] == 0.3 and w[1, 0] == 0.4 and b[2] == 0.3  # W[r, c]: row r, column c
    w[0, 0] = 99.0
    assert toy.article_weights()[0][0, 0] == 0.2


def test_article_printed_values_and_its_own_arithmetic():
    printed = toy.article_printed_values()
    assert list(printed.columns) == ["round", "node", "expression", "printed"]
    assert len(printed) == 6
    assert set(printed.loc[printed["round"] == 1, "printed"]) == {0.8}
    assert set(printed.loc[printed["round"] == 2, "printed"]) == {0.9}
    # Evaluating the article's own expressions does not give what it prints for v1, v2
    # (round 1) and v2, v3 (round 2): 0.5 * (row sum 1) + b_i and 0.8 * 1 + b_i.
    values = [eval(e) for e in printed["expression"]]  # the expressions are plain arithmetic
    np.testing.assert_allclose(values, [0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    wrong = ~np.isclose(values, printed["printed"])
    assert wrong.tolist() == [True, True, False, False, True, True]


def test_toy_ratings_table():
    df = toy.toy_ratings()
    assert list(df.columns) == ["user", "item", "rating", "user_name", "title", "item_id"]
    assert len(df) == 15
    assert not df.duplicated(["user", "item"]).any()
    assert df["rating"].between(1, 5).all()
    assert sorted(df["user"].unique()) == list(range(len(toy.toy_users())))
    assert sorted(df["item"].unique()) == list(range(len(toy.toy_movies())))
    for row in df.itertuples():
        assert toy.toy_users()[row.user] == row.user_name
        assert toy.toy_movies()[row.item] == row.title
    assert str(df["user"].dtype) == "int64" and str(df["item"].dtype) == "int64"


def test_biadjacency_adjacency_and_graph_agree():
    df = toy.toy_ratings()
    r = toy.toy_biadjacency()
    assert r.shape == (5, 6)
    assert (r > 0).sum() == len(df)
    for row in df.itertuples():
        assert r[row.user, row.item] == row.rating
    liked = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
    np.testing.assert_array_equal(liked, (r >= 4).astype(float))
    a = toy.toy_adjacency()
    np.testing.assert_array_equal(a, a.T)
    np.testing.assert_array_equal(a[:5, 5:], r)
    np.testing.assert_array_equal(a[:5, :5], 0)
    np.testing.assert_array_equal(a[5:, 5:], 0)
    g = toy.toy_bipartite_graph()
    assert g.number_of_nodes() == 11 and g.number_of_edges() == 15
    assert {g.nodes[n]["bipartite"] for n in range(5)} == {0}
    assert {g.nodes[n]["bipartite"] for n in range(5, 11)} == {1}
    assert g.edges[1, 5 + 1]["rating"] == r[1, 1]  # Ben - Aladdin
    g4 = toy.toy_bipartite_graph(threshold=4)
    assert g4.number_of_edges() == int(liked.sum())
    assert g4.number_of_nodes() == 11  # nodes stay even when they lose all edges


def test_toy_movies_are_movielens_titles(movielens_source):
    """The six films carry their MovieLens-100K ids (checked against u.item when available)."""
    lines = movielens_source.read("u.item").decode("latin-1").splitlines()
    titles = {int(p[0]): p[1] for p in (line.split("|") for line in lines)}
    for title, item_id in toy.TOY_MOVIES:
        assert titles[item_id].startswith(title + " (")
