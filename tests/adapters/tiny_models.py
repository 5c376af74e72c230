"""Tiny, randomly initialised models for the adapter tests, built offline in milliseconds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    CLIPTokenizer,
)

IMAGE_SIZE = 16
PROJECTION_DIM = 8
TEMPERATURE = 0.05


def tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over single bytes (no merges): every text tokenizes, no files needed."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in sorted(ByteLevel.alphabet()):
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


def tiny_processor() -> CLIPProcessor:
    """The tiny tokenizer plus a CLIP image processor resizing to IMAGE_SIZE."""
    images = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                                crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    return CLIPProcessor(image_processor=images, tokenizer=tiny_tokenizer())


def tiny_clip(seed: int = 0, attention_dropout: float = 0.0, **kwargs: Any) -> CLIPModel:
    """A two-layer CLIPModel sized for the tiny tokenizer, logit_scale = log(1 / TEMPERATURE),
    left in train mode as a freshly built model is."""
    vocab_size = len(tiny_tokenizer())
    shared = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 2, "attention_dropout": attention_dropout}
    config = CLIPConfig(
        text_config=dict(vocab_size=vocab_size, max_position_embeddings=16, bos_token_id=0,
                         eos_token_id=1, pad_token_id=1, **shared),
        vision_config=dict(image_size=IMAGE_SIZE, patch_size=8, **shared),
        projection_dim=PROJECTION_DIM, **kwargs)
    torch.manual_seed(seed)
    model = CLIPModel(config)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(1 / TEMPERATURE))
    return model


def images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random RGB uint8 images, 20x24 pixels."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, 20, 24, 3), dtype=np.uint8)


CAPTIONS = ["a red square", "a blue circle", "two green triangles", "a yellow star on grey",
            "an empty frame"]
