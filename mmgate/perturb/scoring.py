"""Scoring perturbations act on logits, not data: a temperature scale divides every score by the
same positive factor, so ranks (and every recall@k) are invariant to it; only calibrated
probabilities and loss values move."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.perturb.base import checked_intensity


@dataclass(frozen=True)
class ScoringPerturbation(ABC):
    """A change of the scoring rule: ``apply_scores`` and ``apply_temperature``; never data."""

    intensity: float
    seed: int = 0

    NAME: ClassVar[str] = "scoring"
    INTENSITY: ClassVar[tuple] = (None, None, False, False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "intensity", checked_intensity(self.NAME, self.intensity,
                                                                self.INTENSITY))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"{self.NAME}.seed: expected an integer >= 0, got {self.seed!r}")

    @property
    def name(self) -> str:
        return self.NAME

    def to_json(self) -> dict[str, Any]:
        """``{"name", "intensity", "seed"}``, as for data operators."""
        return {"name": self.NAME, "intensity": self.intensity, "seed": self.seed}

    @abstractmethod
    def apply_scores(self, scores: np.ndarray) -> np.ndarray:
        ...

    @abstractmethod
    def apply_temperature(self, temperature: float) -> float:
        ...


@dataclass(frozen=True)
class TemperatureScale(ScoringPerturbation):
    """Multiplies the softmax temperature by ``1 + intensity`` (so logits shrink by that factor)."""

    NAME = "temperature_scale"
    INTENSITY = (-1.0, None, True, False)

    @property
    def factor(self) -> float:
        return 1.0 + self.intensity

    def apply_scores(self, scores: np.ndarray) -> np.ndarray:
        """A new score matrix: ``scores / (1 + intensity)``; the order of every row is unchanged."""
        arr = np.asarray(scores)
        if arr.dtype.kind != "f":
            raise InputError(f"scores: expected a float array, got dtype {arr.dtype}")
        return arr / arr.dtype.type(self.factor)

    def apply_temperature(self, temperature: float) -> float:
        """The scaled temperature; ``temperature`` must be a finite number > 0."""
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not np.isfinite(temperature) or temperature <= 0:
            raise InputError(f"temperature: expected a finite number > 0, got {temperature!r}")
        return float(temperature) * self.factor
