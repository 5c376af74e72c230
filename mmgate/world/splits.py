"""Deterministic train/val/test splits of the item pool and their hygiene check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.errors import InputError
from mmgate.world import streams
from mmgate.world.checks import require_int
from mmgate.world.config import SPLIT_NAMES


@dataclass(frozen=True, eq=False)
class Splits:
    """World item indices of each split (disjoint; order is the seeded shuffle order)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(n_train: int, n_val: int, n_test: int, seed: int) -> Splits:
    """Seeded permutation of range(n_train + n_val + n_test), cut into train, val, test."""
    a = require_int("n_train", n_train, 0)
    b = a + require_int("n_val", n_val, 0)
    perm = streams.stream(seed, streams.SPLITS).permutation(b + require_int("n_test", n_test, 0))
    return Splits(train=perm[:a], val=perm[a:b], test=perm[b:])


def _checked(name: str, arr: Any) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise InputError(f"splits.{name}: expected a 1-D integer index array, got dtype {a.dtype} "
                         f"and shape {a.shape}")
    if a.size and a.min() < 0:
        raise InputError(f"splits.{name}: expected non-negative item indices, got {a.min()}")
    if np.unique(a).size != a.size:
        raise InputError(f"splits.{name}: expected distinct item indices, found "
                         f"{a.size - np.unique(a).size} repeated")
    return a.astype(np.int64)


def check_split_hygiene(splits: Splits, factor_tuples: np.ndarray | None = None) -> dict:
    """Raises InputError on any index overlap; returns a report (sizes, overlaps = 0, and when
    factor tuples are given, the share of val/test items whose factor combination is in train)."""
    parts = {name: _checked(name, getattr(splits, name)) for name in SPLIT_NAMES}
    overlaps = {}
    for i, a in enumerate(SPLIT_NAMES):
        for b in SPLIT_NAMES[i + 1:]:
            shared = np.intersect1d(parts[a], parts[b]).size
            if shared:
                raise InputError(f"splits: {a} and {b} share {shared} item indices; expected "
                                 "disjoint splits")
            overlaps[f"{a}/{b}"] = 0
    report: dict[str, Any] = {"sizes": {name: int(p.size) for name, p in parts.items()},
                              "overlaps": overlaps}
    if factor_tuples is not None:
        report["combination_in_train_share"] = _combination_shares(parts, factor_tuples)
    return report


def _combination_shares(parts: dict[str, np.ndarray], factor_tuples: np.ndarray) -> dict:
    tuples = np.asarray(factor_tuples)
    if tuples.ndim != 2 or not np.issubdtype(tuples.dtype, np.integer):
        raise InputError(f"factor_tuples: expected a 2-D integer array (n_items, n_factors), got "
                         f"dtype {tuples.dtype} and shape {tuples.shape}")
    top = max((int(p.max()) for p in parts.values() if p.size), default=-1)
    if top >= tuples.shape[0]:
        raise InputError(f"factor_tuples: expected a row for every item index (> {top}), got "
                         f"{tuples.shape[0]} rows")
    rows = np.concatenate([parts[name] for name in SPLIT_NAMES])
    _, codes = np.unique(tuples[rows], axis=0, return_inverse=True)
    codes = codes.ravel()
    n_train, n_val = parts["train"].size, parts["val"].size
    in_train = np.unique(codes[:n_train])
    held = {"val": codes[n_train:n_train + n_val], "test": codes[n_train + n_val:]}
    return {name: (float(np.isin(c, in_train).mean()) if c.size else None)
            for name, c in held.items()}
