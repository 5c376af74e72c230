"""Pairing corruption: each mode is the intended permutation, applied only in pairing_splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError, InputError
from mmgate.world import DEFAULT_WORLD, corrupt_pairing, make_world

SMALL = DEFAULT_WORLD.replace(n_train=256, n_val=96, n_test=96)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 200), mode=st.sampled_from(["none", "swap", "offset", "block"]),
       rate=st.floats(0.0, 1.0), offset=st.integers(1, 300), block=st.integers(1, 50),
       seed=st.integers(0, 2**20))
def test_every_mode_gives_a_permutation(n, mode, rate, offset, block, seed):
    p = corrupt_pairing(n, mode, rate=rate, offset=offset, block=block, seed=seed)
    assert np.array_equal(np.sort(p), np.arange(n))


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_swap_moves_exactly_the_rate_share_and_no_moved_row_keeps_its_text(rate):
    n = 400
    p = corrupt_pairing(n, "swap", rate=rate, seed=3)
    moved = p != np.arange(n)
    assert moved.sum() == round(rate * n)
    assert set(p[moved]) == set(np.flatnonzero(moved))


def test_swap_rows_grow_nested_with_the_rate():
    low = corrupt_pairing(300, "swap", rate=0.1, seed=9) != np.arange(300)
    high = corrupt_pairing(300, "swap", rate=0.3, seed=9) != np.arange(300)
    assert np.all(high[low])


def test_offset_pairs_row_i_with_text_i_plus_offset():
    assert corrupt_pairing(7, "offset", offset=3).tolist() == [3, 4, 5, 6, 0, 1, 2]
    assert np.array_equal(corrupt_pairing(5, "offset", offset=5), np.arange(5))


@pytest.mark.parametrize(("n", "block"), [(64, 16), (70, 16), (10, 3)])
def test_block_moves_whole_blocks_and_none_stays_in_place(n, block):
    p = corrupt_pairing(n, "block", block=block, seed=1)
    n_blocks = -(-n // block)
    src_blocks = p // block
    runs = np.split(p, np.flatnonzero(np.diff(src_blocks)) + 1)
    assert len(runs) == n_blocks
    for run in runs:
        assert np.array_equal(run, np.arange(run[0], run[0] + run.size))
        assert run[0] % block == 0
    assert runs[0][0] != 0


def test_none_is_the_identity_and_seeds_matter_for_random_modes():
    assert np.array_equal(corrupt_pairing(50, "none", rate=1.0), np.arange(50))
    a = corrupt_pairing(50, "swap", rate=0.5, seed=1)
    assert not np.array_equal(a, corrupt_pairing(50, "swap", rate=0.5, seed=2))
    assert np.array_equal(a, corrupt_pairing(50, "swap", rate=0.5, seed=1))


def test_bad_arguments_name_themselves():
    with pytest.raises(ConfigError, match="mode"):
        corrupt_pairing(5, "rotate")
    with pytest.raises(ConfigError, match="rate"):
        corrupt_pairing(5, "swap", rate=1.5)
    with pytest.raises(ConfigError, match="block"):
        corrupt_pairing(5, "block", block=0)
    with pytest.raises(InputError, match="n: expected"):
        corrupt_pairing(-2, "none")


@pytest.mark.parametrize("mode", ["swap", "offset", "block"])
def test_world_pairing_corrupts_only_the_listed_splits_and_only_the_texts(mode):
    clean = make_world(SMALL, 0)
    config = SMALL.replace(pairing=mode, pairing_rate=0.3, pairing_offset=5, pairing_block=8,
                           pairing_splits=("train", "test"))
    world = make_world(config, 0)
    pool_tokens = {int(i): t for s in ("train", "val", "test")
                   for i, t in zip(clean.split(s).index, clean.split(s).tokens)}
    for name in ("train", "val", "test"):
        a, b = clean.split(name), world.split(name)
        assert np.array_equal(a.images, b.images) and np.array_equal(a.index, b.index)
        assert all(np.array_equal(a.factors[k], b.factors[k]) for k in a.factors)
        expected = np.stack([pool_tokens[int(i)] for i in b.text_index])
        assert np.array_equal(b.tokens, expected)
        assert np.array_equal(np.sort(b.text_index), np.sort(b.index))
        moved = (b.text_index != b.index).mean()
        if name == "val":
            assert moved == 0.0 and np.array_equal(a.tokens, b.tokens)
        else:
            assert moved == (pytest.approx(0.3, abs=0.01) if mode == "swap" else 1.0)


def test_offset_pairing_in_a_world_follows_split_rows():
    world = make_world(SMALL.replace(pairing="offset", pairing_offset=2), 0)
    tr = world.train
    assert np.array_equal(tr.text_index, np.roll(tr.index, -2))
