"""gnnedu.experiment: the one runner (run_one), the summary over seeds, peak memory and the
results files (the committed protocol-P1 results among them)."""

import csv
import json
import math
import os

import pytest
import torch
from synthetic import example_runs, tiny_movielens

from gnnedu import experiment
from gnnedu.data import load_split
from gnnedu.metrics import KS, METRIC_NAMES
from gnnedu.models import MODELS, LightGCN, Random

# --- summarize --------------------------------------------------------------------------------

def test_summarize_mean_and_sample_std():
    summary = experiment.summarize(example_runs())
    assert [s["model"] for s in summary] == ["EASE", "Popularity"]
    ease = summary[0]
    assert ease["seeds"] == [0, 1]
    assert ease["recall@10"] == pytest.approx(0.3)
    assert ease["recall@10_std"] == pytest.approx(0.1 * math.sqrt(2))  # sample std of 0.2, 0.4
    assert ease["train_seconds"] == pytest.approx(2.0)
    assert summary[1]["recall@10_std"] == 0.0
    assert "epochs" not in ease  # None is not averaged


def test_summarize_keeps_nan_columns_instead_of_crashing():
    """Peak memory is NaN off Linux; the summary must keep it as NaN, not raise."""
    runs = [{"model": "EASE", "key": "ease", "seed": s, "recall@20": r, "peak_mem_mb": math.nan}
            for s, r in enumerate([0.3, 0.4, 0.5])]
    (entry,) = experiment.summarize(runs)
    assert math.isclose(entry["recall@20"], 0.4) and math.isclose(entry["recall@20_std"], 0.1)
    assert math.isnan(entry["peak_mem_mb"]) and math.isnan(entry["peak_mem_mb_std"])
    # one NaN among finite values makes that column NaN, and only that column
    runs[1]["recall@20"] = math.nan
    runs[0]["peak_mem_mb"] = 5.0
    (entry,) = experiment.summarize(runs)
    assert math.isnan(entry["recall@20"]) and math.isnan(entry["recall@20_std"])
    assert math.isnan(entry["peak_mem_mb"])
    assert entry["seeds"] == [0, 1, 2]


def test_summarize_groups_by_any_column():
    """The sweeps group by configuration id: several ids of one model stay apart."""
    runs = [
        {"id": "b", "model": "LightGCN", "key": "lightgcn", "seed": 0, "recall@20": 0.2,
         "epochs": 10, "deterministic": True, "split": "random"},
        {"id": "a", "model": "LightGCN", "key": "lightgcn", "seed": 0, "recall@20": 0.5,
         "epochs": 20, "deterministic": True, "split": "random"},
        {"id": "b", "model": "LightGCN", "key": "lightgcn", "seed": 1, "recall@20": 0.4,
         "epochs": 10, "deterministic": False, "split": "random"},
        {"id": "a", "model": "LightGCN", "key": "lightgcn", "seed": 1, "recall@20": math.nan,
         "epochs": 20, "deterministic": True, "split": "random"},
    ]
    by_id = experiment.summarize(runs, by="id")
    assert [s["id"] for s in by_id] == ["b", "a"]            # order of first appearance
    b, a = by_id
    assert b["seeds"] == [0, 1] and a["seeds"] == [0, 1]
    assert b["model"] == "LightGCN" and b["key"] == "lightgcn"
    assert b["recall@20"] == pytest.approx(0.3)
    assert b["recall@20_std"] == pytest.approx(0.1 * math.sqrt(2))
    assert b["epochs"] == 10 and b["epochs_std"] == 0.0
    assert math.isnan(a["recall@20"]) and math.isnan(a["recall@20_std"])
    assert a["epochs"] == 20
    assert "deterministic" not in b and "split" not in b     # booleans and text are not averaged
    # by the default column the four rows are one model
    (one,) = experiment.summarize(runs)
    assert one["seeds"] == [0, 0, 1, 1] and math.isnan(one["recall@20"])
    assert one["epochs"] == pytest.approx(15.0)


# --- run_one ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ml():
    return tiny_movielens()


def test_run_one_row_has_every_metric(ml):
    train, test = load_split(ml, "random", 0)
    row, model = experiment.run_one("popularity", train, test, ml.num_users, ml.num_items)
    assert row["model"] == model.name == "Popularity" and row["key"] == "popularity"
    for k in KS:
        for m in (*METRIC_NAMES, "coverage", "arp"):
            assert 0.0 <= row[f"{m}@{k}"] <= 1.0, f"{m}@{k}"
    assert row["users"] == test["user"].nunique()
    assert row["epochs"] is None and row["train_seconds"] >= 0.0
    assert row["seed"] == 0


def test_run_one_factory_gives_the_name_row(ml, deterministic):
    train, test = load_split(ml, "random", 1)
    by_name, _ = experiment.run_one("lightgcn", train, test, ml.num_users, ml.num_items,
                                    seed=1, epochs=2)
    by_factory, model = experiment.run_one(LightGCN, train, test, ml.num_users, ml.num_items,
                                           seed=1, epochs=2)
    assert isinstance(model, LightGCN) and by_factory["epochs"] == by_name["epochs"] == 2
    timing = {"train_seconds", "eval_seconds", "peak_mem_mb", "key"}
    assert set(by_factory) == set(by_name)
    for key in set(by_name) - timing:
        assert by_factory[key] == by_name[key], key
    # another seed trains another model
    other, _ = experiment.run_one(LightGCN, train, test, ml.num_users, ml.num_items, seed=2,
                                  epochs=2)
    assert other["recall@20"] != by_name["recall@20"] or other["ndcg@20"] != by_name["ndcg@20"]
    # fit options reach fit
    _, fitted = experiment.run_one(lambda: LightGCN(dim=8), train, test, ml.num_users,
                                   ml.num_items, seed=1, epochs=1, fit_options={"lr": 0.05})
    assert fitted.dim == 8 and fitted.history.config["lr"] == 0.05


def test_random_model_recall_matches_its_expectation():
    """For a uniformly random ranking, E[recall@K] = K / (num_items - n_train) per user."""
    assert MODELS["random"] is Random
    ml = tiny_movielens(num_users=300, num_items=80, per_user=20, seed=3)
    train, test = load_split(ml, "random", 0)
    row, _ = experiment.run_one("random", train, test, ml.num_users, ml.num_items, seed=0)
    assert row["model"] == "Random" and row["key"] == "random"
    n_train = train.groupby("user").size()
    users = test["user"].unique()
    candidates = ml.num_items - n_train.reindex(users, fill_value=0)
    expected = (20 / candidates).clip(upper=1.0).mean()
    assert 0.2 < expected < 0.5              # far from 0 and 1: the check means something
    assert row["recall@20"] == pytest.approx(expected, rel=0.1)
    again, _ = experiment.run_one("random", train, test, ml.num_users, ml.num_items, seed=0)
    other, _ = experiment.run_one("random", train, test, ml.num_users, ml.num_items, seed=1)
    assert again["recall@20"] == row["recall@20"]            # seeded
    assert other["recall@20"] != row["recall@20"]


# --- peak memory ------------------------------------------------------------------------------

def test_peak_memory_sees_an_allocation():
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("peak-memory reset needs Linux /proc")
    with experiment.PeakMemory() as mem:
        block = torch.ones(40 * 1024 * 1024 // 4)  # 40 MB, touched
        del block
    assert mem.mb >= 35


def test_machine_info_names_the_versions():
    info = experiment.machine_info()
    assert info["torch"] == torch.__version__ and info["threads"] == torch.get_num_threads()
    assert {"python", "torch_geometric", "cpus"} <= set(info)


# --- results files ----------------------------------------------------------------------------

def test_save_json_is_atomic_and_valid(tmp_path):
    path = tmp_path / "deep" / "er" / "out.json"
    obj = {"runs": [{"recall@20": 0.25, "peak_mem_mb": math.nan}], "name": "é"}
    assert experiment.save_json(obj, path) == path
    loaded = json.loads(path.read_text())
    assert loaded["runs"][0]["recall@20"] == 0.25 and math.isnan(loaded["runs"][0]["peak_mem_mb"])
    assert loaded["name"] == "é"
    experiment.save_json({"second": True}, path)             # replaces the file
    assert json.loads(path.read_text()) == {"second": True}
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]   # no .tmp left
    assert not list(tmp_path.rglob("*.tmp"))


def test_write_results_round_trip(tmp_path):
    results = {"protocol": {"seeds": [0, 1]}, "runs": example_runs(), "summary": []}
    json_path, csv_path = experiment.write_results(results, tmp_path / "r" / "bench")
    assert json_path.name == "bench.json" and csv_path.name == "bench.csv"
    back = experiment.load_results(json_path)
    assert back["protocol"] == {"seeds": [0, 1]} and len(back["runs"]) == 3
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [r["key"] for r in rows] == ["ease", "ease", "popularity"]
    assert float(rows[0]["recall@20"]) == pytest.approx(0.36)
    assert not list(tmp_path.rglob("*.tmp"))


def test_committed_p1_results_cover_the_protocol():
    from gnnedu.bench import DEFAULT_MODELS, DEFAULT_SEEDS

    results = experiment.load_results()
    assert results["protocol"]["split"] == "random"
    assert results["protocol"]["seeds"] == [0, 1, 2, 3, 4] == list(DEFAULT_SEEDS)
    assert results["protocol"]["threshold"] is None
    keys = [s["key"] for s in results["summary"]]
    assert keys == list(DEFAULT_MODELS)
    for entry in results["summary"]:
        assert entry["seeds"] == list(DEFAULT_SEEDS)
        for k in KS:
            assert 0.0 < entry[f"recall@{k}"] < 1.0 and 0.0 < entry[f"ndcg@{k}"] < 1.0
    runs = results["runs"]
    assert len(runs) == len(DEFAULT_SEEDS) * len(DEFAULT_MODELS)
    # the summary is the mean of the runs
    again = experiment.summarize(runs)
    for a, b in zip(again, results["summary"]):
        assert a["recall@20"] == pytest.approx(b["recall@20"])
    with open(experiment.RESULTS_DIR / "p1.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(runs)
    assert float(rows[0]["recall@20"]) == pytest.approx(runs[0]["recall@20"], rel=1e-5)



# --- paired_test ------------------------------------------------------------------------------

def _rows(values, metric="recall@20", seeds=None):
    seeds = range(len(values)) if seeds is None else seeds
    return [{"seed": s, metric: v} for s, v in zip(seeds, values)]


def test_paired_test_t_matches_the_closed_form():
    # differences 1, 2, 3: mean 2, sample std 1, t = 2 / (1 / sqrt 3); with 2 degrees of freedom
    # Student's t has the CDF 1/2 + t / (2 sqrt(2 + t^2)), so p = 1 - t / sqrt(2 + t^2).
    out = experiment.paired_test(_rows([11.0, 22.0, 33.0]), _rows([10.0, 20.0, 30.0]))
    t = 2 / (1 / math.sqrt(3))
    assert out["statistic"] == pytest.approx(t)
    assert out["p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t))
    assert out["mean_diff"] == pytest.approx(2.0) and out["std_diff"] == pytest.approx(1.0)
    assert out["n"] == 3 and out["wins"] == 3 and out["seeds"] == [0, 1, 2]


def test_paired_test_pairs_by_seed_not_by_row_order():
    a = _rows([0.30, 0.32, 0.31, 0.35, 0.33])
    b = _rows([0.29, 0.30, 0.30, 0.33, 0.32])
    shuffled = [b[i] for i in (3, 0, 4, 1, 2)]
    assert experiment.paired_test(a, shuffled) == experiment.paired_test(a, b)
    # the unpaired spread of each model is about 0.02; the paired differences are all positive
    assert experiment.paired_test(a, b)["p_value"] < 0.01


def test_paired_test_wilcoxon_floor_with_five_seeds():
    # A wins on all five seeds: the exact two-sided signed-rank p-value is 2 / 2^5
    out = experiment.paired_test(_rows([2, 3, 4, 5, 6]), _rows([1, 1, 1, 1, 1]),
                                 method="wilcoxon")
    assert out["p_value"] == pytest.approx(2 / 32)
    assert out["method"] == "wilcoxon"


def test_paired_test_constant_differences():
    same = experiment.paired_test(_rows([0.3, 0.4]), _rows([0.3, 0.4]))
    assert same["p_value"] == 1.0 and same["statistic"] == 0.0 and same["wins"] == 0
    shifted = experiment.paired_test(_rows([0.5, 0.6]), _rows([0.25, 0.35]))
    assert shifted["p_value"] == 0.0 and shifted["statistic"] == math.inf


def test_paired_test_rejects_unpaired_input():
    with pytest.raises(ValueError, match="different seeds"):
        experiment.paired_test(_rows([1, 2, 3]), _rows([1, 2, 3], seeds=[0, 1, 5]))
    with pytest.raises(ValueError, match="once"):
        experiment.paired_test(_rows([1, 2], seeds=[0, 0]), _rows([1, 2]))
    with pytest.raises(ValueError, match="two seeds"):
        experiment.paired_test(_rows([1]), _rows([2]))
    with pytest.raises(ValueError, match="method"):
        experiment.paired_test(_rows([1, 2]), _rows([2, 3]), method="z")
