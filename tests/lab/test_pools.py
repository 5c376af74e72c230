"""Counterfactual pools: every pooled candidate is allowed, pools hold no repeats, every allowed
candidate is equally likely, and the sampler is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.lab.pools import allowed_counts, sample_pools


def _brute_allowed(cue: np.ndarray, labels: np.ndarray, same: bool) -> list[np.ndarray]:
    return [np.flatnonzero((labels != labels[i]) & ((cue == cue[i]) if same else True)) for i in range(cue.size)]


def _world(seed: int, n: int, cues: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, cues, n), rng.integers(0, groups, n)


@pytest.mark.parametrize(("n", "cues", "groups"), [(200, 3, 200), (300, 4, 30), (60, 20, 60), (40, 2, 3)])
def test_allowed_counts_are_the_same_cue_candidates_outside_the_group(n, cues, groups):
    cue, labels = _world(n, n, cues, groups)
    expected = [candidates.size for candidates in _brute_allowed(cue, labels, True)]
    np.testing.assert_array_equal(allowed_counts(cue, labels), expected)


@pytest.mark.parametrize("same", [True, False])
@pytest.mark.parametrize(("n", "cues", "groups", "size"), [(400, 3, 400, 16), (300, 4, 30, 16), (60, 20, 60, 16),
                                                           (40, 2, 3, 8), (500, 50, 500, 2)])
def test_pools_hold_distinct_allowed_candidates_and_as_many_as_there_are(n, cues, groups, size, same):
    cue, labels = _world(n + size, n, cues, groups)
    pools = sample_pools(cue, labels, size, same, np.random.default_rng(0))
    assert pools.shape == (n, size - 1)
    for query, candidates in enumerate(_brute_allowed(cue, labels, same)):
        taken = pools[query][pools[query] >= 0]
        assert taken.size == min(size - 1, candidates.size)
        assert np.unique(taken).size == taken.size
        assert np.isin(taken, candidates).all()
        assert (pools[query][taken.size:] == -1).all()


@pytest.mark.parametrize(("allowed", "size"), [(200, 5), (12, 5)])  # the vectorised draws; the direct draws
def test_every_allowed_candidate_is_equally_likely(allowed, size):
    """One query among ``allowed + 1`` rows, one of them its own group: over 4,000 seeded draws each
    candidate's share is within 5 standard errors of (size - 1) / allowed."""
    cue = np.zeros(allowed + 1, dtype=np.int64)
    labels = np.arange(allowed + 1)
    counts = np.zeros(allowed + 1)
    rng = np.random.default_rng(1)
    draws = 4000
    for _ in range(draws):
        counts[sample_pools(cue, labels, size, True, rng)[0]] += 1
    share = (size - 1) / allowed
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / draws, share, atol=5 * np.sqrt(share * (1 - share) / draws))


def test_the_pools_are_seeded():
    cue, labels = _world(3, 500, 5, 100)
    first = sample_pools(cue, labels, 16, True, np.random.default_rng(9))
    np.testing.assert_array_equal(sample_pools(cue, labels, 16, True, np.random.default_rng(9)), first)
    assert not np.array_equal(sample_pools(cue, labels, 16, True, np.random.default_rng(10)), first)


def test_string_cues_and_labels_are_buckets_too():
    cue = np.array(["red", "blue"] * 50)
    labels = np.array([f"g{i // 2}" for i in range(100)])
    pools = sample_pools(cue, labels, 6, True, np.random.default_rng(2))
    for query in range(100):
        assert (cue[pools[query]] == cue[query]).all() and (labels[pools[query]] != labels[query]).all()
