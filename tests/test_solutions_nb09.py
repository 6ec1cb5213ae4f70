"""Tests for notebook 09's solutions: the "your turn" checks (the solution passes, wrong answers
get a hint), the answers and the exercises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datafind import needs_movielens

from gnnedu import coldstart as cs
from gnnedu.featmodels import FeatureLightGCN, FeatureMF, movielens_features
from gnnedu.graph import build_graph
from notebooks.solutions import nb09


def stub(*args):
    raise NotImplementedError("your turn")


def test_top_k_random_ties_solution_and_checks():
    scores = torch.tensor([[2.0, 2.0, 1.0, 2.0]])
    keys = torch.tensor([[0.7, 0.2, 0.1, 0.5]])
    assert nb09.top_k_random_ties(scores, keys, 3).tolist() == [[1, 3, 0]]
    assert nb09.check_top_k_random_ties(nb09.top_k_random_ties) == "pass"
    assert nb09.check_top_k_random_ties(stub).startswith(
        "not yet: write the body of top_k_random_ties")
    by_index = nb09.check_top_k_random_ties(
        lambda s, k_, k: torch.sort(s, dim=1, descending=True, stable=True).indices[:, :k])
    assert "index order" in by_index
    ascending = nb09.check_top_k_random_ties(
        lambda s, keys, k: torch.flip(nb09.top_k_random_ties(s, keys, s.shape[1]), [1])[:, :k])
    assert "descending" in ascending
    assert "returned None" in nb09.check_top_k_random_ties(lambda *a: None)
    assert "raised" in nb09.check_top_k_random_ties(lambda *a: 1 / 0)


def test_feature_scores_solution_and_checks():
    assert nb09.check_feature_scores(nb09.feature_scores) == "pass"
    assert nb09.check_feature_scores(stub).startswith("not yet: write the body of feature_scores")
    no_bias = nb09.check_feature_scores(
        lambda xu, xi, wu, bu, wi, bi: nb09.feature_scores(xu, xi, wu, 0, wi, 0))
    assert "biases" in no_bias
    shape = nb09.check_feature_scores(lambda xu, xi, wu, bu, wi, bi: (xu @ wu + bu).sum(1))
    assert "shape" in shape
    other = nb09.check_feature_scores(
        lambda xu, xi, wu, bu, wi, bi: nb09.feature_scores(xu, xi, wu, bu, wi, bi) + 1.0)
    assert other.startswith("not yet:") and "differ" in other


@needs_movielens
def test_questions(ml):
    split = cs.split_new_items(ml.ratings, ml.num_items, seed=0)
    graph = build_graph(split.train, ml.num_users, ml.num_items)
    assert nb09.question_1(graph, int(split.heldout[0])) == 0.0
    assert nb09.question_2(ml) < -0.5
    assert "users" in nb09.question_3() and "history" in nb09.question_4()


@needs_movielens
def test_exercise_1_the_tie_leak(ml):
    table = nb09.exercise_1(ml, seeds=(0,))
    row = table.loc[0]
    assert row["ties by index"] > 1.5 * row["chance"]
    assert row["ties at random"] == pytest.approx(row["chance"], abs=0.01)
    assert list(table.index) == [0, "mean"]


@needs_movielens
def test_exercises_2_and_3(ml):
    features = movielens_features(ml)
    split = cs.split_new_items(ml.ratings, ml.num_items, seed=0)
    graph = build_graph(split.train, ml.num_users, ml.num_items)
    torch.manual_seed(0)
    model = FeatureMF(dim=16).fit(graph, features=features, epochs=3, seed=0,
                                  neg_items=split.warm.tolist())
    rho = nb09.exercise_2(model, split)
    assert -1.0 <= rho <= 1.0 and rho > 0.2          # features alone know some popularity
    lgcn = FeatureLightGCN(dim=16).fit(graph, features=features, epochs=1, seed=0,
                                       neg_items=split.warm.tolist())
    curve = nb09.exercise_3(lgcn, ml, features, genres=("Drama",), years=(1950, 1990, 1997))
    assert list(curve.index) == [1950, 1990, 1997] and np.isfinite(curve).all()
    user_emb, _ = lgcn.embeddings()
    from gnnedu.widgets.new_items import movie_vector

    x = movie_vector(ml, features, ("Drama",), 1990)
    with torch.no_grad():
        assert curve[1990] == pytest.approx(float((user_emb @ lgcn.encoder.item_map(x)).mean()))
