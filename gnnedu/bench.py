"""``gnnedu bench``: the results table, every model under one protocol and several seeds.

API summary
-----------
- ``main(argv=None) -> int``: the ``gnnedu bench`` / ``python -m gnnedu.bench`` command line
  (``--help`` lists the options, built from ``gnnedu.models.MODELS`` and
  ``gnnedu.data.SPLITS``). Writes ``PREFIX.json`` and ``PREFIX.csv``, prints a Markdown table;
  ``--save-topk FILE`` writes each user's top-50 as CSV ``user_id,rank,item_id`` (original
  MovieLens ids). Exit status 2 for bad arguments, 1 for missing or bad data.
- ``run_benchmark(models=DEFAULT_MODELS, split="random", seeds=DEFAULT_SEEDS, threshold=None,
  test_ratio=0.2, epochs=None, progress=True, ml=None, topk_path=None) -> dict``: the results,
  ``{"protocol": ..., "environment": ..., "runs": [...], "summary": [...]}``; each run is a row
  of ``gnnedu.experiment.run_one``.
- ``markdown_table(results=None, columns=TABLE_COLUMNS, digits=3) -> str``: the README table.
- ``save_topk(model, ml, path, k=50)``: the top-K lists as CSV; ``write_topk(lists, path,
  user_ids=None, item_ids=None)``: the CSV layout itself.

Protocol P1 (the default): MovieLens-100K, every rating an implicit positive, per-user random
80/20 split (``gnnedu.data.split_random``) for seeds 0-4, full ranking over all items with
each user's training items masked. The seed drives both the split and the model's
initialisation/sampling. Hyper-parameters are each model's defaults (``gnnedu.models``), chosen
on a validation slice of the seed-0 training data (``benchmarks/tune_p1.py``), never on test.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from gnnedu.experiment import load_results, machine_info, run_one, summarize, write_results
from gnnedu.metrics import KS

DEFAULT_MODELS = ("popularity", "itemknn", "ease", "mf", "gcn", "lightgcn")
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
# (column title, key in the summary) for the README table
TABLE_COLUMNS = (
    ("R@10", "recall@10"), ("N@10", "ndcg@10"), ("P@10", "precision@10"),
    ("R@20", "recall@20"), ("N@20", "ndcg@20"), ("train s", "train_seconds"),
    ("peak MB", "peak_mem_mb"),
)


def write_topk(lists, path, user_ids=None, item_ids=None) -> None:
    """Write top-K lists (``[users, k]`` item indices, best first) as CSV
    ``user_id,rank,item_id``, rank from 1; ``user_ids``/``item_ids`` map indices to the ids
    written (default: the indices themselves). The one layout of every ``--save-topk``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "rank", "item_id"])
        for u, row in enumerate(lists.tolist()):
            user = u if user_ids is None else int(user_ids[u])
            writer.writerows((user, rank, item if item_ids is None else int(item_ids[item]))
                             for rank, item in enumerate(row, start=1))


def save_topk(model, ml, path, k: int = 50) -> None:
    """Write every user's top-``k`` (training items masked) as ``user_id,rank,item_id`` in
    original MovieLens ids (:func:`write_topk`)."""
    write_topk(model.recommend(k=k), path, ml.users["user_id"].to_numpy(),
               ml.items["item_id"].to_numpy())


def _topk_paths(path, names) -> dict:
    path = Path(path)
    if len(names) == 1:
        return {names[0]: path}
    return {n: path.with_name(f"{path.stem}_{n}{path.suffix or '.csv'}") for n in names}


def run_benchmark(models=DEFAULT_MODELS, split: str = "random", seeds=DEFAULT_SEEDS,
                  threshold: float | None = None, test_ratio: float = 0.2,
                  epochs: int | None = None, progress: bool = True, ml=None,
                  topk_path=None, topk: int = 50) -> dict:
    """Fit and evaluate every model for every seed; see the module docstring."""
    from gnnedu import setup_notebook
    from gnnedu.data import implicit, load_movielens, load_split
    from gnnedu.models import make_model

    models = [m.lower() for m in models]
    for name in models:
        make_model(name)  # fail early on an unknown name
    if ml is None:
        ml = load_movielens(progress=progress)
    implicit(ml.ratings, threshold)  # fail early (before the progress bar) on a bad threshold
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
    from gnnedu.data import SPLITS
    from gnnedu.models import MODELS

    p = argparse.ArgumentParser(
        prog="gnnedu bench",
        description="Fit and evaluate recommenders on MovieLens-100K (protocol P1 by default: "
                    "all ratings implicit, per-user random 80/20 split, seeds 0-4, full "
                    "ranking with training items masked).")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated, from: {','.join(MODELS)} (default: %(default)s)")
    p.add_argument("--model", dest="models", help="alias of --models")
    p.add_argument("--split", default=None,
                   help=f"top-K on MovieLens: {', '.join(SPLITS)} (default: random, the "
                        "per-user random split of protocol P1)")
    seeds = ",".join(str(s) for s in DEFAULT_SEEDS)
    p.add_argument("--seeds", default=seeds, help=f"comma-separated seeds (default: {seeds})")
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
    # -- cold start (notebook 09) --
    p.add_argument("--protocol", default="p1", choices=("p1", "new-items", "new-users",
                                                         "sparsity"),
                   help="p1 (default): the protocol above; new-items: 20%% of the movies held "
                        "out entirely; new-users: 20%% of the users keep their k earliest "
                        "ratings; sparsity: 10/25/50/100%% of each user's P1 training data "
                        "(gnnedu.coldstart; without --models each has its own model list)")
    p.add_argument("--save-split", metavar="FILE", default=None,
                   help="non-p1 protocols: write the first seed's split as CSV (new-items: the "
                        "held-out movies, header item_id, original ids)")
    p.add_argument("--new-user-ks", default=None,
                   help="new-users: ratings kept per new user (default: 1,3,5,10)")
    p.add_argument("--densities", default=None,
                   help="sparsity: shares of each user's training data (default: "
                        "0.1,0.25,0.5,1)")
    p.add_argument("--resume", action="store_true",
                   help="non-p1 protocols: keep the runs already in OUT.json (same settings) "
                        "and run only the missing ones; OUT.json is saved after every run")
    # -- end cold start --
    # -- rating prediction (notebook 10) --
    from gnnedu.rating import RATING_MODELS

    p.add_argument("--task", choices=("topk", "rating"), default="topk",
                   help="topk (default): rank movies, the protocols above; rating: predict the "
                        "star ratings on the official folds (--split u1 (default) .. u5 or "
                        "all), RMSE and MAE, with the rating models "
                        f"{','.join(RATING_MODELS)} (default: all; seed 0 unless --seeds)")
    p.add_argument("--save-predictions", metavar="FILE", default=None,
                   help="--task rating: write user_id,item_id,prediction for every line of the "
                        "split's test file (first seed); with --split all FILE_u1.csv .. "
                        "FILE_u5.csv, with several models FILE_<model>[_uN].csv")
    # -- end rating prediction --
    # -- gowalla (notebook 11) --
    p.add_argument("--dataset", choices=("ml-100k", "gowalla"), default="ml-100k",
                   help="ml-100k (default): MovieLens-100K, the options above; gowalla: the "
                        "LightGCN split (fixed: no --split; seeds set initialisation and "
                        "sampling, default 0; models popularity, mf, gfcf, bspm, lightgcn, "
                        "ease, default popularity,gfcf,bspm; --data names the folder holding "
                        "gowalla/; --save-topk writes 0-based ids of test.txt)")
    p.add_argument("--threads", type=int, default=None,
                   help="gowalla: torch threads (default: all cores)")
    p.add_argument("--device", default="cpu",
                   help="gowalla: cpu (default) or cuda for the filters and trained models")
    # -- end gowalla --
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    # -- gowalla (notebook 11) --
    if args.dataset == "gowalla":
        from gnnedu.scale import bench_main as gowalla_main

        return gowalla_main(args, argv)
    # -- end gowalla --
    # -- rating prediction (notebook 10) --
    if args.task == "rating":
        from gnnedu.rating.protocol import bench_main as rating_main

        return rating_main(args, argv)
    if args.save_predictions:
        print("error: --save-predictions needs --task rating (top-K lists: --save-topk FILE)",
              file=sys.stderr)
        return 2
    # -- end rating prediction --
    # -- cold start (notebook 09) --
    if args.protocol != "p1" or args.save_split or args.new_user_ks or args.densities \
            or args.resume:
        from gnnedu.coldstart import bench_main

        return bench_main(args, argv)
    # -- end cold start --
    return _main_topk(args, argv)


def _main_topk(args, argv) -> int:
    """Top-K recommendation on MovieLens-100K (protocol P1 by default)."""
    from gnnedu.data import SPLITS, DataError, load_movielens

    split = "random" if args.split is None else args.split
    if split not in SPLITS:
        print(f"error: unknown split {split!r} for top-K on MovieLens; choose from "
              f"{', '.join(SPLITS)}", file=sys.stderr)
        return 2
    models = [m for m in args.models.replace(" ", "").split(",") if m]
    seeds = _parse_floats(args.seeds, int)
    if not models or not seeds:
        print("error: give at least one model and one seed", file=sys.stderr)
        return 2
    try:
        ml = load_movielens(args.data, progress=not args.no_progress)
        results = run_benchmark(models, split, seeds, args.threshold, args.test_ratio,
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
