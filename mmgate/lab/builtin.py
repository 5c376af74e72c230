"""The built-in subject: the reference aligner trained on the synthetic world under a condition
(``healthy`` by default: the embedded default).

Each seed reseeds both the world and the training run, so the gates see a distribution of
models. Training is a pure function of (world, architecture, training config, seed) and
bit-exact, so each worker process may train on its own and still agree with every other.
"""

from __future__ import annotations

import dataclasses

from mmgate.lab.conditions import HEALTHY, Condition
from mmgate.reference import (
    DEFAULT_ALIGNER,
    DEFAULT_TRAINING,
    AlignerConfig,
    ReferenceAligner,
    TrainConfig,
    TrainResult,
    train_reference,
)
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject
from mmgate.world import World, WorldConfig, make_world

BUILTIN_NAME = "mmgate-reference"


def split_set(world: World, split: str) -> PairedSet:
    """One split of the world as pairs, as the world pairs them, with the image side's labels."""
    part = world.split(split)
    return PairedSet(
        images=part.images,
        texts=part.tokens,
        factors=dict(part.factors),
        confounders=dict(part.confounders),
        name=f"synthetic-{split}",
    )


def canary_of(world: World) -> PairedSet:
    """The world's test split as the canary set, with its factor and confounder labels."""
    return split_set(world, "test")


def deployed(model: ReferenceAligner, world: WorldConfig) -> ReferenceAligner:
    """The model as deployed on ``world``: its text pipeline uses that world's preprocessing."""
    return dataclasses.replace(model, text_scale=world.text_scale, text_shift=world.text_shift)


class ReferenceTrainer:
    """Per-process memo of generated worlds and trained reference models."""

    def __init__(self) -> None:
        self._worlds: dict[tuple[str, int], World] = {}
        self._trained: dict[tuple[str, str, str, int, int], TrainResult] = {}

    def world(self, config: WorldConfig, seed: int) -> World:
        """The world of ``config`` at ``seed``, generated once per process."""
        key = (config.sha256(), seed)
        if key not in self._worlds:
            self._worlds[key] = make_world(config, seed)
        return self._worlds[key]

    def train(self, config: WorldConfig, seed: int, aligner: AlignerConfig = DEFAULT_ALIGNER,
              training: TrainConfig = DEFAULT_TRAINING, train_seed: int | None = None) -> TrainResult:
        """The reference aligner trained on the world of ``config`` at ``seed`` (training seed
        ``train_seed``, default ``seed``), trained once per process."""
        train_seed = seed if train_seed is None else train_seed
        key = (config.sha256(), aligner.sha256(), training.sha256(), seed, train_seed)
        if key not in self._trained:
            self._trained[key] = train_reference(self.world(config, seed), aligner, training, train_seed)
        return self._trained[key]

    def forget(self, seed: int) -> None:
        """Drop the worlds and models of world seed ``seed`` (bounded memory over many seeds)."""
        self._worlds = {k: v for k, v in self._worlds.items() if k[1] != seed}
        self._trained = {k: v for k, v in self._trained.items() if k[3] != seed}

    def model(self, condition: Condition, seed: int) -> ReferenceAligner:
        """The condition's model at ``seed``, deployed on the condition's evaluation world with the
        condition's scoring temperature (trained temperature x ``temperature_scale``)."""
        trained = self.train(condition.train_world, seed, condition.aligner, condition.training)
        model = deployed(trained.model, condition.eval_world)
        return dataclasses.replace(model, temperature=model.temperature * condition.temperature_scale)

    def subject(self, seed: int, condition: Condition = HEALTHY) -> Subject:
        """The built-in subject for one seed: the condition's model, its evaluation test split as the
        canary and the training split it was trained on (pairing corruption included)."""
        return Subject(name=BUILTIN_NAME, encoder=self.model(condition, seed),
                       canary=canary_of(self.world(condition.eval_world, seed)),
                       training=split_set(self.world(condition.train_world, seed), "train"))
