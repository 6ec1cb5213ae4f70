"""Datasets: MovieLens-100K, Cora, the toy graphs (``gnnedu.data.toy``), and train/test splits.

Search order for a dataset: an explicit ``path``; ``$GNNEDU_DATA``; the user cache
(``$GNNEDU_CACHE`` or ``~/.cache/gnnedu``); a download. Every file used is checked by SHA-256.
"""

from gnnedu.data._fetch import DataError, cache_dir
from gnnedu.data.cora import load_cora
from gnnedu.data.movielens import OFFICIAL_SPLITS, MovieLens, load_movielens
from gnnedu.data.splits import implicit, split_random, split_temporal
from gnnedu.data.toy import (
    LIKE_THRESHOLD,
    TOY_MOVIES,
    TRIANGLE_NODES,
    article_printed_values,
    article_weights,
    toy_adjacency,
    toy_biadjacency,
    toy_bipartite_graph,
    toy_movies,
    toy_ratings,
    toy_users,
    triangle_adjacency,
    triangle_edge_index,
    triangle_features,
    triangle_graph,
)

__all__ = [
    "LIKE_THRESHOLD",
    "TOY_MOVIES",
    "TRIANGLE_NODES",
    "article_printed_values",
    "article_weights",
    "toy_adjacency",
    "toy_biadjacency",
    "toy_bipartite_graph",
    "toy_movies",
    "toy_ratings",
    "toy_users",
    "triangle_adjacency",
    "triangle_edge_index",
    "triangle_features",
    "triangle_graph",
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
