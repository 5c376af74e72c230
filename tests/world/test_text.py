"""Text modality: caption grammar, caption noise, marker token, token corruption and feature map."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.errors import ConfigError, InputError
from mmgate.world import (
    DEFAULT_WORLD,
    FACTOR_TOKEN_BASE,
    PAD,
    SEP,
    caption_tokens,
    factor_token_offsets,
    factor_tuples,
    marker_mask,
    render_images,
    sample_factors,
    text_feature_dim,
    text_features,
)

N = 8000
CLEAN = DEFAULT_WORLD.replace(noise_text=0.0)
FACTOR_POS = slice(0, 9, 2)


@pytest.fixture(scope="module")
def factors():
    return sample_factors(DEFAULT_WORLD, N, 11)


@pytest.fixture(scope="module")
def clean(factors):
    return caption_tokens(factors, CLEAN, 0)


def within_binomial(count: int, trials: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - trials * p) <= sigmas * np.sqrt(trials * p * (1 - p)) + 1e-9


def test_clean_caption_follows_the_token_layout(factors, clean):
    assert clean.dtype == np.int64 and clean.shape == (N, 11)
    offsets = factor_token_offsets(DEFAULT_WORLD.factors)
    assert offsets.tolist() == [10, 14, 22, 28, 36]
    assert np.array_equal(clean[:, FACTOR_POS], offsets + factor_tuples(factors))
    assert np.all(clean[:, 1:9:2] == SEP)
    assert np.all(clean[:, 9:] == PAD)
    assert clean.max() < FACTOR_TOKEN_BASE + sum(DEFAULT_WORLD.factors.cardinalities())


@pytest.mark.parametrize("rate", [0.02, 0.10, 0.5])
def test_caption_noise_flips_factor_tokens_at_the_configured_rate(factors, clean, rate):
    noisy = caption_tokens(factors, CLEAN.replace(noise_text=rate), 0)
    flipped = noisy[:, FACTOR_POS] != clean[:, FACTOR_POS]
    assert within_binomial(int(flipped.sum()), flipped.size, rate)
    assert np.array_equal(noisy[:, 1::2], clean[:, 1::2])
    offsets = factor_token_offsets(DEFAULT_WORLD.factors)
    cards = np.asarray(DEFAULT_WORLD.factors.cardinalities())
    value = noisy[:, FACTOR_POS] - offsets
    assert np.all((value >= 0) & (value < cards))


def test_caption_noise_draws_other_values_uniformly(factors, clean):
    noisy = caption_tokens(factors, CLEAN.replace(noise_text=1.0), 0)
    assert np.all(noisy[:, FACTOR_POS] != clean[:, FACTOR_POS])
    shape_of_zero = noisy[factors["shape"] == 0, 0] - 10
    counts = np.bincount(shape_of_zero, minlength=4)
    assert counts[0] == 0
    assert all(within_binomial(int(c), int(counts.sum()), 1 / 3) for c in counts[1:])


@pytest.mark.parametrize(("kind", "codes"), [("parity", {2, 3}), ("bucket", set(range(2, 10)))])
def test_marker_token_sits_after_the_caption_only_on_marked_items(factors, clean, kind, codes):
    config = CLEAN.replace(confounder=kind, confounder_prevalence=0.4)
    tokens = caption_tokens(factors, config, 0)
    marked = marker_mask(config, np.arange(N), 0)
    assert within_binomial(int(marked.sum()), N, 0.4)
    assert set(np.unique(tokens[marked, 9])) == codes
    assert np.all(tokens[~marked, 9] == PAD)
    assert np.array_equal(tokens[:, :9], clean[:, :9]) and np.all(tokens[:, 10] == PAD)
    if kind == "parity":
        assert np.array_equal(tokens[marked, 9], 2 + np.arange(N)[marked] % 2)


def test_image_and_text_markers_are_carried_by_the_same_items(factors):
    config = CLEAN.replace(confounder="parity", confounder_prevalence=0.5, noise_image=0.0)
    sub = {k: v[:400] for k, v in factors.items()}
    pixel_moved = render_images(sub, config, 3)[:, 0, 0] != render_images(sub, CLEAN.replace(
        noise_image=0.0), 3)[:, 0, 0]
    token_set = caption_tokens(sub, config, 3)[:, 9] != PAD
    assert np.array_equal(pixel_moved, token_set)


def test_substitution_replaces_positions_with_random_non_special_tokens(factors, clean):
    tokens = caption_tokens(factors, CLEAN.replace(token_substitution=0.2), 0)
    special = clean < FACTOR_TOKEN_BASE
    changed = tokens != clean
    assert within_binomial(int(changed[special].sum()), int(special.sum()), 0.2)
    assert np.all(tokens[changed] >= FACTOR_TOKEN_BASE) and tokens.max() < 64
    assert np.unique(tokens[changed & special]).size == 64 - FACTOR_TOKEN_BASE


def test_dropout_replaces_positions_with_pad(factors, clean):
    tokens = caption_tokens(factors, CLEAN.replace(token_dropout=0.15), 0)
    real = clean != PAD
    dropped = real & (tokens == PAD)
    assert within_binomial(int(dropped.sum()), int(real.sum()), 0.15)
    assert np.all((tokens == clean) | (tokens == PAD))


def test_shuffle_permutes_whole_sequences_of_the_configured_share(factors, clean):
    tokens = caption_tokens(factors, CLEAN.replace(token_shuffle=0.3), 0)
    moved = np.any(tokens != clean, axis=1)
    assert within_binomial(int(moved.sum()), N, 0.3, sigmas=5.0)
    assert np.array_equal(np.sort(tokens, axis=1), np.sort(clean, axis=1))


def test_zero_corruption_rates_keep_the_caption(factors, clean):
    config = CLEAN.replace(token_substitution=0.0, token_dropout=0.0, token_shuffle=0.0)
    assert np.array_equal(caption_tokens(factors, config, 0), clean)


def test_each_corruption_knob_leaves_the_other_draws_alone(factors):
    base = CLEAN.replace(token_substitution=0.1, token_shuffle=0.2)
    a = caption_tokens(factors, base, 0)
    b = caption_tokens(factors, base.replace(token_dropout=0.3), 0)
    assert np.array_equal(a[b != PAD], b[b != PAD])


def slow_text_features(tokens: np.ndarray, vocab: int, scale: float, shift: float) -> np.ndarray:
    n, length = tokens.shape
    p = min(24, vocab)
    out = np.zeros((n, vocab + p))
    for i in range(n):
        for pos in range(length):
            out[i, tokens[i, pos]] += 1.0 / length
        for k in range(p):
            where = [pos / max(1, length - 1) for pos in range(length) if tokens[i, pos] == k]
            out[i, vocab + k] = float(np.mean(where)) if where else 0.0
    return out * scale + shift


@settings(max_examples=40, deadline=None)
@given(vocab=st.integers(2, 40), n=st.integers(0, 12), length=st.integers(1, 14),
       scale=st.floats(0.1, 3.0), shift=st.floats(-2.0, 2.0), seed=st.integers(0, 2**16))
def test_text_features_match_a_slow_loop(vocab, n, length, scale, shift, seed):
    tokens = np.random.default_rng(seed).integers(0, vocab, size=(n, length))
    fast = text_features(tokens, vocab, scale, shift)
    assert fast.dtype == np.float32 and fast.shape == (n, text_feature_dim(vocab))
    assert np.allclose(fast, slow_text_features(tokens, vocab, scale, shift), atol=1e-5)


def test_text_feature_dim_adds_up_to_24_positional_columns():
    assert text_feature_dim(64) == 88 and text_feature_dim(10) == 20
    with pytest.raises(ConfigError, match="vocab_size"):
        text_feature_dim(0)


def test_text_features_reject_bad_tokens():
    with pytest.raises(InputError, match=r"tokens: expected ids in \[0, 64\)"):
        text_features(np.array([[1, 64]]), 64)
    with pytest.raises(InputError, match="tokens: expected a 2-D integer array"):
        text_features(np.array([1, 2]), 64)
    with pytest.raises(InputError, match="tokens: expected a 2-D integer array"):
        text_features(np.array([[1.0, 2.0]]), 64)
    with pytest.raises(ConfigError, match="scale"):
        text_features(np.array([[1, 2]]), 64, scale=float("nan"))


def test_text_preprocessing_scale_and_shift_act_in_the_feature_map(clean):
    base = text_features(clean[:100], 64)
    assert np.allclose(text_features(clean[:100], 64, scale=2.0, shift=0.5), base * 2 + 0.5)
