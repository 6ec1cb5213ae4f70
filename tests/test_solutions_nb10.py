"""Notebook 10's solutions: the "your turn" checks pass the solutions and give the right hint
for the usual mistakes; the exercise solutions agree with independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from gnnedu.rating import GCMC, Biases, rmse
from gnnedu.rating.protocol import rank_metrics, ranking_scores
from notebooks.solutions import nb10

# Your turn 1 -------------------------------------------------------------------------------------


def test_level_sum_solution_passes():
    assert nb10.check_level_sum(nb10.level_sum) == "pass"


def plain_sum(graph, r, w):
    return nb10.level_sum(graph, r, w) * graph.degree.double().unsqueeze(1)


def users_only(graph, r, w):
    out = nb10.level_sum(graph, r, w)
    out[graph.num_users:] = 0
    return out


def per_level_degree(graph, r, w):
    at = graph.level == r
    deg = torch.zeros(graph.num_nodes, dtype=torch.float64)
    deg.index_add_(0, graph.users[at], torch.ones(int(at.sum()), dtype=torch.float64))
    deg.index_add_(0, graph.items[at] + graph.num_users,
                   torch.ones(int(at.sum()), dtype=torch.float64))
    return plain_sum(graph, r, w) / deg.clamp(min=1).unsqueeze(1)


def every_level(graph, r, w):
    return sum(nb10.level_sum(graph, level, w) for level in range(graph.num_levels))


@pytest.mark.parametrize("wrong, hint", [
    (plain_sum, "plain sum"),
    (users_only, "both directions"),
    (per_level_degree, "all levels"),
    (every_level, "only the ratings of level r"),
    (lambda graph, r, w: w[:3], "shape"),
    (lambda graph, r, w: None, "returned None"),
    (lambda graph, r, w: 1 / 0, "raised ZeroDivisionError"),
])
def test_level_sum_wrong_answers_get_a_hint(wrong, hint):
    verdict = nb10.check_level_sum(wrong)
    assert verdict.startswith("not yet:") and hint in verdict, verdict


def test_level_sum_stub_is_told_to_start():
    def stub(graph, r, w):
        raise NotImplementedError("your turn")

    verdict = nb10.check_level_sum(stub)
    assert verdict.startswith("not yet: write the body of level_sum")


# Your turn 2 -------------------------------------------------------------------------------------


def test_expected_rating_solution_passes_and_is_the_expectation():
    assert nb10.check_expected_rating(nb10.expected_rating) == "pass"
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.2, 0.2]]))
    # 0.1*1 + 0.2*2 + 0.3*3 + 0.2*4 + 0.2*5 = 3.2, by hand
    assert float(nb10.expected_rating(logits, torch.arange(1.0, 6.0))[0]) == pytest.approx(3.2)


@pytest.mark.parametrize("wrong, hint", [
    (lambda lg, lv: torch.softmax(lg, 0) @ lv, "dim=1"),
    (lambda lg, lv: lg @ lv, "softmax first"),
    (lambda lg, lv: lv[lg.argmax(1)], "most likely level"),
    (lambda lg, lv: torch.softmax(lg, 1) @ (lv - 1), "star values"),
    (lambda lg, lv: torch.softmax(lg, 1), "shape"),
])
def test_expected_rating_wrong_answers_get_a_hint(wrong, hint):
    verdict = nb10.check_expected_rating(wrong)
    assert verdict.startswith("not yet:") and hint in verdict, verdict


def test_expected_rating_stub_is_told_to_start():
    def stub(logits, levels):
        raise NotImplementedError("your turn")

    assert nb10.check_expected_rating(stub).startswith("not yet: write the body")


# Exercises ---------------------------------------------------------------------------------------


def small_split():
    base = nb10.small_ratings(10, 8, per_user=4, seed=1)
    rng = np.random.default_rng(5)
    rows = []
    for u in range(10):
        rated = set(base.loc[base["user"] == u, "item"])
        for i in [i for i in range(8) if i not in rated][:2]:
            rows.append((u, i, int(rng.integers(1, 6))))
    test = pd.DataFrame(rows, columns=["user", "item", "rating"])
    test.loc[:3, "rating"] = 5  # some liked test movies
    return base, test


def test_rmse_by_activity_matches_a_loop():
    base, test = small_split()
    pred = {"A": np.full(len(test), 3.0), "B": np.linspace(1, 5, len(test))}
    table = nb10.rmse_by_activity(pred, test, base, edges=(0, 6, math.inf))
    counts = base.groupby("user").size()
    for label, lo, hi in (("0-5", 0, 6), ("6+", 6, math.inf)):
        mask = test["user"].map(counts).between(lo, hi - 1e-9).to_numpy()
        if not mask.any():
            assert label not in table.index
            continue
        assert table.loc[label, "test ratings"] == int(mask.sum())
        for name, p in pred.items():
            want = math.sqrt(((p[mask] - test["rating"].to_numpy()[mask]) ** 2).mean())
            assert table.loc[label, name] == pytest.approx(want)
    assert table["test ratings"].sum() == len(test)


def test_rank_by_high_ratings_first_row_is_the_expected_rating_ranking():
    base, test = small_split()
    model = GCMC(hidden=10, dim=4, dropout=0.2).fit(base, 10, 8, epochs=10)
    table = nb10.rank_by_high_ratings(model, base, test, k=3)
    assert list(table.index) == ["expected rating", "p(rating in (4, 5))"]
    want = ranking_scores(model, base, test, k=3)
    assert table.loc["expected rating", "recall@3"] == pytest.approx(want["recall@3"])
    assert table.loc["expected rating", "ndcg@3"] == pytest.approx(want["ndcg@3"])
    # with high = (5,) the second row ranks by p(5 stars) alone: its own scores, checked
    users = torch.arange(10).repeat_interleave(8)
    items = torch.arange(8).repeat(10)
    p5 = model.distribution(users, items)[:, 4].double().reshape(10, 8)
    five = nb10.rank_by_high_ratings(model, base, test, high=(5,), k=3)
    assert five.loc["p(rating in (5,))", "recall@3"] == pytest.approx(
        rank_metrics(p5, base, test, 3)["recall@3"])


def test_leave_one_out_by_graph():
    base, _ = small_split()
    model = GCMC(hidden=10, dim=4, dropout=0.2).fit(base, 10, 8, epochs=10)
    user = 2
    rated = base.loc[base["user"] == user, "item"].tolist()
    item = next(i for i in range(8) if i not in rated)
    with_, without = nb10.leave_one_out_by_graph(model, base, user, item, rated[0])
    assert with_ == pytest.approx(float(model.predict([user], [item])[0]), abs=1e-5)
    change = model.contributions(user, item).set_index("item").loc[rated[0], "change"]
    assert with_ - without == pytest.approx(change, abs=1e-5)
    with pytest.raises(ValueError, match="no base rating"):
        nb10.leave_one_out_by_graph(model, base, user, item, item)


def test_questions():
    assert nb10.question_1() == pytest.approx(100_000 / 943 / 1682)
    base, _ = small_split()
    base = base[base["item"] != 7]
    model = GCMC(hidden=10, dim=4, dropout=0.2).fit(base, 10, 8, epochs=3)
    # Q2's claim: an unrated movie gets the uniform distribution and the expectation 3
    probs = model.distribution([0, 1], [7, 7])
    torch.testing.assert_close(probs, torch.full((2, 5), 0.2))
    fallback = Biases().fit(base, 10, 8)
    assert float(model.predict([0], [7])[0]) == pytest.approx(
        fallback.mu + float(fallback.user_bias[0]))
    for q in (nb10.question_2, nb10.question_3, nb10.question_4, nb10.question_5):
        assert isinstance(q(), str) and q.__doc__
    assert rmse([3.0], [5.0]) == pytest.approx(2.0)
