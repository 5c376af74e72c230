"""Latent factors: seeded labels in range; orientation concentration shifts only orientations."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.world import (
    DEFAULT_WORLD,
    FactorSpec,
    orientation_probabilities,
    sample_factors,
)
from mmgate.world.factors import check_factors

N = 20000


def test_labels_are_int64_within_each_cardinality_and_cover_every_value():
    config = DEFAULT_WORLD.replace(factors=FactorSpec(n_shape=6, n_thick=2))
    factors = sample_factors(config, N, seed=3)
    for name, card in zip(config.factors.names(), config.factors.cardinalities()):
        assert factors[name].dtype == np.int64 and factors[name].shape == (N,)
        assert set(np.unique(factors[name])) == set(range(card))


def test_same_seed_same_labels_and_other_seed_other_labels():
    a, b = sample_factors(DEFAULT_WORLD, 500, 1), sample_factors(DEFAULT_WORLD, 500, 1)
    c = sample_factors(DEFAULT_WORLD, 500, 2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["shape"], c["shape"])


def test_orientation_law_is_uniform_at_zero_and_all_on_the_subset_at_one():
    probs0 = orientation_probabilities(DEFAULT_WORLD)
    assert np.allclose(probs0, 1 / 8)
    probs1 = orientation_probabilities(DEFAULT_WORLD.replace(orient_concentration=1.0))
    assert np.allclose(probs1, [0.5, 0.5, 0, 0, 0, 0, 0, 0])
    probs = orientation_probabilities(DEFAULT_WORLD.replace(orient_concentration=0.85))
    assert probs.sum() == pytest.approx(1.0)
    assert probs[:2].sum() == pytest.approx(0.85 + 0.15 * 2 / 8)


def test_orientation_concentration_moves_the_orientation_histogram_to_the_subset():
    shifted = DEFAULT_WORLD.replace(orient_concentration=0.85, orient_subset=2)
    base = sample_factors(DEFAULT_WORLD, N, 0)["orient"]
    drifted = sample_factors(shifted, N, 0)["orient"]
    expected = orientation_probabilities(shifted)
    hist = np.bincount(drifted, minlength=8) / N
    tol = 4 * np.sqrt(expected * (1 - expected) / N)
    assert np.all(np.abs(hist - expected) <= tol)
    assert np.mean(base < 2) == pytest.approx(0.25, abs=0.02)


def test_orientation_concentration_leaves_every_other_factor_unchanged():
    base = sample_factors(DEFAULT_WORLD, 3000, 5)
    drifted = sample_factors(DEFAULT_WORLD.replace(orient_concentration=0.6, orient_subset=3),
                             3000, 5)
    for name in ("shape", "freq", "phase", "thick"):
        assert np.array_equal(base[name], drifted[name])
    assert not np.array_equal(base["orient"], drifted["orient"])


def test_zero_concentration_is_the_undrifted_world_whatever_the_subset():
    base = sample_factors(DEFAULT_WORLD, 3000, 5)["orient"]
    other = sample_factors(DEFAULT_WORLD.replace(orient_subset=5), 3000, 5)["orient"]
    assert np.array_equal(base, other)


def test_check_factors_rejects_missing_ragged_and_out_of_range_labels():
    spec = FactorSpec()
    good = sample_factors(DEFAULT_WORLD, 10, 0)
    assert check_factors(good, spec) == 10
    with pytest.raises(InputError, match="missing factor"):
        check_factors({k: v for k, v in good.items() if k != "phase"}, spec)
    with pytest.raises(InputError, match=r"factors\['freq'\]: expected length 10"):
        check_factors({**good, "freq": good["freq"][:5]}, spec)
    with pytest.raises(InputError, match=r"factors\['thick'\]: expected labels in \[0, 3\)"):
        check_factors({**good, "thick": good["thick"] + 3}, spec)
    with pytest.raises(InputError, match=r"factors\['shape'\]: expected a 1-D integer array"):
        check_factors({**good, "shape": good["shape"].astype(float)}, spec)
    with pytest.raises(InputError, match="n: expected"):
        sample_factors(DEFAULT_WORLD, -1, 0)
