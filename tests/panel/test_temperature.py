"""Temperature fit: the symmetric-InfoNCE-optimal temperature of a cosine matrix, found by a
golden-section search, against a dense grid; and the mismatch with a declared temperature."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel.temperature import fit_temperature, symmetric_infonce


def _aligned(n: int = 300, d: int = 12, noise: float = 0.6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, d))
    return latent + noise * rng.standard_normal((n, d)), latent + noise * rng.standard_normal((n, d))


def _scores(z_img: np.ndarray, z_txt: np.ndarray) -> np.ndarray:
    ui = z_img / np.linalg.norm(z_img, axis=1, keepdims=True)
    ut = z_txt / np.linalg.norm(z_txt, axis=1, keepdims=True)
    return ui @ ut.T


def test_fit_matches_a_dense_grid_minimum():
    z_img, z_txt = _aligned()
    scores = _scores(z_img, z_txt)
    grid = np.exp(np.linspace(math.log(1e-3), math.log(10.0), 4001))
    best = grid[int(np.argmin([symmetric_infonce(scores, t) for t in grid]))]
    fit = fit_temperature(z_img, z_txt)
    assert fit["fitted_temperature"] == pytest.approx(best, rel=5e-3)
    assert not fit["at_bound"]


def test_loss_is_lowest_at_the_fitted_temperature():
    z_img, z_txt = _aligned(seed=2)
    fit = fit_temperature(z_img, z_txt)
    scores = _scores(z_img, z_txt)
    for factor in (0.8, 1.25):
        assert symmetric_infonce(scores, fit["fitted_temperature"] * factor) > fit["loss_at_fit"]


def test_declared_temperature_is_compared_on_a_log_scale():
    z_img, z_txt = _aligned()
    fitted = fit_temperature(z_img, z_txt)["fitted_temperature"]
    for factor in (0.2, 1.0, 5.0):
        report = fit_temperature(z_img, z_txt, declared=fitted * factor)
        assert report["log_ratio"] == pytest.approx(abs(math.log(factor)), abs=1e-3)
        assert report["loss_at_declared"] >= report["loss_at_fit"] - 1e-12


def test_perfectly_separated_pairs_want_a_temperature_at_the_bound():
    z = np.eye(6)
    assert fit_temperature(z, z)["at_bound"]


def test_bad_input_names_the_problem():
    z_img, z_txt = _aligned(n=10)
    with pytest.raises(ConfigError, match="declared temperature"):
        fit_temperature(z_img, z_txt, declared=0.0)
    with pytest.raises(InputError, match="2-D"):
        fit_temperature(z_img[0], z_txt)
