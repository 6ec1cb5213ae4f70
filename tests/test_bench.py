"""Tests for gnnedu.bench: the Markdown table and the command line (the runner, summaries and
results files are gnnedu.experiment, tested in test_experiment.py)."""

import csv
import json
import math
import re
import subprocess
import sys

from datafind import needs_movielens
from synthetic import example_runs

from gnnedu import bench
from gnnedu.experiment import summarize


def test_markdown_table_format():
    table = bench.markdown_table({"runs": example_runs()})
    lines = table.splitlines()
    assert lines[0] == "| Model | R@10 | N@10 | P@10 | R@20 | N@20 | train s | peak MB |"
    assert lines[1].startswith("|---|---:|")
    assert lines[2] == ("| EASE | 0.300 ± 0.141 | 0.300 ± 0.000 | 0.100 ± 0.000 | "
                        "0.370 ± 0.014 | 0.440 ± 0.000 | 2.0 | 110 |")
    assert lines[3].endswith("| 0.0 | n/a |")
    assert len(lines) == 4
    four = bench.markdown_table({"runs": example_runs()}, columns=(("R@20", "recall@20"),),
                                digits=4)
    assert four.splitlines()[2] == "| EASE | 0.3700 ± 0.0141 |"


def test_markdown_table_of_the_committed_results():
    table = bench.markdown_table()              # default: the committed p1.json
    assert table.count("\n") == len(bench.DEFAULT_MODELS) + 1
    names = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    assert len(names) == len(bench.DEFAULT_MODELS) and "LightGCN" in names


@needs_movielens
def test_cli_writes_json_csv_and_topk(tmp_path, movielens_source):
    out = tmp_path / "res"
    topk = tmp_path / "top.csv"
    code = bench.main(["--models", "popularity,ease", "--seeds", "0", "--out", str(out),
                       "--save-topk", str(topk), "--no-progress",
                       "--data", str(movielens_source.location)])
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


@needs_movielens
def test_official_split_and_threshold(tmp_path):
    results = bench.run_benchmark(["popularity"], split="u1", seeds=(0,), threshold=4,
                                  progress=False)
    assert results["protocol"]["split"] == "u1" and results["protocol"]["threshold"] == 4
    assert results["runs"][0]["users"] < 943      # some users have no test rating >= 4


def test_bad_arguments(capsys):
    assert bench.main(["--models", "svd", "--no-progress", "--out", "/nonexistent/x"]) == 2
    capsys.readouterr()
    assert bench.main(["--split", "u9", "--models", "popularity", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "u9" in err[0] and "random, u1" in err[0]
    result = subprocess.run([sys.executable, "-m", "gnnedu.bench", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--save-topk" in result.stdout and "--split" in result.stdout


def test_markdown_table_says_na_for_nan_columns():
    """Peak memory is NaN off Linux; the table must say n/a, not raise."""
    runs = [{"model": "EASE", "key": "ease", "seed": s, "recall@20": r, "peak_mem_mb": math.nan}
            for s, r in enumerate([0.3, 0.4, 0.5])]
    table = bench.markdown_table({"summary": summarize(runs)},
                                 columns=[("R@20", "recall@20"), ("peak MB", "peak_mem_mb")])
    assert table.splitlines()[-1] == "| EASE | 0.400 ± 0.100 | n/a |"


def test_bench_without_data_says_what_to_do(tmp_path, monkeypatch, capsys):
    from gnnedu.bench import main

    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    assert main(["--models", "ease", "--seeds", "0", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gnnedu bench: ml-100k: nothing usable at path=")
    assert "Traceback" not in err


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_threshold_above_every_rating_is_a_usage_error(ml, tmp_path, capsys):
    """MovieLens ratings run from 1 to 5: --threshold 7 keeps nothing. Exit status 2 and one
    line that names the threshold and the valid range, before anything is trained."""
    code = bench.main(["--threshold", "7", "--models", "popularity", "--seeds", "0",
                       "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "threshold" in line and re.search(r"\b7(\.0)?\b", line), line
    assert re.search(r"\b1\b.*\b5\b", line), line            # the ratings' range, 1 to 5
    assert not list(tmp_path.iterdir())                        # no results written
    # with the progress bar on, the check still comes first: no bar is drawn before the error
    assert bench.main(["--threshold", "7", "--models", "popularity", "--seeds", "0",
                       "--out", str(tmp_path / "o")]) == 2
    assert "bench:" not in capsys.readouterr().err


def test_gnnedu_data_pointing_to_a_file_is_a_data_error(tmp_path, monkeypatch, capsys):
    not_a_folder = tmp_path / "ml-100k.zip.txt"
    not_a_folder.write_text("not a folder\n")
    monkeypatch.setenv("GNNEDU_DATA", str(not_a_folder))
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    code = bench.main(["--models", "popularity", "--seeds", "0", "--out", str(tmp_path / "o"),
                       "--no-progress"])
    assert code == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "GNNEDU_DATA" in line and str(not_a_folder) in line, line
    assert not (tmp_path / "o.json").exists()
