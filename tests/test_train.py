"""Tests for gnnedu.train: negative sampling, BPR loss, determinism, early stopping."""

import math

import pandas as pd
import pytest
import torch

from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate
from gnnedu.models import MF, GCNRecommender, LightGCN
from gnnedu.train import (
    TrainConfig,
    bpr_loss,
    carve_validation,
    epoch_batches,
    false_negative_rate,
    known_pairs,
    sample_negatives,
    train_bpr,
)


def synthetic(num_users=80, num_items=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    taste = torch.randn(num_users, 3, generator=g) @ torch.randn(3, num_items, generator=g)
    liked = taste > taste.quantile(0.75, dim=1, keepdim=True)
    users, items = liked.nonzero().T
    held = torch.rand(users.numel(), generator=g) < 0.2
    return build_graph((users[~held], items[~held]), num_users, num_items), (users[held],
                                                                             items[held])


def test_bpr_loss_hand_computed():
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])
    expected = (-math.log(1 / (1 + math.exp(-1.0))) - math.log(0.5)) / 2
    assert bpr_loss(pos, neg).item() == pytest.approx(expected)
    # several negatives per positive: mean over all pairs
    two = bpr_loss(pos, torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert two.item() == pytest.approx(expected)


@pytest.mark.parametrize("form", ["dense", "bits", "keys"])
def test_negatives_avoid_training_items(form):
    graph, _ = synthetic()
    limits = {"dense": {}, "bits": {"dense_limit": 0}, "keys": {"dense_limit": 0,
                                                              "bits_limit": 0}}[form]
    known = known_pairs(graph, **limits)
    assert (known.dim(), known.dtype) == {"dense": (2, torch.bool), "bits": (1, torch.uint8),
                                          "keys": (1, torch.int64)}[form]
    gen = torch.Generator().manual_seed(0)
    users = graph.users.repeat(3)
    neg = sample_negatives(users, graph.num_items, 4, known, gen)
    assert neg.shape == (users.numel(), 4)
    assert neg.min() >= 0 and neg.max() < graph.num_items
    dense = graph.interactions.to_dense().bool()
    assert not dense[users.unsqueeze(1).expand_as(neg), neg].any()
    # without `known` it is plain uniform sampling, reproducible from the generator
    a = sample_negatives(users, 60, 1, None, torch.Generator().manual_seed(5))
    b = sample_negatives(users, 60, 1, None, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_same_seed_bit_identical_different_seed_differs():
    graph, test = synthetic()
    torch.use_deterministic_algorithms(True)
    runs = [LightGCN(dim=8, num_layers=2).fit(graph, epochs=3, batch_size=128, seed=s)
            for s in (0, 0, 1)]
    assert torch.equal(runs[0].embedding, runs[1].embedding)
    assert runs[0].history.loss == runs[1].history.loss
    m0, m1 = (evaluate(r, graph, test) for r in runs[:2])
    assert m0 == m1
    assert not torch.equal(runs[0].embedding, runs[2].embedding)
    # training leaves the global random state untouched
    model = GCNRecommender(dim=8, dropout=0.3)
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    model.fit(graph, epochs=1, batch_size=128)
    assert torch.equal(torch.rand(1), expected)


def test_loss_decreases_and_history_is_recorded():
    graph, _ = synthetic()
    model = MF(dim=8).fit(graph, epochs=15, batch_size=256, lr=0.05, reg=1e-4)
    h = model.history
    assert h.epochs == list(range(1, 16)) and len(h.loss) == 15
    assert h.loss[-1] < h.loss[0] < math.log(2) + 0.05
    assert h.seconds > 0 and h.config["lr"] == 0.05
    frame = h.to_frame()
    assert list(frame.columns) == ["epoch", "loss"] and len(frame) == 15


def test_early_stopping_on_validation_restores_best():
    graph, _ = synthetic()
    fit_graph_pairs = (graph.users, graph.items)
    frame = pd.DataFrame({"user": fit_graph_pairs[0].numpy(), "item": fit_graph_pairs[1].numpy(),
                          "rating": 1, "timestamp": 0})

    fit_df, val_df = carve_validation(frame, ratio=0.2, seed=0)
    assert len(fit_df) + len(val_df) == len(frame)
    fit_graph = build_graph(fit_df, graph.num_users, graph.num_items)
    # a huge learning rate overfits/oscillates, so validation recall stops improving
    model = MF(dim=8)
    h = train_bpr(model, fit_graph, val=val_df, epochs=200, batch_size=256, lr=0.3, reg=0.0,
                  eval_every=2, patience=2, metric="recall@10", ks=(10,))
    assert h.epochs[-1] < 200                                 # stopped early
    assert len(h.val) >= 3 and all("recall@10" in row for row in h.val)
    best = max(h.val, key=lambda row: row["recall@10"])
    assert h.best_epoch == best["epoch"] and h.best_score == best["recall@10"]
    # the model holds the best parameters, not the last ones
    assert evaluate(model, fit_graph, val_df, ks=(10,))["recall@10"] == pytest.approx(
        h.best_score)
    assert "recall@10" in h.to_frame().columns


def test_progress_bar_and_bad_options():
    graph, _ = synthetic()
    LightGCN(dim=4, num_layers=1).fit(graph, epochs=1, progress=True)
    with pytest.raises(ValueError):
        MF(dim=4).fit(graph, batch_size=0)
    with pytest.raises(ValueError, match="metric"):
        MF(dim=4).fit(graph, val=(graph.users[:5], graph.items[:5]), metric="auc@5")
    with pytest.raises(TypeError):
        train_bpr(MF(dim=4), "not a graph")
    with pytest.raises(TypeError):
        TrainConfig(nonsense=1)


def test_fit_settings_defaults_config_and_overrides():
    graph, _ = synthetic()
    model = MF(dim=4).fit(graph, epochs=2)
    expected = {**MF.train_defaults, "epochs": 2}
    assert {k: model.history.config[k] for k in expected} == expected
    config = TrainConfig(epochs=3, lr=0.05, batch_size=64)
    model = MF(dim=4).fit(graph, config=config, num_neg=2)
    assert model.history.config["lr"] == 0.05 and model.history.config["num_neg"] == 2
    assert model.history.config["batch_size"] == 64 and len(model.history.epochs) == 3


def _pairs(pairs):
    users, items = zip(*pairs)
    return pd.DataFrame({"user": users, "item": items, "rating": 4, "timestamp": 0})


def test_false_negative_rate_extremes():
    train = _pairs([(0, 0), (1, 1)])
    # every item a user has not trained on is in their test set -> every negative is false
    all_test = _pairs([(0, 1), (0, 2), (1, 0), (1, 2)])
    assert false_negative_rate(train, all_test, 3, num_samples=200) == 1.0
    none_test = _pairs([(0, 0), (1, 1)])      # test items are training items: never drawn
    assert false_negative_rate(train, none_test, 3, num_samples=200) == 0.0


def test_stop_epoch_ends_a_long_schedule_early(deterministic):
    """stop_epoch=3 of a 6-epoch cosine schedule = the first 3 epochs of the full run (the
    learning rate follows the 6-epoch schedule), not a 3-epoch schedule."""
    graph, _ = synthetic()
    options = dict(epochs=6, batch_size=128, lr=0.05, lr_schedule="cosine", seed=0)
    at_three = {}

    def keep(epoch, model, history):
        if epoch == 3:
            at_three["embedding"] = model.embedding.detach().clone()

    MF(dim=8).fit(graph, callback=keep, **options)
    stopped = MF(dim=8).fit(graph, stop_epoch=3, **options)
    assert stopped.history.epochs == [1, 2, 3]
    assert torch.equal(stopped.embedding.detach(), at_three["embedding"])
    short = MF(dim=8).fit(graph, **{**options, "epochs": 3})     # a 3-epoch schedule differs
    assert not torch.equal(short.embedding.detach(), at_three["embedding"])


def _skewed_graph():
    """User 0 has 8 items, users 1-4 one each, user 5 none (never drawn)."""
    pairs = [(0, i) for i in range(8)] + [(u, 8 + u) for u in range(1, 5)]
    return build_graph(_pairs(pairs), 6, 20)


def _drawn_users(config, epochs=2000):
    graph = _skewed_graph()
    dense = graph.interactions.to_dense()
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(graph.num_users)
    for _ in range(epochs):
        for users, pos, neg in epoch_batches(graph, config, known_pairs(graph), gen):
            assert (dense[users, pos] == 1).all()      # every positive is a training pair
            assert (dense[users.unsqueeze(1).expand_as(neg), neg] == 0).all()
            counts += torch.bincount(users, minlength=graph.num_users)
    return counts / counts.sum()


def test_positives_by_uniform_user_weigh_every_user_alike():
    """positives="users": each of the 5 users with items is drawn about 1/5 of the time (user
    0's 8 items share its fifth); the default shuffle draws user 0 for 8 of the 12 pairs."""
    by_user = _drawn_users(TrainConfig(batch_size=4, positives="users"))
    assert by_user[5] == 0
    assert torch.allclose(by_user[:5], torch.full((5,), 0.2), atol=0.01)
    by_pair = _drawn_users(TrainConfig(batch_size=4), epochs=10)
    assert by_pair[0] == pytest.approx(8 / 12)
    with pytest.raises(ValueError, match="positives"):
        MF(dim=4).fit(_skewed_graph(), epochs=1, positives="items")


def test_a_checkpoint_without_a_newer_field_resumes_as_its_default(tmp_path):
    """A checkpoint written before ``positives`` existed is the same run as the default."""
    graph, _ = synthetic()
    options = dict(epochs=3, batch_size=256, eval_every=1, checkpoint=str(tmp_path / "s.pt"))

    def interrupt(epoch, model, history):
        if epoch == 3:      # before epoch 3 is saved: the checkpoint holds epochs 1-2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MF(dim=4).fit(graph, callback=interrupt, **options)
    state = torch.load(options["checkpoint"], weights_only=False)
    del state["config"]["positives"]
    torch.save(state, options["checkpoint"])
    with pytest.raises(ValueError, match="other settings"):
        MF(dim=4).fit(graph, positives="users", **options)
    resumed = MF(dim=4).fit(graph, **options)
    assert resumed.history.epochs == [1, 2, 3]


def test_the_three_forms_of_known_pairs_draw_the_same_negatives():
    """Dense matrix, bit array and sorted keys recognise the same pairs, so one generator
    state gives identical draws with each (the form only changes the speed)."""
    graph, _ = synthetic()
    users = graph.users.repeat(5)
    draws = [sample_negatives(users, graph.num_items, 8, known_pairs(graph, **limits),
                              torch.Generator().manual_seed(1))
             for limits in ({}, {"dense_limit": 0}, {"dense_limit": 0, "bits_limit": 0})]
    assert torch.equal(draws[0], draws[1]) and torch.equal(draws[0], draws[2])
