"""The one experiment runner: fit, time, measure memory, evaluate; summarise seeds; save results.

``gnnedu bench``, the precomputed sweeps of notebook 07 (``gnnedu.sweeps``) and the scripts in
``benchmarks/`` all run their models through :func:`run_one` and summarise with
:func:`summarize`, so their rows are comparable.

API summary
-----------
- ``run_one(model, train, test, num_users, num_items, seed=0, epochs=None, progress=False,
  fit_options=None) -> (row, fitted_model)``: ``model`` is a name in ``gnnedu.models.MODELS``
  (built with its defaults) or a zero-argument function that builds one. ``row`` holds
  ``model`` (display name), ``key``, ``seed``, every metric of ``gnnedu.metrics.METRIC_NAMES``
  at each K of ``gnnedu.metrics.KS``, coverage and ARP, ``users``, ``train_seconds``,
  ``eval_seconds``, ``peak_mem_mb`` (resident memory added during ``fit``; Linux only, else NaN)
  and ``epochs`` (trained models).
- ``summarize(runs, by="key") -> list[dict]``: mean and sample std over seeds per group, in
  order of appearance.
- ``paired_test(runs_a, runs_b, metric, method="t") -> dict``: is A's ``metric`` different from
  B's, seed by seed? A paired t-test (``scipy.stats.ttest_rel``) or Wilcoxon signed-rank test
  over the seeds both share (the same splits); ``PAIRED_TESTS`` names the methods.
- ``PeakMemory``: context manager measuring the peak resident memory added inside it.
- ``machine_info() -> dict``: Python, torch and PyG versions, threads, CPU.
- ``write_results(results, prefix) -> (json_path, csv_path)``, ``load_results(path=None)``
  (default: the committed protocol-P1 results ``gnnedu/results/p1.json``), ``save_json(obj,
  path)`` (atomic: a temporary file, then a rename).
- ``EARLY_STOPPING``, ``VAL_RATIO``: the validation settings with which every trained model's
  epoch count was chosen (``benchmarks/tune_p1.py``, ``gnnedu.sweeps``).

Seeding, as in every table of the collection: ``setup_notebook(seed)`` before the split, then
``torch.manual_seed(seed)`` just before the model is built (for layers created in
constructors), and ``seed`` passed to ``fit`` (initialisation, batches, negatives).
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Early stopping on a validation slice of the training data: how trained models' epoch counts
# were chosen (benchmarks/tune_p1.py, gnnedu.sweeps). The slice is VAL_RATIO of each user's
# training interactions (gnnedu.train.carve_validation).
EARLY_STOPPING = dict(epochs=300, eval_every=5, patience=4, metric="recall@20", ks=(20,))
VAL_RATIO = 0.1

__all__ = [
    "run_one", "summarize", "PeakMemory", "machine_info", "write_results", "load_results",
    "save_json", "EARLY_STOPPING", "VAL_RATIO", "RESULTS_DIR", "paired_test", "PAIRED_TESTS",
]

# Paired tests over seeds: "t" (paired t-test) or "wilcoxon" (signed-rank, exact for few seeds).
PAIRED_TESTS = ("t", "wilcoxon")
NO_SPREAD = 1e-12  # per-seed differences whose std is below this count as all equal


# ---------------------------------------------------------------------------------------------
# Peak memory: the peak resident set size during a block (Linux: reset VmHWM, read it after)
# ---------------------------------------------------------------------------------------------

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


def machine_info() -> dict:
    """Versions, threads and CPU of this run (recorded beside every results file)."""
    import torch

    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_geometric": metadata.version("torch_geometric"),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


# ---------------------------------------------------------------------------------------------
# One run, and the summary over seeds
# ---------------------------------------------------------------------------------------------

def run_one(model, train, test, num_users: int, num_items: int, seed: int = 0,
            epochs: int | None = None, progress: bool = False, fit_options: dict | None = None):
    """Fit one model on ``train`` and evaluate it on ``test`` (full ranking, train masked).

    Args:
        model: a key of ``gnnedu.models.MODELS`` (its default hyper-parameters) or a
            zero-argument function returning an unfitted ``Recommender``.
        train, test: DataFrames with ``user`` and ``item`` columns (0-based indices).
        num_users, num_items: sizes of the graph (e.g. ``ml.num_users``).
        seed: passed to ``fit`` (a trained model's initialisation and sampling, the random
            baseline's scores); ``torch.manual_seed(seed)`` runs just before the model is built.
        epochs: overrides a trained model's epoch count.
        progress: a progress bar over a trained model's epochs.
        fit_options: more ``fit`` keywords (``gnnedu.train.TrainConfig`` fields).

    Returns:
        ``(row, model)``: the row described in the module docstring and the fitted model.
    """
    import torch

    from gnnedu.graph import build_graph
    from gnnedu.metrics import KS, METRIC_NAMES, evaluate
    from gnnedu.models import EmbeddingRecommender, make_model

    graph = build_graph(train, num_users, num_items)
    torch.manual_seed(seed)  # for layers created in constructors (GCN transforms)
    if isinstance(model, str):
        key, model = model.lower(), make_model(model)
    else:
        model = model()
        key = model.name
    options = {"seed": seed, **(fit_options or {})}
    if isinstance(model, EmbeddingRecommender):
        options["progress"] = progress
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
    row = {"model": model.name, "key": key, "seed": seed}
    row.update({f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in METRIC_NAMES})
    row.update({f"{m}@{k}": metrics[f"{m}@{k}"] for k in KS for m in ("coverage", "arp")})
    row.update({
        "users": metrics["users"], "train_seconds": seconds, "eval_seconds": eval_seconds,
        "peak_mem_mb": mem.mb, "epochs": len(history.epochs) if history else None,
    })
    return row, model


def summarize(runs: list[dict], by: str = "key") -> list[dict]:
    """Mean and sample standard deviation over the rows of each group (rows with the same
    ``by`` value, usually one per seed), in order of first appearance.

    Every numeric column ``c`` gets ``c`` (mean) and ``c_std`` (0 for a single row; NaN when a
    value is NaN, e.g. peak memory off Linux); ``model``, ``key`` and ``seeds`` are kept.
    """
    order, groups = [], {}
    for row in runs:
        if row[by] not in groups:
            order.append(row[by])
            groups[row[by]] = []
        groups[row[by]].append(row)
    out = []
    for group in order:
        rows = groups[group]
        entry = {"model": rows[0].get("model"), "key": rows[0].get("key", group), by: group,
                 "seeds": [r["seed"] for r in rows]}
        for col, value in rows[0].items():
            if col in ("model", "key", "seed", by) or isinstance(value, bool) \
                    or not isinstance(value, (int, float)):
                continue
            values = [float(r[col]) for r in rows]
            if any(math.isnan(v) for v in values):
                entry[col] = entry[f"{col}_std"] = math.nan
                continue
            entry[col] = statistics.fmean(values)
            entry[f"{col}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        out.append(entry)
    return out


def paired_test(runs_a, runs_b, metric: str = "recall@20", method: str = "t") -> dict:
    """Compare two models seed by seed: a paired test over the seeds (the same splits).

    A seed fixes the split, so two models run with the same seed saw the same training and test
    data; the differences per seed remove the luck of the split that both share, which is why a
    paired test can see a gap that overlapping ``mean ± std`` bars hide.

    Args:
        runs_a, runs_b: rows with ``seed`` and ``metric`` (``run_one`` rows), one per seed; both
            must cover the same seeds (at least two).
        metric: the column compared, e.g. ``"recall@20"``.
        method: ``"t"``, the paired t-test (``scipy.stats.ttest_rel``), or ``"wilcoxon"``, the
            signed-rank test (``scipy.stats.wilcoxon``; with 5 seeds its smallest two-sided
            p-value is 2 / 2^5 = 0.0625).

    Returns:
        ``{"metric", "method", "seeds", "n", "mean_a", "mean_b", "mean_diff" (A - B),
        "std_diff" (sample std of the per-seed differences), "wins" (seeds where A > B),
        "statistic", "p_value" (two-sided)}``. When every difference is the same (their std
        at most ``NO_SPREAD``, float rounding) the t-test is undefined; then ``p_value`` is 1
        if that difference is 0 and 0 otherwise.
    """
    if method not in PAIRED_TESTS:
        raise ValueError(f"method must be one of {PAIRED_TESTS}, got {method!r}")
    a = {int(r["seed"]): float(r[metric]) for r in runs_a}
    b = {int(r["seed"]): float(r[metric]) for r in runs_b}
    if len(a) != len(runs_a) or len(b) != len(runs_b):
        raise ValueError("each seed must appear once per model")
    if set(a) != set(b):
        raise ValueError(f"the two models were run on different seeds: {sorted(a)} vs "
                         f"{sorted(b)}; a paired test needs the same splits")
    seeds = sorted(a)
    if len(seeds) < 2:
        raise ValueError("a paired test needs at least two seeds")
    xa, xb = [a[s] for s in seeds], [b[s] for s in seeds]
    diffs = [x - y for x, y in zip(xa, xb)]
    out = {"metric": metric, "method": method, "seeds": seeds, "n": len(seeds),
           "mean_a": statistics.fmean(xa), "mean_b": statistics.fmean(xb),
           "mean_diff": statistics.fmean(diffs), "std_diff": statistics.stdev(diffs),
           "wins": sum(d > 0 for d in diffs)}
    if out["std_diff"] <= NO_SPREAD:  # the test statistic is 0/0 or x/0
        mean = out["mean_diff"]
        out["statistic"] = 0.0 if abs(mean) <= NO_SPREAD else math.copysign(math.inf, mean)
        out["p_value"] = 1.0 if abs(mean) <= NO_SPREAD else 0.0
        return out
    from scipy import stats

    if method == "t":
        result = stats.ttest_rel(xa, xb)
    else:
        result = stats.wilcoxon(xa, xb, zero_method="wilcox")
    out["statistic"], out["p_value"] = float(result.statistic), float(result.pvalue)
    return out


# ---------------------------------------------------------------------------------------------
# Results files
# ---------------------------------------------------------------------------------------------

def save_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (temporary file, then rename), so
    an interrupted run never leaves a half-written results file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=True) + "\n")
    tmp.replace(path)
    return path


def write_results(results: dict, prefix) -> tuple[Path, Path]:
    """Write ``PREFIX.json`` (everything) and ``PREFIX.csv`` (one row per model and seed)."""
    prefix = Path(prefix)
    json_path, csv_path = prefix.with_suffix(".json"), prefix.with_suffix(".csv")
    save_json(results, json_path)
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
    """Read a results JSON; by default the committed protocol-P1 results
    (``gnnedu/results/p1.json``, written by ``gnnedu bench``)."""
    path = RESULTS_DIR / "p1.json" if path is None else Path(path)
    with open(path) as f:
        return json.load(f)
