"""Solutions to the exercises, "your turn" cells and questions of
notebooks/01_recommendation_as_a_graph.ipynb.

``R`` is the 0/1 likes matrix of the notebook (users x movies, 1 where the rating is 4 or more)
and ``seen`` the boolean matrix of every rating, liked or not.
"""

from __future__ import annotations

import numpy as np

from gnnedu.data import toy

from .checks import call


def user_based_scores(likes, user: int) -> np.ndarray:
    """Exercise 1: user-based CF, ``s_u = sum_{v != u} (R R^T)_{uv} R_v``.

    ``(R R^T)_{uv}`` counts the movies ``u`` and ``v`` both liked. Item-based CF scores
    ``R R^T R`` include the ``v = u`` term ``(R R^T)_{uu} R_u``, which is nonzero only on movies
    ``u`` already liked; after masking seen movies the two methods rank identically whenever
    the similarities are raw counts.
    """
    lk = np.asarray(likes, dtype=float)
    sim = lk @ lk.T
    sim[user, user] = 0.0  # the user is not their own neighbour
    return sim[user] @ lk


def cosine_item_similarity(likes) -> np.ndarray:
    """Exercise 2 and your turn 2: ``C_xy / sqrt(C_xx C_yy)`` with ``C = R^T R`` (0 for a movie
    nobody liked).

    Dividing by the popularity of both movies stops a movie liked by everyone from being
    "similar" to everything.
    """
    lk = np.asarray(likes, dtype=float)
    c = lk.T @ lk
    d = np.sqrt(np.diag(c))
    denom = np.outer(d, d)
    return np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)


def recommend(likes, seen, similarity) -> list[int]:
    """Best unseen movie per user under item-item ``similarity`` (-1 when every score is 0).

    Scores are ``R @ similarity``; ties go to the lower movie index.
    """
    scores = np.asarray(likes, dtype=float) @ np.asarray(similarity, dtype=float)
    scores = np.where(np.asarray(seen, dtype=bool), -np.inf, scores)
    best = scores.argmax(axis=1)
    return [int(b) if scores[u, b] > 0 else -1 for u, b in enumerate(best)]


def recommend_item_based(likes, seen) -> list[int]:
    """Your turn 1: item-based CF with raw co-occurrence counts, ``R (R^T R)``, seen movies
    masked, -1 for a user with no path. On the toy table: Ana -> Alien, Ben -> Star Wars,
    Chen -> Aladdin, Dara -> Toy Story, Eli -> -1."""
    lk = np.asarray(likes, dtype=float)
    return recommend(lk, seen, lk.T @ lk)


def count_walks(adj, i: int, j: int, length: int) -> int:
    """Exercise 3: walks of ``length`` steps from ``i`` to ``j``: ``(A^length)_{ij}``."""
    if length < 0:
        raise ValueError("length must be >= 0")
    a = (np.asarray(adj) > 0).astype(np.int64)
    return int(np.linalg.matrix_power(a, length)[i, j])


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1() -> tuple[int, list[str]]:
    """Q1: how many liked movies do Ana and Ben share, and which matrix says so?

    Entry (Ana, Ben) of the user-user matrix ``R R^T`` counts the movies both liked: 2
    (Toy Story and Aladdin). It is also the number of two-step walks Ana -> movie -> Ben.
    """
    r = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
    ana, ben = toy.toy_users().index("Ana"), toy.toy_users().index("Ben")
    shared = [toy.toy_movies()[m] for m in np.flatnonzero(r[ana] * r[ben])]
    return int((r @ r.T)[ana, ben]), shared


def question_2() -> int:
    """Q2: can a walk of two steps join a user and a movie?

    No. Every edge joins a user to a movie, so a walk alternates sides: after an even number of
    steps it is back on the side it started from. The user-movie block of ``A^2`` is all zero;
    this returns its number of nonzero entries, 0.
    """
    a = toy.toy_adjacency(threshold=toy.LIKE_THRESHOLD)
    n_users = len(toy.toy_users())
    return int(np.count_nonzero((a @ a)[:n_users, n_users:]))


def question_3() -> np.ndarray:
    """Q3: why does item-based CF recommend nothing to Eli, and would user-based CF?

    Eli liked Titanic and Casablanca, which nobody else liked, so no path of likes leaves her
    corner of the graph. User-based CF needs a user who shares a like with her, and there is
    none (row Eli of ``R R^T`` is 0 off the diagonal), so it has nothing either. Returns
    Eli's user-based scores: all 0.
    """
    r = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
    return user_based_scores(r, toy.toy_users().index("Eli"))


def question_4() -> list[str]:
    """Q4: Ana's recommendation, Alien, scores 2. Which two paths give it?

    The score counts the three-hop paths Ana -> liked movie -> another user -> Alien:
    Ana -> Star Wars -> Chen -> Alien and Ana -> Star Wars -> Dara -> Alien.
    """
    r = toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD)
    users, movies = toy.toy_users(), toy.toy_movies()
    ana, alien = users.index("Ana"), movies.index("Alien")
    return [f"Ana -> {movies[m]} -> {users[v]} -> Alien"
            for m in np.flatnonzero(r[ana]) for v in np.flatnonzero(r[:, m])
            if v != ana and r[v, alien]]


# ---------------------------------------------------------------------------------------------
# "Your turn" checks: each returns "pass" or "not yet: <hint>" and never raises
# ---------------------------------------------------------------------------------------------


_call = call  # call(fn, *args) -> (result, None) or (None, problem)


def _tables():
    """The toy likes and two random tables (with a movie nobody liked)."""
    rng = np.random.default_rng(1)
    cases = [(toy.toy_biadjacency(threshold=toy.LIKE_THRESHOLD), toy.toy_biadjacency() > 0)]
    for shape in ((7, 9), (10, 6)):
        likes = (rng.random(shape) < 0.35).astype(float)
        likes[:, -1] = 0.0
        cases.append((likes, (likes > 0) | (rng.random(shape) < 0.1)))
    return cases


def check_recommend_item_based(fn) -> str:
    """Check a learner's ``recommend_item_based(R, seen)`` against :func:`recommend_item_based`."""
    for likes, seen in _tables():
        got, problem = _call(fn, likes.copy(), seen.copy())
        if problem == "stub":
            return ("not yet: write the body of recommend_item_based (hint: scores = R @ C "
                    "with C = R.T @ R, then np.where(seen, -np.inf, scores) and argmax per row)")
        if problem:
            return f"not yet: {problem}"
        got = [int(g) for g in np.asarray(got).ravel()]
        want = recommend_item_based(likes, seen)
        if len(got) != len(want):
            return f"not yet: return one movie per user ({len(want)} here), got {len(got)}"
        if got == want:
            continue
        bad = next(u for u in range(len(want)) if got[u] != want[u])
        if got[bad] >= 0 and seen[bad, got[bad]]:
            return (f"not yet: user {bad} already rated movie {got[bad]}; mask the movies a "
                    "user has seen before taking the best score")
        if want[bad] == -1:
            return (f"not yet: user {bad} has no path to any unseen movie (every score is 0): "
                    "return -1 then")
        return (f"not yet: user {bad} should get movie {want[bad]}, you gave {got[bad]} "
                "(score = number of three-hop paths user -> liked movie -> user -> movie)")
    return "pass"


def check_cosine_item_similarity(fn) -> str:
    """Check a learner's ``cosine_item_similarity(R)`` against :func:`cosine_item_similarity`."""
    for likes, _ in _tables():
        got, problem = _call(fn, likes.copy())
        if problem == "stub":
            return ("not yet: write the body of cosine_item_similarity (hint: C = R.T @ R, "
                    "then divide C[x, y] by sqrt(C[x, x] * C[y, y]))")
        if problem:
            return f"not yet: {problem}"
        got = np.asarray(got, dtype=float)
        want = cosine_item_similarity(likes)
        if got.shape != want.shape:
            return f"not yet: the result has shape {got.shape}; expected {want.shape} (movies)"
        if np.allclose(got, want):
            continue
        if np.isnan(got).any() or np.isinf(got).any():
            return ("not yet: a movie nobody liked has C[x, x] = 0; give it similarity 0 "
                    "instead of dividing by 0")
        if not np.allclose(got, got.T):
            return ("not yet: the result is not symmetric; divide by the popularity of both "
                    "movies, sqrt(C[x, x] * C[y, y])")
        return "not yet: every diagonal entry of a liked movie should be 1; check the division"
    return "pass"
