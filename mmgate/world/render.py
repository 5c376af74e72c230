"""Image modality: S x S rotated sinusoid gratings under a shape mask, with noise, marker and
preprocessing drift applied in that order."""

from __future__ import annotations

import numpy as np

from mmgate.world import streams
from mmgate.world.config import WorldConfig
from mmgate.world.confounders import BUCKET_CODES, item_index, marker_codes, marker_mask
from mmgate.world.factors import check_factors

_GOLDEN = 0.6180339887498949


def _grid(side: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.meshgrid(np.linspace(-1.0, 1.0, side), np.linspace(-1.0, 1.0, side), indexing="ij")
    return xx, yy


def shape_masks(n_shape: int, side: int) -> np.ndarray:
    """(n_shape, S, S) float masks: circle, square, diamond, stripe, then alternating rings and
    rotated ellipses whose sizes follow a golden-ratio sequence (deterministic for any n_shape)."""
    xx, yy = _grid(side)
    r = np.sqrt(xx**2 + yy**2)
    masks = [r < 0.75,
             (np.abs(xx) < 0.75) & (np.abs(yy) < 0.75),
             (np.abs(xx) + np.abs(yy)) < 1.05,
             np.abs(xx) < 0.45]
    for j in range(max(0, n_shape - 4)):
        t = (0.5 + (j // 2) * _GOLDEN) % 1.0
        if j % 2 == 0:
            inner = 0.2 + 0.4 * t
            masks.append((r >= inner) & (r < inner + 0.45))
        else:
            ang = np.pi * t
            u = np.cos(ang) * xx + np.sin(ang) * yy
            v = -np.sin(ang) * xx + np.cos(ang) * yy
            masks.append((u / 0.95) ** 2 + (v / (0.3 + 0.4 * t)) ** 2 < 1.0)
    return np.stack(masks[:n_shape]).astype(np.float64)


def render_clean(factors: dict[str, np.ndarray], config: WorldConfig) -> np.ndarray:
    """Noise-free images, each standardised to mean 0 and std 1: (n, S, S) float64."""
    check_factors(factors, config.factors)
    spec = config.factors
    xx, yy = _grid(config.image_side)
    ang = np.asarray(factors["orient"], dtype=np.float64) / spec.n_orient * 2.0 * np.pi
    xr = np.cos(ang)[:, None, None] * xx + np.sin(ang)[:, None, None] * yy
    freq = 1.5 + np.asarray(factors["freq"], dtype=np.float64)[:, None, None]
    phase = np.asarray(factors["phase"], dtype=np.float64) / spec.n_phase * 2.0 * np.pi
    phase = phase[:, None, None]
    img = shape_masks(spec.n_shape, config.image_side)[factors["shape"]] * np.sin(
        freq * np.pi * xr + phase)
    thick = 1.0 + np.asarray(factors["thick"], dtype=np.float64)[:, None, None]
    img = np.sign(img) * np.abs(img) ** (1.0 / thick)
    img -= img.mean(axis=(1, 2), keepdims=True)
    img /= img.std(axis=(1, 2), keepdims=True) + 1e-6
    return img


def render_images(factors: dict[str, np.ndarray], config: WorldConfig, seed: int, *,
                  index: np.ndarray | None = None) -> np.ndarray:
    """Clean renderer + noise + confounder marker + preprocessing; (n, S, S) float32.

    ``index`` gives the world item index of each row (default: row position); noise, confounder
    codes and marker choice are keyed by it, so a subset renders exactly as its rows in the pool
    (the draws cover items 0..max(index), so cost grows with the largest index).
    """
    img = render_clean(factors, config)
    side = config.image_side
    idx = item_index(index, img.shape[0])
    img += streams.item_normal(seed, streams.IMAGE_NOISE, 0, idx, (side, side)) * config.noise_image
    marked = marker_mask(config, idx, seed)
    if marked.any():
        code = marker_codes(config, idx[marked]).astype(np.float64)
        if config.confounder == "parity":
            img[marked, 0, 0] += config.confounder_strength * (2.0 * code - 1.0)
        else:
            level = code / (BUCKET_CODES - 1) * 2.0 - 1.0
            img[marked, :, 0] += config.confounder_strength * level[:, None]
    return (img * config.image_scale + config.image_shift).astype(np.float32)
