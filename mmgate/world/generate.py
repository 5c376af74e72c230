"""The world: a pool of paired items cut into train/val/test, a pure function of (config, seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.world import streams
from mmgate.world.config import DEFAULT_WORLD, FACTOR_NAMES, SPLIT_NAMES, WorldConfig
from mmgate.world.confounders import confounder_labels
from mmgate.world.factors import sample_factors
from mmgate.world.pairing import corrupt_pairing
from mmgate.world.render import render_images
from mmgate.world.splits import check_split_hygiene, split_indices
from mmgate.world.text import caption_tokens


@dataclass(frozen=True, eq=False)
class SplitData:
    """One split, paired by row: image i goes with text i (world items index[i], text_index[i])."""

    name: str
    images: np.ndarray
    tokens: np.ndarray
    factors: dict[str, np.ndarray]
    confounders: dict[str, np.ndarray]
    index: np.ndarray
    text_index: np.ndarray

    def __post_init__(self) -> None:
        n = np.shape(self.images)[0] if np.ndim(self.images) else -1
        arrays = {"tokens": self.tokens, "index": self.index, "text_index": self.text_index,
                  **{f"factors[{k!r}]": v for k, v in self.factors.items()},
                  **{f"confounders[{k!r}]": v for k, v in self.confounders.items()}}
        for name, arr in arrays.items():
            if np.ndim(arr) == 0 or np.shape(arr)[0] != n:
                raise InputError(f"SplitData.{name}: expected {n} rows like images, got shape "
                                 f"{np.shape(arr)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass(frozen=True, eq=False)
class World:
    """A generated world: its config, seed and three splits (arrays are read-only)."""

    config: WorldConfig
    seed: int
    train: SplitData
    val: SplitData
    test: SplitData

    def split(self, name: str) -> SplitData:
        """The split called ``name`` ("train", "val" or "test")."""
        if name not in SPLIT_NAMES:
            raise InputError(f"split name: expected one of {list(SPLIT_NAMES)}, got {name!r}")
        return getattr(self, name)


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(arr)
    out.setflags(write=False)
    return out


def pairing_permutation(config: WorldConfig, split: str, n: int, seed: int) -> np.ndarray:
    """Positions of the captions paired with the ``n`` rows of ``split`` in ``make_world(config,
    seed)`` (the identity when the split's pairing is not corrupted)."""
    if config.pairing == "none" or split not in config.pairing_splits:
        return np.arange(n)
    split_seed = int(np.random.SeedSequence(
        [seed, streams.PAIRING, SPLIT_NAMES.index(split)]).generate_state(1)[0])
    return corrupt_pairing(n, config.pairing, rate=config.pairing_rate, offset=config.pairing_offset,
                           block=config.pairing_block, seed=split_seed)


def _text_rows(config: WorldConfig, name: str, idx: np.ndarray, seed: int) -> np.ndarray:
    return idx[pairing_permutation(config, name, idx.size, seed)]


def make_world(config: WorldConfig = DEFAULT_WORLD, seed: int = 0) -> World:
    """Pure function of (config, seed): same inputs -> bit-identical arrays."""
    if not isinstance(config, WorldConfig):
        raise ConfigError(f"config: expected a WorldConfig, got {type(config).__name__}")
    seed = streams.check_seed(seed)
    factors = sample_factors(config, config.n_total, seed)
    images = render_images(factors, config, seed)
    tokens = caption_tokens(factors, config, seed)
    splits = split_indices(config.n_train, config.n_val, config.n_test, seed)
    check_split_hygiene(splits)
    parts = {}
    for name in SPLIT_NAMES:
        idx = getattr(splits, name).astype(np.int64)
        text_idx = _text_rows(config, name, idx, seed)
        parts[name] = SplitData(
            name=name,
            images=_frozen(images[idx]),
            tokens=_frozen(tokens[text_idx]),
            factors={f: _frozen(factors[f][idx]) for f in FACTOR_NAMES},
            confounders={k: _frozen(v) for k, v in confounder_labels(idx).items()},
            index=_frozen(idx),
            text_index=_frozen(text_idx),
        )
    return World(config=config, seed=seed, **parts)
