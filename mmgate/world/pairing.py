"""Pairing corruption: which row's text each image row is paired with (swap, offset, block)."""

from __future__ import annotations

import math

import numpy as np

from mmgate.errors import InputError
from mmgate.world import streams
from mmgate.world.checks import require_choice, require_int, require_number
from mmgate.world.config import PAIRING_MODES


def _cycle(order: np.ndarray, size: int) -> np.ndarray:
    """Derangement of the elements in ``order`` over range(size): order[k] -> order[k + 1]."""
    target = np.arange(size)
    if order.size >= 2:
        target[order] = np.roll(order, -1)
    return target


def corrupt_pairing(n: int, mode: str, *, rate: float = 0.0, offset: int = 1, block: int = 16,
                    seed: int = 0) -> np.ndarray:
    """Permutation p of range(n): row i's text comes from row p[i].

    swap: round(rate * n) seeded rows pass their texts round a random cycle (none keeps its own;
    the chosen set grows with rate); offset: p[i] = (i + offset) % n; block: the blocks of
    ``block`` consecutive rows are moved round a random cycle, so every block gets another's texts.
    """
    n = require_int("n", n, 0, InputError)
    require_choice("mode", mode, PAIRING_MODES)
    rate = require_number("rate", rate, low=0.0, high=1.0)
    offset = require_int("offset", offset, 1)
    block = require_int("block", block, 1)
    rng = streams.stream(seed, streams.PAIRING)
    if mode == "swap":
        chosen = rng.permutation(n)[: int(math.floor(rate * n + 0.5))]
        return _cycle(chosen, n)
    if mode == "offset":
        return (np.arange(n) + offset) % n if n else np.arange(0)
    if mode == "block":
        n_blocks = -(-n // block)
        moved = _cycle(rng.permutation(n_blocks), n_blocks)
        starts = moved * block
        return np.concatenate([np.arange(s, min(s + block, n)) for s in starts] or
                              [np.arange(0)]).astype(np.int64)
    return np.arange(n)
