"""Cora with the public Planetoid split (Yang, Cohen and Salakhutdinov 2016), used in notebook 04.

Raw files are found like MovieLens (path, ``$GNNEDU_DATA``, cache, download) and checked by
SHA-256; PyG's ``processed/`` files go to the writable cache, never into the source folder.
Processes that load Cora at once take turns (a file lock), and every file lands in the cache by
an atomic rename, so none of them reads a half-written ``processed/data.pt``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gnnedu.data.fetch import CORA, Source, atomic_write, cache_dir, cache_lock, locate

PROCESSED_LAST = "data.pt"  # PyG treats the dataset as processed once this file exists


def load_cora(root=None, download: bool = True, progress: bool = True):
    """Return PyG's ``Planetoid`` Cora dataset (public split); ``dataset[0]`` is the graph.

    Args:
        root: a folder holding ``Cora/raw/`` (else ``$GNNEDU_DATA``, the cache, a download).
        download: allow a download when no local copy is found.
        progress: show a progress bar while downloading.

    Returns:
        ``torch_geometric.datasets.Planetoid`` built in ``<cache>/planetoid``.
    """
    from torch_geometric.datasets import Planetoid

    source = locate(CORA, path=root, download=download, progress=progress)
    source.verify()
    work = cache_dir() / "planetoid"
    with cache_lock("planetoid/Cora"):
        _prepare(source, work / "Cora")
        return Planetoid(str(work), "Cora")


def _prepare(source: Source, folder: Path) -> None:
    """Fill ``folder`` (``<cache>/planetoid/Cora``) with verified raw files and PyG's processed
    files. The caller holds the lock; processing runs in a temporary folder next to ``folder``
    and its files are renamed into ``folder/processed``, ``data.pt`` last.
    """
    from torch_geometric.datasets import Planetoid

    raw = folder / "raw"
    if source.location.resolve() != raw.resolve():
        for name in CORA.sha256:
            data = source.read(name)
            target = raw / name
            if not target.is_file() or target.read_bytes() != data:
                atomic_write(target, data)

    processed = folder / "processed"
    if (processed / PROCESSED_LAST).is_file():
        return
    build = Path(tempfile.mkdtemp(prefix=".build.", suffix=".part", dir=folder.parent))
    try:
        shutil.copytree(raw, build / folder.name / "raw")
        Planetoid(str(build), folder.name)
        processed.mkdir(exist_ok=True)
        built = build / folder.name / "processed"
        for file in sorted(built.iterdir(), key=lambda f: f.name == PROCESSED_LAST):
            os.replace(file, processed / file.name)
    finally:
        shutil.rmtree(build, ignore_errors=True)
