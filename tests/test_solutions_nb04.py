"""Exercise solutions of notebook 04: masks checked on small inputs, the claims on Cora."""

import pytest
import torch
from datafind import needs_cora

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


@needs_cora
def test_sgc_propagation_adds_the_graph(cora):
    by_k = nb04.sgc_accuracy_by_k(cora, ks=(0, 2))
    assert set(by_k) == {0, 2}
    assert by_k[2][1] > by_k[0][1] + 0.15  # test accuracy: words alone vs two hops


@needs_cora
def test_gcn_loses_less_than_mlp_with_few_labels(cora):
    few = nb04.few_label_accuracy(cora, n=5, epochs=100)
    assert few["gcn"] > few["mlp"] + 0.15
