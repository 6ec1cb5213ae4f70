"""Solutions to the exercises, "your turn" cells and questions of notebooks/00_welcome.ipynb."""

import numpy as np
import torch

from gnnedu import setup_notebook

from .checks import call


def exercise_1(seed: int = 1) -> tuple[bool, bool]:
    """Same seed, same draws: from the global stream and from the returned generator."""
    gen = setup_notebook(seed=seed)
    first = (torch.rand(3), torch.rand(3, generator=gen))
    gen = setup_notebook(seed=seed)
    second = (torch.rand(3), torch.rand(3, generator=gen))
    return torch.equal(first[0], second[0]), torch.equal(first[1], second[1])


def average_with_neighbours(values: np.ndarray, rounds: int) -> np.ndarray:
    """As in the notebook: ``rounds`` steps of x_i <- mean(x_i and its neighbours) on a path."""
    x = values.copy()
    for _ in range(rounds):
        padded = np.pad(x, 1, mode="edge")
        x = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
    return x


def average_with_zero_padding(values: np.ndarray, rounds: int) -> np.ndarray:
    """Exercise 2: like ``average_with_neighbours``, but a missing neighbour counts as 0
    (``np.pad(x, 1)``) instead of the end node's own value."""
    x = np.asarray(values, dtype=float).copy()
    for _ in range(rounds):
        padded = np.pad(x, 1)  # zeros beyond the ends
        x = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
    return x


def exercise_2(values=(1.0, 0.0, 0.0, 0.0, 0.0), rounds: int = 20) -> float:
    """Exercise 2: the mean after ``rounds`` rounds with zero padding.

    It is no longer kept: an end node hands a third of its value to a neighbour that does not
    exist, so the total leaks away every round. From 0.2 the mean falls to 0.1333 after one
    round and to 0.0192 after 20. Returns that mean.
    """
    return float(average_with_zero_padding(np.asarray(values, dtype=float), rounds).mean())


def rounds_until_flat(values, tol: float = 0.01) -> int:
    """Your turn 1: the fewest rounds after which every value is within ``tol`` of the mean.

    Test before each new round, so a start that is already flat needs 0 rounds. For
    ``PATH_VALUES`` and ``tol = 0.01`` the answer is 27 (``tol = 0.1``: 10).
    """
    x = np.asarray(values, dtype=float)
    target = x.mean()  # every round keeps the mean (question 1)
    rounds = 0
    while np.abs(x - target).max() > tol:
        x = average_with_neighbours(x, 1)
        rounds += 1
    return rounds


def averaging_matrix(n: int) -> np.ndarray:
    """Your turn 2: the (n, n) matrix ``P`` with ``P @ x == average_with_neighbours(x, 1)``.

    Row ``i`` puts 1/3 on ``i - 1``, ``i`` and ``i + 1``; an end node has one neighbour and
    counts itself twice (``np.pad(..., mode="edge")``), so its own weight is 2/3. Every row and
    every column sums to 1.
    """
    p = np.zeros((n, n))
    for i in range(n):
        for j in (i - 1, i, i + 1):
            p[i, min(max(j, 0), n - 1)] += 1 / 3  # a step off the end lands on the end node
    return p


# ---------------------------------------------------------------------------------------------
# Check your understanding: the answers, with the reasoning
# ---------------------------------------------------------------------------------------------


def question_1(values=(1.0, 0.0, 0.0, 0.0, 0.0), rounds: int = 20) -> np.ndarray:
    """Q1: why does the mean stay 0.2 in every round?

    One round is ``x <- P x`` with ``P = averaging_matrix(5)``. The columns of ``P`` sum to 1
    (each node hands out exactly its whole value: a third to each neighbour and the rest to
    itself), so the total ``sum(x)`` and with it the mean 0.2 never change. Returns the mean
    after 0..``rounds`` rounds: 0.2 every time.
    """
    x = np.asarray(values, dtype=float)
    return np.array([average_with_neighbours(x, r).mean() for r in range(rounds + 1)])


def question_2(seed: int = 0) -> bool:
    """Q2: ``setup_notebook(seed)`` twice with the same seed gives the same random numbers.

    It seeds Python, NumPy and PyTorch and turns on deterministic algorithms, so a notebook
    re-run on the same machine prints the same numbers. Returns True when two draws after
    ``setup_notebook(seed)`` agree (they do).
    """
    setup_notebook(seed=seed)
    first = (np.random.rand(3), torch.rand(3))
    setup_notebook(seed=seed)
    second = (np.random.rand(3), torch.rand(3))
    return bool(np.array_equal(first[0], second[0]) and torch.equal(first[1], second[1]))


def question_3(values=(1.0, 0.0, 0.0, 0.0, 0.0)) -> tuple[int, float]:
    """Q3: after 3 rounds node 4 still holds exactly 0. When does it first become nonzero?

    A round moves values one hop, and node 4 is 4 hops from node 0, so it is 0 after 0-3 rounds
    and first nonzero after 4: (1/3)^4 = 1/81 = 0.0123. This is the receptive field of
    notebook 03. Returns ``(rounds, value)``: ``(4, 0.0123...)``.
    """
    x = np.asarray(values, dtype=float)
    rounds = 0
    while average_with_neighbours(x, rounds)[-1] == 0:
        rounds += 1
    return rounds, float(average_with_neighbours(x, rounds)[-1])


# ---------------------------------------------------------------------------------------------
# "Your turn" checks: each returns "pass" or "not yet: <hint>" and never raises
# ---------------------------------------------------------------------------------------------


_call = call  # call(fn, *args) -> (result, None) or (None, problem)


def check_rounds_until_flat(fn) -> str:
    """Check a learner's ``rounds_until_flat(values, tol)`` against :func:`rounds_until_flat`."""
    cases = [((1.0, 0.0, 0.0, 0.0, 0.0), 0.01), ((1.0, 0.0, 0.0, 0.0, 0.0), 0.1),
             ((0.0, 0.0, 3.0, 0.0), 0.05), ((0.5, 0.5, 0.5), 0.01)]
    for values, tol in cases:
        got, problem = _call(fn, np.array(values), tol)
        if problem == "stub":
            return ("not yet: write the body of rounds_until_flat (hint: call "
                    "average_with_neighbours(x, 1) in a loop until every value is within tol "
                    "of the mean, counting the rounds)")
        if problem:
            return f"not yet: {problem}"
        want = rounds_until_flat(values, tol)
        if got == want + 1:
            return (f"not yet: for {values} and tol={tol} you answered {got}, one round too "
                    "many: test the values before doing another round")
        if got == want - 1:
            return (f"not yet: for {values} and tol={tol} you answered {got}, one round too "
                    "few: every value must be within tol of the mean, the last one included")
        if got != want:
            return f"not yet: for {values} and tol={tol} the answer is {want}, you gave {got}"
    return "pass"


def check_averaging_matrix(fn) -> str:
    """Check a learner's ``averaging_matrix(n)``: ``P @ x`` must equal one averaging round."""
    rng = np.random.default_rng(0)
    for n in (5, 3, 8):
        got, problem = _call(fn, n)
        if problem == "stub":
            return ("not yet: write the body of averaging_matrix (hint: start from "
                    "np.zeros((n, n)) and put 1/3 at (i, i-1), (i, i) and (i, i+1))")
        if problem:
            return f"not yet: {problem}"
        p = np.asarray(got, dtype=float)
        if p.shape != (n, n):
            return f"not yet: averaging_matrix({n}) has shape {p.shape}; expected ({n}, {n})"
        x = rng.normal(size=n)
        if np.allclose(p @ x, average_with_neighbours(x, 1)):
            continue
        if not np.allclose(p.sum(axis=1), 1.0):
            return ("not yet: each row is an average, so its weights must sum to 1 (look at "
                    "the first and last rows)")
        if not np.isclose(p[0, 0], 2 / 3):
            return ("not yet: an end node has one neighbour and counts itself twice "
                    "(np.pad(..., mode='edge')), so its own weight is 2/3")
        return f"not yet: P @ x should be {np.round(average_with_neighbours(x, 1), 4)}"
    return "pass"
