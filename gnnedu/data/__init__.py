"""Datasets: MovieLens-100K, Cora, the toy graphs, and train/test splits.

Search order for a dataset: an explicit ``path``; ``$GNNEDU_DATA``; the user cache
(``$GNNEDU_CACHE`` or ``~/.cache/gnnedu``); a download. Every file used is checked by SHA-256.
"""

from gnnedu.data._fetch import DataError, cache_dir
from gnnedu.data.cora import load_cora
from gnnedu.data.movielens import OFFICIAL_SPLITS, MovieLens, load_movielens
from gnnedu.data.splits import implicit, split_random, split_temporal

__all__ = [
    "OFFICIAL_SPLITS",
    "DataError",
    "MovieLens",
    "cache_dir",
    "implicit",
    "load_cora",
    "load_movielens",
    "split_random",
    "split_temporal",
]
