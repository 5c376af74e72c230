"""Partner AUC: the share of irrelevant candidates a query's partner outscores, chance 0.5 at any
group size, ties against the partner, invariant to rotations, blocked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import InputError
from mmgate.panel.partner_auc import partner_auc


def brute_force(z_img: np.ndarray, z_txt: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    ui = z_img / np.linalg.norm(z_img, axis=1, keepdims=True)
    ut = z_txt / np.linalg.norm(z_txt, axis=1, keepdims=True)
    out = {}
    for direction, scores in (("i2t", ui @ ut.T), ("t2i", ut @ ui.T)):
        values = []
        for i in range(len(scores)):
            irrelevant = [j for j in range(len(scores)) if groups[j] != groups[i]]
            values.append(1.0 - sum(scores[i, j] >= scores[i, i] for j in irrelevant) / len(irrelevant))
        out[direction] = float(np.mean(values))
    return out


def test_partner_auc_equals_a_brute_force_count_with_and_without_groups() -> None:
    rng = np.random.default_rng(3)
    z_img = rng.normal(size=(60, 8))
    z_txt = z_img + rng.normal(size=(60, 8))
    groups = rng.integers(0, 7, 60)
    for labels in (np.arange(60), groups):
        expected = brute_force(z_img, z_txt, labels)
        got = partner_auc(z_img, z_txt, groups=labels, block_size=7)
        assert got == pytest.approx(expected, abs=1e-12)
    assert partner_auc(z_img, z_txt) == pytest.approx(brute_force(z_img, z_txt, np.arange(60)), abs=1e-12)


def test_unrelated_towers_sit_near_one_half_whatever_the_group_size() -> None:
    rng = np.random.default_rng(0)
    z_img, z_txt = rng.normal(size=(2000, 32)), rng.normal(size=(2000, 32))
    for groups in (None, np.arange(2000) % 10, np.arange(2000) % 400):
        assert partner_auc(z_img, z_txt, groups=groups) == pytest.approx({"i2t": 0.5, "t2i": 0.5}, abs=0.03)


def test_aligned_towers_score_one_and_a_rotation_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    z_img = rng.normal(size=(300, 32))
    z_txt = z_img + 0.2 * rng.normal(size=z_img.shape)
    rotation, _ = np.linalg.qr(rng.normal(size=(32, 32)))
    plain = partner_auc(z_img, z_txt)
    assert plain["i2t"] > 0.99 and plain["t2i"] > 0.99
    assert partner_auc(z_img @ rotation, z_txt @ rotation) == pytest.approx(plain, abs=1e-12)


def test_a_tie_with_an_irrelevant_candidate_counts_against_the_partner() -> None:
    z = np.eye(4)
    z_txt = z.copy()
    z_txt[1] = z_txt[0]
    auc = partner_auc(z, z_txt)
    # image 0 ties caption 1 (2/3); image 1 ties every caption at 0 (0); images 2 and 3 are clean (1).
    assert auc["i2t"] == pytest.approx((2.0 / 3.0 + 0.0 + 1.0 + 1.0) / 4.0)


def test_one_group_holding_every_row_is_an_input_error() -> None:
    z = np.random.default_rng(2).normal(size=(5, 3))
    with pytest.raises(InputError, match="no irrelevant candidate"):
        partner_auc(z, z, groups=np.zeros(5, dtype=int))


def _masked_count(queries: np.ndarray, candidates: np.ndarray, block: int) -> np.ndarray:
    """The previous no-groups path: labels = arange(n) and a (block, N) relevance mask."""
    n = queries.shape[0]
    labels = np.arange(n)
    above = np.empty(n, dtype=np.int64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = queries[start:stop] @ candidates.T
        partner = scores[np.arange(stop - start), np.arange(start, stop)]
        relevant = labels[start:stop, None] == labels[None, :]
        above[start:stop] = np.count_nonzero((scores >= partner[:, None]) & ~relevant, axis=1)
    return above


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 40), dim=st.integers(1, 5), levels=st.integers(1, 4), block=st.integers(1, 50),
       seed=st.integers(0, 2**16))
def test_no_groups_path_matches_the_masked_count_exactly_with_ties(n, dim, levels, block, seed) -> None:
    """Coarse integer coordinates make many exact ties (duplicate rows, equal scores): the diagonal
    subtraction counts exactly what the relevance mask did, at every block size."""
    from mmgate.panel.partner_auc import _irrelevant_above
    from mmgate.panel.validate import unit_pair
    rng = np.random.default_rng(seed)
    z_img = rng.integers(-levels, levels + 1, (n, dim)).astype(np.float64)
    z_txt = rng.integers(-levels, levels + 1, (n, dim)).astype(np.float64)
    z_img[np.all(z_img == 0, axis=1), 0] = 1.0
    z_txt[np.all(z_txt == 0, axis=1), 0] = 1.0
    ui, ut = unit_pair(z_img, z_txt)
    for queries, candidates in ((ui, ut), (ut, ui)):
        above, irrelevant = _irrelevant_above(queries, candidates, None, block)
        np.testing.assert_array_equal(above, _masked_count(queries, candidates, block))
        np.testing.assert_array_equal(irrelevant, np.full(n, n - 1))


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 60), dim=st.integers(1, 6), kind=st.sampled_from(["continuous", "coarse", "duplicates"]),
       block=st.integers(1, 64), seed=st.integers(0, 2**16))
def test_auc_read_off_the_ranks_equals_the_two_pass_auc_exactly(n, dim, kind, block, seed) -> None:
    """Without groups the AUC read off one ranks pass (recounting only tied queries) equals the
    two blocked passes exactly, on continuous data, coarse integer data full of exact ties, and
    data with repeated rows."""
    from mmgate.panel import retrieval_ranks
    from mmgate.panel.partner_auc import partner_auc_from_ranks, partner_auc_per_query
    rng = np.random.default_rng(seed)
    if kind == "coarse":
        z_img = rng.integers(-2, 3, (n, dim)).astype(np.float64)
        z_txt = rng.integers(-2, 3, (n, dim)).astype(np.float64)
        z_img[np.all(z_img == 0, axis=1), 0] = 1.0
        z_txt[np.all(z_txt == 0, axis=1), 0] = 1.0
    else:
        z_img = rng.normal(size=(n, dim))
        z_txt = z_img + rng.normal(size=(n, dim))
        if kind == "duplicates":
            z_txt[rng.integers(0, n, n // 2)] = z_txt[rng.integers(0, n, n // 2)]
            z_img[rng.integers(0, n, n // 3)] = z_img[rng.integers(0, n, n // 3)]
    for dtype in (np.float64, np.float32):
        zi, zt = z_img.astype(dtype), z_txt.astype(dtype)
        old = partner_auc_per_query(zi, zt, block_size=block)
        new = partner_auc_from_ranks(retrieval_ranks(zi, zt, block_size=block), zi, zt, block_size=block)
        for direction in ("i2t", "t2i"):
            np.testing.assert_array_equal(new[direction], old[direction])
