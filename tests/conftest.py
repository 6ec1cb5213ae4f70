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


# -- the browser checks (tests/test_browser.py, tests/test_book.py) ---------------------------
# Each of those modules defines ``chromium_path``, which skips or fails (when a browser is
# required) if Chromium or playwright is missing; these two fixtures build on it.


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Debian Chromium driven by playwright (never a downloaded browser)."""
    from browser_util import CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                      args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (its own context) for one test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()
