"""Shared worlds and trained aligners for the reference tests (built once per session)."""

from __future__ import annotations

import pytest

from mmgate.reference import TrainConfig, TrainResult, train_reference
from mmgate.world import DEFAULT_WORLD, World, make_world

SHORT_TRAINING = TrainConfig(steps=24, batch_size=64, eval_every=8)


@pytest.fixture(scope="session")
def world0() -> World:
    """The default world, seed 0."""
    return make_world(DEFAULT_WORLD, 0)


@pytest.fixture(scope="session")
def trained0(world0: World) -> TrainResult:
    """The default reference aligner trained on world0 with the default settings."""
    return train_reference(world0, seed=0)


@pytest.fixture(scope="session")
def short0(world0: World) -> TrainResult:
    """A short (24-step) default-control run, the baseline the control tests compare against."""
    return train_reference(world0, training=SHORT_TRAINING, seed=0)
