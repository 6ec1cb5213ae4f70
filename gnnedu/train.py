"""BPR training with uniform negative sampling (taught in notebook 06; used by notebook 07).

API summary
-----------
- ``TrainConfig(epochs, batch_size, lr, reg, num_neg, weight_decay, eval_every, patience,
  metric, ks, seed, progress, verbose, lr_schedule, lr_min, neg_candidates, time_limit,
  checkpoint)``: every training knob in one dataclass (the last five were added for Gowalla,
  notebook 11; their defaults change nothing).
- ``train_bpr(model, graph, val=None, config=None, callback=None, shard=None, **overrides)
  -> History``:
  Adam on the BPR loss; with ``val`` (held-out interactions carved from train, never the test
  set) it evaluates every ``eval_every`` epochs, stops after ``patience`` evaluations without
  improvement of ``metric`` and restores the best parameters. Models call it from
  ``model.fit``. ``callback(epoch, model, history)`` runs after every epoch (e.g. to log a
  curve); with ``config.checkpoint`` the run saves its state after every evaluation (or every
  ``eval_every`` epochs without ``val``) and resumes from that file when it exists.
  ``config.device`` ("cpu", "cuda") is where the steps run; batches are drawn on the CPU, so
  every device sees the same batches. ``shard``: a ``gnnedu.distributed.Shard`` for
  data-parallel training (each process takes its slice of every global batch; process 0
  evaluates).
- ``History``: ``epochs``, ``loss`` (mean BPR loss per epoch), ``epoch_seconds``, ``val`` (list
  of metric dicts, with the epoch), ``val_seconds`` (training seconds, evaluations excluded,
  at each evaluation), ``best_epoch``, ``best_score``, ``seconds``; ``to_frame()`` -> DataFrame.
- The pieces of one step, shared with ``gnnedu.distributed``: ``epoch_batches(graph, config,
  known, generator)`` yields each batch ``(users, pos, neg)`` of an epoch; ``bpr_objective(
  pos_scores, neg_scores, l2, reg, weight=1.0) -> (loss, objective)``; ``lr_at(config, epoch)``
  (the schedule); ``make_optimizer(params, lr)``.
- ``sample_negatives(users, num_items, num_neg, known, generator) -> LongTensor [B, num_neg]``:
  uniform items, resampled (vectorised) while they hit a training item of the user;
  ``known_pairs(graph)`` gives ``known``; ``candidates=`` restricts the draws to some items
  (``TrainConfig.neg_items``: held-out movies are never negatives in notebook 09).
- ``bpr_loss(pos_scores, neg_scores) -> Tensor``: mean of -log sigmoid(s_pos - s_neg).
- Hard negatives (``neg_candidates = M > 1``, dynamic negative sampling, Zhang et al., SIGIR
  2013): each negative is the highest-scoring of M uniform draws; the draws are
  ``[B, num_neg, M]`` and ``model.bpr_scores`` picks among them with the current scores.
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

import contextlib
import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F

from gnnedu.graph import BipartiteGraph, as_index_pairs
from gnnedu.metrics import check_metric, evaluate

__all__ = [
    "TrainConfig", "History", "train_bpr", "sample_negatives", "known_pairs", "bpr_loss",
    "carve_validation", "false_negative_rate", "epoch_batches", "bpr_objective", "lr_at",
    "make_optimizer", "LR_SCHEDULES", "POSITIVES",
]

LR_SCHEDULES = ("constant", "cosine")
POSITIVES = ("interactions", "users")


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
    # Added for large graphs (notebook 11); the defaults reproduce the training above exactly.
    lr_schedule: str = "constant"  # or "cosine": from lr down to lr_min over `epochs` epochs
    lr_min: float = 0.0          # the last epoch's learning rate under "cosine"
    neg_candidates: int = 1      # hard negatives: the best-scoring of this many uniform draws
    time_limit: float | None = None  # stop after the epoch that passes this many seconds
    checkpoint: str | None = None    # state file: saved as training goes, resumed if present
    device: str = "cpu"          # where the steps run ("cuda" on a GPU); draws stay on the CPU
    # Added for cold start (notebook 09); the default changes nothing.
    neg_items: tuple | None = None   # draw negatives only from these item indices (None: all)
    # Added for Gowalla's final runs (notebook 11): stop after the epoch chosen on validation
    # while the learning-rate schedule still spans `epochs` (as in the validation run).
    stop_epoch: int | None = None
    # Added for Gowalla (notebook 11); the default changes nothing. "users": each positive is
    # drawn as a user picked uniformly, then one of that user's training items, so every user
    # weighs the same in the loss, as in Recall@20's per-user average (the LightGCN authors'
    # sampler does this); "interactions": a shuffle of all training pairs.
    positives: str = "interactions"


@dataclass
class History:
    """What happened during training."""

    epochs: list = field(default_factory=list)    # epoch number (1-based) of each loss entry
    loss: list = field(default_factory=list)      # mean BPR loss (without L2) per epoch
    epoch_seconds: list = field(default_factory=list)  # wall time of each epoch's updates
    val: list = field(default_factory=list)       # dicts: {"epoch": e, "recall@20": ..., ...}
    val_seconds: list = field(default_factory=list)  # training seconds at each evaluation
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


def known_pairs(graph: BipartiteGraph, dense_limit: int = 50_000_000,
                bits_limit: int = 8_000_000_000) -> torch.Tensor:
    """What :func:`sample_negatives` needs to recognise training pairs: a dense bool matrix
    ``[num_users, num_items]`` when it has at most ``dense_limit`` cells; else a packed bit
    array (uint8, one bit per cell ``user * num_items + item``) when it has at most
    ``bits_limit`` cells (1 GB; Gowalla's 1.2 billion cells take 153 MB, and a lookup is one
    read instead of a binary search); else the sorted keys ``user * num_items + item``."""
    cells = graph.num_users * graph.num_items
    if cells <= dense_limit:
        known = torch.zeros(graph.num_users, graph.num_items, dtype=torch.bool)
        known[graph.users, graph.items] = True
        return known
    keys = _keys(graph.users, graph.items, graph.num_items)
    if cells <= bits_limit:
        bits = torch.zeros((cells + 7) // 8, dtype=torch.uint8)
        # keys are distinct, so adding each key's bit into its byte sets it
        bits.index_put_((keys >> 3,), (1 << (keys & 7)).to(torch.uint8), accumulate=True)
        return bits
    return keys


def _is_known(known: torch.Tensor, rows: torch.Tensor, items: torch.Tensor,
              num_items: int) -> torch.Tensor:
    """Whether each (row, item) pair is a training pair, for the three forms of
    :func:`known_pairs`."""
    if known.dim() == 2:
        return known[rows, items]
    keys = rows * num_items + items
    if known.dtype == torch.uint8:
        return (known[keys >> 3] >> (keys & 7).to(torch.uint8)) & 1 == 1
    pos = torch.searchsorted(known, keys).clamp(max=known.numel() - 1)
    return known[pos] == keys


def sample_negatives(users: torch.Tensor, num_items: int, num_neg: int,
                     known: torch.Tensor | None = None,
                     generator: torch.Generator | None = None,
                     max_rounds: int = 20, candidates: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """Draw ``num_neg`` items per user uniformly, avoiding the user's training items.

    ``known``: the training pairs, as :func:`known_pairs` gives them (a dense bool matrix, a
    packed bit array or sorted keys). Draws that hit a known pair are
    redrawn together, round after round (vectorised: no Python loop per sample); after
    ``max_rounds`` the few left are kept as they are. ``candidates`` (a LongTensor of item
    indices) restricts the draws to those items, e.g. to keep held-out movies out of training
    (``TrainConfig.neg_items``, notebook 09).
    """
    def draw(shape):  # uniform over all items, or over the candidates (notebook 09)
        if candidates is None:
            return torch.randint(num_items, shape, generator=generator)
        return candidates[torch.randint(candidates.numel(), shape, generator=generator)]

    neg = draw((users.numel(), num_neg))
    if known is None or known.numel() == 0:
        return neg
    rows = users.unsqueeze(1).expand_as(neg)
    for _ in range(max_rounds):
        clash = _is_known(known, rows, neg, num_items)
        n_clash = int(clash.sum())
        if n_clash == 0:
            break
        neg[clash] = draw((n_clash,))
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


def make_optimizer(params, lr: float) -> torch.optim.Optimizer:
    """Adam with the fused CPU kernel (one pass over the parameters) where it is available;
    benchmarks/README.md lists it among the details that each took a few percent off an epoch."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # fused kernel unavailable for these tensors
        return torch.optim.Adam(params, lr=lr)


def lr_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (1-based): ``config.lr`` throughout ("constant"), or a cosine
    from ``config.lr`` at epoch 1 down to ``config.lr_min`` at epoch ``config.epochs``."""
    if config.lr_schedule == "constant" or config.epochs <= 1:
        return config.lr
    progress = (epoch - 1) / (config.epochs - 1)
    return config.lr_min + (config.lr - config.lr_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


def epoch_batches(graph: BipartiteGraph, config: TrainConfig, known: torch.Tensor,
                  generator: torch.Generator):
    """The batches of one epoch: yields ``(users, pos, neg)``.

    A random permutation of the training interactions cut into ``config.batch_size`` positives
    (or, with ``positives="users"``, as many draws of a uniform user and one of their items);
    for each batch ``num_neg`` uniform negatives per positive (``[B, num_neg]``), or with
    ``neg_candidates = M > 1`` the candidates ``[B, num_neg, M]`` among which the model picks.
    Everything is drawn from ``generator``, so processes that share its seed draw the same
    batches (``gnnedu.distributed`` slices them).
    """
    n = graph.num_interactions
    if config.positives == "users":
        perm = _user_uniform_draws(graph, n, generator)
    else:
        perm = torch.randperm(n, generator=generator)
    draws = config.num_neg * config.neg_candidates
    candidates = _neg_items(config, graph.num_items)
    for lo in range(0, n, config.batch_size):
        idx = perm[lo: lo + config.batch_size]
        users, pos = graph.users[idx], graph.items[idx]
        neg = sample_negatives(users, graph.num_items, draws, known, generator,
                               candidates=candidates)
        if config.neg_candidates > 1:
            neg = neg.view(-1, config.num_neg, config.neg_candidates)
        yield users, pos, neg


def _user_uniform_draws(graph: BipartiteGraph, n: int, generator: torch.Generator
                        ) -> torch.Tensor:
    """``n`` interaction indices: a user drawn uniformly among those with training items,
    then one of that user's interactions, uniformly."""
    order = torch.argsort(graph.users, stable=True)          # interactions grouped by user
    degree = torch.bincount(graph.users, minlength=graph.num_users)
    start = torch.cumsum(degree, 0) - degree                 # first position of each user
    active = torch.nonzero(degree).squeeze(1)
    users = active[torch.randint(active.numel(), (n,), generator=generator)]
    offset = (torch.rand(n, generator=generator, dtype=torch.float64)
              * degree[users]).long()                        # 0 .. degree - 1
    return order[start[users] + offset]


def _neg_items(config: TrainConfig, num_items: int) -> torch.Tensor | None:
    """``config.neg_items`` as a LongTensor (None when negatives come from every item)."""
    if config.neg_items is None:
        return None
    items = torch.as_tensor(config.neg_items, dtype=torch.long).reshape(-1)
    if items.numel() == 0 or items.min() < 0 or items.max() >= num_items:
        raise ValueError(f"neg_items must hold item indices in 0..{num_items - 1}")
    return items


def bpr_objective(pos_scores: torch.Tensor, neg_scores: torch.Tensor, l2: torch.Tensor,
                  reg: float, weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, objective)``: the BPR loss of the batch and ``weight * (loss + reg / 2 * l2)``,
    the quantity to differentiate. ``weight`` lets a process that holds a slice of the batch
    contribute its share (``gnnedu.distributed``)."""
    loss = bpr_loss(pos_scores, neg_scores)
    objective = loss + reg * 0.5 * l2
    if weight != 1.0:
        objective = objective * weight
    return loss, objective


def _frozen(model):
    """The model's ``frozen_scores()`` block where it has one (embedding models), else none."""
    freeze = getattr(model, "frozen_scores", None)
    return freeze() if freeze is not None else contextlib.nullcontext()


def _step_function(model, graph: BipartiteGraph, reg: float):
    """``step(users, pos, neg, weight) -> (loss, objective)`` of one process on its own."""
    def step(users, pos, neg, weight=1.0):
        pos_scores, neg_scores, l2 = model.bpr_scores(graph, users, pos, neg)
        return bpr_objective(pos_scores, neg_scores, l2, reg, weight)
    return step


def _check_config(config: TrainConfig) -> None:
    if config.batch_size < 1 or config.num_neg < 1 or config.epochs < 0:
        raise ValueError("batch_size and num_neg must be >= 1 and epochs >= 0")
    if config.neg_candidates < 1:
        raise ValueError(f"neg_candidates must be >= 1, got {config.neg_candidates}")
    if config.positives not in POSITIVES:
        raise ValueError(f"positives must be one of {POSITIVES}, got {config.positives!r}")
    if config.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got "
                         f"{config.lr_schedule!r}")


# Settings that may differ between a run and its resumption from a checkpoint.
_RUNTIME_FIELDS = ("progress", "verbose", "time_limit", "checkpoint", "device")


def _same_run(a: dict, b: dict) -> bool:
    """Whether two configs describe the same run; a field absent from one of them (a
    checkpoint written before the field existed) counts as its default."""
    defaults = asdict(TrainConfig())
    keys = (set(a) | set(b)) - set(_RUNTIME_FIELDS)
    return all(a.get(k, defaults.get(k)) == b.get(k, defaults.get(k)) for k in keys)


def _save_checkpoint(path: str, state: dict) -> None:
    """``torch.save`` to a temporary file, then a rename: a crash never leaves half a file."""
    tmp = f"{path}.tmp"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(state, tmp)
    os.replace(tmp, path)


def train_bpr(model, graph: BipartiteGraph, val=None, config: TrainConfig | None = None,
              callback=None, shard=None, **overrides) -> History:
    """Train ``model`` with BPR on the interactions of ``graph``.

    Each epoch shuffles all training interactions, cuts them into batches of
    ``batch_size`` positives, draws ``num_neg`` uniform negatives per positive and takes one
    Adam step on ``bpr_loss + reg / 2 * l2``, where ``l2`` is the batch mean of the squared
    norms of the layer-0 embeddings involved (``model.bpr_scores``). ``val``: held-out
    interactions (DataFrame or ``(users, items)``), disjoint from ``graph``'s; used for early
    stopping. ``callback(epoch, model, history)``, if given, runs after every epoch (its time
    is not training time). With ``config.checkpoint`` the state (parameters, optimizer,
    generators, history) is saved after every evaluation, or every ``eval_every`` epochs
    without ``val``, and a run started with the same settings resumes from it. ``shard``
    (``gnnedu.distributed.Shard``): this process's part of a data-parallel run; it slices each
    batch, wraps the step (DDP) and lets only the main process evaluate and save. Returns the
    :class:`History`; the model is left with its best (or last) parameters, in eval mode, on
    the CPU.
    """

    if not isinstance(graph, BipartiteGraph):
        raise TypeError("train_bpr needs a BipartiteGraph: build one with gnnedu.graph.build_graph")
    config = replace(config or TrainConfig(), **overrides)
    _check_config(config)
    ks = ()
    if val is not None:
        ks = tuple(sorted(set(config.ks) | {check_metric(config.metric)[1]}))
    history = History(config=asdict(config))
    known = known_pairs(graph)

    start = time.perf_counter()
    spent = 0.0  # seconds of earlier sessions of a resumed run
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # dropout masks come from the global generator
        gen = torch.Generator().manual_seed(config.seed)
        model.attach(graph)
        model.reset_parameters(gen)
        device = torch.device(config.device)
        work = graph if device.type == "cpu" else graph.to(device)
        if work is not graph:
            model.to(device)
            model.attach(work)
        main = shard is None or shard.is_main
        step = _step_function(model, work, config.reg) if shard is None else shard.wrap(
            model, work, config.reg)
        params = model.param_groups(config.weight_decay)
        optimizer = make_optimizer(params, config.lr)
        best_state, bad, first = None, 0, 1
        if config.checkpoint and os.path.exists(config.checkpoint):
            state = torch.load(config.checkpoint, weights_only=False)
            if not _same_run(state["config"], history.config):
                raise ValueError(f"the checkpoint {config.checkpoint} was written with other "
                                 "settings; delete it or pass another checkpoint path")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            best_state, bad, spent = state["best_state"], state["bad"], state["seconds"]
            history = History(**{**state["history"], "config": history.config})
            first = history.epochs[-1] + 1 if history.epochs else 1
            if state.get("stopped"):
                first = config.epochs + 1  # finished (early stop or time limit): nothing to do
        stop = False
        epochs = range(first, config.epochs + 1)
        for epoch in _progress(epochs, config.progress, model.name):
            model.train()
            tick = time.perf_counter()
            lr = lr_at(config, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            total, batches = 0.0, 0
            for users, pos, neg in epoch_batches(graph, config, known, gen):
                weight = 1.0
                if shard is not None:  # this process's slice and its share of the objective
                    users, pos, neg, weight = shard.slice(users, pos, neg)
                if work is not graph:
                    users, pos, neg = users.to(device), pos.to(device), neg.to(device)
                loss, objective = step(users, pos, neg, weight)
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                total += float(loss.detach())
                batches += 1
            history.epoch_seconds.append(time.perf_counter() - tick)
            history.epochs.append(epoch)
            history.loss.append(total / max(batches, 1))
            elapsed = spent + time.perf_counter() - start
            out_of_time = config.time_limit is not None and elapsed >= config.time_limit
            chosen_end = config.stop_epoch is not None and epoch >= config.stop_epoch
            last = epoch == config.epochs or out_of_time or chosen_end
            evaluated = False
            if main and val is not None and (epoch % config.eval_every == 0 or last):
                model.eval()
                with _frozen(model):
                    scores = evaluate(model, graph, val, ks=ks)
                row = {"epoch": epoch, "loss": history.loss[-1]}
                row.update({k: v for k, v in scores.items() if "@" in k})
                history.val.append({k: v for k, v in row.items() if k != "loss"})
                history.val_seconds.append(sum(history.epoch_seconds))
                value = scores[config.metric]
                evaluated = True
                if config.verbose:
                    print(f"epoch {epoch:4d}  loss {history.loss[-1]:.4f}  "
                          f"{config.metric} {value:.4f}")
                if history.best_score is None or value > history.best_score:
                    history.best_score, history.best_epoch, bad = value, epoch, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad += 1
                    stop = bad >= config.patience
            stop = stop or out_of_time or chosen_end
            if shard is not None:
                stop = shard.agree(stop)  # the main process decides for all
            if callback is not None:
                callback(epoch, model, history)
            if main and config.checkpoint and (evaluated or stop or last or (
                    val is None and epoch % config.eval_every == 0)):
                _save_checkpoint(config.checkpoint, {
                    "config": history.config, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "best_state": best_state, "bad": bad,
                    "seconds": spent + time.perf_counter() - start, "stopped": stop,
                    "history": {k: v for k, v in asdict(history).items() if k != "config"}})
            if stop:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        elif history.epochs:
            history.best_epoch = history.epochs[-1]
    if work is not graph:  # back to the CPU, bound to the caller's graph
        model.to("cpu")
        model.attach(graph)
    model.eval()
    history.seconds = spent + time.perf_counter() - start
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
