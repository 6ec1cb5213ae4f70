"""The one setup call every notebook makes (see notebooks/00_welcome.ipynb)."""

from __future__ import annotations

import os
import random

DEFAULT_THREADS = 1  # one thread was faster than two on shared 2-core machines (DESIGN.md)
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
