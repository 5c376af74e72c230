"""Symmetric InfoNCE equals a slow per-row reference, is stable, its weights act; L2 backward."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.reference import (
    l2_normalize,
    l2_normalize_backward,
    logsumexp,
    symmetric_infonce,
)


def slow_symmetric_infonce(logits: np.ndarray, w_i2t: float = 1.0, w_t2i: float = 1.0) -> float:
    """Per-row / per-column loops with math.exp on shifted values (reference implementation)."""
    b = logits.shape[0]
    rows = []
    for i in range(b):
        m = max(logits[i, j] for j in range(b))
        lse = m + math.log(sum(math.exp(logits[i, j] - m) for j in range(b)))
        rows.append(lse - logits[i, i])
    cols = []
    for j in range(b):
        m = max(logits[i, j] for i in range(b))
        lse = m + math.log(sum(math.exp(logits[i, j] - m) for i in range(b)))
        cols.append(lse - logits[j, j])
    return 0.5 * (w_i2t * sum(rows) / b + w_t2i * sum(cols) / b)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(2, 9), seed=st.integers(0, 10_000),
       scale=st.sampled_from([0.1, 1.0, 10.0, 50.0]),
       w=st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.sampled_from([0.25, 1.0, 3.0])))
def test_loss_equals_slow_per_row_reference(b, seed, scale, w):
    logits = np.random.default_rng(seed).standard_normal((b, b)) * scale
    got = symmetric_infonce(logits, *w).loss
    assert got == pytest.approx(slow_symmetric_infonce(logits, *w), rel=1e-12, abs=1e-12)


def test_loss_is_finite_for_huge_logits():
    logits = np.array([[1e4, -1e4], [3e3, 2e4]])
    r = symmetric_infonce(logits)
    assert math.isfinite(r.loss) and np.all(np.isfinite(r.dlogits))
    assert r.loss == pytest.approx(slow_symmetric_infonce(logits))


def test_perfect_alignment_has_near_zero_loss_and_uniform_logits_log_b():
    assert symmetric_infonce(np.eye(5) * 100.0).loss < 1e-12
    assert symmetric_infonce(np.zeros((7, 7))).loss == pytest.approx(math.log(7))


def test_directional_weights_change_the_loss_and_its_gradient():
    logits = np.random.default_rng(1).standard_normal((6, 6))
    base = symmetric_infonce(logits)
    only_i2t = symmetric_infonce(logits, 1.0, 0.0)
    assert only_i2t.loss == pytest.approx(0.5 * base.loss_i2t)
    assert not np.allclose(only_i2t.dlogits, base.dlogits)
    assert np.allclose(only_i2t.dlogits.sum(axis=1), 0.0)


def test_logsumexp_matches_naive_on_safe_values_and_survives_large_ones():
    a = np.random.default_rng(2).standard_normal((4, 5))
    assert np.allclose(logsumexp(a, axis=1), np.log(np.exp(a).sum(axis=1)))
    assert logsumexp(np.array([[1000.0, 1000.0]]), axis=1)[0] == pytest.approx(1000.0 + math.log(2))


def test_l2_normalize_gives_unit_rows_and_gain_invariance():
    z = np.random.default_rng(3).standard_normal((8, 5))
    y, _ = l2_normalize(z)
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0)
    assert np.allclose(l2_normalize(7.5 * z)[0], y)


def test_l2_normalize_backward_is_the_jacobian_transpose_product():
    rng = np.random.default_rng(4)
    z, dy = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    y, norm = l2_normalize(z)
    got = l2_normalize_backward(y, norm, dy)
    eps = 1e-6
    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        numeric[idx] = np.sum(dy * (l2_normalize(zp)[0] - l2_normalize(zm)[0])) / (2 * eps)
    assert np.allclose(got, numeric, atol=1e-8)
    assert np.allclose(np.sum(got * y, axis=1), 0.0, atol=1e-10)
