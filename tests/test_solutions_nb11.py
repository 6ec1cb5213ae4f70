"""Notebook 11's "your turn" checks and exercise solutions, on small graphs."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from gnnedu.filters import GFCF, lightgcn_response
from gnnedu.graph import build_graph
from gnnedu.train import carve_validation
from notebooks.solutions import nb11


def stub(*args):
    raise NotImplementedError("your turn")


# Your turn 1: the frequency response of a layer combination ----------------------------------

def test_layer_response_passes_and_matches_lightgcn():
    assert nb11.check_layer_response(nb11.layer_response) == "pass"
    mu = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(nb11.layer_response(mu, [0.25] * 4), lightgcn_response(mu, 3))


@pytest.mark.parametrize("wrong,hint", [
    (stub, "replace the `raise NotImplementedError`"),
    (lambda mu, a: sum(w * np.asarray(mu) ** (k + 1) for k, w in enumerate(a)), "A_hat^0 = I"),
    (lambda mu, a: np.ones(3), "one gain per eigenvalue"),
    (lambda mu, a: np.asarray(mu) * 2, "sum_k alpha_k mu^k"),
    (lambda mu, a: 1 / 0, "ZeroDivisionError"),
])
def test_layer_response_hints(wrong, hint):
    message = nb11.check_layer_response(wrong)
    assert message.startswith("not yet") and hint in message


# Your turn 2: the linear filter in user blocks ------------------------------------------------

def test_linear_filter_scores_passes():
    assert nb11.check_linear_filter_scores(nb11.linear_filter_scores) == "pass"


def two_steps(normalized, rows):
    rt = normalized.to_dense()
    return rows @ rt.T @ rt @ rt.T @ rt


@pytest.mark.parametrize("wrong,hint", [
    (stub, "replace the `raise NotImplementedError`"),
    (lambda n, r: r, "rows R~^T R~"),
    (lambda n, r: r[:1], "one row of item scores per user"),
    (two_steps, "apply R~^T R~ once"),
])
def test_linear_filter_scores_hints(wrong, hint):
    message = nb11.check_linear_filter_scores(wrong)
    assert message.startswith("not yet") and hint in message


# Exercise 1: memory budget --------------------------------------------------------------------

def test_memory_budget_by_hand():
    # 1 user, 1 item, 1 interaction, d = 2: table 2 x 2 floats x 4 copies = 64 bytes;
    # adjacency 2 entries x 8 bytes + 3 row pointers x 4 bytes = 28 bytes.
    budget = nb11.memory_budget(1, 1, 1, dim=2)
    assert budget["embeddings"] * 2 ** 30 == 64
    assert budget["adjacency"] * 2 ** 30 == 28
    assert budget["item_item"] * 2 ** 30 == 4 and budget["all_scores"] * 2 ** 30 == 4
    gowalla = nb11.memory_budget(29_858, 40_981, 810_128)
    assert gowalla["item_item"] == pytest.approx(6.26, abs=0.01)   # the 6.7 GB (10^9) of EASE


# Exercise 2: time to reach a target -----------------------------------------------------------

def test_time_to_reach_interpolates():
    curve = [{"recall@20": 0.10, "train_cpu_seconds": 100.0},
             {"recall@20": 0.15, "train_cpu_seconds": 200.0},
             {"recall@20": 0.19, "train_cpu_seconds": 400.0}]
    assert nb11.time_to_reach(curve, 0.05) == 100.0
    assert nb11.time_to_reach(curve, 0.17) == pytest.approx(300.0)
    assert nb11.time_to_reach(curve, 0.2) == math.inf


# Exercise 3: GF-CF's alpha on validation ------------------------------------------------------

def test_choose_alpha_picks_the_best_validation_score():
    gen = torch.Generator().manual_seed(0)
    taste = torch.randn(60, 3, generator=gen) @ torch.randn(3, 50, generator=gen)
    users, items = (taste > taste.quantile(0.8, dim=1, keepdim=True)).nonzero().T
    frame = pd.DataFrame({"user": users.numpy(), "item": items.numpy(), "rating": 1,
                          "timestamp": 0})
    fit, val = carve_validation(frame, 0.2, seed=0)
    graph = build_graph(fit, 60, 50)
    best, scores = nb11.choose_alpha(graph, val, alphas=(0.0, 0.5, 2.0), k=5)
    assert set(scores) == {0.0, 0.5, 2.0} and scores[best] == max(scores.values())
    from gnnedu.metrics import evaluate

    direct = evaluate(GFCF(k=5, alpha=0.5).fit(graph), graph, val, ks=(20,))["recall@20"]
    assert scores[0.5] == pytest.approx(direct)


def test_answers_carry_the_numbers():
    assert "0.333 at mu = -1" in nb11.question_1()
    assert "0.31 at 0.5" in nb11.question_3()
    budget = nb11.memory_budget(5_000_000, 1_000_000, 100_000_000)
    assert f"{budget['item_item']:,.0f} GiB" in nb11.question_5()
    assert all(len(getattr(nb11, f"question_{i}")()) > 100 for i in range(1, 6))
