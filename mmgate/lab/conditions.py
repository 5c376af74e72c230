"""Conditions of the built-in subject: how the reference aligner is trained and on which world it is
evaluated. ``healthy`` is the embedded default; the others inject one failure each, for calibration.

Every injected condition acts on something the model actually sees: a gain on an embedding before
L2 normalisation would change nothing, so dominance is induced by noise asymmetry, tower capacity,
the loss weights and the per-tower update scale instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mmgate.errors import ConfigError
from mmgate.reference import (
    DEFAULT_ALIGNER,
    DEFAULT_TRAINING,
    AlignerConfig,
    TrainConfig,
)
from mmgate.world import DEFAULT_WORLD, WorldConfig

HEALTHY_FAMILY = "healthy"
FAILURE_FAMILIES: tuple[str, ...] = ("dominance", "spurious_alignment", "pairing_corruption", "collapse",
                                     "scoring_drift", "preprocessing_drift")
FAMILIES: tuple[str, ...] = (HEALTHY_FAMILY, *FAILURE_FAMILIES)


@dataclass(frozen=True)
class Condition:
    """A trained-and-evaluated setting of the built-in subject.

    ``train_world`` generates the training data; ``eval_world`` the canary (they differ for drifts
    that happen after training, e.g. preprocessing drift). ``temperature_scale`` multiplies the
    temperature the deployed encoder declares for scoring (1: the trained one). ``family`` is the
    failure family the gates should attribute it to (``healthy`` for none).
    """

    name: str
    family: str
    description: str
    train_world: WorldConfig = DEFAULT_WORLD
    eval_world: WorldConfig = DEFAULT_WORLD
    aligner: AlignerConfig = DEFAULT_ALIGNER
    training: TrainConfig = DEFAULT_TRAINING
    temperature_scale: float = 1.0
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"Condition.family: expected one of {list(FAMILIES)}, got {self.family!r}")
        scale = self.temperature_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) \
                or scale <= 0.0:
            raise ConfigError(f"Condition.temperature_scale: expected a finite number > 0, got {scale!r}")

    @property
    def injected(self) -> bool:
        return self.family != HEALTHY_FAMILY


def _both(**changes: object) -> dict[str, WorldConfig]:
    """The same world change for training and evaluation (a failure present throughout)."""
    world = DEFAULT_WORLD.replace(**changes)
    return {"train_world": world, "eval_world": world}


HEALTHY = Condition("healthy", HEALTHY_FAMILY, "the embedded default: a healthy reference aligner")

_INJECTED: tuple[Condition, ...] = (
    Condition("dominance_image_noise", "dominance",
              "images carry heavy pixel noise (std 1.5 against unit-variance images) in training and "
              "evaluation, so captions anchor the space",
              **_both(noise_image=1.5)),
    Condition("dominance_text_noise", "dominance",
              "35 % of caption tokens are replaced at random in training and evaluation, so images "
              "anchor the space",
              **_both(noise_text=0.35)),
    Condition("dominance_capacity_skew", "dominance",
              "the image tower has 4 hidden units against the text tower's 256",
              aligner=DEFAULT_ALIGNER.replace(hidden_img=4, hidden_txt=256)),
    Condition("dominance_loss_imbalance", "dominance",
              "only the image-to-text InfoNCE term is trained (text-to-image weight 0)",
              training=DEFAULT_TRAINING.replace(loss_weight_t2i=0.0)),
    Condition("dominance_gradient_imbalance", "dominance",
              "the text tower's updates are scaled by 0.02, so the image tower does the aligning",
              training=DEFAULT_TRAINING.replace(grad_scale_txt=0.02)),
    Condition("spurious_parity_marker", "spurious_alignment",
              "both modalities of every item carry its index-parity marker, in training and evaluation",
              **_both(confounder="parity")),
    Condition("spurious_id_codebook", "spurious_alignment",
              "both modalities of every item carry an 8-code ID bucket marker, in training and evaluation",
              **_both(confounder="bucket")),
    Condition("pairing_random_30", "pairing_corruption",
              "30 % of the training pairs are mispaired at random (a partial join bug)",
              train_world=DEFAULT_WORLD.replace(pairing="swap", pairing_rate=0.3, pairing_splits=("train",))),
    Condition("pairing_offset", "pairing_corruption",
              "every training caption is joined to the next row's image (an off-by-one join)",
              train_world=DEFAULT_WORLD.replace(pairing="offset", pairing_offset=1, pairing_splits=("train",))),
    Condition("collapse_low_temperature", "collapse",
              "InfoNCE temperature 0.01 instead of 0.1",
              aligner=DEFAULT_ALIGNER.replace(temperature=0.01)),
    Condition("collapse_high_lr", "collapse",
              "learning rate 0.05 instead of 0.002",
              training=DEFAULT_TRAINING.replace(lr=0.05)),
    Condition("collapse_weight_decay", "collapse",
              "decoupled weight decay 2.0 instead of 0.01",
              training=DEFAULT_TRAINING.replace(weight_decay=2.0)),
    Condition("collapse_stop_grad_image", "collapse",
              "the image tower never trains (stop-gradient): it stays at its random initialisation",
              training=DEFAULT_TRAINING.replace(stop_grad_img=True)),
    Condition("scoring_drift_temperature", "scoring_drift",
              "the deployed encoder scores with 5x the temperature it was trained with",
              temperature_scale=5.0),
    Condition("preprocessing_drift_image", "preprocessing_drift",
              "deployed images are scaled by 2 and shifted by +0.5 (a changed normalisation) after training",
              eval_world=DEFAULT_WORLD.replace(image_scale=2.0, image_shift=0.5)),
    Condition("preprocessing_drift_text", "preprocessing_drift",
              "deployed text features are scaled by 2 and shifted by +0.05 after training",
              eval_world=DEFAULT_WORLD.replace(text_scale=2.0, text_shift=0.05)),
)

CONDITIONS: Mapping[str, Condition] = MappingProxyType(
    {c.name: c for c in (HEALTHY, *_INJECTED)})


def condition(name: str) -> Condition:
    """The named condition; unknown names are rejected with the known ones listed."""
    if name not in CONDITIONS:
        raise ConfigError(f"built-in condition {name!r} is unknown; expected one of {sorted(CONDITIONS)}")
    return CONDITIONS[name]
