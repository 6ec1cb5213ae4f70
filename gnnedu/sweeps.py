"""Precomputed sweeps read by notebook 07: the ablation from the article's GCN to LightGCN, depth
and layer combination, and the random baseline, all on protocol P1 over several seeds.

Regenerate the committed file from scratch (about half an hour on one thread of a quiet 2-core
machine, longer on a busy one)::

    GNNEDU_DATA=/work/shared/data python -m gnnedu.sweeps

which writes ``gnnedu/results/sweeps/nb07.json`` after every configuration. ``--resume`` keeps
the configurations already in the file (to finish an interrupted run; not after a change to the
models or the training code), ``--only ablation`` (or ``depth``, ``random``) runs a part,
``--help`` lists the rest.

Protocol (the one ``gnnedu bench`` uses, so the rows are comparable with ``p1.json``):
MovieLens-100K, every rating an implicit positive, per-user random 80/20 split for each seed,
full ranking with training items masked, metrics at K = 10 and 20 (``gnnedu.bench.KS``). Each
configuration is a ``GCNRecommender`` with some ingredients switched off. Its only
hyper-parameter chosen here, the number of epochs, is picked on validation data: the seed-0
training split is cut again into 90% fit / 10% validation (``gnnedu.train.carve_validation``),
the model is trained on the fit part with early stopping on validation recall@20 (the settings
of ``benchmarks/tune_p1.py``), and its best epoch is kept. Then, for each seed, the model is
trained on the whole training split for that many epochs and evaluated on the test split, as
``gnnedu.bench.run_one`` does. The other training settings are the defaults of
``GCNRecommender`` (ablation, GCN depth curve) or ``LightGCN`` (the transform-free depth curves).
The test split is never used to choose anything.

API summary
-----------
- ``ABLATION``, ``DEPTH_FAMILIES``, ``DEPTHS``: what the sweeps contain.
- ``sweep_configs(parts=("ablation", "depth")) -> list[dict]``: the configurations (deduplicated).
- ``choose_epochs(config, ml, ...) -> dict``: the validation run of one configuration.
- ``run_config(config, ml, seeds, epochs) -> list[dict]``: one row per seed (test metrics,
  ``train_seconds``), like ``gnnedu.bench.run_one``.
- ``random_rows(ml, seeds) -> list[dict]``: a uniformly random ranking, the floor of the table.
- ``run_sweeps(path, parts, seeds, ml=None, fresh=False) -> dict``: everything, saved after
  every run so an interrupted sweep resumes.
- ``load_sweeps(path=None) -> dict``; ``summary_frame(results, sweep)`` -> a DataFrame with the
  mean and std over seeds of each configuration, in sweep order; ``runs_for(results, sweep,
  step)`` -> the per-seed rows of one configuration.
- ``format_table``, ``plot_ablation``, ``plot_depth``, ``plot_comparison``: notebook 07's table
  and figures.
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

from gnnedu.bench import KS, METRICS, PeakMemory, load_split, machine_info

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "sweeps" / "nb07.json"
COMMAND = "GNNEDU_DATA=/work/shared/data python -m gnnedu.sweeps"

# Early stopping on validation, as benchmarks/tune_p1.py chooses the models' defaults.
SEARCH = dict(epochs=300, eval_every=5, patience=4, metric="recall@20", ks=(20,))
VAL_RATIO = 0.1
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

    search = {**SEARCH, **(search or {})}
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


def _metrics_row(model, graph, test) -> dict:
    from gnnedu.metrics import evaluate

    metrics = evaluate(model, graph, test, ks=KS)
    row = {f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in METRICS}
    row.update({f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in ("coverage", "arp")})
    row["users"] = metrics["users"]
    return row


def run_config(config: dict, ml, seeds=(0, 1, 2), epochs: int = 1) -> list[dict]:
    """Train ``config`` for ``epochs`` on each seed's training split and evaluate on its test
    split (the steps of ``gnnedu.bench.run_one``: same seeding, graph, fit and metrics)."""
    from gnnedu import setup_notebook
    from gnnedu.graph import build_graph

    rows = []
    for seed in seeds:
        setup_notebook(seed=seed)
        train, test = load_split(ml, "random", seed)
        graph = build_graph(train, ml.num_users, ml.num_items)
        torch.manual_seed(seed)
        model = _build(config)
        with PeakMemory() as mem:
            start = time.perf_counter()
            model.fit(graph, **{**config["train"], "epochs": epochs, "seed": seed})
            seconds = time.perf_counter() - start
        row = {"id": config["id"], "seed": seed, "epochs": epochs}
        row.update(_metrics_row(model, graph, test))
        row.update(train_seconds=seconds, peak_mem_mb=mem.mb)
        rows.append(row)
    return rows


class RandomRanking:
    """Scores drawn uniformly at random (seeded): the floor every model must clear."""

    name = "Random"

    def __init__(self, num_users: int, num_items: int, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.scores = torch.rand(num_users, num_items, generator=gen)
        self.num_users, self.num_items = num_users, num_items

    def score(self, users):
        return self.scores[users]


def random_rows(ml, seeds=(0, 1, 2)) -> list[dict]:
    """The random ranking evaluated like every model (bench's metrics), one row per seed."""
    from gnnedu.graph import build_graph

    rows = []
    for seed in seeds:
        train, test = load_split(ml, "random", seed)
        graph = build_graph(train, ml.num_users, ml.num_items)
        with PeakMemory() as mem:
            start = time.perf_counter()
            model = RandomRanking(ml.num_users, ml.num_items, seed)
            seconds = time.perf_counter() - start
        start = time.perf_counter()
        row = {"model": "Random", "key": "random", "seed": seed}
        row.update(_metrics_row(model, graph, test))
        row.update(train_seconds=seconds, eval_seconds=time.perf_counter() - start,
                   peak_mem_mb=mem.mb, epochs=None, split="random")
        rows.append(row)
    return rows


def _save(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, allow_nan=True) + "\n")
    tmp.replace(path)


def _part_of(config: dict) -> set:
    return {"ablation" if tag[0] == "ablation" else "depth" for tag in config["tags"]}


def run_sweeps(path=RESULTS_PATH, parts=("ablation", "depth", "random"), seeds=(0, 1, 2),
               ml=None, fresh: bool = False, search: dict | None = None,
               log=print) -> dict:
    """Run the sweeps named in ``parts``, saving ``path`` after every configuration.

    Configurations of the parts asked for are trained, except those already finished in
    ``path`` (same id and seeds) when ``fresh`` is False (resuming). Those of the other parts
    are kept from ``path`` as they are."""
    from gnnedu import setup_notebook
    from gnnedu.data import load_movielens

    path = Path(path)
    ml = load_movielens(progress=False) if ml is None else ml
    old = json.loads(path.read_text()) if path.exists() else {}
    finished = {c["id"]: c for c in old.get("configs", []) if c.get("seeds") == list(seeds)}
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
                     "search": {**SEARCH, **(search or {})}},
        "environment": environment,
        "configs": [], "runs": [], "random": [],
    }
    configs = sweep_configs(("ablation", "depth"))
    for i, config in enumerate(configs, 1):
        asked = bool(_part_of(config) & set(parts))
        prev = finished.get(config["id"])
        if prev is not None and not (asked and fresh):
            entry = {**prev, "tags": config["tags"], "labels": config["labels"]}
            rows = [r for r in old["runs"] if r["id"] == config["id"]]
            log(f"[{i}/{len(configs)}] {config['id']}: kept ({entry['epochs']} epochs)")
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
        _save(results, path)
    if "random" in parts:
        results["random"] = random_rows(ml, seeds)
    elif old.get("random"):
        results["random"] = old["random"]
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    _save(results, path)
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
    scores at the chosen epoch), ``train_seconds`` and, per metric, mean and ``_std``."""
    import pandas as pd

    labels = {(t[0], t[1]): lab for c in sweep_configs() for t, lab in zip(c["tags"], c["labels"])}
    rows = []
    for config in results["configs"]:
        for tag, label in zip(config["tags"], config["labels"]):
            if tag[0] != sweep:
                continue
            label = labels.get(tuple(tag), label)  # the wording of this version of the code
            runs = [r for r in results["runs"] if r["id"] == config["id"]]
            at_best = [v for v in config.get("val_curve", []) if v["epoch"] == config["epochs"]]
            row = {"step": tag[1], "label": label, "epochs": config["epochs"],
                   "val_recall@20": config["val_recall@20"],
                   "val_ndcg@20": at_best[0].get("ndcg@20", math.nan) if at_best else math.nan,
                   "seeds": len(runs)}
            for m in (*metrics, "train_seconds"):
                values = [float(r[m]) for r in runs]
                row[m] = statistics.fmean(values)
                row[f"{m}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            rows.append(row)
    frame = pd.DataFrame(rows)
    if sweep == "ablation":
        order = {name: i for i, (name, _, _) in enumerate(ABLATION)}
        frame = frame.sort_values("step", key=lambda s: s.map(order))
    else:
        frame = frame.sort_values("step")
    return frame.reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gnnedu.sweeps",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(RESULTS_PATH), help="JSON file (%(default)s)")
    parser.add_argument("--only", default="ablation,depth,random",
                        help="comma-separated parts: ablation, depth, random (default: all)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the configurations already finished in --out")
    parser.add_argument("--data", default=None, help="MovieLens path (default: $GNNEDU_DATA)")
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


# ---------------------------------------------------------------------------------------------
# Tables and figures for notebook 07

def format_table(frame, metrics=("recall@20", "ndcg@20"), digits: int = 3):
    """``summary_frame`` output as strings: ``label``, chosen ``epochs``, each metric as
    "mean ± std" over seeds, and the mean training seconds (noisy: a shared machine)."""
    import pandas as pd

    out = pd.DataFrame({"configuration": frame["label"], "epochs": frame["epochs"]})
    for m in metrics:
        out[m] = [f"{a:.{digits}f} ± {s:.{digits}f}" for a, s in zip(frame[m], frame[f"{m}_std"])]
    out["train s"] = [f"{t:.0f}" for t in frame["train_seconds"]]
    return out


def plot_ablation(frame, metric: str = "recall@20"):
    """Horizontal bars: ``metric`` (mean ± std over seeds) for each ablation step, top down."""
    from gnnedu.plot import new_figure

    fig, ax = new_figure(figsize=(8.5, 0.45 * len(frame) + 1.5))
    y = list(range(len(frame)))[::-1]
    mean, std = frame[metric], frame[f"{metric}_std"]
    ax.barh(y, mean, xerr=std, color="#4c72b0", capsize=3,
            label=f"mean ± std over {int(frame['seeds'].min())} seeds")
    for yi, value, spread in zip(y, mean, std):
        ax.text(value + spread + 0.002, yi, f"{value:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, frame["label"])
    lo, hi = float((mean - std).min()), float((mean + std).max())
    ax.set_xlim(max(0.0, lo - 0.03), hi + 0.02)
    ax.set_xlabel(f"test {metric}")
    ax.set_title(f"Ablation, article's GCN to LightGCN (test {metric})")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_depth(results: dict, metrics=("recall@20", "ndcg@20"), references=None):
    """One panel per metric: mean ± std over seeds against the number of layers, one line per
    depth family. ``references``: optional ``{name: {metric: value}}`` drawn as dashed
    horizontal lines (e.g. other models' P1 means)."""
    from gnnedu.plot import new_figure

    fig, axes = new_figure(1, len(metrics), figsize=(5.6 * len(metrics), 4.2))
    axes = [axes] if len(metrics) == 1 else list(axes)
    for family, label, _, _ in DEPTH_FAMILIES:
        frame = summary_frame(results, family, metrics)
        for ax, m in zip(axes, metrics):
            ax.errorbar(frame["step"], frame[m], yerr=frame[f"{m}_std"], marker="o",
                        markersize=4, capsize=3, label=label)
    styles = iter([":", "--", "-."] * 4)
    for name, values in (references or {}).items():
        style = next(styles)
        for ax, m in zip(axes, metrics):
            if m in values:
                ax.axhline(values[m], color="grey", linestyle=style, linewidth=1.2, label=name)
    for ax, m in zip(axes, metrics):
        ax.set_xticks(list(DEPTHS))
        ax.set_xlabel("number of layers L")
        ax.set_ylabel(f"test {m}")
        ax.set_title(f"{m} against depth")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_comparison(summary, metrics=("recall@20", "ndcg@20")):
    """Left: each model's metrics (mean ± std over seeds) as grouped bars. Right: recall@20
    against mean training seconds (log scale). ``summary``: ``gnnedu.bench.summarize`` rows."""
    import numpy as np

    from gnnedu.plot import new_figure

    fig, (left, right) = new_figure(1, 2, figsize=(11.0, 4.2))
    names = [s["model"] for s in summary]
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    for j, m in enumerate(metrics):
        left.bar(x + (j - (len(metrics) - 1) / 2) * width, [s[m] for s in summary], width,
                 yerr=[s[f"{m}_std"] for s in summary], capsize=2, label=m)
    left.set_xticks(x, names, rotation=20)
    left.set_ylabel("test score (P1, mean ± std)")
    left.set_title("Every model on protocol P1")
    left.legend(fontsize=8)
    left.grid(axis="y", alpha=0.3)
    for s in summary:
        seconds = max(float(s["train_seconds"]), 1e-2)
        right.errorbar(seconds, s["recall@20"], yerr=s["recall@20_std"], marker="o", capsize=2)
        right.annotate(s["model"], (seconds, s["recall@20"]), textcoords="offset points",
                       xytext=(5, 4), fontsize=8)
    right.set_xscale("log")
    right.set_xlabel("training seconds (log scale, at least 0.01; shared machine, noisy)")
    right.set_ylabel("test recall@20")
    right.set_title("Accuracy against training time")
    right.grid(alpha=0.3)
    return fig
