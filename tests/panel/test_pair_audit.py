"""Training-pair audit: mispaired rows look like unrelated pairs, so their share estimates the
join-bug rate; clean pairs of a model that learned the structure are almost never suspect."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel.pair_audit import audit_pairs


def _aligned(n: int = 800, d: int = 16, noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, d))
    return latent + noise * rng.standard_normal((n, d)), latent + noise * rng.standard_normal((n, d))


def _mispair(z_txt: np.ndarray, rate: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(z_txt)
    rows = rng.choice(n, size=int(rate * n), replace=False)
    out = z_txt.copy()
    out[rows] = z_txt[np.roll(rows, 1)]
    return out


def test_clean_pairs_are_almost_never_suspect():
    z_img, z_txt = _aligned()
    assert audit_pairs(z_img, z_txt)["suspect_fraction"] < 0.01


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.6])
def test_suspect_share_tracks_the_mispaired_share(rate):
    z_img, z_txt = _aligned()
    audit = audit_pairs(z_img, _mispair(z_txt, rate))
    assert audit["suspect_fraction"] == pytest.approx(rate * audit["null_level"], abs=0.05)


def test_unrelated_pairs_are_suspect_at_the_null_level():
    rng = np.random.default_rng(3)
    audit = audit_pairs(rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8)))
    assert audit["suspect_fraction"] == pytest.approx(0.95, abs=0.03)


def test_large_sets_are_audited_on_a_seeded_sample():
    z_img, z_txt = _aligned(n=600)
    first = audit_pairs(z_img, z_txt, max_items=200, seed=5)
    assert first["audited_pairs"] == 200 and first["total_pairs"] == 600
    assert first == audit_pairs(z_img, z_txt, max_items=200, seed=5)
    assert first != audit_pairs(z_img, z_txt, max_items=200, seed=6)


def test_bad_input_names_the_problem():
    z_img, z_txt = _aligned(n=20)
    with pytest.raises(InputError, match="z_txt has N=19"):
        audit_pairs(z_img, z_txt[:19])
    with pytest.raises(ConfigError, match="level"):
        audit_pairs(z_img, z_txt, level=1.0)
    with pytest.raises(ConfigError, match="max_items"):
        audit_pairs(z_img, z_txt, max_items=1)
