"""Precomputed sweeps read by notebook 07: the ablation from the article's GCN to LightGCN, depth
and layer combination, and the random baseline, all on protocol P1 over several seeds.

Regenerate the committed file from scratch (about half an hour on one thread of a quiet 2-core
machine, longer on a busy one; the data is found as everywhere else: ``$GNNEDU_DATA``, the
cache, or ``--data``)::

    python -m gnnedu.sweeps

which writes ``gnnedu/results/sweeps/nb07.json`` after every configuration. ``--resume`` keeps
the configurations already in the file and trains only the seeds they lack (to finish an
interrupted run or add seeds; not after a change to the models or the training code),
``--only ablation`` (or ``depth``, ``random``) runs a part, ``--help`` lists the rest.

Protocol (the one ``gnnedu bench`` uses, so the rows are comparable with ``p1.json``):
MovieLens-100K, every rating an implicit positive, per-user random 80/20 split for each seed,
full ranking with training items masked, metrics at K = 10 and 20 (``gnnedu.metrics.KS``). Each
configuration is a ``GCNRecommender`` with some ingredients switched off. Its only
hyper-parameter chosen here, the number of epochs, is picked on validation data: the seed-0
training split is cut again into 90% fit / 10% validation (``gnnedu.train.carve_validation``),
the model is trained on the fit part with early stopping on validation recall@20
(``gnnedu.experiment.EARLY_STOPPING``, as ``benchmarks/tune_p1.py``), and its best epoch is
kept. Then, for each seed, the model is trained on the whole training split for that many epochs
and evaluated on the test split by ``gnnedu.experiment.run_one``, the runner of ``gnnedu
bench``. The other training settings are the defaults of
``GCNRecommender`` (ablation, GCN depth curve) or ``LightGCN`` (the transform-free depth curves).
The test split is never used to choose anything.

API summary
-----------
- ``ABLATION``, ``DEPTH_FAMILIES``, ``DEPTHS``: what the sweeps contain.
- ``sweep_configs(parts=("ablation", "depth")) -> list[dict]``: the configurations (deduplicated).
- ``choose_epochs(config, ml, ...) -> dict``: the validation run of one configuration.
- ``run_config(config, ml, seeds, epochs) -> list[dict]``: one ``gnnedu.experiment.run_one``
  row per seed, with the configuration's ``id``.
- ``random_rows(ml, seeds) -> list[dict]``: the ``random`` model of ``gnnedu.models``, the
  floor of the table.
- ``run_sweeps(path, parts, seeds, ml=None, fresh=False) -> dict``: everything, saved after
  every run so an interrupted sweep resumes.
- ``load_sweeps(path=None) -> dict``; ``summary_frame(results, sweep)`` -> a DataFrame with the
  mean and std over seeds of each configuration, in sweep order; ``depth_curves(results)`` ->
  ``{label: summary_frame}`` per depth family; ``runs_for(results, sweep, step)`` -> the
  per-seed rows of one configuration; ``format_table(frame)``: the table notebook 07 prints.
- ``step_tests(results, sweep="ablation", comparisons=ABLATION_COMPARISONS, ...)`` -> a
  DataFrame with one paired test over seeds (``gnnedu.experiment.paired_test``) per step:
  the change of each metric and its two-sided p-value; ``format_tests(frame)``: the table
  notebook 07 prints. ``ABLATION_COMPARISONS``: each ablation step against the one before it,
  and the two comparisons of the cross-check row.
  The figures are ``gnnedu.plot.plot_ablation``, ``plot_depth`` and ``plot_comparison``.
- ``main(argv=None)``: the command line.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from gnnedu.data import load_split
from gnnedu.experiment import (
    EARLY_STOPPING,
    RESULTS_DIR,
    VAL_RATIO,
    machine_info,
    paired_test,
    run_one,
    save_json,
    summarize,
)
from gnnedu.metrics import KS

RESULTS_PATH = RESULTS_DIR / "sweeps" / "nb07.json"
COMMAND = "python -m gnnedu.sweeps"
SEARCH_SEED = 0


def _gcn_default(name: str):
    from gnnedu.models import GCNRecommender

    return inspect.signature(GCNRecommender).parameters[name].default


# The source article's model: weight matrix and bias, ReLU, dropout, GCNConv self-loops, scores
# from the last layer, two layers as in its program. The dropout rate is GCNRecommender's
# default (chosen on validation by benchmarks/tune_p1.py), so that the "article" configuration
# is the "gcn" model of gnnedu bench.
ARTICLE = dict(num_layers=2, transform=True, activation="relu", dropout=_gcn_default("dropout"),
               self_loops=True, combine="last")

# From the article's GCN to LightGCN, one ingredient at a time (each step keeps the previous).
ABLATION = [
    ("article", "article GCN: W, ReLU, dropout, self-loops, last", {}),
    ("no_dropout", "- dropout", dict(dropout=0.0)),
    ("no_relu", "- ReLU (linear layers)", dict(dropout=0.0, activation=None)),
    ("no_transform", "- weight matrices (pure propagation)",
     dict(dropout=0.0, activation=None, transform=False)),
    ("no_self_loops", "- self-loops (LightGCN's adjacency)",
     dict(dropout=0.0, activation=None, transform=False, self_loops=False)),
    ("lightgcn", "+ mean over layers = LightGCN",
     dict(dropout=0.0, activation=None, transform=False, self_loops=False, combine="mean")),
    # a cross-check: keep the article's layers but average them, to separate the two effects
    ("article_mean", "article GCN + mean over layers", dict(combine="mean")),
]

# The comparisons notebook 07 tests (step before, step after): each ablation step against the
# previous one, then the cross-check row against the article's GCN and against LightGCN.
ABLATION_COMPARISONS = [(a[0], b[0]) for a, b in zip(ABLATION[:5], ABLATION[1:6])] + [
    ("article", "article_mean"), ("article_mean", "lightgcn")]

# Depth curves: num_layers 0..4 for three families (at depth 0 all three are the same model:
# the free embeddings, i.e. matrix factorisation with the GCN training settings).
DEPTHS = (0, 1, 2, 3, 4)
DEPTH_FAMILIES = [
    ("gcn_last", "article GCN, last layer", dict(ARTICLE), "gcn"),
    ("prop_last", "propagation only, last layer",
     dict(transform=False, activation=None, dropout=0.0, self_loops=False, combine="last"),
     "lightgcn"),
    ("prop_mean", "LightGCN (mean over layers)",
     dict(transform=False, activation=None, dropout=0.0, self_loops=False, combine="mean"),
     "lightgcn"),
]


def _train_settings(defaults: str) -> dict:
    from gnnedu.models import GCNRecommender, LightGCN

    cls = {"gcn": GCNRecommender, "lightgcn": LightGCN}[defaults]
    settings = dict(cls.train_defaults)
    settings.pop("epochs", None)  # chosen on validation
    return settings


def _model_kwargs(**kwargs) -> dict:
    out = dict(ARTICLE)
    out.update(kwargs)
    if out["num_layers"] == 0:  # no layers: every switch is moot, use one canonical form
        out.update(transform=True, activation="relu", dropout=0.0, self_loops=True,
                   combine="last")
    return out


def _config_id(kwargs: dict, settings: dict) -> str:
    short = {"num_layers": "L", "transform": "W", "activation": "act", "dropout": "drop",
             "self_loops": "loops", "combine": "comb"}
    parts = [f"{short[k]}={kwargs[k]}" for k in short]
    parts += [f"{k}={v}" for k, v in sorted(settings.items())]
    return ",".join(parts)


def sweep_configs(parts=("ablation", "depth")) -> list[dict]:
    """The configurations of the chosen sweeps, each once; ``tags`` say where each appears:
    ``("ablation", step_name)`` or ``(family, num_layers)``."""
    configs: dict[str, dict] = {}

    def add(kwargs, defaults, tag, label):
        settings = _train_settings(defaults)
        cid = _config_id(kwargs, settings)
        entry = configs.setdefault(cid, {"id": cid, "model_kwargs": kwargs, "train": settings,
                                         "tags": [], "labels": []})
        entry["tags"].append(list(tag))
        entry["labels"].append(label)

    if "ablation" in parts:
        for name, label, change in ABLATION:
            add(_model_kwargs(**change), "gcn", ("ablation", name), label)
    if "depth" in parts:
        for family, label, kwargs, defaults in DEPTH_FAMILIES:
            for depth in DEPTHS:
                add(_model_kwargs(**{**kwargs, "num_layers": depth}), defaults,
                    (family, depth), f"{label}, L={depth}")
    return list(configs.values())


def _build(config: dict):
    from gnnedu.models import GCNRecommender

    return GCNRecommender(**config["model_kwargs"])


def choose_epochs(config: dict, ml, search: dict | None = None, seed: int = SEARCH_SEED,
                  val_ratio: float = VAL_RATIO) -> dict:
    """Train ``config`` on the fit part of the seed-``seed`` training split with early stopping
    on the validation part; returns ``{"epochs", "val_recall@20", "val_curve", "val_seconds"}``
    (``val_curve``: the validation metrics at each evaluation).
    The test split is loaded (the split function returns it) but never read."""
    from gnnedu import setup_notebook
    from gnnedu.graph import build_graph
    from gnnedu.train import carve_validation

    search = {**EARLY_STOPPING, **(search or {})}
    setup_notebook(seed=seed)
    train, _test = load_split(ml, "random", seed)
    fit_df, val_df = carve_validation(train, ratio=val_ratio, seed=seed)
    graph = build_graph(fit_df, ml.num_users, ml.num_items)
    torch.manual_seed(seed)
    model = _build(config)
    start = time.perf_counter()
    model.fit(graph, val=val_df, **{**config["train"], **search, "seed": seed})
    history = model.history
    return {"epochs": int(history.best_epoch), "val_recall@20": history.best_score,
            "val_curve": [{k: round(v, 5) for k, v in row.items()} for row in history.val],
            "val_seconds": time.perf_counter() - start}


def run_config(config: dict, ml, seeds=(0, 1, 2, 3, 4), epochs: int = 1) -> list[dict]:
    """Train ``config`` for ``epochs`` on each seed's training split and evaluate it on that
    seed's test split with ``gnnedu.experiment.run_one`` (the runner of ``gnnedu bench``)."""
    from gnnedu import setup_notebook

    rows = []
    for seed in seeds:
        setup_notebook(seed=seed)
        train, test = load_split(ml, "random", seed)
        row, _ = run_one(lambda: _build(config), train, test, ml.num_users, ml.num_items, seed,
                         epochs=epochs, fit_options=config["train"])
        rows.append({"id": config["id"], **row})
    return rows


def random_rows(ml, seeds=(0, 1, 2, 3, 4)) -> list[dict]:
    """The ``random`` model (uniform scores, seeded) evaluated like every model, per seed."""
    rows = []
    for seed in seeds:
        train, test = load_split(ml, "random", seed)
        row, _ = run_one("random", train, test, ml.num_users, ml.num_items, seed)
        rows.append({**row, "split": "random"})
    return rows


def _part_of(config: dict) -> set:
    return {"ablation" if tag[0] == "ablation" else "depth" for tag in config["tags"]}


def run_sweeps(path=RESULTS_PATH, parts=("ablation", "depth", "random"), seeds=(0, 1, 2, 3, 4),
               ml=None, fresh: bool = False, search: dict | None = None,
               log=print) -> dict:
    """Run the sweeps named in ``parts``, saving ``path`` after every configuration.

    Configurations of the parts asked for are trained, except those already finished in
    ``path`` (same id) when ``fresh`` is False (resuming): a finished configuration keeps its
    validation choice and its rows, and only the seeds it lacks are trained (with the epochs
    chosen before), so a sweep over seeds 0-2 extends to 0-4 at the cost of two seeds. Those of
    the other parts are kept from ``path`` as they are."""
    from gnnedu import setup_notebook
    from gnnedu.data import load_movielens

    path = Path(path)
    ml = load_movielens(progress=False) if ml is None else ml
    old = json.loads(path.read_text()) if path.exists() else {}
    finished = {c["id"]: c for c in old.get("configs", [])}
    setup_notebook(seed=seeds[0])  # one thread, as every run below: record that, not the default
    environment = machine_info()
    environment["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    results = {
        "command": COMMAND,
        "protocol": {"dataset": "MovieLens-100K", "split": "random", "test_ratio": 0.2,
                     "seeds": list(seeds), "threshold": None,
                     "ranking": "full, training items masked", "ks": list(KS),
                     "epochs": "chosen per configuration on a 10% validation slice of the "
                               "seed-0 training split (early stopping on recall@20)",
                     "search": {**EARLY_STOPPING, **(search or {})}},
        "environment": environment,
        "configs": [], "runs": [], "random": [],
    }
    configs = sweep_configs(("ablation", "depth"))
    for i, config in enumerate(configs, 1):
        asked = bool(_part_of(config) & set(parts))
        prev = finished.get(config["id"])
        if prev is not None and not (asked and fresh):
            rows = [r for r in old["runs"] if r["id"] == config["id"] and r["seed"] in seeds]
            missing = [s for s in seeds if s not in {r["seed"] for r in rows}]
            if missing and asked:
                rows = sorted(rows + run_config(config, ml, missing, prev["epochs"]),
                              key=lambda r: r["seed"])
            elif missing:
                continue
            entry = {**prev, "tags": config["tags"], "labels": config["labels"],
                     "seeds": [r["seed"] for r in rows]}
            log(f"[{i}/{len(configs)}] {config['id']}: kept ({entry['epochs']} epochs)"
                + (f", trained seeds {missing}" if missing else ""))
        elif asked:
            chosen = choose_epochs(config, ml, search)
            rows = run_config(config, ml, seeds, chosen["epochs"])
            entry = {**config, **chosen, "seeds": list(seeds)}
            log(f"[{i}/{len(configs)}] {config['id']}: {chosen['epochs']} epochs, "
                f"val R@20 {chosen['val_recall@20']:.4f}, test R@20 "
                f"{statistics.fmean(r['recall@20'] for r in rows):.4f}, "
                f"{statistics.fmean(r['train_seconds'] for r in rows):.0f} s/run")
        else:
            continue
        results["configs"].append(entry)
        results["runs"].extend(rows)
        save_json(results, path)
    if "random" in parts:
        results["random"] = random_rows(ml, seeds)
    elif old.get("random"):
        results["random"] = old["random"]
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    save_json(results, path)
    return results


def load_sweeps(path=None) -> dict:
    """Read a sweeps JSON (default: the committed ``gnnedu/results/sweeps/nb07.json``)."""
    with open(RESULTS_PATH if path is None else path) as f:
        return json.load(f)


def runs_for(results: dict, sweep: str, step) -> list[dict]:
    """The per-seed rows of the configuration tagged ``[sweep, step]`` (e.g. ``"ablation",
    "article"`` or ``"prop_mean", 3``), in seed order."""
    for config in results["configs"]:
        if [sweep, step] in config["tags"]:
            rows = [r for r in results["runs"] if r["id"] == config["id"]]
            return sorted(rows, key=lambda r: r["seed"])
    raise KeyError(f"no configuration tagged {[sweep, step]}")


def summary_frame(results: dict, sweep: str, metrics=("recall@20", "ndcg@20")):
    """Mean and std over seeds for the configurations tagged ``sweep`` ("ablation" or a depth
    family such as "prop_mean"), in sweep order; columns ``step`` (the ablation step name or
    the depth), ``label``, ``epochs``, ``val_recall@20`` and ``val_ndcg@20`` (validation
    scores at the chosen epoch), ``seeds``, ``train_seconds`` and, per metric, mean and
    ``_std`` (``gnnedu.experiment.summarize``)."""
    import pandas as pd

    labels = {(t[0], t[1]): lab for c in sweep_configs() for t, lab in zip(c["tags"], c["labels"])}
    stats = {s["id"]: s for s in summarize(results["runs"], by="id")}
    rows = []
    for config in results["configs"]:
        for tag, label in zip(config["tags"], config["labels"]):
            if tag[0] != sweep:
                continue
            label = labels.get(tuple(tag), label)  # the wording of this version of the code
            at_best = [v for v in config.get("val_curve", []) if v["epoch"] == config["epochs"]]
            summary = stats[config["id"]]
            row = {"step": tag[1], "label": label, "epochs": config["epochs"],
                   "val_recall@20": config["val_recall@20"],
                   "val_ndcg@20": at_best[0].get("ndcg@20", math.nan) if at_best else math.nan,
                   "seeds": len(summary["seeds"])}
            for m in (*metrics, "train_seconds"):
                row[m], row[f"{m}_std"] = summary[m], summary[f"{m}_std"]
            rows.append(row)
    frame = pd.DataFrame(rows)
    if sweep == "ablation":
        order = {name: i for i, (name, _, _) in enumerate(ABLATION)}
        frame = frame.sort_values("step", key=lambda s: s.map(order))
    else:
        frame = frame.sort_values("step")
    return frame.reset_index(drop=True)


def depth_curves(results: dict, metrics=("recall@20", "ndcg@20")) -> dict:
    """``{family label: summary_frame}`` for every depth family, for ``gnnedu.plot.plot_depth``."""
    return {label: summary_frame(results, family, metrics)
            for family, label, _, _ in DEPTH_FAMILIES}


def format_table(frame, metrics=("recall@20", "ndcg@20"), digits: int = 3):
    """``summary_frame`` output as strings: ``label``, chosen ``epochs``, each metric as
    "mean ± std" over seeds, and the mean training seconds (noisy: a shared machine)."""
    import pandas as pd

    out = pd.DataFrame({"configuration": frame["label"], "epochs": frame["epochs"]})
    for m in metrics:
        out[m] = [f"{a:.{digits}f} ± {s:.{digits}f}" for a, s in zip(frame[m], frame[f"{m}_std"])]
    out["train s"] = [f"{t:.0f}" for t in frame["train_seconds"]]
    return out


def step_tests(results: dict, sweep: str = "ablation", comparisons=None,
               metrics=("recall@20", "ndcg@20"), method: str = "t"):
    """One paired test over seeds per step of a sweep: did the step change each metric?

    ``comparisons``: ``(before, after)`` pairs of steps of ``sweep`` (ablation step names, or
    depths for a depth family); default :data:`ABLATION_COMPARISONS` for the ablation. Every
    configuration was run on the same seeds, i.e. the same splits, so the runs pair up by seed
    (``gnnedu.experiment.paired_test``). Returns a DataFrame with columns ``before``,
    ``after``, ``seeds`` and, per metric, the mean change ``after - before``, the number of
    seeds where ``after`` is higher (``_wins``) and the two-sided p-value (``_p``)."""
    import pandas as pd

    if comparisons is None:
        if sweep != "ablation":
            raise ValueError("give the comparisons (before, after) for a depth sweep")
        comparisons = ABLATION_COMPARISONS
    rows = []
    for before, after in comparisons:
        runs_before, runs_after = runs_for(results, sweep, before), runs_for(results, sweep, after)
        row = {"before": before, "after": after}
        for m in metrics:
            test = paired_test(runs_after, runs_before, m, method)
            row["seeds"] = test["n"]
            row[f"{m}_change"], row[f"{m}_wins"] = test["mean_diff"], test["wins"]
            row[f"{m}_p"] = test["p_value"]
        rows.append(row)
    return pd.DataFrame(rows)


def format_tests(frame, metrics=("recall@20", "ndcg@20")):
    """``step_tests`` output as strings: ``before``, ``after`` and, per metric, the mean change
    (signed, 4 decimals), on how many seeds the metric went up ("5 of 5") and the p-value (two
    significant digits, so that a small one does not round to 0)."""
    import pandas as pd

    out = pd.DataFrame({"before": frame["before"], "after": frame["after"]})
    for m in metrics:
        out[f"{m} change"] = [f"{v:+.4f}" for v in frame[f"{m}_change"]]
        out[f"{m} up on"] = [f"{w} of {n}" for w, n in zip(frame[f"{m}_wins"], frame["seeds"])]
        out[f"{m} p"] = [f"{v:.2g}" for v in frame[f"{m}_p"]]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gnnedu.sweeps",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(RESULTS_PATH), help="JSON file (%(default)s)")
    parser.add_argument("--only", default="ablation,depth,random",
                        help="comma-separated parts: ablation, depth, random (default: all)")
    parser.add_argument("--seeds", default="0,1,2,3,4",
                        help="comma-separated seeds (default: 0,1,2,3,4)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the configurations already finished in --out")
    parser.add_argument("--data", default=None,
                        help="MovieLens path (default: $GNNEDU_DATA, then the cache)")
    args = parser.parse_args(argv)
    from gnnedu.data import load_movielens

    parts = tuple(p for p in args.only.replace(" ", "").split(",") if p)
    unknown = set(parts) - {"ablation", "depth", "random"}
    if unknown or not parts:
        print(f"error: unknown part(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    ml = load_movielens(args.data, progress=False)
    run_sweeps(args.out, parts, seeds, ml=ml, fresh=not args.resume)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
