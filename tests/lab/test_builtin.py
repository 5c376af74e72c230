"""The built-in subject: a seeded reference model with the test split as canary and, for the
training-pair audit and the input-drift gates, the training split exactly as it was trained on."""

from __future__ import annotations

import numpy as np

from mmgate.lab.builtin import ReferenceTrainer, split_set
from mmgate.lab.conditions import condition


def test_the_training_set_is_the_train_split_with_its_pairing_corruption():
    trainer = ReferenceTrainer()
    cond = condition("pairing_random_30")
    subject = trainer.subject(0, cond)
    world = trainer.world(cond.train_world, 0)
    assert subject.training.name == "synthetic-train"
    np.testing.assert_array_equal(subject.training.texts, world.train.tokens)
    mispaired = np.mean(world.train.text_index != world.train.index)
    assert abs(mispaired - 0.3) < 0.01


def test_the_canary_comes_from_the_evaluation_world_and_the_training_set_from_the_training_world():
    trainer = ReferenceTrainer()
    cond = condition("preprocessing_drift_image")
    subject = trainer.subject(1, cond)
    np.testing.assert_array_equal(subject.canary.images, trainer.world(cond.eval_world, 1).test.images)
    np.testing.assert_array_equal(subject.training.images, trainer.world(cond.train_world, 1).train.images)
    assert not np.array_equal(subject.canary.images, trainer.world(cond.train_world, 1).test.images)


def test_a_split_set_carries_the_image_side_labels():
    world = ReferenceTrainer().world(condition("healthy").train_world, 2)
    val = split_set(world, "val")
    assert len(val) == len(world.val.index) and set(val.factors) == set(world.val.factors)


def test_models_are_memoised_by_world_seed_and_training_seed_until_the_seed_is_forgotten():
    trainer = ReferenceTrainer()
    world = condition("healthy").train_world.replace(n_train=256, n_val=64, n_test=64)
    training = condition("healthy").training.replace(steps=20, eval_every=10)
    first = trainer.train(world, 0, training=training)
    assert trainer.train(world, 0, training=training, train_seed=0) is first
    other = trainer.train(world, 0, training=training, train_seed=1)
    assert other.model.weights_sha256() != first.model.weights_sha256()
    trainer.forget(0)
    again = trainer.train(world, 0, training=training)
    assert again is not first and again.model.weights_sha256() == first.model.weights_sha256()
