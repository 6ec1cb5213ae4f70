"""gnnedu.rating: the rating-level graph, GC-MC's layers, the baselines, the fallback,
determinism, the protocol files and ``gnnedu bench --task rating``.

Small synthetic tables check the maths against independent code (dense matrices, loops, least
squares); the MovieLens tests use the shared ``ml`` fixture (skipped without the data).
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gnnedu.rating import (
    GCMC,
    RATING_MODELS,
    RATING_SPLITS,
    BiasedMF,
    Biases,
    BilinearDecoder,
    GlobalMean,
    RatingConv,
    load_rating_split,
    mae,
    make_rating_model,
    protocol,
    rating_graph,
    rmse,
)
from gnnedu.rating.gcmc import node_dropout_mask
from gnnedu.widgets import ratings as ratings_widget

U1_LEVEL_COUNTS = [4719, 9178, 21963, 27396, 16744]  # rating counts 1..5 in u1.base


def synthetic(num_users=12, num_items=9, seed=0, skip_user=None, skip_item=None):
    """A random ratings table: each user rates 3-6 movies, every level occurs."""
    gen = np.random.default_rng(seed)
    rows = []
    for u in range(num_users):
        if u == skip_user:
            continue
        choices = [i for i in range(num_items) if i != skip_item]
        for i in gen.choice(choices, size=3 + u % 4, replace=False):
            rows.append((u, int(i), int(gen.integers(1, 6)), 0))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    frame.loc[:4, "rating"] = [1, 2, 3, 4, 5]
    return frame


def dense_level_matrix(ratings, num_users, num_items, level, norm):
    """C_r written out with a loop: C[i, j] = weight of j's message to i."""
    n = num_users + num_items
    deg = np.zeros(n)
    for u, i in zip(ratings["user"], ratings["item"]):
        deg[u] += 1
        deg[num_users + i] += 1
    c = np.zeros((n, n))
    for u, i, r in zip(ratings["user"], ratings["item"], ratings["rating"]):
        if r != level:
            continue
        m = num_users + i
        if norm == "left":
            c[u, m], c[m, u] = 1 / deg[u], 1 / deg[m]
        else:
            c[u, m] = c[m, u] = 1 / math.sqrt(deg[u] * deg[m])
    return c


SMALL_GCMC = dict(hidden=20, dim=6, dropout=0.3)


# ---------------------------------------------------------------------------------------------
# The rating-level graph
# ---------------------------------------------------------------------------------------------

def test_level_counts_equal_the_base_file(ml):
    base, test = load_rating_split(ml, "u1")
    graph = rating_graph(base, ml.num_users, ml.num_items)
    assert graph.level_counts() == U1_LEVEL_COUNTS
    assert graph.level_counts() == base["rating"].value_counts().sort_index().tolist()
    assert graph.edge_index.shape == (2, 2 * len(base))  # each rating in both directions
    for r, adj in enumerate(graph.adjacency):
        assert adj._nnz() == 2 * U1_LEVEL_COUNTS[r]
    assert len(test) == 20_000


def test_test_file_order_and_ids(ml):
    _, test = load_rating_split(ml, "u1")
    lines = ml.source.read("u1.test").decode().splitlines()
    assert len(lines) == len(test)
    for k in (0, 1, 777, len(lines) - 1):
        uid, iid, rating, ts = (int(x) for x in lines[k].split("\t"))
        row = test.iloc[k]
        assert (row["user_id"], row["item_id"], row["rating"], row["timestamp"]) == \
            (uid, iid, rating, ts)
        assert ml.users["user_id"].iloc[row["user"]] == uid
        assert ml.items["item_id"].iloc[row["item"]] == iid


@pytest.mark.parametrize("norm", ["left", "symmetric"])
def test_normalisation_matches_a_loop(norm):
    ratings = synthetic()
    graph = rating_graph(ratings, 12, 9, norm)
    for r, adj in enumerate(graph.adjacency):
        want = dense_level_matrix(ratings, 12, 9, r + 1, norm)
        np.testing.assert_allclose(adj.to_dense().numpy(), want, rtol=1e-6)
        np.testing.assert_allclose(graph.adjacency_t[r].to_dense().numpy(), want.T, rtol=1e-6)


def test_left_normalisation_averages_over_all_levels():
    graph = rating_graph(synthetic(), 12, 9, "left")
    rows = sum(a.to_dense() for a in graph.adjacency).sum(1)
    has_ratings = graph.degree > 0
    torch.testing.assert_close(rows[has_ratings], torch.ones(int(has_ratings.sum())))
    # a movie nobody rated receives nothing
    graph = rating_graph(synthetic(skip_item=4), 12, 9, "left")
    assert float(sum(a.to_dense() for a in graph.adjacency)[12 + 4].abs().sum()) == 0.0


def test_rating_graph_rejects_bad_input():
    ratings = synthetic()
    with pytest.raises(ValueError, match="norm"):
        rating_graph(ratings, 12, 9, "right")
    with pytest.raises(ValueError, match="outside"):
        rating_graph(ratings, 5, 9)
    with pytest.raises(ValueError, match="levels"):
        rating_graph(ratings.assign(rating=ratings["rating"] * 10), 12, 9)
    with pytest.raises(ValueError, match="twice"):
        rating_graph(pd.concat([ratings, ratings.head(1)]), 12, 9)
    with pytest.raises(ValueError, match="column"):
        rating_graph(ratings.drop(columns="rating"), 12, 9)
    with pytest.raises(ValueError, match="split"):
        load_rating_split(None, "ua")


def test_rmse_and_mae_by_hand():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rmse([1, 2], [1])


# ---------------------------------------------------------------------------------------------
# GC-MC's layers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("accumulate", ["stack", "sum"])
@pytest.mark.parametrize("sharing", [False, True])
@pytest.mark.parametrize("norm", ["left", "symmetric"])
def test_rating_conv_matches_dense_maths(accumulate, sharing, norm):
    ratings = synthetic()
    graph = rating_graph(ratings, 12, 9, norm)
    conv = RatingConv(graph.num_nodes, 10, 5, accumulate, sharing,
                      torch.Generator().manual_seed(0))
    keep = node_dropout_mask(graph.num_nodes, 0.5, torch.Generator().manual_seed(1))
    t = conv.weight.detach()
    w = t.cumsum(0) if sharing else t                      # W_r = T_1 + ... + T_r
    parts = [torch.tensor(dense_level_matrix(ratings, 12, 9, r + 1, norm), dtype=torch.float32)
             @ (w[r] * keep) for r in range(5)]
    want = torch.cat(parts, 1) if accumulate == "stack" else sum(parts)
    torch.testing.assert_close(conv(None, graph, keep), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(conv.forward_edges(None, graph, keep), want, atol=1e-5,
                               rtol=1e-5)


def test_rating_conv_gradients_match_the_message_path():
    graph = rating_graph(synthetic(), 12, 9)
    conv = RatingConv(graph.num_nodes, 10, 5, "stack", True, torch.Generator().manual_seed(0))
    target = torch.randn(graph.num_nodes, 10, generator=torch.Generator().manual_seed(2))
    (conv(None, graph) * target).sum().backward()
    fused = conv.weight.grad.clone()
    conv.weight.grad = None
    (conv.forward_edges(None, graph) * target).sum().backward()
    torch.testing.assert_close(fused, conv.weight.grad, atol=1e-5, rtol=1e-5)


def test_rating_conv_with_features_and_bad_settings():
    graph = rating_graph(synthetic(), 12, 9)
    conv = RatingConv(4, 10, 5, "stack", False, torch.Generator().manual_seed(0))
    x = torch.randn(graph.num_nodes, 4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(conv(x, graph), conv.forward_edges(x, graph), atol=1e-5,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="multiple"):
        RatingConv(4, 12, 5, "stack")
    with pytest.raises(ValueError, match="accumulate"):
        RatingConv(4, 10, 5, "max")


def test_node_dropout_drops_whole_nodes():
    mask = node_dropout_mask(10_000, 0.7, torch.Generator().manual_seed(0))
    values = torch.unique(mask).tolist()
    assert values[0] == 0.0 and values[1] == pytest.approx(1 / 0.3) and len(values) == 2
    assert abs(float((mask == 0).float().mean()) - 0.7) < 0.02
    assert float(mask.mean()) == pytest.approx(1.0, abs=0.05)  # unbiased on average
    with pytest.raises(ValueError):
        node_dropout_mask(3, 1.0)


def test_decoder_probabilities_sum_to_one_and_match_the_formula():
    gen = torch.Generator().manual_seed(0)
    dec = BilinearDecoder(4, 5, 2, gen)
    eu, ei = torch.randn(6, 4, generator=gen), torch.randn(8, 4, generator=gen)
    users, items = torch.tensor([0, 5, 3, 3]), torch.tensor([7, 0, 2, 2])
    logits = dec(eu, ei, users, items)
    q = dec.level_matrices()
    want = torch.stack([torch.stack([eu[u] @ q[r] @ ei[i] for r in range(5)])
                        for u, i in zip(users, items)])
    torch.testing.assert_close(logits, want, atol=1e-5, rtol=1e-5)
    probs = torch.softmax(logits, 1)
    torch.testing.assert_close(probs.sum(1), torch.ones(4))
    # every pair at once (the training path) gives the same logits
    all_u = torch.arange(6).repeat_interleave(8)
    all_i = torch.arange(8).repeat(6)
    with torch.enable_grad():
        dense = dec(eu, ei, all_u, all_i)
    torch.testing.assert_close(dense.reshape(6, 8, 5)[users, items], logits, atol=1e-5,
                               rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# The models: predictions in [1, 5], fallback, determinism
# ---------------------------------------------------------------------------------------------

def fitted_gcmc(ratings, seed=0, features=None, **settings):
    model = GCMC(features=features is not None, **{**SMALL_GCMC, **settings})
    return model.fit(ratings, 12, 9, seed=seed, epochs=15, features=features)


def test_gcmc_distribution_and_predictions():
    model = fitted_gcmc(synthetic())
    users = torch.arange(12).repeat_interleave(9)
    items = torch.arange(9).repeat(12)
    probs = model.distribution(users, items)
    torch.testing.assert_close(probs.sum(1), torch.ones(len(users)))
    pred = model.predict(users, items)
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    expected = probs.double() @ torch.arange(1.0, 6.0, dtype=torch.float64)
    torch.testing.assert_close(pred, expected, atol=1e-5, rtol=1e-5)
    assert model.predict_matrix().shape == (12, 9)
    assert len(model.history.loss) == 15


def test_predictions_are_clipped_to_the_rating_scale():
    ratings = synthetic()
    model = BiasedMF(dim=3, reg=1e-3, sweeps=5).fit(ratings, 12, 9)
    raw = model.mu + model.user_bias[:, None] + model.item_bias[None, :] \
        + model.user_factors @ model.item_factors.T
    assert float(raw.max()) > 5 or float(raw.min()) < 1  # the unclipped model leaves [1, 5]
    pred = model.predict_matrix()
    assert float(pred.min()) >= 1.0 and float(pred.max()) <= 5.0


@pytest.mark.parametrize("key", ["biasmf", "gcmc"])
def test_fallback_for_unseen_users_and_items(key):
    ratings = synthetic(skip_user=3, skip_item=4)
    model = make_rating_model(key, **(SMALL_GCMC if key == "gcmc" else {}))
    model.fit(ratings, 12, 9, **({"epochs": 5} if key == "gcmc" else {}))
    bias = Biases().fit(ratings, 12, 9)
    users, items = torch.tensor([3, 3, 0, 1]), torch.tensor([4, 0, 4, 2])
    pred = model.predict(users, items)
    assert model.fallback_count == 3
    assert float(pred[0]) == pytest.approx(bias.mu)                        # neither known
    assert float(pred[1]) == pytest.approx(bias.mu + float(bias.item_bias[0]))
    assert float(pred[2]) == pytest.approx(bias.mu + float(bias.user_bias[0]))
    assert float(pred[3]) != pytest.approx(float(bias.predict([1], [2])[0]))  # known: model


def test_gcmc_without_features_is_uniform_on_an_unrated_movie():
    # why the fallback exists: no messages -> zero embedding -> uniform distribution
    model = fitted_gcmc(synthetic(skip_item=4))
    probs = model.distribution([0, 5], [4, 4])
    torch.testing.assert_close(probs, torch.full((2, 5), 0.2))


@pytest.mark.parametrize("key", ["biasmf", "gcmc"])
def test_training_is_deterministic_per_seed(key, deterministic):
    ratings = synthetic()
    settings = SMALL_GCMC if key == "gcmc" else {"dim": 3, "reg": 0.5}  # factors not shrunk to 0
    options = {"epochs": 8} if key == "gcmc" else {}
    runs = [make_rating_model(key, **settings).fit(ratings, 12, 9, seed=s, **options)
            .predict_matrix() for s in (0, 0, 1)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_gcmc_with_features_uses_them():
    ratings = synthetic(skip_item=4)
    gen = torch.Generator().manual_seed(0)
    features = (torch.rand(12, 3, generator=gen), torch.rand(9, 2, generator=gen))
    model = fitted_gcmc(ratings, features=features)
    assert model.key == "gcmc-feat" and model.uses_features
    probs = model.distribution([0, 5], [4, 4])  # an unrated movie: features still speak
    assert not torch.allclose(probs, torch.full((2, 5), 0.2))
    with pytest.raises(ValueError, match="features"):
        GCMC(features=True, **SMALL_GCMC).fit(ratings, 12, 9, epochs=1)


def test_dropout_covers_the_side_features():
    # the paper's code drops out the whole dense-layer input [h, f]: with h = 0, a training
    # pass still differs from evaluation, and averages to it
    from gnnedu.rating import GCMCNet

    graph = rating_graph(synthetic(), 12, 9)
    gen = torch.Generator().manual_seed(0)
    features = (torch.rand(12, 3, generator=gen), torch.rand(9, 2, generator=gen))
    net = GCMCNet(12, 9, hidden=20, dim=6, features=features, shared_dense=True, generator=gen)
    with torch.no_grad():
        net.conv.weight.zero_()
        evaluation = net.encode(graph)[0]
        draws = [net.encode(graph, 0.5, gen)[0] for _ in range(2000)]
    assert not torch.allclose(draws[0], evaluation)
    torch.testing.assert_close(torch.stack(draws).mean(0), evaluation, atol=0.05, rtol=0.05)


@pytest.mark.parametrize("settings", [{}, {"norm": "symmetric", "accumulate": "sum"},
                                      {"weight_sharing": True, "with_features": True}])
def test_contributions_are_exact_leave_one_out(settings):
    from notebooks.solutions import nb10

    settings = dict(settings)
    features = None
    if settings.pop("with_features", False):
        gen = torch.Generator().manual_seed(0)
        features = (torch.rand(12, 3, generator=gen), torch.rand(9, 2, generator=gen))
    ratings = synthetic()
    model = fitted_gcmc(ratings, features=features, **settings)
    user = 5
    rated = set(ratings.loc[ratings["user"] == user, "item"])
    item = next(i for i in range(9) if i not in rated)
    table = model.contributions(user, item)
    assert sorted(table["item"]) == sorted(rated)
    assert list(table["change"].abs()) == sorted(table["change"].abs(), reverse=True)
    for _, row in table.iterrows():
        with_, without = nb10.leave_one_out_by_graph(model, ratings, user, item,
                                                     int(row["item"]))
        assert with_ - without == pytest.approx(row["change"], abs=1e-5)
        assert without == pytest.approx(row["without"], abs=1e-5)


def test_biases_solve_the_regularised_least_squares():
    ratings = synthetic(seed=3)
    reg_u, reg_i = 2.0, 3.0
    model = Biases(reg_u, reg_i, sweeps=200).fit(ratings, 12, 9)
    # the same objective solved directly: [A; sqrt(reg) I] b = [r - mu; 0]
    mu = ratings["rating"].mean()
    a = np.zeros((len(ratings), 21))
    a[np.arange(len(ratings)), ratings["user"]] = 1
    a[np.arange(len(ratings)), 12 + ratings["item"]] = 1
    penalty = np.diag(np.sqrt([reg_u] * 12 + [reg_i] * 9))
    b, *_ = np.linalg.lstsq(np.vstack([a, penalty]),
                            np.concatenate([ratings["rating"] - mu, np.zeros(21)]), rcond=None)
    np.testing.assert_allclose(model.user_bias.numpy(), b[:12], atol=1e-8)
    np.testing.assert_allclose(model.item_bias.numpy(), b[12:], atol=1e-8)


def test_biased_mf_fits_the_training_data_better_than_biases():
    ratings = synthetic(seed=4)
    bias = Biases(1, 1).fit(ratings, 12, 9)
    mf = BiasedMF(dim=4, reg=0.1, sweeps=20).fit(ratings, 12, 9)
    train_rmse = [rmse(m.predict(ratings["user"], ratings["item"]), ratings["rating"])
                  for m in (bias, mf)]
    assert train_rmse[1] < train_rmse[0] - 0.1


def test_models_reject_misuse():
    with pytest.raises(RuntimeError, match="fit"):
        GlobalMean().predict([0], [0])
    model = GlobalMean().fit(synthetic(), 12, 9)
    assert float(model.predict([3], [2])[0]) == pytest.approx(synthetic()["rating"].mean())
    with pytest.raises(IndexError):
        model.predict([12], [0])
    with pytest.raises(ValueError, match="same length"):
        model.predict([0, 1], [0])
    with pytest.raises(ValueError, match="unknown rating model"):
        make_rating_model("mf")
    with pytest.raises(ValueError):
        Biases(reg_user=-1)
    assert list(RATING_MODELS) == ["mean", "bias", "biasmf", "gcmc", "gcmc-feat"]


# ---------------------------------------------------------------------------------------------
# Protocol, files and the command line
# ---------------------------------------------------------------------------------------------

def test_run_rating_row_and_prediction_file(ml, tmp_path):
    row, model = protocol.run_rating("bias", ml, "u2", seed=0)
    assert row["split"] == "u2" and row["test_ratings"] == 20_000
    assert row["fallback"] == 36  # test lines whose movie is not in u2.base
    _, test = load_rating_split(ml, "u2")
    path = protocol.save_predictions(model, test, tmp_path / "p.csv")
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["user_id", "item_id", "prediction"]
    assert len(rows) == 20_001
    pred = np.array([float(r[2]) for r in rows[1:]])
    assert pred.min() >= 1 and pred.max() <= 5
    assert [int(r[0]) for r in rows[1:4]] == test["user_id"].head(3).tolist()
    assert rmse(pred, test["rating"]) == pytest.approx(row["rmse"], abs=1e-5)


def test_prediction_paths():
    paths = protocol._prediction_paths("d/pred.csv", ["gcmc"], ["u1"])
    assert str(paths[("gcmc", "u1")]) == "d/pred.csv"
    paths = protocol._prediction_paths("d/pred.csv", ["gcmc"], list(RATING_SPLITS))
    assert [str(paths[("gcmc", s)]) for s in RATING_SPLITS] == \
        [f"d/pred_{s}.csv" for s in RATING_SPLITS]
    paths = protocol._prediction_paths("d/pred.csv", ["bias", "gcmc"], ["u3"])
    assert str(paths[("bias", "u3")]) == "d/pred_bias.csv"


def test_bench_rating_writes_results_and_predictions(ml, movielens_source, tmp_path, capsys):
    from gnnedu import bench

    data = str(movielens_source.location)
    out, pred = tmp_path / "o", tmp_path / "pred.csv"
    code = bench.main(["--task", "rating", "--split", "u1", "--model", "gcmc", "--epochs", "2",
                       "--out", str(out), "--save-predictions", str(pred), "--no-progress",
                       "--data", data])
    assert code == 0
    results = protocol.load_rating_results(out.with_suffix(".json"))
    assert [(r["key"], r["split"], r["seed"]) for r in results["runs"]] == [("gcmc", "u1", 0)]
    with open(out.with_suffix(".csv")) as f:
        header = f.readline().strip().split(",")
    assert "rmse" in header and "mae" in header
    frame = pd.read_csv(pred)
    assert list(frame.columns) == ["user_id", "item_id", "prediction"] and len(frame) == 20_000
    _, test = load_rating_split(ml, "u1")
    assert frame["item_id"].tolist() == test["item_id"].tolist()
    assert rmse(frame["prediction"], test["rating"]) == pytest.approx(
        results["runs"][0]["rmse"], abs=1e-5)
    # --split all: one prediction file per fold
    code = bench.main(["--task", "rating", "--split", "all", "--model", "mean", "--out",
                       str(tmp_path / "all"), "--save-predictions", str(pred),
                       "--no-progress", "--data", data])
    assert code == 0
    assert all((tmp_path / f"pred_{s}.csv").exists() for s in RATING_SPLITS)
    assert len(protocol.load_rating_results(tmp_path / "all.json")["runs"]) == 5
    capsys.readouterr()


@pytest.mark.parametrize("args", [
    ["--split", "u6"], ["--split", "random"], ["--split", "ua"], ["--threshold", "4"],
    ["--model", "mf"], ["--save-topk", "x.csv"], ["--seeds", "a"], ["--test-ratio", "0.3"],
])
def test_bench_rating_misuse_exits_2_with_one_line(args, capsys):
    from gnnedu import bench

    assert bench.main(["--task", "rating", "--no-progress", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_bench_save_predictions_needs_the_rating_task(capsys):
    from gnnedu import bench

    assert bench.main(["--save-predictions", "x.csv"]) == 2
    assert "--task rating" in capsys.readouterr().err
    assert "gcmc-feat" in bench.build_parser().format_help()


def test_bench_rating_missing_data_exits_1(tmp_path, capsys, monkeypatch):
    from gnnedu import bench

    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    code = bench.main(["--task", "rating", "--model", "mean", "--data", str(tmp_path),
                       "--no-progress", "--out", str(tmp_path / "o")])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("gnnedu bench: ml-100k: nothing usable at path=")
    assert "Traceback" not in err
    assert not (tmp_path / "o.json").exists()


def test_paired_comparison_and_table():
    runs = []
    for split in ("u1", "u2", "u3"):
        for seed in (0, 1):
            runs.append({"model": "A", "key": "a", "split": split, "seed": seed,
                         "rmse": 0.90 + 0.01 * seed, "mae": 0.7, "cpu_seconds": 1.0})
            runs.append({"model": "B", "key": "b", "split": split, "seed": seed,
                         "rmse": 0.95 + 0.02 * seed, "mae": 0.75, "cpu_seconds": 1.0})
    result = protocol.paired_comparison({"runs": runs}, "a", "b")
    assert result["n"] == 6 and result["wins"] == 6
    assert result["mean_diff"] == pytest.approx(-0.055)
    assert result["t_p"] < 0.01
    only_u1 = protocol.paired_comparison({"runs": runs}, "a", "b", splits=["u1"])
    assert only_u1["n"] == 2
    table = protocol.results_table({"runs": runs})
    assert table.loc["a", "rmse u1 seed 0"] == pytest.approx(0.90)
    assert table.loc["a", "rmse u1"] == pytest.approx(0.905)
    assert table.loc["b", "rmse folds"] == pytest.approx(0.96)
    assert table.loc["b", "rmse folds std"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="paired"):
        protocol.paired_comparison({"runs": runs[:2]}, "a", "b")


def test_committed_results_cover_every_model_fold_and_seed():
    results = protocol.load_rating_results()
    done = {(r["key"], r["split"], r["seed"]) for r in results["runs"]}
    assert done == {(k, s, seed) for k in RATING_MODELS for s in RATING_SPLITS
                    for seed in protocol.DEFAULT_SEEDS}
    for row in results["runs"]:
        assert 0.5 < row["mae"] < row["rmse"] < 1.3
        assert row["test_ratings"] == 20_000
    tuning = protocol.load_tuning()
    chosen = protocol.chosen_settings(tuning)
    assert set(chosen) == set(protocol.TUNING_GRIDS)
    for key in ("gcmc", "gcmc-feat"):
        assert chosen[key]["epochs"] <= protocol.MAX_EPOCHS


def test_defaults_are_the_tuned_settings():
    chosen = protocol.chosen_settings(protocol.load_tuning())
    bias = Biases()
    assert {"reg_user": bias.reg_user, "reg_item": bias.reg_item} == chosen["bias"]["config"]
    mf = BiasedMF()
    assert {"dim": mf.dim, "reg": mf.reg, "reg_bias": mf.reg_bias} == chosen["biasmf"]["config"]
    for key in ("gcmc", "gcmc-feat"):
        model = make_rating_model(key)
        for name, value in chosen[key]["config"].items():
            assert getattr(model, name) == value, (key, name)
        assert model.epochs == chosen[key]["epochs"]


# ---------------------------------------------------------------------------------------------
# The explorer
# ---------------------------------------------------------------------------------------------

def test_prediction_state_and_explorer(ml):
    base, test = load_rating_split(ml, "u1")
    model = GCMC(**SMALL_GCMC).fit(base, ml.num_users, ml.num_items, epochs=3)
    item = int(test["item"].iloc[0])
    state = ratings_widget.prediction_state(model, ml, 0, item, top=5, test=test)
    assert state["probabilities"].sum() == pytest.approx(1.0)
    assert state["true_rating"] == int(test["rating"].iloc[0])
    assert len(state["contributions"]) == 5 and state["ratings"] == int((base["user"] == 0).sum())
    assert ratings_widget.draw_prediction(state).axes[0].get_title().startswith("user 1")
    ex = ratings_widget.RatingExplorer(model, ml, test, user=0)
    assert ex.redraws == 1 and ex.state["item"] == item  # the user's test movies come first
    ex.user.value = 7
    assert ex.state["user"] == 7 and ex.redraws == 2
    unseen = test[~test["item"].isin(base["item"])].iloc[0]
    with ex._hold():
        ex.user.value = int(unseen["user"])
    ex.item.value = int(unseen["item"])
    assert ex.state["fallback"] and "fallback" in ex.summary()
    assert ex.out.outputs[1]["data"]["image/png"]


# ---------------------------------------------------------------------------------------------
# Notebook 10's figures (gnnedu.rating.report)
# ---------------------------------------------------------------------------------------------

def test_level_counts_figure_draws_the_counts():
    from gnnedu.rating import report

    table = synthetic()
    fig = report.level_counts_figure(table)
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [int((table["rating"] == r).sum()) for r in range(1, 6)]


def test_results_figure_shows_every_model_but_the_skipped_one():
    from gnnedu.rating import report

    runs = [{"key": key, "model": name, "split": split, "seed": seed, "cpu_seconds": 1.0,
             "rmse": base + 0.01 * seed + 0.02 * int(split[1]), "mae": base - 0.2}
            for key, name, base in (("mean", "Global mean", 1.15), ("bias", "Biases", 0.95),
                                    ("gcmc", "GC-MC", 0.90))
            for split in ("u1", "u2") for seed in (0, 1)]
    table = protocol.results_table({"runs": runs})
    assert list(table.index) == ["mean", "bias", "gcmc"]          # the registry's order
    ax = report.results_figure(table).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Biases", "GC-MC"]
    assert "Global mean: off the scale" in ax.get_title()
    lines = {round(line.get_xdata()[0], 3) for line in ax.get_lines()
             if line.get_linestyle() == "--"}
    assert lines == set(report.PUBLISHED_U1.values())
