"""Shared pytest configuration: markers used by the test modules."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: real-browser check (JupyterLab + headless Chromium via playwright)"
    )
