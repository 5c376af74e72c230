"""Synthetic multimodal world: latent factors rendered as images and captions, with drift knobs;
every array is a pure function of (WorldConfig, seed)."""

from mmgate.world.config import (
    CHAPTER3_HARD,
    DEFAULT_WORLD,
    NAMED_WORLDS,
    FactorSpec,
    WorldConfig,
)
from mmgate.world.confounders import confounder_labels, marker_mask
from mmgate.world.factors import (
    factor_tuples,
    orientation_probabilities,
    sample_factors,
)
from mmgate.world.generate import SplitData, World, make_world, pairing_permutation
from mmgate.world.layout import FACTOR_TOKEN_BASE, MARKER_BASE, PAD, SEP
from mmgate.world.leakage import leakage_alarm
from mmgate.world.pairing import corrupt_pairing
from mmgate.world.render import render_clean, render_images, shape_masks
from mmgate.world.splits import Splits, check_split_hygiene, split_indices
from mmgate.world.text import (
    caption_tokens,
    factor_token_offsets,
    text_feature_dim,
    text_features,
)

__all__ = [
    "CHAPTER3_HARD",
    "DEFAULT_WORLD",
    "FACTOR_TOKEN_BASE",
    "MARKER_BASE",
    "NAMED_WORLDS",
    "PAD",
    "SEP",
    "FactorSpec",
    "SplitData",
    "Splits",
    "World",
    "WorldConfig",
    "caption_tokens",
    "check_split_hygiene",
    "confounder_labels",
    "corrupt_pairing",
    "pairing_permutation",
    "factor_token_offsets",
    "factor_tuples",
    "leakage_alarm",
    "make_world",
    "marker_mask",
    "orientation_probabilities",
    "render_clean",
    "render_images",
    "sample_factors",
    "shape_masks",
    "split_indices",
    "text_feature_dim",
    "text_features",
]
