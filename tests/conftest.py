"""Shared pytest configuration: markers, and one torch thread for every test.

Two OpenMP threads made small training steps up to 30x slower on busy 2-core machines; the
notebooks use one thread too (``gnnedu.setup_notebook``).
"""

import pytest
import torch

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
def ml():
    """MovieLens-100K from $GNNEDU_DATA or the cache, loaded once; skips when it is not there."""
    from gnnedu.data import DataError, load_movielens

    try:
        return load_movielens(download=False, progress=False)
    except DataError as exc:
        pytest.skip(f"MovieLens-100K not available offline: {exc}")
