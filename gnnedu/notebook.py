"""The one setup call every notebook makes (see notebooks/00_welcome.ipynb)."""

from __future__ import annotations

import os
import random

DEFAULT_THREADS = 1  # one thread: the same numbers on every machine; GNNEDU_THREADS overrides
PRINT_PRECISION = 4


def setup_notebook(seed: int = 0, threads: int | None = None):
    """Make a notebook reproducible and return a seeded ``torch.Generator``.

    In order: set the thread count (``threads``, else ``$GNNEDU_THREADS``, else 1); turn on
    deterministic algorithms before any model is built; seed ``random``, numpy and torch; set
    print precision for numpy, torch and pandas.
    """
    import numpy as np
    import torch

    if threads is None:
        threads = int(os.environ.get("GNNEDU_THREADS", DEFAULT_THREADS))
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    np.set_printoptions(precision=PRINT_PRECISION, suppress=True)
    torch.set_printoptions(precision=PRINT_PRECISION, sci_mode=False)
    try:
        import pandas as pd

        pd.set_option("display.precision", PRINT_PRECISION)
    except ImportError:  # pandas is a dependency, but keep setup usable without it
        pass

    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def environment_report():
    """One row per component: what is installed or found, and whether it is ready.

    Used by ``gnnedu check`` and by the environment check of notebooks/00_welcome.ipynb.
    """
    import importlib
    import platform
    import subprocess
    import sys

    import pandas as pd

    from gnnedu.data import CORA, MOVIELENS_100K, DataError, locate

    rows = [("python", platform.python_version(), sys.version_info[:2] >= (3, 11))]
    for name in REQUIRED_PACKAGES:
        try:
            version = getattr(importlib.import_module(name), "__version__", "installed")
            rows.append((name, version, True))
        except ImportError:
            rows.append((name, "missing: run `make lab` or `pip install -e .`", False))

    try:
        listing = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                                 check=False, capture_output=True, text=True, timeout=120)
        lines = (listing.stdout + listing.stderr).splitlines()
    except (OSError, subprocess.TimeoutExpired):
        lines = []
    ext = next((line for line in lines if WIDGET_EXTENSION in line), "")
    enabled = "enabled" in ext and "disabled" not in ext
    rows.append(("widget extension", "enabled" if enabled else "missing or disabled", enabled))

    for label, ds in (("MovieLens-100K", MOVIELENS_100K), ("Cora", CORA)):
        try:
            source = locate(ds, download=False)
            rows.append((label, f"{source.relative()} (from {source.origin})", True))
        except DataError as exc:  # the first sentence says what is wrong
            problem = str(exc).split(". ")[0].split("; ")[0]
            hint = ": run `gnnedu data` to download it" if "not found" in problem else ""
            rows.append((label, problem + hint, False))
    return pd.DataFrame(rows, columns=["component", "detail", "ok"])


REQUIRED_PACKAGES = ("torch", "torch_geometric", "numpy", "pandas", "scipy", "matplotlib",
                     "networkx", "ipywidgets", "jupyterlab", "nbval", "tqdm")
WIDGET_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
