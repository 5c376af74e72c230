"""Hubness: Gini against the O(n^2) pairwise formula, k-occurrence against an argsort reference,
each measure against its definition, a planted hub, block-size independence and a memory bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import InputError
from mmgate.panel import blocks
from mmgate.panel.hubness import gini, hubness, occurrence_counts, occurrence_summary
from tests.panel.memory import half_a_score_matrix, peak_traced_bytes

MEASURES = ("top1_concentration", "top1_max_share", "skewness", "gini", "robin_hood", "hub_share",
            "hub_occurrence", "antihub_share")


def _pairwise_gini(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    return sum(abs(a - b) for a in x for b in x) / (2.0 * n * n * x.mean())


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.linalg.norm(z, axis=1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=40).filter(lambda v: sum(v) > 0))
def test_gini_matches_the_pairwise_definition(values):
    assert gini(np.array(values)) == pytest.approx(_pairwise_gini(np.array(values)), abs=1e-12)


def test_gini_of_equal_values_is_zero_and_of_one_holder_is_n_minus_one_over_n():
    assert gini(np.full(7, 3)) == 0.0
    assert gini(np.array([0, 0, 0, 9])) == pytest.approx(0.75)
    assert gini(np.zeros(4)) == 0.0


def test_occurrence_counts_match_an_argsort_reference():
    rng = np.random.default_rng(0)
    q, t = _unit(rng.standard_normal((50, 6))), _unit(rng.standard_normal((50, 6)))
    scores = q @ t.T
    order = np.argsort(-scores, axis=1)
    for k in (1, 3, 50):
        top1, k_occ = occurrence_counts(q, t, k, block=7)
        np.testing.assert_array_equal(top1, np.bincount(order[:, 0], minlength=50))
        np.testing.assert_array_equal(k_occ, np.bincount(order[:, :k].ravel(), minlength=50))


@pytest.mark.parametrize("budget", [1, 50 * 16 * 3, blocks.BLOCK_BYTES])
def test_occurrence_counts_are_the_unblocked_counts_for_every_block_and_budget(monkeypatch, budget):
    """Whatever block the caller asks for (1 row up to all of them) and however small the budget
    (down to one row per block), the counts are those of the whole score matrix at once."""
    rng = np.random.default_rng(7)
    q, t = _unit(rng.standard_normal((50, 6))), _unit(rng.standard_normal((50, 6)))
    scores = q @ t.T
    full_top1 = np.bincount(scores.argmax(axis=1), minlength=50)
    full_k_occ = np.bincount(np.argpartition(scores, 50 - 4, axis=1)[:, 50 - 4:].ravel(), minlength=50)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", budget)
    for block in (1, 7, 50, 10_000):
        top1, k_occ = occurrence_counts(q, t, 4, block)
        np.testing.assert_array_equal(top1, full_top1)
        np.testing.assert_array_equal(k_occ, full_k_occ)


def test_a_whole_matrix_block_never_builds_an_n_by_n_array():
    """The plot snapshot passes block = N; the budget caps it, so N=6000 peaks far below one N x N
    float32 score matrix (144 MB; with argpartition's indices a whole block would be 432 MB)."""
    n, k = 6000, 10
    rng = np.random.default_rng(8)
    q = _unit(rng.standard_normal((n, 32))).astype(np.float32)
    t = _unit(rng.standard_normal((n, 32))).astype(np.float32)
    result: list[tuple[np.ndarray, np.ndarray]] = []
    assert peak_traced_bytes(lambda: result.append(occurrence_counts(q, t, k, n))) < half_a_score_matrix(n)
    top1, k_occ = result[0]
    assert top1.sum() == n and k_occ.sum() == n * k


def test_summary_measures_follow_their_definitions():
    k_occ = np.array([0, 0, 1, 2, 5, 12])
    top1 = np.array([0, 0, 0, 1, 1, 4])
    k = 3
    got = occurrence_summary(top1, k_occ, k)
    centred = k_occ - k
    p = np.array([1, 1, 4]) / 6
    assert got["top1_concentration"] == pytest.approx(1 + np.sum(p * np.log(p)) / np.log(6))
    assert got["top1_max_share"] == pytest.approx(4 / 6)
    assert got["skewness"] == pytest.approx(np.mean(centred ** 3) / np.mean(centred ** 2) ** 1.5)
    assert got["gini"] == pytest.approx(_pairwise_gini(k_occ))
    assert got["robin_hood"] == pytest.approx(np.abs(centred).sum() / (2 * 20))
    assert got["hub_share"] == pytest.approx(1 / 6)
    assert got["hub_occurrence"] == pytest.approx(12 / 20)
    assert got["antihub_share"] == pytest.approx(2 / 6)


def test_perfect_one_to_one_retrieval_has_no_hubness():
    z = np.random.default_rng(1).standard_normal((40, 8))
    got = hubness(z, z, k=1)
    assert got["i2t_top1_concentration"] == pytest.approx(0.0, abs=1e-12)
    assert got["t2i_gini"] == 0.0 and got["i2t_skewness"] == 0.0 and got["i2t_antihub_share"] == 0.0


def test_a_planted_hub_text_attracts_every_image():
    rng = np.random.default_rng(2)
    zi = rng.standard_normal((60, 6)) + [20.0, 0, 0, 0, 0, 0]
    zt = rng.standard_normal((60, 6))
    zt[17] = [1.0, 0, 0, 0, 0, 0]
    got = hubness(zi, zt, k=5)
    assert got["i2t_top1_max_share"] == 1.0
    assert got["i2t_top1_concentration"] == pytest.approx(1.0)
    assert got["i2t_hub_share"] >= 1 / 60 and got["i2t_skewness"] > 2.0
    assert got["i2t_gini"] > got["t2i_gini"]


def test_hubness_reports_both_directions_and_k():
    rng = np.random.default_rng(3)
    got = hubness(rng.standard_normal((30, 4)), rng.standard_normal((30, 4)), k=4)
    assert got["k"] == 4.0
    assert set(got) == {"k"} | {f"{d}_{m}" for d in ("i2t", "t2i") for m in MEASURES}
    assert all(isinstance(v, float) for v in got.values())


def test_block_size_does_not_change_hubness():
    rng = np.random.default_rng(4)
    zi, zt = rng.standard_normal((45, 5)), rng.standard_normal((45, 5))
    expected = hubness(zi, zt, k=3)
    for block in (1, 3, 45):
        assert hubness(zi, zt, k=3, block_size=block) == expected


def test_swapping_modalities_swaps_the_hubness_directions():
    rng = np.random.default_rng(5)
    zi, zt = rng.standard_normal((35, 5)), rng.standard_normal((35, 5))
    a, b = hubness(zi, zt, k=2), hubness(zt, zi, k=2)
    for m in MEASURES:
        assert a[f"i2t_{m}"] == b[f"t2i_{m}"]


def test_k_larger_than_n_raises():
    z = np.random.default_rng(6).standard_normal((8, 3))
    with pytest.raises(InputError, match="k=9 exceeds the number of items N=8"):
        hubness(z, z, k=9)
