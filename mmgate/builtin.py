"""The embedded default subject: the reference aligner trained on the synthetic world.

Each seed reseeds both the world and the training run, so the gates see a distribution of
healthy models. Training is a pure function of (world config, training config, seed) and
bit-exact, so each worker process may train on its own and still agree with every other.
"""

from __future__ import annotations

from mmgate.encoders import PairedSet, Subject
from mmgate.reference import TrainResult, train_reference
from mmgate.world import DEFAULT_WORLD, World, WorldConfig, make_world

BUILTIN_NAME = "mmgate-reference"


def canary_of(world: World) -> PairedSet:
    """The world's test split as the canary set, with its factor and confounder labels."""
    test = world.test
    return PairedSet(
        images=test.images,
        texts=test.tokens,
        factors=dict(test.factors),
        confounders=dict(test.confounders),
        name="synthetic-test",
    )


class ReferenceTrainer:
    """Per-process memo of trained reference models, keyed by (world config, seed)."""

    def __init__(self) -> None:
        self._worlds: dict[tuple[str, int], World] = {}
        self._trained: dict[tuple[str, int], TrainResult] = {}

    def world(self, config: WorldConfig, seed: int) -> World:
        key = (config.sha256(), seed)
        if key not in self._worlds:
            self._worlds[key] = make_world(config, seed)
        return self._worlds[key]

    def train(self, config: WorldConfig, seed: int) -> TrainResult:
        key = (config.sha256(), seed)
        if key not in self._trained:
            self._trained[key] = train_reference(self.world(config, seed), seed=seed)
        return self._trained[key]

    def subject(self, seed: int, config: WorldConfig = DEFAULT_WORLD) -> Subject:
        """The built-in subject for one seed: a model trained on that seed's world, its test split."""
        trained = self.train(config, seed)
        return Subject(name=BUILTIN_NAME, encoder=trained.model, canary=canary_of(self.world(config, seed)))
