"""AlignerConfig / TrainConfig: defaults are valid, every bad field raises ConfigError naming it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmgate.errors import ConfigError
from mmgate.reference import (
    DEFAULT_ALIGNER,
    DEFAULT_TRAINING,
    AlignerConfig,
    TrainConfig,
)


def test_defaults_are_the_documented_healthy_settings():
    assert DEFAULT_TRAINING.optimizer == "adamw"
    assert DEFAULT_TRAINING.augment_image_noise > 0.0
    assert DEFAULT_ALIGNER.hidden_img == DEFAULT_ALIGNER.hidden_txt


@pytest.mark.parametrize("field, value", [
    ("emb_dim", 1), ("emb_dim", 4.0), ("emb_dim", True), ("hidden_img", 0), ("hidden_txt", -3),
    ("temperature", 0.0), ("temperature", -0.1), ("temperature", float("nan")),
    ("temperature", "0.1"),
])
def test_bad_aligner_field_raises_config_error_naming_it(field, value):
    with pytest.raises(ConfigError, match=f"AlignerConfig.{field}"):
        AlignerConfig(**{field: value})


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("steps", 2.5), ("batch_size", 1), ("eval_every", 0), ("optimizer", "adam"),
    ("lr", 0.0), ("lr", float("inf")), ("weight_decay", -1e-4), ("grad_clip", -1.0),
    ("loss_weight_i2t", -1.0), ("loss_weight_t2i", float("nan")), ("grad_scale_img", 0.0),
    ("grad_scale_txt", -2.0), ("stop_grad_img", 1), ("stop_grad_txt", "yes"),
    ("augment_image_noise", -0.1),
])
def test_bad_training_field_raises_config_error_naming_it(field, value):
    with pytest.raises(ConfigError, match=f"TrainConfig.{field}"):
        TrainConfig(**{field: value})


def test_both_loss_weights_zero_is_rejected():
    with pytest.raises(ConfigError, match="loss_weight_i2t"):
        TrainConfig(loss_weight_i2t=0.0, loss_weight_t2i=0.0)


def test_freezing_both_towers_is_rejected():
    with pytest.raises(ConfigError, match="stop_grad_img"):
        TrainConfig(stop_grad_img=True, stop_grad_txt=True)


def test_replace_validates_again():
    with pytest.raises(ConfigError, match="TrainConfig.lr"):
        DEFAULT_TRAINING.replace(lr=-1.0)


def test_numpy_scalars_are_coerced_so_canonical_json_works():
    cfg = TrainConfig(steps=np.int64(10), lr=np.float32(0.5), stop_grad_img=np.bool_(True))
    doc = json.loads(cfg.canonical_json())
    assert doc["steps"] == 10 and doc["lr"] == 0.5 and doc["stop_grad_img"] is True


def test_sha256_changes_with_any_field_and_is_stable():
    assert DEFAULT_TRAINING.sha256() == TrainConfig().sha256()
    assert DEFAULT_TRAINING.sha256() != DEFAULT_TRAINING.replace(grad_scale_txt=0.5).sha256()
    assert DEFAULT_ALIGNER.sha256() != DEFAULT_ALIGNER.replace(hidden_img=64).sha256()
