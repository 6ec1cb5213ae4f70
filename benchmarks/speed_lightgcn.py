"""Time one LightGCN training epoch: gnnedu's fused CSR propagation vs PyG's LightGCN.

Both sides train the same model on the same data in one process: MovieLens-100K, protocol P1
(seed 0) training split (80,000 interactions), embedding dim 64, 3 layers, batches of 2048
positive interactions, one uniform negative per positive, Adam (lr 1e-3 here; the rate does not
change the cost), one thread, deterministic algorithms on (as in every notebook).

- "gnnedu": ``gnnedu.models.LightGCN`` trained by ``gnnedu.train.train_bpr``: per batch, three
  sparse CSR products forward and three backward (custom autograd reusing the symmetric matrix).
- "PyG": ``torch_geometric.nn.models.LightGCN`` over ``edge_index`` (per-edge message passing
  with ``gcn_norm``), with its ``recommendation_loss``, as in PyG's ``examples/lightgcn.py``.

An epoch is one pass over all training interactions. The script reports the median of several
epochs for each and their ratio, then the time of a full-ranking evaluation of all 943 users
(scores, masking, top-20, all metrics) and of the scoring + top-20 alone.

    .venv/bin/python benchmarks/speed_lightgcn.py
        [--epochs 10] [--pyg-epochs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch_geometric.nn.models import LightGCN as PygLightGCN

from gnnedu import setup_notebook
from gnnedu.data import load_movielens, split_random
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate, topk_masked
from gnnedu.models import LightGCN
from gnnedu.train import known_pairs, sample_negatives

DIM, LAYERS, BATCH, NUM_NEG, LR = 64, 3, 2048, 1, 1e-3


def time_gnnedu(graph, epochs: int) -> tuple[list[float], LightGCN]:
    """Per-epoch seconds of gnnedu's own training loop (``History.epoch_seconds``)."""
    model = LightGCN(dim=DIM, num_layers=LAYERS)
    model.fit(graph, epochs=epochs, batch_size=BATCH, num_neg=NUM_NEG, lr=LR, reg=1e-4, seed=0)
    return model.history.epoch_seconds, model


def time_pyg(graph, epochs: int) -> list[float]:
    """Per-epoch seconds of the plain PyG LightGCN training loop."""
    gen = torch.Generator().manual_seed(0)
    model = PygLightGCN(num_nodes=graph.num_nodes, embedding_dim=DIM, num_layers=LAYERS)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    edge_index = graph.edge_index                      # both directions, items offset
    known = known_pairs(graph)                         # same negative sampler as gnnedu
    n = graph.num_interactions
    times = []
    for _ in range(epochs):
        tick = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        for lo in range(0, n, BATCH):
            idx = perm[lo: lo + BATCH]
            users, pos = graph.users[idx], graph.items[idx]
            neg = sample_negatives(users, graph.num_items, NUM_NEG, known, gen)[:, 0]
            label_index = torch.stack([
                torch.cat([users, users]),
                graph.num_users + torch.cat([pos, neg]),
            ])
            optimizer.zero_grad()
            pos_rank, neg_rank = model(edge_index, label_index).chunk(2)
            loss = model.recommendation_loss(pos_rank, neg_rank,
                                             node_id=label_index.unique(), lambda_reg=1e-4)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - tick)
    return times


def time_evaluation(model, graph, test, repeats: int) -> tuple[float, float]:
    """Median seconds of ``evaluate`` (all metrics) and of scoring + masking + top-20 alone."""
    full, rank = [], []
    seen = graph.interactions.to_dense().bool()
    for _ in range(repeats):
        tick = time.perf_counter()
        evaluate(model, graph, test, ks=(10, 20))
        full.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        topk_masked(model.score(), 20, seen)
        rank.append(time.perf_counter() - tick)
    return statistics.median(full), statistics.median(rank)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="LightGCN epoch: gnnedu vs plain PyG")
    parser.add_argument("--epochs", type=int, default=10, help="gnnedu epochs to time")
    parser.add_argument("--pyg-epochs", type=int, default=3, help="PyG epochs to time")
    parser.add_argument("--eval-repeats", type=int, default=15)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)

    setup_notebook(seed=0)                             # 1 thread, deterministic algorithms
    ml = load_movielens(progress=False)
    train, test = split_random(ml.ratings, 0.2, seed=0)
    graph = build_graph(train, ml.num_users, ml.num_items)
    print(f"{graph}; dim {DIM}, {LAYERS} layers, batch {BATCH}, {NUM_NEG} negative per "
          f"positive, {torch.get_num_threads()} thread(s), torch {torch.__version__}")

    ours, model = time_gnnedu(graph, args.epochs)
    ours_med = statistics.median(ours[1:] if len(ours) > 2 else ours)   # skip the warm-up
    print(f"gnnedu LightGCN epoch: median {ours_med:.3f} s over {len(ours)} epochs "
          f"(min {min(ours):.3f}, max {max(ours):.3f})")
    theirs = time_pyg(graph, args.pyg_epochs)
    pyg_med = statistics.median(theirs)
    print(f"PyG    LightGCN epoch: median {pyg_med:.3f} s over {len(theirs)} epochs "
          f"(min {min(theirs):.3f}, max {max(theirs):.3f})")
    ratio = pyg_med / ours_med
    print(f"speed-up: {ratio:.1f}x")
    full, rank = time_evaluation(model, graph, test, args.eval_repeats)
    print(f"full-ranking evaluation of {graph.num_users} users: {1000 * full:.1f} ms with all "
          f"metrics at 10 and 20; {1000 * rank:.1f} ms for scores + mask + top-20 "
          f"(median of {args.eval_repeats})")
    result = {"gnnedu_epoch_s": ours, "pyg_epoch_s": theirs, "gnnedu_median_s": ours_med,
              "pyg_median_s": pyg_med, "ratio": ratio, "eval_ms": 1000 * full,
              "rank_ms": 1000 * rank, "threads": torch.get_num_threads(),
              "batch_size": BATCH, "dim": DIM, "layers": LAYERS, "num_neg": NUM_NEG}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
