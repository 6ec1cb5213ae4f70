"""Training-free graph filters for top-K recommendation (notebook 11).

LightGCN propagates embeddings with the normalised adjacency A_hat; with no weights and no
nonlinearity its output is a polynomial in A_hat applied to the embeddings, i.e. a *graph filter*.
Filters can also be applied to the interaction signal directly, with no training at all. Every
filter here scores a user u by filtering the row r_u of the binary interaction matrix R with a
function of the normalised item-item matrix

    R~ = D_U^-1/2 R D_I^-1/2,     P~ = R~^T R~     (items x items, eigenvalues lam in [0, 1]),

the item-item block of A_hat^2. lam = sigma^2 for the singular values sigma of R~; eigenvectors
with lam near 1 are the smooth (low-frequency) signals over the item graph. A filter h keeps
frequency lam with gain h(lam):

- linear filter (GF-CF's first part): s_u = r_u P~, h(lam) = lam;
- ideal low-pass: keep only the ``k`` largest lam, through the top-``k`` right singular vectors V
  of R~: s_u = r_u D_I^-1/2 V V^T D_I^1/2, h(lam) = 1 on those, 0 elsewhere (the degree
  scalings undo the normalisation of the item side);
- ``GFCF`` (Shen et al., CIKM 2021, "How Powerful is Graph Convolution for Recommendation?"):
  linear + ``alpha`` x ideal low-pass, k = 256, alpha = 0.3;
- ``BSPM`` (Choi et al., SIGIR 2023, "Blurring-Sharpening Process Models for Collaborative
  Filtering"): blur with the heat equation ds/dt = s (P~ - I) (Euler steps), add ``beta`` x the
  ideal low-pass, then sharpen with the reversed process ds/dt = -s P~ (an Euler or fourth-order
  Runge-Kutta step). The published Gowalla settings are one blur step of length 1 (which is
  the linear filter), beta = 0.2, k = 448 and one RK4 sharpening step of length 2.5.

Nothing here forms the items x items matrix P~ (41k x 41k on Gowalla, 6.7 GB in float32): users
are scored in blocks, as P~ X = R~^T (R~ X) for a block X of user rows (two sparse products), and
the low-pass part as D^1/2 V (V^T (D^-1/2 X)).

API summary
-----------
- ``GFCF(k=256, alpha=0.3)``, ``BSPM(k=448, beta=0.2, blur_time=1.0, blur_steps=1,
  sharpen_time=2.5, sharpen_steps=1, solver="rk4")``: ``Recommender`` s (``fit``, ``score``),
  registered in ``gnnedu.models.MODELS`` as "gfcf" and "bspm". ``ItemFilter`` is their base:
  ``normalized`` (R~ as torch CSR), ``smooth(x)`` (P~ x), ``lowpass(x)``, ``filter(x)`` for a
  block ``x`` ``[num_items, B]`` of user columns; ``fit_like(fitted)`` reuses another filter's
  fitted matrices (one SVD for many settings).
- ``Hybrid(item_filter=BSPM(), model=None, weight=0.5)``: a filter plus a trained model (e.g. the
  Gowalla LightGCN), each user's two score rows standardised and added with ``weight``.
- ``normalized_interactions(graph) -> (R scipy CSR, R~ scipy CSR, item degree)``.
- ``top_singular_vectors(matrix, k, seed=0) -> ndarray [num_items, k]``: right singular vectors
  of the ``k`` largest singular values (SciPy ``svds``, a seeded start vector).
- ``frequency_response(name, lam, **params)``: h(lam) of "linear", "gfcf", "bspm",
  "lightgcn" (on the eigenvalues mu of A_hat, see :func:`lightgcn_response`), "heat".
- ``lightgcn_response(mu, layers=3)``: the gain of LightGCN's mean of 0..L propagation steps.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from gnnedu.graph import as_graph
from gnnedu.models import Recommender

__all__ = [
    "ItemFilter", "GFCF", "BSPM", "Hybrid", "normalized_interactions", "top_singular_vectors",
    "frequency_response", "lightgcn_response", "SOLVERS",
]

SOLVERS = ("euler", "rk4")


def normalized_interactions(graph):
    """``(R, R~, item_degree)``: the binary interactions ``[U, I]`` and R~ = D_U^-1/2 R D_I^-1/2
    as SciPy CSR matrices (float32), and the item degrees (float64 array). Users or items with
    no interactions get a zero row or column."""
    import scipy.sparse as sp

    users, items = graph.users.numpy(), graph.items.numpy()
    shape = (graph.num_users, graph.num_items)
    r = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=shape)
    du = np.bincount(users, minlength=shape[0]).astype(np.float64)
    di = np.bincount(items, minlength=shape[1]).astype(np.float64)
    inv_u = np.where(du > 0, 1.0 / np.sqrt(np.maximum(du, 1.0)), 0.0)
    inv_i = np.where(di > 0, 1.0 / np.sqrt(np.maximum(di, 1.0)), 0.0)
    values = (inv_u[users] * inv_i[items]).astype(np.float32)
    rt = sp.csr_matrix((values, (users, items)), shape=shape)
    return r, rt, di


def top_singular_vectors(matrix, k: int, seed: int = 0) -> np.ndarray:
    """Right singular vectors ``[num_cols, k]`` of the ``k`` largest singular values of a sparse
    ``matrix`` (float64 arithmetic). SciPy's ``svds`` (ARPACK) with a start vector drawn from a
    generator seeded by ``seed``, so the result is reproducible; a dense SVD when ``k`` is not
    below the smaller side of the matrix (tiny graphs)."""
    from scipy.sparse.linalg import svds

    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    m = matrix.astype(np.float64)
    if k >= min(m.shape) - 1:
        _, _, vt = np.linalg.svd(m.toarray(), full_matrices=False)
        return np.ascontiguousarray(vt[:k].T)
    v0 = np.random.default_rng(seed).standard_normal(min(m.shape))
    _, s, vt = svds(m, k=k, v0=v0)
    order = np.argsort(-s)
    return np.ascontiguousarray(vt[order].T)


def _torch_csr(m) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data.astype(np.float32)), m.shape, check_invariants=False)


class ItemFilter(Recommender):
    """Base class of the training-free filters: ``score(users)`` filters the users' rows of R.

    Subclasses implement ``filter(x)`` for a block ``x = R[users]^T`` (``[num_items, B]``,
    users as columns) with the pieces below, and set ``rank`` (singular vectors needed, 0 for
    none). ``block_size`` users are filtered at a time.
    """

    name = "filter"
    rank = 0

    def __init__(self, block_size: int = 1024, seed: int = 0):
        super().__init__()
        self.block_size = int(block_size)
        self.seed = int(seed)

    def fit(self, train, val=None, num_users=None, num_items=None, device=None, **options):
        """Normalise R and, if the filter needs it, compute the top singular vectors of R~.

        ``device``: where the products run ("cpu" or "cuda"; default: cpu)."""
        self.attach(as_graph(train, num_users, num_items))
        self.device = torch.device(device or "cpu")
        r, rt, item_degree = normalized_interactions(self.graph)
        self._r = r
        self.normalized = _torch_csr(rt).to(self.device)             # R~      [U, I]
        self.normalized_t = _torch_csr(rt.T.tocsr()).to(self.device)  # R~^T    [I, U]
        d = torch.from_numpy(item_degree).float()
        self.item_sqrt = d.sqrt().unsqueeze(1).to(self.device)                 # D_I^1/2
        self.item_inv_sqrt = torch.where(d > 0, d.clamp(min=1).rsqrt(),
                                         torch.zeros_like(d)).unsqueeze(1).to(self.device)
        self.V = None
        if self.rank:
            k = min(self.rank, min(rt.shape))
            self.V = torch.from_numpy(top_singular_vectors(rt, k, self.seed)).float().to(
                self.device)
        return self

    def fit_like(self, fitted: ItemFilter) -> ItemFilter:
        """Take the normalised matrices and singular vectors of an already fitted filter (same
        training data) instead of computing them again; its ``V`` is cut to this filter's
        rank, which must not exceed it. For trying many settings at the cost of one SVD."""
        fitted._check_fitted()
        if self.rank and (fitted.V is None or fitted.V.shape[1] < self.rank):
            raise ValueError(f"the fitted filter has {0 if fitted.V is None else fitted.V.shape[1]}"
                             f" singular vectors; this one needs {self.rank}")
        self.attach(fitted.graph)
        for name in ("device", "_r", "normalized", "normalized_t", "item_sqrt", "item_inv_sqrt"):
            setattr(self, name, getattr(fitted, name))
        self.V = fitted.V[:, : self.rank] if self.rank else None
        return self

    def smooth(self, x: torch.Tensor) -> torch.Tensor:
        """P~ x = R~^T (R~ x) for ``x`` ``[num_items, B]``: two sparse products, no I x I matrix."""
        return self.normalized_t @ (self.normalized @ x)

    def lowpass(self, x: torch.Tensor) -> torch.Tensor:
        """The ideal low-pass filter in the columns' layout: D^1/2 V V^T D^-1/2 x."""
        return self.item_sqrt * (self.V @ (self.V.T @ (self.item_inv_sqrt * x)))

    def filter(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def user_block(self, users: torch.Tensor) -> torch.Tensor:
        """``R[users]^T`` as a dense float32 ``[num_items, len(users)]`` tensor."""
        rows = self._r[users.numpy()].toarray().T
        return torch.from_numpy(np.ascontiguousarray(rows)).to(self.device)

    @torch.no_grad()
    def score(self, users=None) -> torch.Tensor:
        """Filtered scores ``[len(users), num_items]``, computed ``block_size`` users at a time
        (on ``device``; returned on the CPU)."""
        users = self._users(users)
        out = torch.empty(users.numel(), self.graph.num_items)
        for lo in range(0, users.numel(), self.block_size):
            block = users[lo: lo + self.block_size]
            out[lo: lo + block.numel()] = self.filter(self.user_block(block)).T.cpu()
        return out


class GFCF(ItemFilter):
    """GF-CF (Shen et al., CIKM 2021): s_u = r_u P~ + alpha r_u D_I^-1/2 V V^T D_I^1/2 with the
    top ``k`` right singular vectors V of R~; the published setting is k = 256, alpha = 0.3."""

    name = "GF-CF"

    def __init__(self, k: int = 256, alpha: float = 0.3, block_size: int = 1024, seed: int = 0):
        super().__init__(block_size, seed)
        if k < 0 or alpha < 0:
            raise ValueError(f"k and alpha must be >= 0, got k={k}, alpha={alpha}")
        self.k, self.alpha = int(k), float(alpha)
        self.rank = self.k if self.alpha > 0 else 0

    def filter(self, x):
        out = self.smooth(x)
        if self.alpha > 0 and self.V is not None:
            out = out + self.alpha * self.lowpass(x)
        return out

    def extra_repr(self):
        return f"k={self.k}, alpha={self.alpha}"


class BSPM(ItemFilter):
    """BSPM (Choi et al., SIGIR 2023): blur, add the ideal low-pass, sharpen.

    1. Blur: ``blur_steps`` Euler steps of ds/dt = s (P~ - I) over ``blur_time`` (one step of
       length 1 gives s = r P~, the linear filter).
    2. Add ``beta`` x the ideal low-pass of r (top ``k`` singular vectors).
    3. Sharpen: ``sharpen_steps`` steps of ds/dt = -s P~ over ``sharpen_time`` with ``solver``
       "euler" or "rk4"; for this linear equation one RK4 step of length h multiplies s by
       1 - hP~ + (hP~)^2/2 - (hP~)^3/6 + (hP~)^4/24, the Taylor polynomial of exp(-hP~).

    The defaults are the authors' Gowalla settings (their README): k = 448, beta = 0.2, one
    blur step of length 1, one RK4 sharpening step of length 2.5.
    """

    name = "BSPM"

    def __init__(self, k: int = 448, beta: float = 0.2, blur_time: float = 1.0,
                 blur_steps: int = 1, sharpen_time: float = 2.5, sharpen_steps: int = 1,
                 solver: str = "rk4", block_size: int = 1024, seed: int = 0):
        super().__init__(block_size, seed)
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        if k < 0 or beta < 0 or blur_time < 0 or sharpen_time < 0:
            raise ValueError("k, beta, blur_time and sharpen_time must be >= 0")
        if blur_steps < 1 or sharpen_steps < 1:
            raise ValueError("blur_steps and sharpen_steps must be >= 1")
        self.k, self.beta = int(k), float(beta)
        self.blur_time, self.blur_steps = float(blur_time), int(blur_steps)
        self.sharpen_time, self.sharpen_steps = float(sharpen_time), int(sharpen_steps)
        self.solver = solver
        self.rank = self.k if self.beta > 0 else 0

    def _sharpen_step(self, s, h):
        if self.solver == "euler":
            return s - h * self.smooth(s)
        # RK4 on ds/dt = -P~ s: four slopes, combined with weights 1, 2, 2, 1 (over 6).
        k1 = -self.smooth(s)
        k2 = -self.smooth(s + 0.5 * h * k1)
        k3 = -self.smooth(s + 0.5 * h * k2)
        k4 = -self.smooth(s + h * k3)
        return s + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    def filter(self, x):
        s = x
        tau = self.blur_time / self.blur_steps
        for _ in range(self.blur_steps):            # Step 1: blur, s <- s + tau (s P~ - s)
            s = s + tau * (self.smooth(s) - s)
        if self.beta > 0 and self.V is not None:    # Step 2: plus beta x the ideal low-pass
            s = s + self.beta * self.lowpass(x)
        h = self.sharpen_time / self.sharpen_steps
        for _ in range(self.sharpen_steps if h > 0 else 0):  # Step 3: sharpen
            s = self._sharpen_step(s, h)
        return s

    def extra_repr(self):
        return (f"k={self.k}, beta={self.beta}, blur={self.blur_steps}x"
                f"{self.blur_time / self.blur_steps:g}, sharpen={self.solver} "
                f"{self.sharpen_steps}x{self.sharpen_time / self.sharpen_steps:g}")


class Hybrid(Recommender):
    """A training-free filter and a trained model, their scores standardised and added:

        z(filter scores of u) + weight * z(model scores of u),

    where z(x) = (x - mean(x)) / std(x) over the user's row of item scores, so that the two
    scales are comparable and ``weight`` alone sets the mix. ``score`` returns that sum times
    the filter row's std plus its mean, i.e. f + weight * std(f) * z(m): the same ranking, and
    with ``weight = 0`` exactly the filter's scores (no rounding from standardising).

    Args:
        item_filter: an unfitted filter (default ``BSPM()``), fitted in ``fit``.
        model: a trained ``Recommender`` on the same training data (e.g. a fitted
            ``LightGCN``), or an unfitted one, trained in ``fit`` with ``fit_options``.
        weight: the model's share, chosen on validation data.
    """

    name = "Hybrid"

    def __init__(self, item_filter: ItemFilter | None = None, model: Recommender | None = None,
                 weight: float = 0.5, fit_options: dict | None = None):
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.item_filter = item_filter if item_filter is not None else BSPM()
        self.model = model
        self.weight = float(weight)
        self.fit_options = dict(fit_options or {})

    def fit(self, train, val=None, num_users=None, num_items=None, **options):
        """Fit the filter; train the model unless it is already fitted on this data."""
        self.attach(as_graph(train, num_users, num_items))
        if self.item_filter.graph is None:
            self.item_filter.fit(self.graph)
        if self.model is not None and self.model.graph is None:
            self.model.fit(self.graph, **{**self.fit_options, **options})
        return self

    @staticmethod
    def standardize(scores: torch.Tensor) -> torch.Tensor:
        """Each row to mean 0 and standard deviation 1 (rows that are constant: 0)."""
        centred = scores - scores.mean(dim=1, keepdim=True)
        return centred / centred.std(dim=1, keepdim=True).clamp(min=1e-12)

    @torch.no_grad()
    def score(self, users=None):
        users = self._users(users)
        out = self.item_filter.score(users)
        if self.model is not None and self.weight > 0:
            spread = out.std(dim=1, keepdim=True)
            out = out + self.weight * spread * self.standardize(self.model.score(users))
        return out

    def extra_repr(self):
        return f"weight={self.weight}"


class ScoreCache(Recommender):
    """A fitted model whose scores are kept per batch of users, so that the same validation
    users are scored once however many weights of ``Hybrid`` are tried on them."""

    name = "cached"

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.attach(model.graph)
        self._kept: dict[bytes, torch.Tensor] = {}

    @torch.no_grad()
    def score(self, users=None):
        users = self._users(users)
        key = users.numpy().tobytes()
        if key not in self._kept:
            self._kept[key] = self.model.score(users)
        return self._kept[key].clone()  # callers may mask it in place


def lightgcn_response(mu, layers: int = 3):
    """Gain of LightGCN's final embedding, the mean of A_hat^0..A_hat^L, on an eigenvector of
    A_hat with eigenvalue ``mu`` in [-1, 1]: (1 + mu + ... + mu^L) / (L + 1)."""
    mu = np.asarray(mu, dtype=np.float64)
    return sum(mu ** k for k in range(layers + 1)) / (layers + 1)


def frequency_response(name: str, lam, **params):
    """Gain h(lam) of a filter on the eigenvector of P~ with eigenvalue ``lam`` in [0, 1].

    ``name``: "linear" (lam), "heat" (exp(-t (1 - lam)), ``t``: params ``time``, default 1),
    "lowpass" (1 where lam >= ``cutoff``), "gfcf" (lam + ``alpha`` x low-pass, ``cutoff``),
    "bspm" (blur, low-pass, sharpen, as :class:`BSPM`: ``beta``, ``cutoff``, ``sharpen_time``,
    ``solver``); "lightgcn" reads ``lam`` as mu, an eigenvalue of A_hat in [-1, 1]
    (:func:`lightgcn_response`, ``layers``). ``cutoff`` stands for the k-th largest lam. The
    degree scalings of the low-pass part are left out: they make it close to, not exactly, a
    function of lam.
    """
    lam = np.asarray(lam, dtype=np.float64)
    cutoff = params.get("cutoff", 0.5)
    lowpass = (lam >= cutoff).astype(np.float64)
    if name == "linear":
        return lam
    if name == "heat":
        return np.exp(-params.get("time", 1.0) * (1.0 - lam))
    if name == "lowpass":
        return lowpass
    if name == "gfcf":
        return lam + params.get("alpha", 0.3) * lowpass
    if name == "bspm":
        h = params.get("sharpen_time", 2.5)
        blurred = lam + params.get("beta", 0.2) * lowpass
        z = -h * lam
        if params.get("solver", "rk4") == "euler":
            return blurred * (1.0 + z)
        return blurred * (1.0 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24)
    if name == "lightgcn":
        return lightgcn_response(lam, params.get("layers", 3))
    raise ValueError(f"unknown filter {name!r}; choose linear, heat, lowpass, gfcf, bspm or "
                     "lightgcn")
