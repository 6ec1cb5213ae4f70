"""Exercise solutions of notebook 06, checked against gnnedu.metrics and by simulation."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from datafind import needs_movielens

from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate, ranking_metrics
from gnnedu.models import EASE, Popularity
from notebooks.solutions import nb06

# Exercise 1 -------------------------------------------------------------------------------------

def test_metrics_at_k_hand_example():
    # user A of the notebook: list [2, 6, 8, 4, 9], test items {3, 6, 9}
    m = nb06.metrics_at_k([2, 6, 8, 4, 9, 3], {3, 6, 9}, 5)
    assert m["precision"] == pytest.approx(0.4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["map"] == pytest.approx((1 / 2 + 2 / 5) / 3)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(6)) / idcg)
    assert m["hit"] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_metrics_at_k_agrees_with_gnnedu(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 8))
    ranked = rng.permutation(30)[:12].tolist()
    relevant = set(rng.choice(30, size=int(rng.integers(1, 10)), replace=False).tolist())
    ours = nb06.metrics_at_k(ranked, relevant, k)
    hits = torch.tensor([[item in relevant for item in ranked[:k]]])
    theirs = ranking_metrics(hits, torch.tensor([len(relevant)]), ks=(k,))
    for name, value in ours.items():
        assert value == pytest.approx(float(theirs[f"{name}@{k}"][0])), name


def test_metrics_at_k_rejects_bad_input():
    with pytest.raises(ValueError):
        nb06.metrics_at_k([1, 2], set(), 2)
    with pytest.raises(ValueError):
        nb06.metrics_at_k([1, 2], {1}, 0)


# Exercise 2 -------------------------------------------------------------------------------------

def test_expected_random_precision_matches_simulation():
    rng = np.random.default_rng(0)
    num_users, num_items, k = 20, 30, 5
    rows = [(u, int(i)) for u in range(num_users)
            for i in rng.choice(num_items, size=int(rng.integers(4, 15)), replace=False)]
    df = pd.DataFrame(rows, columns=["user", "item"])
    test_mask = rng.random(len(df)) < 0.4
    train, test = df[~test_mask], df[test_mask]
    graph = build_graph(train, num_users, num_items)
    draws = [evaluate(torch.rand(num_users, num_items, generator=torch.Generator().manual_seed(s)),
                      graph, test, ks=(k,))[f"precision@{k}"] for s in range(300)]
    n_train = np.bincount(train["user"], minlength=num_users)
    n_test = np.bincount(test["user"], minlength=num_users)
    expected = nb06.expected_random_precision(n_train, n_test, num_items, k)
    stderr = np.std(draws) / np.sqrt(len(draws))
    assert abs(np.mean(draws) - expected) < 4 * stderr


def test_expected_random_precision_edge_cases():
    # every unseen item is a test item: precision 1
    assert nb06.expected_random_precision([2, 5], [8, 5], 10, 3) == pytest.approx(1.0)
    # users without test items do not count
    assert nb06.expected_random_precision([0, 0], [5, 0], 10, 3) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        nb06.expected_random_precision([9], [1], 10, 3)


# Exercise 3 -------------------------------------------------------------------------------------

def test_expected_sampled_hit_extremes_and_monotone():
    assert nb06.expected_sampled_hit(0, 1000, 100, 10) == pytest.approx(1.0)
    assert nb06.expected_sampled_hit(1000, 1000, 100, 10) == pytest.approx(0.0)
    values = [nb06.expected_sampled_hit(r, 500, 50, 5) for r in range(0, 501, 25)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_expected_sampled_hit_matches_simulation():
    n_items, n_neg, k, r = 60, 12, 3, 15
    rng = np.random.default_rng(1)
    # items 0..r-1 score above the positive; draw negatives, count how many come from above
    above = np.array([(rng.choice(n_items, n_neg, replace=False) < r).sum()
                      for _ in range(20_000)])
    simulated = (above < k).mean()
    assert nb06.expected_sampled_hit(r, n_items, n_neg, k) == pytest.approx(simulated, abs=0.01)


def test_expected_sampled_hit_checks_arguments():
    with pytest.raises(ValueError):
        nb06.expected_sampled_hit(-1, 10, 5, 1)
    with pytest.raises(ValueError):
        nb06.expected_sampled_hit(3, 10, 11, 1)


# Exercise 4 -------------------------------------------------------------------------------------

def small_graph():
    # item i is rated by users 0..(9 - i): popularity decreases with the index
    rows = [(u, i) for i in range(10) for u in range(10 - i)]
    return build_graph(pd.DataFrame(rows, columns=["user", "item"]), 12, 10)


def test_tail_share_extremes():
    graph = small_graph()
    pop = Popularity().fit(graph)
    # users 10 and 11 have no training items: their lists are the 2 most popular items
    fresh = SimpleNamespace(graph=graph, recommend=lambda k: pop.recommend(users=[10, 11], k=k))
    assert nb06.tail_share(fresh, k=2, head=0.2) == 0.0
    # a model that lists the least popular items first is all tail
    backwards = SimpleNamespace(graph=graph, recommend=lambda k: torch.tensor([[9, 8]] * 12))
    assert nb06.tail_share(backwards, k=2, head=0.5) == 1.0


def test_tail_share_counts_places():
    graph = small_graph()
    mixed = SimpleNamespace(graph=graph, recommend=lambda k: torch.tensor([[0, 9], [1, 2]]))
    # head = 3 most popular items (0, 1, 2): one of four places is outside it
    assert nb06.tail_share(mixed, k=2, head=0.3) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        nb06.tail_share(mixed, head=1.0)


@needs_movielens
def test_tail_share_on_movielens():
    from gnnedu.data import load_movielens, split_random

    ml = load_movielens(download=False, progress=False)
    train, _ = split_random(ml.ratings, 0.2, seed=0)
    graph = build_graph(train, ml.num_users, ml.num_items)
    pop_share = nb06.tail_share(Popularity().fit(graph))
    ease_share = nb06.tail_share(EASE().fit(graph))
    # nobody has rated 326 of the 336 head movies, so Popularity never leaves the head
    assert pop_share == 0.0 < ease_share


# "Your turn" checks: the solution passes, each typical mistake gets its hint, nothing raises --

def stub(*args):
    raise NotImplementedError


def test_check_ndcg_at_k_passes_the_solution():
    assert nb06.check_ndcg_at_k(nb06.ndcg_at_k) == "pass"
    # the solution agrees with exercise 1's implementation
    assert nb06.ndcg_at_k([2, 6, 8, 4, 9], {3, 6, 9}, 5) == pytest.approx(
        nb06.metrics_at_k([2, 6, 8, 4, 9], {3, 6, 9}, 5)["ndcg"])


def dcg_only(ranked, relevant, k):
    return sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)


def idcg_over_all_test_items(ranked, relevant, k):
    ideal = sum(1 / math.log2(i + 2) for i in range(len(relevant)))
    return dcg_only(ranked, relevant, k) / ideal


def divides_by_zero(ranked, relevant, k):   # a bug inside the learner's code
    return dcg_only(ranked, relevant, k) / 0


def whole_list(ranked, relevant, k):   # forgets the cut at k
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked) if item in relevant)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))


@pytest.mark.parametrize("wrong, hint", [
    (stub, "replace `raise NotImplementedError`"),
    (dcg_only, "that is DCG"),
    (idcg_over_all_test_items, "IDCG sums 5 discounts"),
    (divides_by_zero, "raised ZeroDivisionError"),
    (lambda ranked, relevant, k: [0.5], "return one number"),
    (whole_list, "use only the first k items"),
])
def test_check_ndcg_at_k_gives_the_hint(wrong, hint):
    message = nb06.check_ndcg_at_k(wrong)
    assert message.startswith("not yet: ") and hint in message


def test_check_top_k_unseen_passes_the_solution():
    assert nb06.check_top_k_unseen(nb06.top_k_unseen) == "pass"


@pytest.mark.parametrize("wrong, hint", [
    (stub, "replace `raise NotImplementedError`"),
    (lambda scores, seen, k: torch.topk(scores, k, dim=1).indices, "already seen"),
    (lambda scores, seen, k: nb06.top_k_unseen(scores, seen, k)[:, :2], "[B, k]"),
    (lambda scores, seen, k: nb06.top_k_unseen(scores, seen, k).flip(1), "wrong order"),
    (lambda scores, seen, k: torch.topk(scores.masked_fill(seen, float("inf")), k, dim=1,
                                        largest=False).indices, "not the k highest"),
])
def test_check_top_k_unseen_gives_the_hint(wrong, hint):
    message = nb06.check_top_k_unseen(wrong)
    assert message.startswith("not yet: ") and hint in message


# Check your understanding -----------------------------------------------------------------

def test_question_1_best_scores_of_user_b():
    # the perfect list for user B: five of its six test movies
    hits = torch.ones(1, 5, dtype=torch.bool)
    best = ranking_metrics(hits, torch.tensor([6]), ks=(5,))
    answer = nb06.question_1()
    assert float(best["recall@5"][0]) == pytest.approx(answer["recall@5"])
    assert float(best["ndcg@5"][0]) == pytest.approx(answer["ndcg@5"])


def test_perfect_recall_matches_a_perfect_model():
    # a "model" that scores each user's test items highest reaches exactly the ceiling
    rows = [(u, i) for u in range(6) for i in range(3 + 4 * u)]
    df = pd.DataFrame(rows, columns=["user", "item"])
    test = df[df["item"] % 2 == 0]
    train = df[df["item"] % 2 == 1]
    scores = torch.zeros(6, 30)
    scores[torch.tensor(test["user"].to_numpy()), torch.tensor(test["item"].to_numpy())] = 1
    graph = build_graph(train, 6, 30)
    got = evaluate(scores, graph, test, ks=(3,))["recall@3"]
    assert nb06.perfect_recall(test, 3) == pytest.approx(got)
    assert got < 1.0  # users with more than 3 test items cannot recall them all


@needs_movielens
def test_questions_2_and_3_numbers_on_the_seed_0_split():
    from gnnedu.data import load_movielens, load_split

    ml = load_movielens(download=False, progress=False)
    train, test = load_split(ml, "random", 0)
    for k, value in nb06.question_2().items():
        assert nb06.perfect_recall(test, k) == pytest.approx(value, abs=5e-4)
    n_train = np.bincount(train["user"], minlength=ml.num_users)
    assert np.mean(10 / (ml.num_items - n_train)) == pytest.approx(0.0063, abs=5e-5)
    assert "0.0063" in nb06.question_3()


def test_question_4_sampled_hit_number():
    assert nb06.question_4() == pytest.approx(0.447, abs=5e-4)
    assert "0.447" in nb06.question_4.__doc__
