"""gnnedu.coldstart (notebook 09): the three protocols' invariants, random tie-breaking, ID-only
models at chance on held-out movies, fold-in of new users, the bench command and its results
files, and the candidate restriction of gnnedu.train's negative sampling."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch
from datafind import needs_movielens
from synthetic import NUM_ITEMS, NUM_USERS, two_taste_groups

from gnnedu import bench, explain
from gnnedu import coldstart as cs
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate
from gnnedu.models import EASE, MF, LightGCN, Popularity
from gnnedu.train import TrainConfig, sample_negatives

K = 20


# --- the splits ----------------------------------------------------------------------------

def test_new_items_split_invariants():
    ratings = two_taste_groups()
    split = cs.split_new_items(ratings, NUM_ITEMS, ratio=0.2, seed=3)
    held = set(split.heldout.tolist())
    assert len(held) == round(0.2 * NUM_ITEMS)
    assert not held & set(split.train["item"])                  # no held-out movie in train
    assert set(split.test["item"]) <= held
    assert len(split.train) + len(split.test) == len(ratings)
    assert set(split.warm.tolist()) == set(range(NUM_ITEMS)) - held
    again = cs.split_new_items(ratings, NUM_ITEMS, ratio=0.2, seed=3)
    assert torch.equal(again.heldout, split.heldout) and again.test.equals(split.test)
    other = cs.split_new_items(ratings, NUM_ITEMS, ratio=0.2, seed=4)
    assert not torch.equal(other.heldout, split.heldout)
    val = cs.validation_new_items(split, NUM_ITEMS)              # carved from the warm movies
    assert not set(val.heldout.tolist()) & held
    assert not set(val.train["item"]) & (held | set(val.heldout.tolist()))
    assert len(val.heldout) == round(0.2 * len(split.warm))
    with pytest.raises(ValueError):
        cs.split_new_items(ratings, NUM_ITEMS, ratio=1.0)


def test_new_users_split_invariants():
    ratings = two_taste_groups()
    split = cs.split_new_users(ratings, NUM_USERS, ratio=0.2, seed=1)
    new = set(split.new_users.tolist())
    assert len(new) == round(0.2 * NUM_USERS)
    assert not new & set(split.train["user"])                   # their data is not in train
    assert len(split.train) + len(split.order) == len(ratings)
    for k in (1, 3):
        kept, test = split.kept(k), split.test(k)
        assert len(kept) + len(test) == len(split.order)
        assert (kept.groupby("user").size() == k).all()
        # the kept ratings are the earliest: none after any of the same user's test ratings
        last_kept = kept.groupby("user")["timestamp"].max()
        first_test = test.groupby("user")["timestamp"].min()
        assert (last_kept <= first_test.reindex(last_kept.index)).all()
    again = cs.split_new_users(ratings, NUM_USERS, ratio=0.2, seed=1)
    assert again.order.equals(split.order)


def test_new_users_time_ties_are_broken_at_random():
    """With every timestamp equal, the 'earliest' ratings are a random draw per seed, not the
    lowest item indices (which in MovieLens are the most popular movies)."""
    ratings = two_taste_groups()
    ratings["timestamp"] = 0
    firsts = []
    for seed in (0, 1, 2):
        order = cs.split_new_users(ratings, NUM_USERS, ratio=0.5, seed=seed).kept(1)
        smallest = ratings.groupby("user")["item"].min()
        firsts.append(float((order["item"].to_numpy()
                             == smallest.loc[order["user"]].to_numpy()).mean()))
    assert max(firsts) < 0.6


def test_subsample_nested_and_at_least_one():
    ratings = two_taste_groups()
    subsets = cs.subsample_train(ratings, (0.1, 0.5, 1.0), seed=0)
    pairs = {d: set(zip(s["user"], s["item"])) for d, s in subsets.items()}
    assert pairs[0.1] <= pairs[0.5] <= pairs[1.0] == set(zip(ratings["user"], ratings["item"]))
    n = ratings.groupby("user").size()
    for d, sub in subsets.items():
        got = sub.groupby("user").size().reindex(n.index, fill_value=0)
        assert (got == np.maximum(1, np.round(d * n))).all()
    assert subsets[0.5].equals(cs.subsample_train(ratings, (0.5,), seed=0)[0.5])
    with pytest.raises(ValueError):
        cs.subsample_train(ratings, (0.0, 1.0))


# --- ties and evaluation -------------------------------------------------------------------

def test_break_ties_orders_by_score_then_random_key():
    scores = torch.tensor([[1.0, 1.0, 1.0, 5.0, 0.0]])
    keys = torch.tensor([[0.9, 0.1, 0.5, 0.3, 0.2]], dtype=torch.float64)
    ranked = cs.break_ties(scores, keys)
    order = torch.argsort(ranked[0], descending=True).tolist()
    # the best score first, then the three ties in the order of their keys, then the worst
    assert order == [3, 1, 2, 0, 4]
    exclude = torch.tensor([[False, True, False, False, False]])
    ranked = cs.break_ties(scores, keys, exclude)
    assert ranked[0, 1] == -np.inf and torch.isfinite(ranked[0, [0, 2, 3, 4]]).all()
    assert len(set(ranked[0, [0, 2, 3, 4]].tolist())) == 4            # no ties left


def test_evaluate_scores_matches_gnnedu_metrics_without_ties():
    ratings = two_taste_groups()
    train = ratings.iloc[::2]
    test = ratings.iloc[1::2]
    graph = build_graph(train, NUM_USERS, NUM_ITEMS)
    scores = torch.rand(NUM_USERS, NUM_ITEMS, generator=torch.Generator().manual_seed(0))
    seen = torch.zeros(NUM_USERS, NUM_ITEMS, dtype=torch.bool)
    seen[graph.users, graph.items] = True
    ours = cs.evaluate_scores(scores, test, seen, cs.tie_keys(NUM_USERS, NUM_ITEMS, 0),
                              ks=(5, 10))
    theirs = evaluate(scores, graph, test, ks=(5, 10))
    for key in ("recall@5", "ndcg@10", "precision@10", "map@10"):
        assert ours["means"][key] == pytest.approx(theirs[key], abs=1e-12)
    assert ours["users"] == theirs["users"]


def test_chance_recall():
    assert cs.chance_recall([100], 20) == pytest.approx(0.2)
    assert cs.chance_recall([10, 40], 20) == pytest.approx((1.0 + 0.5) / 2)


@needs_movielens
def test_id_only_models_sit_at_chance_on_heldout_movies(ml):
    """EASE and Popularity give every held-out movie the same score. Ranked by index, those
    ties would follow MovieLens ids, i.e. popularity: far above chance. Broken at random they
    sit at chance, K / (number of held-out movies), within four standard errors."""
    split = cs.split_new_items(ml.ratings, ml.num_items, seed=0)
    graph = build_graph(split.train, ml.num_users, ml.num_items)
    warm = torch.ones(ml.num_items, dtype=torch.bool)
    warm[split.heldout] = False
    exclude = warm.expand(ml.num_users, -1)
    keys = cs.tie_keys(ml.num_users, ml.num_items, 0)
    chance = cs.chance_recall([len(split.heldout)], K)
    for model in (EASE().fit(graph), Popularity().fit(graph)):
        scores = model.score()
        held = scores[:, split.heldout]
        assert (held == held[:, :1]).all()                      # constant on held-out movies
        result = cs.evaluate_scores(scores, split.test, exclude, keys, ks=(K,))
        recall = result["per_user"][f"recall@{K}"]
        se = recall.std(ddof=1) / np.sqrt(len(recall))
        assert abs(recall.mean() - chance) < 4 * se, (model.name, recall.mean(), chance)
        by_index = evaluate(scores.masked_fill(exclude, -np.inf), graph, split.test, ks=(K,))
        assert by_index[f"recall@{K}"] > chance + 10 * se        # the leak ties would cause


def test_heldout_embeddings_never_trained():
    """A held-out movie is never a positive and, with TrainConfig.neg_items, never a negative:
    an ID-only model's embedding row for it stays at its random initialisation."""
    ratings = two_taste_groups()
    split = cs.split_new_items(ratings, NUM_ITEMS, seed=0)
    graph = build_graph(split.train, NUM_USERS, NUM_ITEMS)
    rows = NUM_USERS + split.heldout
    start = LightGCN(dim=8).fit(graph, epochs=0, seed=0).embedding.detach()[rows]
    trained = LightGCN(dim=8).fit(graph, epochs=3, batch_size=32, seed=0,
                                  neg_items=split.warm.tolist())
    assert torch.equal(trained.embedding.detach()[rows], start)
    leaky = LightGCN(dim=8).fit(graph, epochs=3, batch_size=32, seed=0)   # all items negatives
    assert not torch.equal(leaky.embedding.detach()[rows], start)


def test_sample_negatives_candidates():
    gen = torch.Generator().manual_seed(0)
    users = torch.arange(NUM_USERS).repeat(20)
    known = torch.zeros(NUM_USERS, NUM_ITEMS, dtype=torch.bool)
    known[:, :5] = True
    cand = torch.arange(3, 12)
    neg = sample_negatives(users, NUM_ITEMS, 4, known, gen, candidates=cand)
    assert neg.shape == (len(users), 4)
    assert set(neg.unique().tolist()) == set(range(5, 12))      # candidates minus known ones
    # without candidates the draws are exactly the ones before this option existed
    a = sample_negatives(users, NUM_ITEMS, 3, None, torch.Generator().manual_seed(1))
    b = torch.randint(NUM_ITEMS, (len(users), 3), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    graph = build_graph(two_taste_groups(), NUM_USERS, NUM_ITEMS)
    with pytest.raises(ValueError, match="neg_items"):
        MF(dim=4).fit(graph, epochs=1, neg_items=[NUM_ITEMS + 3])
    assert TrainConfig().neg_items is None


# --- new users -----------------------------------------------------------------------------

def test_new_user_scores_fold_in():
    ratings = two_taste_groups()
    split = cs.split_new_users(ratings, NUM_USERS, seed=0)
    graph = build_graph(split.train, NUM_USERS, NUM_ITEMS)
    kept, users = split.kept(3), split.new_users
    ease = EASE(lam=10.0).fit(graph)
    scores = cs.new_user_scores(ease, kept, users)
    r = torch.zeros(len(users), NUM_ITEMS)
    for row, u in enumerate(users.tolist()):
        r[row, kept.loc[kept["user"] == u, "item"].to_numpy()] = 1.0
    assert torch.allclose(scores, r @ ease.B)
    lgcn = LightGCN(dim=8).fit(graph, epochs=2, seed=0)
    scores = cs.new_user_scores(lgcn, kept, users)
    u = int(users[0])
    mine = kept.loc[kept["user"] == u, "item"].tolist()
    assert torch.allclose(scores[0], explain.fold_in_scores(lgcn, mine), atol=1e-6)
    with pytest.raises(ValueError, match="cannot fold in"):
        cs.new_user_scores(MF(dim=4).fit(graph, epochs=1), kept, users)
    assert not cs.can_fold_in(MF()) and cs.can_fold_in(EASE())


# --- reading results -----------------------------------------------------------------------

def _fake_results():
    runs = []
    for seed in range(5):
        for key, model, base in (("a", "A", 0.30), ("b", "B", 0.25)):
            for k in (1, 3):
                runs.append({"model": model, "key": key, "seed": seed, "k": k,
                             "recall@20": base + 0.01 * k + 0.001 * seed * (key == "a")})
    return {"protocol": {"name": "new-users"}, "runs": runs}


def test_summary_table_and_paired_test():
    results = _fake_results()
    table = cs.summary_table(results)
    assert list(table.index) == ["A", "B"] and list(table.columns) == [1, 3]
    assert table.loc["B", 1] == "0.260 ± 0.000"
    test = cs.paired_test(results, "a", "B", setting=3)
    assert test["seeds"] == [0, 1, 2, 3, 4] and test["wins"] == 5
    assert test["diff"] == pytest.approx(0.05 + 0.002) and test["p"] < 1e-6
    assert "| A |" in cs.markdown(table)
    with pytest.raises(KeyError):
        cs.paired_test(results, "a", "zzz", setting=3)


# --- gnnedu bench --protocol ---------------------------------------------------------------

@needs_movielens
def test_bench_new_items_exact_call(tmp_path, movielens_source, ml):
    """The documented call: top-50 among the held-out movies for every user with a held-out
    rating, and the held-out movies, in original ids; scoring the files by hand gives the
    reported recall@20."""
    code = bench.main(["--protocol", "new-items", "--model", "ease", "--seeds", "0", "--out",
                       str(tmp_path / "o"), "--save-topk", str(tmp_path / "top.csv"),
                       "--save-split", str(tmp_path / "held.txt"), "--no-progress",
                       "--data", str(movielens_source.location)])
    assert code == 0
    held = pd.read_csv(tmp_path / "held.txt")
    split = cs.split_new_items(ml.ratings, ml.num_items, seed=0)
    assert list(held.columns) == ["item_id"]
    assert held["item_id"].tolist() == ml.items["item_id"].to_numpy()[split.heldout].tolist()
    top = pd.read_csv(tmp_path / "top.csv")
    assert list(top.columns) == ["user_id", "rank", "item_id"]
    assert set(top["item_id"]) <= set(held["item_id"])
    results = json.loads((tmp_path / "o.json").read_text())
    users = results["runs"][0]["users"]
    assert top["user_id"].nunique() == users == split.test["user"].nunique()
    assert len(top) == 50 * users
    assert (top.groupby("user_id")["rank"].apply(list) == [list(range(1, 51))] * users).all()
    assert [r["view"] for r in results["runs"]] == ["held-out", "catalogue"]
    with open(tmp_path / "o.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    relevant = split.test.groupby("user_id")["item_id"].apply(set)
    listed = top[top["rank"] <= K].groupby("user_id")["item_id"].apply(set)
    recall = np.mean([len(listed[u] & relevant[u]) / len(relevant[u]) for u in relevant.index])
    assert recall == pytest.approx(results["runs"][0][f"recall@{K}"], abs=1e-12)


@needs_movielens
def test_bench_lightgcn_new_items_and_resume(tmp_path, movielens_source):
    base = ["--protocol", "new-items", "--out", str(tmp_path / "o"), "--no-progress",
            "--data", str(movielens_source.location)]
    assert bench.main(base + ["--model", "lightgcn", "--seeds", "0", "--epochs", "1",
                              "--save-topk", str(tmp_path / "top.csv")]) == 0
    first = json.loads((tmp_path / "o.json").read_text())["runs"]
    assert (tmp_path / "top.csv").exists() and first[0]["epochs"] == 1
    assert first[0]["heldout_score_spread"] > 0              # random, untrained embeddings
    # --resume keeps the finished run (same numbers, same timings) and adds seed 1
    assert bench.main(base + ["--model", "lightgcn", "--seeds", "0,1", "--epochs", "1",
                              "--resume"]) == 0
    runs = json.loads((tmp_path / "o.json").read_text())["runs"]
    assert [(r["seed"], r["view"]) for r in runs] == [
        (0, "held-out"), (0, "catalogue"), (1, "held-out"), (1, "catalogue")]
    assert runs[:2] == first
    # other settings in the same file: refuse rather than mix them
    assert bench.main(base + ["--model", "lightgcn", "--seeds", "0", "--resume"]) == 2


@needs_movielens
def test_bench_new_users_and_sparsity_files(tmp_path, movielens_source):
    data = ["--data", str(movielens_source.location), "--no-progress"]
    assert bench.main(["--protocol", "new-users", "--model", "itemknn", "--seeds", "0",
                       "--new-user-ks", "1,5", "--out", str(tmp_path / "u"),
                       "--save-split", str(tmp_path / "u_split.csv"),
                       "--save-topk", str(tmp_path / "ut.csv")] + data) == 0
    runs = json.loads((tmp_path / "u.json").read_text())["runs"]
    assert [r["k"] for r in runs] == [1, 5] and runs[0]["users"] == 189
    order = pd.read_csv(tmp_path / "u_split.csv")
    assert list(order.columns) == ["user_id", "position", "item_id"]
    assert order["user_id"].nunique() == 189
    assert (tmp_path / "ut_k1.csv").exists() and (tmp_path / "ut_k5.csv").exists()
    assert bench.main(["--protocol", "sparsity", "--model", "popularity", "--seeds", "0",
                       "--densities", "0.1,1", "--out", str(tmp_path / "s"),
                       "--save-split", str(tmp_path / "s_split.csv")] + data) == 0
    runs = json.loads((tmp_path / "s.json").read_text())["runs"]
    assert [r["density"] for r in runs] == [0.1, 1.0]
    assert runs[0]["train_interactions"] < runs[1]["train_interactions"] == 80_000
    parts = pd.read_csv(tmp_path / "s_split.csv")["part"].value_counts()
    assert parts["test"] == 20_000 and parts.sum() == 100_000


def test_bench_misuse_exits_2(capsys):
    cases = [
        ["--save-split", "x.txt"],                                    # needs a protocol
        ["--protocol", "new-items", "--threshold", "4"],
        ["--protocol", "new-items", "--split", "u1"],
        ["--protocol", "new-items", "--densities", "0.5"],
        ["--protocol", "new-users", "--model", "mf"],                  # cannot fold in
        ["--protocol", "sparsity", "--densities", "0,2"],
        ["--protocol", "new-users", "--new-user-ks", "0"],
        ["--protocol", "new-items", "--model", "svd"],
        ["--protocol", "new-items", "--seeds", "a"],
    ]
    for argv in cases:
        assert bench.main(argv + ["--no-progress"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)


def test_choices_chance_and_figures():
    from matplotlib.figure import Figure

    results = {"protocol": {"name": "sparsity"},
               "choices": {"ease@0.1": {"model_kwargs": {"lam": 30.0}},
                           "mf@0.1": {"epochs": 150}, "mf@1": {}, "popularity@1": {}}}
    table = cs.choices_table(results)
    assert table.loc["ease", 0.1] == "lam = 30" and table.loc["mf", 0.1] == "150 epochs"
    assert table.loc["mf", 1.0] == "P1 defaults" and table.loc["popularity", 1.0] == "-"
    runs = [{"model": m, "key": m.lower(), "seed": s, "view": v,
             "recall@20": base + 0.01 * s, "chance_recall_at_20": 0.06 if v == "held-out"
             else float("nan")}
            for s in range(4) for m, base in (("A", 0.06), ("B", 0.30))
            for v in ("held-out", "catalogue")]
    items = {"protocol": {"name": "new-items"}, "runs": runs}
    a, b = cs.chance_test(items, "a"), cs.chance_test(items, "B")
    assert a["diff"] == pytest.approx(0.015) and b["diff"] > 0.2 and b["p"] < a["p"]
    with pytest.raises(ValueError):
        cs.chance_test(items, "a", metric="ndcg@20")
    assert isinstance(cs.draw_bars(items, "held-out", chance=0.06), Figure)
    assert isinstance(cs.draw_curves(_fake_results()), Figure)
    assert cs.model_color("LightGCN-feat") != cs.model_color("HeteroSAGE")


@pytest.mark.parametrize("name", cs.PROTOCOLS)
def test_committed_results_are_complete(name):
    """The files notebook 09 reads: every default model of the protocol on seeds 0-4, each
    setting, under the protocol's current settings."""
    results = cs.load_protocol(name)
    assert results["protocol"]["name"] == name and results["command"].startswith(
        f"gnnedu bench --protocol {name}")
    frame = cs.runs_frame(results)
    column = cs.SETTING_COLUMN[name]
    settings = {"new-items": list(cs.VIEWS), "new-users": list(cs.NEW_USER_KS),
                "sparsity": list(cs.DENSITIES)}[name]
    assert sorted(frame[column].unique()) == sorted(settings)
    for key in cs.PROTOCOL_MODELS[name]:
        rows = frame[frame["key"] == key]
        assert sorted(rows["seed"].unique()) == [0, 1, 2, 3, 4], key
        assert len(rows) == 5 * len(settings), key
    if name == "new-items":   # constant scores + the same tie keys = the same lists
        held = frame[frame["view"] == "held-out"].pivot(index="seed", columns="key",
                                                        values="recall@20")
        assert (held["ease"] == held["popularity"]).all()
        assert (held["itemknn"] == held["popularity"]).all()
