"""Tests for gnnedu.bench: summaries, the Markdown table, the committed results, the CLI."""

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gnnedu import bench

SHARED = Path(os.environ.get("GNNEDU_DATA", Path(__file__).parents[2] / "shared" / "data"))
HAVE_ML = (SHARED / "ml-100k.zip").is_file() or (SHARED / "ml-100k").is_dir()


def _runs():
    return [
        {"model": "EASE", "key": "ease", "seed": 0, "recall@10": 0.2, "ndcg@10": 0.3,
         "precision@10": 0.1, "recall@20": 0.36, "ndcg@20": 0.44, "train_seconds": 1.0,
         "peak_mem_mb": 100.0, "epochs": None},
        {"model": "EASE", "key": "ease", "seed": 1, "recall@10": 0.4, "ndcg@10": 0.3,
         "precision@10": 0.1, "recall@20": 0.38, "ndcg@20": 0.44, "train_seconds": 3.0,
         "peak_mem_mb": 120.0, "epochs": None},
        {"model": "Popularity", "key": "popularity", "seed": 0, "recall@10": 0.1,
         "ndcg@10": 0.2, "precision@10": 0.2, "recall@20": 0.17, "ndcg@20": 0.21,
         "train_seconds": 0.0, "peak_mem_mb": math.nan, "epochs": None},
    ]


def test_summarize_mean_and_sample_std():
    summary = bench.summarize(_runs())
    assert [s["model"] for s in summary] == ["EASE", "Popularity"]
    ease = summary[0]
    assert ease["seeds"] == [0, 1]
    assert ease["recall@10"] == pytest.approx(0.3)
    assert ease["recall@10_std"] == pytest.approx(0.1 * math.sqrt(2))  # sample std of 0.2, 0.4
    assert ease["train_seconds"] == pytest.approx(2.0)
    assert summary[1]["recall@10_std"] == 0.0
    assert "epochs" not in ease  # None is not averaged


def test_markdown_table_format():
    table = bench.markdown_table({"runs": _runs()})
    lines = table.splitlines()
    assert lines[0] == "| Model | R@10 | N@10 | P@10 | R@20 | N@20 | train s | peak MB |"
    assert lines[1].startswith("|---|---:|")
    assert lines[2] == ("| EASE | 0.300 ± 0.141 | 0.300 ± 0.000 | 0.100 ± 0.000 | "
                        "0.370 ± 0.014 | 0.440 ± 0.000 | 2.0 | 110 |")
    assert lines[3].endswith("| 0.0 | n/a |")
    assert len(lines) == 4
    four = bench.markdown_table({"runs": _runs()}, columns=(("R@20", "recall@20"),), digits=4)
    assert four.splitlines()[2] == "| EASE | 0.3700 ± 0.0141 |"


def test_committed_p1_results_cover_the_protocol():
    results = bench.load_results()
    assert results["protocol"]["split"] == "random"
    assert results["protocol"]["seeds"] == [0, 1, 2]
    assert results["protocol"]["threshold"] is None
    keys = [s["key"] for s in results["summary"]]
    assert keys == list(bench.DEFAULT_MODELS)
    for entry in results["summary"]:
        assert entry["seeds"] == [0, 1, 2]
        for k in bench.KS:
            assert 0.0 < entry[f"recall@{k}"] < 1.0 and 0.0 < entry[f"ndcg@{k}"] < 1.0
    runs = results["runs"]
    assert len(runs) == 3 * len(bench.DEFAULT_MODELS)
    # the summary is the mean of the runs
    again = bench.summarize(runs)
    for a, b in zip(again, results["summary"]):
        assert a["recall@20"] == pytest.approx(b["recall@20"])
    with open(bench.RESULTS_DIR / "p1.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(runs)
    assert float(rows[0]["recall@20"]) == pytest.approx(runs[0]["recall@20"], rel=1e-5)
    assert bench.markdown_table().count("\n") == len(bench.DEFAULT_MODELS) + 1


def test_peak_memory_sees_an_allocation():
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("peak-memory reset needs Linux /proc")
    with bench.PeakMemory() as mem:
        block = torch.ones(40 * 1024 * 1024 // 4)  # 40 MB, touched
        del block
    assert mem.mb >= 35


@pytest.mark.skipif(not HAVE_ML, reason=f"no MovieLens copy at {SHARED}")
def test_cli_writes_json_csv_and_topk(tmp_path):
    out = tmp_path / "res"
    topk = tmp_path / "top.csv"
    code = bench.main(["--models", "popularity,ease", "--seeds", "0", "--out", str(out),
                       "--save-topk", str(topk), "--no-progress", "--data", str(SHARED)])
    assert code == 0
    results = json.loads(out.with_suffix(".json").read_text())
    assert [r["key"] for r in results["runs"]] == ["popularity", "ease"]
    ease = results["runs"][1]
    assert ease["recall@20"] > results["runs"][0]["recall@20"]
    with open(out.with_suffix(".csv")) as f:
        assert len(list(csv.DictReader(f))) == 2
    with open(tmp_path / "top_ease.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["user_id", "rank", "item_id"]
    assert len(rows) == 1 + 943 * 50
    users = {int(r[0]) for r in rows[1:]}
    assert users == set(range(1, 944))                       # original ids are 1-based
    first = [r for r in rows[1:] if r[0] == "1"]
    assert [int(r[1]) for r in first] == list(range(1, 51))
    assert len({r[2] for r in first}) == 50
    assert all(1 <= int(r[2]) <= 1682 for r in rows[1:])


@pytest.mark.skipif(not HAVE_ML, reason=f"no MovieLens copy at {SHARED}")
def test_official_split_and_threshold(tmp_path):
    results = bench.run_benchmark(["popularity"], split="u1", seeds=(0,), threshold=4,
                                  progress=False)
    assert results["protocol"]["split"] == "u1" and results["protocol"]["threshold"] == 4
    assert results["runs"][0]["users"] < 943      # some users have no test rating >= 4


def test_bad_arguments():
    assert bench.main(["--models", "svd", "--no-progress", "--out", "/nonexistent/x"]) == 2
    with pytest.raises(SystemExit):
        bench.main(["--split", "u9"])
    result = subprocess.run([sys.executable, "-m", "gnnedu.bench", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--save-topk" in result.stdout and "--split" in result.stdout


def test_summarize_keeps_nan_columns_instead_of_crashing():
    """Peak memory is NaN off Linux; the summary must say n/a, not raise."""
    import math

    from gnnedu.bench import markdown_table, summarize

    runs = [{"model": "EASE", "key": "ease", "seed": s, "recall@20": r, "peak_mem_mb": math.nan}
            for s, r in enumerate([0.3, 0.4, 0.5])]
    (entry,) = summarize(runs)
    assert math.isclose(entry["recall@20"], 0.4) and math.isclose(entry["recall@20_std"], 0.1)
    assert math.isnan(entry["peak_mem_mb"]) and math.isnan(entry["peak_mem_mb_std"])
    table = markdown_table({"summary": [entry]}, columns=[("R@20", "recall@20"),
                                                          ("peak MB", "peak_mem_mb")])
    assert table.splitlines()[-1] == "| EASE | 0.400 ± 0.100 | n/a |"


def test_bench_without_data_says_what_to_do(tmp_path, monkeypatch, capsys):
    from gnnedu.bench import main

    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    assert main(["--models", "ease", "--seeds", "0", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gnnedu bench: ml-100k: nothing usable at path=")
    assert "Traceback" not in err
