"""Rating baselines: the global mean, user and item biases, biased matrix factorisation.

API summary
-----------
Every rating model (these and ``gnnedu.rating.gcmc.GCMC``) is a :class:`RatingModel`::

    model = Biases()                                     # settings in the constructor
    model.fit(base, num_users, num_items, seed=0)        # base: user, item, rating columns
    model.predict(users, items)                          # float64 [n], clipped to [1, 5]
    model.predict_matrix()                               # float64 [num_users, num_items]

- ``GlobalMean()`` ("mean"): every prediction is the mean rating ``mu`` of the base file.
- ``Biases(reg_user, reg_item, sweeps)`` ("bias"): ``mu + b_u + b_i``, regularised least squares
  solved in closed form, one side at a time (alternating sweeps).
- ``BiasedMF(dim, reg, reg_bias, sweeps)`` ("biasmf"): ``mu + b_u + b_i + p_u . q_i``, the
  SVD-style model of the Netflix prize (Koren, Bell and Volinsky, 2009), fitted by alternating
  least squares.

The fallback: a pair whose user or movie has no rating in the base file gets the bias
baseline's prediction ``mu + b_u + b_i`` with the bias of the unknown side set to 0 (``mu`` alone
when neither is known). ``GlobalMean`` needs no fallback and ``Biases`` is its own; every other
model fits a ``Biases()`` on the same base file for it. ``model.fallback_count`` is the number
of pairs of the last ``predict`` call that used it.
"""

from __future__ import annotations

import warnings

import pandas as pd
import torch

from gnnedu.rating.data import RATING_LEVELS, as_index, rating_tensors, seen_mask

__all__ = ["RatingModel", "GlobalMean", "Biases", "BiasedMF", "clip_rating"]

LOW, HIGH = float(min(RATING_LEVELS)), float(max(RATING_LEVELS))


def clip_rating(pred: torch.Tensor) -> torch.Tensor:
    """Predictions clipped to the rating scale [1, 5]."""
    return pred.clamp(LOW, HIGH)


class RatingModel:
    """Base class: subclasses implement ``_fit`` and ``_predict_known`` (pairs whose user and
    movie both have ratings in the base file); ``predict`` adds the fallback and the clip."""

    name = "rating model"
    key = "rating"
    uses_features = False  # True: fit() needs features=(user_x, item_x)

    def __init__(self):
        self.num_users: int | None = None
        self.num_items: int | None = None
        self.fallback: RatingModel | None = None
        self.fallback_count = 0

    def fit(self, ratings: pd.DataFrame, num_users: int, num_items: int, val=None,
            seed: int = 0, progress: bool = False, features=None, **options) -> RatingModel:
        """Fit on ``ratings`` (columns ``user``, ``item``, ``rating``); returns ``self``.

        ``val`` (same columns) is used by trained models to record a validation curve;
        ``features`` is ``(user_x, item_x)`` for models with ``uses_features``.
        """
        if len(ratings) == 0:
            raise ValueError("no ratings to fit on")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self._ratings = ratings
        self._fit_fallback(ratings)
        self._fit(ratings, val=val, seed=seed, progress=progress, features=features, **options)
        return self

    def _fit_fallback(self, ratings) -> None:
        self.fallback = Biases().fit(ratings, self.num_users, self.num_items)

    def _fit(self, ratings, **options) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _predict_known(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover - overridden

    def _check_fitted(self) -> None:
        if self.num_users is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(base, ...) first")

    def _query(self, users, items) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_fitted()
        users, items = as_index(users), as_index(items)
        if users.shape != items.shape:
            raise ValueError(f"users and items need the same length, got {users.numel()} and "
                             f"{items.numel()}")
        if users.numel() and (users.min() < 0 or users.max() >= self.num_users
                              or items.min() < 0 or items.max() >= self.num_items):
            raise IndexError(f"a user or item index is outside 0..{self.num_users - 1} / "
                             f"0..{self.num_items - 1}")
        return users, items

    @torch.no_grad()
    def predict(self, users, items) -> torch.Tensor:
        """Predicted ratings (float64 ``[n]``) of the pairs ``(users[k], items[k])``, clipped
        to [1, 5]; pairs with a user or movie absent from the base file get the fallback."""
        users, items = self._query(users, items)
        user_seen, item_seen = seen_mask(self._ratings, users, items, self.num_users,
                                         self.num_items)
        known = user_seen & item_seen
        out = torch.empty(users.numel(), dtype=torch.float64)
        if bool(known.any()):
            out[known] = self._predict_known(users[known], items[known]).to(torch.float64)
        self.fallback_count = int((~known).sum())
        if self.fallback_count:
            helper = self if self.fallback is None else self.fallback
            out[~known] = helper.unknown_pairs(users[~known], items[~known], user_seen[~known],
                                               item_seen[~known])
        return clip_rating(out)

    def unknown_pairs(self, users, items, user_seen, item_seen) -> torch.Tensor:
        """The fallback's predictions for pairs with an unknown side (overridden by Biases)."""
        raise NotImplementedError  # pragma: no cover - only models used as a fallback

    @torch.no_grad()
    def predict_matrix(self) -> torch.Tensor:
        """Predictions for every (user, movie) pair: float64 ``[num_users, num_items]``."""
        self._check_fitted()
        users = torch.arange(self.num_users).repeat_interleave(self.num_items)
        items = torch.arange(self.num_items).repeat(self.num_users)
        return self.predict(users, items).reshape(self.num_users, self.num_items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GlobalMean(RatingModel):
    """Predicts the mean rating ``mu`` of the base file for every pair."""

    name = "Global mean"
    key = "mean"

    def _fit_fallback(self, ratings) -> None:
        self.fallback = None

    def _fit(self, ratings, **options) -> None:
        self.mu = float(ratings["rating"].mean())

    def _predict_known(self, users, items):
        return torch.full((users.numel(),), self.mu, dtype=torch.float64)

    def unknown_pairs(self, users, items, user_seen, item_seen):
        return self._predict_known(users, items)


def _sum_by(index: torch.Tensor, values: torch.Tensor, size: int) -> torch.Tensor:
    return torch.zeros(size, dtype=values.dtype).index_add_(0, index, values)


class Biases(RatingModel):
    """``mu + b_u + b_i``: minimise ``sum (r - mu - b_u - b_i)^2 + reg_user sum b_u^2 +
    reg_item sum b_i^2``. With the user biases fixed the item biases have a closed form,
    ``b_i = sum_u (r_ui - mu - b_u) / (reg_item + n_i)``, and vice versa; ``sweeps``
    alternations converge (each sweep lowers the objective)."""

    name = "Biases"
    key = "bias"

    # reg_user=10, reg_item=2: the lowest validation RMSE (0.9410) of the 7 x 7 grid in
    # gnnedu/results/rating/tuning.json (python -m gnnedu.rating tune)
    def __init__(self, reg_user: float = 10.0, reg_item: float = 2.0, sweeps: int = 10):
        super().__init__()
        if reg_user < 0 or reg_item < 0 or sweeps < 1:
            raise ValueError("reg_user and reg_item must be >= 0 and sweeps >= 1")
        self.reg_user, self.reg_item, self.sweeps = float(reg_user), float(reg_item), int(sweeps)

    def _fit_fallback(self, ratings) -> None:
        self.fallback = None  # its own formula is the fallback

    def _fit(self, ratings, **options) -> None:
        users, items, r = rating_tensors(ratings)
        self.mu = float(r.mean())
        n_u = _sum_by(users, torch.ones_like(r), self.num_users)
        n_i = _sum_by(items, torch.ones_like(r), self.num_items)
        b_u = torch.zeros(self.num_users, dtype=torch.float64)
        b_i = torch.zeros(self.num_items, dtype=torch.float64)
        for _ in range(self.sweeps):
            b_i = _sum_by(items, r - self.mu - b_u[users], self.num_items) / (self.reg_item + n_i)
            b_u = _sum_by(users, r - self.mu - b_i[items], self.num_users) / (self.reg_user + n_u)
        # an unrated side has no data: its bias solves to 0 (0 / reg), or is set to 0 if reg = 0
        self.user_bias = torch.nan_to_num(b_u)
        self.item_bias = torch.nan_to_num(b_i)

    def _predict_known(self, users, items):
        return self.mu + self.user_bias[users] + self.item_bias[items]

    def unknown_pairs(self, users, items, user_seen, item_seen):
        return (self.mu + torch.where(user_seen, self.user_bias[users], 0.0)
                + torch.where(item_seen, self.item_bias[items], 0.0))

    def __repr__(self) -> str:
        return f"Biases(reg_user={self.reg_user:g}, reg_item={self.reg_item:g})"


def _rows_pattern(rows: torch.Tensor, cols: torch.Tensor, size: int, width: int):
    """The CSR layout of the ratings as a ``[size, width]`` matrix (rows = ``rows``):
    ``(order, crow, col)``, with ``values[order]`` in CSR order. Computed once per fit."""
    order = torch.argsort(rows * width + cols, stable=True)
    crow = torch.zeros(size + 1, dtype=torch.int64)
    crow[1:] = torch.bincount(rows, minlength=size).cumsum(0)
    return order, crow, cols[order], (size, width)


def _ridge_side(pattern, y: torch.Tensor, other: torch.Tensor, penalty: torch.Tensor
                ) -> torch.Tensor:
    """One ALS half-step. For every row ``a`` of ``pattern`` (a user, say): the ridge solution
    ``theta_a`` of ``min sum_k (y_k - other[col_k] . theta)^2 + sum_c penalty_c theta_c^2`` over
    the ratings ``k`` of row ``a``. Returns ``[rows, d]``.

    All rows at once, from the normal equations: ``G_a = sum_k x_k x_k^T`` is the 0/1 rating
    matrix ``R`` times each column's outer product ``x x^T`` (flattened), and ``sum_k y_k x_k``
    is ``R`` with the values ``y`` times ``other``."""
    order, crow, col, shape = pattern
    d = other.shape[1]
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        ones = torch.sparse_csr_tensor(crow, col, torch.ones_like(y), shape)
        values = torch.sparse_csr_tensor(crow, col, y[order], shape)
    outer = (other.unsqueeze(2) * other.unsqueeze(1)).reshape(len(other), d * d)
    gram = (ones @ outer).reshape(shape[0], d, d)
    return torch.linalg.solve(gram + torch.diag(penalty.to(other.dtype)), values @ other)


class BiasedMF(RatingModel):
    """``mu + b_u + b_i + p_u . q_i`` with ``dim`` factors, fitted by alternating least squares.

    With the movie side fixed, each user's ``(b_u, p_u)`` solves a ridge regression on the
    features ``(1, q_i)`` of the movies they rated, target ``r_ui - mu - b_i``, penalty
    ``reg_bias b_u^2 + reg |p_u|^2``; then the movies in turn. The factors start small and
    random (seeded), the biases from :class:`Biases`.
    """

    name = "Biased MF"
    key = "biasmf"

    # dim=40, reg=15, reg_bias=5: the lowest validation RMSE (0.9183) of the 4 x 6 x 3 grid in
    # gnnedu/results/rating/tuning.json (python -m gnnedu.rating tune)
    def __init__(self, dim: int = 40, reg: float = 15.0, reg_bias: float | None = 5.0,
                 sweeps: int = 15, init_std: float = 0.1):
        super().__init__()
        reg_bias = reg if reg_bias is None else reg_bias
        if dim < 1 or reg <= 0 or reg_bias < 0 or sweeps < 1:
            raise ValueError("dim >= 1, reg > 0, reg_bias >= 0 and sweeps >= 1 are required")
        self.dim, self.reg, self.reg_bias = int(dim), float(reg), float(reg_bias)
        self.sweeps, self.init_std = int(sweeps), init_std

    def _fit(self, ratings, seed: int = 0, **options) -> None:
        users, items, r = rating_tensors(ratings)
        self.mu = float(r.mean())
        gen = torch.Generator().manual_seed(seed)
        p = torch.randn(self.num_users, self.dim, generator=gen, dtype=torch.float64)
        q = torch.randn(self.num_items, self.dim, generator=gen, dtype=torch.float64)
        p, q = p * self.init_std, q * self.init_std
        b_u, b_i = self.fallback.user_bias.clone(), self.fallback.item_bias.clone()
        penalty = torch.tensor([self.reg_bias] + [self.reg] * self.dim, dtype=torch.float64)
        by_user = _rows_pattern(users, items, self.num_users, self.num_items)
        by_item = _rows_pattern(items, users, self.num_items, self.num_users)
        for _ in range(self.sweeps):
            # users: features (1, q_i) of the movies they rated, target r - mu - b_i
            movies = torch.cat([torch.ones(self.num_items, 1, dtype=torch.float64), q], 1)
            theta = _ridge_side(by_user, r - self.mu - b_i[items], movies, penalty)
            b_u, p = theta[:, 0], theta[:, 1:]
            # then the movies: features (1, p_u) of their raters, target r - mu - b_u
            people = torch.cat([torch.ones(self.num_users, 1, dtype=torch.float64), p], 1)
            theta = _ridge_side(by_item, r - self.mu - b_u[users], people, penalty)
            b_i, q = theta[:, 0], theta[:, 1:]
        self.user_bias, self.item_bias, self.user_factors, self.item_factors = b_u, b_i, p, q

    def _predict_known(self, users, items):
        dot = (self.user_factors[users] * self.item_factors[items]).sum(1)
        return self.mu + self.user_bias[users] + self.item_bias[items] + dot

    def __repr__(self) -> str:
        return f"BiasedMF(dim={self.dim}, reg={self.reg:g}, reg_bias={self.reg_bias:g})"
