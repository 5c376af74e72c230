"""World configuration: latent factor cardinalities and every drift knob, frozen and validated."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from mmgate.errors import ConfigError
from mmgate.records.canonical import canonical_json_line
from mmgate.world.checks import require_choice, require_int, require_number
from mmgate.world.layout import FACTOR_TOKEN_BASE

FACTOR_NAMES = ("shape", "orient", "freq", "phase", "thick")
CONFOUNDERS = ("none", "parity", "bucket")
PAIRING_MODES = ("none", "swap", "offset", "block")
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class FactorSpec:
    """Cardinalities of the latent factors (each >= 2, so caption noise has another value)."""

    n_shape: int = 4
    n_orient: int = 8
    n_freq: int = 6
    n_phase: int = 8
    n_thick: int = 3

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = require_int(f"FactorSpec.{f.name}", getattr(self, f.name), 2)
            object.__setattr__(self, f.name, value)

    @staticmethod
    def names() -> tuple[str, ...]:
        """Factor names in caption order."""
        return FACTOR_NAMES

    def cardinality(self, name: str) -> int:
        """Number of values of factor ``name``."""
        if name not in FACTOR_NAMES:
            raise ConfigError(f"factor name: expected one of {list(FACTOR_NAMES)}, got {name!r}")
        return int(getattr(self, f"n_{name}"))

    def cardinalities(self) -> tuple[int, ...]:
        """Cardinalities in caption order."""
        return tuple(self.cardinality(name) for name in FACTOR_NAMES)

    def to_dict(self) -> dict[str, int]:
        """JSON-ready dict of the cardinalities."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FactorSpec:
        """Inverse of ``to_dict``; unknown keys raise ConfigError."""
        return cls(**_known_keys("FactorSpec", cls, data))


def _known_keys(owner: str, cls: type, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{owner}: expected a dict, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{owner}: unknown field(s) {unknown}; expected a subset of "
                          f"{sorted(names)}")
    return dict(data)


@dataclass(frozen=True)
class WorldConfig:
    """Every knob of the synthetic world; a pure description, validated on construction.

    ``orient_concentration`` c mixes the orientation law: with probability c an orientation is drawn
    uniformly from the first ``orient_subset`` ones, otherwise uniformly from all (c = 0: uniform).
    The default trains on 4096 pairs: with the notebook's 1024, training on 30 % mispaired data
    costs the reference aligner more than the chapter-3 corruption ceiling allows (slope 1.1-1.4
    per unit against 0.65); with 4096 it costs 0.2-0.4.
    """

    n_train: int = 4096
    n_val: int = 256
    n_test: int = 256
    image_side: int = 16
    seq_len: int = 11
    vocab_size: int = 64
    factors: FactorSpec = field(default_factory=FactorSpec)
    noise_image: float = 0.15
    noise_text: float = 0.02
    confounder: str = "none"
    confounder_strength: float = 1.25
    confounder_prevalence: float = 1.0
    orient_concentration: float = 0.0
    orient_subset: int = 2
    image_scale: float = 1.0
    image_shift: float = 0.0
    text_scale: float = 1.0
    text_shift: float = 0.0
    token_substitution: float = 0.0
    token_dropout: float = 0.0
    token_shuffle: float = 0.0
    pairing: str = "none"
    pairing_rate: float = 0.0
    pairing_offset: int = 1
    pairing_block: int = 16
    pairing_splits: tuple[str, ...] = ("train",)

    def __post_init__(self) -> None:
        own = "WorldConfig"
        if not isinstance(self.factors, FactorSpec):
            raise ConfigError(f"{own}.factors: expected a FactorSpec, got {self.factors!r}")
        checked: dict[str, Any] = {}
        for name, minimum in (("n_train", 2), ("n_val", 2), ("n_test", 2), ("image_side", 8),
                              ("pairing_offset", 1), ("pairing_block", 1)):
            checked[name] = require_int(f"{own}.{name}", getattr(self, name), minimum)
        for name in ("noise_text", "confounder_prevalence", "orient_concentration",
                     "token_substitution", "token_dropout", "token_shuffle", "pairing_rate"):
            checked[name] = require_number(f"{own}.{name}", getattr(self, name), low=0.0, high=1.0)
        for name in ("noise_image", "confounder_strength"):
            checked[name] = require_number(f"{own}.{name}", getattr(self, name), low=0.0)
        for name in ("image_scale", "text_scale"):
            checked[name] = require_number(f"{own}.{name}", getattr(self, name), positive=True)
        for name in ("image_shift", "text_shift"):
            checked[name] = require_number(f"{own}.{name}", getattr(self, name))
        checked["confounder"] = require_choice(f"{own}.confounder", self.confounder, CONFOUNDERS)
        checked["pairing"] = require_choice(f"{own}.pairing", self.pairing, PAIRING_MODES)
        checked["pairing_splits"] = self._checked_pairing_splits()
        n_orient = self.factors.n_orient
        subset = require_int(f"{own}.orient_subset", self.orient_subset, 1)
        if subset > n_orient:
            raise ConfigError(f"{own}.orient_subset: expected an integer in [1, factors.n_orient="
                              f"{n_orient}], got {subset}")
        checked["orient_subset"] = subset
        grammar = 2 * len(FACTOR_NAMES) - 1
        marker = int(checked["confounder"] != "none")
        seq_len = require_int(f"{own}.seq_len", self.seq_len, 1)
        if seq_len < grammar + marker:
            raise ConfigError(f"{own}.seq_len: expected an integer >= {grammar + marker} "
                              f"({grammar} caption positions + {marker} marker position), "
                              f"got {seq_len}")
        checked["seq_len"] = seq_len
        min_vocab = FACTOR_TOKEN_BASE + sum(self.factors.cardinalities())
        vocab = require_int(f"{own}.vocab_size", self.vocab_size, 1)
        if vocab < min_vocab:
            raise ConfigError(f"{own}.vocab_size: expected an integer >= {min_vocab} (factor "
                              f"tokens start at {FACTOR_TOKEN_BASE} and the factors need "
                              f"{min_vocab - FACTOR_TOKEN_BASE} ids), got {vocab}")
        checked["vocab_size"] = vocab
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def _checked_pairing_splits(self) -> tuple[str, ...]:
        value = self.pairing_splits
        expected = f"a list of distinct split names from {list(SPLIT_NAMES)}"
        if isinstance(value, str) or not isinstance(value, (tuple, list)):
            raise ConfigError(f"WorldConfig.pairing_splits: expected {expected}, got {value!r}")
        if any(name not in SPLIT_NAMES for name in value) or len(set(value)) != len(value):
            raise ConfigError(f"WorldConfig.pairing_splits: expected {expected}, got {value!r}")
        return tuple(value)

    @property
    def n_total(self) -> int:
        """Size of the item pool the splits are drawn from."""
        return self.n_train + self.n_val + self.n_test

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: nested FactorSpec as a dict, tuples as lists."""
        data = dataclasses.asdict(self)
        data["pairing_splits"] = list(self.pairing_splits)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        """Inverse of ``to_dict``; unknown keys raise ConfigError, missing keys take defaults."""
        values = _known_keys("WorldConfig", cls, data)
        if isinstance(values.get("factors"), dict):
            values["factors"] = FactorSpec.from_dict(values["factors"])
        return cls(**values)

    def canonical_json(self) -> str:
        """Canonical JSON text (sorted keys, no whitespace): the hashed identity of the world."""
        return canonical_json_line(self.to_dict())

    def sha256(self) -> str:
        """Hex sha256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> WorldConfig:
        """Copy with ``changes`` applied and validated; unknown field names raise ConfigError."""
        _known_keys("WorldConfig", WorldConfig, changes)
        return dataclasses.replace(self, **changes)


DEFAULT_WORLD = WorldConfig()
CHAPTER3_HARD = WorldConfig(n_train=1024, noise_text=0.10)
NAMED_WORLDS: Mapping[str, WorldConfig] = MappingProxyType(
    {"default": DEFAULT_WORLD, "chapter3-hard": CHAPTER3_HARD})
