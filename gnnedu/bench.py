"""The results table: every model under one protocol, several seeds (README, notebook 07).

API summary
-----------
- ``main(argv=None) -> int``: the ``gnnedu bench`` / ``python -m gnnedu.bench`` command line
  (``--help`` lists the options). Writes ``PREFIX.json`` and ``PREFIX.csv``, prints a Markdown
  table; ``--save-topk FILE`` writes each user's top-50 as CSV ``user_id,rank,item_id``
  (original MovieLens ids).
- ``run_benchmark(models=DEFAULT_MODELS, split="random", seeds=(0, 1, 2), threshold=None,
  test_ratio=0.2, epochs=None, progress=True, ml=None, topk_path=None) -> dict``: the results,
  ``{"protocol": ..., "environment": ..., "runs": [...], "summary": [...]}``.
- ``run_one(name, train, test, num_users, num_items, seed, epochs=None, progress=False)
  -> (row, model)``: fit and evaluate one model; ``row`` holds the metrics, ``train_seconds``,
  ``peak_mem_mb`` (resident memory added during ``fit``; Linux only, else NaN) and ``epochs``.
- ``summarize(runs) -> list[dict]``: mean and (sample) std over seeds per model.
- ``load_results(path=None) -> dict``: a results JSON; default, the committed protocol-P1 run
  (``gnnedu/results/p1.json``).
- ``markdown_table(results=None, columns=TABLE_COLUMNS, digits=3) -> str``: the README table.
- ``save_topk(model, ml, path, k=50)``: the top-K lists as CSV.

Protocol P1 (the default): MovieLens-100K, every rating an implicit positive, per-user random
80/20 split (``gnnedu.data.split_random``) for seeds 0, 1, 2, full ranking over all items with
each user's training items masked. The seed drives both the split and the model's
initialisation/sampling. Hyper-parameters are each model's defaults (``gnnedu.models``), chosen
on a validation slice of the seed-0 training data (``benchmarks/tune_p1.py``), never on test.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

DEFAULT_MODELS = ("popularity", "itemknn", "ease", "mf", "gcn", "lightgcn")
METRICS = ("precision", "recall", "f1", "ndcg", "map", "hit", "mrr")
KS = (10, 20)
# (column title, key in the summary) for the README table
TABLE_COLUMNS = (
    ("R@10", "recall@10"), ("N@10", "ndcg@10"), ("P@10", "precision@10"),
    ("R@20", "recall@20"), ("N@20", "ndcg@20"), ("train s", "train_seconds"),
    ("peak MB", "peak_mem_mb"),
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SPLITS = ("random", "u1", "u2", "u3", "u4", "u5", "ua", "ub")


# ---------------------------------------------------------------------------------------------
# memory: the peak resident set size during a call (Linux: reset VmHWM, read it afterwards)

def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _release_free_heap() -> None:
    """Give freed heap memory back to the OS (glibc), so that memory a later block allocates
    shows up as new resident memory instead of reusing pages that are already resident."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Context manager: ``.mb`` is the peak resident memory added inside the block (MB).

    Linux only (NaN elsewhere): free heap pages are released first, the kernel's peak-RSS
    counter is reset, and the peak is read at the end, minus the resident size at the start.
    """

    def __enter__(self):
        _release_free_heap()
        self.ok = _reset_peak()
        self.start = _status_kb("VmRSS")
        self.mb = math.nan
        return self

    def __exit__(self, *exc):
        peak = _status_kb("VmHWM")
        if self.ok and peak is not None and self.start is not None:
            self.mb = max(peak - self.start, 0.0) / 1024.0
        return False


# ---------------------------------------------------------------------------------------------

def machine_info() -> dict:
    import torch

    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_geometric": metadata.version("torch_geometric"),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def load_split(ml, split: str = "random", seed: int = 0, threshold: float | None = None,
               test_ratio: float = 0.2):
    """``(train, test)`` DataFrames for a split name: "random" or an official one ("u1"...)."""
    from gnnedu.data import implicit, split_random

    if split == "random":
        return split_random(ml.ratings, test_ratio=test_ratio, seed=seed, threshold=threshold)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    train, test = ml.official_split(split)
    return implicit(train, threshold), implicit(test, threshold)


def run_one(name: str, train, test, num_users: int, num_items: int, seed: int = 0,
            epochs: int | None = None, progress: bool = False):
    """Fit model ``name`` (its default hyper-parameters) on ``train``; evaluate on ``test``."""
    import torch

    from gnnedu.graph import build_graph
    from gnnedu.metrics import evaluate
    from gnnedu.models import EmbeddingRecommender, make_model

    graph = build_graph(train, num_users, num_items)
    torch.manual_seed(seed)  # for layers created in constructors (GCN transforms)
    model = make_model(name)
    options = {}
    if isinstance(model, EmbeddingRecommender):
        options = {"seed": seed, "progress": progress}
        if epochs is not None:
            options["epochs"] = epochs
    with PeakMemory() as mem:
        start = time.perf_counter()
        model.fit(graph, **options)
        seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = evaluate(model, graph, test, ks=KS)
    eval_seconds = time.perf_counter() - start
    history = getattr(model, "history", None)
    row = {"model": model.name, "key": name, "seed": seed}
    row.update({f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in METRICS})
    row.update({f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in ("coverage", "arp")})
    row.update({
        "users": metrics["users"], "train_seconds": seconds, "eval_seconds": eval_seconds,
        "peak_mem_mb": mem.mb, "epochs": len(history.epochs) if history else None,
    })
    return row, model


def summarize(runs: list[dict]) -> list[dict]:
    """Mean and sample standard deviation over seeds, per model (in order of appearance)."""
    order, groups = [], {}
    for row in runs:
        if row["key"] not in groups:
            order.append(row["key"])
            groups[row["key"]] = []
        groups[row["key"]].append(row)
    out = []
    for key in order:
        rows = groups[key]
        entry = {"model": rows[0]["model"], "key": key, "seeds": [r["seed"] for r in rows]}
        for col, value in rows[0].items():
            if col in ("model", "key", "seed") or not isinstance(value, (int, float)):
                continue
            values = [float(r[col]) for r in rows]
            if any(math.isnan(v) for v in values):  # e.g. peak memory off Linux
                entry[col] = entry[f"{col}_std"] = math.nan
                continue
            entry[col] = statistics.fmean(values)
            entry[f"{col}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        out.append(entry)
    return out


def save_topk(model, ml, path, k: int = 50) -> None:
    """Write every user's top-``k`` (training items masked) as ``user_id,rank,item_id``."""
    recs = model.recommend(k=k)
    user_ids = ml.users["user_id"].to_numpy()
    item_ids = ml.items["item_id"].to_numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "rank", "item_id"])
        for u, row in enumerate(recs.tolist()):
            for rank, item in enumerate(row, start=1):
                writer.writerow([int(user_ids[u]), rank, int(item_ids[item])])


def _topk_paths(path, names) -> dict:
    path = Path(path)
    if len(names) == 1:
        return {names[0]: path}
    return {n: path.with_name(f"{path.stem}_{n}{path.suffix or '.csv'}") for n in names}


def run_benchmark(models=DEFAULT_MODELS, split: str = "random", seeds=(0, 1, 2),
                  threshold: float | None = None, test_ratio: float = 0.2,
                  epochs: int | None = None, progress: bool = True, ml=None,
                  topk_path=None, topk: int = 50) -> dict:
    """Fit and evaluate every model for every seed; see the module docstring."""
    from gnnedu import setup_notebook
    from gnnedu.data import load_movielens
    from gnnedu.models import make_model

    models = [m.lower() for m in models]
    for name in models:
        make_model(name)  # fail early on an unknown name
    if ml is None:
        ml = load_movielens(progress=progress)
    topk_files = _topk_paths(topk_path, models) if topk_path else {}
    runs = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(models) * len(seeds), desc="bench", unit="run")
    for seed in seeds:
        setup_notebook(seed=seed)  # threads, deterministic algorithms, seeds
        train, test = load_split(ml, split, seed, threshold, test_ratio)
        for name in models:
            if bar is not None:
                bar.set_postfix_str(f"{name} seed {seed}")
            row, model = run_one(name, train, test, ml.num_users, ml.num_items, seed, epochs,
                                 progress=progress)
            row["split"] = split
            runs.append(row)
            if name in topk_files and seed == seeds[0]:
                save_topk(model, ml, topk_files[name], topk)
            if bar is not None:
                bar.update(1)
                bar.write(f"{row['model']:<12} seed {seed}  R@20 {row['recall@20']:.4f}  "
                          f"N@20 {row['ndcg@20']:.4f}  train {row['train_seconds']:.1f} s")
    if bar is not None:
        bar.close()
    protocol = {
        "dataset": "MovieLens-100K", "split": split, "test_ratio": test_ratio if split ==
        "random" else None, "seeds": list(seeds), "threshold": threshold,
        "ranking": "full, training items masked", "ks": list(KS), "epochs_override": epochs,
    }
    return {"protocol": protocol, "environment": machine_info(), "runs": runs,
            "summary": summarize(runs)}


def write_results(results: dict, prefix) -> tuple[Path, Path]:
    """Write ``PREFIX.json`` (everything) and ``PREFIX.csv`` (one row per model and seed)."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = prefix.with_suffix(".json"), prefix.with_suffix(".csv")
    with open(json_path, "w") as f:
        json.dump(results, f, indent=1, allow_nan=True)
        f.write("\n")
    runs = results["runs"]
    columns = list(runs[0]) if runs else []
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in runs:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    return json_path, csv_path


def load_results(path=None) -> dict:
    """Read a results JSON; by default the committed protocol-P1 results."""
    path = RESULTS_DIR / "p1.json" if path is None else Path(path)
    with open(path) as f:
        return json.load(f)


def _cell(entry: dict, key: str, digits: int) -> str:
    mean, std = entry.get(key), entry.get(f"{key}_std", 0.0)
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if key == "train_seconds":
        return f"{mean:.1f}"
    if key == "peak_mem_mb":
        return f"{mean:.0f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(results: dict | None = None, columns=TABLE_COLUMNS, digits: int = 3) -> str:
    """The results as a Markdown table: metrics as mean ± std over seeds, training seconds and
    peak memory as means. ``results``: from :func:`run_benchmark` or :func:`load_results`
    (default: the committed P1 results)."""
    results = load_results() if results is None else results
    summary = results.get("summary") or summarize(results["runs"])
    head = "| Model | " + " | ".join(title for title, _ in columns) + " |"
    rule = "|---|" + "|".join("---:" for _ in columns) + "|"
    lines = [head, rule]
    for entry in summary:
        cells = [_cell(entry, key, digits) for _, key in columns]
        lines.append(f"| {entry['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parse_floats(text: str, kind=int):
    return tuple(kind(x) for x in text.replace(" ", "").split(",") if x)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gnnedu bench",
        description="Fit and evaluate recommenders on MovieLens-100K (protocol P1 by default: "
                    "all ratings implicit, per-user random 80/20 split, seeds 0,1,2, full "
                    "ranking with training items masked).")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated: popularity,itemknn,ease,graphfilter,mf,gcn,lightgcn "
                        "(default: %(default)s)")
    p.add_argument("--model", dest="models", help="alias of --models")
    p.add_argument("--split", default="random", choices=SPLITS,
                   help="per-user random split or an official MovieLens split (default: random)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    p.add_argument("--seed", dest="seeds", help="alias of --seeds")
    p.add_argument("--threshold", type=float, default=None,
                   help="keep only ratings >= THRESHOLD as positives (default: all ratings)")
    p.add_argument("--test-ratio", type=float, default=0.2, help="random split only (0.2)")
    p.add_argument("--epochs", type=int, default=None,
                   help="override the trained models' epoch count (quick runs)")
    p.add_argument("--out", default="bench_p1",
                   help="output prefix: writes OUT.json and OUT.csv (default: %(default)s)")
    p.add_argument("--save-topk", metavar="FILE", default=None,
                   help="write each user's top-50 (first seed) as CSV user_id,rank,item_id; with "
                        "several models, FILE_<model>.csv per model")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--data", default=None, help="MovieLens path (default: $GNNEDU_DATA/cache)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    from gnnedu.data import DataError, load_movielens

    models = [m for m in args.models.replace(" ", "").split(",") if m]
    seeds = _parse_floats(args.seeds, int)
    if not models or not seeds:
        print("error: give at least one model and one seed", file=sys.stderr)
        return 2
    try:
        ml = load_movielens(args.data, progress=not args.no_progress)
        results = run_benchmark(models, args.split, seeds, args.threshold, args.test_ratio,
                                args.epochs, progress=not args.no_progress, ml=ml,
                                topk_path=args.save_topk)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DataError as err:
        print(f"gnnedu bench: {err}", file=sys.stderr)
        return 1
    results["command"] = "gnnedu bench " + " ".join(sys.argv[1:] if argv is None else argv)
    json_path, csv_path = write_results(results, args.out)
    print(markdown_table(results))
    print(f"\nwrote {json_path} and {csv_path}" + (
        f"; top-50 lists: {args.save_topk}" if args.save_topk else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
