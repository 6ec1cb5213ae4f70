"""The rating protocol: runs, results files, tuning on validation, ``gnnedu bench --task rating``.

Protocol (notebook 10): MovieLens-100K's official folds u1..u5; each model is fitted on
``uN.base`` and predicts every line of ``uN.test`` (clipped to [1, 5], the fallback for users or
movies absent from the base file); RMSE and MAE over the test lines. A seed drives only the
model (initialisation, dropout): the folds are fixed files. Each run also ranks every movie for
every user by predicted rating (base movies masked) and scores the top 20 against the test
movies the user rated 4 or 5 (recall@20, NDCG@20 of ``gnnedu.metrics``), to show how a rating
model fares as a recommender.

Commands (both resume: finished runs in the file are kept, and the file is rewritten after
every run)::

    python -m gnnedu.rating                # RESULTS_PATH: every model x u1..u5 x seeds 0-4
    python -m gnnedu.rating tune           # TUNING_PATH: the validation runs of the defaults

``--shard K/N`` splits the runs between N processes (``K = 0 .. N-1``) that share the file.

API summary
-----------
- ``RESULTS_PATH``, ``TUNING_PATH``: ``gnnedu/results/rating/folds.json``, ``tuning.json``.
- ``run_rating(key, ml, split="u1", seed=0, epochs=None, progress=False, features=None)
  -> (row, model)``: one fit and evaluation; ``row`` holds ``model``, ``key``, ``split``,
  ``seed``, ``rmse``, ``mae``, ``test_ratings``, ``fallback`` (pairs that used it),
  ``train_seconds`` (wall), ``cpu_seconds``, ``epochs``, ``recall@20``, ``ndcg@20``.
- ``rank_metrics(scores, base, test, k=20, like=4) -> dict``: ranking metrics of a score
  matrix; ``ranking_scores(model, base, test)``: those of a rating model (the row's).
- ``run_rating_benchmark(models, splits, seeds, ml, ...) -> dict``: ``{"protocol",
  "environment", "runs", "summary"}`` (``summary``: ``gnnedu.experiment.summarize`` per model).
- ``save_predictions(model, test, path)``: CSV ``user_id,item_id,prediction``, one row per test
  line in file order, original MovieLens ids.
- ``run_all(path=RESULTS_PATH, models, splits, seeds, ml=None, fresh=False) -> dict`` and
  ``tune(path=TUNING_PATH, ml=None, fresh=False, models=None) -> dict``: the two
  precomputations; ``tuning_configs(models)``, ``chosen_settings(tuning) -> {key: row}``.
- ``load_rating_results(path=RESULTS_PATH)``, ``load_tuning(path=TUNING_PATH)``.
- ``results_table(results) -> DataFrame``: per model, u1 seed 0, u1 mean ± std over seeds, and
  the mean ± std over the five folds of the per-fold seed means.
- ``paired_comparison(results, a, b, metric="rmse", splits=None) -> dict``: paired t-test and
  Wilcoxon signed-rank test of ``a - b`` over the (split, seed) pairs both have.
- ``bench_main(args, argv) -> int``: ``gnnedu bench --task rating`` (called by
  ``gnnedu.bench``).
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from gnnedu.experiment import RESULTS_DIR, machine_info, save_json, summarize
from gnnedu.rating.data import RATING_SPLITS, load_rating_split, mae, rating_tensors, rmse

__all__ = [
    "RESULTS_PATH", "TUNING_PATH", "DEFAULT_SEEDS", "LIKE", "RANK_K", "run_rating", "rank_metrics",
    "ranking_scores", "run_rating_benchmark", "save_predictions", "run_all", "tune",
    "load_rating_results", "load_tuning", "results_table", "paired_comparison", "bench_main",
    "VAL_RATIO", "TUNING_GRIDS", "tuning_configs", "chosen_settings", "TUNE_EPOCHS",
    "MAX_EPOCHS",
]

RESULTS_PATH = RESULTS_DIR / "rating" / "folds.json"
TUNING_PATH = RESULTS_DIR / "rating" / "tuning.json"
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
LIKE = 4      # a test rating >= LIKE is a movie the user liked (the ranking check)
RANK_K = 20   # length of the ranked list in the ranking check
VAL_RATIO = 0.1  # share of each user's u1.base ratings held out for tuning


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def rank_metrics(scores: torch.Tensor, base: pd.DataFrame, test: pd.DataFrame,
                 k: int = RANK_K, like: int = LIKE) -> dict:
    """Rank all movies per user by ``scores`` (``[num_users, num_items]``, higher first; base
    movies masked) and score the top ``k`` against the user's test movies rated ``>= like``.
    Returns ``recall@k`` and ``ndcg@k`` (``gnnedu.metrics`` formulas, means over the users
    with at least one such movie) and ``rank_users`` (how many users that is)."""
    from gnnedu.metrics import hit_matrix, ranking_metrics, topk_masked

    seen = torch.zeros(scores.shape, dtype=torch.bool)
    seen[rating_tensors(base)[:2]] = True
    relevant = torch.zeros(scores.shape, dtype=torch.bool)
    relevant[rating_tensors(test[test["rating"] >= like])[:2]] = True
    users = torch.nonzero(relevant.any(1)).flatten()
    top = topk_masked(scores[users], k, seen[users])
    per_user = ranking_metrics(hit_matrix(top, relevant[users]), relevant[users].sum(1), ks=(k,))
    return {f"recall@{k}": float(per_user[f"recall@{k}"].mean()),
            f"ndcg@{k}": float(per_user[f"ndcg@{k}"].mean()), "rank_users": int(users.numel())}


def ranking_scores(model, base: pd.DataFrame, test: pd.DataFrame, k: int = RANK_K,
                   like: int = LIKE) -> dict:
    """:func:`rank_metrics` of a rating model: movies ranked by predicted rating."""
    return rank_metrics(model.predict_matrix(), base, test, k, like)


def run_rating(key: str, ml, split: str = "u1", seed: int = 0, epochs: int | None = None,
               progress: bool = False, features=None):
    """Fit rating model ``key`` on ``split``'s base file and score its test file.

    Args:
        key: a key of ``gnnedu.rating.RATING_MODELS``.
        ml: ``gnnedu.data.load_movielens()``.
        split: "u1".."u5".
        seed: the model's seed (``setup_notebook(seed)`` runs first: deterministic algorithms).
        epochs: override GC-MC's epoch count (quick runs).
        progress: a progress bar over GC-MC's epochs.
        features: ``gnnedu.rating.side_features(ml)`` (computed when needed and not given).

    Returns:
        ``(row, model)``: the row of the module docstring and the fitted model.
    """
    from gnnedu import setup_notebook
    from gnnedu.rating import make_rating_model, side_features

    model = make_rating_model(key)
    base, test = load_rating_split(ml, split)
    setup_notebook(seed=seed)
    if model.uses_features and features is None:
        features = side_features(ml)
    options = {"seed": seed, "progress": progress}
    if model.uses_features:
        options["features"] = features
    if epochs is not None and hasattr(model, "epochs"):
        options["epochs"] = epochs
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(base, ml.num_users, ml.num_items, **options)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    pred = model.predict(test["user"], test["item"])
    row = {"model": model.name, "key": key, "split": split, "seed": seed,
           "rmse": rmse(pred, test["rating"]), "mae": mae(pred, test["rating"]),
           "test_ratings": len(test), "fallback": model.fallback_count,
           "train_seconds": seconds, "cpu_seconds": cpu_seconds,
           "epochs": len(model.history.loss) if hasattr(model, "history") else None}
    row.update(ranking_scores(model, base, test))
    return row, model


def save_predictions(model, test: pd.DataFrame, path) -> Path:
    """Write ``user_id,item_id,prediction`` for every line of ``test`` (file order, original
    MovieLens ids, predictions clipped to [1, 5] with 6 decimals)."""
    pred = model.predict(test["user"], test["item"]).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "prediction"])
        for user_id, item_id, p in zip(test["user_id"], test["item_id"], pred):
            writer.writerow([int(user_id), int(item_id), f"{p:.6f}"])
    return path


def _prediction_paths(path, models, splits) -> dict:
    """``{(model, split): file}``: ``path`` itself for one of each; else ``_model`` and/or
    ``_split`` appended to the stem (``pred.csv`` -> ``pred_u1.csv`` .. ``pred_u5.csv``)."""
    path = Path(path)
    suffix = path.suffix or ".csv"
    out = {}
    for m in models:
        for s in splits:
            parts = ([m] if len(models) > 1 else []) + ([s] if len(splits) > 1 else [])
            out[(m, s)] = path.with_name("_".join([path.stem] + parts) + suffix) if parts \
                else path
    return out


def run_rating_benchmark(models, splits=("u1",), seeds=(0,), ml=None, epochs=None,
                         progress: bool = True, predictions_path=None) -> dict:
    """Every model on every split for every seed; predictions of the first seed saved to
    ``predictions_path`` (see :func:`_prediction_paths`) when given."""
    from gnnedu.data import load_movielens
    from gnnedu.rating import make_rating_model, side_features

    models = [m.lower() for m in models]
    for key in models:
        make_rating_model(key)  # fail early on an unknown name
    ml = load_movielens(progress=progress) if ml is None else ml
    features = side_features(ml)
    files = _prediction_paths(predictions_path, models, splits) if predictions_path else {}
    runs = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(models) * len(splits) * len(seeds), desc="rating", unit="run")
    for split in splits:
        for seed in seeds:
            for key in models:
                row, model = run_rating(key, ml, split, seed, epochs, progress, features)
                runs.append(row)
                if (key, split) in files and seed == seeds[0]:
                    save_predictions(model, load_rating_split(ml, split)[1], files[(key, split)])
                if bar is not None:
                    bar.update(1)
                    bar.write(f"{row['model']:<17} {split} seed {seed}  RMSE {row['rmse']:.4f}  "
                              f"MAE {row['mae']:.4f}  train {row['train_seconds']:.1f} s")
    if bar is not None:
        bar.close()
    return {"protocol": _protocol(splits, seeds, epochs), "environment": machine_info(),
            "runs": runs, "summary": summarize(runs)}


def _protocol(splits, seeds, epochs=None) -> dict:
    return {"dataset": "MovieLens-100K", "task": "rating", "splits": list(splits),
            "seeds": list(seeds), "metrics": ["rmse", "mae"], "clip": [1, 5],
            "fallback": "bias baseline (mu + known biases) for users/movies absent from base",
            "ranking": f"top {RANK_K} by predicted rating, base movies masked, relevant: test "
                       f"ratings >= {LIKE}", "epochs_override": epochs}


# ---------------------------------------------------------------------------------------------
# The precomputed results: every model, fold and seed (resumable)
# ---------------------------------------------------------------------------------------------

def _append_run(path: Path, row: dict, header: dict) -> dict:
    """Add ``row`` to the results file under a lock (several processes may share the file,
    e.g. one per model), write it atomically, and return the file's content."""
    from gnnedu.data.fetch import cache_lock

    with cache_lock(f"rating-{path.stem}"):
        results = load_rating_results(path) if path.exists() else {"runs": []}
        results.update(header)
        same = [r for r in results["runs"] if all(r.get(k) == row[k] for k in ("key", "split",
                                                                              "seed", "config")
                                                  if k in row)]
        if not same:  # a run another process already finished is not added twice
            results["runs"].append(row)
        results["environment"] = machine_info()
        save_json(results, path)
    return results


def _done(path: Path, fresh: bool, fields) -> set:
    if fresh and path.exists():
        path.unlink()
    if not path.exists():
        return set()
    return {tuple(repr(r[f]) for f in fields) for r in load_rating_results(path)["runs"]}


def run_all(path=RESULTS_PATH, models=None, splits=RATING_SPLITS, seeds=DEFAULT_SEEDS, ml=None,
            fresh: bool = False, progress: bool = True, shard=(0, 1)) -> dict:
    """Run every (model, split, seed) not yet in ``path``, adding each run to the file as it
    finishes (so an interrupted run resumes). ``shard=(k, n)``: only every n-th run of the
    full list, starting at the k-th, so that n processes can share the work and the file."""
    from gnnedu.data import load_movielens
    from gnnedu.rating import RATING_MODELS, side_features

    models = list(RATING_MODELS) if models is None else [m.lower() for m in models]
    path = Path(path)
    fields = ("key", "split", "seed")
    done = _done(path, fresh, fields)
    every = [(k, s, seed) for s in splits for seed in seeds for k in models]
    todo = [run for n, run in enumerate(every) if n % shard[1] == shard[0]
            and tuple(map(repr, run)) not in done]
    header = {"protocol": _protocol(RATING_SPLITS, DEFAULT_SEEDS),
              "command": "python -m gnnedu.rating"}
    ml = load_movielens(progress=progress) if ml is None else ml
    features = side_features(ml)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="rating runs", unit="run")
    for key, split, seed in todo:
        if path.exists() and (repr(key), repr(split), repr(seed)) in _done(path, False, fields):
            continue  # another process sharing the file has finished it meanwhile
        row, _ = run_rating(key, ml, split, seed, progress=False, features=features)
        _append_run(path, row, header)
        if bar is not None:
            bar.update(1)
            bar.write(f"{key:<10} {split} seed {seed}: RMSE {row['rmse']:.4f}, "
                      f"{row['cpu_seconds']:.0f} s CPU")
    if bar is not None:
        bar.close()
    return load_rating_results(path) if path.exists() else {"runs": []}


def load_rating_results(path=RESULTS_PATH) -> dict:
    """The precomputed runs (``python -m gnnedu.rating``)."""
    import json

    with open(path) as f:
        return json.load(f)


def _mean_std(values) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def results_table(results: dict, metrics=("rmse", "mae"), order=None) -> pd.DataFrame:
    """One row per model: ``u1 seed 0``, ``u1`` (mean ± std over seeds) and ``u1-u5`` (mean ±
    std over the folds of each fold's mean over seeds) for each metric, plus mean CPU
    seconds of training, the seeds and the number of runs."""
    frame = pd.DataFrame(results["runs"])
    if order is None:  # the registry's order (gnnedu.rating.RATING_MODELS), then any others
        from gnnedu.rating import RATING_MODELS

        present = list(dict.fromkeys(frame["key"]))
        order = [k for k in RATING_MODELS if k in present] + [k for k in present
                                                             if k not in RATING_MODELS]
    keys = order
    rows = []
    for key in keys:
        runs = frame[frame["key"] == key]
        u1 = runs[runs["split"] == "u1"]
        row = {"key": key, "model": runs["model"].iloc[0]}
        for m in metrics:
            seed0 = u1[u1["seed"] == 0][m]
            row[f"{m} u1 seed 0"] = float(seed0.iloc[0]) if len(seed0) else math.nan
            row[f"{m} u1"], row[f"{m} u1 std"] = _mean_std(u1[m])
            per_fold = runs.groupby("split")[m].mean()
            row[f"{m} folds"], row[f"{m} folds std"] = _mean_std(per_fold)
        row["cpu s"] = float(runs["cpu_seconds"].mean())
        row["folds"], row["seeds"], row["runs"] = (runs["split"].nunique(),
                                                   runs["seed"].nunique(), len(runs))
        rows.append(row)
    return pd.DataFrame(rows).set_index("key")


def paired_comparison(results: dict, a: str, b: str, metric: str = "rmse", splits=None) -> dict:
    """Is model ``a``'s ``metric`` different from ``b``'s? Pairs are the (split, seed) runs
    both have (``splits``: restrict, e.g. ``["u1"]``), compared with
    ``gnnedu.experiment.paired_test``. Returns ``n``, ``mean_a``, ``mean_b``, ``mean_diff``
    (a - b), ``wins`` (pairs with a < b: lower error), ``t_p`` (paired t-test) and
    ``wilcoxon_p`` (signed-rank test), both two-sided."""
    from gnnedu.experiment import paired_test

    def by_pair(key):
        return {(r["split"], r["seed"]): float(r[metric]) for r in results["runs"]
                if r["key"] == key and (splits is None or r["split"] in splits)}

    ra, rb = by_pair(a), by_pair(b)
    pairs = sorted(set(ra) & set(rb))
    if len(pairs) < 2:
        raise ValueError(f"{a} and {b} share {len(pairs)} (split, seed) runs; a paired test "
                         "needs at least two")

    def rows(values):  # one paired unit per (split, seed), numbered as paired_test's "seeds"
        return [{"seed": n, metric: values[pair]} for n, pair in enumerate(pairs)]

    t_test = paired_test(rows(ra), rows(rb), metric, method="t")
    wilcoxon = paired_test(rows(ra), rows(rb), metric, method="wilcoxon")
    return {"metric": metric, "n": t_test["n"], "mean_a": t_test["mean_a"],
            "mean_b": t_test["mean_b"], "mean_diff": t_test["mean_diff"],
            "wins": sum(ra[pair] < rb[pair] for pair in pairs),
            "t_p": t_test["p_value"], "wilcoxon_p": wilcoxon["p_value"]}


# ---------------------------------------------------------------------------------------------
# Tuning on validation data (u1.base only; the test file is never read)
# ---------------------------------------------------------------------------------------------

TUNING_GRIDS = {
    "bias": {"reg_user": [0, 1, 2, 5, 10, 15, 25], "reg_item": [0, 1, 2, 5, 10, 15, 25]},
    "biasmf": {"dim": [5, 10, 20, 40], "reg": [5, 10, 15, 20, 30, 50], "reg_bias": [2, 5, 10]},
    # GC-MC: one long run per variant; the validation curve gives the epoch count
    "gcmc": [{"weight_sharing": False}, {"weight_sharing": True}],
    "gcmc-feat": [{"weight_sharing": False}, {"weight_sharing": True},
                  {"weight_sharing": False, "shared_dense": True},
                  {"weight_sharing": True, "shared_dense": True}],
}
TUNE_EPOCHS = 1500   # the longest GC-MC run looked at
MAX_EPOCHS = 1200    # the longest allowed: training must stay under 2 minutes on one core
LOSS_EVERY = 5       # the tuning file keeps every 5th epoch's training loss


def load_tuning(path=TUNING_PATH) -> dict:
    """The validation runs (``python -m gnnedu.rating tune``)."""
    import json

    with open(path) as f:
        return json.load(f)


def tuning_configs(models=None) -> list[tuple[str, dict]]:
    """Every ``(key, config)`` of :data:`TUNING_GRIDS` (grids expanded), for ``models``."""
    from itertools import product

    out = []
    for key, grid in TUNING_GRIDS.items():
        if models is not None and key not in models:
            continue
        if isinstance(grid, dict):
            out += [(key, dict(zip(grid, values))) for values in product(*grid.values())]
        else:
            out += [(key, dict(c)) for c in grid]
    return out


def tune(path=TUNING_PATH, ml=None, fresh: bool = False, progress: bool = True,
         models=None, shard=(0, 1)) -> dict:
    """Choose every model's settings on a validation slice of u1.base (``VAL_RATIO`` of each
    user's ratings, ``gnnedu.train.carve_validation``, seed 0): grids for the baselines, and
    one ``TUNE_EPOCHS``-epoch run per GC-MC variant whose validation curve gives the epochs
    (best epoch up to ``MAX_EPOCHS``). Each configuration is added to the file as it finishes
    (resumes); ``shard=(k, n)`` runs every n-th configuration from the k-th, so n processes
    can share the work and the file."""
    from gnnedu import setup_notebook
    from gnnedu.data import load_movielens
    from gnnedu.rating import make_rating_model, side_features
    from gnnedu.train import carve_validation

    path = Path(path)
    ml = load_movielens(progress=progress) if ml is None else ml
    base, _ = ml.official_split("u1")
    fit, val = carve_validation(base, ratio=VAL_RATIO, seed=0)
    header = {"protocol": {"split": "u1.base only", "val_ratio": VAL_RATIO,
                           "fit_ratings": len(fit), "val_ratings": len(val),
                           "tune_epochs": TUNE_EPOCHS, "max_epochs": MAX_EPOCHS},
              "command": "python -m gnnedu.rating tune"}
    done = _done(path, fresh, ("key", "config"))
    features = side_features(ml)
    for n, (key, config) in enumerate(tuning_configs(models)):
        if n % shard[1] != shard[0] or (repr(key), repr(config)) in done:
            continue
        setup_notebook(seed=0)
        model = make_rating_model(key, **config)
        options = {"seed": 0}
        if model.uses_features:
            options["features"] = features
        if hasattr(model, "epochs"):
            options.update(val=val, epochs=TUNE_EPOCHS, progress=progress)
        model.fit(fit, ml.num_users, ml.num_items, **options)
        row = {"key": key, "config": config}
        if hasattr(model, "history"):
            h = model.history
            allowed = [(e, v) for e, v in zip(h.val_epochs, h.val_rmse) if e <= MAX_EPOCHS]
            row["epochs"], row["val_rmse"] = min(allowed, key=lambda ev: ev[1])
            row.update(curve_epochs=h.val_epochs, curve_rmse=h.val_rmse,
                       best_epoch_any=h.best_epoch, cpu_seconds=h.cpu_seconds,
                       loss_every=LOSS_EVERY, loss=h.loss[::LOSS_EVERY])
        else:
            row["val_rmse"] = rmse(model.predict(val["user"], val["item"]), val["rating"])
        _append_run(path, row, header)
        if progress:
            print(f"{key:<10} {config}: validation RMSE {row['val_rmse']:.4f}"
                  + (f" at epoch {row['epochs']}" if "epochs" in row else ""), flush=True)
    return load_tuning(path)


def chosen_settings(tuning: dict) -> dict:
    """``{key: best row}``: each model's configuration with the lowest validation RMSE."""
    best = {}
    for row in tuning["runs"]:
        if row["key"] not in best or row["val_rmse"] < best[row["key"]]["val_rmse"]:
            best[row["key"]] = row
    return best


# ---------------------------------------------------------------------------------------------
# Command lines: python -m gnnedu.rating, and gnnedu bench --task rating
# ---------------------------------------------------------------------------------------------

def _split_list(text: str) -> list[str]:
    return [x for x in text.replace(" ", "").split(",") if x]


def bench_main(args, argv=None) -> int:
    """``gnnedu bench --task rating``: validate the shared options, run, write OUT.json/.csv
    (and the prediction files), print a table. Exit 2 on misuse, 1 on missing data."""
    from gnnedu.bench import DEFAULT_MODELS
    from gnnedu.bench import DEFAULT_SEEDS as TOPK_SEEDS
    from gnnedu.data import DataError, load_movielens
    from gnnedu.experiment import write_results
    from gnnedu.rating import RATING_MODELS

    def misuse(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    split = "u1" if args.split is None else args.split
    if split != "all" and split not in RATING_SPLITS:
        return misuse(f"unknown split {split!r} for --task rating; choose from "
                      f"{', '.join(RATING_SPLITS)} or all")
    if args.threshold is not None:
        return misuse("--threshold is for top-K recommendation; --task rating predicts the "
                      "ratings themselves, so drop it")
    if args.test_ratio != 0.2:
        return misuse("--test-ratio is for the random split; --task rating uses the official "
                      "folds u1..u5")
    if args.save_topk:
        return misuse("--save-topk is for top-K recommendation; use --save-predictions FILE")
    if getattr(args, "protocol", "p1") != "p1":
        return misuse("--protocol chooses a top-K protocol; --task rating has its own (the "
                      "official folds), so drop it")
    default_models = args.models == ",".join(DEFAULT_MODELS)
    models = list(RATING_MODELS) if default_models else _split_list(args.models)
    unknown = [m for m in models if m.lower() not in RATING_MODELS]
    if unknown:
        return misuse(f"unknown rating model(s) {', '.join(unknown)}; choose from "
                      f"{', '.join(RATING_MODELS)}")
    default_seeds = args.seeds == ",".join(str(s) for s in TOPK_SEEDS)
    try:
        seeds = (0,) if default_seeds else tuple(int(s) for s in _split_list(args.seeds))
    except ValueError:
        return misuse(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not models or not seeds:
        return misuse("give at least one model and one seed")
    splits = list(RATING_SPLITS) if split == "all" else [split]
    out = "bench_rating" if args.out == "bench_p1" else args.out
    try:
        ml = load_movielens(args.data, progress=not args.no_progress)
        results = run_rating_benchmark(models, splits, seeds, ml, args.epochs,
                                       progress=not args.no_progress,
                                       predictions_path=args.save_predictions)
    except DataError as err:
        print(f"gnnedu bench: {err}", file=sys.stderr)
        return 1
    results["command"] = "gnnedu bench " + " ".join(sys.argv[1:] if argv is None else argv)
    json_path, csv_path = write_results(results, out)
    print(markdown_table(results))
    print(f"\nwrote {json_path} and {csv_path}" + (
        f"; predictions: {args.save_predictions}" if args.save_predictions else ""))
    return 0


def markdown_table(results: dict) -> str:
    """RMSE and MAE per model, mean ± std over the runs (folds and seeds), as Markdown."""
    summary = results.get("summary") or summarize(results["runs"])
    lines = ["| Model | RMSE | MAE | runs | train s |", "|---|---:|---:|---:|---:|"]
    runs = pd.DataFrame(results["runs"])
    for entry in summary:
        n = int((runs["key"] == entry["key"]).sum())
        lines.append(f"| {entry['model']} | {entry['rmse']:.4f} ± {entry['rmse_std']:.4f} | "
                     f"{entry['mae']:.4f} ± {entry['mae_std']:.4f} | {n} | "
                     f"{entry['train_seconds']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m gnnedu.rating [run|tune]``: the precomputations (see the module docstring)."""
    from gnnedu.data import DataError, load_movielens
    from gnnedu.rating import RATING_MODELS

    p = argparse.ArgumentParser(prog="python -m gnnedu.rating",
                                description="Precompute the rating results of notebook 10.")
    p.add_argument("what", nargs="?", choices=("run", "tune"), default="run",
                   help="run: every model x fold x seed (default); tune: the validation runs")
    p.add_argument("--models", default=",".join(RATING_MODELS),
                   help="comma-separated (default: %(default)s)")
    p.add_argument("--splits", default=",".join(RATING_SPLITS), help="(default: %(default)s)")
    p.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                   help="(default: %(default)s)")
    p.add_argument("--out", default=None, help="results file (default: the committed one)")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    p.add_argument("--shard", default="0/1",
                   help="K/N: run only every N-th run, from the K-th (N processes share the "
                        "work; default: all)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--data", default=None, help="MovieLens path (default: $GNNEDU_DATA/cache)")
    args = p.parse_args(argv)
    models, splits = _split_list(args.models), _split_list(args.splits)
    bad = [m for m in models if m not in RATING_MODELS] + [s for s in splits
                                                           if s not in RATING_SPLITS]
    if bad:
        p.error(f"unknown model(s) or split(s): {', '.join(bad)}")
    try:
        shard = tuple(int(x) for x in args.shard.split("/"))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            raise ValueError
    except ValueError:
        p.error(f"--shard must be K/N with 0 <= K < N, got {args.shard!r}")
    try:
        seeds = [int(s) for s in _split_list(args.seeds)]
        ml = load_movielens(args.data, progress=not args.no_progress)
    except ValueError:
        p.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    except DataError as err:
        print(f"python -m gnnedu.rating: {err}", file=sys.stderr)
        return 1
    if args.what == "tune":
        tune(args.out or TUNING_PATH, ml, args.fresh, not args.no_progress, models, shard)
    else:
        run_all(args.out or RESULTS_PATH, models, splits, seeds, ml, args.fresh,
                progress=not args.no_progress, shard=shard)
    return 0
