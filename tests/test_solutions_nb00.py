import numpy as np
import pytest
import torch

from notebooks.solutions import nb00


@pytest.fixture(autouse=True)
def restore_torch_state():
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def test_exercise_1_same_seed_same_draws():
    assert nb00.exercise_1(seed=1) == (True, True)


def test_rounds_until_flat_is_the_first_flat_round():
    rounds = nb00.rounds_until_flat(np.array([1.0, 0, 0, 0, 0]), 0.01)
    x = nb00.average_with_neighbours(np.array([1.0, 0, 0, 0, 0]), rounds)
    before = nb00.average_with_neighbours(np.array([1.0, 0, 0, 0, 0]), rounds - 1)
    assert np.abs(x - 0.2).max() <= 0.01 < np.abs(before - 0.2).max()
    # the mean is preserved: the mean-with-self on a path with mirrored ends is doubly stochastic
    assert x.mean() == pytest.approx(0.2)


def test_exercise_2_zero_padding_leaks():
    x = np.array([1.0, 0, 0, 0, 0])
    assert nb00.average_with_zero_padding(x, 1).mean() == pytest.approx(0.4 / 3)
    assert nb00.exercise_2() == pytest.approx(0.0192, abs=1e-4)
    means = [nb00.average_with_zero_padding(x, r).mean() for r in range(6)]
    assert all(a > b for a, b in zip(means, means[1:]))  # strictly falling
    np.testing.assert_array_equal(x, [1.0, 0, 0, 0, 0])  # the input is not modified


def stub(*args):
    raise NotImplementedError("your turn")


def test_rounds_until_flat_solution_and_checks():
    assert nb00.rounds_until_flat(np.array([1.0, 0, 0, 0, 0]), 0.01) == 27
    assert nb00.rounds_until_flat([0.5, 0.5], 0.01) == 0
    assert nb00.check_rounds_until_flat(nb00.rounds_until_flat) == "pass"
    hint = nb00.check_rounds_until_flat(stub)
    assert hint.startswith("not yet: write the body of rounds_until_flat")
    late = nb00.check_rounds_until_flat(lambda v, tol: nb00.rounds_until_flat(v, tol) + 1)
    assert late.startswith("not yet:") and "one round too many" in late
    early = nb00.check_rounds_until_flat(lambda v, tol: max(nb00.rounds_until_flat(v, tol) - 1, 0))
    assert "one round too few" in early
    assert "returned None" in nb00.check_rounds_until_flat(lambda v, tol: None)
    assert "raised ZeroDivisionError" in nb00.check_rounds_until_flat(lambda v, tol: 1 / 0)


def test_averaging_matrix_solution_and_checks():
    p = nb00.averaging_matrix(5)
    x = np.array([1.0, 0, 0, 0, 0])
    np.testing.assert_allclose(p @ x, nb00.average_with_neighbours(x, 1))
    np.testing.assert_allclose(p.sum(axis=0), 1.0)  # doubly stochastic: the mean is kept
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert nb00.check_averaging_matrix(nb00.averaging_matrix) == "pass"
    assert nb00.check_averaging_matrix(stub).startswith("not yet: write the body")

    def no_edge_rule(n):  # plain tridiagonal 1/3: the end rows sum to 2/3
        return (np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)) / 3

    assert "sum to 1" in nb00.check_averaging_matrix(no_edge_rule)

    def ends_wrong(n):  # rows sum to 1 but the end node splits its weight evenly
        p = no_edge_rule(n)
        p[0, :2] = p[-1, -2:] = 0.5
        return p

    assert "2/3" in nb00.check_averaging_matrix(ends_wrong)
    assert "shape" in nb00.check_averaging_matrix(lambda n: np.eye(n + 1))


def test_check_your_understanding_answers():
    np.testing.assert_allclose(nb00.question_1(), 0.2)
    assert nb00.question_2() is True
    rounds, value = nb00.question_3()
    assert rounds == 4 and value == pytest.approx(1 / 81)
    assert nb00.average_with_neighbours(np.array([1.0, 0, 0, 0, 0]), 3)[-1] == 0.0
