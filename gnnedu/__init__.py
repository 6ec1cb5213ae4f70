"""gnnedu: the helper package behind the notebooks.

Importing it changes no global state; each notebook calls :func:`setup_notebook` once.
"""

from gnnedu.notebook import setup_notebook

__version__ = "0.1.0"
__all__ = ["__version__", "setup_notebook"]
