"""Operators by name: the built-ins, plus any a subject with other data types declares.

``OperatorRegistry`` is an explicit value, built per subject (``registry_for``): there is no
process-wide registry, so what an operator name means depends only on the subject in hand, and a
name, once taken, cannot be rebound.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping

from mmgate.errors import ConfigError
from mmgate.perturb.chain import Chain
from mmgate.perturb.images import (
    Blur,
    Brightness,
    ChannelShift,
    Contrast,
    Crop,
    GaussianNoise,
    StrokeWeight,
    Translate,
    Watermark,
)
from mmgate.perturb.pairing import BlockShuffle, OffsetPairs, SwapPairs
from mmgate.perturb.preprocess import PreprocessScale, PreprocessShift
from mmgate.perturb.texts import (
    MarkerToken,
    TemplatePrefix,
    TokenDropout,
    TokenShuffle,
    TokenSubstitution,
)

Factory = Callable[..., Any]

BUILTIN_OPERATORS: Mapping[str, Factory] = MappingProxyType({cls.NAME: cls for cls in (
    GaussianNoise, Brightness, Contrast, Blur, StrokeWeight, ChannelShift, Watermark, Crop, Translate,
    TokenDropout, TokenSubstitution, TokenShuffle, TemplatePrefix, MarkerToken,
    SwapPairs, OffsetPairs, BlockShuffle, PreprocessScale, PreprocessShift,
)})


class OperatorRegistry:
    """Factories by name: ``factory(intensity=..., seed=..., **params)`` returns an operator
    (``apply``, ``applies_to``, ``to_json``, ``intensity``, ``seed``)."""

    def __init__(self, factories: Mapping[str, Factory] = BUILTIN_OPERATORS) -> None:
        self._factories: dict[str, Factory] = dict(factories)
        self._signed: set[str] = {name for name, f in self._factories.items()
                                  if getattr(f, "SIGNED", False)}

    def names(self) -> tuple[str, ...]:
        """Registered names, sorted."""
        return tuple(sorted(self._factories))

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def signed(self, name: str) -> bool:
        """Whether ``name`` also acts with negative intensities."""
        self._factory(name)
        return name in self._signed

    def register(self, name: str, factory: Factory, signed: bool = False) -> None:
        """Add ``factory`` under ``name``; ConfigError if the name is taken or malformed."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"operator name: expected an identifier-like string, got {name!r}")
        if not callable(factory):
            raise ConfigError(f"operator {name!r}: factory must be callable, got "
                              f"{type(factory).__name__}")
        if name in self._factories:
            raise ConfigError(f"operator name {name!r} is already registered")
        self._factories[name] = factory
        if signed:
            self._signed.add(name)

    def _factory(self, name: str) -> Factory:
        if name not in self._factories:
            raise ConfigError(f"unknown perturbation operator {name!r}; expected one of "
                              f"{list(self.names())}")
        return self._factories[name]

    def create(self, name: str, intensity: float, seed: int = 0, **params: Any) -> Any:
        """The operator ``name`` at ``intensity`` and ``seed``; bad parameters raise ConfigError."""
        try:
            return self._factory(name)(intensity=intensity, seed=seed, **params)
        except TypeError as exc:
            raise ConfigError(f"operator {name!r}: bad parameters {sorted(params)}: {exc}") from exc

    def from_json(self, data: Mapping[str, Any]) -> Any:
        """Rebuild an operator or chain from its ``to_json``."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise ConfigError(f"perturbation: expected a table with a 'name', got {data!r}")
        if data["name"] == "chain":
            return Chain(tuple(self.from_json(step) for step in data.get("steps", ())))
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
                  if k not in ("name", "intensity", "seed")}
        return self.create(data["name"], data.get("intensity"), data.get("seed", 0), **params)


def registry_for(operators: Mapping[str, Factory] | None = None) -> OperatorRegistry:
    """The built-ins plus a subject's own operators (``Subject.operators``: name -> factory; a
    factory with a true ``SIGNED`` attribute also acts with negative intensities)."""
    registry = OperatorRegistry()
    for name, factory in (operators or {}).items():
        registry.register(name, factory, bool(getattr(factory, "SIGNED", False)))
    return registry


def make_operator(name: str, intensity: float, seed: int = 0, **params: Any) -> Any:
    """The built-in operator ``name``."""
    return OperatorRegistry().create(name, intensity, seed, **params)
