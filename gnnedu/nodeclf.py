"""Node classification on Cora: GCN, an MLP and SGC-style features (taught in notebook 04).

``notebooks/04_gcn_on_cora.ipynb`` repairs the source article's program and compares three
models on the public Planetoid split (140 training labels, 500 validation, 1000 test nodes):

- :class:`GCN`: the two-layer graph convolutional network of Kipf and Welling (ICLR 2017),
  ``softmax(S ReLU(S X W1) W2)`` with ``S = D~^-1/2 (A + I) D~^-1/2`` (PyG's ``GCNConv``);
- :class:`MLP`: the same two layers without ``S``: it never sees the graph;
- :class:`LinearClassifier` on :func:`sgc_features` ``S^K X``: Simplified Graph
  Convolution (SGC; Wu et al., ICML 2019), which moves all propagation into preprocessing.
- :class:`GAT`: the two-layer graph attention network of Velickovic et al. (ICLR 2018), 8 heads
  of 8 features, then one output head (PyG's ``GATConv``). Its ten seeds are precomputed by
  ``python -m gnnedu.nodeclf`` into ``gnnedu/results/cora/gat.json`` (about three minutes on
  one thread of a quiet machine) and read with :func:`load_gat_results`.

API summary
-----------
- ``normalize_features(x)``: rows scaled to sum to one (Kipf and Welling's preprocessing).
- ``sgc_features(x, edge_index, k)``: ``S^k x`` with GCNConv's normalisation.
- ``GCN(in_dim, num_classes, hidden=16, dropout=0.5)``, ``MLP(...)``,
  ``LinearClassifier(in_dim, num_classes)``: ``model(x, edge_index)`` returns class scores
  (logits); ``model.hidden(x, edge_index)`` the hidden layer; ``model.param_groups(wd)`` puts
  weight decay on the first layer only, as Kipf and Welling did.
- ``train_node_classifier(model, data, epochs=200, lr=0.01, weight_decay=5e-4, seed=0)``
  -> :class:`ClassifierHistory`: full-batch Adam on the cross-entropy of the training nodes, with
  loss and accuracy of the training and validation nodes after every epoch and the test
  accuracy of the final model.
- ``CORA_CLASSES``: the names of Cora's seven topics in the order of PyG's label indices
  (``CORA_CLASSES[data.y[i]]`` is the topic of paper ``i``); ``CORA_CLASS_SIZES``: how many
  papers each topic has.
- ``precompute_gat(data, seeds, path)`` / ``load_gat_results(path=None)``: the GAT runs of
  notebook 04 (test and validation accuracy, kept epoch, seconds per epoch) and the time per
  epoch of every model; ``main()`` is the command line.
- ``fit(name, data, seed=0, **options)`` -> ``(model, ClassifierHistory)``: builds a model of
  ``CLASSIFIERS`` ("gcn", "mlp", "sgc" or "gat")
  from a seed and trains it; ``accuracy(logits, y, mask)``. Pictures of the hidden layer use
  ``gnnedu.plot.pca_2d``.

Determinism: :func:`fit` seeds the initial weights and the dropout masks inside
``torch.random.fork_rng``, so a run depends on its seed only (not on what ran before) and leaves
the caller's random state alone. With ``torch.use_deterministic_algorithms(True)`` and one thread
(``gnnedu.setup_notebook``) two runs give bit-identical accuracies on the same machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv, GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

# Kipf and Welling (2017), section 5.3: the settings used for Cora.
HIDDEN = 16
DROPOUT = 0.5
LR = 0.01
WEIGHT_DECAY = 5e-4
EPOCHS = 200
# Wu et al. (2019): K = 2 propagation steps, then logistic regression trained with lr 0.2 for
# 100 epochs (they tune the weight decay on the validation nodes).
SGC_K = 2
SGC_LR = 0.2
SGC_EPOCHS = 100
# Velickovic et al. (2018), section 3.3, transductive setting (Cora): 8 heads of 8 features
# (ELU, concatenated), one output head, dropout 0.6 on both layers' inputs and on the attention
# coefficients, L2 5e-4, Adam with lr 0.005; they train until the validation loss and accuracy
# stop improving for 100 epochs. Here a fixed budget of GAT_EPOCHS with the epoch of the best
# validation accuracy kept (keep_best=True) stands in for that early stopping: over seeds 0-2
# the best validation epoch fell between 74 and 308 of 500, so 500 leaves room.
GAT_HEADS = 8
GAT_HIDDEN = 8
GAT_DROPOUT = 0.6
GAT_LR = 0.005
GAT_WEIGHT_DECAY = 5e-4
GAT_EPOCHS = 500

# Cora's topics in the order of PyG's label indices 0..6. The Planetoid files store labels as
# one-hot columns without names; the LINQS release of Cora (Sen et al. 2008), which names them,
# has seven topics of seven *different* sizes (818 Neural_Networks, 426 Probabilistic_Methods,
# 418 Genetic_Algorithms, 351 Theory, 298 Case_Based, 217 Reinforcement_Learning,
# 180 Rule_Learning papers), and Planetoid's label counts are the same seven numbers in another
# order, so the sizes fix the names: label c has CORA_CLASS_SIZES[c] papers (tested).
CORA_CLASSES = ("Theory", "Reinforcement_Learning", "Genetic_Algorithms", "Neural_Networks",
                "Probabilistic_Methods", "Case_Based", "Rule_Learning")
CORA_CLASS_SIZES = (351, 217, 418, 818, 426, 298, 180)


def normalize_features(x: torch.Tensor) -> torch.Tensor:
    """Divide each row by its sum (rows of zeros stay zero); returns a new tensor."""
    if x.dim() != 2:
        raise ValueError(f"x must be a 2-D [num_nodes, num_features] tensor, got {tuple(x.shape)}")
    total = x.sum(dim=1, keepdim=True)
    return x / total.clamp(min=torch.finfo(x.dtype).tiny)


def sparse_features(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a coalesced sparse COO tensor (returned unchanged if it already is one).

    Cora's bag-of-words features are 98.7% zeros. Stored sparse, the first layer multiplies
    only the non-zeros (about ten times faster here) and dropout draws only for them.
    """
    if x.is_sparse:
        return x.coalesce()
    return x.to_sparse().coalesce()


def feature_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout that also works on a sparse COO ``x``: it drops stored entries only.

    Dropping a zero changes nothing, so this has the same distribution as ``F.dropout`` on
    the dense matrix; Kipf and Welling's code drops the entries of its sparse features the
    same way.
    """
    if not x.is_sparse:
        return F.dropout(x, p, training)
    if not training or p == 0.0:
        return x
    values = F.dropout(x.values(), p, training)
    return torch.sparse_coo_tensor(x.indices(), values, x.shape, is_coalesced=True,
                                   check_invariants=False)


def sgc_features(x: torch.Tensor, edge_index: torch.Tensor, k: int = SGC_K) -> torch.Tensor:
    """``S^k x`` with ``S = D~^-1/2 (A + I) D~^-1/2``, the normalisation ``GCNConv`` uses.

    ``S`` is built from PyG's ``gcn_norm`` (self-loops added, entry ``S[i, j]`` for the edge
    ``j -> i``) as a sparse matrix, then applied ``k`` times. ``k = 0`` returns a copy of ``x``.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    num_nodes = x.size(0)
    if edge_index.numel() and int(edge_index.max()) >= num_nodes:
        raise ValueError("edge_index names a node >= x.size(0)")
    index, weight = gcn_norm(edge_index, None, num_nodes, add_self_loops=True, dtype=x.dtype)
    source, target = index
    s = torch.sparse_coo_tensor(torch.stack([target, source]), weight, (num_nodes, num_nodes),
                                check_invariants=True).coalesce()
    out = x.clone()
    for _ in range(k):
        out = torch.sparse.mm(s, out)
    return out


class GCN(nn.Module):
    """Two GCN layers: dropout, ``GCNConv``, ReLU, dropout, ``GCNConv`` (Kipf and Welling 2017).

    ``GCNConv`` adds the self-loops and the symmetric normalisation itself. It recomputes them at
    every call (``cached=False``, PyG's default): caching would save little on Cora and would
    silently keep using the first graph if the model were later called on another one.
    """

    def __init__(self, in_dim: int, num_classes: int, hidden: int = HIDDEN,
                 dropout: float = DROPOUT):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GCNConv(in_dim, hidden)
        self.conv2 = GCNConv(hidden, num_classes)

    def hidden(self, x, edge_index):
        x = feature_dropout(x, self.dropout, self.training)
        return F.relu(self.conv1(x, edge_index))

    def forward(self, x, edge_index):
        h = F.dropout(self.hidden(x, edge_index), self.dropout, self.training)
        return self.conv2(h, edge_index)

    def param_groups(self, weight_decay: float):
        return [
            {"params": self.conv1.parameters(), "weight_decay": weight_decay},
            {"params": self.conv2.parameters(), "weight_decay": 0.0},
        ]


class MLP(nn.Module):
    """The GCN's twin without the graph: ``Linear``, ReLU, ``Linear`` with the same dropout."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int = HIDDEN,
                 dropout: float = DROPOUT):
        super().__init__()
        self.dropout = dropout
        self.lin1 = nn.Linear(in_dim, hidden)
        self.lin2 = nn.Linear(hidden, num_classes)

    def hidden(self, x, edge_index=None):
        x = feature_dropout(x, self.dropout, self.training)
        return F.relu(self.lin1(x))

    def forward(self, x, edge_index=None):
        h = F.dropout(self.hidden(x), self.dropout, self.training)
        return self.lin2(h)

    def param_groups(self, weight_decay: float):
        return [
            {"params": self.lin1.parameters(), "weight_decay": weight_decay},
            {"params": self.lin2.parameters(), "weight_decay": 0.0},
        ]


class GAT(nn.Module):
    """Two graph-attention layers (Velickovic et al. 2018): dropout, ``GATConv`` with ``heads``
    heads of ``hidden`` features concatenated, ELU, dropout, ``GATConv`` with one head.

    ``GATConv`` adds the self-loops itself and drops attention coefficients with probability
    ``dropout`` while training, as the paper does. Weight decay applies to every parameter
    (the paper's L2 regularisation covers the whole model).
    """

    def __init__(self, in_dim: int, num_classes: int, hidden: int = GAT_HIDDEN,
                 heads: int = GAT_HEADS, dropout: float = GAT_DROPOUT):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(in_dim, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=1, dropout=dropout)

    def hidden(self, x, edge_index):
        x = feature_dropout(x, self.dropout, self.training)
        return F.elu(self.conv1(x, edge_index))

    def forward(self, x, edge_index):
        h = F.dropout(self.hidden(x, edge_index), self.dropout, self.training)
        return self.conv2(h, edge_index)

    def param_groups(self, weight_decay: float):
        return [{"params": self.parameters(), "weight_decay": weight_decay}]


class LinearClassifier(nn.Module):
    """Multinomial logistic regression; on ``sgc_features(x, edge_index, K)`` it is SGC."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, num_classes)

    def hidden(self, x, edge_index=None):
        return x

    def forward(self, x, edge_index=None):
        return self.lin(x)

    def param_groups(self, weight_decay: float):
        return [{"params": self.lin.parameters(), "weight_decay": weight_decay}]


def accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of the nodes in boolean ``mask`` whose highest-scoring class is ``y``."""
    if mask.dtype != torch.bool or mask.shape != y.shape:
        raise ValueError("mask must be a boolean tensor with one entry per node")
    count = int(mask.sum())
    if count == 0:
        raise ValueError("mask selects no node")
    return int((logits[mask].argmax(dim=1) == y[mask]).sum()) / count


@dataclass
class ClassifierHistory:
    """What :func:`train_node_classifier` saw, one entry per epoch (epochs count from 1)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_acc: float | None = None  # of the final model, read once at the end

    @property
    def best_val_epoch(self) -> int:
        """The first epoch with the highest validation accuracy."""
        best = max(range(len(self.val_acc)), key=lambda i: (self.val_acc[i], -i))
        return self.epoch[best]


def _check_masks(data) -> None:
    n = data.num_nodes
    for name in ("train_mask", "val_mask", "test_mask"):
        mask = getattr(data, name, None)
        if mask is None or mask.dtype != torch.bool or mask.shape != (n,):
            raise ValueError(f"data.{name} must be a boolean tensor of length {n}")
    overlap = data.train_mask & (data.val_mask | data.test_mask) | data.val_mask & data.test_mask
    if bool(overlap.any()):
        raise ValueError("train, validation and test masks must be disjoint")


def train_node_classifier(model: nn.Module, data, epochs: int = EPOCHS, lr: float = LR,
                          weight_decay: float = WEIGHT_DECAY, keep_best: bool = False
                          ) -> ClassifierHistory:
    """Full-batch Adam on the cross-entropy of the training nodes of ``data`` (a PyG ``Data``).

    After every step the model is evaluated (dropout off) on the training and validation
    nodes. The test nodes are read once, after the last epoch; with ``keep_best=True`` the
    parameters of :attr:`ClassifierHistory.best_val_epoch` are restored first (model selection
    on the validation nodes only).
    """
    _check_masks(data)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    x, edge_index, y = data.x, data.edge_index, data.y
    optimizer = torch.optim.Adam(model.param_groups(weight_decay), lr=lr)
    history = ClassifierHistory()
    best_state, best_acc = None, -1.0
    for epoch in range(1, epochs + 1):
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, edge_index)[data.train_mask], y[data.train_mask])
        loss.backward()
        optimizer.step()

        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index)
        history.epoch.append(epoch)
        history.train_loss.append(
            float(F.cross_entropy(logits[data.train_mask], y[data.train_mask])))
        history.val_loss.append(float(F.cross_entropy(logits[data.val_mask], y[data.val_mask])))
        history.train_acc.append(accuracy(logits, y, data.train_mask))
        history.val_acc.append(accuracy(logits, y, data.val_mask))
        if keep_best and history.val_acc[-1] > best_acc:
            best_acc, best_state = history.val_acc[-1], copy.deepcopy(model.state_dict())
    if keep_best:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        history.test_acc = accuracy(model(x, edge_index), y, data.test_mask)
    return history


CLASSIFIERS = ("gcn", "mlp", "sgc", "gat")


def fit(name: str, data, seed: int = 0, hidden: int | None = None,
        dropout: float | None = None, k: int = SGC_K, heads: int = GAT_HEADS, **options):
    """Build model ``name`` (one of ``CLASSIFIERS``) from ``seed`` and train it on ``data``.

    ``data.x`` is used as given (normalise it first with :func:`normalize_features`); "gcn",
    "mlp" and "gat" train on :func:`sparse_features` of it (same numbers up to rounding,
    faster). "sgc" trains a :class:`LinearClassifier` on ``sgc_features(data.x,
    data.edge_index, k)`` with SGC's learning rate and epochs unless ``options`` override them.
    "gat" is :class:`GAT` (``heads`` x ``hidden`` features) with the paper's learning rate,
    weight decay and dropout, ``GAT_EPOCHS`` epochs and the best validation epoch kept, unless
    ``options`` override them. ``hidden`` and ``dropout`` default to each model's own
    (``HIDDEN``/``DROPOUT``, ``GAT_HIDDEN``/``GAT_DROPOUT``). ``data`` itself is not changed.
    Returns ``(model, history)``; the model is in eval mode and expects ``sparse_features(x)``
    ("gcn", "mlp", "gat") or ``sgc_features(x, edge_index, k)`` ("sgc").
    """
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown model {name!r}; choose one of {CLASSIFIERS}")
    num_classes = int(data.y.max()) + 1
    data = data.clone()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "sgc":
            data.x = sgc_features(data.x.to_dense() if data.x.is_sparse else data.x,
                                  data.edge_index, k)
            options = {"lr": SGC_LR, "epochs": SGC_EPOCHS, **options}
            model = LinearClassifier(data.num_features, num_classes)
        elif name == "gat":
            data.x = sparse_features(data.x)
            options = {"lr": GAT_LR, "weight_decay": GAT_WEIGHT_DECAY, "epochs": GAT_EPOCHS,
                       "keep_best": True, **options}
            model = GAT(data.num_features, num_classes,
                        hidden=GAT_HIDDEN if hidden is None else hidden, heads=heads,
                        dropout=GAT_DROPOUT if dropout is None else dropout)
        else:
            data.x = sparse_features(data.x)
            cls = GCN if name == "gcn" else MLP
            model = cls(data.num_features, num_classes,
                        hidden=HIDDEN if hidden is None else hidden,
                        dropout=DROPOUT if dropout is None else dropout)
        history = train_node_classifier(model, data, **options)
    return model, history


# ---------------------------------------------------------------------------------------------
# Precomputed GAT runs for notebook 04 (too slow to train ten times inside the notebook)
# ---------------------------------------------------------------------------------------------

CORA_RESULTS = Path(__file__).resolve().parent / "results" / "cora" / "gat.json"
PRECOMPUTE_SEEDS = tuple(range(10))  # the seeds of notebook 04 (its SEEDS)
# how each model is trained in notebook 04, for the time per epoch: fit(name, ...) options
TIMED = {"gcn": {}, "mlp": {}, "sgc": {"weight_decay": 1e-5}, "gat": {}}


def _epoch_seconds(name: str, data, seed: int = 0, **options) -> tuple[float, ClassifierHistory]:
    start = time.perf_counter()
    _, history = fit(name, data, seed=seed, **options)
    return (time.perf_counter() - start) / len(history.epoch), history


def precompute_gat(data, seeds=PRECOMPUTE_SEEDS, path=CORA_RESULTS) -> dict:
    """Train the GAT of :func:`fit` on ``data`` (Cora, features normalised) for every seed and
    time one run of each model of ``TIMED``; write and return the JSON ``path`` holds.

    Per seed: ``test_acc`` (of the kept epoch), ``val_acc`` (its validation accuracy),
    ``best_epoch`` and ``seconds_per_epoch`` (a training step plus the evaluation of every
    epoch, one thread). Nothing is chosen on the test nodes.
    """
    from gnnedu.experiment import machine_info, save_json

    runs = []
    for seed in seeds:
        seconds, history = _epoch_seconds("gat", data, seed)
        runs.append({"model": "gat", "seed": int(seed), "test_acc": history.test_acc,
                     "val_acc": max(history.val_acc), "best_epoch": history.best_val_epoch,
                     "epochs": len(history.epoch), "seconds_per_epoch": seconds})
        print(f"gat seed {seed}: test {history.test_acc:.3f}, best validation epoch "
              f"{history.best_val_epoch}, {seconds * 1000:.1f} ms/epoch", flush=True)
    epoch_seconds = {name: _epoch_seconds(name, data, 0, **options)[0]
                     for name, options in TIMED.items()}
    results = {
        "command": "python -m gnnedu.nodeclf",
        "settings": {"heads": GAT_HEADS, "hidden": GAT_HIDDEN, "dropout": GAT_DROPOUT,
                     "lr": GAT_LR, "weight_decay": GAT_WEIGHT_DECAY, "epochs": GAT_EPOCHS,
                     "keep_best": "validation accuracy"},
        "machine": machine_info(),
        "runs": runs,
        "seconds_per_epoch": epoch_seconds,
    }
    save_json(results, path)
    return results


def load_gat_results(path=None) -> dict:
    """Read the precomputed GAT runs (default: the committed ``results/cora/gat.json``)."""
    with open(CORA_RESULTS if path is None else path) as f:
        return json.load(f)


def main(argv=None) -> int:
    """``python -m gnnedu.nodeclf``: regenerate ``gnnedu/results/cora/gat.json`` (about three
    minutes on one thread)."""
    parser = argparse.ArgumentParser(prog="python -m gnnedu.nodeclf", description=main.__doc__)
    parser.add_argument("--out", default=str(CORA_RESULTS), help="JSON file (%(default)s)")
    parser.add_argument("--seeds", type=int, default=len(PRECOMPUTE_SEEDS),
                        help="seeds 0..N-1 (%(default)s)")
    parser.add_argument("--data", default=None, help="folder holding Cora/raw/")
    args = parser.parse_args(argv)
    from gnnedu.data import load_cora
    from gnnedu.notebook import setup_notebook

    setup_notebook(seed=0)  # one thread, deterministic algorithms, as in the notebook
    data = load_cora(args.data, progress=False)[0]
    data.x = normalize_features(data.x)
    precompute_gat(data, range(args.seeds), Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
