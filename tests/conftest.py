"""Shared pytest configuration: markers, and one torch thread for every test.

Two OpenMP threads made small training steps up to 30x slower on busy 2-core machines; the
notebooks use one thread too (``gnnedu.setup_notebook``).
"""

import datafind
import pytest
import torch

from gnnedu.data import CORA, MOVIELENS_100K

torch.set_num_threads(1)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: real-browser check (JupyterLab + headless Chromium via playwright)"
    )


@pytest.fixture
def deterministic():
    """Deterministic algorithms for one test, switched off again afterwards."""
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


@pytest.fixture(scope="session")
def movielens_source():
    """Where MovieLens-100K is (found as the package finds it, never downloaded).

    Skips the test when it is absent, or fails it when GNNEDU_REQUIRE_DATA=1 (tests/datafind.py).
    """
    return datafind.require(MOVIELENS_100K)


@pytest.fixture(scope="session")
def cora_source():
    """Where Cora's raw files are; skips or fails like ``movielens_source``."""
    return datafind.require(CORA)


@pytest.fixture(scope="session")
def ml(movielens_source):
    """MovieLens-100K from $GNNEDU_DATA or the cache, loaded once (see ``movielens_source``)."""
    from gnnedu.data import load_movielens

    return load_movielens(path=movielens_source.location, download=False, progress=False)
