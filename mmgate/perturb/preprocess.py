"""Preprocessing operators: a per-modality scale or shift of numeric inputs (a pipeline that
normalises differently at serving time than at training time)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from mmgate.errors import ConfigError
from mmgate.perturb.base import Operator, replaced
from mmgate.perturb.data import (
    as_float,
    finished,
    image_reason,
    numeric_reason,
    value_range,
)
from mmgate.perturb.lazy import PerturbedImages
from mmgate.subjects.paired import LazyRows, PairedSet

MODALITIES = {"image": "images", "text": "texts"}


@dataclass(frozen=True)
class PreprocessOperator(Operator):
    """Acts on the float or uint8 array of one ``modality`` ("image" or "text"), or on image files
    read lazily (each decoded image scaled as it is read, see ``PerturbedImages``)."""

    modality: str = "image"

    SIGNED = True

    def _check_params(self) -> None:
        if self.modality not in MODALITIES:
            raise ConfigError(f"{self.NAME}.modality: expected one of {list(MODALITIES)}, got "
                              f"{self.modality!r}")

    def applies_to(self, paired_set: PairedSet) -> str | None:
        items = getattr(paired_set, MODALITIES[self.modality])
        if self.modality == "image" and isinstance(items, LazyRows) and len(items) > 0:
            return image_reason(np.asarray(items[0])[None])
        return numeric_reason(items, self.modality)

    @abstractmethod
    def transform(self, x: np.ndarray, full: float) -> np.ndarray:
        ...

    def _apply(self, paired_set: PairedSet) -> PairedSet:
        attr = MODALITIES[self.modality]
        items = getattr(paired_set, attr)
        if isinstance(items, LazyRows):  # decoded image files: each row perturbed as it is read
            return replaced(paired_set, images=PerturbedImages(items, self, tuple(range(len(items)))))
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
