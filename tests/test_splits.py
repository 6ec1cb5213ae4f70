"""Splits: deterministic for a seed, disjoint, covering, and with the per-user guarantees."""

import numpy as np
import pandas as pd
import pytest

from gnnedu.data import implicit, split_random, split_temporal

KEY = ["user", "item"]


def toy_ratings(seed=0, n_users=30, n_items=40):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        n = int(rng.integers(1, 15))  # includes users with a single rating
        for item in rng.choice(n_items, size=n, replace=False):
            rows.append((user, int(item), int(rng.integers(1, 6)), int(rng.integers(0, 1000))))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def assert_partition(data, train, test):
    assert len(train) + len(test) == len(data)
    assert not set(map(tuple, train[KEY].values)) & set(map(tuple, test[KEY].values))
    both = pd.concat([train, test]).sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, data.sort_values(KEY).reset_index(drop=True))


@pytest.mark.parametrize("ratio", [0.1, 0.2, 0.5])
def test_random_split_partitions_and_keeps_one_each_side(ratio):
    data = toy_ratings()
    train, test = split_random(data, ratio, seed=3)
    assert_partition(data, train, test)
    counts = data.groupby("user").size()
    for user, n in counts.items():
        n_train = (train["user"] == user).sum()
        n_test = (test["user"] == user).sum()
        if n >= 2:
            assert n_train >= 1 and n_test >= 1
            assert n_test == max(1, min(n - 1, round(n * ratio)))
        else:
            assert (n_train, n_test) == (1, 0)


def test_random_split_is_deterministic_per_seed():
    data = toy_ratings()
    a, b = split_random(data, 0.2, seed=7), split_random(data, 0.2, seed=7)
    pd.testing.assert_frame_equal(a[1], b[1])
    other = split_random(data, 0.2, seed=8)[1]
    assert not a[1][KEY].equals(other[KEY])


def test_temporal_split_holds_out_the_latest():
    data = toy_ratings()
    train, test = split_temporal(data, n_test=2)
    assert_partition(data, train, test)
    for user, group in test.groupby("user"):
        assert group["timestamp"].min() >= train.loc[train["user"] == user, "timestamp"].max()
        assert len(group) == min(2, (data["user"] == user).sum() - 1)


def test_threshold_keeps_only_positive_ratings():
    data = toy_ratings()
    train, test = split_random(data, 0.2, seed=0, threshold=4)
    assert (pd.concat([train, test])["rating"] >= 4).all()
    assert len(train) + len(test) == (data["rating"] >= 4).sum()
    assert len(implicit(data, None)) == len(data)


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5])
def test_bad_ratio_is_rejected(bad):
    with pytest.raises(ValueError, match="test_ratio"):
        split_random(toy_ratings(), bad)


def test_bad_table_says_which_columns():
    with pytest.raises(ValueError, match="timestamp"):
        split_random(pd.DataFrame({"user": [0], "item": [0], "rating": [5]}))
    with pytest.raises(ValueError, match="n_test"):
        split_temporal(toy_ratings(), n_test=0)


def test_movielens_protocol_p1_and_official_split(ml):
    train, test = split_random(ml.ratings, 0.2, seed=0)
    assert_partition(ml.ratings, train, test)
    assert train["user"].nunique() == test["user"].nunique() == 943
    base, held = ml.official_split("u1")
    assert (len(base), len(held)) == (80_000, 20_000)
    assert_partition(ml.ratings, base, held)
    with pytest.raises(ValueError, match="u1"):
        ml.official_split("u9")
