"""Text modality: caption token sequences (grammar, caption noise, marker token, token corruption)
and their feature map (bag of words plus positional features)."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.world import streams
from mmgate.world.checks import require_int, require_number
from mmgate.world.config import FACTOR_NAMES, FactorSpec, WorldConfig
from mmgate.world.confounders import item_index, marker_codes, marker_mask
from mmgate.world.factors import check_factors, factor_tuples
from mmgate.world.layout import FACTOR_TOKEN_BASE, MARKER_BASE, PAD, SEP

POSITIONAL_IDS = 24


def factor_token_offsets(spec: FactorSpec) -> np.ndarray:
    """First token id of each factor in caption order: FACTOR_TOKEN_BASE + cumulative counts."""
    cards = np.asarray(spec.cardinalities(), dtype=np.int64)
    return FACTOR_TOKEN_BASE + np.concatenate([[0], np.cumsum(cards)[:-1]])


def _caption_noise(values: np.ndarray, spec: FactorSpec, rate: float, seed: int,
                   idx: np.ndarray) -> np.ndarray:
    if rate == 0.0:
        return values
    cards = np.asarray(spec.cardinalities(), dtype=np.int64)
    shape = (len(FACTOR_NAMES),)
    flip = streams.item_uniform(seed, streams.CAPTION_NOISE, 0, idx, shape) < rate
    step = 1 + np.floor(streams.item_uniform(seed, streams.CAPTION_NOISE, 1, idx, shape)
                        * (cards - 1)).astype(np.int64)
    return np.where(flip, (values + step) % cards, values)


def _corrupt_tokens(seq: np.ndarray, config: WorldConfig, seed: int, idx: np.ndarray) -> np.ndarray:
    length = seq.shape[1]
    draw = streams.TOKEN_CORRUPTION
    if config.token_substitution > 0.0:
        hit = streams.item_uniform(seed, draw, 0, idx, (length,)) < config.token_substitution
        n_ids = config.vocab_size - FACTOR_TOKEN_BASE
        ids = FACTOR_TOKEN_BASE + np.floor(
            streams.item_uniform(seed, draw, 1, idx, (length,)) * n_ids).astype(np.int64)
        seq = np.where(hit, ids, seq)
    if config.token_dropout > 0.0:
        hit = streams.item_uniform(seed, draw, 2, idx, (length,)) < config.token_dropout
        seq = np.where(hit, PAD, seq)
    if config.token_shuffle > 0.0:
        rows = streams.item_uniform(seed, draw, 3, idx) < config.token_shuffle
        perm = np.argsort(streams.item_uniform(seed, draw, 4, idx, (length,)), axis=1)
        seq = np.where(rows[:, None], np.take_along_axis(seq, perm, axis=1), seq)
    return seq


def caption_tokens(factors: dict[str, np.ndarray], config: WorldConfig, seed: int, *,
                   index: np.ndarray | None = None) -> np.ndarray:
    """(n, L) int64 token sequences with caption noise, marker token, token corruption.

    Grammar: f1 SEP f2 SEP ... f5, then the marker token when the item carries the confounder,
    PAD elsewhere. ``index`` keys every random draw by world item, as in render_images.
    """
    n = check_factors(factors, config.factors)
    idx = item_index(index, n)
    n_factors = len(FACTOR_NAMES)
    values = _caption_noise(factor_tuples(factors), config.factors, config.noise_text, seed, idx)
    seq = np.full((n, config.seq_len), PAD, dtype=np.int64)
    seq[:, 0 : 2 * n_factors - 1 : 2] = factor_token_offsets(config.factors) + values
    seq[:, 1 : 2 * n_factors - 2 : 2] = SEP
    marked = marker_mask(config, idx, seed)
    if marked.any():
        seq[marked, 2 * n_factors - 1] = MARKER_BASE + marker_codes(config, idx[marked])
    return _corrupt_tokens(seq, config, seed, idx)


def text_feature_dim(vocab_size: int) -> int:
    """Width of text_features: vocab_size bag-of-words columns + min(24, vocab_size) positions."""
    vocab = require_int("vocab_size", vocab_size, 1)
    return vocab + min(POSITIONAL_IDS, vocab)


def text_features(tokens: np.ndarray, vocab_size: int, scale: float = 1.0,
                  shift: float = 0.0) -> np.ndarray:
    """(N, L) int tokens -> (N, vocab_size + P) float32: bag of words (counts / L) plus positional
    features (mean normalised position of each of the first P = min(24, vocab_size) token ids,
    0 when absent), then x * scale + shift. Vectorised (no Python loop over rows)."""
    width = text_feature_dim(vocab_size)
    scale = require_number("scale", scale)
    shift = require_number("shift", shift)
    arr = np.asarray(tokens)
    if arr.ndim != 2 or arr.shape[1] < 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"tokens: expected a 2-D integer array (N, L) with L >= 1, got dtype "
                         f"{arr.dtype} and shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise InputError(f"tokens: expected ids in [0, {vocab_size}), got range "
                         f"[{arr.min()}, {arr.max()}]")
    n, length = arr.shape
    v = int(vocab_size)
    flat = (np.arange(n, dtype=np.int64)[:, None] * v + arr.astype(np.int64)).ravel()
    counts = np.bincount(flat, minlength=n * v).reshape(n, v).astype(np.float64)
    positions = np.arange(length, dtype=np.float64) / max(1, length - 1)
    pos_sum = np.bincount(flat, weights=np.tile(positions, n), minlength=n * v).reshape(n, v)
    p = width - v
    pos_mean = pos_sum[:, :p] / np.maximum(counts[:, :p], 1.0)
    feats = np.concatenate([counts / length, pos_mean], axis=1)
    return (feats * scale + shift).astype(np.float32)
