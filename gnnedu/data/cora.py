"""Cora with the public Planetoid split (Yang, Cohen and Salakhutdinov 2016), used in notebook 04.

Raw files are found like MovieLens (path, ``$GNNEDU_DATA``, cache, download) and checked by
SHA-256; PyG's ``processed/`` files go to the writable cache, never into the source folder.
"""

from __future__ import annotations

import shutil

from gnnedu.data._fetch import CORA, cache_dir, locate


def load_cora(root=None, download: bool = True, progress: bool = True):
    """Return PyG's ``Planetoid`` Cora dataset (public split); ``dataset[0]`` is the graph."""
    from torch_geometric.datasets import Planetoid

    source = locate(CORA, path=root, download=download, progress=progress)
    source.verify()
    work = cache_dir() / "planetoid"
    raw = work / "Cora" / "raw"
    if source.location.resolve() != raw.resolve():
        raw.mkdir(parents=True, exist_ok=True)
        for name in CORA.sha256:
            target = raw / name
            if not target.exists() or target.read_bytes() != source.read(name):
                shutil.copyfile(source.location / name, target)
    return Planetoid(str(work), "Cora")
