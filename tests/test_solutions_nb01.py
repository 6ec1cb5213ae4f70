"""Exercise solutions of notebook 01 (notebooks/solutions/nb01.py)."""


import numpy as np
import pytest

from gnnedu.data import toy
from notebooks.solutions import nb01 as sol

LIKES = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
SEEN = toy.toy_biadjacency() > 0


def test_user_based_equals_item_based_on_unseen_items():
    item_based = LIKES @ LIKES.T @ LIKES
    for u in range(LIKES.shape[0]):
        ub = sol.user_based_scores(LIKES, u)
        unseen = LIKES[u] == 0
        np.testing.assert_array_equal(ub[unseen], item_based[u][unseen])
        assert (ub[~unseen] <= item_based[u][~unseen]).all()  # the self term only adds


def test_user_based_equality_holds_for_random_tables():
    rng = np.random.default_rng(0)
    lk = (rng.random((8, 10)) < 0.3).astype(float)
    full = lk @ lk.T @ lk
    for u in range(8):
        unseen = lk[u] == 0
        np.testing.assert_array_equal(sol.user_based_scores(lk, u)[unseen], full[u][unseen])


def test_user_based_scores_by_hand():
    # Ben (1) shares Toy Story and Aladdin with Ana (0), who also liked Star Wars (2).
    s = sol.user_based_scores(LIKES, 1)
    assert s[2] == 2.0 and s[3] == 0.0


def test_cosine_similarity_properties():
    cos = sol.cosine_item_similarity(LIKES)
    np.testing.assert_allclose(cos, cos.T)
    np.testing.assert_allclose(np.diag(cos), 1.0)  # every toy movie has at least one like
    assert (cos >= 0).all() and (cos <= 1 + 1e-12).all()
    # Star Wars (3 likes) and Alien (2 likes) share 2 users: 2 / sqrt(3 * 2)
    assert cos[2, 3] == pytest.approx(2 / np.sqrt(6))
    zero = np.zeros((2, 3))
    np.testing.assert_array_equal(sol.cosine_item_similarity(zero), np.zeros((3, 3)))


def test_recommend_with_counts_and_cosine():
    counts = LIKES.T @ LIKES
    by_counts = sol.recommend(LIKES, SEEN, counts)
    assert by_counts[1] == 2  # Ben -> Star Wars
    assert by_counts[4] == -1  # Eli: no path of likes leaves her corner
    by_cos = sol.recommend(LIKES, SEEN, sol.cosine_item_similarity(LIKES))
    assert by_cos[1] == 2 and by_cos[0] == 3  # Ana -> Alien either way
    for u, item in enumerate(by_cos):
        assert item == -1 or not SEEN[u, item]


def test_walk_parity_in_the_bipartite_graph():
    a = toy.toy_adjacency()
    n_users = 5
    for length in range(0, 6):
        for u in range(n_users):
            for item in range(n_users, a.shape[0]):
                if length % 2 == 0:
                    assert sol.count_walks(a, u, item, length) == 0
            if length % 2 == 1:
                assert sol.count_walks(a, u, (u + 1) % n_users, length) == 0
    assert sol.count_walks(a, 0, 0, 0) == 1
    assert sol.count_walks(a, 0, 5, 1) == 1  # Ana rated Toy Story
    with pytest.raises(ValueError):
        sol.count_walks(a, 0, 0, -1)


def stub(*args):
    raise NotImplementedError("your turn")


def test_recommend_item_based_solution_and_checks():
    users, movies = toy.toy_users(), toy.toy_movies()
    picks = sol.recommend_item_based(LIKES, SEEN)
    assert [movies[m] if m >= 0 else None for m in picks] == [
        "Alien", "Star Wars", "Aladdin", "Toy Story", None]
    assert len(picks) == len(users)
    assert sol.check_recommend_item_based(sol.recommend_item_based) == "pass"
    assert sol.check_recommend_item_based(stub).startswith(
        "not yet: write the body of recommend_item_based")

    def unmasked(likes, seen):
        return list((likes @ likes.T @ likes).argmax(axis=1))

    assert "mask the movies" in sol.check_recommend_item_based(unmasked)

    def never_minus_one(likes, seen):
        scores = np.where(seen, -np.inf, likes @ likes.T @ likes)
        return list(scores.argmax(axis=1))

    assert "return -1" in sol.check_recommend_item_based(never_minus_one)
    assert "one movie per user" in sol.check_recommend_item_based(lambda lk, s: [0])


def test_cosine_checks():
    assert sol.check_cosine_item_similarity(sol.cosine_item_similarity) == "pass"
    assert sol.check_cosine_item_similarity(stub).startswith("not yet: write the body")

    def divides_by_zero(likes):
        c = likes.T @ likes
        d = np.sqrt(np.diag(c))
        with np.errstate(divide="ignore", invalid="ignore"):
            return c / np.outer(d, d)

    assert "similarity 0" in sol.check_cosine_item_similarity(divides_by_zero)

    def one_sided(likes):
        c = likes.T @ likes
        return np.divide(c, np.diag(c)[:, None], out=np.zeros_like(c),
                         where=np.diag(c)[:, None] > 0)

    assert "not symmetric" in sol.check_cosine_item_similarity(one_sided)


def test_check_your_understanding_answers():
    assert sol.question_1() == (2, ["Toy Story", "Aladdin"])
    assert sol.question_2() == 0
    np.testing.assert_array_equal(sol.question_3(), np.zeros(6))
    paths = sol.question_4()
    assert paths == ["Ana -> Star Wars -> Chen -> Alien", "Ana -> Star Wars -> Dara -> Alien"]
    # the notebook's score for Ana -> Alien is the number of these paths
    assert (LIKES @ LIKES.T @ LIKES)[0, toy.toy_movies().index("Alien")] == len(paths)
