"""Choose each model's hyper-parameters on validation data only (protocol P1, seed 0).

The seed-0 P1 training split (80% of MovieLens-100K) is cut again, per user, into 90% fit and
10% validation (``gnnedu.train.carve_validation``, seed 0). Every configuration is fitted on the
fit part and scored on the validation part with the fit items masked; trained models use early
stopping on validation recall@20 to pick their epoch count. The test split is never read.
The winners (best validation recall@20, ties within 0.001 broken by NDCG@20) are the defaults
in ``gnnedu/models.py``.

    .venv/bin/python benchmarks/tune_p1.py [MODEL ...] [--out F]

The data is found as everywhere else (``$GNNEDU_DATA``, then the cache). MODEL is a key of
``gnnedu.models.MODELS`` that has a grid in ``GRIDS`` (default: all of them). Prints one line per
configuration and writes them to ``--out`` (JSON, default benchmarks/tune_p1.json); a rerun
skips the configurations already in that file (``--fresh`` reruns them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from gnnedu import setup_notebook
from gnnedu.data import load_movielens, split_random
from gnnedu.experiment import EARLY_STOPPING, VAL_RATIO
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate
from gnnedu.models import MODELS, EmbeddingRecommender
from gnnedu.train import carve_validation

# Selection rule: best validation recall@20; differences below TIE (far below the spread
# between seeds) count as ties, broken by validation NDCG@20.
TIE = 0.001


def grid(**axes):
    keys = list(axes)
    for values in itertools.product(*(axes[k] for k in keys)):
        yield dict(zip(keys, values))


def configurations(name):
    """(model constructor kwargs, fit kwargs) pairs to try for ``name``."""
    if name == "ease":
        for lam in (50, 100, 200, 300, 500, 1000):
            yield {"lam": float(lam)}, {}
    elif name == "itemknn":
        for k in (25, 50, 100, 200, 400, 1682):
            yield {"k": k}, {}
    elif name == "mf":
        for fit in grid(lr=(1e-2, 3e-3), reg=(1e-4, 1e-3, 1e-2, 3e-2), num_neg=(4,),
                        batch_size=(4096,)):
            yield {"dim": 64}, fit
        yield {"dim": 64}, {"lr": 3e-3, "reg": 1e-1, "num_neg": 4, "batch_size": 4096}
    elif name == "lightgcn":
        base = {"lr": 1e-2, "num_neg": 4, "batch_size": 4096}
        for (layers, reg) in itertools.product((2, 3, 4), (1e-4, 1e-3, 1e-2)):
            yield {"num_layers": layers}, {**base, "reg": reg}
        # round 2, around the round-1 winner (3 layers, reg 1e-3)
        for reg in (5e-4, 2e-3):
            yield {"num_layers": 3}, {**base, "reg": reg}
        yield {"num_layers": 3}, {**base, "reg": 1e-3, "lr": 5e-3}
        yield {"num_layers": 3, "dim": 128}, {**base, "reg": 1e-3}
        # round 3, around the round-2 winner (3 layers, reg 2e-3)
        for reg in (3e-3, 5e-3):
            yield {"num_layers": 3}, {**base, "reg": reg}
        yield {"num_layers": 3, "dim": 128}, {**base, "reg": 2e-3}
        yield {"num_layers": 4}, {**base, "reg": 2e-3}
        # round 4: sampling and step size at the round-3 winner
        best = {**base, "reg": 2e-3}
        yield {"num_layers": 3}, {**best, "num_neg": 8}
        yield {"num_layers": 3}, {**best, "batch_size": 2048}
        yield {"num_layers": 3}, {**best, "lr": 2e-2}
        yield {"num_layers": 2}, best
    elif name == "gcn":
        base = {"reg": 1e-3, "lr": 1e-2, "num_neg": 4, "batch_size": 4096}
        for layers, dropout in itertools.product((1, 2, 3), (0.0, 0.1, 0.3)):
            if layers == 1 and dropout > 0:
                continue  # dropout acts between layers: none with one layer
            yield {"num_layers": layers, "dropout": dropout}, base
        yield {"num_layers": 2, "dropout": 0.5}, base     # the article's dropout rate
    else:
        raise ValueError(name)


# The models of gnnedu.models.MODELS that have a grid in configurations().
TUNED = ("ease", "itemknn", "mf", "gcn", "lightgcn")


def main(argv=None):
    unknown = set(TUNED) - set(MODELS)
    if unknown:
        raise SystemExit(f"not in gnnedu.models.MODELS: {sorted(unknown)}")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(TUNED), choices=list(TUNED))
    parser.add_argument("--out", default=str(Path(__file__).with_name("tune_p1.json")))
    parser.add_argument("--fresh", action="store_true", help="rerun finished configurations")
    args = parser.parse_args(argv)

    setup_notebook(seed=0)
    ml = load_movielens(progress=False)
    train, _test = split_random(ml.ratings, 0.2, seed=0)   # _test is never used here
    fit_df, val_df = carve_validation(train, ratio=VAL_RATIO, seed=0)
    graph = build_graph(fit_df, ml.num_users, ml.num_items)
    print(f"fit {len(fit_df)} / validation {len(val_df)} interactions")

    out_path = Path(args.out)
    rows = json.loads(out_path.read_text()) if out_path.exists() else []
    done = {json.dumps(r["config"], sort_keys=True) for r in rows if "config" in r}
    for name in args.models:
        for model_kwargs, fit_kwargs in configurations(name):
            config = {"model": name, "model_kwargs": model_kwargs, "fit_kwargs": fit_kwargs}
            if json.dumps(config, sort_keys=True) in done and not args.fresh:
                continue  # finished in an earlier run
            rows = [r for r in rows if r.get("config") != config]
            setup_notebook(seed=0)
            model = MODELS[name](**model_kwargs)
            start = time.perf_counter()
            if isinstance(model, EmbeddingRecommender):
                model.fit(graph, val=val_df, **{**EARLY_STOPPING, **fit_kwargs})
            else:
                model.fit(graph)
            seconds = time.perf_counter() - start
            m = evaluate(model, graph, val_df, ks=(20,))
            history = getattr(model, "history", None)
            row = {"model": name, "config": config, **model_kwargs, **fit_kwargs,
                   "val_recall@20": round(m["recall@20"], 4),
                   "val_ndcg@20": round(m["ndcg@20"], 4),
                   "best_epoch": history.best_epoch if history else None,
                   "seconds": round(seconds, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            out_path.write_text(json.dumps(rows, indent=1) + "\n")
    for name in args.models:
        print("best", json.dumps(best_row([r for r in rows if r["model"] == name])))


def best_row(rows, tie: float = TIE):
    """The highest validation recall@20; among rows within ``tie`` of it, the highest NDCG@20."""
    top = max(r["val_recall@20"] for r in rows)
    return max((r for r in rows if r["val_recall@20"] >= top - tie),
               key=lambda r: r["val_ndcg@20"])


if __name__ == "__main__":
    main()
