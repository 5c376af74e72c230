"""Preprocessing operators: a per-modality scale or shift of numeric inputs (a pipeline that
normalises differently at serving time than at training time)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from mmgate.errors import ConfigError
from mmgate.perturb.base import Operator, replaced
from mmgate.perturb.data import as_float, finished, numeric_reason, value_range
from mmgate.subjects.paired import PairedSet

MODALITIES = {"image": "images", "text": "texts"}


@dataclass(frozen=True)
class PreprocessOperator(Operator):
    """Acts on the float or uint8 array of one ``modality`` ("image" or "text")."""

    modality: str = "image"

    SIGNED = True

    def _check_params(self) -> None:
        if self.modality not in MODALITIES:
            raise ConfigError(f"{self.NAME}.modality: expected one of {list(MODALITIES)}, got "
                              f"{self.modality!r}")

    def applies_to(self, paired_set: PairedSet) -> str | None:
        return numeric_reason(getattr(paired_set, MODALITIES[self.modality]), self.modality)

    @abstractmethod
    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        ...

    def _apply(self, paired_set: PairedSet) -> PairedSet:
        attr = MODALITIES[self.modality]
        items = getattr(paired_set, attr)
        out = finished(self.transform(as_float(items), value_range(items)), items)
        return replaced(paired_set, **{attr: out})


@dataclass(frozen=True)
class PreprocessScale(PreprocessOperator):
    """Multiplies the modality's inputs by ``1 + intensity``."""

    NAME = "preprocess_scale"
    INTENSITY = (-1.0, None, True, False)

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        return x * (1.0 + self.intensity)


@dataclass(frozen=True)
class PreprocessShift(PreprocessOperator):
    """Adds ``intensity`` (times the full range) to the modality's inputs."""

    NAME = "preprocess_shift"
    INTENSITY = (None, None, False, False)

    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        return x + self.intensity * full
