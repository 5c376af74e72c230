"""Probes: binned MI against a loop reference, its permutation null (noise gives excess near 0,
encoded labels a large excess), the ridge CCA proxy against a QR-based reference, and the shared-
whitening permutation null against the former per-pairing formula."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel import probes
from mmgate.panel.probes import MIProbe, cca_proxies, cca_proxy, mi_proxy, quantile_bins
from tests.panel.memory import half_a_score_matrix, peak_traced_bytes

N = 402  # N - 1 is prime: no quantile edge falls exactly on a sample, so sign flips cannot move one


def _orthogonal(seed: int, d: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _loop_mi(z: np.ndarray, labels: np.ndarray, bins: int, dims: int) -> float:
    """Independent slow path: SVD principal components, digitize, joint counts by double loop."""
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    x = u - u.mean(axis=0)
    pcs = x @ np.linalg.svd(x, full_matrices=False)[2][:dims].T
    values = np.unique(labels)
    p = np.array([np.mean(labels == v) for v in values])
    h = -np.sum(p * np.log(p))
    out = []
    for j in range(dims):
        edges = np.quantile(pcs[:, j], np.linspace(0, 1, bins + 1))
        b = np.digitize(pcs[:, j], edges[1:-1])
        joint = np.zeros((bins, len(values)))
        for bi in range(bins):
            for vi, v in enumerate(values):
                joint[bi, vi] = np.sum((b == bi) & (labels == v))
        pxy = joint / len(labels)
        px, py = pxy.sum(axis=1, keepdims=True), pxy.sum(axis=0, keepdims=True)
        mask = pxy > 0
        out.append(np.sum(pxy[mask] * np.log(pxy[mask] / (px @ py)[mask])) / h)
    return float(np.mean(out))


def _encoded(seed: int, n: int = N, d: int = 12, strength: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    z = rng.standard_normal((n, d)) * np.linspace(2.0, 0.5, d)
    z[:, 0] += strength * labels
    return z @ _orthogonal(seed, d), labels


def test_mi_value_matches_a_loop_reference():
    z, labels = _encoded(0, strength=0.7)
    for bins, dims in ((10, 10), (4, 3), (7, 12)):
        expected = _loop_mi(z, labels, bins, dims)
        assert mi_proxy(z, labels, bins=bins, dims=dims).value == pytest.approx(expected, abs=1e-12)


def test_quantile_bins_are_equal_frequency_and_keep_equal_values_together():
    x = np.arange(100.0)[:, None]
    assert np.bincount(quantile_bins(x, 10)[:, 0]).tolist() == [10] * 10
    tied = quantile_bins(np.repeat([[1.0], [2.0]], 50, axis=0), 4)[:, 0]
    assert len(np.unique(tied[:50])) == 1 and len(np.unique(tied[50:])) == 1


def test_random_embeddings_have_positive_mi_but_no_excess_over_the_null():
    rng = np.random.default_rng(1)
    probe = mi_proxy(rng.standard_normal((256, 16)), rng.integers(0, 3, 256), n_null=200, seed=3)
    assert probe.value > 0.02
    assert abs(probe.excess) < 0.015
    assert probe.null_p95 > probe.null_mean


def test_embeddings_that_encode_the_label_have_a_large_excess():
    z, labels = _encoded(2)
    probe = mi_proxy(z, labels, n_null=50)
    assert probe.excess > 0.05
    assert probe.excess > 10 * (probe.null_p95 - probe.null_mean)
    assert mi_proxy(z, labels, dims=1, n_null=50).excess > 0.3


def test_the_null_is_seeded_and_independent_of_the_permutation_chunking(monkeypatch):
    z, labels = _encoded(3, strength=0.3)
    a = mi_proxy(z, labels, n_null=30, seed=7)
    assert a == mi_proxy(z, labels, n_null=30, seed=7)
    assert a.null_mean != mi_proxy(z, labels, n_null=30, seed=8).null_mean
    monkeypatch.setattr(probes, "_CODES_PER_CHUNK", 1)
    assert mi_proxy(z, labels, n_null=30, seed=7) == a


def test_without_a_null_the_null_fields_are_nan_and_settings_are_recorded():
    z, labels = _encoded(4, d=3)
    probe = mi_proxy(z, labels, bins=5, dims=10)
    assert isinstance(probe, MIProbe)
    assert np.isnan(probe.null_mean) and np.isnan(probe.null_p95) and np.isnan(probe.excess)
    assert (probe.bins, probe.dims, probe.n_null) == (5, 3, 0)


def test_mi_is_invariant_to_rotation_and_row_scaling():
    z, labels = _encoded(5, strength=1.0)
    base = mi_proxy(z, labels).value
    assert mi_proxy(z @ _orthogonal(9, z.shape[1]), labels).value == pytest.approx(base, abs=1e-12)
    scale = np.random.default_rng(5).uniform(0.01, 100.0, (N, 1))
    assert mi_proxy(z * scale, labels).value == pytest.approx(base, abs=1e-12)


def test_string_labels_work_like_integer_codes():
    z, labels = _encoded(6)
    names = np.array(["circle", "square", "star", "wave"])[labels]
    assert mi_proxy(z, names).value == mi_proxy(z, labels).value


@pytest.mark.parametrize(("labels", "error", "words"), [
    (np.zeros(N, dtype=int), InputError, "labels take a single value"),
    (np.arange(N - 1), InputError, r"one label per row \(N=402\)"),
    (np.full(N, np.nan), InputError, "labels contain non-finite values"),
    (np.array([object()] * N), InputError, "labels must be integers, bools or strings"),
])
def test_bad_labels_raise_naming_the_problem(labels, error, words):
    z, _ = _encoded(7)
    with pytest.raises(error, match=words):
        mi_proxy(z, labels)


@pytest.mark.parametrize(("kwargs", "words"), [({"bins": 1}, "bins must be an integer >= 2"),
                                               ({"dims": 0}, "dims must be an integer >= 1"),
                                               ({"n_null": -1}, "n_null must be an integer >= 0")])
def test_bad_mi_settings_raise_config_error(kwargs, words):
    z, labels = _encoded(8)
    with pytest.raises(ConfigError, match=words):
        mi_proxy(z, labels, **kwargs)


def _qr_canonical_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ux = x / np.linalg.norm(x, axis=1, keepdims=True)
    uy = y / np.linalg.norm(y, axis=1, keepdims=True)
    qx, _ = np.linalg.qr(ux - ux.mean(axis=0))
    qy, _ = np.linalg.qr(uy - uy.mean(axis=0))
    return np.linalg.svd(qx.T @ qy, compute_uv=False)


def test_cca_proxy_matches_a_qr_reference_with_a_vanishing_ridge():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((300, 6))
    y = np.hstack([x[:, :3] + 0.5 * rng.standard_normal((300, 3)), rng.standard_normal((300, 2))])
    expected = _qr_canonical_correlations(x, y)
    for k in (1, 3, 5):
        assert cca_proxy(x, y, topk=k, ridge=1e-10) == pytest.approx(np.mean(expected[:k]), abs=1e-6)


def test_cca_proxy_is_near_one_for_one_modality_and_small_for_independent_ones():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4000, 8))
    assert 0.998 < cca_proxy(x, x @ _orthogonal(1, 8), topk=8) < 1.0
    assert cca_proxy(x, rng.standard_normal((4000, 8)), topk=3) < 0.1


def test_cca_proxy_rejects_topk_above_the_smaller_dimension_and_bad_ridge():
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((50, 6)), rng.standard_normal((50, 4))
    with pytest.raises(InputError, match=r"topk=5 exceeds the smaller embedding dimension min\(d_img, d_txt\)=4"):
        cca_proxy(x, y, topk=5)
    with pytest.raises(ConfigError, match="ridge must be a finite number > 0"):
        cca_proxy(x, y, topk=2, ridge=0.0)
    with pytest.raises(InputError, match="shape mismatch"):
        cca_proxy(x, y[:40], topk=2)


def _former_inverse_sqrt(cov: np.ndarray, ridge: float) -> np.ndarray:
    lam, vectors = np.linalg.eigh(cov)
    shift = ridge * max(float(np.trace(cov)) / cov.shape[0], np.finfo(np.float64).tiny)
    return (vectors / np.sqrt(np.clip(lam, 0.0, None) + shift)) @ vectors.T


def _former_cca_proxy(zi: np.ndarray, zt: np.ndarray, topk: int, ridge: float = 1e-3) -> float:
    """The former formula, a slow reference: two d x d inverse square roots and a d x d SVD per call."""
    x = zi / np.linalg.norm(zi, axis=1, keepdims=True)
    y = zt / np.linalg.norm(zt, axis=1, keepdims=True)
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    n = x.shape[0]
    cross = _former_inverse_sqrt(x.T @ x / n, ridge) @ (x.T @ y / n) @ _former_inverse_sqrt(y.T @ y / n, ridge)
    return float(np.mean(np.linalg.svd(cross, compute_uv=False)[:topk]))


def _related(seed: int, n: int, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, dx)) * rng.uniform(0.2, 3.0, dx) + 0.3
    shared = min(dx, dy) // 2
    zt = np.hstack([zi[:, :shared], rng.standard_normal((n, dy - shared))]) + 0.5 * rng.standard_normal((n, dy))
    return zi, zt


@pytest.mark.parametrize(("n", "dx", "dy", "topk", "ridge"), [
    (60, 8, 5, 3, 1e-3), (500, 64, 48, 10, 1e-3), (300, 6, 5, 5, 1e-10),  # N > d: d x d Gram side
    (20, 30, 25, 10, 1e-3), (41, 40, 39, 10, 1e-2), (40, 40, 40, 10, 1e-3),  # N <= d: N x N Gram side
    (6, 10, 12, 8, 1e-3),  # topk beyond the rank N - 1: exact zeros
    (45, 50, 30, 10, 1e-3), (45, 30, 50, 10, 1e-3),  # one modality on each side
])
def test_cca_proxies_match_the_former_per_pairing_formula(n, dx, dy, topk, ridge):
    """Whitening once per modality changes no value beyond rounding: tolerance 1e-12 absolute
    (measured: 3e-14 where the former SVD returns rounding noise for exact zeros, 1e-15 elsewhere)."""
    zi, zt = _related(n + dx, n, dx, dy)
    rng = np.random.default_rng(n)
    orders = [np.arange(n)] + [rng.permutation(n) for _ in range(5)]
    expected = [_former_cca_proxy(zi, zt[order], topk, ridge) for order in orders]
    np.testing.assert_allclose(cca_proxies(zi, zt, orders, topk=topk, ridge=ridge), expected, rtol=0, atol=1e-12)


def test_cca_proxy_is_the_identity_order_and_a_permuted_order_is_a_permuted_input():
    zi, zt = _related(20, 80, 7, 9)
    order = np.random.default_rng(20).permutation(80)
    values = cca_proxies(zi, zt, iter([np.arange(80), order]), topk=4)
    assert values[0] == cca_proxy(zi, zt, topk=4)
    assert values[1] == pytest.approx(cca_proxy(zi, zt[order], topk=4), abs=1e-14)
    assert values.shape == (2,) and values.dtype == np.float64
    assert cca_proxies(zi, zt, [], topk=4).shape == (0,)


def test_the_cross_product_gives_the_same_values_for_any_row_block(monkeypatch):
    zi, zt = _related(21, 120, 10, 6)
    orders = [np.random.default_rng(s).permutation(120) for s in range(3)]
    whole = cca_proxies(zi, zt, orders, topk=5)
    monkeypatch.setattr(probes, "_CROSS_BLOCK_BYTES", 1)
    np.testing.assert_allclose(cca_proxies(zi, zt, orders, topk=5), whole, rtol=0, atol=1e-14)


def test_the_cca_null_never_builds_an_n_by_n_array():
    n = 6000
    zi, zt = _related(22, n, 32, 24)
    orders = [np.arange(n), np.random.default_rng(22).permutation(n)]
    assert peak_traced_bytes(lambda: cca_proxies(zi, zt, orders, topk=10)) < half_a_score_matrix(n)


def test_the_cca_null_holds_no_float64_copy_of_a_modality_when_n_exceeds_d(monkeypatch):
    """Above d rows the covariance side reads its unit rows block by block: the peak stays under one
    float64 copy of a modality (here a quarter of it), whatever the number of orders."""
    n, d = 20000, 32
    zi, zt = _related(25, n, d, d)
    monkeypatch.setattr(probes, "_CROSS_BLOCK_BYTES", 1 << 16)
    orders = [np.arange(n)] + [np.random.default_rng(s).permutation(n) for s in range(3)]
    assert peak_traced_bytes(lambda: cca_proxies(zi, zt, orders, topk=10)) < n * d * 8 // 4


@pytest.mark.parametrize("n", [30, 300])
def test_a_zero_row_raises_with_its_index_on_both_whitening_sides(n):
    zi, zt = _related(26, n, 40, 40)
    zt[n - 3] = 0.0
    with pytest.raises(InputError, match=rf"z_txt has 1 zero-norm rows \(first: row {n - 3}\)"):
        cca_proxies(zi, zt, [np.arange(n)], topk=2)


@pytest.mark.parametrize("order", [np.arange(49), np.zeros(50, dtype=int), np.arange(50.0), np.arange(50)[None, :],
                                   np.arange(1, 51)])
def test_orders_that_are_not_permutations_raise_naming_the_order(order):
    zi, zt = _related(23, 50, 4, 4)
    with pytest.raises(InputError, match=r"orders must be permutations of the N=50 row indices; order 1 "):
        cca_proxies(zi, zt, [np.arange(50), order], topk=2)


def test_cca_proxies_validate_like_cca_proxy():
    zi, zt = _related(24, 50, 6, 4)
    with pytest.raises(InputError, match=r"topk=5 exceeds the smaller embedding dimension"):
        cca_proxies(zi, zt, [np.arange(50)], topk=5)
    with pytest.raises(ConfigError, match="ridge must be a finite number > 0"):
        cca_proxies(zi, zt, [np.arange(50)], topk=2, ridge=-1.0)
    with pytest.raises(InputError, match="shape mismatch"):
        cca_proxies(zi, zt[:40], [np.arange(50)], topk=2)
