"""Histogram divergences: shared edges, clipped histograms, JSD (bits, bounded) and smoothed KL (bits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.drift.divergence import (
    histogram,
    js_divergence,
    kl_divergence,
    shared_edges,
)
from mmgate.errors import ConfigError, InputError

counts = st.lists(st.integers(0, 20), min_size=1, max_size=8)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def count_pairs(draw):
    p = draw(counts.filter(lambda c: sum(c) > 0))
    q = draw(st.lists(st.integers(0, 20), min_size=len(p), max_size=len(p)).filter(lambda c: sum(c) > 0))
    return p, q


def _naive_jsd(p, q):
    p, q = np.asarray(p, float) / sum(p), np.asarray(q, float) / sum(q)
    m = (p + q) / 2

    def kl(a, b):
        live = a > 0
        return float((a[live] * np.log2(a[live] / b[live])).sum())

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def test_js_divergence_is_zero_for_identical_and_one_for_disjoint_histograms():
    assert js_divergence([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    assert js_divergence([1, 0, 0], [0, 2, 3]) == 1.0


def test_js_divergence_matches_the_definition_in_bits():
    assert js_divergence([0.4, 0.6], [0.8, 0.2]) == pytest.approx(_naive_jsd([0.4, 0.6], [0.8, 0.2]), abs=1e-12)
    assert js_divergence([0.4, 0.6], [0.8, 0.2]) == pytest.approx(0.1245112498, abs=1e-9)


def test_js_divergence_normalises_counts():
    assert js_divergence([2, 3, 5], [4, 6, 10]) == 0.0
    assert js_divergence([40, 60], [8, 2]) == pytest.approx(js_divergence([0.4, 0.6], [0.8, 0.2]), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(count_pairs())
def test_js_divergence_is_symmetric_bounded_and_zero_iff_histograms_are_equal(pair):
    p, q = pair
    d = js_divergence(p, q)
    assert d == js_divergence(q, p)
    assert 0.0 <= d <= 1.0
    equal = all(a * sum(q) == b * sum(p) for a, b in zip(p, q))
    assert (d == 0.0) == equal
    assert d == pytest.approx(_naive_jsd(p, q), abs=1e-12)


def test_kl_divergence_is_in_bits_from_reference_to_new():
    assert kl_divergence([0.4, 0.6], [0.8, 0.2]) == pytest.approx(
        (0.4 * math.log(0.5) + 0.6 * math.log(3.0)) / math.log(2), rel=1e-5)
    assert kl_divergence([0.4, 0.6], [0.8, 0.2]) != pytest.approx(kl_divergence([0.8, 0.2], [0.4, 0.6]))


def test_kl_divergence_is_zero_for_identical_histograms_and_finite_for_disjoint_ones():
    assert kl_divergence([1, 2, 3], [1, 2, 3]) == 0.0
    assert 15 < kl_divergence([1, 0], [0, 1]) < 25


def test_kl_divergence_without_smoothing_rejects_an_infinite_divergence():
    assert kl_divergence([0.5, 0.5, 0.0], [0.25, 0.25, 0.5], smoothing=0) == pytest.approx(1.0)
    with pytest.raises(InputError, match="infinite"):
        kl_divergence([1, 0], [0, 1], smoothing=0)


@pytest.mark.parametrize("smoothing", [-1e-6, float("nan"), float("inf"), True, "0.1"])
def test_kl_divergence_rejects_bad_smoothing(smoothing):
    with pytest.raises(ConfigError, match="smoothing"):
        kl_divergence([1, 2], [2, 1], smoothing=smoothing)


@pytest.mark.parametrize(("p", "q", "match"), [
    ([1, -1], [1, 1], "p must be non-negative"),
    ([1, 1], [0, 0], "q must have positive total mass"),
    ([1, 1], [1, 1, 1], "same number of bins"),
    ([[1, 1]], [[1, 1]], "p must be 1-D"),
    ([1, float("nan")], [1, 1], "p contains non-finite"),
    ([], [], "p must not be empty"),
    (["a"], ["b"], "p must hold real numbers"),
])
def test_divergences_name_the_bad_argument(p, q, match):
    for divergence in (js_divergence, kl_divergence):
        with pytest.raises(InputError, match=match):
            divergence(p, q)


def test_shared_edges_span_every_sample():
    edges = shared_edges([1.0, 2.0], [5.0, 9.0], bins=4)
    np.testing.assert_allclose(edges, [1.0, 3.0, 5.0, 7.0, 9.0])


def test_shared_edges_of_constant_samples_are_strictly_increasing():
    for value in (0.0, 7.0, 1e200, -3e-300):
        edges = shared_edges([value, value], [value], bins=5)
        assert (np.diff(edges) > 0).all()
        assert edges[0] <= value <= edges[-1]


def test_histogram_counts_values_outside_the_edges_in_the_outer_bins():
    np.testing.assert_allclose(histogram([-100.0, 0.5, 1.5, 2.5, 100.0], [0.0, 1.0, 2.0, 3.0]), [0.4, 0.2, 0.4])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(finite, min_size=1, max_size=30), min_size=1, max_size=3), st.integers(1, 20))
def test_histograms_on_shared_edges_are_probabilities_over_all_bins(samples, bins):
    edges = shared_edges(*samples, bins=bins)
    assert edges.size == bins + 1 and (np.diff(edges) > 0).all()
    for sample in samples:
        assert edges[0] <= min(sample) and max(sample) <= edges[-1]
        h = histogram(sample, edges)
        assert h.shape == (bins,) and (h >= 0).all()
        assert h.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("bins", [0, -1, 2.5, True, None])
def test_shared_edges_reject_a_bad_bin_count(bins):
    with pytest.raises(ConfigError, match="bins"):
        shared_edges([1.0, 2.0], bins=bins)


def test_shared_edges_and_histogram_name_the_bad_input():
    with pytest.raises(InputError, match=r"samples\[1\] contains non-finite"):
        shared_edges([1.0], [float("nan")])
    with pytest.raises(InputError, match="at least one sample"):
        shared_edges()
    with pytest.raises(InputError, match="edges must be at least 2 strictly increasing"):
        histogram([1.0], [0.0, 0.0, 1.0])
    with pytest.raises(InputError, match="values must not be empty"):
        histogram([], [0.0, 1.0])
