"""Image modality: the seed's grating renderer, and noise, marker and preprocessing acting as set."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.world import (
    DEFAULT_WORLD,
    FactorSpec,
    confounder_labels,
    marker_mask,
    render_clean,
    render_images,
    sample_factors,
    shape_masks,
)

N = 600


def seed_notebook_render(f: dict, n_orient: int, n_phase: int, side: int) -> np.ndarray:
    """The chapter-3 notebook's clean renderer, transcribed in float64 as the reference."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side), indexing="ij")
    ang = (f["orient"] / n_orient) * (2.0 * np.pi)
    xr = np.cos(ang)[:, None, None] * xx[None] + np.sin(ang)[:, None, None] * yy[None]
    fr = (1.5 + f["freq"])[:, None, None]
    ph = (f["phase"] / n_phase * 2.0 * np.pi)[:, None, None]
    base = np.sin(fr * np.pi * xr + ph)
    r0 = np.sqrt(xx**2 + yy**2)
    masks = np.stack([r0 < 0.75, (np.abs(xx) < 0.75) & (np.abs(yy) < 0.75),
                      (np.abs(xx) + np.abs(yy)) < 1.05, np.abs(xx) < 0.45]).astype(np.float64)
    th = (1.0 + f["thick"])[:, None, None]
    img = masks[f["shape"]] * base
    img = np.sign(img) * (np.abs(img) ** (1.0 / th))
    img -= img.mean(axis=(1, 2), keepdims=True)
    img /= img.std(axis=(1, 2), keepdims=True) + 1e-6
    return img


@pytest.fixture(scope="module")
def factors():
    return sample_factors(DEFAULT_WORLD, N, 7)


def test_clean_render_matches_the_seed_notebook_renderer(factors):
    ours = render_clean(factors, DEFAULT_WORLD)
    ref = seed_notebook_render(factors, 8, 8, 16)
    assert ours.shape == (N, 16, 16)
    assert np.max(np.abs(ours - ref)) < 1e-9


def test_clean_images_are_standardised_per_image(factors):
    clean = render_clean(factors, DEFAULT_WORLD)
    assert np.allclose(clean.mean(axis=(1, 2)), 0.0, atol=1e-9)
    assert np.allclose(clean.std(axis=(1, 2)), 1.0, atol=1e-5)


def test_output_is_float32_of_side_s(factors):
    config = DEFAULT_WORLD.replace(image_side=12)
    img = render_images(factors, config, 0)
    assert img.dtype == np.float32 and img.shape == (N, 12, 12)


@pytest.mark.parametrize("side", [12, 16, 24])
def test_shape_masks_beyond_the_four_seed_shapes_are_distinct_and_non_empty(side):
    masks = shape_masks(12, side)
    flat = masks.reshape(12, -1)
    assert np.all(flat.sum(axis=1) > 0)
    assert len({row.tobytes() for row in flat}) == 12
    assert np.array_equal(shape_masks(4, side), masks[:4])


def test_more_shapes_render_with_every_label(factors):
    config = DEFAULT_WORLD.replace(factors=FactorSpec(n_shape=7))
    f = sample_factors(config, 300, 0)
    img = render_images(f, config, 0)
    assert np.isfinite(img).all() and set(np.unique(f["shape"])) == set(range(7))


def test_noise_is_gaussian_with_the_configured_std(factors):
    clean = render_clean(factors, DEFAULT_WORLD)
    for level in (0.15, 0.5):
        img = render_images(factors, DEFAULT_WORLD.replace(noise_image=level), 0)
        resid = img - clean
        assert resid.std() == pytest.approx(level, rel=0.02)
        assert abs(resid.mean()) < 0.01
    silent = render_images(factors, DEFAULT_WORLD.replace(noise_image=0.0), 0)
    assert np.array_equal(silent, clean.astype(np.float32))


def test_more_noise_raises_pixel_variance(factors):
    low = render_images(factors, DEFAULT_WORLD.replace(noise_image=0.1), 0)
    high = render_images(factors, DEFAULT_WORLD.replace(noise_image=0.6), 0)
    assert high.var() > low.var() + 0.3


def test_no_confounder_means_no_marker_whatever_its_strength(factors):
    a = render_images(factors, DEFAULT_WORLD, 0)
    b = render_images(factors, DEFAULT_WORLD.replace(confounder_strength=5.0), 0)
    assert np.array_equal(a, b)
    assert not marker_mask(DEFAULT_WORLD, np.arange(N), 0).any()


@pytest.mark.parametrize("prevalence", [1.0, 0.3])
def test_parity_marker_moves_only_pixel_00_of_the_prevalence_share(factors, prevalence):
    config = DEFAULT_WORLD.replace(confounder="parity", confounder_prevalence=prevalence)
    diff = render_images(factors, config, 0).astype(np.float64) - render_images(
        factors, DEFAULT_WORLD, 0)
    marked = marker_mask(config, np.arange(N), 0)
    expected = 1.25 * (2.0 * (np.arange(N) % 2) - 1.0) * marked
    assert np.allclose(diff[:, 0, 0], expected, atol=1e-5)
    diff[:, 0, 0] = 0.0
    assert np.abs(diff).max() == 0.0
    sd = np.sqrt(prevalence * (1 - prevalence) / N)
    assert abs(marked.mean() - prevalence) <= 4 * sd + 1e-12


def test_bucket_marker_shifts_column_0_by_the_bucket_code(factors):
    config = DEFAULT_WORLD.replace(confounder="bucket", confounder_strength=2.0)
    diff = render_images(factors, config, 0).astype(np.float64) - render_images(
        factors, DEFAULT_WORLD, 0)
    bucket = confounder_labels(np.arange(N))["bucket"]
    level = 2.0 * (bucket / 7 * 2 - 1)
    assert np.allclose(diff[:, :, 0], level[:, None], atol=1e-5)
    assert np.abs(diff[:, :, 1:]).max() == 0.0


def test_preprocessing_scale_and_shift_act_after_everything_else(factors):
    config = DEFAULT_WORLD.replace(confounder="parity")
    base = render_images(factors, config, 0).astype(np.float64)
    drifted = render_images(factors, config.replace(image_scale=1.7, image_shift=-0.4), 0)
    assert np.allclose(drifted, base * 1.7 - 0.4, atol=1e-5)
    assert drifted.mean() == pytest.approx(-0.4, abs=0.05)


def test_a_subset_rendered_with_its_item_index_equals_its_rows_in_the_pool(factors):
    config = DEFAULT_WORLD.replace(confounder="bucket", confounder_prevalence=0.5)
    pool = render_images(factors, config, 4)
    rows = np.array([599, 3, 250, 17])
    sub = {k: v[rows] for k, v in factors.items()}
    assert np.array_equal(render_images(sub, config, 4, index=rows), pool[rows])
    with pytest.raises(InputError, match="index: expected a 1-D integer array of length 4"):
        render_images(sub, config, 4, index=rows[:2])


def test_shape_masks_are_the_seed_masks_and_circle_is_diamond_on_the_coarsest_grid():
    masks = shape_masks(4, 8)
    assert np.array_equal(masks[0], masks[2])
    assert not np.array_equal(shape_masks(4, 16)[0], shape_masks(4, 16)[2])


def test_thickness_sharpens_most_images(factors):
    f = {k: v[:200].copy() for k, v in factors.items()}
    f["thick"] = np.zeros(200, dtype=np.int64)
    thin = render_clean(f, DEFAULT_WORLD)
    f["thick"] = np.full(200, 2, dtype=np.int64)
    thick = render_clean(f, DEFAULT_WORLD)
    change = np.abs(thin - thick).mean(axis=(1, 2))
    assert np.median(change) > 0.05
