"""Eight processes fill one empty cache at the same moment; all succeed and the cache verifies.

Each process loads MovieLens-100K and Cora in one of three ways, so that every kind of cache
write happens concurrently:

- ``download``: no ``GNNEDU_DATA``; both datasets are "downloaded" from ``file://`` URLs (the
  registry entries are replaced inside the child only) into ``<cache>/ml-100k.zip`` and
  ``<cache>/Cora/raw``;
- ``copy``: ``gnnedu data --path SRC`` copies both into the same cache places, then loads them
  from the cache;
- ``env``: ``GNNEDU_DATA=SRC``, read in place (nothing copied for MovieLens).

All of them copy Cora's raw files to ``<cache>/planetoid`` and race to build PyG's processed
files there. Before the file lock and atomic renames, 5 to 7 of the 8 processes crashed
("failed finding central directory", EOFError, or a half-downloaded Cora/raw).
"""

import os
import subprocess
import sys
import time

import datafind

from gnnedu.data import CORA, MOVIELENS_100K, Source, load_cora, locate

PROCESSES = 8
ROLES = ("download", "copy", "env")
START_TIMEOUT_S = 120  # importing torch in 8 processes on 2 cores
RUN_TIMEOUT_S = 120

CHILD = r"""
import dataclasses, sys, time
from pathlib import Path

ready, go, role, src = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
from gnnedu import cli
from gnnedu.data import cora, load_cora, load_movielens, movielens

if role == "download":
    movielens.MOVIELENS_100K = dataclasses.replace(
        movielens.MOVIELENS_100K, urls=((src / "ml-100k.zip").as_uri(),))
    cora.CORA = dataclasses.replace(cora.CORA, urls=((src / "Cora" / "raw").as_uri(),))
ready.touch()
while not go.exists():
    time.sleep(0.005)
if role == "copy":
    assert cli.main(["data", "--path", str(src), "--no-download"]) == 0
ml = load_movielens(progress=False)
graph = load_cora(progress=False)[0]
assert len(ml.ratings) == 100_000 and graph.num_nodes == 2708
expected = {"download": "download", "copy": "cache", "env": "GNNEDU_DATA"}[role]
assert ml.source.origin in (expected, "cache"), ml.source.describe()
"""


def test_eight_processes_fill_an_empty_cache_at_once(tmp_path, monkeypatch,
                                                     movielens_source, cora_source):
    src = datafind.layout(movielens_source, cora_source, tmp_path / "src")
    cache = tmp_path / "cache"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    procs = []
    for i in range(PROCESSES):
        role = ROLES[i % len(ROLES)]
        env = dict(os.environ, GNNEDU_CACHE=str(cache), OMP_NUM_THREADS="1")
        env.pop("GNNEDU_DATA", None)
        if role == "env":
            env["GNNEDU_DATA"] = str(src)
        args = [sys.executable, str(script), str(tmp_path / f"ready{i}"), str(tmp_path / "go"),
                role, str(src)]
        procs.append((role, subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, text=True)))
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all((tmp_path / f"ready{i}").exists() for i in range(PROCESSES)):
            assert all(p.poll() is None for _, p in procs), "a process died before the start"
            assert time.monotonic() < deadline, "the processes did not start in time"
            time.sleep(0.02)
        (tmp_path / "go").touch()  # release all of them at once
        outputs = [p.communicate(timeout=RUN_TIMEOUT_S)[0] for _, p in procs]
        results = [(role, p.returncode, out) for (role, p), out in zip(procs, outputs)]
    finally:
        for _, p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    failed = [f"{role} exited {code}:\n{out[-2000:]}" for role, code, out in results if code]
    assert not failed, "\n\n".join(failed)

    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(cache))
    for ds in (MOVIELENS_100K, CORA):
        cached = locate(ds, download=False)
        assert cached.origin == "cache" and cached.verify() == list(ds.sha256)
    planetoid_raw = Source(CORA, cache / "planetoid" / "Cora" / "raw", "cache")
    assert planetoid_raw.verify() == list(CORA.sha256)
    assert sorted(cache.rglob("*.part")) == [], "temporary files or folders were left behind"
    assert not (src / "Cora" / "processed").exists(), "nothing is written into the source"
    assert load_cora(download=False)[0].num_nodes == 2708  # processed/ files load
