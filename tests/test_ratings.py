"""gnnedu.ratings: statistics of a ratings table and of a train/test split (notebook 05)."""

import pandas as pd
import pytest

from gnnedu import ratings


def table(pairs, timestamps=None):
    users, items = zip(*pairs)
    df = pd.DataFrame({"user": users, "item": items, "rating": 4})
    df["timestamp"] = timestamps if timestamps is not None else range(len(df))
    return df


# 3 users, 4 items; item 3 has no interaction
TOY = table([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)])


def test_degrees_and_summary_by_hand():
    user_deg, item_deg = ratings.degrees(TOY, 3, 4)
    assert user_deg.tolist() == [3, 2, 1]
    assert item_deg.tolist() == [3, 2, 1, 0]
    s = ratings.summary(TOY, 3, 4)
    assert s["interactions"] == 6
    assert s["density"] == pytest.approx(6 / 12)
    assert s["sparsity"] == pytest.approx(0.5)
    assert (s["min_per_item"], s["max_per_item"], s["median_per_user"]) == (0, 3, 2.0)


def test_degrees_rejects_out_of_range_and_bad_tables():
    with pytest.raises(ValueError):
        ratings.degrees(TOY, 2, 4)
    with pytest.raises(ValueError):
        ratings.degrees(pd.DataFrame({"u": [0]}), 1, 1)


def test_degree_counts_skips_zero():
    k, n_k = ratings.degree_counts([0, 1, 1, 3, 0, 3, 3])
    assert k.tolist() == [1, 3] and n_k.tolist() == [2, 3]
    with pytest.raises(ValueError):
        ratings.degree_counts([1, -1])


def test_head_share():
    assert ratings.head_share([1, 10, 3, 5, 1], head=0.2) == pytest.approx(10 / 20)
    assert ratings.head_share([1, 10, 3, 5, 1], head=1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ratings.head_share([1, 2], head=0.0)
    with pytest.raises(ValueError):
        ratings.head_share([0, 0])


def test_split_report_counts_cold_users_items_and_time():
    train = table([(0, 0), (0, 1), (1, 1)], timestamps=[5, 6, 9])
    test = table([(0, 2), (1, 0), (2, 1)], timestamps=[10, 3, 8])
    r = ratings.split_report(train, test)
    assert r["test_users"] == 3
    assert r["cold_test_users"] == 1        # user 2 has no training row
    assert r["cold_test_items"] == 1        # item 2 never in train
    assert r["test_before_train_end"] == pytest.approx(2 / 3)   # t=3 and t=8 are before t=9
