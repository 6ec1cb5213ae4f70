"""gnnedu.scale: the Gowalla runs, the bench's --dataset gowalla, power laws, resumable runs."""

import csv
import json
import math

import datafind
import numpy as np
import pytest
import torch

from gnnedu import bench, scale
from gnnedu.data import GOWALLA, load_gowalla
from gnnedu.graph import build_graph
from gnnedu.models import EASE


@pytest.fixture(scope="module")
def gowalla():
    source = datafind.require(GOWALLA)
    return load_gowalla(path=source.location, download=False, progress=False)


def test_power_law_recovers_an_exact_law():
    x = [10, 100, 1000, 10_000]
    fit = scale.power_law(x, [3 * v ** 1.5 for v in x])
    assert fit["slope"] == pytest.approx(1.5) and 10 ** fit["intercept"] == pytest.approx(3)
    assert scale.predict(fit, 1e6) == pytest.approx(3 * 1e9)


def test_clock_measures_cpu_and_wall():
    with scale.Clock() as clock:
        sum(i * i for i in range(200_000))
    assert clock.cpu > 0 and clock.wall > 0


def cost_row(label, users, items, edges):
    """A cost row whose times follow exact laws: step ~ edges, evaluation ~ users x items."""
    steps = math.ceil(edges / 16384)
    return {"label": label, "users": users, "items": items, "interactions": edges,
            "steps_per_epoch": steps, "lightgcn_epoch_cpu_seconds": steps * 1e-6 * edges,
            "eval_cpu_seconds": 1e-8 * users * items, "pyg_epoch_cpu_seconds": 1.0}


def test_extrapolate_counts_memory_and_follows_the_laws():
    rows = [cost_row("Gowalla 10%", 100, 1000, 100_000),
            cost_row("Gowalla 100%", 1000, 2000, 1_000_000)]
    costs = {"rows": rows, "batch_size": 16384}
    ease = {"fit": {"time": {"slope": 3.0, "intercept": -9.0}}}
    out = {row["dataset"]: row for row in scale.extrapolate(
        costs, ease, sizes={"big": dict(users=10_000, items=4000, interactions=10_000_000)})}
    big = out["big"]
    assert big["item_item_gib"] == pytest.approx(4000 ** 2 * 4 / 2 ** 30)
    assert big["training_state_gib"] == pytest.approx(4 * 14_000 * 64 * 4 / 2 ** 30)
    assert big["adjacency_gib"] == pytest.approx((2e7 * 8 + 14_001 * 4) / 2 ** 30)
    # a step costs 1e-6 s per interaction: 611 steps of 10 s
    assert big["lightgcn_epoch_hours"] == pytest.approx(611 * 10 / 3600, rel=1e-6)
    assert big["evaluation_hours"] == pytest.approx(1e-8 * 4e7 / 3600, rel=1e-6)
    assert big["ease_fit_hours"] == pytest.approx(10 ** (-9 + 3 * math.log10(4000)) / 3600)
    assert out["Gowalla"]["interactions"] == 1_000_000
    # with a measurement on all items, EASE scales from it by the cube of the items
    ease["measured_full"] = {"items": 2000, "fit_cpu_seconds": 360.0}
    big = scale.extrapolate(costs, ease, sizes={"big": dict(
        users=10_000, items=4000, interactions=10_000_000)})[-1]
    assert big["ease_fit_hours"] == pytest.approx(360.0 * 8 / 3600)
    slopes = scale.cost_slopes(rows)
    assert slopes["eval_cpu_seconds"]["slope"] == pytest.approx(math.log10(20) / 1)


def test_ease_in_place_matches_the_reference_implementation():
    import scipy.sparse as sp

    gen = torch.Generator().manual_seed(0)
    dense = (torch.rand(40, 25, generator=gen) < 0.2).float()
    reference = EASE(lam=10.0).fit(build_graph(tuple(dense.nonzero().T), 40, 25)).B
    ours = scale.ease_item_matrix(sp.csr_matrix(dense.numpy()), 10.0)
    np.testing.assert_allclose(ours, reference.numpy(), atol=1e-5)
    assert np.all(np.diag(ours) == 0)


@pytest.mark.parametrize("block", [1, 7, 25, 1024])
def test_mirror_lower_gives_the_symmetric_matrix(block):
    rng = np.random.default_rng(0)
    full = rng.standard_normal((25, 25)).astype(np.float32)
    full = full + full.T
    g = np.tril(full) + np.triu(rng.standard_normal((25, 25)).astype(np.float32), 1)  # junk above
    scale._mirror_lower(g, block=block)
    np.testing.assert_array_equal(g, full)


@pytest.mark.parametrize("argv,message", [
    (["--split", "u1"], "--split is a MovieLens option"),
    (["--threshold", "4"], "--threshold is a MovieLens option"),
    (["--task", "rating"], "--task is a MovieLens option"),
    (["--model", "itemknn"], "'itemknn' is not run on Gowalla"),
    (["--seeds", "a"], "at least one integer seed"),
])
def test_bench_misuse_exits_2_with_one_line(argv, message, capsys):
    assert bench.main(["--dataset", "gowalla", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_bench_missing_data_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    import dataclasses

    from gnnedu.data import gowalla as module

    monkeypatch.setattr(module, "GOWALLA", dataclasses.replace(GOWALLA, urls=(
        "http://127.0.0.1:9/none",)))
    assert bench.main(["--dataset", "gowalla", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gnnedu bench: gowalla: not found") and "Traceback" not in err


def test_bench_popularity_writes_results_and_the_top_50(gowalla, tmp_path, monkeypatch,
                                                        capsys):
    folder = datafind.data_folder(gowalla.source) if gowalla.source.is_zip else \
        gowalla.source.location.parent
    argv = ["--dataset", "gowalla", "--model", "popularity", "--seeds", "0", "--threads", "1",
            "--out", str(tmp_path / "o"), "--save-topk", str(tmp_path / "top.csv"),
            "--data", str(folder), "--no-progress"]
    assert bench.main(argv) == 0
    results = json.loads((tmp_path / "o.json").read_text())
    assert results["protocol"]["dataset"].startswith("Gowalla")
    row = results["runs"][0]
    assert row["key"] == "popularity" and row["users"] == 29_858
    committed = {r["key"]: r for r in scale.load("models")["runs"]}["popularity"]
    assert row["recall@20"] == pytest.approx(committed["recall@20"], abs=1e-9)
    with open(tmp_path / "top.csv") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["user_id", "rank", "item_id"] and len(lines) == 1 + 29_858 * 50
    assert lines[1][:2] == ["0", "1"] and lines[-1][:2] == ["29857", "50"]
    seen = set(gowalla.train.loc[gowalla.train["user"] == 0, "item"])
    assert not seen & {int(item) for user, _, item in lines[1:51]}
    assert "| Popularity |" in capsys.readouterr().out


def test_lightgcn_run_resumes_from_its_checkpoint(gowalla, tmp_path):
    small = gowalla.subsample(0.01)
    recipe = dict(epochs=4, batch_size=512, lr=1e-2, lr_schedule="cosine", reg=1e-4,
                  num_neg=1, neg_candidates=2)
    out, ckpt = tmp_path / "run.json", tmp_path / "run.pt"
    first = scale.run_lightgcn(small, recipe=dict(recipe, epochs=2), out=out, checkpoint=ckpt,
                               curve_every=1, progress=False)
    assert [p["epoch"] for p in first["curve"]] == [1, 2]
    with pytest.raises(ValueError, match="other settings"):   # a different plan, same file
        scale.run_lightgcn(small, recipe=recipe, out=out, checkpoint=ckpt, curve_every=1,
                           progress=False)
    # a schedule this short gets a curve point every epoch by default
    whole = scale.run_lightgcn(small, recipe=recipe, out=tmp_path / "b.json",
                               checkpoint=tmp_path / "b.pt", progress=False)
    again = scale.run_lightgcn(small, recipe=recipe, out=tmp_path / "b.json",
                               checkpoint=tmp_path / "b.pt", progress=False)
    assert [p["epoch"] for p in again["curve"]] == [1, 2, 3, 4]    # nothing trained twice
    assert again["recall@20"] == whole["recall@20"] and again["epochs"] == 4
    assert 0 < whole["recall@20"] < 1 and json.loads((tmp_path / "b.json").read_text())[
        "curve"][-1]["epoch"] == 4


def test_top_k_lists_mask_training_items(gowalla):
    small = gowalla.subsample(0.01)
    graph = build_graph(small.train, small.num_users, small.num_items)
    from gnnedu.models import Popularity

    lists = scale.top_k_lists(Popularity().fit(graph), k=10, block=7)
    assert lists.shape == (small.num_users, 10)
    dense = torch.zeros(small.num_users, small.num_items, dtype=torch.bool)
    dense[graph.users, graph.items] = True
    assert not dense.gather(1, lists).any()


def test_hybrid_reads_the_lightgcn_checkpoint(gowalla, tmp_path):
    small = gowalla.subsample(0.01)
    recipe = dict(epochs=2, batch_size=1024, lr=1e-2, lr_schedule="cosine", reg=1e-4,
                  num_neg=1, neg_candidates=1)
    run = scale.run_lightgcn(small, recipe=recipe, checkpoint=tmp_path / "c.pt", curve_every=2,
                             progress=False)
    graph = build_graph(small.train, small.num_users, small.num_items)
    loaded = scale.lightgcn_from_checkpoint(tmp_path / "c.pt", graph)
    assert torch.equal(loaded.embedding, run["model"].embedding)
    settings = dict(k=16, beta=0.2, sharpen_time=2.5)
    from gnnedu.filters import BSPM
    from gnnedu.metrics import evaluate

    alone = scale.run_hybrid(small, settings, 0.0, tmp_path / "c.pt",
                             compare_to=BSPM(**settings))
    mixed = scale.run_hybrid(small, settings, 1.0, tmp_path / "c.pt",
                             compare_to=BSPM(**settings))
    assert alone["key"] == "hybrid" and alone["users"] == mixed["users"] > 0
    bspm = evaluate(BSPM(**settings).fit(graph), graph, small.test, ks=(20,))
    assert alone["recall@20"] == pytest.approx(bspm["recall@20"])   # weight 0: the filter
    assert mixed["recall@20"] != alone["recall@20"]
    same = alone["paired_over_users"]                  # weight 0 against itself: no gap
    assert same["mean_diff"] == 0 and same["equal"] == same["users"] == alone["users"]
    paired = mixed["paired_over_users"]
    assert paired["mean_diff"] == pytest.approx(mixed["recall@20"] - bspm["recall@20"])
    assert paired["above"] + paired["below"] + paired["equal"] == mixed["users"]


def test_final_table_reads_the_files_present(tmp_path, monkeypatch):
    monkeypatch.setattr(scale, "RESULTS", tmp_path)
    run = {"model": "GF-CF", "recall@20": 0.18, "ndcg@20": 0.15, "train_seconds": 120.0,
           "train_cpu_seconds": 60.0, "peak_mem_mb": 400.0}
    hybrid = {**run, "model": "BSPM + LightGCN", "note": "fit = BSPM's SVD"}
    (tmp_path / "models.json").write_text(json.dumps({"runs": [run, hybrid]}))
    curve = [{"epoch": 10, "train_seconds": 100.0, "train_cpu_seconds": 50.0,
              "recall@20": 0.17, "ndcg@20": 0.14},
             {"epoch": 20, "train_seconds": 200.0, "train_cpu_seconds": 90.0,
              "recall@20": 0.16, "ndcg@20": 0.13}]
    (tmp_path / "lightgcn.json").write_text(json.dumps(
        {"recipe": {"epochs": 200}, "curve": curve}))
    table = scale.final_table()
    assert "EASE" not in table.index                     # no ease.json: no row
    lightgcn = table.loc["LightGCN"]
    # a stopped run reports its last point (epoch 20), not its best one (epoch 10)
    assert lightgcn["Recall@20"] == 0.16 and lightgcn["train CPU min"] == pytest.approx(1.5)
    assert math.isnan(lightgcn["peak MB"]) and "stopped after epoch 20 of 200" in lightgcn["how"]
    assert table.loc["GF-CF", "train CPU min"] == pytest.approx(1.0)
    assert table.loc["GF-CF", "how"] == "measured (models.json)"
    assert table.loc["BSPM + LightGCN", "how"] == "measured (models.json); fit = BSPM's SVD"
    (tmp_path / "costs.json").write_text(json.dumps(
        {"rows": [{"label": "Gowalla 100%", "lightgcn_peak_mem_mb": 700.0}]}))
    (tmp_path / "ease.json").write_text(json.dumps(
        {"rows": [{}, {}], "full": {"fit_cpu_seconds": 600.0, "peak_mem_mb": 7000.0}}))
    table = scale.final_table()
    assert table.loc["LightGCN", "peak MB"] == 700.0
    assert table.loc["EASE", "train CPU min"] == pytest.approx(10.0)
    assert "from 2 item subsamples" in table.loc["EASE", "how"]
    assert len([m for m in table.index if "published" in str(table.loc[m, "how"])]) == 3
    measured = {"recall@20": 0.19, "ndcg@20": 0.16, "fit_cpu_seconds": 720.0,
                "fit_seconds": 400.0, "peak_mem_mb": 6500.0}
    (tmp_path / "ease.json").write_text(json.dumps(
        {"rows": [{}, {}], "full": {"fit_cpu_seconds": 600.0, "peak_mem_mb": 7000.0},
         "measured_full": measured}))
    ease = scale.final_table().loc["EASE"]              # a measurement wins over the estimate
    assert ease["Recall@20"] == 0.19 and ease["train CPU min"] == pytest.approx(12.0)
    assert ease["peak MB"] == 6500.0 and ease["how"] == "measured on all items (ease.json)"


def test_plot_costs_joins_only_the_gowalla_samples():
    rows = [cost_row("MovieLens-100K", 943, 1682, 80_000),
            cost_row("Gowalla 10%", 100, 1000, 79_000),
            cost_row("Gowalla 100%", 1000, 2000, 1_000_000)]
    fig = scale.plot_costs({"rows": rows},
                           series={"lightgcn_epoch_cpu_seconds": "LightGCN epoch"})
    left = fig.axes[0]
    joined, alone = left.lines
    assert list(joined.get_xdata()) == [79_000, 1_000_000]     # the Gowalla line only
    assert list(alone.get_xdata()) == [80_000] and alone.get_linestyle() == "None"
    assert alone.get_color() == joined.get_color()
    assert "MovieLens-100K" in left.get_xlabel()
    assert "slope" in left.get_legend().get_texts()[0].get_text()
    assert len(left.get_legend().get_texts()) == 1              # one entry per series


def test_mf_recipe_follows_the_validation_choice(tmp_path):
    missing = scale.mf_recipe(tmp_path / "none.json")
    assert missing == scale.MF_RECIPE
    best = {**scale.MF_RECIPE, "neg_candidates": 8, "best_epoch": 10, "recall@20": 0.15}
    (tmp_path / "tune.json").write_text(json.dumps({"mf": {"trials": [best], "best": best}}))
    recipe = scale.mf_recipe(tmp_path / "tune.json")
    assert recipe["stop_epoch"] == 10 and recipe["epochs"] == scale.MF_RECIPE["epochs"]
    assert recipe["neg_candidates"] == 8 and "recall@20" not in recipe


def test_tuned_bspm_uses_the_settings_the_search_chose(gowalla, tmp_path, monkeypatch):
    assert scale.tuned_filter(tmp_path / "none.json") is None
    monkeypatch.setattr(scale, "RESULTS", tmp_path)
    small = gowalla.subsample(0.01)
    with pytest.raises(ValueError, match="tune --only filters"):
        scale.run_model(scale.TUNED_BSPM, small)
    best = dict(k=16, beta=0.1, sharpen_time=1.5)
    (tmp_path / "tune.json").write_text(json.dumps({"filters": {"trials": [], "best": best}}))
    assert scale.tuned_filter() == best
    row = scale.run_model(scale.TUNED_BSPM, small)
    from gnnedu.filters import BSPM
    from gnnedu.metrics import evaluate

    graph = build_graph(small.train, small.num_users, small.num_items)
    direct = evaluate(BSPM(**best).fit(graph), graph, small.test, ks=(20,))
    published = evaluate(BSPM(k=16).fit(graph), graph, small.test, ks=(20,))
    assert row["key"] == scale.TUNED_BSPM and row["settings"] == best
    assert row["recall@20"] == pytest.approx(direct["recall@20"])
    assert direct["recall@20"] != published["recall@20"]   # the settings made a difference


def test_hybrid_part_names_what_is_missing(gowalla, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(scale, "RESULTS", tmp_path)
    monkeypatch.setattr(scale, "_checkpoint_dir", lambda: tmp_path / "runs")
    assert scale._hybrid_part(gowalla) == 1
    err = capsys.readouterr().err
    assert "tune --only filters" in err and "lightgcn --validation" in err
    assert "run python -m gnnedu.scale lightgcn\n" in err


def test_run_ease_measures_subsamples_and_the_whole_catalogue(gowalla):
    import scipy.sparse as sp

    small = gowalla.subsample(0.05, by="items").subsample(0.2)   # about 2,000 items
    out = scale.run_ease(small, fractions=(0.25, 0.5), lam=50.0, measure_full=True)
    assert [row["fraction"] for row in out["rows"]] == [0.25, 0.5]
    assert out["rows"][0]["items"] < out["rows"][1]["items"] < small.num_items
    full = out["measured_full"]
    assert full["items"] == small.num_items and full["interactions"] == len(small.train)
    assert full["peak_mem_mb"] > 0 and full["fit_cpu_seconds"] > 0
    r = sp.csr_matrix((np.ones(len(small.train), "float32"),
                       (small.train["user"], small.train["item"])),
                      shape=(small.num_users, small.num_items))
    direct = scale._ease_scores_eval(r, scale.ease_item_matrix(r, 50.0), small.test)
    assert full["recall@20"] == direct["recall@20"] and full["ndcg@20"] == direct["ndcg@20"]
    assert scale.run_ease(small, fractions=(0.25, 0.5), lam=50.0)["measured_full"] is None


def test_plot_curves_labels_the_clock_it_plots():
    curve = [{"epoch": 10, "train_seconds": 120.0, "train_cpu_seconds": 60.0, "recall@20": 0.1},
             {"epoch": 20, "train_seconds": 240.0, "train_cpu_seconds": 120.0, "recall@20": 0.2}]
    cpu = scale.plot_curves({"run": curve}).axes[0]
    wall = scale.plot_curves({"run": curve}, clock="train_seconds").axes[0]
    assert "CPU" in cpu.get_xlabel() and "wall" in wall.get_xlabel()
    assert list(wall.lines[0].get_xdata()) == [2.0, 4.0]      # minutes of the chosen clock


def test_chosen_recipe_takes_the_best_finished_run():
    def run(epochs, points):
        return {"recipe": {"epochs": epochs, "reg": epochs / 1000},
                "curve": [{"epoch": e, "recall@20": r} for e, r in points]}

    runs = {"a": run(60, [(30, 0.19), (60, 0.195)]),
            "b": run(60, [(30, 0.20), (60, 0.197)]),      # best last epoch
            "c": run(100, [(10, 0.17), (20, 0.199)])}     # higher, but stopped at 20 of 100
    assert scale.chosen_recipe(runs) == runs["b"]["recipe"]
    with pytest.raises(ValueError, match="no finished"):
        scale.chosen_recipe({"c": runs["c"]})


def test_the_lightgcn_recipe_is_the_one_validation_chose():
    assert scale.LIGHTGCN_RECIPE == scale.chosen_recipe()


def test_models_file_keeps_finished_rows_and_replaces_a_rerun(gowalla, tmp_path):
    small = gowalla.subsample(0.01)
    path = tmp_path / "models.json"
    first = scale.run_models_file(small, ["popularity"], path, progress=False)
    again = scale.run_models_file(small, ["popularity"], path, progress=False)   # resumed
    assert again["runs"] == first["runs"]
    rerun = dict(first["runs"][0], note="again")
    saved = scale._save_row(path, rerun)                  # the hybrid part's way in
    assert saved["runs"] == [rerun] and json.loads(path.read_text())["runs"] == [rerun]


def test_hybrid_part_tunes_again_for_another_lightgcn(gowalla, tmp_path, monkeypatch):
    """The weight chosen for one LightGCN recipe is not reused for another."""
    monkeypatch.setattr(scale, "RESULTS", tmp_path)
    monkeypatch.setattr(scale, "_checkpoint_dir", lambda: tmp_path)
    monkeypatch.setattr(scale, "tuned_filter", lambda: {"k": 16})
    for validation in (True, False):
        scale._checkpoint_of(scale.LIGHTGCN_RECIPE, validation=validation).write_bytes(b"")
    tunings = []
    monkeypatch.setattr(scale, "tune_hybrid", lambda data, settings, checkpoint: (
        tunings.append(checkpoint) or {"filter": settings, "best": 0.5}))
    monkeypatch.setattr(scale, "run_hybrid", lambda data, settings, weight, checkpoint, seed,
                        compare_to: {"model": "BSPM + LightGCN", "key": "hybrid", "seed": seed,
                                     "recall@20": weight, "ndcg@20": 0.0, "paired_over_users": {
                                         "mean_diff": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0,
                                         "users": 1}})
    old = dict(scale.LIGHTGCN_RECIPE, epochs=1)
    (tmp_path / "tune.json").write_text(json.dumps(
        {"hybrid": {"filter": {"k": 16}, "lightgcn": old, "best": 1.5}}))
    assert scale._hybrid_part(gowalla) == 0 and len(tunings) == 1
    assert json.loads((tmp_path / "tune.json").read_text())["hybrid"]["lightgcn"] == \
        scale.LIGHTGCN_RECIPE
    assert scale._hybrid_part(gowalla) == 0 and len(tunings) == 1   # same recipe: kept


def test_users_paired_test_against_scipy():
    from scipy import stats

    users = np.arange(6)
    a = {"users": users, "recall@20": np.array([0.5, 0.2, 0.0, 1.0, 0.3, 0.4])}
    b = {"users": users, "recall@20": np.array([0.4, 0.2, 0.1, 0.5, 0.3, 0.1])}
    out = scale.users_paired_test(a, b)
    diff = a["recall@20"] - b["recall@20"]
    assert out["mean_diff"] == pytest.approx(diff.mean())
    assert out["p_value"] == pytest.approx(stats.ttest_rel(a["recall@20"], b["recall@20"]).pvalue)
    assert (out["above"], out["below"], out["equal"]) == (3, 1, 2)
    low, high = out["ci95"]
    assert low < diff.mean() < high and high - low == pytest.approx(
        2 * stats.t.ppf(0.975, 5) * diff.std(ddof=1) / np.sqrt(6))
    with pytest.raises(ValueError, match="different users"):
        scale.users_paired_test(a, {**b, "users": users + 1})
