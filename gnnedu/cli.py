"""The ``gnnedu`` command (also ``python -m gnnedu``).

    gnnedu data [--path P] [--no-download]   where each dataset was found; verify every file
    gnnedu check                             versions, threads, widget extension, data
    gnnedu bench ...                         the results table (see ``gnnedu bench --help``)
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys

from gnnedu.data._fetch import CORA, MOVIELENS_100K, DataError, cache_dir, locate

DATASETS = {"MovieLens-100K": MOVIELENS_100K, "Cora (Planetoid)": CORA}
PACKAGES = ("torch", "torch_geometric", "numpy", "pandas", "scipy", "matplotlib", "networkx",
            "ipywidgets", "jupyterlab", "nbval", "tqdm")
WIDGET_EXTENSION = "@jupyter-widgets/jupyterlab-manager"


def cmd_data(args) -> int:
    """Locate (downloading if allowed) and verify each dataset; print one line per dataset."""
    for label, ds in DATASETS.items():
        source = locate(ds, path=args.path, download=not args.no_download)
        checked = source.verify()
        print(f"{label}: {source.describe()}: {len(checked)} files verified (SHA-256)")
    return 0


def _version(name: str) -> str:
    try:
        return getattr(importlib.import_module(name), "__version__", "installed")
    except ImportError:
        return "MISSING"


def widget_extension_status() -> str:
    """'enabled', 'disabled' or 'missing', read from ``jupyter labextension list``."""
    try:
        out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                             check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    for line in (out.stdout + out.stderr).splitlines():
        if WIDGET_EXTENSION in line:
            return "enabled" if "enabled" in line and "disabled" not in line else "disabled"
    return "missing"


def cmd_check(args) -> int:
    import torch

    print(f"python           {platform.python_version()} ({sys.executable})")
    for name in PACKAGES:
        print(f"{name:<16} {_version(name)}")
    print(f"threads          torch {torch.get_num_threads()}, cpus {os.cpu_count()} "
          "(notebooks use 1 via setup_notebook; GNNEDU_THREADS overrides)")
    widgets = widget_extension_status()
    print(f"widgets          {WIDGET_EXTENSION}: {widgets}")
    print(f"cache            {cache_dir()}")
    problems = [] if widgets == "enabled" else [f"widget extension {widgets}"]
    for label, ds in DATASETS.items():
        try:
            where = locate(ds, download=False).describe()
        except DataError:
            where = "not present (run `gnnedu data` to download it)"
            problems.append(f"{label} not present")
        print(f"{label:<16} {where}")
    missing = [n for n in PACKAGES if _version(n) == "MISSING"]
    problems += [f"{n} missing" for n in missing]
    print("status           " + ("ok" if not problems else "; ".join(problems)))
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
    data.add_argument("--path", help="a folder holding ml-100k.zip or ml-100k/ and Cora/raw/")
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
