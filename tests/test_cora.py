"""Cora: raw files from the search order, checked; PyG's processed/ goes to the cache."""

import os
import shutil
from pathlib import Path

import pytest

from gnnedu.data import DataError, load_cora

SHARED = Path(os.environ.get("GNNEDU_DATA", Path(__file__).parents[2] / "shared" / "data"))
RAW = SHARED / "Cora" / "raw"
pytestmark = pytest.mark.skipif(not RAW.is_dir(), reason=f"no Cora copy at {RAW}")


@pytest.fixture
def copy(tmp_path, monkeypatch):
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    shutil.copytree(RAW, tmp_path / "src" / "Cora" / "raw")
    return tmp_path / "src"


def test_planetoid_split_and_processed_in_cache(copy, tmp_path):
    data = load_cora(root=copy)[0]
    assert (data.num_nodes, data.num_edges, data.num_features) == (2708, 10556, 1433)
    masks = (data.train_mask, data.val_mask, data.test_mask)
    assert [int(m.sum()) for m in masks] == [140, 500, 1000]
    assert not (copy / "Cora" / "processed").exists(), "never write into the source folder"
    assert (tmp_path / "cache" / "planetoid" / "Cora" / "processed").is_dir()


def test_tampered_raw_file_is_rejected(copy):
    file = copy / "Cora" / "raw" / "ind.cora.graph"
    data = bytearray(file.read_bytes())
    data[10] ^= 1
    file.write_bytes(bytes(data))
    with pytest.raises(DataError, match="ind.cora.graph"):
        load_cora(root=copy)
