"""BPR training with uniform negative sampling (taught in notebook 06; used by notebook 07).

API summary
-----------
- ``TrainConfig(epochs, batch_size, lr, reg, num_neg, weight_decay, eval_every, patience,
  metric, ks, seed, progress, verbose)``: every training knob in one dataclass.
- ``train_bpr(model, graph, val=None, config=None, **overrides) -> History``: Adam on the BPR
  loss; with ``val`` (held-out interactions carved from train, never the test set) it evaluates
  every ``eval_every`` epochs, stops after ``patience`` evaluations without improvement of
  ``metric`` and restores the best parameters. Models call it from ``model.fit``.
- ``History``: ``epochs``, ``loss`` (mean BPR loss per epoch), ``epoch_seconds``, ``val`` (list
  of metric dicts, with the epoch), ``best_epoch``, ``best_score``, ``seconds``;
  ``to_frame()`` -> DataFrame.
- ``sample_negatives(users, num_items, num_neg, known, generator) -> LongTensor [B, num_neg]``:
  uniform items, resampled (vectorised) while they hit a training item of the user;
  ``known_pairs(graph)`` gives ``known``.
- ``bpr_loss(pos_scores, neg_scores) -> Tensor``: mean of -log sigmoid(s_pos - s_neg).
- ``carve_validation(train, ratio=0.1, seed=0) -> (fit_df, val_df)``: a per-user random slice of
  the training DataFrame for early stopping and hyper-parameter choice.
- ``false_negative_rate(train, test, num_items, num_samples, seed)``: how often a negative drawn
  as in training is in fact one of that user's held-out positives (notebook 05).

The model side of the contract (``gnnedu.models.EmbeddingRecommender``):
``model.attach(graph)``, ``model.reset_parameters(generator)``, ``model.param_groups(wd)``,
``model.bpr_scores(graph, users, pos, neg) -> (pos_scores [B], neg_scores [B, n], l2)`` where
``l2`` is the batch mean of the squared norms of the layer-0 embeddings (user + positive + mean
over negatives), and ``model.score(users)``. The objective is ``bpr_loss + reg / 2 * l2``.

Determinism: parameters are initialised and batches, negatives and dropout masks drawn from
generators seeded by ``config.seed``; the global torch RNG is saved and restored around
training. With ``torch.use_deterministic_algorithms(True)`` (``setup_notebook`` turns it on)
two runs with the same seed give bit-identical parameters and metrics.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F

from gnnedu.graph import BipartiteGraph, as_index_pairs
from gnnedu.metrics import check_metric, evaluate

__all__ = [
    "TrainConfig", "History", "train_bpr", "sample_negatives", "known_pairs", "bpr_loss",
    "carve_validation", "false_negative_rate",
]


@dataclass
class TrainConfig:
    """Training settings. Each model class carries its own defaults (``model.train_defaults``),
    chosen on a validation slice of the training data (see ``gnnedu.models``)."""

    epochs: int = 100            # maximum number of passes over the training interactions
    batch_size: int = 2048       # positive interactions per step
    lr: float = 1e-2             # Adam learning rate
    reg: float = 1e-3            # L2 weight on the batch's layer-0 embeddings
    num_neg: int = 1             # uniform negatives per positive
    weight_decay: float = 0.0    # Adam weight decay on the other weights (GCN transforms)
    eval_every: int = 5          # epochs between validation evaluations (needs ``val``)
    patience: int = 5            # evaluations without improvement before stopping
    metric: str = "recall@20"    # validation metric to maximise
    ks: tuple = (20,)            # cut-offs evaluated on validation
    seed: int = 0
    progress: bool = False       # tqdm progress bar over epochs
    verbose: bool = False        # print one line per evaluation


@dataclass
class History:
    """What happened during training."""

    epochs: list = field(default_factory=list)    # epoch number (1-based) of each loss entry
    loss: list = field(default_factory=list)      # mean BPR loss (without L2) per epoch
    epoch_seconds: list = field(default_factory=list)  # wall time of each epoch's updates
    val: list = field(default_factory=list)       # dicts: {"epoch": e, "recall@20": ..., ...}
    best_epoch: int | None = None
    best_score: float | None = None
    seconds: float = 0.0                          # wall time of training (evaluation included)
    config: dict = field(default_factory=dict)

    def to_frame(self):
        """One row per epoch: ``epoch``, ``loss`` and the validation metrics where evaluated."""
        import pandas as pd

        frame = pd.DataFrame({"epoch": self.epochs, "loss": self.loss})
        if self.val:
            frame = frame.merge(pd.DataFrame(self.val), on="epoch", how="left")
        return frame


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking loss: mean of -log sigmoid(s_ui - s_uj) over all pairs.

    ``pos_scores``: ``[B]``; ``neg_scores``: ``[B]`` or ``[B, n]`` (n negatives per positive).
    softplus(-x) = -log sigmoid(x), computed stably.
    """
    if neg_scores.dim() == 2:
        pos_scores = pos_scores.unsqueeze(1)
    return F.softplus(neg_scores - pos_scores).mean()


def _keys(users: torch.Tensor, items: torch.Tensor, num_items: int) -> torch.Tensor:
    return torch.unique(users * num_items + items)  # sorted


def known_pairs(graph: BipartiteGraph, dense_limit: int = 50_000_000) -> torch.Tensor:
    """What :func:`sample_negatives` needs to recognise training pairs: a dense bool matrix
    ``[num_users, num_items]`` when it has at most ``dense_limit`` cells, else the sorted keys
    ``user * num_items + item``."""
    if graph.num_users * graph.num_items <= dense_limit:
        known = torch.zeros(graph.num_users, graph.num_items, dtype=torch.bool)
        known[graph.users, graph.items] = True
        return known
    return _keys(graph.users, graph.items, graph.num_items)


def sample_negatives(users: torch.Tensor, num_items: int, num_neg: int,
                     known: torch.Tensor | None = None,
                     generator: torch.Generator | None = None,
                     max_rounds: int = 20) -> torch.Tensor:
    """Draw ``num_neg`` items per user uniformly, avoiding the user's training items.

    ``known``: the training pairs, as a dense bool matrix ``[num_users, num_items]`` or sorted
    keys ``user * num_items + item`` (see :func:`known_pairs`). Draws that hit a known pair are
    redrawn together, round after round (vectorised: no Python loop per sample); after
    ``max_rounds`` the few left are kept as they are.
    """
    neg = torch.randint(num_items, (users.numel(), num_neg), generator=generator)
    if known is None or known.numel() == 0:
        return neg
    rows = users.unsqueeze(1).expand_as(neg)
    for _ in range(max_rounds):
        if known.dim() == 2:
            clash = known[rows, neg]
        else:
            keys = rows * num_items + neg
            pos = torch.searchsorted(known, keys).clamp(max=known.numel() - 1)
            clash = known[pos] == keys
        n_clash = int(clash.sum())
        if n_clash == 0:
            break
        neg[clash] = torch.randint(num_items, (n_clash,), generator=generator)
    return neg


def carve_validation(train, ratio: float = 0.1, seed: int = 0):
    """Split a training DataFrame into ``(fit, val)``: about ``ratio`` of each user's rows go to
    ``val`` (per-user random, as ``gnnedu.data.split_random``). Use ``val`` for early stopping
    and hyper-parameter choice, never the test set."""
    from gnnedu.data import split_random

    return split_random(train, test_ratio=ratio, seed=seed)


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


def _adam(params, lr: float) -> torch.optim.Optimizer:
    """Adam with the fused CPU kernel (one pass over the parameters) where it is available;
    benchmarks/README.md lists it among the details that each took a few percent off an epoch."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # fused kernel unavailable for these tensors
        return torch.optim.Adam(params, lr=lr)


def train_bpr(model, graph: BipartiteGraph, val=None, config: TrainConfig | None = None,
              **overrides) -> History:
    """Train ``model`` with BPR on the interactions of ``graph``.

    Each epoch shuffles all training interactions, cuts them into batches of
    ``batch_size`` positives, draws ``num_neg`` uniform negatives per positive and takes one
    Adam step on ``bpr_loss + reg / 2 * l2``, where ``l2`` is the batch mean of the squared
    norms of the layer-0 embeddings involved (``model.bpr_scores``). ``val``: held-out
    interactions (DataFrame or ``(users, items)``), disjoint from ``graph``'s; used for early
    stopping. Returns the
    :class:`History`; the model is left with its best (or last) parameters, in eval mode.
    """

    if not isinstance(graph, BipartiteGraph):
        raise TypeError("train_bpr needs a BipartiteGraph: build one with gnnedu.graph.build_graph")
    config = replace(config or TrainConfig(), **overrides)
    if config.batch_size < 1 or config.num_neg < 1 or config.epochs < 0:
        raise ValueError("batch_size and num_neg must be >= 1 and epochs >= 0")
    ks = ()
    if val is not None:
        ks = tuple(sorted(set(config.ks) | {check_metric(config.metric)[1]}))
    history = History(config=asdict(config))
    known = known_pairs(graph)
    n = graph.num_interactions

    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # dropout masks come from the global generator
        gen = torch.Generator().manual_seed(config.seed)
        model.attach(graph)
        model.reset_parameters(gen)
        params = model.param_groups(config.weight_decay)
        optimizer = _adam(params, config.lr)
        best_state, bad = None, 0
        for epoch in _progress(range(1, config.epochs + 1), config.progress, model.name):
            model.train()
            tick = time.perf_counter()
            perm = torch.randperm(n, generator=gen)
            total, batches = 0.0, 0
            for lo in range(0, n, config.batch_size):
                idx = perm[lo: lo + config.batch_size]
                users, pos = graph.users[idx], graph.items[idx]
                neg = sample_negatives(users, graph.num_items, config.num_neg, known, gen)
                pos_scores, neg_scores, l2 = model.bpr_scores(graph, users, pos, neg)
                loss = bpr_loss(pos_scores, neg_scores)
                objective = loss + config.reg * 0.5 * l2
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                total += float(loss.detach())
                batches += 1
            history.epoch_seconds.append(time.perf_counter() - tick)
            history.epochs.append(epoch)
            history.loss.append(total / max(batches, 1))
            last = epoch == config.epochs
            if val is not None and (epoch % config.eval_every == 0 or last):
                model.eval()
                scores = evaluate(model, graph, val, ks=ks)
                row = {"epoch": epoch, "loss": history.loss[-1]}
                row.update({k: v for k, v in scores.items() if "@" in k})
                history.val.append({k: v for k, v in row.items() if k != "loss"})
                value = scores[config.metric]
                if config.verbose:
                    print(f"epoch {epoch:4d}  loss {history.loss[-1]:.4f}  "
                          f"{config.metric} {value:.4f}")
                if history.best_score is None or value > history.best_score:
                    history.best_score, history.best_epoch, bad = value, epoch, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad += 1
                    if bad >= config.patience:
                        break
        if best_state is not None:
            model.load_state_dict(best_state)
        elif history.epochs:
            history.best_epoch = history.epochs[-1]
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


def false_negative_rate(train, test, num_items: int,
                        num_samples: int = 100_000, seed: int = 0) -> float:
    """Fraction of sampled negatives that are really held-out positives.

    Draw ``num_samples`` training interactions at random, and for each one negative the way
    BPR training does (:func:`sample_negatives`: uniform over the items the user has
    not interacted with in train). Return the fraction of negatives in the user's test set.
    """
    gen = torch.Generator().manual_seed(seed)
    users = as_index_pairs(train)[0]
    drawn = users[torch.randint(len(users), (num_samples,), generator=gen)]
    neg = sample_negatives(drawn, num_items, 1, _keys(*as_index_pairs(train), num_items),
                           gen)[:, 0]
    test_keys = _keys(*as_index_pairs(test), num_items)
    keys = drawn * num_items + neg
    pos = torch.searchsorted(test_keys, keys).clamp(max=max(len(test_keys) - 1, 0))
    return float((test_keys[pos] == keys).double().mean()) if len(test_keys) else 0.0
