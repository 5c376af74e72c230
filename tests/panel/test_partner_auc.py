"""Partner AUC: the share of irrelevant candidates a query's partner outscores, chance 0.5 at any
group size, ties against the partner, invariant to rotations, blocked."""

from __future__ import annotations

import numpy as np
import pytest

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
