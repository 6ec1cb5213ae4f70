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


def test_exercise_2_rounds_until_flat():
    rounds = nb00.exercise_2()
    x = nb00.average_with_neighbours(np.array([1.0, 0, 0, 0, 0]), rounds)
    before = nb00.average_with_neighbours(np.array([1.0, 0, 0, 0, 0]), rounds - 1)
    assert np.abs(x - 0.2).max() <= 0.01 < np.abs(before - 0.2).max()
    # the mean is preserved: the mean-with-self on a path with mirrored ends is doubly stochastic
    assert x.mean() == pytest.approx(0.2)
