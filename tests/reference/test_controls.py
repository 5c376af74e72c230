"""Every dominance / collapse control acts on training (none is a no-op like a pre-norm gain)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmgate.reference import DEFAULT_ALIGNER, init_mlp, train_reference
from mmgate.reference.trainer import INIT_IMG_STREAM, INIT_TXT_STREAM
from mmgate.world import text_feature_dim

from .conftest import SHORT_TRAINING


def _init_tower(stream: int, d_in: int, hidden: int, seed: int = 0):
    return init_mlp(d_in, hidden, DEFAULT_ALIGNER.emb_dim,
                    np.random.default_rng(np.random.SeedSequence([seed, stream])))


def _same(a, b) -> bool:
    return all(v.tobytes() == b.arrays()[k].tobytes() for k, v in a.arrays().items())


def _weights_differ(a, b) -> bool:
    wa, wb = a.model.weight_arrays(), b.model.weight_arrays()
    return any(wa[k].shape != wb[k].shape or not np.array_equal(wa[k], wb[k]) for k in wa)


def test_stop_grad_txt_leaves_text_weights_bit_identical_and_is_visible_in_history(world0):
    r = train_reference(world0, training=SHORT_TRAINING.replace(stop_grad_txt=True))
    d_txt = text_feature_dim(world0.config.vocab_size)
    txt_init = _init_tower(INIT_TXT_STREAM, d_txt, DEFAULT_ALIGNER.hidden_txt)
    assert _same(r.model.text_tower, txt_init)
    img_init = _init_tower(INIT_IMG_STREAM, 256, DEFAULT_ALIGNER.hidden_img)
    assert not _same(r.model.image_tower, img_init)
    assert all(h["grad_norm_txt"] == 0.0 and h["update_norm_txt"] == 0.0 for h in r.history)
    assert all(h["update_norm_img"] > 0.0 for h in r.history)


def test_stop_grad_img_leaves_image_weights_bit_identical(world0):
    r = train_reference(world0, training=SHORT_TRAINING.replace(stop_grad_img=True))
    assert _same(r.model.image_tower, _init_tower(INIT_IMG_STREAM, 256, DEFAULT_ALIGNER.hidden_img))
    assert all(h["grad_norm_img"] == 0.0 and h["update_norm_img"] == 0.0 for h in r.history)


def test_loss_weight_changes_training(world0, short0):
    r = train_reference(world0, training=SHORT_TRAINING.replace(loss_weight_t2i=0.2))
    assert _weights_differ(r, short0)


def test_grad_scale_changes_training_under_adam_and_shrinks_that_towers_updates(world0, short0):
    r = train_reference(world0, training=SHORT_TRAINING.replace(grad_scale_img=0.25))
    assert _weights_differ(r, short0)
    for h, h0 in zip(r.history, short0.history):
        assert h["update_norm_img"] < 0.5 * h0["update_norm_img"]


def test_grad_scale_changes_training_under_sgd(world0):
    sgd = SHORT_TRAINING.replace(optimizer="sgd", lr=0.05)
    a = train_reference(world0, training=sgd)
    b = train_reference(world0, training=sgd.replace(grad_scale_txt=3.0))
    assert _weights_differ(a, b)
    assert b.history[0]["update_norm_txt"] > a.history[0]["update_norm_txt"]


@pytest.mark.parametrize("change", [{"lr": 5e-3}, {"weight_decay": 0.5}, {"grad_clip": 0.01},
                                    {"augment_image_noise": 0.0}, {"batch_size": 32}])
def test_training_settings_act(world0, short0, change):
    changed = train_reference(world0, training=SHORT_TRAINING.replace(**change))
    assert _weights_differ(changed, short0)


def test_weight_decay_shrinks_the_weights(world0, short0):
    r = train_reference(world0, training=SHORT_TRAINING.replace(weight_decay=2.0))
    norm = np.linalg.norm(r.model.image_tower.w1)
    assert norm < np.linalg.norm(short0.model.image_tower.w1)


def test_temperature_acts_and_is_carried_by_the_model(world0, short0):
    r = train_reference(world0, DEFAULT_ALIGNER.replace(temperature=0.5), SHORT_TRAINING)
    assert r.model.temperature == 0.5
    assert _weights_differ(r, short0)


def test_capacity_skew_builds_unequal_towers(world0):
    r = train_reference(world0, DEFAULT_ALIGNER.replace(hidden_img=16), SHORT_TRAINING)
    assert r.model.image_tower.hidden == 16
    assert r.model.text_tower.hidden == DEFAULT_ALIGNER.hidden_txt


def test_scaling_an_embedding_before_normalisation_would_not_act(short0, world0):
    """The seed's pre-normalisation gain is a no-op (same retrieval), so it is not a control."""
    from mmgate.panel import retrieval_metrics

    m = short0.model
    zi, zt = m.embed_images(world0.val.images), m.embed_texts(world0.val.tokens)
    assert retrieval_metrics(zi, zt) == retrieval_metrics(4.0 * zi, zt)
    gained = dataclasses.replace(m, image_tower=dataclasses.replace(
        m.image_tower, w2=m.image_tower.w2 * 4.0, b2=m.image_tower.b2 * 4.0))
    gained_zi = gained.embed_images(world0.val.images)
    assert retrieval_metrics(gained_zi, zt) == retrieval_metrics(zi, zt)
