"""setup_notebook and the gnnedu command."""

import subprocess
import sys

import pytest
import torch

from gnnedu import cli, setup_notebook
from gnnedu.data import _fetch


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


def test_data_command_reports_and_verifies(monkeypatch, capsys):
    try:
        _fetch.locate(_fetch.MOVIELENS_100K, download=False)
        _fetch.locate(_fetch.CORA, download=False)
    except _fetch.DataError:
        pytest.skip("datasets not available offline")
    assert cli.main(["data", "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "MovieLens-100K:" in out and "21 files verified" in out
    assert "Cora (Planetoid):" in out and "8 files verified" in out
