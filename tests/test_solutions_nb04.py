"""Exercise solutions of notebook 04: masks checked on small inputs, the claims on Cora."""

import math

import numpy as np
import pytest
import torch
from datafind import needs_cora
from scipy import stats

from gnnedu.nodeclf import normalize_features, sparse_features
from notebooks.solutions import nb04

pytestmark = pytest.mark.usefixtures("deterministic")


@pytest.fixture(scope="module")
def cora():
    from gnnedu.data import load_cora

    data = load_cora(download=False, progress=False)[0]
    data.x = sparse_features(normalize_features(data.x))
    return data


def test_random_masks_are_disjoint_complete_and_sized():
    train, val, test = nb04.random_masks(2708, 0.8, 0.1, seed=0)
    for mask in (train, val, test):
        assert mask.dtype == torch.bool and mask.shape == (2708,)
    assert int(train.sum()) == round(0.8 * 2708) and int(val.sum()) == round(0.1 * 2708)
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert (train | val | test).all()
    again = nb04.random_masks(2708, 0.8, 0.1, seed=0)
    other = nb04.random_masks(2708, 0.8, 0.1, seed=1)
    assert torch.equal(again[0], train) and not torch.equal(other[0], train)
    # not the article's mistake: the training nodes are spread over the whole index range
    assert train[:1354].sum() < 0.9 * train.sum()


@pytest.mark.parametrize("ratios", [(0.0, 0.1), (0.8, 0.2), (0.5, 0.6)])
def test_random_masks_refuse_impossible_ratios(ratios):
    with pytest.raises(ValueError):
        nb04.random_masks(100, *ratios)


def test_labels_per_class_takes_n_training_nodes_of_each_class():
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2])
    train = torch.tensor([True] * 9 + [False] * 3)
    mask = nb04.labels_per_class(y, train, 2, seed=0)
    assert not (mask & ~train).any(), "only training nodes"
    assert torch.bincount(y[mask], minlength=3).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="class"):
        nb04.labels_per_class(y, train, 4)
    with pytest.raises(ValueError):
        nb04.labels_per_class(y, train, 0)


@needs_cora
def test_random_split_is_easier_than_the_public_split(cora):
    random_acc, public_acc = nb04.gcn_on_random_split(cora, seed=0)
    assert random_acc > public_acc + 0.015
    # the numbers the solution's docstring states
    assert (random_acc, public_acc) == pytest.approx((0.849, 0.812), abs=0.0015)


@needs_cora
def test_sgc_propagation_adds_the_graph(cora):
    by_k = nb04.sgc_accuracy_by_k(cora, ks=(0, 2, 32))
    assert set(by_k) == {0, 2, 32}
    assert by_k[2][1] > by_k[0][1] + 0.15  # test accuracy: words alone vs two hops
    assert by_k[32][1] < by_k[2][1] - 0.03  # over-smoothing
    # the numbers the solution's docstring states
    assert [by_k[k][1] for k in (0, 2, 32)] == pytest.approx([0.552, 0.810, 0.759], abs=0.0015)


@needs_cora
def test_gcn_loses_less_than_mlp_with_few_labels(cora):
    few = nb04.few_label_accuracy(cora, n=5)
    assert few["gcn"] > few["mlp"] + 0.15
    # the numbers the solution's docstring states
    assert (few["gcn"], few["mlp"]) == pytest.approx((0.668, 0.377), abs=0.0015)


# Your turn 1: masks ------------------------------------------------------------------------------

def _stub(*args):
    raise NotImplementedError


def test_check_masks_passes_the_solution_and_hints_at_a_stub():
    assert nb04.check_masks(nb04.masks_from_indices) == "pass"
    assert nb04.check_masks(_stub) == (
        "not yet: replace the line `raise NotImplementedError` with your code")


def test_check_masks_names_the_articles_mistake():
    def index_lists(num_nodes, train_idx, val_idx, test_idx):   # no per-node flags at all
        return (torch.as_tensor(train_idx), torch.as_tensor(val_idx), torch.as_tensor(test_idx))

    hint = nb04.check_masks(index_lists)
    assert hint.startswith("not yet:") and "one entry per node" in hint


@pytest.mark.parametrize("wrong, words", [
    (lambda n, a, b, c: (torch.zeros(n), torch.zeros(n), torch.zeros(n)), "booleans"),
    (lambda n, a, b, c: nb04.masks_from_indices(n, a, b, c)[:2], "three masks"),
    (lambda n, a, b, c: nb04.masks_from_indices(n, b, a, c), "the train mask"),
])
def test_check_masks_hints_at_wrong_answers(wrong, words):
    hint = nb04.check_masks(wrong)
    assert hint.startswith("not yet:") and words in hint


def test_check_masks_wants_overlaps_refused():
    def no_check(n, a, b, c):
        masks = []
        for idx in (a, b, c):
            mask = torch.zeros(n, dtype=torch.bool)
            mask[idx] = True
            masks.append(mask)
        return tuple(masks)

    assert nb04.check_masks(no_check) == (
        "not yet: node 1 is in the training and the validation part: raise a ValueError")


def test_masks_from_indices_rebuilds_the_public_split_and_refuses_overlaps():
    y_idx = [torch.tensor([0, 2]), torch.tensor([1]), torch.tensor([3, 4])]
    train, val, test = nb04.masks_from_indices(6, *y_idx)
    assert train.tolist() == [True, False, True, False, False, False]
    assert test.tolist() == [False, False, False, True, True, False]
    with pytest.raises(ValueError, match="two parts"):
        nb04.masks_from_indices(4, [0, 1], [1], [2])


# Your turn 2: propagation -----------------------------------------------------------------------

def test_check_propagate_passes_the_solution_and_hints_at_a_stub():
    assert nb04.check_propagate(nb04.gcn_propagate) == "pass"
    assert nb04.check_propagate(_stub).startswith("not yet: replace")


def _dense_adjacency(x, edge_index):
    a = torch.zeros(x.size(0), x.size(0))
    a[edge_index[1], edge_index[0]] = 1.0
    return a


@pytest.mark.parametrize("wrong, words", [
    (lambda x, ei: _dense_adjacency(x, ei) @ x, "normalise"),
    (lambda x, ei: (_dense_adjacency(x, ei) + torch.eye(x.size(0))) @ x, "normalise"),
    (lambda x, ei: ((a := _dense_adjacency(x, ei) + torch.eye(x.size(0))) / a.sum(1, keepdim=True))
     @ x, "symmetric"),
    (lambda x, ei: x[:, :1], "one row per node"),
    (lambda x, ei: 2 * x, "row i should be"),
])
def test_check_propagate_hints_at_wrong_answers(wrong, words):
    hint = nb04.check_propagate(wrong)
    assert hint.startswith("not yet:") and words in hint


def test_check_propagate_spots_missing_self_loops():
    def no_loops(x, ei):
        a = _dense_adjacency(x, ei)
        d = a.sum(1).clamp(min=1.0)
        return a / torch.sqrt(d[:, None] * d[None, :]) @ x

    assert "self-loops" in nb04.check_propagate(no_loops)


def test_gcn_propagate_matches_gcnconv_normalisation_on_a_random_graph():
    from gnnedu.nodeclf import sgc_features

    g = torch.Generator().manual_seed(0)
    upper = torch.triu(torch.rand(12, 12, generator=g) < 0.3, diagonal=1)
    edge_index = (upper | upper.T).nonzero().T
    x = torch.rand(12, 4, generator=g)
    assert torch.allclose(nb04.gcn_propagate(x, edge_index), sgc_features(x, edge_index, 1),
                          atol=1e-6)


# Your turn 3: paired t ---------------------------------------------------------------------------

def test_check_paired_t_passes_the_solution_and_hints_at_a_stub():
    assert nb04.check_paired_t(nb04.paired_t) == "pass"
    assert nb04.check_paired_t(_stub).startswith("not yet: replace")


def _t(d, ddof=1, root=True):
    d = np.asarray(d, dtype=float)
    return d.mean() / (d.std(ddof=ddof) / (np.sqrt(len(d)) if root else 1.0))


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b: _t(np.subtract(b, a)), "order a - b"),
    (lambda a, b: _t(np.subtract(a, b), ddof=0), "n - 1"),
    (lambda a, b: _t(np.subtract(a, b), root=False), "sqrt(n)"),
    (lambda a, b: stats.ttest_ind(a, b).statistic, "pair the runs"),
    (lambda a, b: "t", "one number"),
    (lambda a, b: 0.0, "expected t ="),
])
def test_check_paired_t_hints_at_wrong_answers(wrong, words):
    hint = nb04.check_paired_t(wrong)
    assert hint.startswith("not yet:") and words in hint


def test_paired_t_matches_scipy_and_refuses_one_pair():
    a, b = [0.3, 0.5, 0.4, 0.9], [0.1, 0.4, 0.4, 0.5]
    assert nb04.paired_t(a, b) == pytest.approx(stats.ttest_rel(a, b).statistic)
    with pytest.raises(ValueError):
        nb04.paired_t([1.0], [0.0])


# Check your understanding: the numbers the answers state -----------------------------------------

def test_understanding_answers_state_true_numbers():
    assert set(nb04.UNDERSTANDING) == {1, 2, 3, 4, 5}
    # 1: ln 10 and ln 7
    assert f"{math.log(10):.4f}" in nb04.UNDERSTANDING[1]
    assert f"{math.log(7):.4f}" in nb04.UNDERSTANDING[1]
    # 2: no k/542 prints as 0.6250; the two neighbours; 5/8
    assert all(round(k / 542, 4) != 0.625 for k in range(543))
    for k in (338, 339):
        assert f"{k / 542:.4f}" in nb04.UNDERSTANDING[2]
    # 3: the smallest two-sided Wilcoxon p with 5 and 10 pairs, all differences positive
    assert stats.wilcoxon(np.arange(1, 6)).pvalue == pytest.approx(0.0625)
    assert stats.wilcoxon(np.arange(1, 11)).pvalue == pytest.approx(2 * 2 ** -10)
    assert "0.0625" in nb04.UNDERSTANDING[3] and "0.002" in nb04.UNDERSTANDING[3]


@needs_cora
def test_understanding_answer_5_self_loops_change_nothing(cora):
    from torch_geometric.nn import GCNConv
    from torch_geometric.utils import add_self_loops

    torch.manual_seed(0)
    conv = GCNConv(cora.num_features, 4)
    looped, _ = add_self_loops(cora.edge_index, num_nodes=cora.num_nodes)
    assert torch.equal(conv(cora.x, cora.edge_index), conv(cora.x, looped))


def test_parameter_counts_match_the_models():
    from gnnedu.nodeclf import GAT, GCN

    def count(model):
        return sum(p.numel() for p in model.parameters())

    assert nb04.gcn_parameter_count() == count(GCN(1433, 7)) == 23063
    gat = nb04.gat_parameter_count()
    assert gat["total"] == count(GAT(1433, 7)) == 92373
    assert gat["attention"] == sum(p.numel() for n, p in GAT(1433, 7).named_parameters()
                                   if "att_" in n) == 142
    assert gat["weights"] / gat["total"] > 0.99
    # other sizes too: the formulas are not tuned to Cora
    assert nb04.gat_parameter_count(20, 4, 3, 5)["total"] == count(GAT(20, 5, hidden=4, heads=3))
    assert nb04.gcn_parameter_count(20, 6, 5) == count(GCN(20, 5, hidden=6))
