"""Pairing operators: re-pair texts with images the way join bugs do, through the world's
``corrupt_pairing`` (row i's text comes from row p[i]); images and labels stay in place."""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from mmgate.errors import ConfigError
from mmgate.perturb.base import Operator, replaced
from mmgate.subjects.paired import PairedSet, rows_of
from mmgate.world import corrupt_pairing


@dataclass(frozen=True)
class PairingOperator(Operator):
    """Moves texts by a permutation; applies to any paired set."""

    INTENSITY = (0.0, 1.0, False, False)

    def applies_to(self, paired_set: PairedSet) -> str | None:
        return None

    @abstractmethod
    def permutation(self, n: int) -> np.ndarray:
        ...

    def _apply(self, paired_set: PairedSet) -> PairedSet:
        order = self.permutation(len(paired_set))
        return replaced(paired_set, texts=rows_of(paired_set.texts, order), text_order=order)

    def _leading(self, n: int) -> int:
        return int(math.floor(self.intensity * n + 0.5))


@dataclass(frozen=True)
class SwapPairs(PairingOperator):
    """A seeded fraction ``intensity`` of the rows pass their texts round a random cycle."""

    NAME = "swap_pairs"

    def permutation(self, n: int) -> np.ndarray:
        return corrupt_pairing(n, "swap", rate=self.intensity, seed=self.seed)


def _checked_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class OffsetPairs(PairingOperator):
    """The leading fraction ``intensity`` of the rows takes its texts ``offset`` rows later (a
    systematic join bug in one shard)."""

    offset: int = 1

    NAME = "offset_pairs"

    def _check_params(self) -> None:
        _checked_positive("offset_pairs.offset", self.offset)

    def permutation(self, n: int) -> np.ndarray:
        m = self._leading(n)
        head = corrupt_pairing(m, "offset", offset=self.offset) if m else np.arange(0)
        return np.concatenate([head, np.arange(m, n)]).astype(np.int64)


@dataclass(frozen=True)
class BlockShuffle(PairingOperator):
    """Within the leading fraction ``intensity`` of the rows, blocks of ``block`` rows swap texts
    round a seeded cycle."""

    block: int = 16

    NAME = "block_shuffle"

    def _check_params(self) -> None:
        _checked_positive("block_shuffle.block", self.block)

    def permutation(self, n: int) -> np.ndarray:
        m = self._leading(n)
        head = corrupt_pairing(m, "block", block=self.block, seed=self.seed)
        return np.concatenate([head, np.arange(m, n)]).astype(np.int64)
