"""Shared pytest configuration: markers, and one torch thread for every test.

Two OpenMP threads made small training steps up to 30x slower on busy 2-core machines; the
notebooks use one thread too (``gnnedu.setup_notebook``).
"""

import torch

torch.set_num_threads(1)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: real-browser check (JupyterLab + headless Chromium via playwright)"
    )
