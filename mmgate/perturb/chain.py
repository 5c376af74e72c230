"""A chain of operators applied in order: itself an operator-like value with ``to_json``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmgate.errors import ConfigError
from mmgate.subjects.paired import PairedSet


@dataclass(frozen=True)
class Chain:
    """Operators applied left to right; each step keeps its own intensity and seed.

    ``intensity`` is the largest absolute step intensity (0 for an empty chain, the identity).
    """

    steps: tuple = ()

    name = "chain"

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        for i, step in enumerate(steps):
            if not all(callable(getattr(step, m, None)) for m in ("apply", "applies_to", "to_json")):
                raise ConfigError(f"Chain.steps[{i}]: expected a perturbation operator, got "
                                  f"{type(step).__name__}")
        object.__setattr__(self, "steps", steps)

    @property
    def intensity(self) -> float:
        return max((abs(step.intensity) for step in self.steps), default=0.0)

    def applies_to(self, paired_set: PairedSet) -> str | None:
        """The first step's reason for not applying (each step sees its predecessor's output
        type, which no built-in operator changes)."""
        for step in self.steps:
            reason = step.applies_to(paired_set)
            if reason is not None:
                return f"{step.name}: {reason}"
        return None

    def apply(self, paired_set: PairedSet) -> PairedSet:
        """Every step in order; the input is left untouched."""
        out = paired_set
        for step in self.steps:
            out = step.apply(out)
        return out

    def to_json(self) -> dict[str, Any]:
        """``{"name": "chain", "intensity", "seed": None, "steps": [...]}``; steps carry seeds."""
        return {"name": "chain", "intensity": self.intensity, "seed": None,
                "steps": [step.to_json() for step in self.steps]}
