"""Gowalla at full scale (notebook 11): the runs behind ``gnnedu bench --dataset gowalla``, the
long LightGCN run, the validation runs that chose every setting, the cost-growth measurements
and the figures and tables of notebook 11.

Every heavy number of notebook 11 comes from one command, which writes JSON files into
``gnnedu/results/gowalla/`` after every finished piece (atomically), so that an interrupted run
resumes where it stopped (``--fresh`` starts a part again)::

    python -m gnnedu.scale all          # every part below, in this order (hours on 2 cores)
    python -m gnnedu.scale tune         # validation choices: filters, EASE's lambda, BPR-MF
    python -m gnnedu.scale models       # Popularity, GF-CF, BSPM, BPR-MF -> models.json
    python -m gnnedu.scale ease         # EASE on item subsamples, extrapolated -> ease.json
                                        # (--ease-full: and on all items, about 7 GB)
    python -m gnnedu.scale costs        # cost growth on nested subsamples -> costs.json
    python -m gnnedu.scale distributed  # 1 and 2 processes with torchrun -> distributed.json
    python -m gnnedu.scale lightgcn     # the LightGCN run and its curve -> lightgcn.json
        # (the test runs of earlier recipes, kept for the record: lightgcn_first_recipe.json,
        # lightgcn_second_recipe.json, the 60-epoch schedule, lightgcn_third_recipe.json, the
        # 160-epoch one, both with hard negatives the best of 8 candidates)
    python -m gnnedu.scale lightgcn --validation --recipe '{...}'   # -> validation/*.json
    python -m gnnedu.scale models --only bspm-tuned   # BSPM with the validation-chosen settings
    python -m gnnedu.scale hybrid       # tuned BSPM + LightGCN: weight on validation, test row

Protocol (the LightGCN paper's): the fixed Gowalla split of ``gnnedu.data.load_gowalla``, full
ranking over the 40,981 items with each user's training items masked, Recall@20 (hits / the
user's number of test items) and NDCG@20 averaged over the 29,858 users. Every setting was
chosen on a validation slice of the training data (10 % of each user's training items,
``gnnedu.train.carve_validation``, seed 0), never on the test file.

Time is measured twice: wall-clock seconds and the process's CPU seconds. With one torch
thread the CPU seconds are what the run costs on one free core; on these shared machines the
wall clock also counts the time other people's jobs held the cores.

API summary
-----------
- ``RESULTS``: ``gnnedu/results/gowalla``; ``load(name)`` reads ``name.json`` there;
  ``REFERENCE``: the published numbers on this split.
- ``LIGHTGCN_RECIPE``; ``run_lightgcn(data, seed=0, recipe=None, validation=False, out=None,
  ...) -> dict``: train LightGCN with a curve of Recall/NDCG@20 against training time
  (resumable: a checkpoint in the cache); ``validation_runs()``; ``chosen_recipe()``, the
  rule that chose the recipe.
- ``run_model(name, data, seed=0, ...) -> dict``: one model through
  ``gnnedu.experiment.run_one`` (``MF_RECIPE`` for BPR-MF), with CPU seconds;
  ``top_k_lists(model, k=50)`` and ``save_topk(model, path)``: every user's top-K in blocks.
- ``ease_item_matrix(r, lam)`` (float32, in place), ``run_ease(data, fractions, lam)``: EASE on
  item subsamples and its extrapolation; ``power_law(x, y)``, ``predict(fit, x)``.
- ``measure_costs(data, fractions, ml=None, ...)``, ``cost_slopes(rows)``,
  ``extrapolate(costs, ease, sizes=OTHER_SIZES)``: cost growth and the sizes on paper.
- ``measure_distributed(nprocs=(1, 2), runs=DISTRIBUTED_RUNS)``: ``torchrun`` timings.
- ``tune_filters(data)``, ``tune_ease(data)``, ``tune_mf(data)``, ``validation_split(data)``;
  ``tuned_filter()``: the settings the filter search chose; ``tune_hybrid``, ``run_hybrid``,
  ``users_paired_test`` (two models over the same test users).
- ``plot_responses()``, ``plot_curves(runs, ...)``, ``plot_costs(costs, ease)``,
  ``final_table()``: the figures and the last table of notebook 11.
- ``bench_main(args, argv)``: ``gnnedu bench --dataset gowalla``; ``main(argv)``: the command.
- ``Clock``: wall and CPU seconds of a block.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from gnnedu.experiment import RESULTS_DIR, PeakMemory, machine_info, save_json

RESULTS = RESULTS_DIR / "gowalla"
K = 20
REFERENCE = {  # published results on this split (the data README lists the sources)
    "lightgcn": {"recall@20": 0.1824, "ndcg@20": 0.1547,
                 "source": "LightGCN-PyTorch README (1000 epochs)"},
    "gfcf": {"recall@20": 0.1849, "ndcg@20": 0.1518, "source": "Shen et al., CIKM 2021"},
    "bspm": {"recall@20": 0.1920, "ndcg@20": 0.1597, "source": "Choi et al., SIGIR 2023"},
}

# LightGCN (3 layers, d = 64) on Gowalla. Per step the whole graph is propagated (3 sparse
# products forward, 3 backward), whatever the batch size, so large batches make epochs cheap;
# with them, a cosine learning-rate decay to zero and hard negatives (each the best-scoring of
# 64 uniform draws), four per positive, recover the accuracy that small batches buy with many
# more steps (15 epochs: 750 steps). Chosen on the validation slice by `chosen_recipe` (python
# -m gnnedu.scale lightgcn --validation --recipe '{...}'; gnnedu/results/gowalla/validation/
# holds every recipe tried).
LIGHTGCN_RECIPE = dict(epochs=15, batch_size=16384, lr=1e-2, lr_schedule="cosine", reg=1e-3,
                       num_neg=4, neg_candidates=64)
CURVE_EVERY = 10  # epochs between two points of the curve


class Clock:
    """Context manager: ``.wall`` and ``.cpu`` seconds spent inside the block."""
    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
        return False


def load(name: str) -> dict:
    """A results file of ``gnnedu/results/gowalla/`` by name ("lightgcn", "models", ...)."""
    with open(RESULTS / f"{name}.json") as f:
        return json.load(f)


def _checkpoint_dir() -> Path:
    from gnnedu.data import cache_dir

    return cache_dir() / "runs"


def run_lightgcn(data, seed: int = 0, recipe: dict | None = None, validation: bool = False,
                 out=None, curve_every: int | None = None, threads: int = 1,
                 device: str = "cpu", progress: bool = True, checkpoint=None) -> dict:
    """Train LightGCN (3 layers, d = 64) on Gowalla and record its curve.

    Args:
        data: ``gnnedu.data.load_gowalla()`` (or a subsample).
        seed: initialisation and sampling.
        recipe: ``TrainConfig`` fields (default :data:`LIGHTGCN_RECIPE`).
        validation: train on 90 % of each user's training items and measure the curve on the
            other 10 % (choosing the recipe); else train on all of them and measure the curve
            on the test file (a record of the run, not used to choose anything).
        out: JSON file rewritten at every curve point (default: none).
        curve_every: epochs between two curve points (default ``CURVE_EVERY``, or every
            epoch for a schedule of at most ``2 * CURVE_EVERY`` epochs).
        threads: torch threads (recorded).
        checkpoint: state file for resuming (default: in the cache, named after the run).

    Returns:
        ``{"recipe", "seed", "validation", "threads", "curve": [{"epoch", "train_seconds",
        "train_cpu_seconds", "recall@20", "ndcg@20"}...], "recall@20", "ndcg@20",
        "train_seconds", "train_cpu_seconds", "peak_mem_mb", "environment"}``; the final
        metrics are those after the last epoch.
    """
    from gnnedu import setup_notebook
    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate
    from gnnedu.models import LightGCN
    from gnnedu.train import TrainConfig, carve_validation, train_bpr

    recipe = dict(LIGHTGCN_RECIPE if recipe is None else recipe)
    if curve_every is None:   # a short schedule gets a point every epoch
        curve_every = CURVE_EVERY if recipe["epochs"] > 2 * CURVE_EVERY else 1
    setup_notebook(seed=seed, threads=threads)
    train = data.train
    target = data.test
    if validation:
        train, target = carve_validation(train.assign(rating=1, timestamp=0), 0.1, seed=0)
    graph = build_graph(train, data.num_users, data.num_items)
    if checkpoint is None:
        checkpoint = _checkpoint_of(recipe, seed, validation)
    record = {"recipe": recipe, "seed": seed, "validation": validation, "threads": threads,
              "device": device, "curve": [], "environment": machine_info()}
    if out is not None and Path(out).exists():  # resuming: keep the curve measured so far
        previous = json.loads(Path(out).read_text())
        if previous.get("recipe") == recipe and previous.get("validation") == validation:
            record["curve"] = previous.get("curve", [])
    cpu = {"train": record["curve"][-1]["train_cpu_seconds"] if record["curve"] else 0.0,
           "mark": time.process_time()}

    def on_epoch(epoch, model, history):
        cpu["train"] += time.process_time() - cpu["mark"]
        if epoch % curve_every == 0 or epoch == recipe["epochs"]:
            model.eval()
            with model.frozen_scores():
                scores = evaluate(model, graph, target, ks=(K,))
            record["curve"] = [row for row in record["curve"] if row["epoch"] < epoch]
            record["curve"].append({
                "epoch": epoch, "train_seconds": sum(history.epoch_seconds),
                "train_cpu_seconds": cpu["train"], f"recall@{K}": scores[f"recall@{K}"],
                f"ndcg@{K}": scores[f"ndcg@{K}"]})
            if out is not None:
                save_json(record, out)
            model.train()
        cpu["mark"] = time.process_time()

    config = TrainConfig(**recipe, seed=seed, progress=progress, device=device,
                         checkpoint=str(checkpoint), eval_every=CURVE_EVERY)  # saves
    torch.manual_seed(seed)
    model = LightGCN()
    with PeakMemory() as mem:
        history = train_bpr(model, graph, config=config, callback=on_epoch)
    last = record["curve"][-1] if record["curve"] else {}
    record.update({f"recall@{K}": last.get(f"recall@{K}", math.nan),
                   f"ndcg@{K}": last.get(f"ndcg@{K}", math.nan),
                   "epochs": len(history.epochs), "train_seconds": sum(history.epoch_seconds),
                   "train_cpu_seconds": cpu["train"], "peak_mem_mb": mem.mb})
    if out is not None:
        save_json(record, out)
    record["model"] = model
    return record


# ---------------------------------------------------------------------------------------------
# The other models: Popularity, BPR-MF, GF-CF, BSPM (and ours), one row each
# ---------------------------------------------------------------------------------------------

# BPR-MF on Gowalla, trained like LightGCN (large batches, cosine decay); with or without hard
# negatives was chosen on the validation slice (python -m gnnedu.scale tune --only mf, from
# MF_CANDIDATES).
MF_RECIPE = dict(epochs=100, batch_size=16384, lr=1e-2, lr_schedule="cosine", reg=1e-4,
                 num_neg=1, neg_candidates=8)
# Models that `gnnedu bench --dataset gowalla` runs; the filters keep their published settings
# (gnnedu.filters).
GOWALLA_MODELS = ("popularity", "mf", "gfcf", "bspm", "lightgcn", "ease")
QUICK_MODELS = ("popularity", "gfcf", "bspm")  # the default of the bench: minutes, not hours
TUNED_BSPM = "bspm-tuned"   # BSPM with the settings tune_filters chose (models --only bspm-tuned)


def _gowalla_factory(name: str, kwargs: dict | None = None):
    """Builds the model (``kwargs``: its constructor's arguments); its ``fit`` records its CPU
    seconds in ``model.fit_cpu_seconds``."""
    from gnnedu.models import make_model

    def build():
        model = make_model("bspm" if name == TUNED_BSPM else name, **(kwargs or {}))
        fit = model.fit

        def timed_fit(*args, **kwargs):
            with Clock() as clock:
                out = fit(*args, **kwargs)
            model.fit_cpu_seconds = clock.cpu
            return out

        model.fit = timed_fit
        return model

    return build


def run_model(name: str, data, seed: int = 0, threads: int = 1, device: str = "cpu",
              progress: bool = False, topk_path=None, topk: int = 50,
              epochs: int | None = None) -> dict:
    """Fit one model on Gowalla's training data and evaluate it on the test file.

    Args:
        name: one of :data:`GOWALLA_MODELS` except "lightgcn" and "ease" (see
            :func:`run_lightgcn`, :func:`run_ease`).
        data: ``gnnedu.data.load_gowalla()``.
        seed: initialisation and sampling of trained models.
        threads: torch threads.
        device: "cpu" or "cuda" (filters and trained models).
        topk_path: if given, write every user's top-``topk`` there (:func:`save_topk`).
        epochs: overrides a trained model's epoch count (quick runs).

    Returns:
        The row of ``gnnedu.experiment.run_one`` (metrics at K = 10 and 20, ``train_seconds``,
        ``eval_seconds``, ``peak_mem_mb``) plus ``train_cpu_seconds`` (the fit),
        ``total_cpu_seconds`` (fit and evaluation), ``threads`` and ``device``.
    """
    from gnnedu import setup_notebook
    from gnnedu.experiment import run_one
    from gnnedu.models import EmbeddingRecommender

    setup_notebook(seed=seed, threads=threads)
    settings = None
    if name == TUNED_BSPM:
        settings = tuned_filter()
        if settings is None:
            raise ValueError("tune.json has no filter search yet: run "
                             "python -m gnnedu.scale tune --only filters first")
    factory = _gowalla_factory(name, settings)
    options = mf_recipe() if name == "mf" else {}
    if epochs and name == "mf":
        options["epochs"] = epochs
    if device != "cpu":
        options["device"] = device
    if isinstance(factory(), EmbeddingRecommender):
        options["progress"] = progress
    with Clock() as clock:
        row, model = run_one(factory, data.train, data.test, data.num_users, data.num_items,
                             seed, fit_options=options)
    row.update(key=name, train_cpu_seconds=model.fit_cpu_seconds, total_cpu_seconds=clock.cpu,
               threads=threads, device=device)
    if settings is not None:
        row.update(model="BSPM, tuned on validation", settings=settings)
    if topk_path is not None:
        save_topk(model, topk_path, topk)
    return row


@torch.no_grad()
def top_k_lists(model, k: int = 50, block: int = 1024) -> torch.Tensor:
    """Every user's top-``k`` items ``[num_users, k]`` with training items masked, scored
    ``block`` users at a time (the full score matrix of Gowalla would take 4.9 GB)."""
    from gnnedu.metrics import topk_masked

    graph = model.graph
    ptr = torch.zeros(graph.num_users + 1, dtype=torch.long)   # graph.users is sorted
    ptr[1:] = torch.bincount(graph.users, minlength=graph.num_users).cumsum(0)
    freeze = getattr(model, "frozen_scores", None)   # embedding models: propagate once
    out = []
    with freeze() if freeze is not None else contextlib.nullcontext():
        for lo in range(0, graph.num_users, block):
            hi = min(lo + block, graph.num_users)
            seen = torch.zeros(hi - lo, graph.num_items, dtype=torch.bool)
            seen[graph.users[ptr[lo]: ptr[hi]] - lo, graph.items[ptr[lo]: ptr[hi]]] = True
            out.append(topk_masked(model.score(torch.arange(lo, hi)), k, seen))
    return torch.cat(out)


def save_topk(model, path, k: int = 50) -> None:
    """Write every user's top-``k`` as CSV ``user_id,rank,item_id`` with the 0-based ids of
    Gowalla's ``test.txt`` (``gnnedu.bench.write_topk``, the layout of every ``--save-topk``)."""
    from gnnedu.bench import write_topk

    write_topk(top_k_lists(model, k), path)


# ---------------------------------------------------------------------------------------------
# EASE: measured on item subsamples, its cost extrapolated to the whole catalogue
# ---------------------------------------------------------------------------------------------

EASE_FRACTIONS = (0.05, 0.1, 0.2, 0.3)   # of the items (nested, seed 0)
EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0)
# The default; `python -m gnnedu.scale ease` uses the value chosen on the validation slice of
# the 10 % item subsample from EASE_LAMBDAS (tune.json, python -m gnnedu.scale tune --only ease).
EASE_LAMBDA = 200.0
FLOAT32_BYTES = 4


def ease_item_matrix(r, lam: float):
    """EASE's item-item matrix B (Steck, WWW 2019) from a sparse ``r`` ``[U, I]``, in float32
    and in place: G = R^T R + lam I (dense), its inverse P from a Cholesky factorisation
    (LAPACK ``spotrf``/``spotri``, overwriting G), then B = -P / diag(P) with a zero diagonal.
    One ``I x I`` float32 matrix is alive at a time (4 I^2 bytes: 6.7 GB for Gowalla)."""
    from scipy.linalg import lapack

    g = (r.T @ r).astype(np.float32).toarray()   # the only dense I x I array
    g[np.diag_indices_from(g)] += lam
    g, info = lapack.spotrf(g, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        raise ValueError(f"EASE: R^T R + lam I is not positive definite (LAPACK info {info})")
    g, info = lapack.spotri(g, lower=1, overwrite_c=1)
    _mirror_lower(g)                           # spotri fills one triangle
    diag = g.diagonal().copy()
    g /= -diag[None, :]                        # B_ij = -P_ij / P_jj
    g[np.diag_indices_from(g)] = 0.0
    return g


def _mirror_lower(g, block: int = 1024) -> None:
    """Copy the lower triangle of the square array ``g`` onto its upper triangle, in place and
    in blocks of rows (index arrays of the whole triangle would take twice g's memory)."""
    n = g.shape[0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        g[lo:hi, hi:] = g[hi:, lo:hi].T               # right of the diagonal block
        corner = g[lo:hi, lo:hi]
        upper = np.triu_indices(hi - lo, 1)
        corner[upper] = corner.T[upper]               # inside the diagonal block


def _ease_scores_eval(r, b, test, k: int = K, block: int = 2048) -> dict:
    """Recall/NDCG@k of scores R B (users in blocks), training items masked."""
    from gnnedu.metrics import evaluate

    class Scores:  # the score() interface of gnnedu.metrics.evaluate
        num_users, num_items = r.shape

        def score(self, users):
            return torch.from_numpy(np.asarray(r[users.numpy()] @ b))

    coo = r.tocoo()
    return evaluate(Scores(), (torch.from_numpy(coo.row.astype(np.int64)),
                               torch.from_numpy(coo.col.astype(np.int64))), test, ks=(k,),
                    batch_size=block)


def _ease_row(data, fraction: float, lam: float, seed: int = 0) -> dict:
    """EASE fitted on the ``fraction`` item subsample (all items at 1.0) and evaluated on its
    test pairs: size, fit time (wall, CPU), peak memory, Recall/NDCG@20."""
    import scipy.sparse as sp

    sub = data if fraction >= 1.0 else data.subsample(fraction, seed=seed, by="items")
    r = sp.csr_matrix(
        (torch.ones(len(sub.train)).numpy(), (sub.train["user"], sub.train["item"])),
        shape=(sub.num_users, sub.num_items), dtype="float32")
    with PeakMemory() as mem, Clock() as clock:
        b = ease_item_matrix(r, lam)
    with Clock() as eval_clock:
        metrics = _ease_scores_eval(r, b, sub.test)
    del b
    return {"fraction": fraction, "items": sub.num_items, "users": sub.num_users,
            "interactions": len(sub.train), "fit_seconds": clock.wall,
            "fit_cpu_seconds": clock.cpu, "peak_mem_mb": mem.mb,
            "eval_seconds": eval_clock.wall, "eval_cpu_seconds": eval_clock.cpu,
            "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"]}


def run_ease(data, fractions=EASE_FRACTIONS, lam: float = EASE_LAMBDA, seed: int = 0,
             threads: int = 1, measure_full: bool = False) -> dict:
    """EASE on nested item subsamples of Gowalla: fit time (wall, CPU), peak memory and test
    accuracy of each, and the fitted power laws extrapolated to the whole catalogue; with
    ``measure_full``, also EASE on all the items (about 7 GB: one 40,981 x 40,981 float32
    matrix), to set against the extrapolation.

    Returns ``{"lambda", "rows": [{"fraction", "items", "users", "interactions",
    "fit_seconds", "fit_cpu_seconds", "peak_mem_mb", "recall@20", "ndcg@20"}...],
    "fit": {"time_slope", "memory_slope", ...}, "full": {prediction for all items},
    "measured_full": a row for all the items, or None}``.
    """
    from gnnedu import setup_notebook

    setup_notebook(seed=seed, threads=threads)
    rows = [_ease_row(data, fraction, lam, seed) for fraction in fractions]
    items = [row["items"] for row in rows]
    time_fit = power_law(items, [row["fit_cpu_seconds"] for row in rows])
    mem_fit = power_law(items, [row["peak_mem_mb"] for row in rows])
    full = data.num_items
    return {
        "lambda": lam, "rows": rows, "threads": threads,
        "fit": {"time": time_fit, "memory": mem_fit},
        "full": {"items": full, "fit_cpu_seconds": predict(time_fit, full),
                 "peak_mem_mb": predict(mem_fit, full),
                 "matrix_mb": FLOAT32_BYTES * full ** 2 / 2 ** 20},
        "measured_full": _ease_row(data, 1.0, lam, seed) if measure_full else None,
        "environment": machine_info(),
    }


def power_law(x, y) -> dict:
    """Least-squares line through ``(log10 x, log10 y)``: ``{"slope", "intercept"}`` with
    y ~ 10^intercept * x^slope (the slope is the growth exponent)."""
    lx, ly = np.log10(np.asarray(x, float)), np.log10(np.asarray(y, float))
    slope, intercept = np.polyfit(lx, ly, 1)
    return {"slope": float(slope), "intercept": float(intercept)}


def predict(fit: dict, x: float) -> float:
    """The power law ``fit`` (from :func:`power_law`) at ``x``."""
    return float(10 ** (fit["intercept"] + fit["slope"] * math.log10(x)))


# ---------------------------------------------------------------------------------------------
# Cost growth: nested subsamples of Gowalla, MovieLens-100K as the small end
# ---------------------------------------------------------------------------------------------

COST_FRACTIONS = (0.1, 0.25, 0.5, 1.0)   # of Gowalla's users (nested, seed 0)
PYG_STEPS = 2  # PyG steps timed per size (an epoch is extrapolated from them)
# Sizes of the other LightGCN benchmarks (He et al. 2020, Table 2) and a 100 M-interaction
# catalogue (an assumed shape: 5 M users, 1 M items), for the extrapolation on paper.
OTHER_SIZES = {
    "Yelp2018": dict(users=31_668, items=38_048, interactions=1_561_406),
    "Amazon-Book": dict(users=52_643, items=91_599, interactions=2_984_108),
    "100 M interactions": dict(users=5_000_000, items=1_000_000, interactions=100_000_000),
}


def _cost_points(data, fractions, ml=None):
    """``[(label, train, test, num_users, num_items)]``: MovieLens-100K (protocol P1, seed 0)
    if ``ml`` is given, then the Gowalla subsamples."""
    points = []
    if ml is not None:
        from gnnedu.data import load_split

        train, test = load_split(ml, "random", 0)
        points.append(("MovieLens-100K", train, test, ml.num_users, ml.num_items))
    for fraction in fractions:
        sub = data if fraction == 1 else data.subsample(fraction, seed=0)
        points.append((f"Gowalla {fraction:.0%}", sub.train, sub.test, sub.num_users,
                       sub.num_items))
    return points


def _pyg_step_seconds(graph, batch: int, steps: int, seed: int = 0) -> tuple[float, float]:
    """Median wall and CPU seconds of one training step of PyG's ``LightGCN`` over
    ``edge_index`` (per-edge messages), same batch, negatives and loss as ours."""
    import statistics

    from torch_geometric.nn.models import LightGCN as PygLightGCN

    from gnnedu.train import known_pairs, sample_negatives

    gen = torch.Generator().manual_seed(seed)
    model = PygLightGCN(num_nodes=graph.num_nodes, embedding_dim=64, num_layers=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    known = known_pairs(graph)
    walls, cpus = [], []
    for _ in range(steps):
        idx = torch.randint(graph.num_interactions, (batch,), generator=gen)
        users, pos = graph.users[idx], graph.items[idx]
        neg = sample_negatives(users, graph.num_items, 1, known, gen)[:, 0]
        label_index = torch.stack([torch.cat([users, users]),
                                   graph.num_users + torch.cat([pos, neg])])
        with Clock() as clock:
            optimizer.zero_grad()
            pos_rank, neg_rank = model(graph.edge_index, label_index).chunk(2)
            loss = model.recommendation_loss(pos_rank, neg_rank, node_id=label_index.unique(),
                                             lambda_reg=1e-4)
            loss.backward()
            optimizer.step()
        walls.append(clock.wall)
        cpus.append(clock.cpu)
    return statistics.median(walls), statistics.median(cpus)


def measure_costs(data, fractions=COST_FRACTIONS, ml=None, batch: int | None = None,
                  pyg_steps: int = PYG_STEPS, threads: int = 1, out=None,
                  progress: bool = True) -> dict:
    """Time and memory of each model's expensive part at each size.

    For each point (MovieLens-100K, then Gowalla's nested user subsamples): one LightGCN epoch
    at the recipe's batch size (wall, CPU, peak memory), PyG's ``LightGCN`` per step (x the
    steps of an epoch), the fit (SVD) and the scoring of all users of GF-CF and BSPM, and the
    full-ranking evaluation of the trained LightGCN. Rows are saved to ``out`` after each point
    and points already there are skipped (resume). Returns ``{"rows": [...], "slopes": ...}``.
    """
    from gnnedu import setup_notebook
    from gnnedu.filters import BSPM, GFCF
    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate
    from gnnedu.models import LightGCN
    from gnnedu.train import TrainConfig, train_bpr

    batch = batch or LIGHTGCN_RECIPE["batch_size"]
    done = {}
    if out is not None and Path(out).exists():
        done = {row["label"]: row for row in json.loads(Path(out).read_text()).get("rows", [])}
    rows = []
    points = _cost_points(data, fractions, ml)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(points), desc="cost growth", unit="size")
    for label, train, test, num_users, num_items in points:
        if label in done:
            rows.append(done[label])
            if bar is not None:
                bar.update(1)
            continue
        setup_notebook(seed=0, threads=threads)
        graph = build_graph(train, num_users, num_items)
        row = {"label": label, "users": num_users, "items": num_items,
               "interactions": graph.num_interactions,
               "steps_per_epoch": math.ceil(graph.num_interactions / batch)}
        recipe = {**LIGHTGCN_RECIPE, "epochs": 1, "batch_size": batch}
        model = LightGCN()
        with PeakMemory() as mem, Clock() as clock:
            train_bpr(model, graph, config=TrainConfig(**recipe, seed=0))
        row.update(lightgcn_epoch_seconds=clock.wall, lightgcn_epoch_cpu_seconds=clock.cpu,
                   lightgcn_peak_mem_mb=mem.mb)
        with Clock() as clock, model.frozen_scores():
            evaluate(model, graph, test, ks=(K,))
        row.update(eval_seconds=clock.wall, eval_cpu_seconds=clock.cpu)
        wall, cpu = _pyg_step_seconds(graph, batch, pyg_steps)
        row.update(pyg_step_seconds=wall, pyg_step_cpu_seconds=cpu,
                   pyg_epoch_cpu_seconds=cpu * row["steps_per_epoch"])
        for name, filt in (("gfcf", GFCF()), ("bspm", BSPM())):
            with PeakMemory() as mem, Clock() as clock:
                filt.fit(graph)
            row.update({f"{name}_fit_seconds": clock.wall, f"{name}_fit_cpu_seconds": clock.cpu,
                        f"{name}_fit_peak_mem_mb": mem.mb})
            with PeakMemory() as mem, Clock() as clock:
                evaluate(filt, graph, test, ks=(K,))
            row.update({f"{name}_eval_seconds": clock.wall,
                        f"{name}_eval_cpu_seconds": clock.cpu,
                        f"{name}_eval_peak_mem_mb": mem.mb})
            del filt
        rows.append(row)
        if out is not None:
            save_json({"rows": rows, "batch_size": batch, "threads": threads,
                       "environment": machine_info()}, out)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    result = {"rows": rows, "batch_size": batch, "threads": threads,
              "slopes": cost_slopes(rows), "environment": machine_info()}
    if out is not None:
        save_json(result, out)
    return result


COST_SERIES = {  # column of a cost row -> what it measures (the legend of the figure)
    "lightgcn_epoch_cpu_seconds": "LightGCN epoch (ours)",
    "pyg_epoch_cpu_seconds": "LightGCN epoch (PyG LGConv)",
    "gfcf_fit_cpu_seconds": "GF-CF fit (SVD, k=256)",
    "bspm_fit_cpu_seconds": "BSPM fit (SVD, k=448)",
    "gfcf_eval_cpu_seconds": "GF-CF scoring + ranking",
    "bspm_eval_cpu_seconds": "BSPM scoring + ranking",
    "eval_cpu_seconds": "LightGCN evaluation",
}


def cost_slopes(rows, series=COST_SERIES, x: str = "interactions") -> dict:
    """The growth exponent of each series against ``x`` over the Gowalla points
    (:func:`power_law` on the rows whose label starts with "Gowalla")."""
    gowalla = [row for row in rows if row["label"].startswith("Gowalla")]
    if len(gowalla) < 2:
        return {}
    xs = [row[x] for row in gowalla]
    return {column: power_law(xs, [row[column] for row in gowalla]) for column in series
            if all(row.get(column, 0) > 0 for row in gowalla)}


# ---------------------------------------------------------------------------------------------
# Extrapolation on paper, and the figures of notebook 11
# ---------------------------------------------------------------------------------------------

DIM = 64
GIB = 2 ** 30


def extrapolate(costs: dict, ease: dict | None = None, sizes=None) -> list[dict]:
    """Memory (GiB, float32) and time (CPU hours on one core) of each piece at other sizes:
    Gowalla (measured) then :data:`OTHER_SIZES`. Times follow the power laws fitted on the
    Gowalla subsamples (``costs["slopes"]``, per interaction; EASE per item), with the
    LightGCN epoch taken as (steps per epoch) x (seconds per step), a step growing with the
    interactions. Memory is counted from the shapes (no fit needed). EASE's fit time, when
    ``ease`` holds a measurement on all of Gowalla's items (``measured_full``), is that
    measurement scaled by the cube of the number of items (the inversion); else the power law
    fitted on the item subsamples."""
    rows = [r for r in costs["rows"] if r["label"].startswith("Gowalla")]
    full = max(rows, key=lambda r: r["interactions"])
    sizes = {"Gowalla": dict(users=full["users"], items=full["items"],
                             interactions=full["interactions"]), **(sizes or OTHER_SIZES)}
    batch = costs.get("batch_size", LIGHTGCN_RECIPE["batch_size"])
    step = power_law([r["interactions"] for r in rows],
                     [r["lightgcn_epoch_cpu_seconds"] / r["steps_per_epoch"] for r in rows])
    evaluation = power_law([r["users"] * r["items"] for r in rows],
                           [r["eval_cpu_seconds"] for r in rows])
    out = []
    for name, size in sizes.items():
        users, items, edges = size["users"], size["items"], size["interactions"]
        nodes = users + items
        steps = math.ceil(edges / batch)
        row = {
            "dataset": name, **size,
            "embedding_gib": nodes * DIM * FLOAT32_BYTES / GIB,
            "training_state_gib": 4 * nodes * DIM * FLOAT32_BYTES / GIB,
            "adjacency_gib": (2 * edges * 8 + (nodes + 1) * 4) / GIB,
            "item_item_gib": items ** 2 * FLOAT32_BYTES / GIB,
            "score_matrix_gib": users * items * FLOAT32_BYTES / GIB,
            "lightgcn_epoch_hours": steps * predict(step, edges) / 3600,
            "evaluation_hours": predict(evaluation, users * items) / 3600,
        }
        measured = (ease or {}).get("measured_full")
        if measured:
            row["ease_fit_hours"] = (measured["fit_cpu_seconds"]
                                     * (items / measured["items"]) ** 3 / 3600)
        elif ease is not None:
            row["ease_fit_hours"] = predict(ease["fit"]["time"], items) / 3600
        out.append(row)
    return out


def plot_responses(cutoff: float = 0.5):
    """The gains h(lam) of the filters of this notebook over the item graph's spectrum, and
    LightGCN's over A_hat's (two panels)."""
    from gnnedu.filters import frequency_response, lightgcn_response
    from gnnedu.plot import new_figure

    fig, (left, right) = new_figure(1, 2, figsize=(10.0, 3.8))
    mu = np.linspace(-1, 1, 201)
    for layers in (1, 2, 3, 4):
        right.plot(mu, lightgcn_response(mu, layers), label=f"L = {layers}")
    right.set(title="LightGCN: mean of A_hat^0..A_hat^L", xlabel="eigenvalue mu of A_hat",
              ylabel="gain")
    lam = np.linspace(0, 1, 201)
    for name, label in (("linear", "linear, r P~"), ("lowpass", "ideal low-pass"),
                        ("gfcf", "GF-CF (alpha 0.3)"), ("bspm", "BSPM (beta 0.2, T 2.5)")):
        left.plot(lam, frequency_response(name, lam, cutoff=cutoff), label=label)
    left.set(title="Filters on the item graph", xlabel="eigenvalue lambda of P~ (1 = smooth)",
             ylabel="gain")
    for ax in (left, right):
        ax.axhline(0, color="#999999", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


LEGEND_INSIDE = 6   # plot_curves: more lines than this and the legend moves outside


def plot_curves(runs: dict, reference: float | None = None, metric: str = "recall@20",
                clock: str = "train_cpu_seconds", title: str = "", budget_minutes=None):
    """Curves of ``metric`` against training time (minutes of ``clock``): ``runs`` maps a
    label to a list of curve points (``run_lightgcn``'s ``curve``)."""
    from gnnedu.plot import new_figure

    many = len(runs) > LEGEND_INSIDE   # then the legend goes to the right of the axes
    fig, ax = new_figure(figsize=(9.5, 4.2) if many else (6.8, 4.2))
    for i, (label, curve) in enumerate(runs.items()):
        # the colour cycle has 8 colours: the next 8 lines are dashed, and so on
        ax.plot([p[clock] / 60 for p in curve], [p[metric] for p in curve], marker="o",
                markersize=3, label=label, ls=("-", "--", ":")[i // 8 % 3])
    if reference is not None:
        ax.axhline(reference, color="#D55E00", ls="--", lw=1,
                   label=f"published LightGCN ({reference})")
    if budget_minutes is not None:
        ax.axvline(budget_minutes, color="#999999", ls=":", lw=1,
                   label=f"{budget_minutes} minutes")
    xlabel = {"train_cpu_seconds": "training time (CPU minutes)",
              "train_seconds": "training time (wall-clock minutes)"}.get(clock, clock)
    ax.set(title=title, xlabel=xlabel, ylabel=metric)
    ax.grid(alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(fontsize=8)
    return fig


def plot_costs(costs: dict, ease: dict | None = None, series=COST_SERIES):
    """Log-log cost growth: each series against the number of training interactions (left),
    EASE's fit against the number of items (right); slopes (growth exponents) in the legends.
    The Gowalla samples of a series are joined by a line (the slope is fitted on them); other
    points (MovieLens-100K: as many interactions as Gowalla's 10 %, far fewer items) are
    hollow squares of the same colour, not joined."""
    from matplotlib.ticker import NullFormatter

    from gnnedu.plot import new_figure

    rows = costs["rows"]
    slopes = costs.get("slopes") or cost_slopes(rows)
    fig, (left, right) = new_figure(1, 2, figsize=(11.0, 4.4))
    for column, label in series.items():
        gowalla = [r for r in rows if r.get(column) and r["label"].startswith("Gowalla")]
        others = [r for r in rows if r.get(column) and not r["label"].startswith("Gowalla")]
        slope = slopes.get(column, {}).get("slope")
        (line,) = left.plot([r["interactions"] for r in gowalla], [r[column] for r in gowalla],
                            marker="o", markersize=4,
                            label=label + (f" (slope {slope:.2f})" if slope is not None else ""))
        if others:
            left.plot([r["interactions"] for r in others], [r[column] for r in others],
                      marker="s", markersize=6, ls="none", mfc="none", color=line.get_color())
    others = sorted({r["label"] for r in rows if not r["label"].startswith("Gowalla")})
    left.set(xscale="log", yscale="log", title="Cost against the number of interactions",
             xlabel="training interactions" + (f" (hollow squares: {', '.join(others)})"
                                               if others else ""),
             ylabel="CPU seconds (one thread)")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=7)
    if ease is not None:
        items = [r["items"] for r in ease["rows"]]
        for key, label, unit in (("fit_cpu_seconds", "fit time", "CPU s"),
                                 ("peak_mem_mb", "peak memory", "MB")):
            fit = ease["fit"]["time" if key == "fit_cpu_seconds" else "memory"]
            right.plot(items, [r[key] for r in ease["rows"]], marker="o", markersize=4,
                       label=f"EASE {label}, {unit} (slope {fit['slope']:.2f})")
            full = ease["full"]["items"]
            right.plot([items[-1], full], [ease["rows"][-1][key], predict(fit, full)], ls=":",
                       color=right.lines[-1].get_color())
        right.axvline(ease["full"]["items"], color="#999999", ls=":", lw=1,
                      label=f"all {ease['full']['items']:,} items (extrapolated)")
        right.set(xscale="log", yscale="log", title="EASE against the number of items",
                  xlabel="items", ylabel="CPU seconds or MB")
        right.xaxis.set_minor_formatter(NullFormatter())   # the minor labels overlap
        right.grid(alpha=0.3, which="both")
        right.legend(fontsize=7)
    return fig


def _recipe_label(recipe: dict) -> str:
    """What tells a recipe apart: epochs, negatives, L2, and the batch, learning rate or sampler
    where they differ from :data:`LIGHTGCN_RECIPE`'s."""
    m = recipe.get("neg_candidates", 1)
    parts = [f"{recipe['epochs']} epochs",
             f"{recipe.get('num_neg', 1)} x " + (f"best of {m}" if m > 1 else "uniform"),
             f"L2 {recipe.get('reg', 0):g}"]
    if recipe["batch_size"] != LIGHTGCN_RECIPE["batch_size"]:
        parts.append(f"batch {recipe['batch_size']:,}")
    schedule = recipe.get("lr_schedule", "constant")
    if (recipe["lr"], schedule) != (LIGHTGCN_RECIPE["lr"], LIGHTGCN_RECIPE["lr_schedule"]):
        parts.append(f"lr {recipe['lr']:g} {schedule}")
    if recipe.get("positives", "interactions") == "users":
        parts.append("positives by user")
    return ", ".join(parts)


def validation_runs() -> dict:
    """The LightGCN validation runs (``gnnedu/results/gowalla/validation/``), by a label that
    describes each recipe, ordered by number of hard-negative candidates, then epochs."""
    records = [json.loads(path.read_text())
               for path in sorted((RESULTS / "validation").glob("lightgcn_*.json"))]
    records.sort(key=lambda r: (r["recipe"].get("neg_candidates", 1), r["recipe"]["epochs"]))
    return {_recipe_label(record["recipe"]): record for record in records}


def chosen_recipe(runs: dict | None = None) -> dict:
    """The rule that chose :data:`LIGHTGCN_RECIPE`: among the validation runs that finished
    their schedule (``validation_runs()``), the one whose last epoch has the highest Recall@20.
    The last epoch, not the best one: the test run trains the same schedule to its end."""
    runs = validation_runs() if runs is None else runs
    finished = [r for r in runs.values() if r["curve"]
                and r["curve"][-1]["epoch"] == r["recipe"]["epochs"]]
    if not finished:
        raise ValueError("no finished validation run: python -m gnnedu.scale lightgcn "
                         "--validation --recipe '{...}'")
    return dict(max(finished, key=lambda r: r["curve"][-1][f"recall@{K}"])["recipe"])


def final_table():
    """One row per model on Gowalla (DataFrame): Recall@20, NDCG@20, training CPU minutes
    (fit; for the filters the SVD), wall minutes, peak memory (MB) and how the row was made.

    Only the files present are read (``models.json`` is required). A LightGCN run stopped before
    its last epoch reports its last curve point (never the best one, which was read off the test
    file); its peak memory then comes from the full-size row of ``costs.json`` if there is one.
    """
    import pandas as pd

    rows = []
    models = load("models")
    for row in models["runs"]:
        rows.append({"model": row["model"], "Recall@20": row["recall@20"],
                     "NDCG@20": row["ndcg@20"],
                     "train CPU min": row.get("train_cpu_seconds", row["train_seconds"]) / 60,
                     "train wall min": row["train_seconds"] / 60,
                     "peak MB": row["peak_mem_mb"],
                     "how": "; ".join(["measured (models.json)"] + (
                         [row["note"]] if row.get("note") else []))})
    if (RESULTS / "lightgcn.json").exists():
        lightgcn = load("lightgcn")
        last = lightgcn["curve"][-1] if lightgcn.get("curve") else {}
        finished = f"recall@{K}" in lightgcn
        peak, peak_note = lightgcn.get("peak_mem_mb", math.nan), ""
        if not finished and (RESULTS / "costs.json").exists():
            full = [r for r in load("costs")["rows"] if r["label"] == "Gowalla 100%"]
            if full:
                peak = full[0]["lightgcn_peak_mem_mb"]
                peak_note = "; peak MB: one epoch, costs.json"
        rows.append({
            "model": "LightGCN",
            "Recall@20": lightgcn.get(f"recall@{K}", last.get(f"recall@{K}", math.nan)),
            "NDCG@20": lightgcn.get(f"ndcg@{K}", last.get(f"ndcg@{K}", math.nan)),
            "train CPU min": lightgcn.get("train_cpu_seconds",
                                          last.get("train_cpu_seconds", math.nan)) / 60,
            "train wall min": lightgcn.get("train_seconds",
                                           last.get("train_seconds", math.nan)) / 60,
            "peak MB": peak,
            "how": (f"measured, {lightgcn['epochs']} epochs (lightgcn.json)" if finished else
                    f"measured, stopped after epoch {last.get('epoch')} of "
                    f"{lightgcn['recipe']['epochs']} (lightgcn.json{peak_note})")})
    if (RESULTS / "ease.json").exists():
        ease = load("ease")
        measured = ease.get("measured_full")
        if measured:
            rows.append({"model": "EASE", "Recall@20": measured[f"recall@{K}"],
                         "NDCG@20": measured[f"ndcg@{K}"],
                         "train CPU min": measured["fit_cpu_seconds"] / 60,
                         "train wall min": measured["fit_seconds"] / 60,
                         "peak MB": measured["peak_mem_mb"],
                         "how": "measured on all items (ease.json)"})
        else:
            rows.append({"model": "EASE", "Recall@20": math.nan, "NDCG@20": math.nan,
                         "train CPU min": ease["full"]["fit_cpu_seconds"] / 60,
                         "train wall min": math.nan, "peak MB": ease["full"]["peak_mem_mb"],
                         "how": f"extrapolated from {len(ease['rows'])} item subsamples "
                                "(ease.json)"})
    for key, ref in REFERENCE.items():
        rows.append({"model": f"{ref['source']}: {key}", "Recall@20": ref["recall@20"],
                     "NDCG@20": ref["ndcg@20"], "how": "published"})
    return pd.DataFrame(rows).set_index("model")


# ---------------------------------------------------------------------------------------------
# Data-parallel training: 1 and 2 processes (gnnedu.distributed, torchrun)
# ---------------------------------------------------------------------------------------------

# (dataset, share of the users, global batch) of each timing run
DISTRIBUTED_RUNS = (("ml-100k", 1.0, 4096), ("gowalla", 0.25, 16384), ("gowalla", 1.0, 16384))


def measure_distributed(nprocs=(1, 2), runs=DISTRIBUTED_RUNS, epochs: int = 2, data=None,
                        out=None) -> dict:
    """One LightGCN training run per (dataset, processes), launched with ``torchrun`` on this
    machine (gloo, one thread per process): seconds per epoch, process 0's CPU seconds and the
    final metrics, which must agree across process counts. Saved to ``out`` after each run."""
    from gnnedu.distributed import launch

    rows = []
    for dataset, fraction, batch in runs:
        for n in nprocs:
            args = ["--dataset", dataset, "--epochs", str(epochs), "--batch-size", str(batch),
                    "--lr", "0.01", "--reg", "1e-4", "--subsample", str(fraction)]
            if data is not None:
                args += ["--data", str(data)]
            with Clock() as clock:
                result = launch(n, args)
            rows.append({"dataset": dataset, "subsample": fraction, "batch_size": batch,
                         "processes": n, "interactions": result["interactions"],
                         "epoch_seconds": result["epoch_seconds"],
                         "train_seconds": result["train_seconds"],
                         "train_cpu_seconds_rank0": result["train_cpu_seconds_rank0"],
                         "launch_seconds": clock.wall, "recall@20": result["recall@20"],
                         "ndcg@20": result["ndcg@20"],
                         "parameters_sha256": result["parameters_sha256"]})
            if out is not None:
                save_json({"rows": rows, "epochs": epochs, "environment": machine_info()}, out)
    return {"rows": rows, "epochs": epochs, "environment": machine_info()}


# ---------------------------------------------------------------------------------------------
# Choosing settings on the validation slice (never on the test file)
# ---------------------------------------------------------------------------------------------

TUNE_USERS = 4000        # validation users scored per filter setting (the same for all)
# BSPM's settings searched one at a time from the published ones (sharpening time, then the
# low-pass weight, then the rank), keeping the best value of each before the next.
BSPM_SEARCH = (("sharpen_time", (1.5, 2.0, 2.5, 3.0, 3.5)), ("beta", (0.1, 0.2, 0.3, 0.4)),
               ("k", (256, 448, 640)))
MF_CANDIDATES = (dict(MF_RECIPE, neg_candidates=1), dict(MF_RECIPE, neg_candidates=8))


def _tuned(part: str, path=None) -> dict | None:
    """What ``tune.json`` (or ``path``) holds for ``part`` ("mf", "filters", ...), or None."""
    path = Path(path) if path is not None else RESULTS / "tune.json"
    return json.loads(path.read_text()).get(part) if path.exists() else None


def mf_recipe(path=None) -> dict:
    """BPR-MF's training recipe: the candidate that ``tune_mf`` chose on the validation slice
    (``tune.json``), stopped after its best validation epoch (``stop_epoch``; the learning-rate
    schedule still spans the recipe's ``epochs``, as in the validation run); :data:`MF_RECIPE`
    when the file has no choice yet."""
    tuned = _tuned("mf", path)
    if not tuned:
        return dict(MF_RECIPE)
    best = tuned["best"]
    return {**{k: v for k, v in best.items() if k in MF_RECIPE},
            "stop_epoch": int(best["best_epoch"])}


def tuned_filter(path=None) -> dict | None:
    """BSPM's settings chosen by ``tune_filters`` on the validation slice (``tune.json``), or
    None when the file holds no filter search yet."""
    tuned = _tuned("filters", path)
    return dict(tuned["best"]) if tuned else None


def validation_split(data, seed: int = 0):
    """``(fit, val)``: 10 % of each user's training items held out (``carve_validation``)."""
    from gnnedu.train import carve_validation

    fit, val = carve_validation(data.train.assign(rating=1, timestamp=0), 0.1, seed=seed)
    return fit[["user", "item"]], val[["user", "item"]]


def _val_users(val, n: int, seed: int = 0):

    users = np.unique(val["user"].to_numpy())
    return np.sort(np.random.default_rng(seed).choice(users, min(n, len(users)), replace=False))


def tune_filters(data, users: int = TUNE_USERS, search=BSPM_SEARCH, log=print) -> dict:
    """Coordinate search of BSPM's settings on the validation slice: one SVD (the largest rank)
    shared by all settings (``ItemFilter.fit_like``), ``users`` validation users scored.
    Returns ``{"trials": [{settings, "recall@20", "ndcg@20"}...], "best": settings}``."""
    from gnnedu.filters import BSPM, GFCF
    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate

    fit, val = validation_split(data)
    graph = build_graph(fit, data.num_users, data.num_items)
    chosen = _val_users(val, users)
    ranks = dict(search).get("k", (448,))
    base = BSPM(k=max(ranks + (256, 448))).fit(graph)   # GF-CF: 256, BSPM: 448
    trials = []

    def trial(model, settings):
        scores = evaluate(model.fit_like(base), graph, val, ks=(K,), users=chosen)
        row = {**settings, f"recall@{K}": scores[f"recall@{K}"], f"ndcg@{K}": scores[f"ndcg@{K}"]}
        trials.append(row)
        log(f"validation {row}")
        return row[f"recall@{K}"]

    trial(GFCF(), {"model": "gfcf"})
    best = {"k": 448, "beta": 0.2, "sharpen_time": 2.5}
    for name, values in search:
        scores = {}
        for value in values:
            settings = {**best, name: value}
            scores[value] = trial(BSPM(**settings), {"model": "bspm", **settings})
        best[name] = max(scores, key=scores.get)
    return {"users": len(chosen), "trials": trials, "best": best}


def tune_mf(data, candidates=MF_CANDIDATES, seed: int = 0, log=print) -> dict:
    """BPR-MF recipes on the validation slice, evaluated every 10 epochs (early stopping with
    patience 3): the best epoch and its validation Recall/NDCG@20."""
    from gnnedu import setup_notebook
    from gnnedu.graph import build_graph
    from gnnedu.models import MF

    fit, val = validation_split(data)
    graph = build_graph(fit, data.num_users, data.num_items)
    trials = []
    for recipe in candidates:
        setup_notebook(seed=seed)
        model = MF().fit(graph, val=val, seed=seed, eval_every=10, patience=3, ks=(K,),
                         metric=f"recall@{K}", **recipe)
        best = next(row for row in model.history.val if row["epoch"] == model.history.best_epoch)
        trials.append({**recipe, "best_epoch": model.history.best_epoch,
                       f"recall@{K}": best[f"recall@{K}"], f"ndcg@{K}": best[f"ndcg@{K}"]})
        log(f"validation {trials[-1]}")
    return {"trials": trials, "best": max(trials, key=lambda t: t[f"recall@{K}"])}


def tune_ease(data, lambdas=EASE_LAMBDAS, fraction: float = 0.1, log=print) -> dict:
    """EASE's lambda on the validation slice of the ``fraction`` item subsample."""
    import scipy.sparse as sp

    sub = data.subsample(fraction, seed=0, by="items")
    fit, val = validation_split(sub)
    r = sp.csr_matrix((torch.ones(len(fit)).numpy(), (fit["user"], fit["item"])),
                      shape=(sub.num_users, sub.num_items), dtype="float32")
    trials = []
    for lam in lambdas:
        scores = _ease_scores_eval(r, ease_item_matrix(r, lam), val)
        trials.append({"lambda": lam, f"recall@{K}": scores[f"recall@{K}"],
                       f"ndcg@{K}": scores[f"ndcg@{K}"]})
        log(f"validation {trials[-1]}")
    return {"fraction": fraction, "items": sub.num_items, "trials": trials,
            "best": max(trials, key=lambda t: t[f"recall@{K}"])["lambda"]}


# ---------------------------------------------------------------------------------------------
# Ours: the tuned filter plus the trained LightGCN (gnnedu.filters.Hybrid)
# ---------------------------------------------------------------------------------------------

HYBRID_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


def lightgcn_from_checkpoint(path, graph):
    """The LightGCN of a finished ``run_lightgcn`` (its last epoch), bound to ``graph``."""
    from gnnedu.models import LightGCN

    state = torch.load(path, weights_only=False)
    model = LightGCN()
    model.attach(graph)
    model.load_state_dict(state["model"])
    return model.eval()


def _checkpoint_of(recipe: dict, seed: int = 0, validation: bool = False) -> Path:
    name = ("val-" if validation else "") + "-".join(f"{k}{v}" for k, v in sorted(recipe.items()))
    return _checkpoint_dir() / f"lightgcn-s{seed}-{name}.pt"


def tune_hybrid(data, filter_settings: dict, checkpoint, weights=HYBRID_WEIGHTS,
                users: int = TUNE_USERS, log=print) -> dict:
    """The weight of LightGCN in ``Hybrid`` on the validation slice: BSPM with
    ``filter_settings`` fitted on the fit part, the LightGCN of a validation run
    (``checkpoint``: trained on the same fit part), ``users`` validation users."""
    from gnnedu.filters import BSPM, Hybrid, ScoreCache
    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate

    fit, val = validation_split(data)
    graph = build_graph(fit, data.num_users, data.num_items)
    chosen = _val_users(val, users)
    item_filter = ScoreCache(BSPM(**filter_settings).fit(graph))
    lightgcn = lightgcn_from_checkpoint(checkpoint, graph)
    trials = []
    with lightgcn.frozen_scores():
        cached = ScoreCache(lightgcn)
        for weight in weights:
            model = Hybrid(item_filter, cached, weight=weight).fit(graph)
            scores = evaluate(model, graph, val, ks=(K,), users=chosen)
            trials.append({"weight": weight, f"recall@{K}": scores[f"recall@{K}"],
                           f"ndcg@{K}": scores[f"ndcg@{K}"]})
            log(f"validation {trials[-1]}")
    return {"users": len(chosen), "filter": filter_settings, "trials": trials,
            "best": max(trials, key=lambda t: t[f"recall@{K}"])["weight"]}


def run_hybrid(data, filter_settings: dict, weight: float, checkpoint, seed: int = 0,
               topk_path=None, compare_to=None) -> dict:
    """Ours on the test file: BSPM with ``filter_settings`` fitted on all the training data plus
    ``weight`` x the final LightGCN (``checkpoint`` of the ``lightgcn`` run); a bench row.
    ``compare_to``: an unfitted model (e.g. ``BSPM()``, the published settings) to compare with
    user by user (``users_paired_test``, under ``"paired_over_users"``)."""
    from gnnedu import setup_notebook
    from gnnedu.filters import BSPM, Hybrid
    from gnnedu.graph import build_graph
    from gnnedu.metrics import KS, METRIC_NAMES, per_user_metrics

    setup_notebook(seed=seed)
    graph = build_graph(data.train, data.num_users, data.num_items)
    lightgcn = lightgcn_from_checkpoint(checkpoint, graph)
    with PeakMemory() as mem, Clock() as fit_clock:
        model = Hybrid(BSPM(**filter_settings), lightgcn, weight=weight).fit(graph)
    with Clock() as eval_clock, lightgcn.frozen_scores():
        per_user = per_user_metrics(model, graph, data.test, ks=KS)
        if topk_path is not None:
            save_topk(model, topk_path)
    row = {"model": "BSPM + LightGCN", "key": "hybrid", "seed": seed}
    row.update({f"{m}@{k}": float(per_user[f"{m}@{k}"].mean()) for k in KS
                for m in METRIC_NAMES})
    row.update(users=len(per_user["users"]), train_seconds=fit_clock.wall,
               train_cpu_seconds=fit_clock.cpu, eval_seconds=eval_clock.wall,
               total_cpu_seconds=fit_clock.cpu + eval_clock.cpu, peak_mem_mb=mem.mb,
               weight=weight, filter=filter_settings,
               note="fit = BSPM's SVD; add the LightGCN run's training time")
    if compare_to is not None:   # the same users scored by the filter it must beat
        other = per_user_metrics(compare_to.fit(graph), graph, data.test, ks=(K,))
        row["paired_over_users"] = users_paired_test(per_user, other)
    return row


def users_paired_test(per_user_a: dict, per_user_b: dict, metric: str = f"recall@{K}") -> dict:
    """A paired t-test of two models over the same test users (``per_user_metrics`` of each):
    the difference A - B of ``metric`` per user, its mean, its 95 % interval and the p-value
    (``scipy.stats.ttest_rel``), and the users where A is above, below or equal to B. It
    measures how sure the gap is given these users, not given another training seed."""
    from scipy import stats

    from gnnedu.experiment import paired_test

    if not np.array_equal(per_user_a["users"], per_user_b["users"]):
        raise ValueError("the two evaluations cover different users")

    def rows(per_user):  # one paired unit per test user, numbered as paired_test's "seeds"
        return [{"seed": int(u), metric: float(v)}
                for u, v in zip(per_user["users"], per_user[metric])]

    test = paired_test(rows(per_user_a), rows(per_user_b), metric, method="t")
    diff = per_user_a[metric] - per_user_b[metric]
    half = float(stats.t.ppf(0.975, test["n"] - 1)) * test["std_diff"] / math.sqrt(test["n"])
    return {"metric": metric, "users": test["n"], "mean_a": test["mean_a"],
            "mean_b": test["mean_b"], "mean_diff": test["mean_diff"],
            "ci95": [test["mean_diff"] - half, test["mean_diff"] + half],
            "p_value": test["p_value"], "above": test["wins"], "below": int((diff < 0).sum()),
            "equal": int((diff == 0).sum())}


# ---------------------------------------------------------------------------------------------
# gnnedu bench --dataset gowalla
# ---------------------------------------------------------------------------------------------

MOVIELENS_ONLY = ("--split", "--threshold", "--test-ratio", "--protocol", "--task",
                  "--save-split", "--new-user-ks", "--densities", "--save-predictions",
                  "--resume")


def _given(tokens, *names) -> bool:
    return any(t == n or t.startswith(n + "=") for t in tokens for n in names)


def _lightgcn_row(data, seed, threads, device, progress, epochs=None) -> tuple[dict, object]:
    """Train LightGCN with the recipe and evaluate it at K = 10 and 20, as a bench row."""
    from gnnedu.graph import build_graph
    from gnnedu.metrics import KS, METRIC_NAMES, evaluate

    recipe = dict(LIGHTGCN_RECIPE, **({"epochs": epochs} if epochs else {}))
    record = run_lightgcn(data, seed, recipe, threads=threads, device=device, progress=progress,
                          curve_every=recipe["epochs"])
    model = record["model"]
    graph = build_graph(data.train, data.num_users, data.num_items)
    with Clock() as clock, model.frozen_scores():
        metrics = evaluate(model, graph, data.test, ks=KS)
    row = {"model": model.name, "key": "lightgcn", "seed": seed}
    row.update({f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in METRIC_NAMES})
    row.update(users=metrics["users"], train_seconds=record["train_seconds"],
               train_cpu_seconds=record["train_cpu_seconds"], eval_seconds=clock.wall,
               peak_mem_mb=record["peak_mem_mb"], epochs=record["epochs"], threads=threads,
               device=device)
    return row, model


def bench_main(args, argv) -> int:
    """``gnnedu bench --dataset gowalla ...`` (the parser is ``gnnedu.bench.build_parser``).
    Returns the exit status: 2 for options that do not apply, 1 for missing or bad data."""
    import os
    import sys

    from gnnedu.bench import markdown_table
    from gnnedu.data import DataError, load_gowalla
    from gnnedu.experiment import summarize, write_results

    tokens = sys.argv[1:] if argv is None else list(argv)
    wrong = [name for name in MOVIELENS_ONLY if _given(tokens, name)]
    if wrong:
        print(f"error: {wrong[0]} is a MovieLens option; Gowalla's split is fixed (the LightGCN "
              "authors' train/test files)", file=sys.stderr)
        return 2
    models = ([m for m in args.models.replace(" ", "").lower().split(",") if m]
              if _given(tokens, "--models", "--model") else list(QUICK_MODELS))
    unknown = [m for m in models if m not in GOWALLA_MODELS]
    if unknown or not models:
        print(f"error: model {unknown[0] if unknown else ''!r} is not run on Gowalla; choose "
              f"from {','.join(GOWALLA_MODELS)}", file=sys.stderr)
        return 2
    try:
        seeds = ([int(s) for s in args.seeds.replace(" ", "").split(",") if s]
                 if _given(tokens, "--seeds", "--seed") else [0])
    except ValueError:
        seeds = []
    threads = args.threads or os.cpu_count() or 1
    if not seeds or threads < 1:
        print("error: give at least one integer seed and --threads >= 1", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda, but no GPU is visible to torch", file=sys.stderr)
        return 2
    out = args.out if _given(tokens, "--out") else "bench_gowalla"
    progress = not args.no_progress
    try:
        data = load_gowalla(args.data, progress=progress)
    except DataError as err:
        print(f"gnnedu bench: {err}", file=sys.stderr)
        return 1
    topk_files = {}
    if args.save_topk:
        path = Path(args.save_topk)
        topk_files = {m: path if len(models) == 1 else
                      path.with_name(f"{path.stem}_{m}{path.suffix or '.csv'}") for m in models}
    runs, notes = [], []
    for seed in seeds:
        for name in models:
            topk_path = topk_files.get(name) if seed == seeds[0] else None
            if name == "lightgcn":
                row, model = _lightgcn_row(data, seed, threads, args.device, progress,
                                           args.epochs)
                if topk_path:
                    save_topk(model, topk_path)
                runs.append(row)
            elif name == "ease":
                study = run_ease(data, seed=seed, threads=threads)
                for sub in study["rows"]:
                    runs.append({"model": f"EASE ({sub['items']} items)",
                                 "key": f"ease-{sub['items']}", "seed": seed,
                                 "recall@20": sub["recall@20"], "ndcg@20": sub["ndcg@20"],
                                 "train_seconds": sub["fit_seconds"],
                                 "peak_mem_mb": sub["peak_mem_mb"]})
                full = study["full"]
                notes.append(f"EASE on all {full['items']} items, extrapolated: fit "
                             f"~{full['fit_cpu_seconds'] / 60:.0f} CPU minutes, peak "
                             f"~{full['peak_mem_mb'] / 1024:.1f} GB (one item-item matrix: "
                             f"{full['matrix_mb'] / 1024:.1f} GB); --save-topk does not apply")
            else:
                runs.append(run_model(name, data, seed, threads, args.device, progress,
                                      topk_path, epochs=args.epochs))
            if progress:
                row = runs[-1]
                print(f"{row['model']:<12} seed {seed}  R@20 {row['recall@20']:.4f}  "
                      f"N@20 {row['ndcg@20']:.4f}  train {row['train_seconds']:.1f} s",
                      file=sys.stderr)
    results = {
        "protocol": {"dataset": "Gowalla (LightGCN split)", "split": "fixed",
                     "seeds": seeds, "ranking": "full, training items masked",
                     "ks": [10, 20], "threads": threads, "device": args.device,
                     "epochs_override": args.epochs},
        "environment": machine_info(), "runs": runs, "summary": summarize(runs),
        "command": "gnnedu bench " + " ".join(tokens),
    }
    json_path, csv_path = write_results(results, out)
    print(markdown_table(results))
    for note in notes:
        print(note)
    print(f"\nwrote {json_path} and {csv_path}" + (
        f"; top-50 lists: {args.save_topk}" if args.save_topk else ""))
    return 0


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def _recipe_name(recipe: dict) -> str:
    return "_".join(f"{k}{v}" for k, v in sorted(recipe.items())).replace(".", "p")


PARTS = ("tune", "models", "ease", "costs", "distributed", "lightgcn", "hybrid")


def _update(path, key, value) -> dict:
    """Set ``key`` in the JSON file ``path`` (created if absent) and save it atomically."""
    record = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    record[key] = value
    save_json(record, path)
    return record


def _hybrid_part(data, seed: int = 0) -> int:
    """``python -m gnnedu.scale hybrid``: choose the weight on the validation slice (tuned BSPM
    + the validation run of LIGHTGCN_RECIPE), then one test row in models.json (key "hybrid")
    with the final LightGCN run of the same recipe."""
    import sys

    from gnnedu.filters import BSPM

    settings = tuned_filter()
    val_checkpoint = _checkpoint_of(LIGHTGCN_RECIPE, seed, validation=True)
    test_checkpoint = _checkpoint_of(LIGHTGCN_RECIPE, seed, validation=False)
    missing = [(what, how) for what, how, ok in (
        ("the filter search", "tune --only filters", settings is not None),
        ("the validation LightGCN run", "lightgcn --validation", val_checkpoint.exists()),
        ("the LightGCN run", "lightgcn", test_checkpoint.exists())) if not ok]
    if missing:
        for what, how in missing:
            print(f"gnnedu.scale hybrid: {what} is missing; run python -m gnnedu.scale {how}",
                  file=sys.stderr)
        return 1
    path = RESULTS / "tune.json"
    tuned = json.loads(path.read_text())
    chosen = tuned.get("hybrid", {})
    if (chosen.get("filter"), chosen.get("lightgcn")) != (settings, LIGHTGCN_RECIPE):
        tuned = _update(path, "hybrid", dict(tune_hybrid(data, settings, val_checkpoint),
                                             lightgcn=LIGHTGCN_RECIPE))
    weight = tuned["hybrid"]["best"]
    row = run_hybrid(data, settings, weight, test_checkpoint, seed, compare_to=BSPM())
    _save_row(RESULTS / "models.json", row)
    paired = row["paired_over_users"]
    print(f"BSPM + LightGCN (weight {weight:g}): Recall@20 {row['recall@20']:.4f}  "
          f"NDCG@20 {row['ndcg@20']:.4f}; minus BSPM {paired['mean_diff']:+.4f} "
          f"(95 % CI {paired['ci95'][0]:+.4f} to {paired['ci95'][1]:+.4f}, p = "
          f"{paired['p_value']:.1g}, over {paired['users']:,} users)")
    return 0


def _save_row(path, row: dict, record: dict | None = None) -> dict:
    """Put ``row`` into ``record`` (default: the results file ``path`` as it is), replacing the
    row of its key and seed, re-summarise and save to ``path`` atomically. Returns the new
    content."""
    from gnnedu.experiment import summarize

    if record is None:
        record = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    runs = [r for r in record.get("runs", [])
            if not (r["key"] == row["key"] and r["seed"] == row["seed"])] + [row]
    record = {"runs": runs, "summary": summarize(runs), "environment": machine_info()}
    save_json(record, path)
    return record


def run_models_file(data, names, path, seed: int = 0, threads: int = 1, fresh: bool = False,
                    progress: bool = True) -> dict:
    """:func:`run_model` for each name, saved to ``path`` after each (models already there
    for this seed are kept unless ``fresh``). Returns the file's content."""
    record = {} if fresh or not Path(path).exists() else json.loads(Path(path).read_text())
    for name in names:
        if any(r["key"] == name and r["seed"] == seed for r in record.get("runs", [])):
            continue
        row = run_model(name, data, seed, threads, progress=progress)
        record = _save_row(path, row, record)
        print(f"{row['model']}: Recall@20 {row['recall@20']:.4f}  NDCG@20 {row['ndcg@20']:.4f}"
              f"  fit {row['train_seconds']:.0f} s, all {row['total_cpu_seconds']:.0f} CPU s")
    return record


def main(argv=None) -> int:
    """``python -m gnnedu.scale PART``; see the module docstring. Returns the exit status."""
    import argparse
    import sys

    from gnnedu.data import DataError, load_gowalla, load_movielens

    parser = argparse.ArgumentParser(prog="python -m gnnedu.scale", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("part", choices=PARTS + ("all",))
    parser.add_argument("--validation", action="store_true",
                        help="lightgcn: train on 90%% of the training data, curve on the rest")
    parser.add_argument("--recipe", default=None,
                        help="lightgcn: JSON of TrainConfig fields (default: LIGHTGCN_RECIPE)")
    parser.add_argument("--only", default=None,
                        help="tune: filters, mf or ease; models: comma-separated model keys")
    parser.add_argument("--fresh", action="store_true", help="ignore what the files hold")
    parser.add_argument("--ease-full", action="store_true",
                        help="ease: also fit EASE on all the items (about 7 GB of memory)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="folder holding gowalla/ (and ml-100k)")
    parser.add_argument("--out", default=None, help="lightgcn: results file")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    progress = not args.no_progress
    try:
        data = load_gowalla(args.data, progress=progress)
    except DataError as err:
        print(f"gnnedu.scale: {err}", file=sys.stderr)
        return 1
    parts = PARTS if args.part == "all" else (args.part,)
    if "tune" in parts:
        path = RESULTS / "tune.json"
        done = {} if args.fresh or not path.exists() else json.loads(path.read_text())
        tuners = {"ease": tune_ease, "filters": tune_filters, "mf": tune_mf}
        for name in ([args.only] if args.only else tuners):
            if name not in done:
                _update(path, name, tuners[name](data))
    if "models" in parts:
        names = args.only.split(",") if args.only else ("popularity", "gfcf", "bspm", "mf")
        run_models_file(data, names, RESULTS / "models.json", args.seed, args.threads,
                        args.fresh, progress)
    if "ease" in parts:
        path, tuned = RESULTS / "ease.json", RESULTS / "tune.json"
        lam = EASE_LAMBDA   # the value tune.json chose, when it has one
        if tuned.exists() and "ease" in json.loads(tuned.read_text()):
            lam = json.loads(tuned.read_text())["ease"]["best"]
        if args.fresh or not path.exists():
            save_json(run_ease(data, lam=lam, threads=args.threads,
                               measure_full=args.ease_full), path)
    if "costs" in parts:
        ml = load_movielens(args.data, progress=progress)
        measure_costs(data, ml=ml, threads=args.threads, out=RESULTS / "costs.json",
                      progress=progress)
    if "distributed" in parts:
        path = RESULTS / "distributed.json"
        if args.fresh or not path.exists():
            measure_distributed(data=args.data, out=path)
    if "lightgcn" in parts:
        recipe = json.loads(args.recipe) if args.recipe else dict(LIGHTGCN_RECIPE)
        out = args.out or (RESULTS / "validation" / f"lightgcn_{_recipe_name(recipe)}.json"
                           if args.validation else RESULTS / "lightgcn.json")
        record = run_lightgcn(data, args.seed, recipe, args.validation, out,
                              threads=args.threads, device=args.device, progress=progress)
        print(f"LightGCN: Recall@20 {record['recall@20']:.4f}  NDCG@20 {record['ndcg@20']:.4f}"
              f"  train {record['train_seconds']:.0f} s ({record['train_cpu_seconds']:.0f} s "
              f"CPU); wrote {out}")
    if "hybrid" in parts:   # last: it needs the filter search and both LightGCN runs
        return _hybrid_part(data, args.seed)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
