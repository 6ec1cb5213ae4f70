"""The ``gnnedu`` command (also ``python -m gnnedu``).

    gnnedu data [--path P] [--no-download]   where each dataset was found; verify every file
    gnnedu check                             versions, threads, widget extension, data
    gnnedu bench ...                         the results table (see ``gnnedu bench --help``)
"""

from __future__ import annotations

import argparse
import os
import sys

from gnnedu.data import CORA, GOWALLA, MOVIELENS_100K, DataError, cache_dir, copy_to_cache, locate
from gnnedu.notebook import environment_report

DATASETS = {"MovieLens-100K": MOVIELENS_100K, "Cora (Planetoid)": CORA,
            "Gowalla (LightGCN split)": GOWALLA}
# Datasets that only one notebook needs: when absent and downloading is off, `gnnedu data`
# says so and goes on (exit 0); a bad copy is still an error.
OPTIONAL = {"Gowalla (LightGCN split)": "only notebook 11 needs it"}


def cmd_data(args) -> int:
    """Locate (downloading if allowed) and verify each dataset; print one line per dataset.

    With ``--path`` the verified files are also copied into the user cache, so that later runs
    (and ``make data``) find them without ``--path``. A :class:`DataError` ends ``main`` with
    its one-line message on stderr and exit code 1.
    """
    for label, ds in DATASETS.items():
        path = args.path
        if label in OPTIONAL and path is not None and not _holds(path, ds):
            path = None  # not in --path: the usual search order
        try:
            source = locate(ds, path=path, download=not args.no_download)
        except DataError:
            if label not in OPTIONAL or not args.no_download:
                raise
            print(f"{label}: not found ({OPTIONAL[label]}); run `gnnedu data` without "
                  "--no-download to download it")
            continue
        checked = source.verify()
        line = f"{label}: {source.describe()}: {len(checked)} files verified (SHA-256)"
        if path is not None:
            line += f"; copied to the cache: {copy_to_cache(source).location}"
        print(line)
    return 0


def _holds(path, ds) -> bool:
    """Whether the folder ``path`` holds the dataset ``ds``."""
    try:
        locate(ds, path=path, download=False)
        return True
    except DataError:
        return False


def cmd_check(args) -> int:
    """Print versions, threads, the widget extension and the data; exit 1 if anything is off."""
    import torch

    report = environment_report()
    for component, detail, ok in report.itertuples(index=False):
        print(f"{component:<17} {detail}{'' if ok else '   <- needs attention'}")
    print(f"{'threads':<17} torch {torch.get_num_threads()}, cpus {os.cpu_count()} "
          "(notebooks use 1 via setup_notebook; GNNEDU_THREADS overrides)")
    print(f"{'cache':<17} {cache_dir()}")
    problems = report.loc[~report["ok"], "component"].tolist()
    print(f"{'status':<17} " + ("ok" if not problems else "check: " + ", ".join(problems)))
    return 0 if not problems else 1


def cmd_bench(argv) -> int:
    from gnnedu import bench

    return bench.main(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    parser = argparse.ArgumentParser(prog="gnnedu", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="locate, download if needed, and verify the datasets")
    data.add_argument("--path", help="a folder holding ml-100k.zip or ml-100k/, Cora/raw/ "
                      "and gowalla/; "
                      "its verified files are copied into the cache")
    data.add_argument("--no-download", action="store_true", help="never use the network")
    data.set_defaults(func=cmd_data)
    check = sub.add_parser("check", help="versions, threads, widget extension and data")
    check.set_defaults(func=cmd_check)
    sub.add_parser("bench", help="benchmark the recommenders (gnnedu bench --help)")
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DataError as exc:
        print(f"gnnedu {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
