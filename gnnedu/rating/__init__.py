"""Rating prediction on MovieLens-100K: baselines and GC-MC, a graph autoencoder (notebook 10).

A top-K recommender ranks movies; a rating model predicts the number of stars a user would
give a movie, and is scored by its error on held-out ratings. These models are not top-K
recommenders (``gnnedu.models``): they have their own registry, :data:`RATING_MODELS`, and their
own protocol in ``gnnedu bench --task rating``.

Protocol: MovieLens-100K's official five-fold splits u1..u5 (``uN.base`` to fit, ``uN.test`` to
score), ratings 1-5, RMSE and MAE of the predictions (clipped to [1, 5]) over every line of the
test file; u1 alone is the split published results use. A user or movie of the test file with no
rating in the base file gets the model's fallback (``gnnedu.rating.baselines``: the bias
baseline). Every run is deterministic for its seed.

Commands (the results files are precomputed by the first; the notebook reads them)::

    python -m gnnedu.rating                # every model x u1..u5 x seeds 0-4 (resumes)
    python -m gnnedu.rating tune           # the validation runs that chose the settings
    gnnedu bench --task rating --split u1 --model gcmc --out DIR/o --save-predictions DIR/p.csv

Modules: ``gnnedu.rating.data`` (splits, the rating-level graph, RMSE/MAE),
``gnnedu.rating.baselines`` (mean, biases, biased MF, the fallback), ``gnnedu.rating.gcmc``
(GC-MC), ``gnnedu.rating.protocol`` (runs, results files, tuning, the bench runner),
``gnnedu.rating.report`` (notebook 10's figures and the ranking comparison); the explorer of one
prediction is ``gnnedu.widgets.ratings``.

API summary (this module)
-------------------------
- ``RATING_MODELS``: ``{key: factory}`` for ``mean``, ``bias``, ``biasmf``, ``gcmc``,
  ``gcmc-feat``: the one list of rating model names (``gnnedu bench --help`` shows it).
- ``make_rating_model(key, **kwargs) -> RatingModel``.
- ``side_features(ml) -> (user_x, item_x)``: the features of ``gcmc-feat``
  (``gnnedu.data.features``: age, gender, occupation; genres, release year).
"""

from __future__ import annotations

from functools import partial

from gnnedu.rating.baselines import BiasedMF, Biases, GlobalMean, RatingModel, clip_rating
from gnnedu.rating.data import (
    RATING_LEVELS,
    RATING_SPLITS,
    RatingGraph,
    load_rating_split,
    mae,
    rating_graph,
    rmse,
    seen_mask,
)
from gnnedu.rating.gcmc import GCMC, BilinearDecoder, GCMCNet, RatingConv, RatingHistory

RATING_MODELS = {
    "mean": GlobalMean,
    "bias": Biases,
    "biasmf": BiasedMF,
    "gcmc": partial(GCMC, features=False),
    "gcmc-feat": partial(GCMC, features=True),
}

__all__ = [
    "RATING_MODELS", "make_rating_model", "side_features", "RATING_LEVELS", "RATING_SPLITS",
    "RatingGraph", "load_rating_split", "rating_graph", "rmse", "mae", "seen_mask",
    "RatingModel", "GlobalMean", "Biases", "BiasedMF", "clip_rating", "GCMC", "GCMCNet",
    "RatingConv", "BilinearDecoder", "RatingHistory",
]


def make_rating_model(key: str, **kwargs) -> RatingModel:
    """A fresh rating model by its :data:`RATING_MODELS` key, e.g. ``make_rating_model("gcmc")``."""
    name = str(key).lower()
    if name not in RATING_MODELS:
        raise ValueError(f"unknown rating model {key!r}; choose from {', '.join(RATING_MODELS)}")
    return RATING_MODELS[name](**kwargs)


def side_features(ml):
    """``(user_x [U, 24], item_x [I, 21])``: user features (age / 100, gender, occupation) and
    movie features (19 genres, scaled release year, year-unknown flag) of MovieLens ``ml``."""
    from gnnedu.data.features import movie_features, user_features

    return user_features(ml.users)[0], movie_features(ml.items, ml.genres)[0]
