"""Splits: deterministic, sized and disjoint; the hygiene check refuses overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.world import (
    DEFAULT_WORLD,
    Splits,
    check_split_hygiene,
    factor_tuples,
    sample_factors,
    split_indices,
)


def test_splits_are_sized_disjoint_and_cover_the_pool():
    s = split_indices(100, 30, 20, seed=4)
    assert (s.train.size, s.val.size, s.test.size) == (100, 30, 20)
    both = np.concatenate([s.train, s.val, s.test])
    assert np.array_equal(np.sort(both), np.arange(150))


def test_splits_are_a_pure_function_of_the_seed():
    a, b, c = split_indices(50, 10, 10, 1), split_indices(50, 10, 10, 1), split_indices(50, 10, 10, 2)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train)


def test_hygiene_report_lists_sizes_and_zero_overlaps():
    report = check_split_hygiene(split_indices(40, 5, 5, 0))
    assert report["sizes"] == {"train": 40, "val": 5, "test": 5}
    assert report["overlaps"] == {"train/val": 0, "train/test": 0, "val/test": 0}
    assert "combination_in_train_share" not in report


def test_hygiene_raises_on_overlap_naming_the_splits():
    bad = Splits(train=np.array([0, 1, 2]), val=np.array([3, 4]), test=np.array([2, 5]))
    with pytest.raises(InputError, match="train and test share 1 item"):
        check_split_hygiene(bad)


def test_hygiene_raises_on_repeated_or_malformed_indices():
    with pytest.raises(InputError, match=r"splits\.val: expected distinct"):
        check_split_hygiene(Splits(np.array([0]), np.array([1, 1]), np.array([2])))
    with pytest.raises(InputError, match=r"splits\.test: expected a 1-D integer"):
        check_split_hygiene(Splits(np.array([0]), np.array([1]), np.array([2.0])))


def test_combination_share_counts_held_out_items_whose_factor_tuple_is_in_train():
    config = DEFAULT_WORLD
    splits = split_indices(config.n_train, config.n_val, config.n_test, 0)
    tuples = factor_tuples(sample_factors(config, config.n_total, 0))
    report = check_split_hygiene(splits, tuples)
    train_set = {tuple(t) for t in tuples[splits.train]}
    for name in ("val", "test"):
        slow = np.mean([tuple(t) in train_set for t in tuples[getattr(splits, name)]])
        assert report["combination_in_train_share"][name] == pytest.approx(slow)
    with pytest.raises(InputError, match="factor_tuples: expected a row for every item"):
        check_split_hygiene(splits, tuples[:100])


def test_combination_share_is_one_when_held_out_items_copy_train_tuples():
    tuples = np.array([[0, 0], [1, 1], [0, 0], [1, 1], [2, 2]])
    splits = Splits(np.array([0, 1]), np.array([2, 3]), np.array([4]))
    shares = check_split_hygiene(splits, tuples)["combination_in_train_share"]
    assert shares == {"val": 1.0, "test": 0.0}
