"""Conditions of the built-in subject: how the reference aligner is trained and on which world it is
evaluated. ``healthy`` is the embedded default; the calibration adds injected failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from mmgate.errors import ConfigError
from mmgate.reference import DEFAULT_ALIGNER, DEFAULT_TRAINING, AlignerConfig, TrainConfig
from mmgate.world import DEFAULT_WORLD, WorldConfig


@dataclass(frozen=True)
class Condition:
    """A trained-and-evaluated setting of the built-in subject.

    ``train_world`` generates the training data; ``eval_world`` the canary (they differ for drifts
    that happen after training, e.g. preprocessing drift). ``family`` is the failure family the
    gates should attribute it to (``healthy`` for none).
    """

    name: str
    family: str
    description: str
    train_world: WorldConfig = DEFAULT_WORLD
    eval_world: WorldConfig = DEFAULT_WORLD
    aligner: AlignerConfig = DEFAULT_ALIGNER
    training: TrainConfig = DEFAULT_TRAINING
    tags: tuple[str, ...] = field(default=())

    @property
    def injected(self) -> bool:
        return self.family != "healthy"


HEALTHY = Condition("healthy", "healthy", "the embedded default: a healthy reference aligner")

CONDITIONS: Mapping[str, Condition] = MappingProxyType({HEALTHY.name: HEALTHY})


def condition(name: str) -> Condition:
    """The named condition; unknown names are rejected with the known ones listed."""
    if name not in CONDITIONS:
        raise ConfigError(f"built-in condition {name!r} is unknown; expected one of {sorted(CONDITIONS)}")
    return CONDITIONS[name]
