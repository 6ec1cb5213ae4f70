"""Cora: raw files from the search order, checked; PyG's processed/ goes to the cache."""

import dataclasses
import shutil

import pytest

import gnnedu.data.cora as cora_module
from gnnedu.data import CORA, DataError, load_cora


@pytest.fixture
def copy(tmp_path, monkeypatch, cora_source):
    """A private copy of the raw files at <tmp>/src/Cora/raw, an empty cache, no GNNEDU_DATA."""
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    shutil.copytree(cora_source.location, tmp_path / "src" / "Cora" / "raw")
    return tmp_path / "src"


def test_planetoid_split_and_processed_in_cache(copy, tmp_path):
    data = load_cora(root=copy)[0]
    assert (data.num_nodes, data.num_edges, data.num_features) == (2708, 10556, 1433)
    masks = (data.train_mask, data.val_mask, data.test_mask)
    assert [int(m.sum()) for m in masks] == [140, 500, 1000]
    assert not (copy / "Cora" / "processed").exists(), "never write into the source folder"
    planetoid = tmp_path / "cache" / "planetoid"
    assert (planetoid / "Cora" / "processed" / "data.pt").is_file()
    assert sorted(planetoid.rglob("*.part")) == [], "no temporary file or build folder is left"
    assert load_cora(root=copy)[0].num_nodes == 2708  # the second load reuses processed/


def test_tampered_raw_file_is_rejected(copy):
    file = copy / "Cora" / "raw" / "ind.cora.graph"
    data = bytearray(file.read_bytes())
    data[10] ^= 1
    file.write_bytes(bytes(data))
    with pytest.raises(DataError, match="ind.cora.graph"):
        load_cora(root=copy)


def test_download_lands_whole_or_not_at_all(copy, tmp_path, monkeypatch):
    """Cora is downloaded file by file; the cache shows the folder only once all have arrived."""
    raw = copy / "Cora" / "raw"
    monkeypatch.setattr(cora_module, "CORA", dataclasses.replace(CORA, urls=(raw.as_uri(),)))
    cache = tmp_path / "cache"
    held = (raw / "ind.cora.test.index").rename(tmp_path / "held")  # the last file fails
    with pytest.raises(DataError, match="download failed"):
        load_cora(progress=False)
    assert not (cache / "Cora" / "raw").exists() and sorted(cache.rglob("*.part")) == []
    held.rename(raw / "ind.cora.test.index")
    assert load_cora(progress=False)[0].num_nodes == 2708
    assert sorted(p.name for p in (cache / "Cora" / "raw").iterdir()) == sorted(CORA.sha256)
