"""Probes: binned MI against a loop reference, its permutation null (noise gives excess near 0,
encoded labels a large excess), and the ridge CCA proxy against a QR-based reference."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel import probes
from mmgate.panel.probes import MIProbe, cca_proxy, mi_proxy, quantile_bins

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
