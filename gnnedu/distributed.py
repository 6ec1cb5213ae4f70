"""Data-parallel BPR training with ``torch.distributed`` (notebook 11).

Every process holds the whole model and the whole graph; each global batch of positives is cut
into one slice per process; each process computes the loss of its slice, and
``DistributedDataParallel`` (DDP) averages the gradients across processes (all-reduce) before
every process takes the same Adam step. To make N processes match one process exactly (up to the
order of floating-point sums), every process draws the *global* batch and its negatives from
one generator seeded alike (``gnnedu.train.epoch_batches``) and keeps its own slice, and each
slice's loss is weighted by its share of the batch. The training loop is the one of
``gnnedu.train.train_bpr``; this module only supplies the :class:`Shard` that slices, wraps and
synchronises.

Run it (one machine, N processes; gloo on CPU, NCCL with ``--device cuda``)::

    torchrun --nproc-per-node 2 -m gnnedu.distributed --dataset ml-100k --epochs 20 --out r.json

Several machines (here 2, with 4 processes each): start the same command on every machine,
with that machine's rank and the address of machine 0 (torchrun's multi-node options)::

    torchrun --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 \\
        --nproc-per-node 4 -m gnnedu.distributed --dataset gowalla --device cuda --out r.json
    torchrun --nnodes 2 --node-rank 1 --master-addr 10.0.0.1 --master-port 29500 \\
        --nproc-per-node 4 -m gnnedu.distributed --dataset gowalla --device cuda --out r.json

Process 0 evaluates (full ranking, training items masked) and writes the results JSON.

API summary
-----------
- ``Shard(rank, world_size, device="cpu")``: ``slice(users, pos, neg) -> (users, pos, neg,
  weight)``, ``wrap(model, graph, reg) -> step`` (a DDP-wrapped :class:`BPRStep`),
  ``agree(flag) -> bool`` (process 0's decision, for early stopping), ``is_main``.
- ``slice_bounds(batch, world_size, rank) -> (lo, hi)``: the contiguous slice of a batch.
- ``BPRStep(model, graph, reg)``: ``forward(users, pos, neg, weight) -> (loss, objective)``.
- ``train(args) -> dict``: the body of the command (inside an initialised process group).
- ``launch(nproc, args, timeout=None) -> dict``: run the command with ``torchrun`` in fresh
  processes on this machine (notebook 11's demo) and return process 0's results.
- ``main(argv=None) -> int``: the command line (``python -m gnnedu.distributed --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

__all__ = ["Shard", "BPRStep", "slice_bounds", "train", "launch", "main", "build_parser",
           "parameter_checksum", "process_group"]


@contextlib.contextmanager
def process_group(backend: str = "gloo", **init_kwargs):
    """Initialise the default process group, and on the way out shut it down cleanly.

    DDP keeps references in reference cycles, so it is freed by the garbage collector, possibly
    after the group is gone or while the interpreter exits; gloo then aborts the process
    ("terminate called without an active exception"). So: collect the garbage, wait for every
    process (a barrier; skipped after an error, where the others may never arrive), and only
    then destroy the group.
    """
    import torch.distributed as dist

    dist.init_process_group(backend, **init_kwargs)
    finished = False
    try:
        yield
        finished = True
    finally:
        gc.collect()
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def slice_bounds(batch: int, world_size: int, rank: int) -> tuple[int, int]:
    """``(lo, hi)``: process ``rank``'s contiguous share of a batch of ``batch`` rows (the
    first ``batch % world_size`` processes take one row more)."""
    base, extra = divmod(batch, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


class BPRStep(nn.Module):
    """The BPR objective of one slice as a module, so that DDP can wrap it.

    ``forward(users, pos, neg, weight)`` returns ``(loss, objective)`` from
    ``gnnedu.train.bpr_objective``. An empty slice (a batch smaller than the number of
    processes) gives a zero objective that still touches every parameter, so that every process
    joins the gradient all-reduce.
    """

    def __init__(self, model, graph, reg: float):
        super().__init__()
        self.model = model
        self.graph = graph
        self.reg = reg

    def forward(self, users, pos, neg, weight: float = 1.0):
        from gnnedu.train import bpr_objective

        if users.numel() == 0:
            zero = sum(p.sum() for p in self.model.parameters()) * 0.0
            return zero.detach(), zero
        pos_scores, neg_scores, l2 = self.model.bpr_scores(self.graph, users, pos, neg)
        return bpr_objective(pos_scores, neg_scores, l2, self.reg, weight)


class Shard:
    """One process's part in data-parallel training; pass it to ``train_bpr(shard=...)``.

    Requires an initialised default process group (``torch.distributed.init_process_group``),
    except with ``world_size == 1``, where it changes nothing (no DDP, weight 1).
    """

    def __init__(self, rank: int, world_size: int, device: str = "cpu"):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, "
                             f"world_size={world_size}")
        self.rank, self.world_size = int(rank), int(world_size)
        self.device = torch.device(device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def slice(self, users, pos, neg):
        """This process's rows of the global batch, and the weight ``world_size * n_r / B`` of
        their mean loss: DDP averages gradients over processes, so the weighted slice losses
        add up to the gradient of the global batch's mean loss."""
        batch = users.numel()
        lo, hi = slice_bounds(batch, self.world_size, self.rank)
        weight = self.world_size * (hi - lo) / batch
        return users[lo:hi], pos[lo:hi], neg[lo:hi], weight

    def wrap(self, model, graph, reg: float):
        """The step function: :class:`BPRStep` wrapped in DDP (gradients all-reduced)."""
        step = BPRStep(model, graph, reg)
        if self.world_size == 1:
            return step
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(step, device_ids=ids)

    def agree(self, flag: bool) -> bool:
        """Process 0's ``flag``, on every process (a broadcast)."""
        if self.world_size == 1:
            return bool(flag)
        import torch.distributed as dist

        value = torch.tensor([1 if flag else 0], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())


def parameter_checksum(model) -> str:
    """SHA-256 (first 16 hex digits) of the model's parameters, to compare runs bit for bit."""
    digest = hashlib.sha256()
    for _, p in sorted(model.state_dict().items()):
        digest.update(p.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m gnnedu.distributed",
        description="Data-parallel BPR training (DDP): every process draws the same global "
                    "batches and trains on its slice; process 0 evaluates and writes OUT.")
    p.add_argument("--dataset", choices=("ml-100k", "gowalla"), default="ml-100k",
                   help="ml-100k: protocol P1's split of the seed; gowalla: the LightGCN split")
    p.add_argument("--subsample", type=float, default=1.0,
                   help="gowalla only: keep this share of the users (nested, seed 0)")
    p.add_argument("--model", choices=("lightgcn", "mf"), default="lightgcn")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=4096, help="global batch (all processes)")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--reg", type=float, default=1e-4)
    p.add_argument("--num-neg", type=int, default=1)
    p.add_argument("--neg-candidates", type=int, default=1,
                   help="hard negatives: the best-scoring of this many uniform draws")
    p.add_argument("--seed", type=int, default=0, help="initialisation and sampling")
    p.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--data", default=None, help="folder holding the dataset")
    p.add_argument("--out", default=None, help="results JSON written by process 0")
    p.add_argument("--save-params", default=None,
                   help="process 0 saves the trained parameters here (torch.save)")
    return p


def _load(args):
    """``(train, test, num_users, num_items)`` of the chosen dataset."""
    if args.dataset == "gowalla":
        from gnnedu.data import load_gowalla

        data = load_gowalla(args.data, progress=False)
        if args.subsample < 1:
            data = data.subsample(args.subsample)
        return data.train, data.test, data.num_users, data.num_items
    from gnnedu.data import load_movielens, load_split

    ml = load_movielens(args.data, progress=False)
    train, test = load_split(ml, "random", args.seed)
    return train, test, ml.num_users, ml.num_items


def train(args, rank: int = 0, world_size: int = 1) -> dict:
    """Train on this process's shard and, on process 0, evaluate; returns the results dict
    (process 0) or a short status (others). The process group must be initialised when
    ``world_size > 1``."""
    from gnnedu import setup_notebook
    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate
    from gnnedu.models import make_model
    from gnnedu.train import TrainConfig, train_bpr

    setup_notebook(seed=args.seed, threads=args.threads)
    device = args.device
    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    train_df, test_df, num_users, num_items = _load(args)
    graph = build_graph(train_df, num_users, num_items)
    torch.manual_seed(args.seed)
    model = make_model(args.model)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         reg=args.reg, num_neg=args.num_neg, neg_candidates=args.neg_candidates,
                         seed=args.seed, device=device)
    shard = Shard(rank, world_size, device)
    cpu = time.process_time()
    history = train_bpr(model, graph, config=config, shard=shard)
    cpu = time.process_time() - cpu
    if not shard.is_main:
        return {"rank": rank}
    start = time.perf_counter()
    metrics = evaluate(model, graph, test_df, ks=(20,))
    result = {
        "world_size": world_size, "backend": "nccl" if device.startswith("cuda") else "gloo",
        "dataset": args.dataset, "subsample": args.subsample, "model": args.model,
        "interactions": graph.num_interactions, "users": num_users, "items": num_items,
        "config": {k: v for k, v in history.config.items() if k not in ("progress", "verbose")},
        "threads_per_process": args.threads, "epoch_seconds": history.epoch_seconds,
        "train_seconds": sum(history.epoch_seconds), "loss": history.loss,
        "train_cpu_seconds_rank0": cpu,
        "eval_seconds": time.perf_counter() - start,
        "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"],
        "parameters_sha256": parameter_checksum(model),
    }
    if args.save_params:
        torch.save(model.state_dict(), args.save_params)
    if args.out:
        from gnnedu.experiment import save_json

        save_json(result, args.out)
    return result


def main(argv=None) -> int:
    """Run inside ``torchrun`` (or alone, as one process); returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.subsample <= 0 or args.subsample > 1:
        print("error: --subsample must be in (0, 1]", file=sys.stderr)
        return 2
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda, but no GPU is visible to torch", file=sys.stderr)
        return 2
    from gnnedu.data import DataError

    backend = "nccl" if args.device.startswith("cuda") else "gloo"
    group = process_group(backend) if world_size > 1 else contextlib.nullcontext()
    try:
        with group:
            result = train(args, rank, world_size)
    except DataError as err:
        print(f"gnnedu.distributed: {err}", file=sys.stderr)
        return 1
    if rank == 0:
        print(json.dumps({k: v for k, v in result.items()
                          if k not in ("epoch_seconds", "loss", "config")}))
    return 0


def launch(nproc: int, args: list[str], timeout: float | None = None) -> dict:
    """Run ``torchrun --standalone --nproc-per-node nproc -m gnnedu.distributed *args`` on this
    machine and return process 0's results (read from the ``--out`` file, a temporary one if
    ``args`` has none). Raises ``RuntimeError`` with the tail of the output if it fails."""
    args = list(args)
    with tempfile.TemporaryDirectory() as tmp:
        if "--out" not in args:
            args += ["--out", str(Path(tmp) / "result.json")]
        out = Path(args[args.index("--out") + 1])
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc-per-node={int(nproc)}", "-m", "gnnedu.distributed", *args]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"torchrun exited with {done.returncode}:\n{tail}")
        return json.loads(out.read_text())


if __name__ == "__main__":
    sys.exit(main())
