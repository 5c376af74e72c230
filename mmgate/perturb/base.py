"""The operator base: a frozen, seeded, typed perturbation with a validated intensity, applied to a
PairedSet as a pure function (inputs are never mutated) and described by ``to_json``."""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.subjects.items import item_ids
from mmgate.subjects.paired import PairedSet


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Operator(ABC):
    """A data perturbation: ``apply(paired_set)`` returns a new, perturbed set.

    ``intensity`` 0 is the identity; ``INTENSITY`` holds (low, high, low_open, high_open) of its
    allowed range (None: unbounded); ``SIGNED`` operators also act with negative intensities.
    """

    intensity: float
    seed: int = 0

    NAME: ClassVar[str] = "operator"
    INTENSITY: ClassVar[tuple[float | None, float | None, bool, bool]] = (0.0, None, False, False)
    SIGNED: ClassVar[bool] = False
    STREAM: ClassVar[int] = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "intensity", checked_intensity(self.NAME, self.intensity,
                                                                self.INTENSITY))
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"{self.NAME}.seed: expected an integer >= 0, got {seed!r}")
        object.__setattr__(self, "seed", int(seed))
        self._check_params()

    @property
    def name(self) -> str:
        return self.NAME

    def _check_params(self) -> None:
        """Validate operator-specific parameters (ConfigError naming the field)."""

    def params(self) -> dict[str, Any]:
        """Operator-specific parameters (every field but intensity and seed), JSON-ready."""
        return {f.name: _json_value(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in ("intensity", "seed")}

    def to_json(self) -> dict[str, Any]:
        """``{"name", "intensity", "seed", **params}``: what the bundle records."""
        return {"name": self.NAME, "intensity": self.intensity, "seed": self.seed, **self.params()}

    def rng(self, *extra: int) -> np.random.Generator:
        """This operator's independent random stream."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.STREAM, *extra]))

    @abstractmethod
    def applies_to(self, paired_set: PairedSet) -> str | None:
        """None when the operator can act on ``paired_set``, else the reason it cannot."""

    @abstractmethod
    def _apply(self, paired_set: PairedSet) -> PairedSet:
        ...

    def apply(self, paired_set: PairedSet) -> PairedSet:
        """The perturbed set (the input is left untouched); InputError when it cannot apply."""
        reason = self.applies_to(paired_set)
        if reason is not None:
            raise InputError(f"{self.NAME}: cannot apply to {paired_set.name!r}: {reason}")
        if self.intensity == 0.0:
            return paired_set
        return self._apply(paired_set)


def checked_intensity(name: str, value: Any,
                      bounds: tuple[float | None, float | None, bool, bool]) -> float:
    """``value`` as a float inside ``bounds``, else ConfigError naming ``<name>.intensity``."""
    low, high, low_open, high_open = bounds
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    expected = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}.intensity: expected {expected}, got {value!r}")
    x = float(value)
    bad = (not math.isfinite(x)
           or (low is not None and (x <= low if low_open else x < low))
           or (high is not None and (x >= high if high_open else x > high)))
    if bad:
        raise ConfigError(f"{name}.intensity: expected {expected}, got {value!r}")
    return x


def replaced(paired_set: PairedSet, *, images: Any = None, texts: Any = None,
             text_order: np.ndarray | None = None) -> PairedSet:
    """A new PairedSet with ``images`` and/or ``texts`` replaced, labels and name kept. The item
    identity of a replaced side is pinned to the original's (``text_order`` says which original row
    each text now comes from), so a perturbation never splits or merges items; lazy images that
    carry their base's identity (``content_keys``) are left lazy."""
    image_ids = paired_set.image_ids
    if images is not None and image_ids is None and not callable(getattr(images, "content_keys", None)):
        image_ids = item_ids(paired_set, "image")
    text_ids = paired_set.text_ids if texts is None else item_ids(paired_set, "text")
    if text_ids is not None and text_order is not None:
        text_ids = text_ids[text_order]
    return PairedSet(
        images=paired_set.images if images is None else images,
        texts=paired_set.texts if texts is None else texts,
        factors=dict(paired_set.factors),
        confounders=dict(paired_set.confounders),
        name=paired_set.name,
        groups=paired_set.groups,
        image_ids=image_ids,
        text_ids=text_ids,
    )
