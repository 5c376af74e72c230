from __future__ import annotations

import json

import numpy as np
import pytest

from mmgate.drift.domain_classifier import (
    average_ranks,
    domain_classifier_auc,
    rank_auc,
)
from mmgate.drift.embedding_drift import (
    benjamini_hochberg,
    centroid_shift,
    embedding_drift,
    joint_pair_drift,
    kolmogorov_sf,
    ks_per_dimension,
)
from mmgate.drift.mmd import (
    median_bandwidth,
    mmd2_statistics,
    mmd2_test,
    permutation_splits,
)
from mmgate.errors import ConfigError, InputError


def gaussian_pair(n_ref: int, n_new: int, d: int, seed: int, shift: float = 0.0, dtype=np.float64):
    """Two samples of N(0, I); the new one shifted by ``shift`` along coordinate 0."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_ref, d)).astype(dtype)
    y = rng.standard_normal((n_new, d)).astype(dtype)
    y[:, 0] += dtype(shift)
    return x, y


def naive_unbiased_mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Textbook unbiased MMD²: mean off-diagonal K_xx + mean off-diagonal K_yy - 2 mean K_xy."""
    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1) / (2.0 * bandwidth**2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2.0 * kxy.mean())


# --- MMD² permutation test -------------------------------------------------------------------------

@pytest.mark.parametrize(("n_ref", "n_new", "d", "bandwidth"), [(9, 9, 3, 1.3), (12, 7, 3, 1.3), (6, 15, 3, 1.3),
                                                               (10, 8, 80, 9.0)])
def test_batched_mmd2_equals_a_naive_loop_over_every_split(n_ref, n_new, d, bandwidth):
    # d = 80 takes the kernel's symmetric-product path, d = 3 the augmented-product path
    x, y = gaussian_pair(n_ref, n_new, d, seed=n_ref, shift=0.4)
    x += 5.0
    y += 5.0
    pooled = np.concatenate([x, y])
    splits = permutation_splits(n_ref, n_new, 40, seed=5)
    naive = np.array([naive_unbiased_mmd2(pooled[row], pooled[~row], bandwidth) for row in splits])
    for batch in (None, 1, 7):
        batched = mmd2_statistics(x, y, splits, bandwidth, batch_size=batch)
        np.testing.assert_allclose(batched, naive, rtol=0, atol=1e-10)


def test_mmd2_test_p_value_counts_permutations_at_or_above_the_observed_statistic():
    x, y = gaussian_pair(10, 8, 2, seed=3, shift=0.3)
    result = mmd2_test(x, y, permutations=60, seed=4, bandwidth=0.9)
    pooled = np.concatenate([x, y])
    stats = [naive_unbiased_mmd2(pooled[row], pooled[~row], 0.9) for row in permutation_splits(10, 8, 60, seed=4)]
    assert result.mmd2 == pytest.approx(stats[0], abs=1e-12)
    exceed = sum(s >= stats[0] - 1e-12 for s in stats[1:])
    assert result.p_value == pytest.approx((1 + exceed) / 61)
    assert (result.n_ref, result.n_new, result.permutations, result.bandwidth) == (10, 8, 60, 0.9)


def test_the_observed_split_is_row_zero_and_every_split_keeps_the_group_sizes():
    splits = permutation_splits(7, 5, 30, seed=1)
    assert splits.shape == (31, 12)
    assert splits[0].tolist() == [True] * 7 + [False] * 5
    assert (splits.sum(axis=1) == 7).all()
    assert len({row.tobytes() for row in splits[1:]}) > 25


def test_no_drift_gives_roughly_uniform_permutation_p_values_over_seeds():
    p_values = []
    for seed in range(20):
        x, y = gaussian_pair(40, 40, 3, seed=100 + seed)
        p_values.append(mmd2_test(x, y, permutations=99, seed=seed).p_value)
    p_values = np.array(p_values)
    # 20 draws of a (discrete) uniform: mean within ~2.3 standard errors of 0.5, and at most 4 false
    # alarms at the 5% level (P(>= 5 of 20) is 0.3% under the null)
    assert 0.35 <= p_values.mean() <= 0.65
    assert np.count_nonzero(p_values <= 0.05) <= 4
    assert p_values.min() < 0.3 < p_values.max()


def test_no_drift_at_a_fixed_seed_is_not_significant_and_has_a_small_effect():
    x, y = gaussian_pair(200, 150, 6, seed=11)
    result = mmd2_test(x, y, permutations=199, seed=0)
    assert result.p_value > 0.01
    assert result.relative_mmd < 0.15


def test_a_mean_shift_reaches_the_smallest_possible_p_value_with_a_large_effect():
    x, y = gaussian_pair(80, 80, 4, seed=3, shift=1.5)
    result = mmd2_test(x, y, permutations=99, seed=0)
    assert result.p_value == pytest.approx(1 / 100)
    assert result.mmd2 > 0
    assert result.relative_mmd > 0.3
    assert result.mmd == pytest.approx(np.sqrt(result.mmd2))


def test_disjoint_clouds_have_relative_mmd_near_sqrt_two():
    x, y = gaussian_pair(50, 50, 2, seed=0, shift=100.0)
    result = mmd2_test(x, y, permutations=19, bandwidth=1.0)
    assert result.relative_mmd == pytest.approx(np.sqrt(2.0), rel=0.05)


def test_large_samples_flag_a_tiny_shift_but_every_effect_size_stays_negligible():
    # n = 5000 per side and a 0.06-sd shift of one of 4 coordinates: statistically detectable, but
    # the effect sizes stay below the negligible levels relative_mmd < 0.05, max KS D < 0.06,
    # AUC < 0.55 and centroid effect < 0.1 (Cohen's "negligible" standardised difference)
    x, y = gaussian_pair(5000, 5000, 4, seed=7, shift=0.06, dtype=np.float32)
    mmd = mmd2_test(x, y, permutations=99, seed=0)
    assert mmd.kernel_dtype == "float32"
    assert mmd.p_value <= 0.02
    assert mmd.relative_mmd < 0.05
    ks = ks_per_dimension(x, y)
    assert ks["min_adjusted_p_value"] < 0.05
    assert ks["max_statistic"] < 0.06
    assert domain_classifier_auc(x, y)["auc"] < 0.55
    assert centroid_shift(x, y)["effect_size"] < 0.1


def test_float32_and_float64_kernels_agree_closely():
    x, y = gaussian_pair(300, 250, 8, seed=2, shift=0.2)
    r64 = mmd2_test(x, y, permutations=50, seed=1)
    r32 = mmd2_test(x.astype(np.float32), y.astype(np.float32), permutations=50, seed=1)
    assert (r64.kernel_dtype, r32.kernel_dtype) == ("float64", "float32")
    assert r32.mmd2 == pytest.approx(r64.mmd2, rel=1e-4, abs=1e-7)
    assert r32.p_value == r64.p_value


def test_mmd_result_to_dict_is_json_ready():
    x, y = gaussian_pair(20, 20, 3, seed=0)
    as_dict = mmd2_test(x, y, permutations=9).to_dict()
    assert set(as_dict) == {"mmd2", "p_value", "mmd", "relative_mmd", "bandwidth", "n_ref", "n_new", "permutations",
                            "kernel_dtype"}
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict


# --- bandwidth -------------------------------------------------------------------------------------

def test_median_bandwidth_is_sqrt_of_half_the_median_squared_distance():
    x, y = gaussian_pair(8, 7, 3, seed=4)
    pooled = np.concatenate([x, y])
    sq = [float(((pooled[i] - pooled[j]) ** 2).sum()) for i in range(15) for j in range(i + 1, 15)]
    assert median_bandwidth(x, y, seed=0) == pytest.approx(np.sqrt(np.median(sq) / 2.0), rel=1e-12)


def test_median_bandwidth_subsample_is_seeded():
    x, y = gaussian_pair(300, 300, 5, seed=1)
    assert median_bandwidth(x, y, seed=3, subsample=50) == median_bandwidth(x, y, seed=3, subsample=50)
    assert median_bandwidth(x, y, seed=3, subsample=50) != median_bandwidth(x, y, seed=4, subsample=50)


def test_median_bandwidth_is_never_zero():
    same = np.ones((6, 3))
    assert median_bandwidth(same, same) == 1.0
    mostly_duplicates = np.zeros((10, 2))
    mostly_duplicates[0] = [2.0, 0.0]
    assert median_bandwidth(mostly_duplicates, np.zeros((6, 2))) == pytest.approx(np.sqrt(4.0 / 2.0))


# --- centroid shift --------------------------------------------------------------------------------

def test_centroid_shift_hand_worked_example():
    ref = np.array([[1.0, 0.0], [0.0, 1.0]] * 3)
    new = np.array([[2.0, 0.0]] * 5)
    out = centroid_shift(ref, new)
    # centroids (0.5, 0.5) and (1, 0); reference spread sqrt(mean ||u - c||²) = sqrt(0.5)
    assert out["shift"] == pytest.approx(np.sqrt(0.5))
    assert out["ref_spread"] == pytest.approx(np.sqrt(0.5))
    assert out["effect_size"] == pytest.approx(1.0)
    assert out["cosine"] == pytest.approx(np.sqrt(0.5))
    assert out["new_centroid_norm"] == pytest.approx(1.0)


def test_centroid_shift_ignores_row_scale():
    x, y = gaussian_pair(30, 20, 4, seed=0, shift=0.5)
    scaled = centroid_shift(x * 7.0, y * 0.01)
    plain = centroid_shift(x, y)
    assert scaled == pytest.approx(plain)


# --- Kolmogorov-Smirnov and Benjamini-Hochberg -----------------------------------------------------

def test_kolmogorov_survival_function_matches_textbook_critical_values():
    assert float(kolmogorov_sf(1.36)) == pytest.approx(0.05, abs=1e-3)
    assert float(kolmogorov_sf(1.63)) == pytest.approx(0.01, abs=3e-4)
    assert float(kolmogorov_sf(1.2238)) == pytest.approx(0.10, abs=1e-4)
    assert float(kolmogorov_sf(1.0)) == pytest.approx(0.2700, abs=1e-4)
    np.testing.assert_allclose(kolmogorov_sf([0.0, 0.1, 10.0]), [1.0, 1.0, 0.0], atol=1e-12)


def test_kolmogorov_survival_function_branches_agree_at_the_switch():
    below, above = kolmogorov_sf([1.18 - 1e-9, 1.18])
    assert below == pytest.approx(above, abs=1e-8)
    grid = np.linspace(0.2, 3.0, 200)
    assert np.all(np.diff(kolmogorov_sf(grid)) < 0)


def test_benjamini_hochberg_hand_worked_example():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    adjusted, rejected = benjamini_hochberg(np.array(p)[::-1], alpha=0.05)
    expected = [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.74 / 7, 0.216, 0.216, 0.216]
    np.testing.assert_allclose(adjusted[::-1], expected, rtol=1e-12)
    assert rejected[::-1].tolist() == [True, True] + [False] * 8


def test_ks_statistic_handles_ties_and_matches_hand_values():
    ref = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 1.0], [5.0, 1.0]])
    new = np.array([[3.0, 0.0], [4.0, 1.0], [5.0, 1.0], [6.0, 1.0], [7.0, 1.0]])
    out = ks_per_dimension(ref, new)
    # column 0: F_ref(2) - F_new(2) = 0.4; column 1 (ties): F_ref(0) - F_new(0) = 0.4 - 0.2
    np.testing.assert_allclose(out["statistics"], [0.4, 0.2])
    n_e = 2.5
    lam = (np.sqrt(n_e) + 0.12 + 0.11 / np.sqrt(n_e)) * 0.4
    assert out["p_values"][0] == pytest.approx(float(kolmogorov_sf(lam)))
    assert out["max_statistic"] == pytest.approx(0.4) and out["max_dimension"] == 0


def test_ks_flags_only_the_shifted_dimension():
    x, y = gaussian_pair(400, 300, 6, seed=5, shift=0.8)
    out = ks_per_dimension(x, y, alpha=0.05)
    assert out["rejected_dimensions"] == [0]
    assert out["n_rejected"] == 1 and out["fraction_rejected"] == pytest.approx(1 / 6)
    assert out["max_dimension"] == 0


def test_ks_rejects_nothing_without_drift():
    x, y = gaussian_pair(300, 300, 10, seed=9)
    assert ks_per_dimension(x, y)["n_rejected"] == 0


# --- domain classifier -----------------------------------------------------------------------------

def test_rank_auc_hand_values_with_ties():
    assert rank_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert rank_auc([1.0, 1.0, 1.0, 1.0], [True, False, True, False]) == pytest.approx(0.5)
    np.testing.assert_allclose(average_ranks([3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0])


def test_domain_classifier_is_near_chance_without_drift():
    x, y = gaussian_pair(150, 150, 4, seed=12)
    out = domain_classifier_auc(x, y, seed=0)
    assert abs(out["auc"] - 0.5) < 0.1
    assert len(out["fold_aucs"]) == 5


def test_domain_classifier_separates_distant_clouds():
    x, y = gaussian_pair(100, 80, 4, seed=1, shift=6.0)
    out = domain_classifier_auc(x, y, seed=0)
    assert out["auc"] > 0.99
    assert out["advantage"] > 0.98


# --- combined report, determinism, input validation ------------------------------------------------

def test_embedding_drift_is_deterministic_and_json_ready():
    x, y = gaussian_pair(60, 50, 5, seed=3, shift=0.3)
    first = embedding_drift(x, y, seed=2, permutations=49)
    assert embedding_drift(x, y, seed=2, permutations=49) == first
    assert json.loads(json.dumps(first, allow_nan=False)) == first
    assert set(first) == {"n_ref", "n_new", "dim", "centroid", "mmd", "ks", "classifier"}
    assert first["mmd"]["permutations"] == 49


def flat(report: dict, prefix: str = "") -> dict[str, object]:
    """Nested report as {"a.b": leaf}."""
    out: dict[str, object] = {}
    for key, value in report.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_embedding_drift_sees_only_the_direction_of_rows():
    x, y = gaussian_pair(40, 40, 4, seed=6, shift=0.5)
    scaled = flat(embedding_drift(x * np.linspace(1, 9, 40)[:, None], y * 3.0, seed=0, permutations=19))
    plain = flat(embedding_drift(x, y, seed=0, permutations=19))
    assert scaled.keys() == plain.keys()
    for key, value in plain.items():
        expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-9, abs=1e-12)
        assert scaled[key] == expected, key


def test_joint_pair_drift_sees_broken_pairing_that_neither_modality_shows():
    rng = np.random.default_rng(0)
    ref_img, new_img = rng.standard_normal((150, 4)), rng.standard_normal((150, 4))
    ref_txt, new_txt = ref_img[:, :3], new_img[rng.permutation(150), :3]
    out = joint_pair_drift(ref_img, ref_txt, new_img, new_txt, permutations=99)
    assert set(out) == {"image", "text", "joint"}
    assert (out["image"]["dim"], out["text"]["dim"], out["joint"]["dim"]) == (4, 3, 7)
    assert out["image"]["mmd"]["p_value"] > 0.05
    assert out["text"]["mmd"]["p_value"] > 0.05
    assert out["joint"]["mmd"]["p_value"] <= 0.05
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize(("ref", "new", "match"), [
    (np.zeros(6), np.ones((6, 2)), "ref must be 2-D"),
    (np.ones((6, 2)), np.full((6, 2), np.nan), "new contains non-finite"),
    (np.ones((3, 2)), np.ones((6, 2)), "ref needs at least 5 rows"),
    (np.ones((6, 2)), np.ones((6, 3)), "dimension mismatch"),
    (np.ones((6, 2)), np.array([["a", "b"]] * 6), "new must hold real numbers"),
])
def test_bad_samples_raise_input_errors_naming_the_argument(ref, new, match):
    for fn in (centroid_shift, mmd2_test, ks_per_dimension, domain_classifier_auc, embedding_drift):
        with pytest.raises(InputError, match=match):
            fn(ref, new)


def test_zero_rows_are_rejected_where_rows_are_normalised():
    ref, new = np.ones((6, 2)), np.ones((6, 2))
    new[2] = 0.0
    with pytest.raises(InputError, match="new has 1 zero-norm rows"):
        embedding_drift(ref, new)


def test_bad_settings_raise_config_errors():
    x, y = gaussian_pair(10, 10, 2, seed=0)
    with pytest.raises(ConfigError, match="permutations"):
        mmd2_test(x, y, permutations=0)
    with pytest.raises(ConfigError, match="bandwidth"):
        mmd2_test(x, y, bandwidth=0.0)
    with pytest.raises(ConfigError, match="alpha"):
        ks_per_dimension(x, y, alpha=1.5)
    with pytest.raises(ConfigError, match="l2"):
        domain_classifier_auc(x, y, l2=-1.0)
    with pytest.raises(InputError, match="folds=11"):
        domain_classifier_auc(x, y, folds=11)


def test_bad_splits_and_pairs_raise_input_errors():
    x, y = gaussian_pair(6, 6, 2, seed=0)
    with pytest.raises(InputError, match="exactly n_ref=6"):
        mmd2_statistics(x, y, np.ones((2, 12), dtype=bool), 1.0)
    with pytest.raises(InputError, match="12 columns"):
        mmd2_statistics(x, y, np.ones((2, 5), dtype=bool), 1.0)
    with pytest.raises(InputError, match="ref_img has N=6 rows but ref_txt has N=7"):
        joint_pair_drift(x, np.ones((7, 2)), x, y)
    with pytest.raises(InputError, match="p_values"):
        benjamini_hochberg([0.1, np.nan])
