"""Independent random streams of the world: one per component, so turning one knob never moves
the random draws of another."""

from __future__ import annotations

import numpy as np

from mmgate.world.checks import require_int

FACTORS = 1
IMAGE_NOISE = 2
CAPTION_NOISE = 3
MARKER = 4
TOKEN_CORRUPTION = 5
PAIRING = 6
SPLITS = 7


def check_seed(seed: object) -> int:
    """Return ``seed`` as an int after checking it is a non-negative integer."""
    return require_int("seed", seed, 0)


def stream(seed: int, component: int, *extra: int) -> np.random.Generator:
    """Generator of one world component: ``SeedSequence([seed, component, *extra])``."""
    return np.random.default_rng(np.random.SeedSequence([check_seed(seed), component, *extra]))


def item_uniform(seed: int, component: int, draw: int, index: np.ndarray,
                 shape: tuple[int, ...] = ()) -> np.ndarray:
    """Uniform [0, 1) draws of ``shape`` per world item, keyed by item index: row k belongs to item
    ``index[k]`` whatever other items are drawn with it (one sub-stream per ``draw``)."""
    idx = np.asarray(index, dtype=np.int64)
    rows = int(idx.max()) + 1 if idx.size else 0
    return stream(seed, component, draw).random((rows, *shape))[idx]


def item_normal(seed: int, component: int, draw: int, index: np.ndarray,
                shape: tuple[int, ...] = ()) -> np.ndarray:
    """Standard normal draws of ``shape`` per world item, keyed by item index like item_uniform."""
    idx = np.asarray(index, dtype=np.int64)
    rows = int(idx.max()) + 1 if idx.size else 0
    return stream(seed, component, draw).standard_normal((rows, *shape))[idx]
