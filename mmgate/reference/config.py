"""Frozen, validated configurations of the reference aligner (architecture) and its training."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.errors import ConfigError
from mmgate.records.canonical import canonical_json_line

OPTIMIZERS: tuple[str, ...] = ("adamw", "sgd")


def _int(owner: str, name: str, value: Any, minimum: int) -> int:
    """`value` as an int, or ConfigError unless it is a (non-bool) integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{owner}.{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _float(owner: str, name: str, value: Any, *, positive: bool = False) -> float:
    """`value` as a float, or ConfigError unless it is finite and >= 0 (> 0 when `positive`)."""
    expected = "a finite number > 0" if positive else "a finite number >= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{owner}.{name}: expected {expected}, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0.0 or (positive and x == 0.0):
        raise ConfigError(f"{owner}.{name}: expected {expected}, got {value!r}")
    return x


def _bool(owner: str, name: str, value: Any) -> bool:
    """`value` as a bool, or ConfigError unless it is one."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{owner}.{name}: expected true or false, got {value!r}")
    return bool(value)


def _set(obj: object, name: str, value: Any) -> None:
    """Store a validated, coerced field value on a frozen dataclass."""
    object.__setattr__(obj, name, value)


class _Canonical:
    """Mixin: canonical JSON, sha256 and validated replace for flat frozen config dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def canonical_json(self) -> str:
        """Sorted-key, compact JSON: the byte form that is hashed."""
        return canonical_json_line(self.to_dict())

    def sha256(self) -> str:
        """sha256 hex digest of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> Any:
        """A copy with `changes` applied and validated again."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class AlignerConfig(_Canonical):
    """Architecture of the two towers; unequal hidden widths give a capacity skew."""

    emb_dim: int = 48
    hidden_img: int = 128
    hidden_txt: int = 128
    temperature: float = 0.1

    def __post_init__(self) -> None:
        owner = "AlignerConfig"
        for name, minimum in (("emb_dim", 2), ("hidden_img", 1), ("hidden_txt", 1)):
            _set(self, name, _int(owner, name, getattr(self, name), minimum))
        _set(self, "temperature", _float(owner, "temperature", self.temperature, positive=True))


@dataclass(frozen=True)
class TrainConfig(_Canonical):
    """Optimisation settings plus the dominance/collapse controls, each of which acts on training.

    grad_scale_* multiplies the tower's parameter update (its effective learning rate): a gain on
    the raw gradient would cancel inside Adam's normalisation, so the gain is applied to the step.
    grad_clip is the per-tower gradient-norm ceiling (0 disables clipping). augment_image_noise is
    the largest std of the fresh gaussian pixel noise drawn per image and epoch (level ~ U(0, max)).
    """

    steps: int = 1200
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-2
    grad_clip: float = 5.0
    eval_every: int = 100
    loss_weight_i2t: float = 1.0
    loss_weight_t2i: float = 1.0
    grad_scale_img: float = 1.0
    grad_scale_txt: float = 1.0
    stop_grad_img: bool = False
    stop_grad_txt: bool = False
    augment_image_noise: float = 1.2

    def __post_init__(self) -> None:
        owner = "TrainConfig"
        for name, minimum in (("steps", 1), ("batch_size", 2), ("eval_every", 1)):
            _set(self, name, _int(owner, name, getattr(self, name), minimum))
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"{owner}.optimizer: expected one of {list(OPTIMIZERS)}, "
                              f"got {self.optimizer!r}")
        for name in ("lr", "grad_scale_img", "grad_scale_txt"):
            _set(self, name, _float(owner, name, getattr(self, name), positive=True))
        for name in ("weight_decay", "grad_clip", "loss_weight_i2t", "loss_weight_t2i",
                     "augment_image_noise"):
            _set(self, name, _float(owner, name, getattr(self, name)))
        for name in ("stop_grad_img", "stop_grad_txt"):
            _set(self, name, _bool(owner, name, getattr(self, name)))
        if self.loss_weight_i2t == 0.0 and self.loss_weight_t2i == 0.0:
            raise ConfigError(f"{owner}.loss_weight_i2t, {owner}.loss_weight_t2i: "
                              "expected at least one > 0")
        if self.stop_grad_img and self.stop_grad_txt:
            raise ConfigError(f"{owner}.stop_grad_img, {owner}.stop_grad_txt: "
                              "expected at most one frozen tower (both leave nothing to train)")


DEFAULT_ALIGNER = AlignerConfig()
DEFAULT_TRAINING = TrainConfig()
