"""setup_notebook and the gnnedu command."""

import subprocess
import sys

import datafind
import pytest
import torch

from gnnedu import cli, setup_notebook
from gnnedu.data import CORA, MOVIELENS_100K, locate


def test_import_changes_no_global_state():
    code = ("import torch; before = (torch.get_num_threads(), "
            "torch.are_deterministic_algorithms_enabled()); import gnnedu, gnnedu.data; "
            "after = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()); "
            "assert before == after, (before, after); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], check=False,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_setup_notebook_seeds_and_configures():
    threads = torch.get_num_threads()
    try:
        gen = setup_notebook(seed=5, threads=1)
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        first = (torch.rand(3), torch.rand(3, generator=gen))
        gen = setup_notebook(seed=5, threads=1)
        second = (torch.rand(3), torch.rand(3, generator=gen))
        assert all(torch.equal(a, b) for a, b in zip(first, second))
        assert not torch.equal(torch.rand(3, generator=setup_notebook(6)), first[1])
        with pytest.raises(ValueError, match="threads"):
            setup_notebook(threads=0)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)


def test_data_command_without_data_or_network(tmp_path, monkeypatch, capsys):
    import dataclasses
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    offline = {k: dataclasses.replace(v, urls=(dead,)) for k, v in cli.DATASETS.items()}
    monkeypatch.setattr(cli, "DATASETS", offline)
    assert cli.main(["data"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("gnnedu data: ml-100k: not found locally")
    assert "GNNEDU_DATA" in err and "\n\n" not in err.strip()  # one paragraph


@datafind.needs_movielens
@datafind.needs_cora
def test_data_command_reports_and_verifies(capsys):
    assert cli.main(["data", "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "MovieLens-100K:" in out and "21 files verified" in out
    assert "Cora (Planetoid):" in out and "8 files verified" in out


def test_data_command_rejects_gnnedu_data_pointing_to_a_file(tmp_path, monkeypatch, capsys):
    file = tmp_path / "ml-100k.zip"
    file.write_bytes(b"a file, not a folder")
    monkeypatch.setenv("GNNEDU_DATA", str(file))
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    assert cli.main(["data", "--no-download"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"gnnedu data: GNNEDU_DATA points to a file, not a folder: {file}")


def test_data_command_with_path_fills_the_cache(tmp_path, monkeypatch, capsys,
                                                movielens_source, cora_source):
    """`gnnedu data --path P` copies the verified files into the cache (what `make data` needs)."""
    folder = datafind.layout(movielens_source, cora_source, tmp_path / "src")
    cache = tmp_path / "cache"
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(cache))
    for _ in range(2):  # the second run finds the cached copies and keeps them
        assert cli.main(["data", "--path", str(folder), "--no-download"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].endswith(f"copied to the cache: {cache / 'ml-100k.zip'}")
        assert out[1].endswith(f"copied to the cache: {cache / 'Cora' / 'raw'}")
    for ds in (MOVIELENS_100K, CORA):
        source = locate(ds, download=False)
        assert source.origin == "cache" and source.verify() == list(ds.sha256)
    assert sorted(cache.rglob("*.part")) == []


def test_missing_data_skips_or_fails_with_gnnedu_require_data(monkeypatch):
    monkeypatch.delenv(datafind.REQUIRE_DATA, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no data here"):
        datafind.missing("no data here")
    monkeypatch.setenv(datafind.REQUIRE_DATA, "1")
    with pytest.raises(pytest.fail.Exception, match="no data here.*GNNEDU_REQUIRE_DATA"):
        datafind.missing("no data here")
