"""Solutions to the exercises of notebook 04 (GCN on Cora: the article's program made correct).

Every function takes ``data``, a PyG ``Data`` whose ``x`` is already row-normalised (as in the
notebook: ``normalize_features``), and trains with the settings of Kipf and Welling (2017)
through :func:`gnnedu.nodeclf.fit`.
"""

from __future__ import annotations

import torch

from gnnedu.nodeclf import fit


def random_masks(num_nodes: int, train_ratio: float = 0.8, val_ratio: float = 0.1,
                 seed: int = 0):
    """Exercise 1: the split the article was after, built correctly.

    A random permutation of the nodes is cut into training, validation and test parts; each
    part becomes a boolean mask with one entry per node. The masks are disjoint and cover every
    node; the test part gets what is left after rounding the other two.
    """
    if num_nodes < 3:
        raise ValueError("need at least three nodes for three parts")
    if not (0 < train_ratio and 0 < val_ratio and train_ratio + val_ratio < 1):
        raise ValueError("ratios must be positive and leave room for a test part")
    n_train = round(train_ratio * num_nodes)
    n_val = round(val_ratio * num_nodes)
    if n_train < 1 or n_val < 1 or n_train + n_val >= num_nodes:
        raise ValueError("every part needs at least one node")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(num_nodes, generator=generator)
    masks = []
    for part in (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]):
        mask = torch.zeros(num_nodes, dtype=torch.bool)
        mask[part] = True
        masks.append(mask)
    return tuple(masks)


def gcn_on_random_split(data, train_ratio: float = 0.8, val_ratio: float = 0.1, seed: int = 0,
                        **options):
    """Exercise 1: GCN test accuracy on a random split instead of the public one.

    Returns ``(random_split_accuracy, public_split_accuracy)`` for the same seed. With 80% of
    the nodes labelled the task is much easier than with Planetoid's 140 labels, so the two
    numbers answer different questions and must not be compared with each other. ``options``
    go to :func:`gnnedu.nodeclf.fit` (e.g. ``epochs``).
    """
    train, val, test = random_masks(data.num_nodes, train_ratio, val_ratio, seed)
    resplit = data.clone()
    resplit.train_mask, resplit.val_mask, resplit.test_mask = train, val, test
    _, random_history = fit("gcn", resplit, seed=seed, **options)
    _, public_history = fit("gcn", data, seed=seed, **options)
    return random_history.test_acc, public_history.test_acc


def sgc_accuracy_by_k(data, ks=(0, 1, 2, 3, 5, 8), weight_decay: float = 1e-5, seed: int = 0):
    """Exercise 2: SGC with ``K`` propagation steps, for each ``K`` in ``ks``.

    Returns ``{K: (validation accuracy, test accuracy)}``. ``K = 0`` is logistic regression on
    the words alone; a few steps mix in the neighbours' words; many steps make the features of
    connected nodes nearly equal (over-smoothing) and accuracy falls again.
    """
    out = {}
    for k in ks:
        _, history = fit("sgc", data, seed=seed, k=k, weight_decay=weight_decay)
        out[k] = (history.val_acc[-1], history.test_acc)
    return out


def labels_per_class(y: torch.Tensor, train_mask: torch.Tensor, n: int, seed: int = 0):
    """Exercise 3: a training mask with ``n`` random labelled nodes of each class.

    The nodes are drawn from ``train_mask`` only, so the validation and test nodes stay
    untouched. A class with fewer than ``n`` training nodes is an error.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    generator = torch.Generator().manual_seed(seed)
    mask = torch.zeros_like(train_mask)
    for c in torch.unique(y[train_mask]).tolist():
        nodes = torch.nonzero(train_mask & (y == c)).flatten()
        if len(nodes) < n:
            raise ValueError(f"class {c} has only {len(nodes)} training nodes, asked for {n}")
        mask[nodes[torch.randperm(len(nodes), generator=generator)[:n]]] = True
    return mask


def few_label_accuracy(data, n: int, seed: int = 0, models=("gcn", "mlp"), **options):
    """Exercise 3: test accuracy of each model trained on ``n`` labels per class.

    Returns ``{model name: test accuracy}``. The graph lets a GCN spread the few labels to
    their neighbours, so it loses much less than the MLP when labels get scarce. ``options`` go
    to :func:`gnnedu.nodeclf.fit`.
    """
    fewer = data.clone()
    fewer.train_mask = labels_per_class(data.y, data.train_mask, n, seed)
    return {name: fit(name, fewer, seed=seed, **options)[1].test_acc for name in models}
