"""train_reference: history per evaluation step, best-by-val model, pairing reaches training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmgate.errors import ConfigError
from mmgate.reference import TrainConfig, split_snapshot, train_reference
from mmgate.world import make_world

from .conftest import SHORT_TRAINING

HISTORY_KEYS = {
    "step", "train_loss", "val_loss", "val_i2t_top1", "val_t2i_top1", "val_i2t_top5",
    "val_t2i_top5",
    "val_top1", "val_var_min_img", "val_var_min_txt", "val_mean_cos_img", "val_mean_cos_txt",
    "val_eff_rank_img", "val_eff_rank_txt", "grad_norm_img", "grad_norm_txt", "update_norm_img",
    "update_norm_txt",
}


def test_history_has_one_finite_entry_per_evaluation_step(short0):
    assert [h["step"] for h in short0.history] == [8, 16, 24]
    for h in short0.history:
        assert set(h) == HISTORY_KEYS
        assert all(np.isfinite(v) for v in h.values())
        assert h["grad_norm_img"] > 0 and h["grad_norm_txt"] > 0
    json.dumps(list(short0.history), allow_nan=False)


def test_final_step_is_evaluated_even_off_the_eval_grid(world0):
    r = train_reference(world0, training=TrainConfig(steps=10, batch_size=64, eval_every=4))
    assert [h["step"] for h in r.history] == [4, 8, 10]


def test_best_model_is_the_history_maximum_of_val_top1(trained0, world0):
    tops = [h["val_top1"] for h in trained0.history]
    assert trained0.best_val_top1 == max(tops)
    assert trained0.best_step == trained0.history[tops.index(max(tops))]["step"]
    assert split_snapshot(trained0.model, world0.val)["val_top1"] == trained0.best_val_top1


def test_training_learns_val_retrieval_well_above_chance(trained0, world0):
    first = trained0.history[0]
    assert trained0.best_val_top1 > 0.5 > 10.0 / world0.val.images.shape[0]
    assert trained0.history[-1]["val_loss"] < first["val_loss"]


def test_config_json_records_configs_seed_and_world(trained0, world0):
    doc = json.loads(trained0.config_json)
    assert doc["seed"] == 0 and doc["world"]["config_sha256"] == world0.config.sha256()
    assert doc["training"]["augment_image_noise"] == TrainConfig().augment_image_noise
    assert set(doc) == {"aligner", "training", "seed", "world", "model"}


def test_same_inputs_give_bit_identical_results(world0, short0):
    again = train_reference(world0, training=SHORT_TRAINING, seed=0)
    for k, v in short0.model.weight_arrays().items():
        assert v.tobytes() == again.model.weight_arrays()[k].tobytes()
    assert json.dumps(short0.history) == json.dumps(again.history)


def test_a_different_seed_gives_different_weights(world0, short0):
    other = train_reference(world0, training=SHORT_TRAINING, seed=1)
    assert other.model.identity() != short0.model.identity()


def test_pairing_corruption_in_the_train_split_reaches_training(world0):
    corrupted = make_world(world0.config.replace(pairing="swap", pairing_rate=1.0), 0)
    assert not np.array_equal(corrupted.train.tokens, world0.train.tokens)
    assert np.array_equal(corrupted.val.tokens, world0.val.tokens)
    training = TrainConfig(steps=240, eval_every=240)
    clean = train_reference(world0, training=training, seed=0)
    shuffled = train_reference(corrupted, training=training, seed=0)
    assert clean.best_val_top1 > 0.3
    assert shuffled.best_val_top1 < clean.best_val_top1 / 3


def test_batch_larger_than_the_train_split_is_a_config_error(world0):
    with pytest.raises(ConfigError, match="batch_size"):
        train_reference(world0, training=TrainConfig(batch_size=5000))


def test_bad_seed_is_a_config_error(world0):
    with pytest.raises(ConfigError, match="seed"):
        train_reference(world0, training=SHORT_TRAINING, seed=-1)
