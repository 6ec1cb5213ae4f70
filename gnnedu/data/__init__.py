"""Datasets: MovieLens-100K, Cora, Gowalla, the toy graphs (``gnnedu.data.toy``), and
train/test splits.

Search order for a dataset: an explicit ``path``; ``$GNNEDU_DATA``; the user cache
(``$GNNEDU_CACHE`` or ``~/.cache/gnnedu``); a download. Every file used is checked by SHA-256.
"""

from gnnedu.data.cora import load_cora
from gnnedu.data.features import movie_features, to_hetero_data, user_features
from gnnedu.data.fetch import (
    CORA,
    MOVIELENS_100K,
    DataError,
    Dataset,
    Source,
    cache_dir,
    copy_to_cache,
    locate,
)
from gnnedu.data.gowalla import GOWALLA, Gowalla, load_gowalla
from gnnedu.data.movielens import OFFICIAL_SPLITS, MovieLens, find_movies, load_movielens
from gnnedu.data.splits import SPLITS, implicit, load_split, split_random, split_temporal
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
    "CORA",
    "MOVIELENS_100K",
    "DataError",
    "Dataset",
    "Source",
    "MovieLens",
    "cache_dir",
    "copy_to_cache",
    "locate",
    "implicit",
    "load_cora",
    "load_movielens",
    "GOWALLA",
    "Gowalla",
    "load_gowalla",
    "find_movies",
    "split_random",
    "split_temporal",
    "SPLITS",
    "load_split",
    "user_features",
    "movie_features",
    "to_hetero_data",
]
