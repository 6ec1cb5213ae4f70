"""gnnedu.sweeps (notebook 07's precomputed sweeps) on a tiny synthetic rating table."""

import os

import matplotlib.colors
import pytest
import torch
from synthetic import tiny_movielens

from gnnedu import experiment, plot, sweeps
from gnnedu.data import load_split

QUICK = dict(epochs=4, eval_every=2, patience=1)   # a short validation search


@pytest.fixture(scope="module")
def ml():
    return tiny_movielens()


def test_sweep_configs_cover_every_step_once():
    configs = sweeps.sweep_configs()
    tags = [tuple(t) for c in configs for t in c["tags"]]
    assert len(tags) == len(set(tags))
    steps = [t[1] for t in tags if t[0] == "ablation"]
    assert steps == [name for name, _, _ in sweeps.ABLATION]
    for family, _, _, _ in sweeps.DEPTH_FAMILIES:
        assert sorted(t[1] for t in tags if t[0] == family) == list(sweeps.DEPTHS)
    ids = [c["id"] for c in configs]
    assert len(ids) == len(set(ids))
    # the article's model is the 2-layer point of the GCN depth curve: one configuration
    article = next(c for c in configs if ["ablation", "article"] in c["tags"])
    assert ["gcn_last", 2] in article["tags"]


def test_epochs_are_never_fixed_in_the_training_settings():
    for config in sweeps.sweep_configs():
        assert "epochs" not in config["train"]


def test_run_config_reproduces_experiment_run_one(ml):
    # LightGCN's switches as a sweep configuration give the LightGCN row of gnnedu bench's
    # runner, bit for bit
    config = next(c for c in sweeps.sweep_configs(("depth",)) if ["prop_mean", 3] in c["tags"])
    [row] = sweeps.run_config(config, ml, seeds=(1,), epochs=2)
    assert row["id"] == config["id"]
    train, test = load_split(ml, "random", 1)
    expected, _ = experiment.run_one("lightgcn", train, test, ml.num_users, ml.num_items,
                                     seed=1, epochs=2)
    for key in ("recall@20", "ndcg@20", "precision@10", "map@10"):
        assert row[key] == expected[key]


def test_choose_epochs_stays_within_the_search(ml):
    config = sweeps.sweep_configs(("ablation",))[0]
    chosen = sweeps.choose_epochs(config, ml, search=QUICK)
    assert 1 <= chosen["epochs"] <= QUICK["epochs"]
    assert chosen["val_recall@20"] == max(r["recall@20"] for r in chosen["val_curve"])


def test_run_sweeps_writes_resumes_and_summarises(ml, tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    torch.set_num_threads(2)  # the runs use setup_notebook's thread count; the file says so
    results = sweeps.run_sweeps(path, parts=("ablation", "random"), seeds=(0, 1), ml=ml,
                                search=QUICK, log=lambda msg: None)
    assert path.exists()
    assert results["configs"]
    assert len(results["runs"]) == 2 * len(results["configs"])
    assert len(results["random"]) == 2
    assert results["environment"]["threads"] == int(os.environ.get("GNNEDU_THREADS", 1))
    # the validation search is experiment.EARLY_STOPPING with the overrides
    assert results["protocol"]["search"] == {**experiment.EARLY_STOPPING, **QUICK}

    frame = sweeps.summary_frame(sweeps.load_sweeps(path), "ablation")
    assert list(frame["step"]) == [name for name, _, _ in sweeps.ABLATION]
    first = [r["recall@20"] for r in results["runs"] if r["id"] == results["configs"][0]["id"]]
    assert frame.loc[0, "recall@20"] == pytest.approx(sum(first) / 2)
    # validation scores at the chosen epoch, read off the validation curve
    config = results["configs"][0]
    [at_best] = [v for v in config["val_curve"] if v["epoch"] == config["epochs"]]
    assert frame.loc[0, "val_recall@20"] == pytest.approx(at_best["recall@20"], abs=1e-5)
    assert frame.loc[0, "val_ndcg@20"] == at_best["ndcg@20"]

    # a second call keeps the finished configurations instead of training again
    def refuse(*args, **kwargs):
        raise AssertionError("a finished configuration was trained again")

    monkeypatch.setattr(sweeps, "choose_epochs", refuse)
    again = sweeps.run_sweeps(path, parts=("ablation",), seeds=(0, 1), ml=ml,
                              log=lambda msg: None)
    assert again["runs"] == results["runs"]
    assert [r["recall@20"] for r in again["random"]] == \
        [r["recall@20"] for r in results["random"]]

    # a fresh run of one part recomputes that part only and keeps the others as they are
    calls = []
    monkeypatch.setattr(sweeps, "random_rows", lambda ml, seeds: calls.append(seeds) or [])
    third = sweeps.run_sweeps(path, parts=("random",), seeds=(0, 1), ml=ml, fresh=True,
                              log=lambda msg: None)
    assert calls == [(0, 1)] and third["random"] == []
    assert third["runs"] == results["runs"]


def test_random_rows_precision_matches_its_expectation():
    # for a uniformly random ranking, E[precision@K] = n_test / (num_items - n_train) per user
    ml = tiny_movielens(num_users=300, num_items=80, per_user=20, seed=3)
    [row] = sweeps.random_rows(ml, seeds=(0,))
    assert row["key"] == "random" and row["split"] == "random"
    train, test = load_split(ml, "random", 0)
    n_train = train.groupby("user").size()
    n_test = test.groupby("user").size()
    expected = (n_test / (ml.num_items - n_train.loc[n_test.index])).mean()
    assert row["precision@10"] == pytest.approx(expected, rel=0.15)
    assert sweeps.random_rows(ml, seeds=(0,))[0]["recall@20"] == row["recall@20"]


@pytest.fixture(scope="module")
def small_results(ml, tmp_path_factory):
    path = tmp_path_factory.mktemp("sweeps") / "all.json"
    return sweeps.run_sweeps(path, seeds=(0, 1), ml=ml, search=QUICK, log=lambda msg: None)


def test_depth_families_share_the_zero_layer_model(small_results):
    frames = {f: sweeps.summary_frame(small_results, f) for f, _, _, _ in sweeps.DEPTH_FAMILIES}
    for frame in frames.values():
        assert list(frame["step"]) == list(sweeps.DEPTHS)
    # with no layers every family is the embedding table alone (matrix factorisation): the
    # GCN family trains it with the GCN settings, the others with LightGCN's
    zero = {f: frame.loc[0, "recall@20"] for f, frame in frames.items()}
    assert zero["prop_last"] == zero["prop_mean"]


def test_runs_for_finds_one_configuration_per_tag(small_results):
    rows = sweeps.runs_for(small_results, "gcn_last", 2)
    assert [r["seed"] for r in rows] == [0, 1]
    assert rows == sweeps.runs_for(small_results, "ablation", "article")  # the same model
    with pytest.raises(KeyError):
        sweeps.runs_for(small_results, "ablation", "no_such_step")


def test_format_table_shows_mean_and_std(small_results):
    frame = sweeps.summary_frame(small_results, "ablation")
    table = sweeps.format_table(frame)
    assert list(table.columns) == ["configuration", "epochs", "recall@20", "ndcg@20", "train s"]
    first = table.loc[0, "recall@20"]
    assert first == f"{frame.loc[0, 'recall@20']:.3f} ± {frame.loc[0, 'recall@20_std']:.3f}"


def test_figures_are_labelled(small_results):
    frame = sweeps.summary_frame(small_results, "ablation")
    fig = plot.plot_ablation(frame)
    ax = fig.axes[0]
    assert "LightGCN" in ax.get_title() and ax.get_xlabel() == "test recall@20"
    assert len(ax.patches) == len(frame)

    curves = sweeps.depth_curves(small_results)
    assert list(curves) == [label for _, label, _, _ in sweeps.DEPTH_FAMILIES]
    for (family, _, _, _), frame in zip(sweeps.DEPTH_FAMILIES, curves.values()):
        assert frame.equals(sweeps.summary_frame(small_results, family))
    fig = plot.plot_depth(curves)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_xlabel() == "number of layers L"
        assert len(ax.get_legend().get_texts()) == len(sweeps.DEPTH_FAMILIES)

    fig = plot.plot_depth(curves, references={"EASE": {"recall@20": 0.3}})
    left, right = fig.axes
    assert "EASE" in [t.get_text() for t in left.get_legend().get_texts()]
    assert len(right.get_legend().get_texts()) == len(sweeps.DEPTH_FAMILIES)  # no N@20 value
    assert left.lines[-1].get_ydata()[0] == 0.3

    summary = experiment.summarize(small_results["random"] + [
        {**r, "model": "m", "key": "m"} for r in small_results["runs"][:2]])
    fig = plot.plot_comparison(summary)
    left, right = fig.axes
    assert [t.get_text() for t in left.get_xticklabels()] == ["Random", "m"]
    assert right.get_xscale() == "log"


def test_resume_adds_seeds_without_choosing_again(ml, tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    first = sweeps.run_sweeps(path, parts=("ablation",), seeds=(0,), ml=ml, search=QUICK,
                              log=lambda msg: None)
    monkeypatch.setattr(sweeps, "choose_epochs", lambda *a, **k: pytest.fail("chose again"))
    more = sweeps.run_sweeps(path, parts=("ablation",), seeds=(0, 1), ml=ml,
                             log=lambda msg: None)
    assert [c["epochs"] for c in more["configs"]] == [c["epochs"] for c in first["configs"]]
    assert all(c["seeds"] == [0, 1] for c in more["configs"])
    for config in more["configs"]:
        rows = [r for r in more["runs"] if r["id"] == config["id"]]
        assert [r["seed"] for r in rows] == [0, 1]
        assert rows[0] == next(r for r in first["runs"] if r["id"] == config["id"])
    # the added seed is the row a run over both seeds would have written
    [config] = [c for c in more["configs"] if ["ablation", "article"] in c["tags"]]
    expected = sweeps.run_config(config, ml, (1,), config["epochs"])[0]
    got = next(r for r in more["runs"] if r["id"] == config["id"] and r["seed"] == 1)
    assert got["recall@20"] == expected["recall@20"]


def test_step_tests_pair_each_step_with_the_one_before(small_results):
    table = sweeps.step_tests(small_results)
    assert list(zip(table["before"], table["after"])) == sweeps.ABLATION_COMPARISONS
    names = [name for name, _, _ in sweeps.ABLATION]
    assert sweeps.ABLATION_COMPARISONS[:5] == list(zip(names[:5], names[1:6]))
    assert (table["seeds"] == 2).all()
    # each row is experiment.paired_test on the two configurations' per-seed runs
    row = table.iloc[2]
    expected = experiment.paired_test(sweeps.runs_for(small_results, "ablation", row["after"]),
                                      sweeps.runs_for(small_results, "ablation", row["before"]),
                                      "ndcg@20")
    assert row["ndcg@20_change"] == pytest.approx(expected["mean_diff"])
    assert row["ndcg@20_p"] == expected["p_value"] and row["ndcg@20_wins"] == expected["wins"]
    depth = sweeps.step_tests(small_results, "prop_mean", [(2, 3)], metrics=("recall@20",))
    assert list(depth.columns) == ["before", "after", "seeds", "recall@20_change",
                                   "recall@20_wins", "recall@20_p"]
    with pytest.raises(ValueError, match="comparisons"):
        sweeps.step_tests(small_results, "prop_mean")


def test_figures_compare_magnitudes_from_zero_in_the_model_colours(small_results):
    frame = sweeps.summary_frame(small_results, "ablation")
    ax = plot.plot_ablation(frame).axes[0]
    assert ax.get_xlim()[0] == 0.0                      # bars compare magnitudes
    right_edge = max(p.get_x() + p.get_width() for p in ax.patches)
    assert ax.get_xlim()[1] > right_edge                # no bar runs off the axes

    fig = plot.plot_depth(sweeps.depth_curves(small_results),
                          references={"EASE (P1)": {"recall@20": 0.3}})
    left = fig.axes[0]
    colours = {c.get_label(): c.lines[0].get_color() for c in left.containers}
    colours.update({line.get_label(): line.get_color() for line in left.lines})
    lightgcn = next(label for _, label, _, _ in sweeps.DEPTH_FAMILIES if "LightGCN" in label)
    assert colours[lightgcn] == plot.MODEL_COLORS["LightGCN"]
    assert colours["EASE (P1)"] == plot.MODEL_COLORS["EASE"]

    summary = experiment.summarize(small_results["random"] + [
        {**r, "model": "LightGCN", "key": "lightgcn"} for r in small_results["runs"][:2]])
    left, right = plot.plot_comparison(summary).axes
    assert left.get_ylim()[0] == 0.0
    assert [p.get_facecolor()[:3] for p in left.patches[:2]] == [
        matplotlib.colors.to_rgb(plot.model_color(name)) for name in ("Random", "LightGCN")]
    # the points are named in a legend, not by labels that can overlap
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["Random", "LightGCN"]
    assert not right.texts


def test_format_tests_keeps_small_p_values_readable(small_results):
    table = sweeps.step_tests(small_results)
    table.loc[0, "recall@20_p"] = 3.2e-6
    shown = sweeps.format_tests(table)
    assert list(shown.columns[:5]) == ["before", "after", "recall@20 change", "recall@20 up on",
                                       "recall@20 p"]
    assert shown.loc[0, "recall@20 p"] == "3.2e-06"
    assert shown.loc[1, "recall@20 up on"] == f"{table.loc[1, 'recall@20_wins']} of 2"
    assert shown.loc[1, "ndcg@20 change"] == f"{table.loc[1, 'ndcg@20_change']:+.4f}"
