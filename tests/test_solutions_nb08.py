"""Tests for the exercise solutions of notebook 08 (on MovieLens-100K, briefly trained)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnedu import explain
from gnnedu.data import split_random
from gnnedu.metrics import bucket_labels, evaluate
from gnnedu.models import LightGCN
from notebooks.solutions import nb08

MIN_TRAIN = 300  # heavy users only: few of them, so the recomputation by hand stays quick


@pytest.fixture(scope="module")
def fitted(ml):
    train, test = split_random(ml.ratings, 0.2, seed=0)
    model = LightGCN(dim=16).fit(train, num_users=ml.num_users, num_items=ml.num_items,
                                 epochs=1, seed=0)
    return model, train, test


def test_exercise_1_fold_in_cold_start(fitted):
    model, train, test = fitted
    out = nb08.exercise_1(model, train, test, ns=(1, 5), min_train=MIN_TRAIN, k=20)
    deg = model.graph.user_degree
    has_test = np.zeros(model.num_users, dtype=bool)
    has_test[test["user"].unique()] = True
    expected_users = int(((deg >= MIN_TRAIN).numpy() & has_test).sum())
    assert out["users"] == expected_users > 0
    assert list(out["folded"].index) == [1, 5]
    assert all(0.0 <= v <= 1.0 for v in out["folded"]) and 0.0 <= out["trained"] <= 1.0

    # recompute n = 5 by hand: first five training movies by time, all training movies masked
    users = [u for u in range(model.num_users) if deg[u] >= MIN_TRAIN and has_test[u]]
    recalls = []
    with explain.frozen_embeddings(model):
        for u in users:
            mine = train[train["user"] == u].sort_values("timestamp", kind="stable")["item"]
            scores = explain.fold_in_scores(model, mine.tolist()[:5]).clone()
            scores[mine.tolist()] = -float("inf")
            top = set(torch.topk(scores, 20).indices.tolist())
            relevant = set(test.loc[test["user"] == u, "item"])
            recalls.append(len(top & relevant) / len(relevant))
    assert out["folded"][5] == pytest.approx(np.mean(recalls))
    with pytest.raises(ValueError):
        nb08.exercise_1(model, train, test, min_train=10_000)


def test_exercise_2_origin_shares_by_bucket(fitted):
    model, _, _ = fitted
    table = nb08.exercise_2(model, n_users=12, k=3, seed=1)
    assert table["users"].sum() == 12
    assert list(table.columns) == ["users", *explain.ORIGIN_GROUPS]
    assert np.allclose(table[list(explain.ORIGIN_GROUPS)].sum(axis=1), 1.0)
    order = bucket_labels()
    assert list(table.index) == [b for b in order if b in table.index]
    # one user's shares, by hand
    single = nb08.exercise_2(model, n_users=1, k=3, seed=1)
    u = int(np.sort(np.random.default_rng(1).choice(model.num_users, 1, replace=False))[0])
    prof = explain.make_profile(model, u)
    items, _ = explain.top_k(model, prof, 3)
    shares = np.mean([[explain.score_decomposition(model, prof, i)["groups"][g]
                       / explain.score_decomposition(model, prof, i)["score"]
                       for g in explain.ORIGIN_GROUPS] for i in items.tolist()], axis=0)
    assert np.allclose(single[list(explain.ORIGIN_GROUPS)].to_numpy()[0], shares)


def test_exercise_3_popularity_penalty(fitted):
    model, _, test = fitted
    table = nb08.exercise_3(model, test, betas=(0.0, 50.0), k=20)
    plain = evaluate(model, model.graph, test, ks=(20,))
    for key in ("recall@20", "coverage@20", "arp@20"):
        assert table.loc[0.0, key] == pytest.approx(plain[key])
    # a strong penalty pushes the lists toward rarely watched movies
    assert table.loc[50.0, "arp@20"] < table.loc[0.0, "arp@20"]
    assert list(table.index) == [0.0, 50.0]


# "Your turn" checks: the solution passes, each typical mistake gets its hint, nothing raises --

def stub(*args):
    raise NotImplementedError("your turn")


def test_fold_in_solution_matches_explain_and_passes_the_check(fitted):
    model, _, _ = fitted
    items = [0, 5, 17]
    torch.testing.assert_close(nb08.fold_in_by_hand(model, items),
                               explain.fold_in_scores(model, items), rtol=1e-5, atol=1e-6)
    assert nb08.check_fold_in(nb08.fold_in_by_hand, model) == "pass"


@pytest.mark.parametrize("wrong, hint", [
    (stub, "replace `raise NotImplementedError`"),
    (lambda model, items: nb08.fold_in_by_hand(model, items)[:10], "one score per movie"),
    (lambda model, items: nb08.fold_in_by_hand(model, items, shift=0), "layer k - 1"),
    (lambda model, items: nb08.fold_in_by_hand(model, items, weighted=False), "1 / sqrt(|S| d_j)"),
    (lambda model, items: 2 * nb08.fold_in_by_hand(model, items), "differ from"),
    (lambda model, items: model.no_such_attribute, "raised AttributeError"),
])
def test_check_fold_in_gives_the_hint(fitted, wrong, hint):
    model, _, _ = fitted
    message = nb08.check_fold_in(wrong, model)
    assert message.startswith("not yet: ") and hint in message


def test_coverage_solution_passes_the_check():
    assert nb08.check_coverage(nb08.coverage_at_k) == "pass"
    assert nb08.coverage_at_k(torch.tensor([[0, 1], [1, 0], [0, 2]]), 10) == pytest.approx(0.3)


@pytest.mark.parametrize("wrong, hint", [
    (stub, "replace `raise NotImplementedError`"),
    (lambda top, n: top.numel() / n, "count the distinct movies"),
    (lambda top, n: torch.unique(top).numel(), "divide the number of distinct movies"),
    (lambda top, n: torch.unique(top).numel() / top.numel(), "the answer is"),
    (lambda top, n: top.unique_counts(), "raised AttributeError"),
])
def test_check_coverage_gives_the_hint(wrong, hint):
    message = nb08.check_coverage(wrong)
    assert message.startswith("not yet: ") and hint in message


# Check your understanding -----------------------------------------------------------------

def test_question_1_weight_of_a_popular_movie():
    assert nb08.question_1() == pytest.approx(0.0089, abs=5e-5)
    assert 1 / (42 * 73) ** 0.5 == pytest.approx(0.0181, abs=5e-5)   # Hamlet, in the notebook


def test_question_3_recall_ceiling():
    from gnnedu.metrics import ranking_metrics

    for n_test, value in nb08.question_3().items():
        perfect = torch.ones(1, 20, dtype=torch.bool)    # 20 hits in 20 places
        if n_test < 20:
            perfect[0, n_test:] = False
        got = ranking_metrics(perfect, torch.tensor([n_test]), ks=(20,))["recall@20"]
        assert float(got[0]) == pytest.approx(value)


def test_question_4_popularity_coverage(ml):
    from gnnedu.data import load_split
    from gnnedu.models import Popularity

    train, test = load_split(ml, "random", 0)
    model = Popularity().fit(train, num_users=ml.num_users, num_items=ml.num_items)
    coverage = evaluate(model, model.graph, test, ks=(20,))["coverage@20"]
    assert coverage == pytest.approx(0.0464, abs=5e-5)
    assert round(coverage * ml.num_items) == nb08.question_4()
