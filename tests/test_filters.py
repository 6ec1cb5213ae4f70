"""gnnedu.filters: the block-wise filters against dense references on a small graph."""

import numpy as np
import pytest
import torch

from gnnedu.filters import (
    BSPM,
    GFCF,
    frequency_response,
    lightgcn_response,
    normalized_interactions,
    top_singular_vectors,
)
from gnnedu.graph import build_graph
from gnnedu.models import MODELS, make_model

NUM_USERS, NUM_ITEMS = 50, 70


@pytest.fixture(scope="module")
def graph():
    """Random interactions with a popularity skew; item 69 has none (a zero degree)."""
    gen = torch.Generator().manual_seed(0)
    weights = torch.linspace(3.0, 0.3, NUM_ITEMS - 1)
    users, items = [], []
    for u in range(NUM_USERS):
        chosen = torch.multinomial(weights, 4 + u % 9, generator=gen)
        users += [u] * len(chosen)
        items += chosen.tolist()
    return build_graph((torch.tensor(users), torch.tensor(items)), NUM_USERS, NUM_ITEMS)


def dense_pieces(graph, k):
    """R, P~ = R~^T R~, and the ideal low-pass matrix D^-1/2 V V^T D^1/2, all dense float64."""
    r = np.zeros((graph.num_users, graph.num_items))
    r[graph.users.numpy(), graph.items.numpy()] = 1.0
    du, di = r.sum(1), r.sum(0)
    inv = lambda d: np.where(d > 0, 1 / np.sqrt(np.maximum(d, 1)), 0.0)  # noqa: E731
    rt = inv(du)[:, None] * r * inv(di)[None, :]
    _, _, vt = np.linalg.svd(rt, full_matrices=False)
    v = vt[:k].T
    lowpass = np.diag(inv(di)) @ v @ v.T @ np.diag(np.sqrt(di))
    return r, rt.T @ rt, lowpass


def test_gfcf_matches_the_dense_formula(graph):
    r, p, lowpass = dense_pieces(graph, k=8)
    expected = r @ p + 0.3 * (r @ lowpass)
    model = GFCF(k=8, alpha=0.3, block_size=7).fit(graph)
    np.testing.assert_allclose(model.score().numpy(), expected, rtol=1e-4, atol=1e-5)
    # the linear part alone is the old GraphFilter (r R~^T R~ with a dense item-item matrix)
    linear = GFCF(alpha=0.0).fit(graph).score().numpy()
    dense_filter = make_model("graphfilter").fit(graph).score().numpy()
    np.testing.assert_allclose(linear, dense_filter, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("solver,steps", [("rk4", 1), ("euler", 3)])
def test_bspm_matches_the_dense_formula(graph, solver, steps):
    r, p, lowpass = dense_pieces(graph, k=10)
    eye = np.eye(NUM_ITEMS)
    blurred = r @ np.linalg.matrix_power(eye + 0.5 * (p - eye), 2)   # 2 Euler steps of 0.5
    s = blurred + 0.2 * (r @ lowpass)
    h = 1.5 / steps
    if solver == "rk4":  # one RK4 step on ds/dt = -s P~ is the Taylor polynomial of exp(-hP~)
        z = -h * p
        step = eye + z + z @ z / 2 + z @ z @ z / 6 + z @ z @ z @ z / 24
    else:
        step = eye - h * p
    expected = s @ np.linalg.matrix_power(step, steps)
    model = BSPM(k=10, beta=0.2, blur_time=1.0, blur_steps=2, sharpen_time=1.5,
                 sharpen_steps=steps, solver=solver, block_size=16).fit(graph)
    np.testing.assert_allclose(model.score().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_scores_do_not_depend_on_the_block_size(graph):
    users = torch.tensor([3, 0, 49, 17])
    a = BSPM(k=6, block_size=1).fit(graph).score(users)
    b = BSPM(k=6, block_size=1000).fit(graph).score(users)
    torch.testing.assert_close(a, b)
    assert a.shape == (4, NUM_ITEMS)


def test_truncated_svd_spans_the_top_singular_subspace(graph):
    _, rt, _ = normalized_interactions(graph)
    v = top_singular_vectors(rt, 5, seed=0)         # SciPy svds (k well below the size)
    _, _, vt = np.linalg.svd(rt.toarray().astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(v @ v.T, vt[:5].T @ vt[:5], atol=1e-8)
    np.testing.assert_array_equal(v, top_singular_vectors(rt, 5, seed=0))   # reproducible
    assert top_singular_vectors(rt, NUM_USERS, seed=0).shape == (NUM_ITEMS, NUM_USERS)  # dense
    with pytest.raises(ValueError, match="k must be"):
        top_singular_vectors(rt, 0)


def test_eigenvalues_of_the_item_matrix_lie_in_zero_one(graph):
    _, rt, _ = normalized_interactions(graph)
    s = np.linalg.svd(rt.toarray(), compute_uv=False)
    assert s.max() == pytest.approx(1.0, abs=1e-5)  # the smoothest signal passes unchanged
    assert s.min() >= 0


def test_frequency_responses():
    lam = np.linspace(0, 1, 11)
    np.testing.assert_allclose(frequency_response("linear", lam), lam)
    gfcf = frequency_response("gfcf", lam, alpha=0.3, cutoff=0.6)
    np.testing.assert_allclose(gfcf, lam + 0.3 * (lam >= 0.6))
    z = -2.5 * lam
    taylor = 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24
    np.testing.assert_allclose(frequency_response("bspm", lam, beta=0.0), lam * taylor)
    assert frequency_response("heat", 1.0) == pytest.approx(1.0)
    assert lightgcn_response(1.0, 3) == pytest.approx(1.0)
    assert lightgcn_response(0.0, 3) == pytest.approx(0.25)     # only layer 0 passes
    assert lightgcn_response(-1.0, 3) == pytest.approx(0.0)     # the highest frequency is cut
    with pytest.raises(ValueError, match="unknown filter"):
        frequency_response("band", lam)


def test_registered_and_bad_arguments(graph):
    assert "gfcf" in MODELS and "bspm" in MODELS
    assert isinstance(make_model("GF-CF"), GFCF) and isinstance(make_model("bspm", k=3), BSPM)
    with pytest.raises(ValueError, match="solver"):
        BSPM(solver="dopri5")
    with pytest.raises(ValueError, match=">= 0"):
        GFCF(alpha=-1)
    with pytest.raises(ValueError, match="steps"):
        BSPM(sharpen_steps=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        GFCF().score([0])
    top = GFCF(k=4).fit(graph).recommend([0, 1], k=5)
    seen = set(graph.items[graph.users == 0].tolist())
    assert top.shape == (2, 5) and not seen & set(top[0].tolist())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_filters_on_a_gpu_match_the_cpu(graph):
    cpu = BSPM(k=6).fit(graph).score()
    gpu = BSPM(k=6).fit(graph, device="cuda").score()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_hybrid_adds_standardised_scores(graph):
    from gnnedu.filters import Hybrid
    from gnnedu.models import Popularity

    users = torch.tensor([0, 5, 9])
    filt = GFCF(k=6).fit(graph)
    pop = Popularity().fit(graph)
    z = Hybrid.standardize
    alone = Hybrid(GFCF(k=6), pop, weight=0.0).fit(graph).score(users)
    assert torch.equal(alone, filt.score(users))            # weight 0: the filter, exactly
    mixed = Hybrid(GFCF(k=6), pop, weight=0.7).fit(graph).score(users)
    f = filt.score(users)
    standardised = z(f) + 0.7 * z(pop.score(users))          # the sum the docstring defines
    torch.testing.assert_close(z(mixed), z(standardised), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z(f).std(1), torch.ones(3))
    constant = z(torch.ones(2, 5))
    assert torch.equal(constant, torch.zeros(2, 5))     # no division by zero
    with pytest.raises(ValueError, match="weight"):
        Hybrid(weight=-1)


def test_score_cache_scores_each_batch_once(graph):
    from gnnedu.filters import Hybrid, ScoreCache

    calls = []
    filt = GFCF(k=6).fit(graph)
    inner = filt.score
    filt.score = lambda users=None: calls.append(1) or inner(users)
    cached = ScoreCache(filt)
    users = torch.tensor([0, 5, 9])
    first = cached.score(users)
    first[:, 0] = -float("inf")                        # a caller masking in place ...
    again = cached.score(users)                        # ... does not reach the kept copy
    assert torch.equal(again, inner(users)) and len(calls) == 1
    cached.score(torch.tensor([1, 2]))
    assert len(calls) == 2                             # another batch: scored, then kept
    mixed = Hybrid(cached, ScoreCache(filt), weight=0.5).fit(graph).score(users)
    assert torch.equal(mixed, Hybrid(GFCF(k=6), filt, weight=0.5).fit(graph).score(users))
