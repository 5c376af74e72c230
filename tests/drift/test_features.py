"""Specification of the drift feature vector: panel metrics per set, raw and normalised deltas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmgate.drift.features import (
    COMPARE_METRICS,
    FEATURE_NAMES,
    SET_METRICS,
    BaselineSpread,
    FeatureVector,
    baseline_spread,
    feature_vector,
    input_drift,
    observation,
    paired_shift,
    set_metrics,
    spread_floor,
)
from mmgate.errors import InputError
from mmgate.world import DEFAULT_WORLD, make_world


def _pairs(n=64, d=8, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    return z, z + noise * rng.standard_normal((n, d))


def _labels(n=64, seed=0):
    rng = np.random.default_rng(seed + 1)
    return {"a": rng.integers(0, 4, n)}, {"c": np.arange(n) % 2}


def _obs(value=0.0, **changes):
    out = {f: value for f in FEATURE_NAMES}
    out.update(changes)
    return out


def test_set_metrics_reports_every_metric_and_perfect_retrieval_for_aligned_pairs():
    zi, zt = _pairs()
    factors, confounders = _labels()
    m = set_metrics(zi, zt, factors=factors, confounders=confounders, temperature=0.1)
    assert tuple(m) == SET_METRICS
    assert m["top1"] == 1.0 and m["symmetry_gap"] == 0.0
    assert all(math.isfinite(v) for v in m.values())


def test_set_metrics_sees_a_declared_temperature_far_from_the_fitted_one():
    zi, zt = _pairs()
    factors, confounders = _labels()
    near = set_metrics(zi, zt, factors=factors, confounders=confounders, temperature=0.05)
    far = set_metrics(zi, zt, factors=factors, confounders=confounders, temperature=5.0)
    assert far["log_temperature_ratio"] > near["log_temperature_ratio"] + 2.0


def test_set_metrics_rejects_mismatched_pairs_and_missing_labels():
    zi, zt = _pairs()
    factors, confounders = _labels()
    with pytest.raises(InputError):
        set_metrics(zi, zt[:-1], factors=factors, confounders=confounders, temperature=0.1)
    with pytest.raises(InputError, match="factors"):
        set_metrics(zi, zt, factors={}, confounders=confounders, temperature=0.1)


def test_paired_shift_is_zero_for_the_same_embeddings_and_two_for_opposite_ones():
    z, _ = _pairs()
    assert paired_shift(z, 3.0 * z) == pytest.approx(0.0, abs=1e-12)
    assert paired_shift(z, -z) == pytest.approx(2.0)
    with pytest.raises(InputError, match="same items"):
        paired_shift(z, z[:-1])


def test_input_drift_is_zero_for_the_same_set_and_rises_only_for_the_drifted_modality():
    world = make_world(DEFAULT_WORLD, 0)
    noisy = make_world(DEFAULT_WORLD.replace(noise_image=1.0), 0)
    same = input_drift(world.test.images, world.test.tokens, world.test.images, world.test.tokens)
    assert same == {"input_drift_img": 0.0, "input_drift_txt": 0.0}
    drift = input_drift(world.test.images, world.test.tokens, noisy.test.images, noisy.test.tokens)
    assert drift["input_drift_img"] > 0.2 and drift["input_drift_txt"] == 0.0


def test_observation_flattens_three_groups_and_names_a_missing_metric():
    canary = {m: 0.5 for m in SET_METRICS}
    compare = {m: 0.0 for m in COMPARE_METRICS}
    obs = observation(canary, canary, compare)
    assert tuple(obs) == FEATURE_NAMES
    del compare["pair_audit_suspect"]
    with pytest.raises(InputError, match="pair_audit_suspect"):
        observation(canary, canary, compare)


def test_feature_vector_raw_is_the_delta_and_normalised_divides_by_the_spread():
    spread = baseline_spread([_obs(0.0), _obs(0.2)], [1, 2])
    fv = feature_vector(_obs(1.0), _obs(1.0, **{"canary.top1": 1.5}), spread)
    assert fv.raw["canary.top1"] == pytest.approx(0.5)
    assert spread.std["canary.top1"] == pytest.approx(math.sqrt(0.02))
    assert fv.normalised["canary.top1"] == pytest.approx(0.5 / math.sqrt(0.02))
    assert fv.raw["current.top1"] == 0.0 and fv.normalised["current.top1"] == 0.0


def test_a_zero_spread_is_floored_so_normalised_deltas_stay_finite():
    spread = baseline_spread([_obs(0.0), _obs(0.0)], [1, 2])
    fv = feature_vector(_obs(0.0), _obs(0.0, **{"compare.canary_shift_max": 0.9}), spread)
    assert spread.scale["compare.canary_shift_max"] == spread_floor("compare.canary_shift_max") > 0
    assert math.isfinite(fv.normalised["compare.canary_shift_max"])
    assert fv.normalised["compare.canary_shift_max"] == pytest.approx(0.9 / spread_floor("compare.canary_shift_max"))


def test_baseline_spread_needs_two_complete_repeats():
    with pytest.raises(InputError, match="at least 2"):
        baseline_spread([_obs()], [1])
    incomplete = _obs()
    del incomplete["canary.cca"]
    with pytest.raises(InputError, match="canary.cca"):
        baseline_spread([_obs(), incomplete], [1, 2])


def test_feature_vector_rejects_non_finite_observations():
    spread = baseline_spread([_obs(0.0), _obs(0.1)], [1, 2])
    with pytest.raises(InputError, match="canary.top1"):
        feature_vector(_obs(), _obs(**{"canary.top1": float("nan")}), spread)


def test_feature_vector_and_spread_round_trip_through_json():
    spread = baseline_spread([_obs(0.0), _obs(0.3)], [4, 5])
    fv = feature_vector(_obs(0.1), _obs(0.7), spread)
    again = FeatureVector.from_dict(json.loads(json.dumps(fv.to_dict())))
    assert again == fv
    doc = json.loads(json.dumps(spread.to_dict()))
    assert doc["seeds"] == [4, 5] and set(doc["scale"]) == set(FEATURE_NAMES)
    assert isinstance(spread, BaselineSpread)
